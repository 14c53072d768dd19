"""One workspace: the bot serves the Slack workspace its bot token belongs to, and no other.

Slack signs a request for this app (and delivers it over its Socket Mode connection) from any
workspace the app is installed in. Without this check, a request from someone who installed
the app in another workspace would be served as if it came from this one, with its
Cloudflare account behind it: the roles name Slack ids, and nothing else tied a request to
the workspace they were given for (issue 14).

The workspace is learned from `auth.test` when the bot starts (bot.container), in the
background so that serving and /healthz never wait for Slack; a request that arrives first
waits for that answer, and one after Slack could not be asked asks again (at most every
ASK_AGAIN_SECONDS; meanwhile requests are refused with a 503, which Slack retries).

This global middleware runs first, after Bolt's signature check: a request whose team (Bolt's
reading of it: the installing team of a view, else the request's team, else its
authorization's) is another, or none, is acknowledged with an empty 200, so that Slack does
not deliver it again, runs nothing, and is logged. People of other workspaces in a shared
(Slack Connect) channel are refused the same way. Enterprise Grid org-wide installs are out
of scope.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable

import aiohttp
from slack_bolt.middleware.async_middleware import AsyncMiddleware
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger("bot.handlers")
TEAM_ID = re.compile(r"[TE][A-Z0-9]{1,20}")
# While Slack cannot be asked, requests are refused at once rather than each waiting for it.
ASK_AGAIN_SECONDS = 5.0


class Workspace:
    """The installed workspace's team id, from auth.test: asked until it answers once."""

    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client
        self.team_id: str | None = None
        self._asking = asyncio.Lock()
        self._failed_at = -ASK_AGAIN_SECONDS

    async def learn(self) -> str | None:
        async with self._asking:  # requests that arrive meanwhile wait for the one answer
            now = time.monotonic()
            if self.team_id is not None or now - self._failed_at < ASK_AGAIN_SECONDS:
                return self.team_id
            try:
                answer = await self.client.auth_test()
                team = str(answer.get("team_id") or "")
            except (SlackApiError, aiohttp.ClientError, TimeoutError, OSError) as exc:
                team, problem = "", type(exc).__name__
            else:
                problem = "no team_id in the answer"
            if not TEAM_ID.fullmatch(team):
                self._failed_at = time.monotonic()
                log.warning(
                    "could not learn the bot's Slack workspace from auth.test (%s); asked "
                    "again at a request after %.0f s",
                    problem, ASK_AGAIN_SECONDS,
                )  # fmt: skip
                return None
            self.team_id = team
            log.info("serving Slack workspace %s (from auth.test)", team)
            return team


class OneWorkspace(AsyncMiddleware):
    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace

    async def async_process(
        self,
        *,
        req: AsyncBoltRequest,
        resp: BoltResponse,
        next: Callable[[], Awaitable[BoltResponse]],
    ) -> BoltResponse:
        ours = self.workspace.team_id or await self.workspace.learn()
        team = req.context.team_id
        if ours is not None and team == ours:
            return await next()
        if ours is None:
            # Slack cannot be asked, so nothing could be answered either: Slack retries.
            log.warning("refused a request: the bot's Slack workspace is not known yet")
            return BoltResponse(status=503, body="")
        shown = team if isinstance(team, str) and TEAM_ID.fullmatch(team) else "(none)"
        log.warning("refused a request from Slack workspace %s (this bot serves %s)", shown, ours)
        return BoltResponse(status=200, body="")

    @property
    def name(self) -> str:
        return "OneWorkspace"
