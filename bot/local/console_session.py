"""The console's side of Slack: act as a person towards the bot, watch the stand-in, print.

Only HTTP: signed requests to the bot's Request URL, and the Slack stand-in's hooks for what
the bot did (messages, views). After each action the console polls the hooks until an answer
has arrived and then stayed unchanged for `quiet` seconds (or `timeout` passed), and prints
what is new or changed.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from bot.local import payloads
from bot.local.console_modals import ConsoleError, Modals
from bot.local.console_screen import Screen, Target
from bot.local.render import Clickable, Option, text_of, tick_boxes

__all__ = ["Console", "ConsoleError"]
JsonObject = dict[str, Any]
POLL_SECONDS = 0.05
ACK_SECONDS = 3.0  # Slack gives up on an app that has not answered by then


@dataclass
class Ack:
    status: int
    text: str

    def json(self) -> JsonObject:
        """The ack body as an object; plain text (Bolt's `ack("…")`) becomes `{"text": …}`."""
        if not self.text.strip():
            return {}
        try:
            body = json.loads(self.text)
        except ValueError:
            return {"text": self.text}
        return body if isinstance(body, dict) else {"text": self.text}


class Console:
    def __init__(
        self,
        bot_url: str,
        standin_url: str,
        signing_secret: str,
        user: str = "U0LOCAL",
        channel: str = "C0LOCAL",
        *,
        out: Callable[[str], None] | None = None,
        timeout: float = 5.0,
        quiet: float = 0.3,
    ) -> None:
        self.bot_url = bot_url
        self.standin_url = standin_url.rstrip("/")
        self.secret = signing_secret
        self.user, self.channel = user, channel
        self.timeout, self.quiet = timeout, quiet
        self.display = Screen(out)
        self.modals = Modals(self.display)
        self.seen: dict[tuple[str, str], int] = {}  # (channel, ts) -> version printed
        self.view_events = 0
        self.pending: tuple[int, str | None] | None = None  # a click waiting for its confirm
        # Boxes ticked per message (option values): its state, sent with each click on it.
        self.ticked: dict[tuple[str, str], set[str]] = {}
        self._lock = asyncio.Lock()
        self._http: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Console:
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        try:
            await self._catch_up()
        except BaseException:
            await self._http.close()
            raise
        return self

    async def _catch_up(self) -> None:
        """What happened before we started is history: other channels are not replayed, and
        modals opened then are not ours. The current channel is shown."""
        self.view_events = len(await self._hook("GET", "views"))
        for message in await self._hook("GET", "messages"):
            if self._visible(message):
                self.seen[(message["channel"], message["ts"])] = message["version"]
        await self.show_messages()

    async def __aexit__(self, *exc: object) -> None:
        if self._http is not None:
            await self._http.close()

    def say(self, text: str) -> None:
        self.display.say(text)

    def screen(self) -> str:
        """Everything printed so far."""
        return self.display.text()

    # --- HTTP -------------------------------------------------------------------------------

    @property
    def http(self) -> aiohttp.ClientSession:
        if self._http is None:
            raise RuntimeError("use `async with Console(...)`")
        return self._http

    async def _hook(self, method: str, name: str, body: Any = None) -> Any:
        url = f"{self.standin_url}/__standin/{name}"
        async with self.http.request(method, url, json=body) as response:
            if response.status != 200:
                detail = await response.text()
                raise ConsoleError(f"stand-in {name}: HTTP {response.status} {detail}")
            return await response.json()

    async def _issue(self, channel: str | None, message_ts: str | None = None) -> JsonObject:
        """A fresh response_url and trigger_id for one interaction, from the stand-in."""
        body = {"channel": channel, "user": self.user, "message_ts": message_ts}
        return dict(await self._hook("POST", "response_urls", body))

    async def _post_bot(self, body: str, content_type: str = payloads.FORM) -> Ack | None:
        """POST a signed request to the bot; None (after saying why) unless it answered 200
        within Slack's 3 seconds."""
        headers = payloads.signed_headers(self.secret, body, content_type)
        limit = aiohttp.ClientTimeout(total=ACK_SECONDS)
        try:
            async with self.http.post(
                self.bot_url, data=body.encode(), headers=headers, timeout=limit
            ) as response:
                ack = Ack(response.status, await response.text())
        except TimeoutError:
            self.say(f'⚠ the app did not answer within {ACK_SECONDS:g} s ("operation_timeout")')
            return None
        except aiohttp.ClientError as error:
            self.say(f"⚠ cannot reach the bot at {self.bot_url}: {error}")
            return None
        if ack.status != 200:
            self.say(f'⚠ the app answered HTTP {ack.status} ("dispatch_failed"): {ack.text[:200]}')
            return None
        return ack

    # --- watching the stand-in --------------------------------------------------------------

    async def refresh(self) -> bool:
        """Print what changed in the stand-in since last time; True if anything did."""
        async with self._lock:
            messages = await self._hook("GET", "messages")
            views = await self._hook("GET", "views")
            changed = self._messages_changed(messages)
            self.view_events = min(self.view_events, len(views))  # the stand-in was reset
            for event in views[self.view_events :]:
                changed = self.modals.apply(event, self.user) or changed
            self.view_events = len(views)
            return changed

    async def settle(self) -> None:
        """Poll until something changed and then stayed quiet, or `timeout` passed."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        last_change: float | None = None
        while (now := loop.time()) < deadline:
            if await self.refresh():
                last_change = now
            elif last_change is not None and now - last_change >= self.quiet:
                return
            await asyncio.sleep(POLL_SECONDS)
        if last_change is None:
            self.say(f"(nothing new within {self.timeout:g} s)")

    async def wait_for(self, predicate: Callable[[str], bool], within: float = 5.0) -> str:
        """Refresh until `predicate(screen())` holds; TimeoutError showing it if not."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while not predicate(self.screen()):
            if loop.time() > deadline:
                raise TimeoutError(f"timed out after {within}s; screen:\n{self.screen()}")
            if not await self.refresh():
                await asyncio.sleep(POLL_SECONDS)
        return self.screen()

    def _visible(self, message: JsonObject) -> bool:
        return not message["ephemeral"] or message["user"] == self.user

    def _messages_changed(self, messages: list[JsonObject]) -> bool:
        current = {(m["channel"], m["ts"]): m for m in messages}
        changed = False
        for key, message in current.items():
            shown = self.seen.get(key)
            if self._visible(message) and shown != message["version"]:
                self.seen[key] = message["version"]
                self.display.message(message, self.user, updated=shown is not None)
                changed = True
        for key in [k for k in self.seen if k not in current]:
            del self.seen[key]
            self.say(f"✕ message {key[1]} in #{key[0]} was deleted")
            changed = True
        return changed

    async def _send(self, body: str, content_type: str = payloads.FORM) -> Ack | None:
        """Send to the bot and show its answers; nothing to wait for if it failed."""
        ack = await self._post_bot(body, content_type)
        if ack is not None:
            await self.settle()
        return ack

    # --- what a person does -----------------------------------------------------------------

    async def send_command(self, line: str) -> str:
        """Type a slash command (`/email lookup X`) in the current channel."""
        mark = self.display.mark()
        command, _, text = line.strip().partition(" ")
        if not command.startswith("/") or len(command) < 2:
            raise ConsoleError("a slash command starts with /, e.g. /email help")
        self.say(f"> {line.strip()}")
        issued = await self._issue(self.channel)
        body = payloads.slash_command(
            command, text.strip(), self.user, self.channel, issued["url"], issued["trigger_id"]
        )
        ack = await self._post_bot(body)
        if ack is not None:
            await self._deliver_ack(ack.json())
            await self.settle()
        return self.display.since(mark)

    async def _deliver_ack(self, body: JsonObject) -> None:
        """A slash command's ack body is the bot's first answer: Slack shows it to the person
        (to everyone with response_type in_channel). The stand-in keeps it like the rest."""
        if not body.get("text") and not body.get("blocks"):
            return
        message = {
            "channel": self.channel,
            "user": self.user,
            "text": body.get("text") or "",
            "blocks": body.get("blocks") or [],
            "ephemeral": body.get("response_type") != "in_channel",
            "from_bot": True,
        }
        await self._hook("POST", "messages", message)

    async def click(
        self, number: int, choice: str | None = None, *, confirmed: bool = False
    ) -> str:
        """Click button N, or pick `choice` (option number or value) in menu N."""
        mark = self.display.mark()
        target = self.display.targets.get(number)
        if target is None:
            raise ConsoleError(f"there is no [{number}] on screen (`messages` shows the channel)")
        clickable = target.clickable
        if clickable.kind == "checkboxes" and target.message is not None:
            return await self._tick(target, choice, mark)
        chosen = _chosen(clickable, choice)
        if clickable.confirm and not confirmed:
            self._ask_confirm(number, choice, clickable.confirm)
            return self.display.since(mark)
        if clickable.element.get("url"):
            self.say(f"(Slack would open {clickable.element['url']} in the browser)")
        payload = await self._click_payload(target, payloads.action(clickable, chosen, choice))
        await self._send(payloads.interaction(payload))
        return self.display.since(mark)

    async def _tick(self, target: Target, choice: str | None, mark: int) -> str:
        """Tick or untick boxes of a message (`choice`: which; a lone box without one), show
        them, and send the click Slack sends: the group's ticked options, the message's state."""
        clickable, message = target.clickable, target.message
        assert message is not None
        if choice is None and len(clickable.options) != 1:
            raise ConsoleError(f"which box? click {clickable.number} OPTION")
        picked = clickable.options if choice is None else _chosen(clickable, choice)
        ticked = self.ticked.setdefault((message["channel"], message["ts"]), set())
        ticked ^= {o.value for o in picked}
        self.say(f"[{clickable.number}] {tick_boxes(clickable, ticked)}")
        selected = [o for o in clickable.options if o.value in ticked]
        payload = await self._click_payload(target, payloads.action(clickable, selected))
        await self._send(payloads.interaction(payload))
        return self.display.since(mark)

    def _ask_confirm(self, number: int, choice: str | None, confirm: JsonObject) -> None:
        self.pending = (number, choice)
        yes = text_of(confirm.get("confirm")) or "Confirm"
        no = text_of(confirm.get("deny")) or "Cancel"
        title, text = text_of(confirm.get("title")), text_of(confirm.get("text"))
        self.say(f"?? {title}\n   {text}\n   yes = {yes} · no = {no}")

    async def answer_confirm(self, yes: bool) -> str:
        if self.pending is None:
            raise ConsoleError("no confirmation is waiting")
        number, choice = self.pending
        self.pending = None
        if not yes:
            self.say("(cancelled)")
            return "(cancelled)"
        return await self.click(number, choice, confirmed=True)

    async def _click_payload(self, target: Target, action: JsonObject) -> JsonObject:
        if target.view is not None:
            issued = await self._issue(None)
            view = self.modals.current(target.view)
            shown = payloads.view_with_state(view, self.modals.values_of(view))
            return payloads.block_actions(self.user, [action], issued["trigger_id"], view=shown)
        message = target.message
        assert message is not None
        issued = await self._issue(message["channel"], message["ts"])
        ticked = self.ticked.get((message["channel"], message["ts"]), set())
        return payloads.block_actions(
            self.user, [action], issued["trigger_id"], message=message, response_url=issued["url"],
            state=payloads.message_state(message["blocks"], ticked),
        )  # fmt: skip

    def set_field(self, field: str, text: str) -> str:
        return self.modals.set_field(field, text)

    def show_modal(self) -> str:
        mark = self.display.mark()
        self.modals.show(self.modals.top(), "modal")
        return self.display.since(mark)

    async def submit(self) -> str:
        mark = self.display.mark()
        view = self.modals.top()
        problems = self.modals.problems(view)
        if problems:
            self.say("\n".join(f"⚠ {p}" for p in problems))
            return self.display.since(mark)
        issued = await self._issue(None)
        values = self.modals.values_of(view)
        payload = payloads.view_submission(self.user, view, values, issued["trigger_id"])
        ack = await self._post_bot(payloads.interaction(payload))
        if ack is not None:
            self.modals.after_submission(view, ack.json())
            await self.settle()
        return self.display.since(mark)

    async def cancel(self) -> str:
        mark = self.display.mark()
        view = self.modals.close_top()
        if view.get("notify_on_close"):
            payload = payloads.view_closed(self.user, view, self.modals.values_of(view))
            await self._send(payloads.interaction(payload))
        return self.display.since(mark)

    async def open_home(self) -> str:
        """Open the app's Home tab (an app_home_opened event); shows what it publishes."""
        mark = self.display.mark()
        event = payloads.app_home_opened(self.user, "D" + self.user[1:])
        await self._send(json.dumps(event), "application/json")
        return self.display.since(mark)

    async def say_text(self, text: str) -> str:
        """Write a plain message in the channel, as the person."""
        mark = self.display.mark()
        message = {"channel": self.channel, "user": self.user, "text": text}
        await self._hook("POST", "messages", message)
        await self.refresh()
        return self.display.since(mark)

    async def shortcut(self, callback_id: str, ts: str | None = None) -> str:
        """Run a message shortcut on the message `ts` (default: the channel's latest)."""
        mark = self.display.mark()
        found = await self._hook("GET", f"messages?channel={self.channel}")
        candidates = [m for m in found if not m["ephemeral"] and ts in (None, m["ts"])]
        if not candidates:
            raise ConsoleError("no such message in this channel")
        message = candidates[-1]
        issued = await self._issue(self.channel, message["ts"])
        payload = payloads.message_action(
            self.user, callback_id, message, issued["url"], issued["trigger_id"]
        )
        await self._send(payloads.interaction(payload))
        return self.display.since(mark)

    async def show_messages(self) -> str:
        """Show the current channel again, numbering its buttons from 1."""
        mark = self.display.mark()
        async with self._lock:
            self.display.reset_numbers()
            found = await self._hook("GET", f"messages?channel={self.channel}")
            visible = [m for m in found if self._visible(m)]
            self.say(f"══ #{self.channel} as {self.user}: {len(visible)} message(s) ══")
            for message in visible:
                self.seen[(message["channel"], message["ts"])] = message["version"]
                self.display.message(message, self.user)
            if self.modals.stack:
                self.modals.show(self.modals.top(), "modal")
        return self.display.since(mark)

    async def switch(self, *, user: str | None = None, channel: str | None = None) -> str:
        """Act as another user (their own modals, none open yet) or in another channel."""
        if user:
            self.user, self.pending = user, None
            self.modals.clear()
        if channel:
            self.channel = channel
        return await self.show_messages()


def _chosen(clickable: Clickable, choice: str | None) -> list[Option]:
    if clickable.options:
        if choice is None:
            raise ConsoleError(f"pick an option: click {clickable.number} OPTION")
        try:
            return clickable.choose(choice)
        except ValueError as error:
            raise ConsoleError(str(error)) from None
    if clickable.kind != "button" and choice is None:
        raise ConsoleError(f"give a value: click {clickable.number} VALUE")
    return []
