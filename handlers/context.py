"""What every listener gets, and the one place a failure becomes an answer.

- `Listening` (a Bolt middleware) puts the services, the Slack-side tools and the reply for the
  request into Bolt's context before any listener runs; listeners receive them by name.
- `acked(work)` is the one listener prologue: acknowledge at once (Slack's 3-second rule), take
  a slot of the work gate (or say the bot is busy), tell the person of any wait for
  Cloudflare's rate limit, then run `work` with a `Request`.
- `answer_error` turns whatever a listener raised into a private answer: a refusal's own
  sentence, an API or Redis failure said plainly, a chooser for an ambiguous id, or "something
  went wrong (ref …)" with the details in the log. Acknowledged work calls it itself
  (`answering`); it is also Bolt's error handler, for anything raised before an ack.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.middleware.async_middleware import AsyncMiddleware
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient

from blocks import chooser
from blocks.ids import card_of
from bot.commands import UsageError
from bot.errors import NeedsChoice
from bot.observability import set_outcome
from bot.services.gate import WorkGate
from bot.services.ports import CardRef, Origin
from bot.services.registry import Services
from bot.slack.home import HomeTabs
from bot.store.posts import PostStore
from handlers.replies import Reply, explain, rate_limit_notices, usage_text

log = logging.getLogger("bot.handlers")
Body = dict[str, Any]


@dataclass(frozen=True)
class Slackside:
    """The Slack-side tools listeners use besides the services."""

    home: HomeTabs
    posts: PostStore
    gate: WorkGate
    webhooks: aiohttp.ClientSession
    command: str


@dataclass(frozen=True)
class Request:
    """One Slack request as a listener sees it."""

    body: Body
    services: Services
    slack: Slackside
    reply: Reply
    client: AsyncWebClient

    @property
    def actor(self) -> str:
        return self.reply.user_id

    @property
    def value(self) -> str:
        """The clicked element's value (a menu's: its chosen option)."""
        action = (self.body.get("actions") or [{}])[0]
        if "selected_option" in action:
            return str((action.get("selected_option") or {}).get("value", ""))
        return str(action.get("value", ""))

    @property
    def target(self) -> str:
        """The message the clicked element acts on: its card block's message (a card's menus,
        whose value is the choice), else its value (a button's)."""
        action = (self.body.get("actions") or [{}])[0]
        return card_of(action.get("block_id")) or str(action.get("value", ""))

    @property
    def card(self) -> CardRef | None:
        """The card a click came from: the post (not an ephemeral message) and the message the
        element acts on (`target`)."""
        container = self.body.get("container") or {}
        if container.get("type") != "message" or container.get("is_ephemeral"):
            return None
        target = self.target
        if not target:
            return None
        return CardRef(
            channel=str(container["channel_id"]), ts=str(container["message_ts"]),
            message_id=target, thread_ts=container.get("thread_ts"),
        )  # fmt: skip

    @property
    def origin(self) -> Origin:
        return Origin(channel=self.reply.channel_id, card=self.card)


Work = Callable[[Request], Awaitable[None]]
Check = Callable[[Request], dict[str, str] | None]
Listener = Callable[..., Awaitable[None]]


class Listening(AsyncMiddleware):
    """Puts `services`, `slack` and `reply` into every request's context."""

    def __init__(self, services: Services, slack: Slackside) -> None:
        self.services = services
        self.slack = slack

    async def async_process(
        self,
        *,
        req: AsyncBoltRequest,
        resp: BoltResponse,
        next: Callable[[], Awaitable[BoltResponse]],
    ) -> BoltResponse:
        body = req.body if isinstance(req.body, dict) else {}
        context: AsyncBoltContext = req.context
        context["services"] = self.services
        context["slack"] = self.slack
        context["reply"] = Reply.to(
            context.client or AsyncWebClient(), body, self.slack.command, self.slack.webhooks
        )
        return await next()

    @property
    def name(self) -> str:
        return "Listening"


def acked(work: Work, check: Check | None = None) -> Listener:
    """The listener for `work`: ack, gate, rate-limit notices; failures go to `answer_error`.
    `check` (modal submissions) finds input errors first: the modal then stays open and shows
    them, and nothing runs."""

    async def listener(
        ack: AsyncAck,
        body: Body,
        client: AsyncWebClient,
        services: Services,
        slack: Slackside,
        reply: Reply,
    ) -> None:
        request = Request(body, services, slack, reply, client)
        errors = check(request) if check is not None else None
        if errors:
            set_outcome("bad_input")
            await ack(response_action="errors", errors=errors)
            return
        await ack()
        async with slack.gate.slot() as admitted, rate_limit_notices(reply):
            if not admitted:
                set_outcome("busy")
                await reply.busy()
                return
            await answering(work(request), reply)

    listener.__name__ = getattr(work, "__name__", "listener")
    return listener


async def answering(work: Awaitable[None], reply: Reply) -> None:
    """Run acknowledged work; a failure is answered here rather than raised to Bolt, whose
    runner, when a listener raises after its ack, forgets the ack and answers Slack 404."""
    try:
        await work
    except Exception as error:
        await answer_error(error, reply)


async def answer_error(error: Exception, reply: Reply | None = None) -> None:
    """Bolt's error handler: the person who asked always hears how it ended."""
    if isinstance(error, UsageError):
        set_outcome("bad_input")
        text = usage_text(error, reply.command if reply else "/email")
    else:
        text = explain(error)
        set_outcome(getattr(error, "outcome", "failed") if text else "error")
    if not text:
        ref = secrets.token_hex(4)
        log.error("unexpected failure (ref %s): %s", ref, type(error).__name__, exc_info=error)
        text = f"Something went wrong on our side (ref {ref}); it has been logged."
    elif not isinstance(error, UsageError):
        log.info("answered with a refusal or failure: %s", type(error).__name__)
    if reply is None:
        return
    try:
        if isinstance(error, NeedsChoice):
            await reply.private_blocks(chooser(error.matches, error.postfix_id), text)
        else:
            await reply.private(text)
    except Exception:  # the answer itself failed (Slack down): logged, nothing more to do
        log.exception("could not send a private answer to %s", reply.user_id)
