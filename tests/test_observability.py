"""Health, metrics and logs (issue 7): /readyz and its checks, /metrics in Prometheus format,
JSON log lines with a request id that follows a Slack request into its API calls, and logs
that never hold a secret or a message body."""

from __future__ import annotations

import base64
import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

from bot.cloudflare.transport import endpoint_of
from bot.config import ConfigError, load_settings
from bot.observability import REQUEST, JsonFormatter, RequestRecord, TextFormatter
from bot.services.alerts.scripts import OUTBOXES_KEY, outbox_key
from tests.kit import logcheck
from tests.kit.factories import add, detection
from tests.kit.flows import approval_card, settle
from tests.kit.http import LOCAL
from tests.kit.servers import RedisProcess, SimulatorProcess, free_port, wait_until
from tests.kit.slack import (
    APP_TOKEN,
    BOT_TOKEN,
    OPERATOR,
    SIGNING_SECRET,
    VIEWER,
    BotProcess,
    Slack,
    SocketSlack,
    StandinProcess,
    socket_state,
)

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def root(bot: BotProcess) -> str:
    return bot.url.removesuffix("/slack/events")


def scrape(bot: BotProcess) -> Samples:
    response = LOCAL.get(f"{root(bot)}/metrics", timeout=5)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def ready(bot: BotProcess) -> httpx.Response:
    return LOCAL.get(f"{root(bot)}/readyz", timeout=5)


def counted(slack: Slack, before: Samples, kind: str, outcome: str) -> Samples:
    """The metrics once the request `kind` was counted with `outcome` (at the listener's end)."""
    was = value(before, "emailbot_requests_total", kind=kind, outcome=outcome)

    def probe() -> Samples | None:
        now = scrape(slack.bot)
        return (
            now if value(now, "emailbot_requests_total", kind=kind, outcome=outcome) > was else None
        )

    return slack.wait(probe, f"a {kind} request counted as {outcome}")


def log_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


# -- /readyz ----------------------------------------------------------------------------------


def test_readyz_is_ready_when_redis_slack_and_cloudflare_answer(slack: Slack) -> None:
    def answered() -> httpx.Response | None:
        response = ready(slack.bot)
        return response if response.status_code == 200 else None

    body = slack.wait(answered, "/readyz 200").json()
    assert body["ready"] is True
    assert set(body["checks"]) == {"redis", "config", "slack", "cloudflare"}
    assert all(check["ok"] for check in body["checks"].values()), body


def test_readyz_names_redis_when_it_is_down(
    shared_simulator: SimulatorProcess, standin: StandinProcess
) -> None:
    bot = BotProcess(shared_simulator, standin, f"redis://127.0.0.1:{free_port()}/0")
    try:
        slack = Slack(bot, standin)
        assert LOCAL.get(f"{root(bot)}/healthz", timeout=5).status_code == 200, "still alive"

        def checked() -> dict[str, Any] | None:
            response = ready(bot)
            assert response.status_code == 503
            body: dict[str, Any] = response.json()
            checks = body["checks"]
            return body if checks["slack"]["ok"] and checks["cloudflare"]["ok"] else None

        body = slack.wait(checked, "the start-up checks to pass")
        assert body["ready"] is False
        assert body["checks"]["redis"]["ok"] is False
        assert "REDIS_URL" in body["checks"]["redis"]["detail"]
        assert [name for name, c in body["checks"].items() if not c["ok"]] == ["redis"]
        # /metrics still answers without Redis, and counts the failures.
        assert value(scrape(bot), "emailbot_redis_errors_total") >= 1
    finally:
        bot.stop()


def test_readyz_says_which_credentials_were_refused(
    shared_simulator: SimulatorProcess, standin: StandinProcess, redis_server: RedisProcess
) -> None:
    # The session's stand-in accepts only BOT_TOKEN; the simulator only its own API token.
    bot = BotProcess(
        shared_simulator, standin, redis_server.url,
        SLACK_BOT_TOKEN="xoxb-refused-by-the-standin", CLOUDFLARE_API_TOKEN="refused-api-token",
    )  # fmt: skip
    try:
        slack = Slack(bot, standin)

        def refused() -> dict[str, Any] | None:
            response = ready(bot)
            assert response.status_code == 503
            body: dict[str, Any] = response.json()
            checks = body["checks"]
            failed = "not checked yet" not in json.dumps(checks)
            return body if failed else None

        body = slack.wait(refused, "both credential checks to fail")
        checks = body["checks"]
        assert checks["redis"]["ok"] and checks["config"]["ok"]
        assert not checks["slack"]["ok"] and "invalid_auth" in checks["slack"]["detail"]
        assert "SLACK_BOT_TOKEN" in checks["slack"]["detail"]
        assert not checks["cloudflare"]["ok"] and "refused" in checks["cloudflare"]["detail"]
        text = json.dumps(body)
        assert "xoxb-refused-by-the-standin" not in text and "refused-api-token" not in text
    finally:
        bot.stop()


# -- /metrics ---------------------------------------------------------------------------------


def test_a_lookup_is_counted_with_its_ack_and_api_calls(
    slack: Slack, simulator: SimulatorProcess
) -> None:
    message_id = add(simulator, subject="Counted lookup")
    before = scrape(slack.bot)
    assert slack.command(f"lookup {message_id}").status_code == 200
    slack.card()
    after = counted(slack, before, "command:lookup", "ok")

    acks = value(after, "emailbot_ack_seconds_count") - value(before, "emailbot_ack_seconds_count")
    assert acks == 1
    fast = "emailbot_ack_seconds_bucket"
    assert value(after, fast, le="3.0") - value(before, fast, le="3.0") == 1, "acked within 3 s"
    calls = "emailbot_api_calls_total"
    endpoint = "investigate/{id}"
    assert value(after, calls, endpoint=endpoint, status="200") > value(
        before, calls, endpoint=endpoint, status="200"
    )
    text = LOCAL.get(f"{root(slack.bot)}/metrics", timeout=5).text
    assert message_id not in text, "ids never become label values"
    assert "emailbot_api_call_seconds_bucket" in text


def test_outcomes_denied_bad_input_and_not_found(slack: Slack, simulator: SimulatorProcess) -> None:
    message_id = add(simulator)
    before = scrape(slack.bot)
    slack.command(f"preview {message_id}", user=VIEWER)
    counted(slack, before, "command:preview", "denied")
    slack.command("frobnicate now")
    counted(slack, before, "command:other", "bad_input")
    slack.command("lookup T000000000404x")
    counted(slack, before, "command:lookup", "not_found")


def test_a_bad_signature_is_counted_as_unauthorized(slack: Slack) -> None:
    before = scrape(slack.bot)
    body = "command=%2Femail&text=help+unsigned-zq81&user_id=U0OPERATOR"
    headers = {"X-Slack-Request-Timestamp": "1", "X-Slack-Signature": "v0=00"}
    assert (
        slack.send(
            body, headers | {"Content-Type": "application/x-www-form-urlencoded"}
        ).status_code
        == 401
    )
    after = scrape(slack.bot)
    name = "emailbot_requests_total"
    # Refused before its body is parsed (issue 14): what it claimed to be is not known.
    assert value(after, name, kind="unverified", outcome="unauthorized") == (
        value(before, name, kind="unverified", outcome="unauthorized") + 1
    )
    assert "unsigned-zq81" not in slack.bot.log(), "Bolt's log of the refused body is kept out"


def test_rate_limits_and_retries_are_counted(slack: Slack, simulator: SimulatorProcess) -> None:
    message_id = add(simulator, subject="Slow to fetch")
    simulator.faults(
        fail_next=[
            {"status": 429, "count": 1, "method": "GET", "path_contains": "/investigate/",
             "retry_after": 0},
            {"status": 503, "count": 1, "method": "GET", "path_contains": "/investigate/"},
        ]
    )  # fmt: skip
    before = scrape(slack.bot)
    slack.command(f"lookup {message_id}")
    slack.card()
    after = counted(slack, before, "command:lookup", "ok")

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    def calls_with(status: str) -> float:
        return sum(
            after[key] - before.get(key, 0.0)
            for key in after
            if key[0] == "emailbot_api_calls_total" and ("status", status) in key[1]
        )

    assert grew("emailbot_api_rate_limited_total") == 1
    assert grew("emailbot_api_retries_total", reason="rate_limited") == 1
    assert grew("emailbot_api_retries_total", reason="server_error") == 1
    # A lookup reads `investigate/{id}` and its sub-resources at once; which of them the
    # simulator refuses first is a race (it lost more often under pytest-xdist's load), so the
    # refused call is the one 429 counted, on one of the message's `investigate/{id}` endpoints.
    refused = [
        dict(key[1])["endpoint"]
        for key in after
        if key[0] == "emailbot_api_calls_total"
        and ("status", "429") in key[1]
        and after[key] - before.get(key, 0.0) == 1
    ]
    assert len(refused) == 1 and refused[0].startswith("investigate/{id}"), refused
    assert calls_with("429") == calls_with("503") == 1


def test_approvals_and_alert_queue_are_read_from_redis(
    slack: Slack, simulator: SimulatorProcess, redis_server: RedisProcess
) -> None:
    message_id = add(simulator, subject="Guarded", final_disposition="MALICIOUS")
    slack.command(f"release {message_id}")  # a guarded release waits for an approver
    approval_card(slack)
    # Two alerts waiting in a channel's outbox (this bot has no ALERT_CHANNEL: nobody drains it).
    store = redis.Redis.from_url(redis_server.url)
    store.zadd(outbox_key("C0ALERTS"), {"m:one": 1, "m:two": 2})
    store.sadd(OUTBOXES_KEY, "C0ALERTS")

    samples = scrape(slack.bot)
    assert value(samples, "emailbot_approvals", state="pending") == 1
    assert value(samples, "emailbot_approvals", state="executing") == 0
    assert value(samples, "emailbot_alert_queue_depth") == 2


def test_alert_posts_are_counted(
    slack: Slack, shared_simulator: SimulatorProcess, redis_server: RedisProcess
) -> None:
    bot = BotProcess(
        shared_simulator, slack.standin, redis_server.url,
        ALERT_CHANNEL="C0ALERTS", ALERT_POLL_SECONDS="1",
    )  # fmt: skip
    try:
        alerts = Slack(bot, slack.standin)
        # A first poll starts from its own time: mail scanned before it is history, not alerts.
        settle(alerts, shared_simulator, 1)
        shared_simulator.add_messages([detection(1, subject="Counted alert")])

        def posted() -> Samples | None:
            samples = scrape(bot)
            return (
                samples if value(samples, "emailbot_alert_posts_total", outcome="posted") else None
            )

        samples = alerts.wait(posted, "an alert posted", timeout=30)
        assert value(samples, "emailbot_alert_posts_total", outcome="posted") == 1
        assert value(samples, "emailbot_alert_posts_total", outcome="failed") == 0
        assert any("Counted alert" in json.dumps(m) for m in slack.standin.messages("C0ALERTS"))
        # The outbox item goes once Slack took the post (the Redis write right after it).
        alerts.wait(
            lambda: value(scrape(bot), "emailbot_alert_queue_depth") == 0, "an empty outbox"
        )
    finally:
        bot.stop()


# -- logs -------------------------------------------------------------------------------------


def test_the_request_id_follows_a_lookup_into_its_api_calls(
    slack: Slack, simulator: SimulatorProcess
) -> None:
    message_id = add(simulator, subject="Traced by id")
    start = slack.bot.log_size()
    slack.command(f"lookup {message_id}")
    slack.card()

    def done() -> list[dict[str, Any]] | None:
        lines = log_lines(slack.bot.log(since=start))
        finished = [e for e in lines if e["msg"] == "request done"]
        return lines if finished else None

    lines = slack.wait(done, "the request's last log line")
    [received] = [e for e in lines if e["msg"] == "request received"]
    request_id = received["request_id"]
    assert received["kind"] == "command" and received["mode"] == "http"
    calls = [e for e in lines if e["logger"] == "bot.cloudflare" and e.get("endpoint")]
    assert calls, "the API calls are logged"
    assert {e["request_id"] for e in calls} == {request_id}, "work after the ack keeps the id"
    assert {e["endpoint"] for e in calls} >= {"investigate/{id}"}
    assert all(e["status"] == 200 and e["attempt"] == 1 and e["ms"] >= 0 for e in calls)
    [finished] = [e for e in lines if e["msg"] == "request done"]
    assert finished["request_id"] == request_id
    assert (finished["kind"], finished["outcome"]) == ("command:lookup", "ok")
    assert message_id not in json.dumps(calls), "endpoints are templates, not ids"


def test_bot_log_lines_are_json_at_debug(slack: Slack) -> None:
    slack.command("help")
    slack.private(OPERATOR, "lookup")
    text = slack.bot.log()
    assert logcheck.bad_json_lines(text) == []
    lines = log_lines(text)
    assert {"DEBUG", "INFO"} <= {e["level"] for e in lines}, "LOG_LEVEL=DEBUG is in effect"
    assert any("request_id" in e for e in lines)
    assert all(e["ts"].endswith("+00:00") for e in lines), "ISO 8601, UTC"


def test_a_raw_eml_passes_through_the_bot_but_not_into_its_log(
    slack: Slack, simulator: SimulatorProcess
) -> None:
    eml = (
        "From: Payroll <payroll@evil.example>\r\nTo: alice@example.com\r\n"
        "Subject: Deposit\r\nMessage-ID: <canary@evil.example>\r\n\r\n"
        f"{logcheck.BODY_CANARY}\r\n"
    )
    message_id = add(simulator, subject="Deposit", _raw=eml)
    start = slack.bot.log_size()
    slack.command(f"raw {message_id}")

    def uploaded() -> dict[str, Any] | None:
        files = [
            f
            for f in slack.standin.hook("GET", "files")
            if f["filename"].endswith(".eml") and f["completed"]  # listed from step 1 on
        ]
        return files[0] if files else None

    upload = slack.wait(uploaded, "the raw EML upload")
    assert logcheck.BODY_CANARY.encode() in base64.b64decode(upload["content_base64"])
    slack.wait(lambda: "request done" in slack.bot.log(since=start), "the request's last log line")
    assert logcheck.leaks(slack.bot.log(), logcheck.BODIES) == []


def test_the_log_check_finds_planted_secrets_bodies_and_broken_lines() -> None:
    secrets = {"SLACK_SIGNING_SECRET": SIGNING_SECRET, "SLACK_BOT_TOKEN": BOT_TOKEN}
    clean = '{"ts": "t", "level": "INFO", "logger": "bot", "msg": "request done"}\nbot ready\n'
    assert logcheck.problems([("clean", clean, secrets)]) == []
    planted = (
        clean
        + json.dumps({"ts": "t", "level": "DEBUG", "logger": "x", "msg": f"auth {BOT_TOKEN}"})
        + f"\nsigning with {SIGNING_SECRET}\n"
        + f"body: {logcheck.BODY_CANARY}\n"
        + 'Content-Type: multipart/alternative; boundary="=_sim_0a1b"\n'
        + '{"level": "INFO", "msg": "no ts"}\n{not json\n'
    )
    found = logcheck.problems([("planted", planted, secrets)])
    assert sorted(found) == sorted(
        [
            "planted: holds SLACK_SIGNING_SECRET",
            "planted: holds SLACK_BOT_TOKEN",
            "planted: holds a message body",
            "planted: holds raw EML",
            'planted: not a JSON log line: {"level": "INFO", "msg": "no ts"}',
            "planted: not a JSON log line: {not json",
        ]
    )
    assert all(SIGNING_SECRET not in line and BOT_TOKEN not in line for line in found)


def test_api_endpoints_are_named_by_template() -> None:
    base = "https://api.cloudflare.com/client/v4/accounts/023e105f4ecef8ad9ca31a8372d0c353"
    es = f"{base}/email-security"
    assert endpoint_of(f"{es}/investigate?query=secret-subject&cursor=abc") == "investigate"
    assert endpoint_of(f"{es}/investigate/4Njp3P0STMz2c02Q-2024-01-05T10:00:00-1a2b3c4d/raw") == (
        "investigate/{id}/raw"
    )
    assert endpoint_of(f"{es}/investigate/release") == "investigate/release"
    assert endpoint_of(f"{es}/settings/block_senders/2403") == "settings/block_senders/{id}"
    assert endpoint_of("https://elsewhere.example/poll/77") == "other"


# -- formats and settings ---------------------------------------------------------------------


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO, logging.StreamHandler[io.StringIO]]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("tests.observability.formats")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    yield logger, stream, handler
    logger.removeHandler(handler)


def test_json_lines_carry_request_id_extras_and_exceptions(captured: Any) -> None:
    logger, stream, handler = captured
    handler.setFormatter(JsonFormatter())
    logger.info("outside")
    token = REQUEST.set(RequestRecord(id="abc123"))
    try:
        try:
            raise ValueError("boom\nsecond line")
        except ValueError:
            logger.exception("failed %s", "here", extra={"endpoint": "investigate/{id}"})
    finally:
        REQUEST.reset(token)
    outside, failed = (json.loads(line) for line in stream.getvalue().splitlines())
    assert "request_id" not in outside and outside["msg"] == "outside"
    assert failed["request_id"] == "abc123"
    assert (failed["level"], failed["logger"]) == ("ERROR", "tests.observability.formats")
    assert failed["msg"] == "failed here" and failed["endpoint"] == "investigate/{id}"
    assert "ValueError: boom" in failed["exc"]


def test_text_lines_carry_request_id_and_extras(captured: Any) -> None:
    logger, stream, handler = captured
    handler.setFormatter(TextFormatter())
    token = REQUEST.set(RequestRecord(id="abc123"))
    try:
        logger.warning("api call", extra={"status": 503})
    finally:
        REQUEST.reset(token)
    line = stream.getvalue().strip()
    assert line.endswith(
        "WARNING tests.observability.formats api call [request_id=abc123 status=503]"
    )


def test_log_settings_are_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOG_LEVEL", "chatty")
    monkeypatch.setenv("LOG_FORMAT", "xml")
    with pytest.raises(ConfigError) as error:
        load_settings()
    assert "LOG_LEVEL" in str(error.value) and "LOG_FORMAT" in str(error.value)
    monkeypatch.setenv("LOG_LEVEL", "debug")
    monkeypatch.setenv("LOG_FORMAT", "TEXT")
    settings = load_settings()
    assert (settings.log_level, settings.log_format) == ("DEBUG", "text")
    monkeypatch.delenv("LOG_LEVEL")
    monkeypatch.delenv("LOG_FORMAT")
    assert (load_settings().log_level, load_settings().log_format) == ("INFO", "json")


# -- Socket Mode ------------------------------------------------------------------------------


def test_socket_mode_serves_readyz_and_metrics_and_times_acks(
    shared_simulator: SimulatorProcess, standin: StandinProcess, redis_server: RedisProcess
) -> None:
    # The stand-in takes one Socket Mode client at a time: another test's may still be closing.
    wait_until(lambda: socket_state(standin)["connected"] == 0, 10, "no Socket Mode client")
    bot = BotProcess(shared_simulator, standin, redis_server.url, SLACK_APP_TOKEN=APP_TOKEN)
    try:
        slack = SocketSlack(bot, standin)
        slack.wait(lambda: socket_state(standin)["connected"] == 1, "the Socket Mode connection")
        before = scrape(bot)
        slack.command("help")
        after = counted(slack, before, "command:help", "ok")
        acks = "emailbot_ack_seconds_count"
        assert value(after, acks) == value(before, acks) + 1
        slack.wait(lambda: ready(bot).status_code == 200, "/readyz 200 in Socket Mode")
    finally:
        bot.stop()
