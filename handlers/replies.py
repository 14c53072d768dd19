"""How handlers answer: private notices (response_url or chat.postEphemeral), channel posts,
and one translation of every failure into a short message a person can act on."""

from __future__ import annotations

import contextlib
import functools
import logging
import secrets
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import Block
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from blocks import notice, safe
from bot.app import Services
from bot.cloudflare import (
    ApiError,
    AuthError,
    InvalidRequestError,
    NotFoundError,
    PartialBulkError,
    RateLimitedError,
    UnavailableError,
)
from bot.cloudflare.transport import WAIT_NOTICE
from bot.commands import USAGE, UsageError
from bot.observability import set_outcome
from bot.store import StoreUnavailable

log = logging.getLogger("bot.handlers")
Body = dict[str, Any]
NOTICE_LIMIT = 2900


@dataclass
class Reply:
    """Where and to whom a handler answers."""

    client: AsyncWebClient
    user_id: str
    channel_id: str | None
    response_url: str | None = None
    command: str = "/email"
    # Kept-alive connections for response_url posts; without it each answer opens (and, to
    # Slack, TLS-handshakes) a connection of its own: a third of the bot's CPU under load.
    webhooks: aiohttp.ClientSession | None = None

    @classmethod
    def to(cls, services: Services, client: AsyncWebClient, body: Body) -> Reply:
        """The reply for any request payload: slash command, click, shortcut or view."""
        user = body.get("user_id") or (body.get("user") or {}).get("id", "")
        channel = (
            body.get("channel_id")
            or (body.get("channel") or {}).get("id")
            or (body.get("container") or {}).get("channel_id")
        )
        return cls(
            client, str(user), channel, body.get("response_url"),
            services.settings.bot_command, services.webhooks,
        )  # fmt: skip

    async def private(self, text: str) -> None:
        await self.private_blocks(notice(text), text)

    async def busy(self) -> None:
        """The "busy" notice: sent most when the bot is most loaded, so serialised once."""
        await self._private(list(_busy_notice()), BUSY)

    async def private_blocks(self, blocks: Sequence[Block], text: str) -> None:
        await self._private([b.to_dict() for b in blocks], text)

    async def _private(self, payload: list[dict[str, Any]], text: str) -> None:
        if self.response_url is not None:
            webhook = AsyncWebhookClient(self.response_url, session=self.webhooks)
            answer = await webhook.send(
                text=text[:NOTICE_LIMIT], blocks=payload, response_type="ephemeral",
                replace_original=False, unfurl_links=False, unfurl_media=False,
            )  # fmt: skip
            if answer.status_code != 200:
                log.warning("response_url answered %s: %s", answer.status_code, answer.body)
        elif self.channel_id is not None:
            await self.client.chat_postEphemeral(
                channel=self.channel_id, user=self.user_id, text=text[:NOTICE_LIMIT],
                blocks=payload,
            )  # fmt: skip
        else:
            log.warning("no way to answer user %s privately", self.user_id)

    async def post(self, blocks: Sequence[Block], text: str, thread_ts: str | None = None) -> str:
        """Post in the channel; returns the message ts (the card's thread)."""
        if self.channel_id is None:
            raise NoChannel
        answer = await self.client.chat_postMessage(
            channel=self.channel_id, blocks=list(blocks), text=text, thread_ts=thread_ts,
            unfurl_links=False, unfurl_media=False,
        )  # fmt: skip
        return str(answer["ts"])


class NoChannel(Exception):  # noqa: N818 - a condition, not an error of ours
    """The request came from nowhere we can post to."""


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


BUSY = (
    "The bot is busy with many requests waiting for Cloudflare right now; "
    "nothing was done. Try again in a minute."
)


@functools.cache
def _busy_notice() -> tuple[dict[str, Any], ...]:
    return tuple(b.to_dict() for b in notice(BUSY))


def usage_text(error: UsageError, command: str) -> str:
    lines = [f"{error.problem}."]
    if error.verb:
        lines.append(f"Usage: `{command} {USAGE[error.verb]}`")
    else:
        lines.append(f"Try `{command} help` for the list of commands.")
    return safe("\n".join(lines), NOTICE_LIMIT, multiline=True)


def explain(exc: BaseException) -> str:
    """A short, safe, actionable sentence for a failure; never a stack trace."""
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
    if isinstance(exc, StoreUnavailable):
        return safe(f"Cannot do that now: {exc}.", NOTICE_LIMIT)
    if isinstance(exc, SlackApiError):
        return slack_error(str(exc.response.get("error", "unknown")))
    if isinstance(exc, NoChannel):
        return "I can only post cards in a channel or a DM; try again from one."
    return ""


def slack_error(code: str) -> str:
    if code in ("not_in_channel", "channel_not_found"):
        return (
            "I can't post in this channel. Invite me with `/invite @Email Security`, or use a DM."
        )
    return safe(f"Slack refused the message ({code}). Try again, or tell an admin.", NOTICE_LIMIT)


@contextlib.asynccontextmanager
async def answering(reply: Reply, doing: str) -> AsyncIterator[None]:
    """Run a handler's work; any failure becomes a private message (never a stack trace)."""
    try:
        yield
    except UsageError as exc:
        set_outcome("bad_input")
        await _safely(reply, usage_text(exc, reply.command))
    except Exception as exc:
        text = explain(exc)
        set_outcome("failed" if text else "error")
        if not text:
            ref = secrets.token_hex(4)
            log.exception("unexpected failure while %s (ref %s)", doing, ref)
            text = (
                f"Something went wrong on our side while {doing} (ref {ref}); it has been logged."
            )
        else:
            log.warning("%s failed: %s", doing, type(exc).__name__)
        await _safely(reply, text)


async def _safely(reply: Reply, text: str) -> None:
    try:
        await reply.private(text)
    except Exception:  # the answer itself failed (Slack down): logged, nothing more to do
        log.exception("could not send a private answer to %s", reply.user_id)


def not_found(message_id: str) -> str:
    return safe(
        f"Not found: no message with id `{message_id}`. Check the id (postfix ids look like "
        "`4Njp3P0STMz2c02Q`), or search for it.",
        NOTICE_LIMIT,
    )


def field(values: dict[str, Any], action_id: str) -> dict[str, Any] | None:
    """An input's state in a view submission, found by its action id in any block."""
    for block in values.values():
        if action_id in block:
            found: dict[str, Any] = block[action_id]
            return found
    return None
