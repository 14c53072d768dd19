"""The composition root: settings in, the running bot out. Builds every client, store, service
and board once per process, wires the Slack side to the services, and serves until stopped.

Only the entry point (`bot/__main__.py`) imports this module; everything else is given what it
needs. Layers (docs/architecture.md): handlers -> services -> cloudflare client / store; the
Slack boards in bot/slack draw what services decide; blocks render.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import sys
from contextlib import AsyncExitStack
from dataclasses import dataclass

import aiohttp
import redis.asyncio as redis
from aiohttp import web
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import background, health
from bot.app import build_app
from bot.clients import (
    email_client,
    limiter_redis,
    on_cluster,
    redis_client,
    secret,
    slack_client,
)
from bot.cloudflare import EmailSecurityClient
from bot.config import ConfigError, Settings, load_settings
from bot.listener import CappedSite, ConnectionCap, connection_limits
from bot.metrics import Metrics
from bot.observability import setup_logging
from bot.server import (
    build_http,
    check_app_token,
    refuse_while_draining,
    shut_down,
    stop_on_signals,
)
from bot.services.actions import ActionService
from bot.services.alerts import AlertPoller, DigestRate, DigestService, Outbox
from bot.services.allowlist import AllowlistService
from bot.services.approvals.service import ApprovalService
from bot.services.approvals.store import ApprovalStore
from bot.services.audit import AuditLog
from bot.services.blocklist import BlocklistService
from bot.services.false_positive import FalsePositiveService
from bot.services.gate import WorkGate
from bot.services.lookup import LookupService
from bot.services.messages import MessageService
from bot.services.phishguard import PhishGuardService
from bot.services.policy import GroupLookupError, Policy
from bot.services.querying import QueryService
from bot.services.registry import Services
from bot.services.routes import load_routes
from bot.services.showing import CardKeeper
from bot.services.stopping import unless_stopped
from bot.services.submissions import SubmissionService
from bot.services.vip import VipService
from bot.slack.alerts import SlackAlertSender
from bot.slack.approvals import SlackApprovals
from bot.slack.cards import SlackCards
from bot.slack.held import HeldAlerts
from bot.slack.home import HomeTabs
from bot.store import CardStore, Lease, Once, SearchStore, StoreUnavailable
from bot.store.follows import FollowStore
from bot.store.keymove import move_old_keys
from bot.store.posts import PostStore
from bot.store.ratelimit import SharedBudget
from handlers.context import Slackside
from handlers.inflight import track
from handlers.workspace import Workspace

log = logging.getLogger("bot")
WEBHOOK_TIMEOUT = 10  # seconds for one answer to a response_url


@dataclass
class Built:
    """Everything one process runs."""

    services: Services
    slack: Slackside
    once: Once
    approvals_store: ApprovalStore
    poller: AlertPoller | None
    stopping: asyncio.Event
    following: background.Following | None = None


def build(
    settings: Settings,
    client: AsyncWebClient,
    store: redis.Redis,
    email: EmailSecurityClient,
    webhooks: aiohttp.ClientSession,
    metrics: Metrics,
    executor_email: EmailSecurityClient | None = None,
) -> Built:
    """`executor_email` is the client approved executions send through (its limiter holds
    them to their share of the budget); `email` serves everything else."""
    stopping = asyncio.Event()
    instance = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"

    async def group_members(group_id: str) -> frozenset[str]:
        try:
            answer = await client.usergroups_users_list(usergroup=group_id)
        except SlackApiError as exc:
            raise GroupLookupError(f"user group {group_id}: {exc.response.get('error')}") from None
        return frozenset(answer.get("users") or [])

    policy = Policy(settings, group_members)
    lookup = LookupService(email)
    key = settings.integrity_key  # derived from the bot's secrets; never written to Redis
    audit = AuditLog(store, key)
    approvals_store = ApprovalStore(store, key=key)
    approvals = ApprovalService(
        store=approvals_store, audit=audit, policy=policy, email=executor_email or email,
        settings=settings, owner=instance, stopping=stopping,
    )  # fmt: skip
    home = HomeTabs(client, approvals, settings.bot_approvers, settings.bot_command)
    approvals.board = SlackApprovals(client, policy, home)
    posts = PostStore(store)
    card_store = CardStore(store)
    cards = CardKeeper(lookup, card_store, SlackCards(client, posts))
    approvals.cards = cards
    searches = SearchStore(store)
    once = Once(store)
    blocklist = BlocklistService(email=email, policy=policy, audit=audit, cards=cards)
    submissions = SubmissionService(
        email=email, policy=policy, cards=cards, follows=FollowStore(store), once=once,
        owner=instance,
        # An outcome a dead replica was showing is taken over as late as a dead poller is.
        show_seconds=settings.alert_lock_seconds,
    )  # fmt: skip
    actions = ActionService(
        email=email, lookup=lookup, policy=policy, approvals=approvals, audit=audit, once=once,
        cards=cards, settings=settings,
    )  # fmt: skip
    allowlist = AllowlistService(
        email=email, policy=policy, audit=audit, approvals=approvals, lookup=lookup, cards=cards
    )
    services = Services(
        actions=actions,
        messages=MessageService(
            email=email, lookup=lookup, policy=policy, cards=cards, searches=searches,
            raw_max_mb=settings.bot_raw_max_mb, blocklist=blocklist,
        ),
        approvals=approvals,
        queries=QueryService(
            email=email, actions=actions, approvals=approvals, policy=policy, searches=searches,
            settings=settings,
        ),
        policy=policy,
        digests=DigestService(Outbox(store), policy),
        blocklist=blocklist,
        vip=VipService(email=email, policy=policy, audit=audit),
        submissions=submissions,
        phishguard=PhishGuardService(email=email, policy=policy),
        allowlist=allowlist,
        false_positives=FalsePositiveService(
            actions=actions, allowlist=allowlist, lookup=lookup, policy=policy, cards=cards
        ),
    )  # fmt: skip
    services.actions.submissions = submissions
    slack = Slackside(
        home=home, posts=posts, gate=WorkGate(settings.bot_max_in_progress), webhooks=webhooks,
        command=settings.bot_command,
    )  # fmt: skip
    held = HeldAlerts(client, once, settings.bot_approvers)
    sender = SlackAlertSender(client, metrics=metrics, posts=posts, cards=card_store, held=held)
    poller = _poller(settings, store, email, sender, instance, submissions)
    following = None
    if poller is None:  # else the poller follows the submissions in its cycle
        following = background.Following(
            submissions, Lease(store, background.FOLLOW_LOCK), instance,
            settings.alert_poll_seconds,
        )  # fmt: skip
    return Built(services, slack, once, approvals_store, poller, stopping, following)


def _poller(
    settings: Settings,
    store: redis.Redis,
    email: EmailSecurityClient,
    sender: SlackAlertSender,
    instance: str,
    submissions: SubmissionService,
) -> AlertPoller | None:
    """With ALERT_CHANNEL set, every replica runs a poller; a Redis lock lets one poll."""
    if settings.alert_channel is None:
        return None
    try:
        routes = load_routes(settings.alert_routes, settings.alert_channel)
    except ValueError as exc:
        raise ConfigError(f"The bot cannot start; fix ALERT_ROUTES: {exc}") from None
    rate = settings.digest_rate
    return AlertPoller(
        store, email, sender, routes=routes,
        dispositions=settings.alert_dispositions, owner=instance,
        poll_seconds=settings.alert_poll_seconds, backfill_hours=settings.alert_backfill_hours,
        campaign_window_seconds=settings.alert_campaign_window,
        lock_seconds=settings.alert_lock_seconds,  # failover this long after a poller died
        digest_rate=DigestRate(*rate) if rate is not None else None,
        evidence_lookups=settings.alert_evidence_lookups,
        after_cycle=submissions.check,  # reclassify outcomes, followed in the same cycle
    )  # fmt: skip


async def serve(settings: Settings) -> None:
    stop = stop_on_signals()
    if not settings.uses_cloudflare:
        log.warning(
            "No Cloudflare credentials set: using the Email Security API SIMULATOR at %s",
            settings.simulator_url,
        )
    if settings.slack_app_token is not None:
        await check_app_token(settings)
    client, metrics = slack_client(settings), Metrics()
    cluster = await on_cluster(settings.redis_url)  # a single Redis or a Redis Cluster
    store = redis_client(settings.redis_url, metrics.redis_error, cluster=cluster)
    if not cluster:
        await carry_over_old_keys(store)
    # One CLOUDFLARE_RATE_LIMIT for every replica sharing this Redis; approved executions get
    # their own client whose limiter takes at most CLOUDFLARE_EXECUTOR_SHARE of it, so that a
    # bulk release never leaves a lookup waiting (docs/operations.md).
    budget_store = limiter_redis(settings.redis_url, cluster=cluster)
    budget = SharedBudget(budget_store, *settings.rate_limit)
    async with AsyncExitStack() as stack:
        stack.push_async_callback(budget_store.aclose)
        email = await stack.enter_async_context(email_client(settings, metrics, budget.everyone()))
        executor_email = await stack.enter_async_context(
            email_client(settings, metrics, budget.share(settings.cloudflare_executor_share))
        )
        webhooks = await stack.enter_async_context(
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=WEBHOOK_TIMEOUT))
        )
        stack.push_async_callback(store.aclose)
        built = build(settings, client, store, email, webhooks, metrics, executor_email)
        await _run(settings, built, client, store, email, metrics, stop)


async def carry_over_old_keys(store: redis.Redis) -> None:
    """Keys an earlier version wrote under names without hash tags move to their new names
    (bot/store/keymove.py) before anything reads them. When Redis does not answer at start,
    they stay where they are until a start at which it does (docs/operations.md)."""
    try:
        await move_old_keys(store)
    except StoreUnavailable as exc:
        log.warning("old Redis keys not checked: %s", exc)


async def _run(
    settings: Settings,
    built: Built,
    client: AsyncWebClient,
    store: redis.Redis,
    email: EmailSecurityClient,
    metrics: Metrics,
    stop: asyncio.Event,
) -> None:
    workspace = Workspace(client)
    app = build_app(
        services=built.services, slack=built.slack, once=built.once, client=client,
        metrics=metrics, signing_secret=secret(settings.slack_signing_secret),
        workspace=workspace,
    )  # fmt: skip
    inflight = track(app)
    limit, backlog = connection_limits()
    cap = ConnectionCap(limit)
    http_mode = settings.slack_app_token is None
    signing_secret = secret(settings.slack_signing_secret) if http_mode else None
    http = build_http(app, signing_secret=signing_secret, metrics=metrics, cap=cap)
    health.add_routes(
        http, metrics=metrics, approvals=built.approvals_store, store=store, slack=client,
        email=email,
    )  # fmt: skip
    draining = asyncio.Event()
    http.middlewares.append(refuse_while_draining(draining))
    # Requests are only acknowledged here (the work runs on): 2 s is plenty to answer them.
    runner = web.AppRunner(http, shutdown_timeout=2.0)
    await runner.setup()
    await CappedSite(
        runner, settings.host, settings.port, cap=cap, backlog=backlog,
        idle_timeout=settings.http_idle_timeout,
    ).start()  # fmt: skip
    log.info(
        "HTTP listener: at most %d connections, idle ones closed after %.0f s",
        limit, settings.http_idle_timeout,
    )  # fmt: skip
    tasks = background.start(
        built.services.approvals, built.poller, built.stopping, built.following
    )
    tasks.append(asyncio.create_task(_learn(workspace)))  # serving never waits for Slack
    socket_mode = None
    try:
        if settings.slack_app_token is not None:
            socket_mode = AsyncSocketModeHandler(app, secret(settings.slack_app_token))
            await unless_stopped(socket_mode.connect_async(), stop)  # type: ignore[no-untyped-call]
            if stop.is_set():
                return
        mode = "Socket Mode" if socket_mode else f"HTTP on {settings.host}:{settings.port}"
        log.info("bot ready (%s, command %s)", mode, settings.bot_command)
        print(f"bot ready ({mode})", flush=True)
        await stop.wait()
    finally:
        await shut_down(built.stopping, runner, draining, inflight, socket_mode, tasks)


async def _learn(workspace: Workspace) -> None:
    await workspace.learn()


def main() -> int:
    try:
        settings = load_settings(for_bot=True)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    setup_logging(settings.log_level, settings.log_format)
    try:
        asyncio.run(serve(settings))
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    return 0
