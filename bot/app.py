"""The Bolt app: Bolt's AsyncApp with the request observer, and every listener registered."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.metrics import Metrics
from bot.services.registry import Services
from bot.store import Once
from handlers import register
from handlers.context import Slackside
from handlers.observe import ObservedApp
from handlers.workspace import Workspace


def build_app(
    *,
    services: Services,
    slack: Slackside,
    once: Once,
    client: AsyncWebClient,
    metrics: Metrics,
    signing_secret: str | None,
    workspace: Workspace,
) -> AsyncApp:
    # Bolt skips the signature check for Socket Mode requests by itself; anything that comes
    # over HTTP is always checked (and in Socket Mode there is no HTTP route to reach it).
    app = ObservedApp(
        metrics=metrics, client=client, signing_secret=signing_secret or "socket-mode"
    )
    register(app, services, slack, once, workspace)
    return app
