"""The App Home tabs: drawn when someone opens theirs, and redrawn for the people an approval
request concerns whenever it changes (its requester, its approvers so far, and the approvers
named by user id; members of an approver group see it when they next open their Home)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from blocks.approvals import ListPage
from blocks.home import home_view
from bot.services.approvals.models import ApprovalRequest
from bot.services.approvals.service import ApprovalService

log = logging.getLogger("bot.slack.home")


class HomeTabs:
    def __init__(
        self,
        client: AsyncWebClient,
        approvals: ApprovalService,
        approvers: Sequence[str],
        command: str,
    ) -> None:
        self.client = client
        self.approvals = approvals
        self.named_approvers = [u for u in approvers if not u.startswith("S")]
        self.command = command

    async def publish(self, user: str, page: ListPage | None = None) -> None:
        """Draw `user`'s Home; `page`: the page of one of its lists they asked for."""
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
        users = {made.requester, *made.approvers, *self.named_approvers}
        for user in sorted(users):
            await self.publish(user)
