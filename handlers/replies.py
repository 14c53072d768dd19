"""How a listener answers the person: privately (through the request's `response_url`, else an
ephemeral message in its channel, else a DM from the bot), or in the channel; and one
translation of every failure into a short sentence a person can act on.

Every surface has an answer: a slash command and a card click have a `response_url`; a modal
submission answers in the channel of the card it came from; the App Home and anything Slack
refuses to show in a channel (the bot not invited, a DM it is not in) fall back to a DM.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import Block
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from blocks import Kind, notice, safe
from blocks.outcomes import not_here
from bot.cloudflare import (
    ApiError,
    AuthError,
    InvalidRequestError,
    NotFoundError,
    PartialBulkError,
    RateLimitedError,
    UnavailableError,
)
from bot.cloudflare.waits import WAIT_NOTICE
from bot.commands import USAGE, UsageError
from bot.errors import BotError, Refused, StoreUnavailable
from bot.services.ports import NotShown
from bot.slack.refusals import NOT_THERE

log = logging.getLogger("bot.handlers")
Body = dict[str, Any]
NOTICE_LIMIT = 2900
# Answers of chat.postEphemeral that a DM can still get around.
NOT_VISIBLE_THERE = NOT_THERE | {"user_not_in_channel"}
BUSY = (
    "The bot is busy with many requests waiting for Cloudflare right now; "
    "nothing was done. Try again in a minute."
)


@dataclass
class Reply:
    """Where and to whom a listener answers."""

    client: AsyncWebClient
    user_id: str
    channel_id: str | None
    response_url: str | None = None
    command: str = "/email"
    # Kept-alive connections for response_url posts; without it each answer opens (and, to
    # Slack, TLS-handshakes) a connection of its own: a third of the bot's CPU under load.
    webhooks: aiohttp.ClientSession | None = None

    @classmethod
    def to(
        cls,
        client: AsyncWebClient,
        body: Body,
        command: str,
        webhooks: aiohttp.ClientSession | None = None,
    ) -> Reply:
        """The reply for any request payload: slash command, click, shortcut, view, event."""
        user = body.get("user_id") or (body.get("user") or {}).get("id", "")
        event = body.get("event") or {}
        channel = (
            body.get("channel_id")
            or (body.get("channel") or {}).get("id")
            or (body.get("container") or {}).get("channel_id")
        )
        return cls(
            client, str(user or event.get("user", "")), channel, body.get("response_url"),
            command, webhooks,
        )  # fmt: skip

    async def private(self, text: str) -> None:
        await self.private_blocks(notice(text), text)

    async def replace(self, text: str) -> None:
        """Replace the private message a click came from by `text`: an ephemeral message cannot
        be redrawn with chat.update, only through its response_url. Without one (or when Slack
        refuses), `text` is a new private answer."""
        await self.replace_blocks(notice(text), text)

    async def replace_blocks(self, blocks: Sequence[Block], text: str) -> None:
        """`replace` with blocks (a list redrawn after a click on it)."""
        if self.response_url is not None:
            webhook = AsyncWebhookClient(self.response_url, session=self.webhooks)
            payload = [b.to_dict() for b in blocks]
            answer = await webhook.send(
                text=text[:NOTICE_LIMIT], blocks=payload, replace_original=True,
                unfurl_links=False, unfurl_media=False,
            )  # fmt: skip
            if answer.status_code == 200:
                return
            log.warning("response_url refused a replacement (%s)", answer.status_code)
        await self.private_blocks(blocks, text)

    async def busy(self) -> None:
        """The "busy" notice: sent most when the bot is most loaded, so serialised once."""
        await self._private(list(_busy_notice()), BUSY)

    async def private_blocks(self, blocks: Sequence[Block], text: str) -> None:
        await self._private([b.to_dict() for b in blocks], text)

    async def _private(self, payload: list[dict[str, Any]], text: str) -> None:
        text = text[:NOTICE_LIMIT]
        if self.response_url is not None:
            webhook = AsyncWebhookClient(self.response_url, session=self.webhooks)
            answer = await webhook.send(
                text=text, blocks=payload, response_type="ephemeral",
                replace_original=False, unfurl_links=False, unfurl_media=False,
            )  # fmt: skip
            if answer.status_code == 200:
                return
            log.warning("response_url answered %s; answering by DM", answer.status_code)
        elif self.channel_id is not None:
            try:
                await self.client.chat_postEphemeral(
                    channel=self.channel_id, user=self.user_id, text=text, blocks=payload
                )
                return
            except SlackApiError as exc:
                if exc.response.get("error") not in NOT_VISIBLE_THERE:
                    raise
        await self.direct(payload, text)

    async def direct(self, payload: list[dict[str, Any]], text: str) -> None:
        """A DM from the bot: the answer of last resort, possible from every surface."""
        opened = await self.client.conversations_open(users=self.user_id)
        await self.client.chat_postMessage(
            channel=opened["channel"]["id"], text=text, blocks=payload,
            unfurl_links=False, unfurl_media=False,
        )  # fmt: skip


@functools.cache
def _busy_notice() -> tuple[dict[str, Any], ...]:
    return tuple(b.to_dict() for b in notice(BUSY))


@contextlib.asynccontextmanager
async def rate_limit_notices(reply: Reply) -> AsyncIterator[None]:
    """While the block runs, a wait for Cloudflare's rate limit is told to the user."""

    async def waiting(seconds: float) -> None:
        await reply.private(
            f"Cloudflare is rate-limiting the bot: waiting {seconds:.0f} s, then retrying…"
        )

    token = WAIT_NOTICE.set(waiting)
    try:
        yield
    finally:
        WAIT_NOTICE.reset(token)


def usage_text(error: UsageError, command: str) -> str:
    lines = [f"{error.problem}."]
    if error.verb:
        lines.append(f"Usage: `{command} {USAGE[error.verb]}`")
    else:
        lines.append(f"Try `{command} help` for the list of commands.")
    return safe("\n".join(lines), NOTICE_LIMIT, kind=Kind.SENTENCE, multiline=True)


def explain(exc: BaseException) -> str:
    """A short, safe, actionable sentence for a failure; "" for one we cannot explain (a bug:
    the caller logs it with a reference). Never a stack trace."""
    if isinstance(exc, Refused):
        return exc.text[:NOTICE_LIMIT]  # ours: roles and ids from configuration, no user input
    if isinstance(exc, StoreUnavailable):
        return safe(f"Cannot do that now: {exc}.", NOTICE_LIMIT)
    if isinstance(exc, BotError):
        return safe(exc.text, NOTICE_LIMIT, kind=Kind.SENTENCE)  # may quote what was typed
    if isinstance(exc, PartialBulkError):
        return safe(
            f"Stopped part-way: {len(exc.done)} messages were handled, {len(exc.not_attempted)} "
            f"were not sent because {exc.cause}. Retry the rest.",
            NOTICE_LIMIT,
        )
    if isinstance(exc, AuthError):
        return (
            "Cloudflare refused the bot's credentials. An admin should check "
            "CLOUDFLARE_API_TOKEN and its Cloud Email Security permissions."
        )
    if isinstance(exc, RateLimitedError):
        wait = f" for {exc.retry_after:.0f} s" if exc.retry_after else ""
        return f"Cloudflare is rate-limiting the bot{wait}. Try again after that."
    if isinstance(exc, UnavailableError):
        said = str(exc)  # most of these already name the API: say it once
        text = said if "Email Security API" in said else f"The Email Security API failed: {said}"
        return safe(text[:1].upper() + text[1:], NOTICE_LIMIT)
    if isinstance(exc, InvalidRequestError | NotFoundError | ApiError):
        return safe(f"Cloudflare answered: {exc}", NOTICE_LIMIT)
    if isinstance(exc, NotShown):  # nothing was posted there: name where, say what to do
        return f"{not_here(exc.where)} Nothing was done."
    if isinstance(exc, SlackApiError):
        return slack_error(str(exc.response.get("error", "unknown")))
    return ""


def slack_error(code: str) -> str:
    if code in NOT_THERE:
        return not_here(None)
    return safe(f"Slack refused the message ({code}). Try again, or tell an admin.", NOTICE_LIMIT)


def field(values: dict[str, Any], action_id: str) -> dict[str, Any]:
    """An input's state in a view submission, found by its action id in any block ({} when
    the view has no such input)."""
    for block in values.values():
        if action_id in block:
            found: dict[str, Any] = block[action_id]
            return found
    return {}


def chosen(values: dict[str, Any], action_id: str) -> str | None:
    """The value of a select or radio input in a view submission."""
    return (field(values, action_id).get("selected_option") or {}).get("value")
