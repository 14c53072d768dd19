"""Approval requests in Slack: the `ApprovalBoard` the approval service draws through (the
request's card, its thread, the Home tabs of the people concerned).

Every thread line carries Slack message metadata: event type `approval_event`, the request's id
and the event in its payload. `say_once` reads the thread back (`conversations.replies` with
`include_all_metadata`, the `channels:history` and `groups:history` scopes) to find a line a
replica posted as it died, so that it is not said twice; without those scopes it is said again.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence

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
from bot.slack.history import UNREADABLE, carries, find_message
from bot.slack.home import HomeTabs
from bot.slack.refusals import not_there

log = logging.getLogger("bot.slack.approvals")
PREPARING = "⏳ Preparing an approval request…"
NOT_MADE = "The approval request could not be made; nothing was asked or done."
APPROVAL_EVENT = "approval_event"  # the metadata event type of every thread line
REPLIES_PAGES = 5  # pages of a request's thread read at most: its lines since its end


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
            metadata = {"event_type": APPROVAL_EVENT,
                        "event_payload": {"request_id": request.id, "event": event}}  # fmt: skip
            await self.client.chat_postMessage(
                channel=request.channel, thread_ts=request.message_ts, text=clamp(line, 3000),
                unfurl_links=False, unfurl_media=False, metadata=metadata,
            )  # fmt: skip
        await self.homes.refresh(request)

    async def say_once(
        self,
        request: ApprovalRequest,
        event: ApprovalEvent,
        totals: ExecutionReport | None,
        first_telling: Callable[[], Awaitable[bool]],
    ) -> None:
        if not await first_telling() and await self._said(request, event):
            await self.homes.refresh(request)
            return
        await self.say(request, event, "bot", totals)

    async def _said(self, request: ApprovalRequest, event: ApprovalEvent) -> bool:
        """Whether the request's thread has the bot's line of `event` (since its end)."""
        if not request.channel or not request.message_ts:
            return True  # no thread: nothing to say
        since = (request.ended_at or request.created_at).timestamp()
        try:
            found = await find_message(
                self.client, request.channel, request.message_ts, since,
                lambda m: carries(m, APPROVAL_EVENT, request_id=request.id, event=event),
                REPLIES_PAGES,
            )  # fmt: skip
            return found is not None
        except SlackApiError as exc:
            code = str(exc.response.get("error", ""))
            if code not in UNREADABLE:
                raise
            log.error(
                "approval request %s: cannot read its thread to check whether its %s line was "
                "said (%s): saying it again; add the channels:history and groups:history "
                "scopes (docs/install.md)", request.id, event, code,
            )  # fmt: skip
        return False
