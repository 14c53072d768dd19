"""End to end: what production needs around the features. Oversized requests, Slack's retries,
graceful shutdown on SIGTERM (in-flight work, approval executions, the alert lock), Redis going
away and coming back, a refused Socket Mode token. Bot processes, the Slack stand-in, the
simulator and redis-server are real processes; requests are signed as Slack signs them."""

from __future__ import annotations

import concurrent.futures
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from typing import Any

import pytest
import redis

from bot.local import payloads
from bot.server import GRACE_SECONDS
from bot.services.alerts.scripts import LOCK_KEY, STATE_KEY
from bot.services.approvals.scripts import lease_key, record_key
from tests.kit.factories import add, detection
from tests.kit.flows import (
    ALERTS,
    approval_card,
    calls_to,
    release_all_card,
    released_ids,
    request_id_of,
    wait_card,
)
from tests.kit.http import LOCAL
from tests.kit.servers import (
    ACCOUNT_ID,
    API_TOKEN,
    ROOT,
    RedisProcess,
    SimulatorProcess,
    free_port,
    wait_until,
)
from tests.kit.slack import (
    APP_TOKEN,
    APPROVER,
    BOT_TOKEN,
    CHANNEL,
    OPERATOR,
    SIGNING_SECRET,
    VIEWER,
    BotProcess,
    Slack,
    StandinProcess,
    socket_state,
    text_of,
)

SKIPPED = "repeated Slack delivery skipped"


def health(bot: BotProcess) -> int:
    root = bot.url.removesuffix("/slack/events")
    return LOCAL.get(f"{root}/healthz", timeout=5).status_code


def event_body(user: str) -> tuple[str, str]:
    """An app_home_opened callback as Slack sends it, and its event_id."""
    event = payloads.app_home_opened(user, "D0HOME")
    return json.dumps(event), str(event["event_id"])


def signed_json(body: str, retry: int | None = None) -> dict[str, str]:
    headers = payloads.signed_headers(SIGNING_SECRET, body, "application/json")
    if retry is not None:
        headers |= {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
    return headers


def publishes(slack: Slack, user: str) -> list[dict[str, Any]]:
    return [c for c in slack.standin.calls("views.publish") if c["args"].get("user_id") == user]


def command_body(slack: Slack, text: str, user: str = OPERATOR) -> str:
    handles = slack.standin.hook("POST", "response_urls", {"channel": CHANNEL, "user": user})
    return payloads.slash_command(
        "/email", text, user, CHANNEL, handles["url"], handles["trigger_id"]
    )


def privates(slack: Slack, user: str, containing: str) -> list[dict[str, Any]]:
    return [
        m
        for m in slack.standin.messages()
        if m["ephemeral"] and m.get("user") == user and containing in text_of(m)
    ]


def stop_with_sigterm(process: BotProcess) -> tuple[int, float]:
    """SIGTERM, then wait for the exit: (exit code, seconds it took)."""
    started = time.monotonic()
    process.process.send_signal(signal.SIGTERM)
    code = process.process.wait(timeout=GRACE_SECONDS + 10)
    return code, time.monotonic() - started


# -- requests ----------------------------------------------------------------------------------


def test_an_oversized_request_is_refused_and_the_bot_serves_on(slack: Slack) -> None:
    body = "payload=" + "x" * (1024 * 1024)
    answer = LOCAL.post(
        slack.bot.url,
        content=body.encode(),
        headers=payloads.signed_headers(SIGNING_SECRET, body),
        timeout=10,
    )
    assert answer.status_code == 413
    assert health(slack.bot) == 200
    assert slack.command("help").status_code == 200
    slack.private(OPERATOR, "reclassify")


def test_a_retried_event_is_acknowledged_and_does_its_work_once(slack: Slack) -> None:
    body, event_id = event_body(OPERATOR)
    assert slack.send(body, signed_json(body)).status_code == 200
    slack.wait(lambda: publishes(slack, OPERATOR), "the Home tab to be published")
    # Slack thought the first ack late and delivers the same event again, signed anew.
    retried = slack.send(body, signed_json(body, retry=1))
    assert retried.status_code == 200 and slack.last_ack_seconds < 3.0
    slack.wait(lambda: f"{SKIPPED}: slack:event:{event_id}" in slack.bot.log(), "the skip")
    # A retry whose original never reached us is served: nothing is dropped.
    other, _ = event_body(VIEWER)
    assert slack.send(other, signed_json(other, retry=2)).status_code == 200
    slack.wait(lambda: publishes(slack, VIEWER), "the other Home tab to be published")
    assert len(publishes(slack, OPERATOR)) == 1


def test_a_replayed_command_confirms_once(slack: Slack, simulator: SimulatorProcess) -> None:
    body = command_body(slack, "block replayed@evil.example")
    assert slack.send(body).status_code == 200
    slack.view("block_modal", containing="in the last 30 days")
    skipped_before = slack.bot.log().count(SKIPPED)
    # The same delivery again (a proxy's retry, or one with Slack's retry headers): re-signed.
    headers = payloads.signed_headers(SIGNING_SECRET, body)
    headers |= {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "timeout"}
    assert slack.send(body, headers).status_code == 200
    slack.wait(lambda: slack.bot.log().count(SKIPPED) > skipped_before, "the replay's skip")
    assert len(slack.standin.calls("views.open")) == 1, "one confirm modal, not two"
    # A new command with the same text is a new request, and is served.
    slack.command("block replayed@evil.example")
    slack.wait(lambda: len(slack.standin.calls("views.open")) == 2, "a second confirm modal")
    assert calls_to(simulator, "/settings/block_senders") == [], "nothing blocked unconfirmed"


def test_a_double_click_on_release_releases_once(slack: Slack, simulator: SimulatorProcess) -> None:
    message_id = add(simulator, subject="Double click", final_disposition="BULK")
    slack.command(f"lookup {message_id}")
    card = slack.card()
    simulator.faults(latency_ms=500)  # both clicks re-check before either release lands
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        answers = list(pool.map(lambda _: slack.click(card, "msg_release"), range(2)))
    assert [a.status_code for a in answers] == [200, 200]
    slack.private(OPERATOR, "already under way")
    slack.wait(lambda: calls_to(simulator, "/investigate/release"), "the release")
    updated = slack.wait(
        lambda: next(
            (
                m
                for m in slack.standin.messages()
                if m["ts"] == card["ts"] and "Released" in text_of(m)
            ),
            None,
        ),
        "the card to show the release",
    )
    assert "Released" in text_of(updated)
    assert [c["body"] for c in calls_to(simulator, "/investigate/release")] == [[message_id]]


# -- graceful shutdown -------------------------------------------------------------------------


def test_sigterm_refuses_new_requests_and_finishes_those_in_progress(
    slack: Slack, second_bot: BotProcess, simulator: SimulatorProcess
) -> None:
    message_id = add(simulator, subject="Finished during shutdown")
    # A lookup is two round trips (the message with its evidence, then its sender's block-list
    # entry): 4 s, well inside the drain, and still in progress when SIGTERM comes.
    simulator.faults(latency_ms=2000)
    leaving = Slack(second_bot, slack.standin)
    assert leaving.command(f"lookup {message_id}").status_code == 200  # acked; the work runs
    started = time.monotonic()
    second_bot.process.send_signal(signal.SIGTERM)
    slack.wait(lambda: "shutting down" in second_bot.log(), "the bot to start shutting down")
    refused = leaving.command("help")
    assert refused.status_code == 503, "no new work once stopping"
    assert health(second_bot) == 200, "alive while it drains"
    code = second_bot.process.wait(timeout=GRACE_SECONDS + 10)
    took = time.monotonic() - started
    assert code == 0
    assert 2.5 < took < GRACE_SECONDS + 1, f"waited for the lookup, within the grace: {took:.1f}s"
    card = slack.card()
    assert "Finished during shutdown" in text_of(card), "the lookup in progress was finished"
    assert "still running after" not in second_bot.log(), "nothing had to be cancelled"


@pytest.mark.starts_first(12)
def test_sigterm_mid_execution_hands_the_lease_back(
    slack: Slack,
    second_bot: BotProcess,
    simulator: SimulatorProcess,
    standin: StandinProcess,
    redis_server: RedisProcess,
) -> None:
    """A bulk release of 2500 runs on `second_bot`, which gets SIGTERM after its first chunk: it
    exits 0 at once, its lease is free at exit (not left to lapse), and the other bot resumes
    the rest at once: every id released exactly once."""
    leaving = Slack(second_bot, standin)
    card, ids = release_all_card(leaving, simulator, 2500, "Term")
    request_id = request_id_of(card)
    store = redis.Redis.from_url(redis_server.url)
    # Chunks take a while, so SIGTERM lands mid-run: re-checked by its search, a chunk is one
    # POST (after the search's three pages).
    simulator.faults(latency_ms=1000)
    leaving.click(card, "approval_approve", user=APPROVER)
    slack.wait(lambda: released_ids(simulator), "the first chunk to be released", timeout=60)

    code, took = stop_with_sigterm(second_bot)
    lease = store.get(lease_key(request_id))
    chunks_done = int(store.hget(record_key(request_id), "chunks_done") or 0)
    assert code == 0 and took < GRACE_SECONDS, f"exit {code} after {took:.1f}s"
    assert chunks_done < 3, "the execution was still running at SIGTERM"
    assert lease is None or f":{second_bot.process.pid}:" not in lease.decode(), "handed back"
    assert "handed back" in second_bot.log(), second_bot.log()[-4000:]

    wait_card(slack, card["ts"], "Done", timeout=90)
    released = released_ids(simulator)
    assert len(released) == len(set(released)), "no id released twice"
    assert sorted(released) == sorted(ids), "none lost"


def test_sigterm_releases_the_alert_lock_for_another_replica(
    standin: StandinProcess,
    shared_simulator: SimulatorProcess,
    simulator: SimulatorProcess,
    redis_server: RedisProcess,
) -> None:
    standin.hook("POST", "reset")
    store = redis.Redis.from_url(redis_server.url)
    store.flushdb()
    env = {"ALERT_CHANNEL": ALERTS, "ALERT_POLL_SECONDS": "1"}
    first = BotProcess(shared_simulator, standin, redis_server.url, **env)
    second = BotProcess(shared_simulator, standin, redis_server.url, **env)
    try:
        wait_until(lambda: store.get(LOCK_KEY) is not None, 20, "a poller to take the lock")
        lock = store.get(LOCK_KEY)
        assert lock is not None
        holder = first if f":{first.process.pid}:" in lock.decode() else second
        survivor = second if holder is first else first
        code, took = stop_with_sigterm(holder)
        assert code == 0 and took < GRACE_SECONDS, f"exit {code} after {took:.1f}s"
        after = store.get(LOCK_KEY)
        assert after is None or f":{holder.process.pid}:" not in after.decode(), "released"

        def survivor_holds() -> bool:
            now = store.get(LOCK_KEY)
            return now is not None and f":{survivor.process.pid}:" in now.decode()

        # The lease is 10 s: taking over well within it shows the lock was released, not lapsed.
        took_over = time.monotonic()
        wait_until(survivor_holds, 5, "the other replica to take the lock")
        assert time.monotonic() - took_over < 5
        simulator.add_messages([detection(700, sender="after-stop@phish.example")])
        Slack(survivor, standin).wait(
            lambda: [m for m in standin.messages(ALERTS) if not m.get("thread_ts")],
            "the survivor's alert",
            timeout=30,
        )
    finally:
        first.stop()
        second.stop()


# -- Redis away and back -----------------------------------------------------------------------


class RestartableRedis:
    """A redis-server that can be stopped and started again on the same port (no persistence:
    it comes back empty, like a replaced cache node)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.dir = tempfile.mkdtemp(prefix="redis-restart-")
        self.process: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        binary = shutil.which("redis-server") or "redis-server"
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir,
             "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_until(self._pong, 10, f"redis-server on port {self.port}")

    def _pong(self) -> bool:
        try:
            return bool(redis.Redis(port=self.port, socket_timeout=0.5).ping())
        except redis.RedisError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def test_redis_outage_is_told_and_recovered_from_without_a_restart(
    shared_simulator: SimulatorProcess, standin: StandinProcess, simulator: SimulatorProcess
) -> None:
    server = RestartableRedis()
    bot = BotProcess(
        shared_simulator, standin, server.url,
        ALERT_CHANNEL=ALERTS, ALERT_POLL_SECONDS="1", BOT_APPROVAL_TTL="3",
    )  # fmt: skip
    try:
        standin.hook("POST", "reset")
        slack = Slack(bot, standin)
        state = redis.Redis(port=server.port)

        def polled() -> bool:
            try:
                return state.hget(STATE_KEY, "floor") is not None
            except redis.RedisError:
                return False

        wait_until(polled, 20, "a first poll")
        first, second = add(simulator, subject="o1"), add(simulator, subject="o2")

        server.stop()
        slack.command(f"release {first} {second}")
        told = text_of(slack.private(OPERATOR, "Redis"))
        assert "REDIS_URL" in told and "Traceback" not in told
        assert simulator.calls() == [], "nothing is done without its record"
        assert health(bot) == 200, "the process lives on"
        # Events still work without Redis; a retry cannot be told apart, so it is skipped.
        body, event_id = event_body(VIEWER)
        assert slack.send(body, signed_json(body)).status_code == 200
        slack.wait(lambda: publishes(slack, VIEWER), "the Home tab, Redis or not")
        assert slack.send(body, signed_json(body, retry=1)).status_code == 200
        assert slack.last_ack_seconds < 3.0
        skipped = f"skipped: slack:event:{event_id} (unverifiable"
        slack.wait(lambda: skipped in bot.log(), "the retry to be skipped")
        assert len(publishes(slack, VIEWER)) == 1

        server.start()  # back, empty, on the same address: no bot restart
        slack.command(f"release {first} {second}")
        card = approval_card(slack)
        assert "o1" in text_of(card)
        wait_card(slack, card["ts"], "Expired", timeout=30)  # the sweeper works again
        wait_until(polled, 20, "a poll after the outage")
        simulator.add_messages([detection(800, sender="after-outage@phish.example")])
        slack.wait(
            lambda: [m for m in standin.messages(ALERTS) if not m.get("thread_ts")],
            "an alert after the outage (the poller recovered)",
            timeout=30,
        )
    finally:
        bot.stop()
        server.close()


# -- Socket Mode -------------------------------------------------------------------------------


def test_socket_mode_skips_a_retried_event_and_stops_cleanly_on_sigterm(
    shared_simulator: SimulatorProcess, standin: StandinProcess, redis_server: RedisProcess
) -> None:
    assert socket_state(standin)["connected"] == 0, "another Socket Mode client is connected"
    standin.hook("POST", "reset")
    redis.Redis.from_url(redis_server.url).flushdb()
    bot = BotProcess(shared_simulator, standin, redis_server.url, SLACK_APP_TOKEN=APP_TOKEN)
    try:
        slack = Slack(bot, standin)
        slack.wait(lambda: socket_state(standin)["connected"] == 1, "the Socket Mode connection")
        # A user no other test draws a Home for: the session's bot may still be redrawing the
        # operator's after the previous test.
        visitor = "U0HOMEVISIT"
        event = payloads.app_home_opened(visitor, "D0HOME")
        pushed = [standin.hook("POST", "socket", {"type": "events_api", "payload": event})]
        slack.wait(lambda: publishes(slack, visitor), "the Home tab to be published")
        retry = {"type": "events_api", "payload": event, "retry_attempt": 1}
        pushed.append(standin.hook("POST", "socket", retry | {"retry_reason": "timeout"}))

        def acked() -> bool:
            done = {a["envelope_id"] for a in socket_state(standin)["acks"]}
            return all(p["envelope_id"] in done for p in pushed)

        slack.wait(acked, "both envelopes to be acknowledged")
        slack.wait(lambda: f"{SKIPPED}: slack:event:{event['event_id']}" in bot.log(), "the skip")
        assert len(publishes(slack, visitor)) == 1

        code, took = stop_with_sigterm(bot)
        assert code == 0 and took < GRACE_SECONDS, f"exit {code} after {took:.1f}s"
        slack.wait(lambda: socket_state(standin)["connected"] == 0, "the socket to be closed")
        assert "closing the Socket Mode connection failed" not in bot.log()
    finally:
        bot.stop()


def test_a_refused_app_token_stops_start_up_with_what_to_fix(
    shared_simulator: SimulatorProcess, redis_server: RedisProcess
) -> None:
    strict = StandinProcess("--bot-token", BOT_TOKEN, "--app-token", "xapp-1-the-right-one")
    try:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("SLACK_", "CLOUDFLARE_", "BOT_"))
        }
        env.update(
            SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_APP_TOKEN="xapp-1-revoked",
            SLACK_API_URL=strict.api_url, CLOUDFLARE_ACCOUNT_ID=ACCOUNT_ID,
            CLOUDFLARE_API_TOKEN=API_TOKEN, CLOUDFLARE_API_URL=shared_simulator.base_url,
            REDIS_URL=redis_server.url, HOST="127.0.0.1", PORT=str(free_port()),
        )  # fmt: skip
        done = subprocess.run(
            [sys.executable, "-m", "bot"], cwd=ROOT, env=env, capture_output=True, text=True,
            timeout=30, check=False,
        )  # fmt: skip
    finally:
        strict.stop()
    assert done.returncode == 2, done.stderr[-2000:]
    assert "SLACK_APP_TOKEN" in done.stderr and "invalid_auth" in done.stderr
    assert "connections:write" in done.stderr
    assert "xapp-1-revoked" not in done.stdout + done.stderr, "the token is never echoed"
