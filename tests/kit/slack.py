"""End-to-end harness: the bot (`python -m bot`), the Slack stand-in and the simulator as
separate processes, and a driver that sends what Slack sends, signed as Slack signs it (or,
in Socket Mode, pushed over the stand-in's WebSocket)."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any, Self, TypeVar
from urllib.parse import parse_qs, parse_qsl

import httpx

from bot.local import payloads
from tests.kit import forkserver
from tests.kit.http import LOCAL, TLS, async_local
from tests.kit.servers import (
    ACCOUNT_ID,
    API_TOKEN,
    Changes,
    SimulatorProcess,
    flush_redis,
    free_port,
    log_file,
    wait_until,
)

SIGNING_SECRET = "e2e-signing-secret"
BOT_TOKEN = "xoxb-e2e-token"
APP_TOKEN = "xapp-1-e2e"  # Socket Mode
CHANNEL = "C0SOC"
# The channels the tests' bots post in (and the console's, C0LOCAL): the stand-in has the bot
# in them from the start and after each reset; any other channel is one nobody invited it to.
BOT_IN = ("C0SOC", "C0ALERTS", "C0BECALERTS", "C0CARDALERTS", "C0REPORTS", "C0LOCAL", "C0SUBSOC1")
OPERATOR = "U0OPERATOR"
VIEWER = "U0VIEWER"
APPROVER = "U0APPROVER"
APPROVER2 = "U0APPROVER2"
BOTH = "U0BOTH"  # operator and approver: may ask, may approve others, never self
STRANGER = "U0STRANGER"
GROUP = "S0OPSGROUP"
GROUP_MEMBER = "U0GROUPOP"
T = TypeVar("T")
SECRET_SETTINGS = (
    "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "CLOUDFLARE_API_TOKEN",
    "CLOUDFLARE_API_KEY", "BOT_INTEGRITY_KEY",
)  # fmt: skip


class ChildProcess:
    """A `python -m bot …` child with its output in a log file."""

    def __init__(
        self,
        args: list[str],
        env: dict[str, str],
        health_url: str,
        what: str,
        open_files: int | None = None,
    ) -> None:
        self._log = log_file("e2e-")
        self.process = forkserver.start(args, env, self._log, open_files)
        self.health_url = health_url
        try:
            wait_until(self._healthy, 20, what)
        except TimeoutError:
            self.stop()
            raise RuntimeError(f"{what} did not start:\n{self.log()}") from None

    def _healthy(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"exited early:\n{self.log()}")
        try:
            return LOCAL.get(self.health_url, timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def log(self, since: int = 0) -> str:
        """The log, or what was written after `since` (a `log_size()` taken earlier)."""
        with open(self._log.name, "rb") as log:
            log.seek(since)
            return log.read().decode(errors="replace")

    def log_size(self) -> int:
        """Where the log ends now, for `log(since=…)`: a long session's log is not read whole."""
        return Path(self._log.name).stat().st_size

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


class StandinProcess(ChildProcess):
    """`python -m bot slack-standin` in a child process, driven through its /__standin hooks.
    Slack allows short bursts above 1 message/s per channel, so the default here is 10/1; tests
    about the limit itself pass `--channel-rate 1/1` (later flags win). The bot is in the
    channels of BOT_IN; Slack's per-method tiers apply as they are."""

    def __init__(self, *args: str) -> None:
        self.port = free_port()
        self.root = f"http://127.0.0.1:{self.port}"
        self.api_url = f"{self.root}/api/"
        self.changes = Changes(f"{self.root}/__standin/changes")
        self._http = httpx.Client(timeout=10, verify=TLS)  # one connection kept, not one per look
        cmd = ["slack-standin", "--host", "127.0.0.1", "--port", str(self.port)]
        cmd += ["--channel-rate", "10/1", "--bot-in", ",".join(BOT_IN), *args]
        super().__init__(cmd, dict(os.environ), f"{self.root}/__standin/health", "Slack stand-in")

    async def ahook(self, method: str, name: str, body: Any = None) -> Any:
        """`hook` for async tests."""
        async with async_local() as http:
            response = await http.request(method, f"{self.root}/__standin/{name}", json=body)
        assert response.status_code == 200, response.text
        return response.json()

    def hook(self, method: str, name: str, body: Any = None, **params: str) -> Any:
        response = self._http.request(
            method, f"{self.root}/__standin/{name}", json=body, params=params
        )
        response.raise_for_status()
        return response.json()

    def messages(self, channel: str | None = CHANNEL) -> list[dict[str, Any]]:
        """The messages of `channel` (None: of every channel), oldest first."""
        if channel is None:
            return list(self.hook("GET", "messages"))
        return list(self.hook("GET", "messages", channel=channel))

    def calls(self, method: str | None = None) -> list[dict[str, Any]]:
        return [c for c in self.hook("GET", "calls") if method in (None, c["method"])]


class BotProcess(ChildProcess):
    def __init__(
        self,
        simulator: SimulatorProcess,
        standin: StandinProcess,
        redis_url: str,
        *,
        open_files: int | None = None,
        **env: str,
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/slack/events"
        environ = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("SLACK_", "CLOUDFLARE_", "BOT_"))
        }
        environ.update(
            SLACK_BOT_TOKEN=BOT_TOKEN,
            SLACK_SIGNING_SECRET=SIGNING_SECRET,
            SLACK_API_URL=f"{standin.root}/api/",
            CLOUDFLARE_ACCOUNT_ID=ACCOUNT_ID,
            CLOUDFLARE_API_TOKEN=API_TOKEN,
            CLOUDFLARE_API_URL=simulator.base_url,
            # The simulator has no limit unless a test sets one; bulk tests send thousands.
            CLOUDFLARE_RATE_LIMIT="100000/1",
            # A killed replica's requests are resumed 4 s after (10 by default): the resume
            # tests wait that long.
            BOT_APPROVAL_LEASE_SECONDS="4",
            REDIS_URL=redis_url,
            HOST="127.0.0.1",
            PORT=str(self.port),
            BOT_VIEWERS=VIEWER,
            BOT_OPERATORS=f"{OPERATOR},{GROUP},{BOTH}",
            BOT_APPROVERS=f"{APPROVER},{APPROVER2},{BOTH}",
            # The most verbose output, so that the session's log check (tests.kit.logcheck)
            # covers every line the bot can write.
            LOG_LEVEL="DEBUG",
        )
        environ.update(env)
        self.secrets = {k: environ[k] for k in SECRET_SETTINGS if environ.get(k)}
        health = f"http://127.0.0.1:{self.port}/healthz"
        super().__init__([], environ, health, "the bot", open_files)
        STARTED_BOTS.append(self)

    def wait_ready(self) -> None:
        """Until its start-up checks (Redis, Slack, the API) have passed: they run in the
        background once /healthz answers, and their API call would land in a test's counts."""
        url = f"http://127.0.0.1:{self.port}/readyz"
        wait_until(lambda: LOCAL.get(url, timeout=5).status_code == 200, 20, "start-up checks")


STARTED_BOTS: list[BotProcess] = []  # every bot of this session, for tests.kit.logcheck


class Slack:
    """Sends commands, clicks and modal submissions to the bot as Slack would."""

    def __init__(self, bot: BotProcess, standin: StandinProcess) -> None:
        self.bot = bot
        self.standin = standin

    def send(self, body: str, headers: dict[str, str] | None = None) -> httpx.Response:
        headers = headers or payloads.signed_headers(SIGNING_SECRET, body)
        started = time.monotonic()
        response = LOCAL.post(self.bot.url, content=body.encode(), headers=headers, timeout=10)
        self.last_ack_seconds = time.monotonic() - started
        return response

    def _handles(
        self, user: str, message_ts: str | None = None, channel: str = CHANNEL
    ) -> dict[str, str]:
        issued = self.standin.hook(
            "POST", "response_urls", {"channel": channel, "user": user, "message_ts": message_ts}
        )
        return {"url": issued["url"], "trigger_id": issued["trigger_id"]}

    def command(self, text: str, user: str = OPERATOR, channel: str = CHANNEL) -> httpx.Response:
        handles = self._handles(user, channel=channel)
        body = payloads.slash_command(
            "/email", text, user, channel, handles["url"], handles["trigger_id"]
        )
        return self.send(body)

    def click(
        self,
        message: dict[str, Any],
        action_id: str,
        user: str = OPERATOR,
        option: str | None = None,
        *,
        ticked: Collection[str] = (),
        value: str | None = None,
    ) -> httpx.Response:
        """Click `action_id` (the one carrying `value`, when given) or choose `option` in it;
        `ticked`: the values of the message's tick boxes ticked, sent as its state.values (a
        click on a checkbox group reports those of its own that are ticked)."""
        block, element = find_element(message, action_id, value)
        entry: dict[str, Any] = {
            "type": element["type"], "action_id": action_id, "block_id": block["block_id"],
            "action_ts": f"{time.time():.6f}",
        }  # fmt: skip
        if element["type"] == "button":
            entry["value"] = element.get("value")
        elif element["type"] == "checkboxes":
            entry["selected_options"] = [o for o in element["options"] if o["value"] in ticked]
        else:
            chosen = next(o for o in element["options"] if o["value"] == option)
            entry["selected_option"] = chosen
        handles = self._handles(user, message["ts"], message.get("channel", CHANNEL))
        payload = payloads.block_actions(
            user, [entry], handles["trigger_id"], message=message, response_url=handles["url"],
            state=payloads.message_state(message["blocks"], ticked),
        )  # fmt: skip
        return self.send(payloads.interaction(payload))

    def submit(
        self, view: dict[str, Any], values: dict[str, Any], user: str = OPERATOR
    ) -> httpx.Response:
        """Submit a modal; `values` maps an input's action id to a value or option value."""
        state: dict[str, Any] = {}
        for block in view["blocks"]:
            element = block.get("element") or {}
            action_id = element.get("action_id")
            if block.get("type") != "input" or action_id not in values:
                continue
            value = values[action_id]
            if "options" in element:
                chosen = next(o for o in element["options"] if o["value"] == value)
                entry = {"type": element["type"], "selected_option": chosen}
            else:
                entry = {"type": element["type"], "value": value}
            state[block["block_id"]] = {action_id: entry}
        payload = payloads.view_submission(user, view, {}, self._handles(user)["trigger_id"])
        payload["view"]["state"] = {"values": state}
        return self.send(payloads.interaction(payload))

    def wait(self, probe: Callable[[], T | None], what: str, timeout: float = 10) -> T:
        """Poll `probe` until it returns something truthy; fail with `what` and the bot's log."""
        found: list[T] = []

        def check() -> bool:
            value = probe()
            if value:
                found.append(value)
            return bool(value)

        try:
            wait_until(check, timeout, what, self.standin.changes)
        except TimeoutError:
            raise AssertionError(
                f"timed out waiting for {what}\n--- bot log ---\n{self.bot.log()[-4000:]}"
            ) from None
        return found[0]

    def card(self, predicate: Callable[[dict[str, Any]], bool] = lambda m: True) -> dict[str, Any]:
        """The newest channel card (a non-ephemeral bot message with buttons) that matches."""

        def probe() -> dict[str, Any] | None:
            cards = [
                m for m in self.standin.messages()
                if not m["ephemeral"] and not m.get("thread_ts") and has_action(m, "msg_trace")
            ]  # fmt: skip
            return next((m for m in reversed(cards) if predicate(m)), None)

        return self.wait(probe, "a card in the channel")

    def view(self, callback_id: str, containing: str = "") -> dict[str, Any]:
        """The newest modal the bot opened or updated with `callback_id` (and `containing`)."""

        def probe() -> dict[str, Any] | None:
            views = [
                e["view"]
                for e in self.standin.hook("GET", "views")
                if e["view"].get("callback_id") == callback_id
            ]
            return views[-1] if views and containing in text_of(views[-1]) else None

        return self.wait(probe, f"the {callback_id} modal")

    def privates(self, user: str, containing: str) -> list[dict[str, Any]]:
        """Every ephemeral message to `user`, in any channel, whose text contains `containing`,
        oldest first (now: no waiting)."""
        return [
            message
            for message in self.standin.messages(None)
            if message["ephemeral"] and message.get("user") == user
            and containing in text_of(message)
        ]  # fmt: skip

    def private(self, user: str, containing: str) -> dict[str, Any]:
        """The newest ephemeral message to `user`, in any channel, whose text contains
        `containing` (an answer goes where the click or command was)."""

        def probe() -> dict[str, Any] | None:
            found = self.privates(user, containing)
            return found[-1] if found else None

        return self.wait(probe, f"a private message to {user} containing {containing!r}")


class SocketSlack(Slack):
    """Slack over the bot's Socket Mode connection: what `Slack` would POST to the Request
    URL is pushed as an envelope instead, and `send` answers the bot's ack."""

    def send(self, body: str, headers: dict[str, str] | None = None) -> dict[str, Any]:  # type: ignore[override]
        if body.startswith("payload="):
            kind, payload = "interactive", json.loads(parse_qs(body)["payload"][0])
        else:
            kind, payload = "slash_commands", dict(parse_qsl(body))
        pushed = self.standin.hook("POST", "socket", {"type": kind, "payload": payload})

        def acked() -> dict[str, Any] | None:
            acks = self.standin.hook("GET", "socket")["acks"]
            return next((a for a in acks if a["envelope_id"] == pushed["envelope_id"]), None)

        ack: dict[str, Any] = self.wait(acked, f"the bot's ack of a {kind} envelope", timeout=5)
        self.last_ack_seconds = float(ack["seconds"])
        return ack


def socket_state(standin: StandinProcess) -> dict[str, Any]:
    return dict(standin.hook("GET", "socket"))


def find_element(
    message: dict[str, Any], action_id: str, value: str | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The first `action_id` element (whose value, or one of whose options' values, is `value`
    when given) and its block."""
    for block in message.get("blocks") or []:
        for element in [*(block.get("elements") or []), block.get("accessory") or {}]:
            if element.get("action_id") != action_id:
                continue
            values = [element.get("value"), *(o.get("value") for o in element.get("options") or [])]
            if value is None or value in values:
                return block, element
    raise AssertionError(f"no {action_id} in the message: {json.dumps(message)[:2000]}")


def has_action(message: dict[str, Any], action_id: str) -> bool:
    try:
        find_element(message, action_id)
    except AssertionError:
        return False
    return True


def text_of(message: dict[str, Any]) -> str:
    """All visible text of a message: top-level text and every text in its blocks."""
    parts = [message.get("text") or ""]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("text"), str):
                parts.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(message.get("blocks") or [])
    return "\n".join(parts)


def clean_slate(standin: StandinProcess, redis_url: str) -> None:
    """Before a test: Slack without messages (the ops group as configured) and an empty Redis."""
    standin.hook("POST", "reset")  # keeps open Socket Mode connections
    standin.hook("POST", "usergroups", {GROUP: [GROUP_MEMBER]})
    flush_redis(redis_url)
