"""Socket Mode: the WebSocket side of the stand-in (shared/slack/PLATFORM.md §8).

`apps.connections.open` (app-level `xapp-` token) issues a one-time `ws://…/link/?ticket=…`
back to the stand-in. On that socket the stand-in says `hello`, delivers the envelopes a test
pushes through `POST /__standin/socket` (to one connection picked at random when several are
open, as Slack does) and records the client's acks `{"envelope_id", "payload"?}`.
Reset forgets the history (envelopes, acks, closed connections); open sockets stay open.
"""

from __future__ import annotations

import json
import logging
import random
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web

from bot.local.standin.model import APP_ID, JsonObject, iso_now

log = logging.getLogger("bot.local.standin")
KINDS = ("slash_commands", "interactive", "events_api")
# Interactions whose ack payload means something to Slack (response_action, options).
ANSWERABLE = ("view_submission", "block_suggestion")


class NoConnectionError(Exception):
    """No client is connected, so there is nobody to deliver an envelope to."""


@dataclass
class Connection:
    id: str
    ws: web.WebSocketResponse
    opened_at: str = field(default_factory=iso_now)
    closed_at: str | None = None
    delivered: int = 0

    def to_json(self) -> JsonObject:
        return {
            "id": self.id,
            "opened_at": self.opened_at,
            "closed_at": self.closed_at,
            "envelopes": self.delivered,
        }


@dataclass
class Sent:
    """An envelope delivered, and when (monotonic) for the ack's latency."""

    envelope: JsonObject
    connection: str
    at: str
    clock: float
    acks: int = 0

    def to_json(self) -> JsonObject:
        return {
            "envelope_id": self.envelope["envelope_id"],
            "type": self.envelope["type"],
            "connection": self.connection,
            "at": self.at,
            "acked": self.acks > 0,
            "envelope": self.envelope,
        }


class SocketHub:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.tickets: set[str] = set()
        self.live: dict[str, Connection] = {}
        self._count = 0
        self.forget()

    def forget(self) -> None:
        self.connections: list[Connection] = list(self.live.values())
        self.sent: dict[str, Sent] = {}  # envelope_id -> Sent, in delivery order
        self.acks: list[JsonObject] = []

    # --- connecting -------------------------------------------------------------------------

    def issue_ticket(self) -> str:
        ticket = secrets.token_urlsafe(16)
        self.tickets.add(ticket)
        return ticket

    def redeem(self, ticket: str | None) -> bool:
        """A ticket opens one connection; apps.connections.open is called again to reconnect."""
        if ticket is None or ticket not in self.tickets:
            return False
        self.tickets.discard(ticket)
        return True

    def open(self, ws: web.WebSocketResponse) -> Connection:
        self._count += 1
        connection = Connection(f"c{self._count}", ws)
        self.live[connection.id] = connection
        self.connections.append(connection)
        return connection

    def close(self, connection: Connection) -> None:
        connection.closed_at = iso_now()
        self.live.pop(connection.id, None)

    def hello(self) -> JsonObject:
        """What Slack sends first on every new connection."""
        return {
            "type": "hello",
            "num_connections": len(self.live),
            "debug_info": {
                "host": "applink-standin",
                "build_number": 1,
                "approximate_connection_time": 18060,
            },
            "connection_info": {"app_id": APP_ID},
        }

    # --- envelopes and acks -----------------------------------------------------------------

    async def push(self, kind: str, payload: JsonObject, **overrides: object) -> Sent:
        """Deliver one envelope to a connection picked at random; NoConnectionError if none."""
        if not self.live:
            raise NoConnectionError
        connection = random.choice(list(self.live.values()))
        envelope = envelope_for(kind, payload)
        envelope.update(overrides)
        sent = Sent(envelope, connection.id, iso_now(), self.clock())
        self.sent[envelope["envelope_id"]] = sent  # before sending: the ack can be quick
        try:
            await connection.ws.send_json(envelope)
        except (ConnectionError, RuntimeError) as error:
            del self.sent[envelope["envelope_id"]]
            raise NoConnectionError from error
        connection.delivered += 1
        log.info("socket %s %s -> %s", kind, envelope["envelope_id"], connection.id)
        return sent

    def receive(self, connection: Connection, text: str) -> tuple[JsonObject, Sent] | None:
        """Record an ack; returns it and the envelope it acknowledges when that is known."""
        try:
            message = json.loads(text)
        except ValueError:
            message = None
        if not isinstance(message, dict) or not isinstance(message.get("envelope_id"), str):
            log.info("socket %s sent something that is not an ack", connection.id)
            return None
        envelope_id = message["envelope_id"]
        sent = self.sent.get(envelope_id)
        ack: JsonObject = {
            "envelope_id": envelope_id,
            "connection": connection.id,
            "at": iso_now(),
            "known": sent is not None,
            "seconds": round(self.clock() - sent.clock, 6) if sent else None,
        }
        if "payload" in message:
            ack["payload"] = message["payload"]
        self.acks.append(ack)
        log.info("socket ack %s from %s", envelope_id, connection.id)
        if sent is None:
            return None
        sent.acks += 1
        return ack, sent

    async def disconnect(self, reason: str) -> list[str]:
        """Ask every client to reconnect, as Slack does before it recycles a connection."""
        message = {
            "type": "disconnect",
            "reason": reason,
            "debug_info": {"host": "applink-standin"},
        }
        told = []
        for connection in list(self.live.values()):
            try:
                await connection.ws.send_json(message)
            except (ConnectionError, RuntimeError):
                continue
            told.append(connection.id)
        return told

    async def close_all(self) -> None:
        """On shutdown: an open WebSocket would otherwise hold the server up."""
        for connection in list(self.live.values()):
            await connection.ws.close(code=1001, message=b"server shutdown")

    def to_json(self) -> JsonObject:
        return {
            "connected": len(self.live),
            "connections": [c.to_json() for c in self.connections],
            "envelopes": [s.to_json() for s in self.sent.values()],
            "acks": self.acks,
        }


def envelope_for(kind: str, payload: JsonObject) -> JsonObject:
    """Slack's envelope: `accepts_response_payload` is true for slash commands and the
    interactions whose ack carries an answer; Events API envelopes add the retry fields."""
    envelope: JsonObject = {"envelope_id": str(uuid.uuid4()), "type": kind, "payload": payload}
    if kind == "slash_commands":
        envelope["accepts_response_payload"] = True
    elif kind == "interactive":
        envelope["accepts_response_payload"] = payload.get("type") in ANSWERABLE
    else:
        envelope.update(accepts_response_payload=False, retry_attempt=0, retry_reason="")
    return envelope
