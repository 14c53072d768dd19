"""The Slack Web API stand-in, in a child process, driven by the real client-sdk client."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.local.standin.cli import parser
from bot.local.standin.model import SlackError
from bot.local.standin.state import Config, Standin
from bot.local.standin.tiers import MethodLimiter
from tests.kit.slack import StandinProcess

BOT_TOKEN = "xoxb-server-test"
CHANNELS = tuple(f"C{i}" for i in range(6))  # the bot is a member of C0 … C5
T = TypeVar("T")


@pytest.fixture(scope="module")
def standin_process() -> Iterator[StandinProcess]:
    process = StandinProcess(
        "--bot-token", BOT_TOKEN, "--channel-rate", "1/1", "--bot-in", ",".join(CHANNELS)
    )
    yield process
    process.stop()


@pytest.fixture
def server(standin_process: StandinProcess) -> StandinProcess:
    standin_process.hook("POST", "reset")
    return standin_process


@pytest.fixture
def client(server: StandinProcess) -> AsyncWebClient:
    """The real slack-sdk client (it opens a session per call), pointed at the stand-in."""
    return AsyncWebClient(token=BOT_TOKEN, base_url=server.api_url)


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


async def test_auth_test_answers_the_bot_identity(client: AsyncWebClient) -> None:
    answer = await client.auth_test()
    assert answer["ok"] and answer["user_id"] == "U0BOT" and answer["bot_id"] == "B0BOT"
    assert answer["team_id"] and answer["url"].startswith("http://127.0.0.1:")


async def test_wrong_or_missing_token_is_refused(server: StandinProcess) -> None:
    for token, error in (("xoxb-other", "invalid_auth"), (None, "not_authed")):
        client = AsyncWebClient(token=token, base_url=server.api_url)
        with pytest.raises(SlackApiError) as raised:
            await client.chat_postMessage(channel="C1", text="hi")
        assert raised.value.response.status_code == 200
        assert raised.value.response["error"] == error
    assert await server.ahook("GET", "messages") == []
    calls = await server.ahook("GET", "calls")
    assert [c["error"] for c in calls] == ["invalid_auth", "not_authed"]
    assert all("token" not in c["args"] for c in calls)


async def test_unknown_method(client: AsyncWebClient) -> None:
    with pytest.raises(SlackApiError) as raised:
        await client.api_call("chat.teleport", json={"channel": "C1"})
    assert raised.value.response["error"] == "unknown_method"


async def test_post_update_ephemeral_delete(client: AsyncWebClient, server: StandinProcess) -> None:
    posted = await client.chat_postMessage(
        channel="C1", text="card", blocks=[section("*one*")], unfurl_links=False
    )
    ts = posted["ts"]
    assert posted["channel"] == "C1" and posted["message"]["blocks"][0]["block_id"]
    reply = await client.chat_postMessage(channel="C2", text="reply", thread_ts="1.000001")
    assert float(reply["ts"]) > float(ts)
    await client.chat_update(channel="C1", ts=ts, text="card v2")
    private = await client.chat_postEphemeral(channel="C1", user="U7", text="only you")
    with pytest.raises(SlackApiError) as raised:
        await client.chat_update(channel="C1", ts="1.000000", text="x")
    assert raised.value.response["error"] == "message_not_found"

    messages = await server.ahook("GET", "messages?channel=C1")
    assert [m["text"] for m in messages] == ["card v2", "only you"]
    card, note = messages
    assert card["edited"] and card["blocks"][0]["text"]["text"] == "*one*"  # blocks kept
    assert card["unfurl_links"] is False and not card["ephemeral"]
    assert note["ephemeral"] and note["user"] == "U7" and note["ts"] == private["message_ts"]
    other = await server.ahook("GET", "messages?channel=C2")
    assert other[0]["thread_ts"] == "1.000001"

    await client.chat_delete(channel="C1", ts=ts)
    assert [m["text"] for m in await server.ahook("GET", "messages?channel=C1")] == ["only you"]


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")
async def test_message_shapes_are_checked(client: AsyncWebClient) -> None:
    header = {"type": "header", "text": {"type": "mrkdwn", "text": "x"}}  # must be plain_text
    cases: list[tuple[dict[str, Any], str]] = [
        ({"blocks": [section(str(i)) for i in range(51)]}, "invalid_blocks"),
        ({"text": ""}, "no_text"),
        ({"blocks": [{"text": "no type"}]}, "invalid_blocks"),
        ({"blocks": '{"not": "an array"}'}, "invalid_blocks_format"),
        ({"blocks": [header]}, "invalid_blocks"),
        ({"blocks": [section("x" * 3001)]}, "invalid_blocks"),
    ]
    for index, (args, error) in enumerate(cases):
        with pytest.raises(SlackApiError) as raised:
            await client.chat_postMessage(channel=f"C{index}", **{"text": "t", **args})
        assert raised.value.response["error"] == error, args
    assert raised.value.response["errors"] == [
        "must be less than 3001 characters [json-pointer:/blocks/0/text/text]"
    ]


async def test_views_open_update_push_publish(
    client: AsyncWebClient, server: StandinProcess
) -> None:
    issued = await server.ahook("POST", "response_urls", {"channel": "C1", "user": "U7"})
    modal = {"type": "modal", "title": {"type": "plain_text", "text": "Move"}, "blocks": []}
    opened = await client.views_open(trigger_id=issued["trigger_id"], view=modal)
    view_id = opened["view"]["id"]
    assert view_id.startswith("V") and opened["view"]["title"]["text"] == "Move"
    with pytest.raises(SlackApiError) as raised:
        await client.views_open(trigger_id=issued["trigger_id"], view=modal)
    assert raised.value.response["error"] == "exchanged_trigger_id"
    updated = await client.views_update(view_id=view_id, view={**modal, "callback_id": "move"})
    assert updated["view"]["id"] == view_id and updated["view"]["callback_id"] == "move"
    with pytest.raises(SlackApiError) as raised:
        await client.views_update(view_id=view_id, hash="stale", view=modal)
    assert raised.value.response["error"] == "hash_conflict"
    again = await server.ahook("POST", "response_urls", {"channel": "C1", "user": "U7"})
    pushed = await client.views_push(trigger_id=again["trigger_id"], view=modal)
    home = {"type": "home", "blocks": [section("Approvals")]}
    published = await client.views_publish(user_id="U7", view=home)

    events = await server.ahook("GET", "views")
    assert [(e["kind"], e["id"]) for e in events] == [
        ("open", view_id),
        ("update", view_id),
        ("push", pushed["view"]["id"]),
        ("publish", published["view"]["id"]),
    ]
    assert events[0]["user"] == "U7" and events[0]["trigger_id"] == issued["trigger_id"]
    assert events[3]["view"]["blocks"][0]["text"]["text"] == "Approvals"


async def test_an_issued_trigger_expires() -> None:
    short = StandinProcess("--trigger-ttl", "0.2")
    try:
        client = AsyncWebClient(token="xoxb-any", base_url=short.api_url)
        issued = await short.ahook("POST", "response_urls", {"user": "U7"})
        modal = {"type": "modal", "title": {"type": "plain_text", "text": "Late"}, "blocks": []}
        await asyncio.sleep(0.3)  # not synchronisation: the passing time is what is tested
        with pytest.raises(SlackApiError) as raised:
            await client.views_open(trigger_id=issued["trigger_id"], view=modal)
        assert raised.value.response["error"] == "expired_trigger_id"
        assert (await client.auth_test())["ok"]  # any xoxb- token without --bot-token
    finally:
        short.stop()


async def test_files_upload_v2_end_to_end(client: AsyncWebClient, server: StandinProcess) -> None:
    root = await client.chat_postMessage(channel="C1", text="raw EML follows")
    data = bytes(range(256)) * 40 + b"\r\nSubject: hi\r\n"
    answer = await client.files_upload_v2(
        channel="C1",
        thread_ts=root["ts"],
        content=None,
        file=data,
        filename="message.eml",
        title="Raw message",
        initial_comment="here it is",
    )
    file_id = answer["file"]["id"]
    assert answer["file"]["title"] == "Raw message"

    files = await server.ahook("GET", "files")
    assert len(files) == 1 and files[0]["id"] == file_id
    assert base64.b64decode(files[0]["content_base64"]) == data
    assert files[0]["length"] == len(data) and files[0]["filename"] == "message.eml"
    assert files[0]["channel"] == "C1" and files[0]["thread_ts"] == root["ts"]
    shared = (await server.ahook("GET", "messages?channel=C1"))[-1]
    assert shared["thread_ts"] == root["ts"] and shared["text"] == "here it is"
    assert shared["files"][0]["id"] == file_id
    methods = [c["method"] for c in await server.ahook("GET", "calls")]
    assert methods[-2:] == ["files.getUploadURLExternal", "files.completeUploadExternal"]


async def test_usergroups_users_list_after_the_hook(
    client: AsyncWebClient, server: StandinProcess
) -> None:
    with pytest.raises(SlackApiError) as raised:
        await client.usergroups_users_list(usergroup="S1")
    assert raised.value.response["error"] == "no_such_subteam"
    await server.ahook("POST", "usergroups", {"S1": ["U1", "U2"]})
    assert (await client.usergroups_users_list(usergroup="S1"))["users"] == ["U1", "U2"]
    assert (await client.users_info(user="U1"))["user"]["id"] == "U1"


async def test_channel_rate_limit_is_per_channel(client: AsyncWebClient) -> None:
    await client.chat_postMessage(channel="C1", text="one")
    with pytest.raises(SlackApiError) as raised:
        await client.chat_postMessage(channel="C1", text="two")
    response = raised.value.response
    assert response.status_code == 429 and response["error"] == "ratelimited"
    assert int(response.headers["Retry-After"]) >= 1
    await client.chat_postMessage(channel="C2", text="elsewhere")


async def test_retry_handler_waits_out_the_rate_limit(
    server: StandinProcess, client: AsyncWebClient
) -> None:
    patient = AsyncWebClient(
        token=BOT_TOKEN,
        base_url=server.api_url,
        retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=2)],
    )
    await client.chat_postMessage(channel="C1", text="one")
    started = time.monotonic()
    await patient.chat_postMessage(channel="C1", text="two")
    assert time.monotonic() - started >= 0.5
    texts = [m["text"] for m in await server.ahook("GET", "messages?channel=C1")]
    assert texts == ["one", "two"]  # the refused attempt posted nothing
    statuses = [c["status"] for c in await server.ahook("GET", "calls")]
    assert statuses == [200, 429, 200]


async def test_injected_faults_fire_once(client: AsyncWebClient, server: StandinProcess) -> None:
    await server.ahook(
        "POST",
        "faults",
        {
            "fail_next": [
                {"method": "chat.update", "status": 429, "retry_after": 3, "count": 1},
                {"method": "chat.postMessage", "error": "channel_not_found", "count": 1},
            ],
            "channel_rate": None,
        },
    )
    with pytest.raises(SlackApiError) as raised:
        await client.chat_postMessage(channel="C1", text="lost")
    assert raised.value.response.status_code == 200
    assert raised.value.response["error"] == "channel_not_found"
    first = await client.chat_postMessage(channel="C1", text="kept")
    await client.chat_postMessage(channel="C1", text="no limit now")
    with pytest.raises(SlackApiError) as raised:
        await client.chat_update(channel="C1", ts=first["ts"], text="x")
    assert raised.value.response.status_code == 429
    assert raised.value.response.headers["Retry-After"] == "3"
    await client.chat_update(channel="C1", ts=first["ts"], text="updated")
    assert (await server.ahook("GET", "faults"))["fail_next"] == []


async def test_response_url_is_good_for_five_posts(server: StandinProcess) -> None:
    issued = await server.ahook("POST", "response_urls", {"channel": "C1", "user": "U7"})
    webhook = AsyncWebhookClient(issued["url"])
    statuses = [(await webhook.send(text=f"answer {i}")).status_code for i in range(6)]
    assert statuses == [200] * 5 + [404]
    last = await webhook.send(text="again")
    assert json.loads(last.body) == {"ok": False, "error": "expired_url"}
    messages = await server.ahook("GET", "messages?channel=C1")
    assert len(messages) == 5 and all(m["ephemeral"] and m["user"] == "U7" for m in messages)
    assert len(await server.ahook("GET", "responses")) == 7


async def test_response_url_replaces_and_deletes_the_original(
    client: AsyncWebClient, server: StandinProcess
) -> None:
    card = await client.chat_postMessage(channel="C1", text="card", blocks=[section("v1")])
    issued = await server.ahook(
        "POST", "response_urls", {"channel": "C1", "user": "U7", "message_ts": card["ts"]}
    )
    webhook = AsyncWebhookClient(issued["url"])
    await webhook.send(text="public", response_type="in_channel")
    await webhook.send(text="card v2", blocks=[section("v2")], replace_original=True)
    messages = await server.ahook("GET", "messages?channel=C1")
    assert [(m["text"], m["ephemeral"], m["edited"]) for m in messages] == [
        ("card v2", False, True),
        ("public", False, False),
    ]
    await webhook.send(delete_original=True)
    assert [m["text"] for m in await server.ahook("GET", "messages?channel=C1")] == ["public"]


async def test_args_merge_query_form_and_json(server: StandinProcess) -> None:
    headers = {"Authorization": f"Bearer {BOT_TOKEN}"}
    blocks = json.dumps([section("from a form")])
    async with aiohttp.ClientSession(headers=headers) as session:
        url = f"{server.api_url}chat.postMessage?channel=C5"
        async with session.post(url, data={"text": "t", "blocks": blocks}) as response:
            assert (await response.json())["ok"]
        async with session.get(f"{server.api_url}auth.test") as response:
            assert (await response.json())["ok"]
    messages = await server.ahook("GET", "messages?channel=C5")
    assert messages[0]["blocks"][0]["text"]["text"] == "from a form"


async def test_multipart_upload_and_bad_hook_input(
    client: AsyncWebClient, server: StandinProcess
) -> None:
    issued = await client.files_getUploadURLExternal(filename="a.txt", length=5)
    form = aiohttp.FormData()
    form.add_field("file", b"hello", filename="a.txt")
    async with (
        aiohttp.ClientSession() as session,
        session.post(issued["upload_url"], data=form) as response,
    ):
        assert response.status == 200
    done = await client.files_completeUploadExternal(files=[{"id": issued["file_id"]}])
    assert done["files"][0]["size"] == 5
    with pytest.raises(SlackApiError) as raised:
        await client.files_completeUploadExternal(files=[{"id": "FNOPE"}])
    assert raised.value.response["error"] == "file_not_found"
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{server.root}/__standin/faults", json={"fail_next": [{}]}) as response,
    ):
        assert response.status == 400
        assert "fail_next" in (await response.json())["error"]


# --- as strict as Slack: membership, handles, tiers, Block Kit ---------------------------------


async def refused(call: Awaitable[Any]) -> Any:
    """The answer of a call Slack refuses (SlackApiError's response)."""
    with pytest.raises(SlackApiError) as raised:
        await call
    return raised.value.response


async def test_posts_need_the_bot_in_the_conversation(
    client: AsyncWebClient, server: StandinProcess
) -> None:
    """Slack's refusals by membership, and an invitation that lifts them."""
    await server.ahook("POST", "conversations", {"channel": "C9PUBLIC", "bot": False})
    await server.ahook("POST", "conversations", {"channel": "G9SECRET", "bot": False})
    for channel, error in (
        ("C9PUBLIC", "not_in_channel"),  # a public channel: seen, but closed to the bot
        ("G9SECRET", "channel_not_found"),  # a private one it is not in: not even seen
        ("C9NOWHERE", "channel_not_found"),  # no such channel
        ("D9NOTOPEN", "channel_not_found"),  # a DM between other people
    ):
        answer = await refused(client.chat_postMessage(channel=channel, text="hi"))
        assert answer["error"] == error, channel
        answer = await refused(client.chat_postEphemeral(channel=channel, user="U7", text="hi"))
        assert answer["error"] == error, channel
    answer = await refused(
        client.files_completeUploadExternal(files=[{"id": "F1"}], channel_id="C9PUBLIC")
    )
    assert answer["error"] == "not_in_channel"

    invited = await server.ahook("POST", "invite", {"channel": "C9PUBLIC", "user": "U7"})
    event = invited["event"]["event"]
    assert invited["joined"] and invited["event"]["type"] == "event_callback"
    assert event == {**event, "type": "member_joined_channel", "user": "U0BOT"}
    assert event["channel"] == "C9PUBLIC" and event["inviter"] == "U7"
    await client.chat_postMessage(channel="C9PUBLIC", text="now I may")
    again = await server.ahook("POST", "invite", {"channel": "C9PUBLIC", "user": "U7"})
    assert not again["joined"]
    assert [m["text"] for m in await server.ahook("GET", "messages?channel=C9PUBLIC")] == [
        "now I may"
    ]
    assert await server.ahook("GET", "messages") == [
        m for m in await server.ahook("GET", "messages") if m["channel"] == "C9PUBLIC"
    ], "nothing was posted anywhere the bot is not"


async def test_the_bots_dm_opens_with_conversations_open_or_a_user_id(
    client: AsyncWebClient, server: StandinProcess
) -> None:
    answer = await refused(client.chat_postMessage(channel="D7", text="not open yet"))
    assert answer["error"] == "channel_not_found"
    opened = await client.conversations_open(users="U7")
    assert opened["channel"]["id"] == "D7"
    await client.chat_postMessage(channel="D7", text="opened")
    by_user = await client.chat_postMessage(channel="U8", text="by user id")
    assert by_user["channel"] == "D8"
    await client.chat_postEphemeral(channel="D7", user="U7", text="only you")
    answer = await refused(client.chat_postEphemeral(channel="D7", user="U9", text="x"))
    assert answer["error"] == "user_not_in_channel"


async def test_ephemeral_messages_go_only_to_people_in_the_channel(
    client: AsyncWebClient, server: StandinProcess
) -> None:
    await server.ahook("POST", "conversations", {"channel": "C9TEAM", "users": ["U7"]})
    await client.chat_postEphemeral(channel="C9TEAM", user="U7", text="yours")
    answer = await refused(client.chat_postEphemeral(channel="C9TEAM", user="U8", text="x"))
    assert answer["error"] == "user_not_in_channel"
    # Someone who acts in a channel is in it: U8 runs a command there, then can be answered.
    await server.ahook("POST", "response_urls", {"channel": "C9TEAM", "user": "U8"})
    await client.chat_postEphemeral(channel="C9TEAM", user="U8", text="now yours")
    listed = {c["id"]: c for c in await server.ahook("GET", "conversations")}
    assert listed["C9TEAM"]["users"] == ["U7", "U8"] and listed["C1"]["users"] is None
    # A channel first heard of through someone writing in it: the bot was never invited.
    await server.ahook("POST", "messages", {"channel": "C9NEW", "user": "U7", "text": "hello"})
    answer = await refused(client.chat_postMessage(channel="C9NEW", text="x"))
    assert answer["error"] == "not_in_channel"


async def test_chat_update_and_delete_never_reach_an_ephemeral_message(
    client: AsyncWebClient, server: StandinProcess
) -> None:
    private = await client.chat_postEphemeral(channel="C1", user="U7", text="only you")
    for call in (
        client.chat_update(channel="C1", ts=private["message_ts"], text="changed"),
        client.chat_delete(channel="C1", ts=private["message_ts"]),
    ):
        assert (await refused(call))["error"] == "message_not_found"
    [kept] = await server.ahook("GET", "messages?channel=C1")
    assert kept["text"] == "only you" and not kept["edited"]
    # Once the bot is out of a channel, its old posts there are out of its reach too.
    card = await client.chat_postMessage(channel="C2", text="card")
    await server.ahook("POST", "conversations", {"channel": "C2", "bot": False})
    answer = await refused(client.chat_update(channel="C2", ts=card["ts"], text="x"))
    assert answer["error"] == "not_in_channel"


async def test_made_up_or_reused_trigger_ids_are_refused(
    client: AsyncWebClient, server: StandinProcess
) -> None:
    modal = {"type": "modal", "title": {"type": "plain_text", "text": "T"}, "blocks": []}
    for made_up in ("1717171717.4242424242.0123456789abcdef", "t", ""):
        answer = await refused(client.views_open(trigger_id=made_up, view=modal))
        assert answer["error"] == "invalid_trigger_id", made_up
    issued = await server.ahook("POST", "response_urls", {"channel": "C1", "user": "U7"})
    await client.views_open(trigger_id=issued["trigger_id"], view=modal)
    answer = await refused(client.views_push(trigger_id=issued["trigger_id"], view=modal))
    assert answer["error"] == "exchanged_trigger_id"


async def test_a_made_up_response_url_is_refused(server: StandinProcess) -> None:
    issued = await server.ahook("POST", "response_urls", {"channel": "C1", "user": "U7"})
    forged = issued["url"].rsplit("/", 1)[0] + "/not-issued-here"
    answer = await AsyncWebhookClient(forged).send(text="hello")
    assert answer.status_code == 404 and json.loads(answer.body)["error"] == "no_service"
    assert await server.ahook("GET", "messages?channel=C1") == []


def test_a_response_url_lasts_thirty_minutes() -> None:
    """In-process, on a clock the test moves: 5 uses within 30 minutes, then expired_url."""
    now = [1000.0]
    standin = Standin(Config(), clock=lambda: now[0])
    url = standin.issue("C1", "U7", None)
    assert standin.response_url(url.token) is url
    now[0] += 30 * 60 + 1
    with pytest.raises(SlackError) as raised:
        standin.response_url(url.token)
    assert (raised.value.error, raised.value.status) == ("expired_url", 404)


async def test_methods_are_limited_by_their_tier(
    client: AsyncWebClient, server: StandinProcess
) -> None:
    """usergroups.users.list is Tier 2: 20 calls a minute, then 429 with the wait."""
    await server.ahook("POST", "usergroups", {"S1": ["U1"]})
    for _ in range(20):
        await client.usergroups_users_list(usergroup="S1")
    answer = await refused(client.usergroups_users_list(usergroup="S1"))
    assert answer.status_code == 429 and answer["error"] == "ratelimited"
    assert 1 <= int(answer.headers["Retry-After"]) <= 60
    await client.users_info(user="U1")  # each method has its own window
    limits = (await server.ahook("GET", "faults"))["method_rates"]
    assert limits["usergroups.users.list"] == "20/60" and limits["views.publish"] == "100/60"


async def test_a_test_shortens_a_tier_and_the_retry_handler_waits_it_out(
    server: StandinProcess,
) -> None:
    await server.ahook("POST", "faults", {"method_rates": {"views.publish": "2/1"}})
    home = {"type": "home", "blocks": [section("Approvals")]}
    patient = AsyncWebClient(
        token=BOT_TOKEN,
        base_url=server.api_url,
        retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=2)],
    )
    for user in ("U1", "U2", "U3"):
        await patient.views_publish(user_id=user, view=home)
    calls = [c for c in await server.ahook("GET", "calls") if c["method"] == "views.publish"]
    assert [c["status"] for c in calls] == [200, 200, 429, 200]
    await server.ahook("POST", "reset")
    assert (await server.ahook("GET", "faults"))["method_rates"]["views.publish"] == "100/60"


def test_a_tier_window_slides() -> None:
    now = [0.0]
    limiter = MethodLimiter({"chat.update": (2, 60.0)}, clock=lambda: now[0])
    limiter.check("chat.update")
    now[0] = 30.0
    limiter.check("chat.update")
    with pytest.raises(SlackError) as raised:
        limiter.check("chat.update")
    assert raised.value.status == 429 and raised.value.headers == {"Retry-After": "30"}
    now[0] = 60.0
    limiter.check("chat.update")  # the first call left the window
    limiter.check("auth.test")  # not limited here: not in this limiter's table


def test_the_cli_sets_membership_and_method_rates() -> None:
    args = parser().parse_args(
        ["--bot-in", "C1, C2", "--method-rate", "chat.update=3/1", "--method-rate", "auth.test=off"]
    )
    assert args.bot_in == ("C1", "C2") and args.rate_tiers
    config = Config(bot_in=args.bot_in, method_rates=tuple(args.method_rate))
    assert config.method_limits()["chat.update"] == (3, 1.0)
    assert config.method_limits()["auth.test"] is None
    assert config.method_limits()["views.open"] == (100, 60.0)
    assert Config(rate_tiers=False).method_limits() == {}
    assert parser().parse_args([]).bot_in == ("C0LOCAL",)
    with pytest.raises(SystemExit):
        parser().parse_args(["--method-rate", "chat.update"])


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")
async def test_every_block_kit_limit_the_renderers_touch(client: AsyncWebClient) -> None:
    option = {"text": {"type": "plain_text", "text": "One"}, "value": "one"}
    mrkdwn_option = {"text": {"type": "mrkdwn", "text": "*One*"}, "value": "one"}
    other = {"text": {"type": "plain_text", "text": "Other"}, "value": "other"}

    def accessory(element: dict[str, Any]) -> list[dict[str, Any]]:
        return [{**section("x"), "accessory": {"action_id": "a", **element}}]

    def plain(text: str) -> dict[str, str]:
        return {"type": "plain_text", "text": text}

    group = {"label": plain("L" * 76), "options": [option]}
    confirm = {"title": plain("t"), "text": plain("t"), "confirm": plain("y"), "deny": plain("n")}
    button = {"type": "button", "text": plain("b"), "confirm": {**confirm, "style": "red"}}
    reason = {"type": "plain_text_input", "action_id": "r", "max_length": 3001}
    cases: list[tuple[list[dict[str, Any]], str]] = [
        (accessory({"type": "overflow", "options": [option]}), "/blocks/0/accessory/options"),
        (accessory({"type": "static_select", "options": [mrkdwn_option]}), "/text/type"),
        (
            accessory({"type": "static_select", "options": [option], "initial_option": other}),
            "/blocks/0/accessory/initial_option",
        ),
        (
            accessory({"type": "static_select", "option_groups": [group]}),
            "/option_groups/0/label/text",
        ),
        (accessory(button), "/blocks/0/accessory/confirm/style"),
        (
            [{"type": "input", "label": plain("Why"), "element": reason}],
            "/blocks/0/element/max_length",
        ),
    ]
    for blocks, pointer in cases:
        answer = await refused(client.chat_postMessage(channel="C1", text="t", blocks=blocks))
        assert answer["error"] == "invalid_blocks", blocks
        assert any(pointer in e for e in answer["errors"]), answer["errors"]
    radio = {"type": "radio_buttons", "options": [mrkdwn_option], "initial_option": mrkdwn_option}
    await client.chat_postMessage(channel="C1", text="t", blocks=accessory(radio))

    long = [section("x" * 2500) for _ in range(5)]  # 12,500 characters of block text
    answer = await refused(client.chat_postMessage(channel="C2", text="t", blocks=long))
    assert answer["error"] == "msg_blocks_too_long"
    await client.chat_postMessage(channel="C2", text="t", blocks=long[:4])
    too_many = {"type": "home", "blocks": [section(str(i)) for i in range(101)]}
    answer = await refused(client.views_publish(user_id="U7", view=too_many))
    assert answer["error"] == "invalid_arguments"
    assert "no more than 100 items allowed [json-pointer:/view/blocks]" in answer["errors"]
    posted = await client.chat_postMessage(channel="C3", text="y" * 40_001)
    assert len(posted["message"]["text"]) == 40_000  # Slack cuts it (warning message_truncated)


async def test_membership_hooks_refuse_bad_input(server: StandinProcess) -> None:
    async with aiohttp.ClientSession() as session:
        for name, body in (
            ("conversations", {"channel": "C1", "kind": "forum"}),
            ("conversations", {"channel": "C1", "users": "U1"}),
            ("conversations", {"bot": True}),
            ("invite", {"user": "U1"}),
            ("faults", {"method_rates": "views.publish=1/1"}),
        ):
            async with session.post(f"{server.root}/__standin/{name}", json=body) as response:
                assert response.status == 400, (name, body)


# --- Socket Mode ------------------------------------------------------------------------------

APP_TOKEN = "xapp-1-A0LOCAL-1-test"


async def until(probe: Callable[[], Awaitable[T | None]], what: str) -> T:
    """Poll `probe` (async) until it returns something truthy; at most 5 seconds."""
    try:
        async with asyncio.timeout(5):
            while not (value := await probe()):
                await asyncio.sleep(0.02)
            return value
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


class SocketApp:
    """slack-sdk's aiohttp SocketModeClient, acking every request as a Bolt app would."""

    def __init__(self, server: StandinProcess, answer: dict[str, Any] | None = None) -> None:
        self.server = server
        self.answer = answer
        self.messages: list[dict[str, Any]] = []  # everything received, hello included
        self.requests: asyncio.Queue[SocketModeRequest] = asyncio.Queue()
        self.client = SocketModeClient(
            app_token=APP_TOKEN, web_client=AsyncWebClient(base_url=server.api_url)
        )
        self.client.message_listeners.append(self._message)
        self.client.socket_mode_request_listeners.append(self._request)

    async def _message(self, client: Any, message: dict[str, Any], raw: str | None) -> None:
        self.messages.append(message)

    async def _request(self, client: Any, request: SocketModeRequest) -> None:
        await client.send_socket_mode_response(
            SocketModeResponse(envelope_id=request.envelope_id, payload=self.answer)
        )
        await self.requests.put(request)

    async def next_request(self) -> SocketModeRequest:
        return await asyncio.wait_for(self.requests.get(), timeout=5)

    async def connected(self, count: int = 1) -> dict[str, Any]:
        async def probe() -> dict[str, Any] | None:
            state = await self.server.ahook("GET", "socket")
            return state if state["connected"] == count else None

        return await until(probe, f"{count} Socket Mode connection(s)")

    async def acked(self, envelope_id: str) -> dict[str, Any]:
        async def probe() -> dict[str, Any] | None:
            acks = (await self.server.ahook("GET", "socket"))["acks"]
            return next((a for a in acks if a["envelope_id"] == envelope_id), None)

        return await until(probe, f"the ack of {envelope_id}")


def slash_payload(text: str, channel: str = "C1", user: str = "U7") -> dict[str, Any]:
    return {
        "command": "/email", "text": text, "channel_id": channel, "user_id": user,
        "team_id": "T0LOCAL", "response_url": "http://127.0.0.1:1/none", "trigger_id": "1.2.x",
    }  # fmt: skip


async def test_socket_mode_client_connects_receives_and_acks(server: StandinProcess) -> None:
    app = SocketApp(server, answer={"text": "pong"})
    try:
        await app.client.connect()
        state = await app.connected()
        assert state["connections"][0]["closed_at"] is None
        assert app.messages and app.messages[0]["type"] == "hello"
        assert app.messages[0]["num_connections"] == 1

        pushed = await server.ahook(
            "POST", "socket", {"type": "slash_commands", "payload": slash_payload("ping")}
        )
        request = await app.next_request()
        assert request.envelope_id == pushed["envelope_id"]
        assert request.type == "slash_commands" and request.accepts_response_payload
        assert request.payload["text"] == "ping" and request.payload["user_id"] == "U7"

        ack = await app.acked(pushed["envelope_id"])
        assert ack["payload"] == {"text": "pong"} and ack["known"]
        assert 0 <= ack["seconds"] < 3 and ack["connection"] == pushed["connection"]
        state = await server.ahook("GET", "socket")
        assert [e["acked"] for e in state["envelopes"]] == [True]
        assert state["connections"][0]["envelopes"] == 1
        # A slash command's ack payload shows up as Slack shows an HTTP ack body.
        shown = await server.ahook("GET", "messages?channel=C1")
        assert [(m["text"], m["ephemeral"], m["user"], m["source"]) for m in shown] == [
            ("pong", True, "U7", "ack")
        ]

        event = {"type": "event_callback", "event": {"type": "app_home_opened", "user": "U7"}}
        pushed = await server.ahook("POST", "socket", {"type": "events_api", "payload": event})
        request = await app.next_request()
        assert request.type == "events_api" and not request.accepts_response_payload
        assert request.retry_attempt == 0 and request.retry_reason == ""
        await app.acked(pushed["envelope_id"])

        calls = await server.ahook("GET", "calls")
        assert [(c["method"], c["ok"]) for c in calls] == [("apps.connections.open", True)]
        assert calls[0]["args"] == {}  # the app token is never kept
    finally:
        await app.client.close()
    await app.connected(0)


async def test_socket_mode_needs_an_app_level_token_and_a_client(server: StandinProcess) -> None:
    web = AsyncWebClient(base_url=server.api_url)
    for token, error in (
        (BOT_TOKEN, "not_allowed_token_type"),
        ("xoxp-a-user-token", "invalid_auth"),
        ("", "not_authed"),
    ):
        with pytest.raises(SlackApiError) as raised:
            await web.apps_connections_open(app_token=token)
        assert raised.value.response.status_code == 200
        assert raised.value.response["error"] == error
    with pytest.raises(SlackApiError) as raised:
        await AsyncWebClient(token=APP_TOKEN, base_url=server.api_url).auth_test()
    assert raised.value.response["error"] == "not_allowed_token_type"

    push = {"type": "slash_commands", "payload": slash_payload("nobody")}
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{server.root}/__standin/socket", json=push) as response:
            assert response.status == 409
            assert (await response.json())["error"] == "no_connection"
        bad = {"type": "block_actions", "payload": {}}
        async with session.post(f"{server.root}/__standin/socket", json=bad) as response:
            assert response.status == 400
        url = (await web.apps_connections_open(app_token=APP_TOKEN))["url"]
        assert url.startswith(f"ws://127.0.0.1:{server.port}/link/?ticket=")
        async with session.ws_connect(url) as ws:
            assert (await ws.receive_json(timeout=5))["type"] == "hello"
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(url)  # a ticket opens one connection only
        assert refused.value.status == 401


async def test_disconnect_makes_the_client_reconnect(server: StandinProcess) -> None:
    app = SocketApp(server)
    try:
        await app.client.connect()
        await app.connected()
        told = await server.ahook("POST", "socket/disconnect", {"reason": "refresh_requested"})
        assert len(told["connections"]) == 1

        async def replaced() -> dict[str, Any] | None:
            state = await server.ahook("GET", "socket")
            closed = [c for c in state["connections"] if c["closed_at"]]
            return state if state["connected"] == 1 and closed else None

        state = await until(replaced, "the client to replace its connection")
        fresh = next(c["id"] for c in state["connections"] if c["closed_at"] is None)
        pushed = await server.ahook(
            "POST", "socket", {"type": "slash_commands", "payload": slash_payload("again")}
        )
        assert pushed["connection"] == fresh
        assert (await app.next_request()).payload["text"] == "again"
        ack = await app.acked(pushed["envelope_id"])
        assert "payload" not in ack  # an empty ack is just the envelope id
        calls = await server.ahook("GET", "calls")
        assert [c["method"] for c in calls] == ["apps.connections.open"] * 2
    finally:
        await app.client.close()
