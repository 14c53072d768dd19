"""Approval requests in Slack: the `ApprovalBoard` the approval service draws through (the
request's card, its thread, the Home tabs of the people concerned)."""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import Block
from slack_sdk.web.async_client import AsyncWebClient

from blocks.approvals import approval_card, id_list_text, what
from blocks.outcomes import decision_line, finished_line
from blocks.safety import clamp
from bot.errors import InvalidInput
from bot.roles import Role
from bot.services.approvals.models import ApprovalEvent, ApprovalRequest, ExecutionReport
from bot.services.policy import Policy
from bot.slack.home import HomeTabs

log = logging.getLogger("bot.slack.approvals")
THREAD_IDS_INLINE = 50  # more ids than this go into the thread as a file
NO_CHANNEL = "I can only post cards in a channel or a DM; try again from one."


class SlackApprovals:
    def __init__(self, client: AsyncWebClient, policy: Policy, homes: HomeTabs) -> None:
        self.client = client
        self.policy = policy
        self.homes = homes

    def _card(self, made: ApprovalRequest, totals: ExecutionReport | None) -> list[Block]:
        return approval_card(made, approvers=self.policy.who(Role.APPROVER), totals=totals)

    async def post(self, request: ApprovalRequest) -> tuple[str, str]:
        if not request.channel:
            raise InvalidInput(NO_CHANNEL)
        answer = await self.client.chat_postMessage(
            channel=request.channel, blocks=self._card(request, None),
            text=f"Approval needed: {what(request)}", unfurl_links=False, unfurl_media=False,
        )  # fmt: skip
        ts = str(answer["ts"])
        if len(request.ids) > len(request.summary):
            await self._post_ids(request, request.channel, ts)
        return request.channel, ts

    async def _post_ids(self, made: ApprovalRequest, channel: str, ts: str) -> None:
        text = id_list_text(made)
        if len(made.ids) <= THREAD_IDS_INLINE:
            await self.client.chat_postMessage(
                channel=channel, thread_ts=ts, text=f"Every message of request {made.id}:\n{text}",
                unfurl_links=False, unfurl_media=False,
            )  # fmt: skip
            return
        await self.client.files_upload_v2(
            channel=channel, thread_ts=ts, content=text, filename=f"request-{made.id}-ids.txt",
            title=f"{len(made.ids)} message ids", initial_comment="Every message of this request.",
        )  # fmt: skip

    async def show(self, request: ApprovalRequest, totals: ExecutionReport | None) -> None:
        if not request.channel or not request.message_ts:
            return
        try:
            await self.client.chat_update(
                channel=request.channel, ts=request.message_ts,
                blocks=self._card(request, totals), text=f"{request.state.value}: {what(request)}",
            )  # fmt: skip
        except SlackApiError as exc:
            log.warning("could not update approval card %s: %s", request.id,
                        exc.response.get("error"))  # fmt: skip

    async def say(
        self,
        request: ApprovalRequest,
        event: ApprovalEvent,
        actor: str,
        totals: ExecutionReport | None = None,
    ) -> None:
        if event == "finished" and totals is not None:
            line: str | None = finished_line(request, totals)
        else:
            line = decision_line(request, event, actor)
        if line and request.channel and request.message_ts:
            await self.client.chat_postMessage(
                channel=request.channel, thread_ts=request.message_ts, text=clamp(line, 3000),
                unfurl_links=False, unfurl_media=False,
            )  # fmt: skip
        await self.homes.refresh(request)
