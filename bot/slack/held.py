"""Alerts held because Slack will not take them where they belong: the bot was never invited to
the alert channel (`not_in_channel`), cannot see it (`channel_not_found`: a private channel it
is not in, or a wrong id in ALERT_CHANNEL / ALERT_ROUTES), or it is archived.

Nothing is dropped: the alerts stay in the channel's outbox and every poll cycle tries again,
so they are posted in order on the first cycle after someone invites the bot (within
ALERT_POLL_SECONDS). What an on-call sees, once per hold (not once per cycle):

- the log: one error line, "alerts for C… are held: …", then a warning each cycle;
- the metric: `emailbot_alert_posts_total{outcome="held"}` counts every refused attempt, and
  `emailbot_alert_queue_depth` shows the alerts waiting;
- a DM to each approver named by user id in BOT_APPROVERS (the people who answer for the bot):
  which channel, why, and the one thing to do: invite the bot there.

"Once per hold" holds across replicas and restarts (a Redis mark, kept a day: a hold that lasts
longer is said again daily). When a post to the channel succeeds again, the log says so and the
next hold is said again.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from blocks import notice
from blocks.outcomes import held_alerts
from bot.errors import StoreUnavailable
from bot.store import Once

log = logging.getLogger("bot.slack.alerts")
NOTICE_SECONDS = 24 * 3600  # a hold is said again after a day


class HeldAlerts:
    def __init__(self, client: AsyncWebClient, once: Once | None, approvers: Sequence[str]) -> None:
        self.client = client
        self.once = once
        self.people = [a for a in approvers if a[:1] in ("U", "W")]  # groups are not told
        self._held: set[str] = set()  # channels this replica saw held

    async def hold(self, channel: str, why: str) -> None:
        """Slack refused an alert post to `channel` with `why`: say it, the first time. Never
        raises (the caller keeps the alerts queued whatever happens here)."""
        self._held.add(channel)
        try:
            key = f"alerts-held:{channel}"
            first = self.once is None or await self.once.first(key, NOTICE_SECONDS)
        except StoreUnavailable:
            first = False  # the cycle fails on Redis anyway; said once it is back
        if not first:
            return
        log.error(
            "alerts for %s are held: Slack answered %s; they are posted once the bot is "
            "invited to the channel (nothing is lost); telling %d approver(s)",
            channel, why, len(self.people),
        )  # fmt: skip
        text = held_alerts(channel, why)
        for person in self.people:
            try:
                opened = await self.client.conversations_open(users=person)
                await self.client.chat_postMessage(
                    channel=opened["channel"]["id"], text=text, blocks=notice(text),
                    unfurl_links=False, unfurl_media=False,
                )  # fmt: skip
            except SlackApiError as exc:
                error = exc.response.get("error")
                log.warning("could not tell %s of held alerts: %s", person, error)

    async def posted(self, channel: str) -> None:
        """A post to `channel` went through: a hold this replica saw there is over."""
        if channel not in self._held:
            return
        self._held.discard(channel)
        log.info("alerts for %s are posted again: the bot is in the channel now", channel)
        if self.once is not None:
            try:
                await self.once.forget(f"alerts-held:{channel}")
            except StoreUnavailable:
                log.warning("alerts for %s: the hold's mark stays until it expires", channel)
