"""The App Home tabs: drawn when someone opens theirs, and redrawn for the people an approval
request concerns whenever it changes (its requester, its approvers so far, and the approvers
named by user id; members of an approver group see it when they next open their Home).

views.publish is a Tier 4 method: about 100 calls a minute for the whole app. Every change of
every request concerns each named approver, so redraws are coalesced: a change marks its people
for a redraw, and one task at a time draws them, in order, each with the state of the moment.
Publishes are paced by a token bucket: PUBLISH_BURST at once, then one every PUBLISH_INTERVAL,
at most 97 in any minute. Thirty requests made in a burst redraw each person a few times, not
thirty (tests/test_e2e_surfaces.py found 120 publishes a minute, and a Retry-After of a minute,
before).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from blocks.approvals import ListPage
from blocks.home import home_view
from bot.services.approvals.models import ApprovalRequest
from bot.services.approvals.service import ApprovalService

log = logging.getLogger("bot.slack.home")
# Publishes of this replica: 30 at once, then one every 0.9 s (67 a minute); 97 in any minute.
PUBLISH_BURST = 30
PUBLISH_INTERVAL = 0.9


class HomeTabs:
    def __init__(
        self,
        client: AsyncWebClient,
        approvals: ApprovalService,
        approvers: Sequence[str],
        command: str,
        interval: float = PUBLISH_INTERVAL,
    ) -> None:
        self.client = client
        self.approvals = approvals
        self.named_approvers = [u for u in approvers if not u.startswith("S")]
        self.command = command
        self.interval = interval
        self._due: dict[str, None] = {}  # people whose Home waits for a redraw, in order
        self._drawing: asyncio.Task[None] | None = None
        self._pace = asyncio.Lock()
        self._tokens = float(PUBLISH_BURST)
        self._filled = time.monotonic()  # when _tokens was last brought up to date

    async def publish(self, user: str, page: ListPage | None = None) -> None:
        """Draw `user`'s Home now (they opened it, or asked for a page of one of its lists);
        a redraw still due for them is then done already."""
        self._due.pop(user, None)
        await self._paced()  # first: what is drawn is the state of the moment it goes out
        seen = await self.approvals.home(user)
        view = home_view(
            roles=[r.value for r in seen.roles], waiting=seen.waiting, mine=seen.mine,
            recent=seen.recent, command=self.command, page=page,
        )  # fmt: skip
        try:
            await self.client.views_publish(user_id=user, view=view)
        except SlackApiError as exc:
            # A Home tab is best effort: the user may never have opened it.
            log.info("home not published for %s: %s", user, exc.response.get("error"))

    async def refresh(self, made: ApprovalRequest) -> None:
        """Mark the people `made` concerns for a redraw; returns at once (see the docstring)."""
        for user in sorted({made.requester, *made.approvers, *self.named_approvers}):
            self._due[user] = None
        if self._drawing is None or self._drawing.done():
            self._drawing = asyncio.create_task(self._draw_due())

    async def _draw_due(self) -> None:
        while self._due:
            user = next(iter(self._due))
            try:
                await self.publish(user)  # takes `user` off the list first
            except Exception:  # one person's Home never stops the others'
                log.exception("home not redrawn for %s", user)

    async def _paced(self) -> None:
        """Take a token, waiting for one if none is left."""
        async with self._pace:
            now = time.monotonic()
            gained = (now - self._filled) / self.interval
            self._tokens, self._filled = min(PUBLISH_BURST, self._tokens + gained), now
            if self._tokens < 1:
                await asyncio.sleep((1 - self._tokens) * self.interval)
                self._tokens, self._filled = 1.0, time.monotonic()
            self._tokens -= 1
