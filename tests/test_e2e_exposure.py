"""End to end: what an outside attacker tried on the running stack (issue 14), and what holds.
Connections held open idle or slow, unsigned garbage, live Slack handles in DEBUG logs, and
requests from another workspace. The bot, the Slack stand-in, the simulator and redis-server
are real processes; requests are signed as Slack signs them (or deliberately not)."""

from __future__ import annotations

import concurrent.futures
import io
import json
import logging
import socket
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.local import payloads
from bot.observability import setup_logging
from tests.kit import logcheck
from tests.kit.factories import add
from tests.kit.flows import updated_card
from tests.kit.http import LOCAL
from tests.kit.servers import RedisProcess, SimulatorProcess
from tests.kit.slack import (
    BOT_TOKEN,
    CHANNEL,
    OPERATOR,
    SIGNING_SECRET,
    BotProcess,
    Slack,
    StandinProcess,
    find_element,
    text_of,
)

UNSIGNED = "refused a request without a valid Slack signature"
OTHER_TEAM = "T0OTHER"
FOREIGN = f"refused a request from Slack workspace {OTHER_TEAM}"


def address(bot: BotProcess) -> tuple[str, int]:
    return "127.0.0.1", bot.port


def healthz(bot: BotProcess, timeout: float = 5) -> int:
    return LOCAL.get(f"http://127.0.0.1:{bot.port}/healthz", timeout=timeout).status_code


def side_effects(slack: Slack, simulator: SimulatorProcess, store: redis.Redis) -> dict[str, Any]:
    """What a request could have caused: Redis keys, API calls, Slack calls and answers."""
    return {
        "redis keys": store.keys("*"),
        "simulator calls": simulator.calls(),
        "slack calls": [c["method"] for c in slack.standin.calls() if c["method"] != "auth.test"],
        "response_url posts": slack.standin.hook("GET", "responses"),
    }


# -- 1. connections ----------------------------------------------------------------------------

IDLE, SLOWLORIS, SLOW_BODY, KEPT_ALIVE = "idle", "slowloris", "slow body", "kept alive"
PARTIAL_HEADERS = b"POST /slack/events HTTP/1.1\r\nHost: bot\r\nX-Slack-Signature: v0="
SLOW_BODY_HEAD = (
    b"POST /slack/events HTTP/1.1\r\nHost: bot\r\nContent-Type: application/json\r\n"
    b'Content-Length: 1000\r\n\r\n{"type": '
)
KEEP_ALIVE_REQUEST = b"GET /healthz HTTP/1.1\r\nHost: bot\r\nConnection: keep-alive\r\n\r\n"


def hold(where: tuple[str, int], kind: str) -> socket.socket | None:
    """One connection an attacker holds open, or None if the bot did not take it in time."""
    sock = socket.socket()
    sock.settimeout(3)
    try:
        sock.connect(where)
        if kind == SLOWLORIS:
            sock.sendall(PARTIAL_HEADERS)
        elif kind == SLOW_BODY:
            sock.sendall(SLOW_BODY_HEAD)
        elif kind == KEPT_ALIVE:
            sock.sendall(KEEP_ALIVE_REQUEST)
            assert b"200 OK" in sock.recv(4096)
    except (OSError, AssertionError):
        sock.close()
        return None
    return sock


@pytest.fixture
def limited_bot(
    shared_simulator: SimulatorProcess, standin: StandinProcess, redis_server: RedisProcess
) -> Iterator[BotProcess]:
    """A bot allowed 256 open files, as under a low `ulimit -n`; idle connections may wait a
    minute (as behind a load balancer), so that only the cap on connections can help."""
    with BotProcess(
        shared_simulator, standin, redis_server.url, open_files=256, HTTP_IDLE_TIMEOUT="60"
    ) as process:
        yield process


def test_a_flood_of_idle_and_slow_sockets_never_stops_the_bot_serving(
    limited_bot: BotProcess, standin: StandinProcess, simulator: SimulatorProcess
) -> None:
    standin.hook("POST", "reset")
    where = address(limited_bot)
    kinds = [KEPT_ALIVE] * 40 + [IDLE, SLOWLORIS, SLOW_BODY] * 110  # 370, past the 256 files
    held = [s for s in (hold(where, kind) for kind in kinds) if s is not None]
    try:
        assert len(held) > 300, "the attacker got its sockets open"
        # Every socket is still held by the attacker while Slack and the probes come in, and
        # they are answered at once, not once the (minute-long) idle timeout clears the flood.
        assert healthz(limited_bot, timeout=3) == 200
        slack = Slack(limited_bot, standin)
        assert slack.command("help").status_code == 200
        assert slack.last_ack_seconds < 3, "inside Slack's 3 s"
        slack.private(OPERATOR, "reclassify")
        assert healthz(limited_bot, timeout=3) == 200
    finally:
        for sock in held:
            sock.close()
    log = limited_bot.log()
    assert "HTTP connections at the cap of 128" in log, "half of the 256 files"
    assert "out of system resource" not in log, "the bot never ran out of files"
    assert "Too many open files" not in log
    assert "Traceback" not in log


def closed_after(sock: socket.socket, within: float, trickle: bytes = b"") -> float:
    """Seconds until the bot closes `sock`; with `trickle`, one byte of it every 0.2 s (more
    data never buys more time). Fails after `within` seconds."""
    started = time.monotonic()
    sock.settimeout(0.2)
    sent = 0
    while time.monotonic() - started < within:
        try:
            if not sock.recv(4096):
                return time.monotonic() - started
        except TimeoutError:
            pass
        except OSError:
            return time.monotonic() - started
        if trickle:
            try:
                sock.sendall(trickle[sent % len(trickle) : sent % len(trickle) + 1])
            except OSError:
                return time.monotonic() - started
            sent += 1
    raise AssertionError(f"still open after {within} s")


def test_idle_and_slow_connections_are_closed_after_their_timeouts(
    shared_simulator: SimulatorProcess, standin: StandinProcess, redis_server: RedisProcess
) -> None:
    bot = BotProcess(shared_simulator, standin, redis_server.url, HTTP_IDLE_TIMEOUT="2")
    try:
        where = address(bot)
        socks = {kind: hold(where, kind) for kind in (IDLE, SLOWLORIS, SLOW_BODY, KEPT_ALIVE)}
        assert all(socks.values())
        trickles = {SLOWLORIS: b"0123456789abcdef", SLOW_BODY: b'"x", '}
        with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
            took = dict(
                zip(
                    socks,
                    pool.map(
                        lambda kind: closed_after(socks[kind], 12, trickles.get(kind, b"")),  # type: ignore[arg-type]
                        socks,
                    ),
                    strict=True,
                )
            )
        assert took[IDLE] < 4 and took[KEPT_ALIVE] < 4, took  # HTTP_IDLE_TIMEOUT=2
        assert took[SLOWLORIS] < 4, f"headers get the idle timeout, trickle or not: {took}"
        assert took[SLOW_BODY] < 8, f"a body gets 5 s to arrive, trickle or not: {took}"
        assert healthz(bot) == 200
    finally:
        bot.stop()


# -- 2. unsigned garbage -----------------------------------------------------------------------

# What h11 lets a client send as a header value: printable ASCII, no space at either end.
SAFE_TEXT = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=60).map(str.strip)
CONTENT_TYPES = st.sampled_from(
    [None, payloads.FORM, "application/json", "multipart/form-data; boundary=zz", "text/plain",
     f"{payloads.FORM}; charset=latin-1", "application/json; charset=utf-16", "x/y", ""]
)  # fmt: skip
SHAPED = st.sampled_from(
    [b"{", b"payload={", b"payload=%7B%22type", b"payload=", b"[]", b"null", b"\xff\xfe\x00",
     b'{"type": "url_verification", "challenge": "c"}', b'{"type": "event_callback"}',
     b"command=%2Femail&text=release+x&team_id=T0LOCAL&user_id=U0OPERATOR",
     b"--zz\r\nContent-Disposition: form-data; name=payload\r\n\r\n{\r\n--zz--\r\n"]
)  # fmt: skip
BODIES = st.one_of(
    SHAPED,
    st.binary(max_size=4096),
    st.text(max_size=2048).map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.integers(0, 300 * 1024).map(lambda n: b"a" * n),  # past the 256 KB limit too
)


@st.composite
def unsigned_requests(draw: st.DrawFn) -> tuple[bytes, dict[str, str]]:
    now = int(time.time())
    headers: dict[str, str] = {}
    if (content_type := draw(CONTENT_TYPES)) is not None:
        headers["Content-Type"] = content_type
    timestamp = draw(
        st.one_of(
            st.none(), st.just(str(now)), st.just(str(now - 400)), SAFE_TEXT,
            st.integers(-(2**80), 2**80).map(str),
        )
    )  # fmt: skip
    if timestamp is not None:
        headers["X-Slack-Request-Timestamp"] = timestamp
    signature = draw(
        st.one_of(st.none(), SAFE_TEXT, st.binary(min_size=32, max_size=32).map(
            lambda b: f"v0={b.hex()}"
        ))
    )  # fmt: skip
    if signature is not None:
        headers["X-Slack-Signature"] = signature
    if draw(st.booleans()):
        headers["Content-Encoding"] = draw(st.sampled_from(["gzip", "deflate", "br", "zz"]))
    if draw(st.booleans()):
        headers["X-Slack-Retry-Num"] = draw(SAFE_TEXT)
    return draw(BODIES), headers


@pytest.fixture(scope="module")
def alone(shared_simulator: SimulatorProcess, redis_server: RedisProcess) -> Iterator[Slack]:
    """A bot with a Slack stand-in of its own: the session's bot may still be redrawing an
    earlier test's Home tabs, calls that are no side effect of the request under test."""
    with (
        StandinProcess("--bot-token", BOT_TOKEN) as standin,
        BotProcess(shared_simulator, standin, redis_server.url) as bot,
    ):
        bot.wait_ready()  # its start-up API call is no side effect either
        yield Slack(bot, standin)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(request=unsigned_requests())
def test_unsigned_garbage_is_refused_before_parsing_with_one_line_and_no_side_effect(
    alone: Slack,
    simulator: SimulatorProcess,
    redis_server: RedisProcess,
    request: tuple[bytes, dict[str, str]],
) -> None:
    slack = alone
    body, headers = request
    store = redis.Redis.from_url(redis_server.url)
    # The fixtures started every example's first one clean; an example that leaves a trace
    # fails at once, so later ones need only Redis and Slack emptied of any background noise.
    store.flushdb()
    slack.standin.hook("POST", "reset")
    start = slack.bot.log_size()
    answer = LOCAL.post(slack.bot.url, content=body, headers=headers, timeout=10)
    expected = 401 if len(body) <= 256 * 1024 else 413  # too big to be Slack's: not read
    assert answer.status_code == expected, (answer.status_code, answer.text[:200])
    logged = slack.bot.log(since=start)
    if answer.status_code == 401:
        assert logged.count(UNSIGNED) == 1, logged[-2000:]
    assert "Traceback" not in logged and '"level": "ERROR"' not in logged, logged[-3000:]
    assert side_effects(slack, simulator, store) == {
        "redis keys": [], "simulator calls": [], "slack calls": [], "response_url posts": []
    }  # fmt: skip
    assert answer.status_code != 500


SIGNED_GARBAGE = [
    ("application/json", "{"),
    ("application/json", '{"type": "event_callback", "event": '),
    (payloads.FORM, "payload={"),
    (payloads.FORM, "payload=%7B%22type%22%3A"),
    (payloads.FORM, "payload=%5B1%2C2%5D"),
    (payloads.FORM, "payload=%ff%fe"),
]


@pytest.mark.parametrize(("content_type", "body"), SIGNED_GARBAGE)
def test_a_signed_but_malformed_body_is_a_400_not_a_500(
    slack: Slack, content_type: str, body: str
) -> None:
    start = slack.bot.log_size()
    headers = payloads.signed_headers(SIGNING_SECRET, body, content_type)
    answer = slack.send(body, headers)
    assert answer.status_code in (400, 404), (answer.status_code, answer.text[:200])
    logged = slack.bot.log(since=start)
    assert "Traceback" not in logged and '"level": "ERROR"' not in logged, logged[-3000:]
    assert healthz(slack.bot) == 200


# -- 7. live handles in the logs ---------------------------------------------------------------


def test_debug_logs_hold_no_response_url_trigger_id_or_file_url(
    slack: Slack, simulator: SimulatorProcess
) -> None:
    start = slack.bot.log_size()
    message_id = add(simulator, subject="Handles")
    slack.command(f"lookup {message_id}")  # a response_url and a trigger_id in the command
    card = slack.card()
    slack.click(card, "msg_move", option="JunkEmail")  # a click: views.open with its trigger
    view = slack.view("move_modal")
    slack.submit(view, {"folder": "DeletedItems"})  # a modal
    updated_card(slack, card["ts"], "Moved to DeletedItems")
    slack.command(f"raw {message_id}")  # an upload URL, and the file's URLs in the answer
    slack.wait(
        lambda: [f for f in slack.standin.hook("GET", "files") if f["filename"].endswith(".eml")],
        "the raw EML upload",
    )
    slack.command("help")  # answered through the response_url
    slack.private(OPERATOR, "reclassify")
    slack.wait(lambda: slack.bot.log(since=start).count("request done") >= 5, "five requests done")
    logged = slack.bot.log(since=start)
    assert '"level": "DEBUG"' in logged, "LOG_LEVEL=DEBUG is in effect"
    assert logcheck.handles(logged) == []


def test_the_log_check_finds_every_kind_of_live_handle() -> None:
    planted = {
        "a response_url": "https://hooks.slack.com/commands/T0LOCAL/123/AbCdEf",
        "a trigger_id": "'trigger_id': '1717171717.4242424242.0123456789abcdef0123456789abcdef'",
        "an upload URL": "upload_url=https%3A%2F%2Ffiles.slack.com%2Fupload%2Fv1%2FCwAB",
        "a file URL": '"url_private":"https:\\/\\/files.slack.com\\/files-pri\\/T0-F1\\/x.eml"',
        "a Socket Mode ticket": "wss://wss-primary.slack.com/link/?ticket=1a2b3c4d5e6f&app_id=A",
    }
    for kind, line in planted.items():
        assert logcheck.handles(line) == [kind], line
    stand_in = "POST http://127.0.0.1:8790/response/k2Jd93kdLs0aPq and /upload/F0000042"
    assert logcheck.handles(stand_in) == ["a response_url", "an upload URL"]
    assert logcheck.handles("POST https://slack.com/api/views.open ts 1717171717.123456") == []
    found = logcheck.problems([("planted", json.dumps({"msg": planted["a trigger_id"]}), {})])
    assert "planted: holds a trigger_id" in found


# -- 10. one workspace -------------------------------------------------------------------------


def foreign_command(slack: Slack, text: str) -> str:
    handles = slack.standin.hook("POST", "response_urls", {"channel": CHANNEL, "user": OPERATOR})
    body = payloads.slash_command(
        "/email", text, OPERATOR, CHANNEL, handles["url"], handles["trigger_id"]
    )
    return body.replace("team_id=T0LOCAL", f"team_id={OTHER_TEAM}")


def foreign_click(slack: Slack, card: dict[str, Any], action_id: str) -> str:
    block, element = find_element(card, action_id)
    entry = {"type": "button", "action_id": action_id, "block_id": block["block_id"],
             "value": element.get("value"), "action_ts": f"{time.time():.6f}"}  # fmt: skip
    handles = slack.standin.hook(
        "POST", "response_urls", {"channel": CHANNEL, "user": OPERATOR, "message_ts": card["ts"]}
    )
    payload = payloads.block_actions(
        OPERATOR, [entry], handles["trigger_id"], message=card, response_url=handles["url"]
    )
    payload["team"] = {"id": OTHER_TEAM, "domain": "other"}
    payload["user"]["team_id"] = OTHER_TEAM
    return urlencode({"payload": json.dumps(payload)})


def foreign_event() -> str:
    event = payloads.app_home_opened(OPERATOR, "D0HOME")
    event["team_id"] = OTHER_TEAM
    event["authorizations"][0]["team_id"] = OTHER_TEAM
    return json.dumps(event)


def test_requests_from_another_workspace_are_refused_and_logged(
    slack: Slack, simulator: SimulatorProcess, redis_server: RedisProcess
) -> None:
    message_id = add(simulator, subject="Ours", final_disposition="BULK")
    slack.command(f"lookup {message_id}")
    card = slack.card()
    slack.standin.hook("POST", "reset")
    simulator.reset()
    store = redis.Redis.from_url(redis_server.url)
    store.flushdb()
    start = slack.bot.log_size()

    for body, content_type in [
        (foreign_command(slack, f"release {message_id}"), payloads.FORM),
        (foreign_click(slack, card, "msg_release"), payloads.FORM),
        (foreign_event(), "application/json"),
    ]:
        answer = slack.send(body, payloads.signed_headers(SIGNING_SECRET, body, content_type))
        assert answer.status_code == 200, "acknowledged, so that Slack does not retry it"
        assert answer.text == "", "and told nothing"
    slack.wait(lambda: slack.bot.log(since=start).count(FOREIGN) == 3, "three refusals logged")
    # A request of our own after them, to be sure the foreign ones had their chance.
    slack.command("help")
    slack.private(OPERATOR, "reclassify")
    effects = side_effects(slack, simulator, store)
    assert effects["simulator calls"] == [] and effects["redis keys"] == []
    assert effects["slack calls"] == [], "no modal, no Home tab, no message"
    assert [r["token"] for r in effects["response_url posts"]] == [
        r["token"] for r in effects["response_url posts"] if "reclassify" in json.dumps(r["body"])
    ], "only our own help was answered"
    assert not [m for m in slack.standin.messages() if "Release" in text_of(m)]


def test_the_workspace_is_learned_from_auth_test(slack: Slack) -> None:
    assert "serving Slack workspace T0LOCAL (from auth.test)" in slack.bot.log()


LIBRARY_LINES = {
    "slack_sdk.web.async_base_client": (
        "Sending a request - url: https://slack.com/api/views.open, body_params: %s",
        {"trigger_id": "1717171717.4242424242.0123456789abcdef0123456789abcdef"},
    ),
    "slack_sdk.socket_mode.aiohttp": (
        "Connecting to %s",
        "wss://wss-primary.slack.com/link/?ticket=1a2b3c4d-5e6f&app_id=A0LOCAL",
    ),
    "slack_bolt.AsyncApp": (
        "body: %s",
        "response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT0LOCAL%2F1%2Fz&text=help",
    ),
    "httpx": ("HTTP Request: POST %s", "https://files.slack.com/upload/v1/CwABAAAAXgo"),
    "urllib3.connectionpool": (
        "Received: %s",
        '{"ok":true,"file":{"url_private":"https:\\/\\/files.slack.com\\/files-pri\\/T0-F1\\/a"}}',
    ),
    "urllib.request": ("POST %s", "http://127.0.0.1:8790/response/k2Jd93kdLs0aPq"),
}


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_library_loggers_at_debug_are_redacted_at_the_handler(fmt: str) -> None:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    stream = io.StringIO()
    try:
        setup_logging("DEBUG", fmt, stream)
        for name, (message, arg) in LIBRARY_LINES.items():
            logger = logging.getLogger(name)
            logger.setLevel(logging.DEBUG)  # as the library itself may, whatever LOG_LEVEL says
            logger.warning(message, arg)
        try:
            raise ValueError(f"400 for url='{LIBRARY_LINES['urllib.request'][1]}'")
        except ValueError:
            logging.getLogger("aiohttp.client").exception("webhook failed")
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])
        for name in LIBRARY_LINES:
            logging.getLogger(name).setLevel(logging.NOTSET)
    written = stream.getvalue()
    assert logcheck.handles(written) == [], written
    assert "https://slack.com/api/views.open" in written, "Web API methods stay readable"
    assert "hooks.slack.com/[redacted]" in written, "hosts stay readable"
    assert "wss://wss-primary.slack.com/[redacted]" in written
    if fmt == "json":
        assert logcheck.bad_json_lines(written) == []
