"""Every Slack request, over HTTP or Socket Mode, gets a request id and is counted.

`ObservedApp` is Bolt's AsyncApp with its dispatch wrapped: the request id is set before any
middleware or listener runs, so Bolt's listener task (created inside the dispatch, after the
ack too) copies it with the context, and every log line of the request carries it. The
request is counted with its kind and outcome when its listener finishes (the listeners and
the error handler note the outcome with `bot.observability.set_outcome`); requests that reach
no listener (a bad signature, nothing registered) are counted as the dispatch returns. In
Socket Mode the ack is timed here too; over HTTP, bot.server's /slack/events handler times the
whole response.

Only cheap work happens before the ack: a record and a context variable (and, at DEBUG, the
"request received" line); the INFO line, "request done", is written when the work ends.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.listener.async_listener_completion_handler import (
    AsyncListenerCompletionHandler,
)
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from bot.commands import USAGE
from bot.metrics import Metrics
from bot.observability import REQUEST, RequestRecord

log = logging.getLogger("bot.requests")

# Slack payload types, as counted before a request is known to be Slack's (bounded labels).
TYPES = {
    "block_actions": "action",
    "view_submission": "view",
    "view_closed": "view",
    "shortcut": "shortcut",
    "message_action": "shortcut",
    "event_callback": "event",
    "block_suggestion": "options",
}
STATUS_OUTCOMES = {401: "unauthorized", 404: "unhandled"}


def coarse_kind(body: dict[str, Any]) -> str:
    if "command" in body:
        return "command"
    return TYPES.get(str(body.get("type")), "other")


def kind_of(body: dict[str, Any]) -> str:
    """`command:lookup`, `action:msg_release`, `view:move_modal`, `event:app_home_opened`…:
    only for requests a listener took, whose ids are therefore ones this bot registered."""
    coarse = coarse_kind(body)
    name: Any = None
    if coarse == "command":
        words = str(body.get("text") or "").split()
        verb = words[0].lower() if words else "help"
        name = verb if verb in USAGE else "other"
    elif coarse == "action":
        name = ((body.get("actions") or [{}])[0] or {}).get("action_id")
    elif coarse == "view":
        name = (body.get("view") or {}).get("callback_id")
    elif coarse == "shortcut":
        name = body.get("callback_id")
    elif coarse == "event":
        name = (body.get("event") or {}).get("type")
    return f"{coarse}:{str(name)[:64]}" if name else coarse


class ObservedApp(AsyncApp):
    def __init__(self, *, metrics: Metrics, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.metrics = metrics
        self.listener_runner.listener_completion_handler = _Finished(self)

    async def async_dispatch(self, req: AsyncBoltRequest) -> BoltResponse:
        record = RequestRecord()
        token = REQUEST.set(record)
        try:
            if log.isEnabledFor(logging.DEBUG):
                log.debug(
                    "request received", extra={"kind": coarse_kind(req.body), "mode": req.mode}
                )
            response = await super().async_dispatch(req)
            if response.status >= 400 and not record.counted:
                outcome = STATUS_OUTCOMES.get(response.status, "error")
                self.finished(record, coarse_kind(req.body), outcome)
        finally:
            REQUEST.reset(token)
        if req.mode == "socket_mode":
            self.metrics.ack_seconds.observe(time.perf_counter() - record.started)
        return response

    def finished(self, record: RequestRecord, kind: str, outcome: str | None = None) -> None:
        """Count the request once, and say how it ended."""
        record.counted = True
        outcome = outcome or record.outcome
        self.metrics.requests.labels(kind, outcome).inc()
        took = round((time.perf_counter() - record.started) * 1000, 1)
        log.info("request done", extra={"kind": kind, "outcome": outcome, "ms": took})


class _Finished(AsyncListenerCompletionHandler):
    """Runs in the listener's task when the listener returns or raises."""

    def __init__(self, app: ObservedApp) -> None:
        self.app = app

    async def handle(self, request: AsyncBoltRequest, response: BoltResponse | None) -> None:
        record = REQUEST.get()
        if record is not None and not record.counted:
            self.app.finished(record, kind_of(request.body))
