"""One running stand-in: configuration and everything it remembers, held by the aiohttp app.

Reset (`POST /__standin/reset`) empties it and restores the CLI settings.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.local.standin.holds import Holds
from bot.local.standin.limits import ChannelLimiter, Faults, Rate
from bot.local.standin.members import Members
from bot.local.standin.model import (
    Ids,
    JsonObject,
    Message,
    ResponseUrl,
    SlackError,
    StoredFile,
    Trigger,
    View,
    iso_now,
)
from bot.local.standin.sockets import SocketHub
from bot.local.standin.tiers import MethodLimiter, tier_rates

LOCAL_CHANNEL = "C0LOCAL"  # the console's channel: the bot is in it unless told otherwise


@dataclass(frozen=True)
class Config:
    bot_token: str | None = None  # None: any xoxb- token passes
    channel_rate: Rate | None = (1, 1.0)
    trigger_ttl: float = 3.0  # seconds; 0 = trigger ids issued here never expire
    response_url_uses: int = 5
    response_url_ttl: float = 30 * 60
    app_token: str | None = None  # None: any xapp- token opens a Socket Mode connection
    bot_in: tuple[str, ...] = (LOCAL_CHANNEL,)  # channels the bot is a member of at start
    rate_tiers: bool = True  # Slack's per-method limits (tiers.py)
    # Per-method limits replacing the tier's: (method, (calls, seconds) or None for none).
    method_rates: tuple[tuple[str, Rate | None], ...] = ()

    def method_limits(self) -> dict[str, Rate | None]:
        rates: dict[str, Rate | None] = dict(tier_rates()) if self.rate_tiers else {}
        rates.update(self.method_rates)
        return rates


class Standin:
    def __init__(self, config: Config, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self.clock = clock
        self.sockets = SocketHub(clock)  # open connections outlive a reset
        self.holds = Holds()  # answers held back (holds.py); a reset lets them go
        self.reset()

    def reset(self) -> None:
        self.ids = Ids()
        self.calls: list[JsonObject] = []
        self.messages: dict[tuple[str, str], Message] = {}  # insertion order = post order
        self.responses: list[JsonObject] = []
        self.view_events: list[JsonObject] = []
        self.views: dict[str, View] = {}
        self.home_views: dict[str, str] = {}  # user -> view id
        self.files: dict[str, StoredFile] = {}
        self.usergroups: dict[str, list[str]] = {}
        self.response_urls: dict[str, ResponseUrl] = {}
        self.triggers: dict[str, Trigger] = {}
        self.faults = Faults()
        self.limiter = ChannelLimiter(self.config.channel_rate, self.clock)
        self.tiers = MethodLimiter(self.config.method_limits(), self.clock)
        self.members = Members(self.config.bot_in)
        self.sockets.forget()
        self.holds.release()

    # --- auth -------------------------------------------------------------------------------

    def check_token(self, token: str | None, *, app_level: bool = False) -> None:
        """A bot token (`xoxb-`), or an app-level one (`xapp-`) for `app_level` methods. A
        token of the other kind is refused as Slack does: `not_allowed_token_type`."""
        if not token:
            raise SlackError("not_authed")
        prefix, other = ("xapp-", "xoxb-") if app_level else ("xoxb-", "xapp-")
        if token.startswith(other):
            raise SlackError("not_allowed_token_type")
        expected = self.config.app_token if app_level else self.config.bot_token
        if expected is None:
            if not token.startswith(prefix):
                raise SlackError("invalid_auth")
        elif not hmac.compare_digest(token.encode(), expected.encode()):
            raise SlackError("invalid_auth")

    # --- messages ---------------------------------------------------------------------------

    def store(self, message: Message) -> Message:
        self.messages[(message.channel, message.ts)] = message
        return message

    def find(self, channel: str, ts: str, *, ephemeral: bool | None = False) -> Message:
        """The message at (channel, ts). chat.update/delete never see ephemeral ones, as in
        Slack; response_url answers may (`ephemeral=None`)."""
        message = self.messages.get((channel, ts))
        if message is None or (ephemeral is not None and message.ephemeral != ephemeral):
            raise SlackError("message_not_found")
        return message

    def delete(self, message: Message) -> None:
        self.messages.pop((message.channel, message.ts), None)

    # --- interactions: response_url and trigger_id ------------------------------------------

    def issue(self, channel: str | None, user: str | None, message_ts: str | None) -> ResponseUrl:
        url = ResponseUrl(secrets.token_urlsafe(16), self.clock(), channel, user, message_ts)
        self.response_urls[url.token] = url
        return url

    def issue_trigger(self, user: str | None) -> Trigger:
        trigger_id = f"{int(time.time())}.{secrets.randbelow(10**10)}.{secrets.token_hex(16)}"
        ttl = self.config.trigger_ttl
        expires = self.clock() + ttl if ttl > 0 else None
        self.triggers[trigger_id] = Trigger(trigger_id, user, expires)
        return self.triggers[trigger_id]

    def exchange(self, trigger_id: Any) -> Trigger:
        """Use up a trigger id: one issued here (with an interaction), once, within its ttl."""
        trigger = self.triggers.get(trigger_id) if isinstance(trigger_id, str) else None
        if trigger is None:
            raise SlackError("invalid_trigger_id")  # made up, or from another workspace
        if trigger.exchanged:
            raise SlackError("exchanged_trigger_id")
        if trigger.expires_at is not None and self.clock() > trigger.expires_at:
            raise SlackError("expired_trigger_id")
        trigger.exchanged = True
        return trigger

    def response_url(self, token: str) -> ResponseUrl:
        """A usable response_url (the caller counts the use once the post succeeded): one
        issued here, used fewer than 5 times, within 30 minutes. One never issued is answered
        as Slack answers a webhook URL it does not know."""
        url = self.response_urls.get(token)
        if url is None:
            raise SlackError("no_service", 404)
        too_old = self.clock() - url.issued_at > self.config.response_url_ttl
        if url.uses >= self.config.response_url_uses or too_old:
            raise SlackError("expired_url", 404)
        return url

    # --- views ------------------------------------------------------------------------------

    def new_view(self, body: JsonObject, user: str | None, **links: str | None) -> View:
        view = View(self.ids.new("V"), body, user, _hash(), body.get("external_id"), **links)
        self.views[view.id] = view
        return view

    def find_view(self, view_id: Any, external_id: Any) -> View:
        if view_id:
            view = self.views.get(str(view_id))
        else:
            view = next((v for v in self.views.values() if v.external_id == external_id), None)
        if view is None or not (view_id or external_id):
            raise SlackError("not_found")
        return view

    def record_view(self, kind: str, view: View, trigger_id: str | None = None) -> None:
        view.hash = _hash()
        event = {"id": view.id, "user": view.user, "kind": kind, "view": view.to_slack()}
        event.update(trigger_id=trigger_id, at=iso_now())
        self.view_events.append(event)


def _hash() -> str:
    return f"{int(time.time())}.{secrets.token_hex(4)}"
