"""What the console sees: the Slack stand-in's record of what the bot did, printed as it changes.

Only HTTP: signed requests to the bot's Request URL, and the Slack stand-in's hooks for what
the bot did (messages, views). After each action the console polls the hooks until an answer
has arrived and then stayed unchanged for `quiet` seconds (or `timeout` passed), and prints
what is new or changed. Alert posts are announced in one line (`bot.local.console_alerts`).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from bot.local import console_alerts as alerts
from bot.local import payloads
from bot.local.console_modals import ConsoleError, Modals
from bot.local.console_screen import Screen

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


class Watcher:
    def __init__(
        self,
        bot_url: str,
        standin_url: str,
        signing_secret: str,
        user: str = "U0LOCAL",
        channel: str = "C0LOCAL",
        *,
        alert_channel: str | None = None,
        out: Callable[[str], None] | None = None,
        timeout: float = 5.0,
        quiet: float = 0.3,
    ) -> None:
        self.bot_url = bot_url
        self.standin_url = standin_url.rstrip("/")
        self.secret = signing_secret
        self.user, self.channel = user, channel
        self.alert_channel = alert_channel or channel
        self.timeout, self.quiet = timeout, quiet
        self.display = Screen(out)
        self.modals = Modals(self.display)
        self.seen: dict[tuple[str, str], int] = {}  # (channel, ts) -> version printed
        self.watched: set[alerts.Key] = set()  # alert threads the person opened or clicked in
        self.changes = 0  # refreshes that found something (some run in the background)
        self.pending: tuple[int, str | None] | None = None  # a click waiting for its confirm
        # Boxes ticked per message (option values): its state, sent with each click on it.
        self.ticked: dict[tuple[str, str], set[str]] = {}
        self.listed: list[alerts.Key] = []  # the alerts the last `alerts` numbered
        self.view_events = 0
        self._lock = asyncio.Lock()
        self._http: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Watcher:
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

    async def show_messages(self) -> str:
        raise NotImplementedError

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

    async def _send(self, body: str, content_type: str = payloads.FORM) -> Ack | None:
        """Send to the bot and show its answers; nothing to wait for if it failed."""
        before = self.changes
        ack = await self._post_bot(body, content_type)
        if ack is not None:
            await self.settle(before)
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
            self.changes += changed
            return changed

    async def settle(self, since: int | None = None) -> None:
        """Poll until something changed and then stayed quiet, or `timeout` passed. `since`:
        the change count before the action, so that an answer the background watcher printed
        in the meantime counts as its answer."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        last_change: float | None = None
        seen = self.changes if since is None else since
        while (now := loop.time()) < deadline:
            await self.refresh()
            if self.changes != seen:
                seen, last_change = self.changes, now
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
        current = {alerts.key_of(m): m for m in messages}
        quiet = alerts.alert_posts(current, self.alert_channel)
        changed = False
        for key, message in current.items():
            shown = self.seen.get(key)
            if not self._visible(message) or shown == message["version"]:
                continue
            self.seen[key] = message["version"]
            changed = True
            if key in quiet and alerts.thread_of(message) not in self.watched:
                if shown is None and not alerts.is_reply(message):
                    self.say(alerts.notice(message))
                continue
            self.display.message(message, self.user, updated=shown is not None)
        for key in [k for k in self.seen if k not in current]:
            del self.seen[key]
            self.say(f"✕ message {key[1]} in #{key[0]} was deleted")
            changed = True
        return changed
