"""The console's side of Slack: act as a person towards the bot, and see what it answers.

`Watcher` (bot.local.console_watch) sees the stand-in and prints; `Console` adds what a person
does: commands, clicks, confirmations, modals, the Home tab, messages, shortcuts, the alert
list and threads. Each action returns what it printed.
"""

from __future__ import annotations

import json
from typing import Any

from bot.local import console_alerts as alerts
from bot.local import payloads
from bot.local.console_modals import ConsoleError
from bot.local.console_screen import Target
from bot.local.console_watch import Watcher
from bot.local.render import Clickable, Option, text_of, tick_boxes

__all__ = ["Console", "ConsoleError"]
JsonObject = dict[str, Any]


class Console(Watcher):
    async def __aenter__(self) -> Console:
        await super().__aenter__()
        return self

    # --- what a person does -----------------------------------------------------------------

    async def send_command(self, line: str) -> str:
        """Type a slash command (`/email lookup X`) in the current channel. `/invite` is
        Slack's own: it invites the bot to the channel, as the bot asks where it is not in."""
        mark = self.display.mark()
        command, _, text = line.strip().partition(" ")
        if not command.startswith("/") or len(command) < 2:
            raise ConsoleError("a slash command starts with /, e.g. /email help")
        if command == "/invite":
            who = {"channel": self.channel, "user": self.user}
            invited = await self._hook("POST", "invite", who)
            verb = "joined" if invited["joined"] else "was already in"
            self.say(f"The bot {verb} #{self.channel}.")
            return self.display.since(mark)
        self.display.note(f"> {line.strip()}")
        self.modals.home_open = False
        issued = await self._issue(self.channel)
        body = payloads.slash_command(
            command, text.strip(), self.user, self.channel, issued["url"], issued["trigger_id"]
        )
        before = self.changes
        ack = await self._post_bot(body)
        if ack is not None:
            await self._deliver_ack(ack.json())
            await self.settle(before)
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
        if target.message is not None:
            # The person is in that channel now, following that thread (alerts included).
            self.modals.home_open = False
            self.watched.add(alerts.thread_of(target.message))
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
        # Slack shows nothing for a tick and the bot only acknowledges it: no answer to await.
        await self._post_bot(payloads.interaction(payload))
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
        before = self.changes
        ack = await self._post_bot(payloads.interaction(payload))
        if ack is not None:
            self.modals.after_submission(view, ack.json())
            await self.settle(before)
        return self.display.since(mark)

    async def cancel(self) -> str:
        mark = self.display.mark()
        view = self.modals.close_top()
        if view.get("notify_on_close"):
            payload = payloads.view_closed(self.user, view, self.modals.values_of(view))
            await self._send(payloads.interaction(payload))
        return self.display.since(mark)

    async def open_home(self) -> str:
        """Open the app's Home tab: Slack tells the app (app_home_opened, which this bot
        answers by drawing it afresh), then shows the tab as the app last drew it."""
        mark = self.display.mark()
        self.modals.home_open = False  # printed once, below, however it gets drawn
        event = payloads.app_home_opened(self.user, "D" + self.user[1:])
        await self._send(json.dumps(event), "application/json")
        self.modals.home = await self._drawn_home() or self.modals.home
        self.modals.home_open = True
        if self.modals.home is None:
            self.say("(the app has drawn no Home tab for you)")
        else:
            self.modals.show(self.modals.home, "Home tab")
        return self.display.since(mark)

    async def _drawn_home(self) -> JsonObject | None:
        """The latest Home tab the app published for this user, from the stand-in's view log
        (also one drawn before the console started, or while acting as someone else)."""
        home: JsonObject | None = None
        for event in await self._hook("GET", "views"):
            view = event["view"]
            drawn = event["kind"] == "publish" and event["user"] == self.user
            if drawn or (event["kind"] == "update" and home and view["id"] == home["id"]):
                home = view
        return home

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
        """Show the current channel again, numbering its buttons from 1. Alert posts are left
        to `alerts`."""
        mark = self.display.mark()
        async with self._lock:
            self.modals.home_open = False
            self.display.reset_numbers()
            found = await self._hook("GET", f"messages?channel={self.channel}")
            visible = [m for m in found if self._visible(m)]
            quiet = alerts.alert_posts({alerts.key_of(m): m for m in visible}, self.alert_channel)
            shown = [m for m in visible if alerts.key_of(m) not in quiet]
            roots = sum(alerts.is_alert_root(m, self.alert_channel) for m in visible)
            more = f"; {alerts.counted(roots, 'alert')}: `alerts` lists them" if roots else ""
            self.say(f"══ #{self.channel} as {self.user}: {len(shown)} message(s){more} ══")
            for message in visible:
                self.seen[alerts.key_of(message)] = message["version"]
            for message in shown:
                self.display.message(message, self.user)
            if self.modals.stack:
                self.modals.show(self.modals.top(), "modal")
        return self.display.since(mark)

    async def show_alerts(self) -> str:
        """The latest alert posts of the alert channel, newest first, with their replies."""
        mark = self.display.mark()
        self.modals.home_open = False
        found = await self._hook("GET", f"messages?channel={self.alert_channel}")
        roots = [m for m in found if alerts.is_alert_root(m, self.alert_channel)]
        latest = roots[::-1][: alerts.LISTED]
        self.listed = [alerts.key_of(m) for m in latest]
        self.say("\n".join(alerts.listing(latest, alerts.replies(found), self.alert_channel)))
        return self.display.since(mark)

    async def open_alert(self, number: int) -> str:
        """Alert N of the last `alerts` list, with its thread."""
        if not 1 <= number <= len(self.listed):
            raise ConsoleError("no such alert: `alerts` lists them, numbered")
        channel, ts = self.listed[number - 1]
        return await self.show_thread(ts, channel)

    async def show_thread(self, ts: str, channel: str | None = None) -> str:
        """A message and the replies in its thread; from now on the thread's changes are
        shown in full, also an alert's."""
        mark = self.display.mark()
        channel = channel or self.channel
        self.modals.home_open = False
        async with self._lock:
            found = await self._hook("GET", f"messages?channel={channel}")
            thread = [m for m in found if self._visible(m) and ts in (m["ts"], m["thread_ts"])]
            if not thread:
                raise ConsoleError(f"no message {ts} in #{channel}")
            self.watched.add((channel, ts))
            self.say(f"══ thread {ts} in #{channel}: {alerts.counted(len(thread) - 1, 'reply')} ══")
            for message in thread:
                self.seen[alerts.key_of(message)] = message["version"]
                self.display.message(message, self.user)
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
