"""Approval requests in Slack: the `ApprovalBoard` the approval service draws through (the
request's card, its thread, the Home tabs of the people concerned)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import Block
from slack_sdk.web.async_client import AsyncWebClient

from blocks import notice
from blocks.approvals import SUMMARY_SHOWN, approval_card, message_list_text, what
from blocks.bulkjob import message_list_comment
from blocks.outcomes import decision_line, finished_line
from blocks.safety import clamp
from bot.roles import Role
from bot.services.approvals.models import (
    ApprovalEvent,
    ApprovalRequest,
    ExecutionReport,
    MessageSummary,
)
from bot.services.policy import Policy
from bot.slack.home import HomeTabs
from bot.slack.refusals import not_there

log = logging.getLogger("bot.slack.approvals")
PREPARING = "⏳ Preparing an approval request…"
NOT_MADE = "The approval request could not be made; nothing was asked or done."


class SlackApprovals:
    def __init__(self, client: AsyncWebClient, policy: Policy, homes: HomeTabs) -> None:
        self.client = client
        self.policy = policy
        self.homes = homes

    def _card(self, made: ApprovalRequest, totals: ExecutionReport | None) -> list[Block]:
        return approval_card(made, approvers=self.policy.who(Role.APPROVER), totals=totals)

    async def reserve(self, channel: str) -> tuple[str, str]:
        try:
            answer = await self.client.chat_postMessage(
                channel=channel, text=PREPARING, blocks=notice(PREPARING),
                unfurl_links=False, unfurl_media=False,
            )  # fmt: skip
        except SlackApiError as exc:
            raise not_there(exc, channel) or exc from None
        return channel, str(answer["ts"])

    async def retract(self, channel: str, ts: str) -> None:
        try:
            await self.client.chat_update(
                channel=channel, ts=ts, text=NOT_MADE, blocks=notice(NOT_MADE)
            )
        except SlackApiError as exc:
            log.warning("could not retract a reserved card: %s", exc.response.get("error"))

    async def list_messages(
        self, request: ApprovalRequest, messages: Sequence[MessageSummary]
    ) -> None:
        if len(messages) <= SUMMARY_SHOWN or not request.channel or not request.message_ts:
            return
        await self.client.files_upload_v2(
            channel=request.channel, thread_ts=request.message_ts,
            content=message_list_text(messages), filename=f"request-{request.id}-messages.tsv",
            title=f"The {len(messages)} messages of request {request.id}",
            initial_comment=message_list_comment(request),
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
