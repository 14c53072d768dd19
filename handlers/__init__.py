"""Slack listeners: parse the request, check policy, call a service, render, reply."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.app import Services


def register(app: AsyncApp, services: Services) -> None:
    from handlers import approvals, commands, home, interactions
    from handlers.retries import SkipRepeats

    app.use(SkipRepeats(services.once))  # a repeated delivery does nothing
    commands.register(app, services)
    interactions.register(app, services)
    approvals.register(app, services)
    home.register(app, services)
