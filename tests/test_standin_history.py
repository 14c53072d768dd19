"""The Slack stand-in's message metadata, conversations.history / conversations.replies and the
hook that holds an answer back (bot/local/standin/history.py, holds.py), driven by the real
slack-sdk client; and the alert sender finding its own posts there by their metadata."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.services.alerts.models import Campaign
from bot.slack.alerts import ChannelPacer, SlackAlertSender
from tests.kit.factories import MID, make_message
from tests.kit.slack import StandinProcess

BOT_TOKEN = "xoxb-history-test"
ALERT = {"event_type": "email_security_alert", "event_payload": {"alert_id": "root:m:1"}}


@pytest.fixture(scope="module")
def standin_process() -> Iterator[StandinProcess]:
    process = StandinProcess(
        "--bot-token", BOT_TOKEN, "--channel-rate", "off", "--bot-in", "C1,C2,C9"
    )
    yield process
    process.stop()


@pytest.fixture
def server(standin_process: StandinProcess) -> StandinProcess:
    standin_process.hook("POST", "reset")
    return standin_process


@pytest.fixture
def client(server: StandinProcess) -> AsyncWebClient:
    return AsyncWebClient(token=BOT_TOKEN, base_url=server.api_url)


async def test_a_post_carries_its_metadata(client: AsyncWebClient, server: StandinProcess) -> None:
    posted = await client.chat_postMessage(channel="C1", text="alert", metadata=ALERT)
    assert posted["message"]["metadata"] == ALERT
    [kept] = await server.ahook("GET", "messages?channel=C1")
    assert kept["metadata"] == ALERT
    form = await client.api_call(  # a form post sends it as JSON text
        "chat.postMessage",
        data={"channel": "C1", "text": "x", "metadata": '{"event_type": "t", "event_payload": {}}'},
    )
    assert form["message"]["metadata"] == {"event_type": "t", "event_payload": {}}
    dotted = {"event_type": "slack.post-prompt", "event_payload": {"a": 1}}
    dropped = await client.chat_postMessage(channel="C1", text="x", metadata=dotted)
    assert "metadata" not in dropped["message"], "Slack drops an event type it does not take"
    for bad, error in (
        ("{not json", "invalid_metadata_format"),
        ('["a list"]', "invalid_metadata_format"),
        ('{"event_type": "t"}', "invalid_metadata_schema"),
        ('{"event_type": "", "event_payload": {}}', "invalid_metadata_schema"),
        ('{"event_type": "t", "event_payload": "text"}', "invalid_metadata_schema"),
    ):
        with pytest.raises(SlackApiError) as raised:
            await client.api_call(
                "chat.postMessage", data={"channel": "C1", "text": "x", "metadata": bad}
            )
        assert raised.value.response["error"] == error, bad


async def test_history_is_newest_first_paged_and_shows_metadata_only_when_asked(
    client: AsyncWebClient,
) -> None:
    first = await client.chat_postMessage(channel="C1", text="one", metadata=ALERT)
    thread = await client.chat_postMessage(channel="C1", text="reply", thread_ts=first["ts"])
    await client.chat_postEphemeral(channel="C1", user="U7", text="only you")
    await client.chat_postMessage(channel="C2", text="elsewhere")
    later = [(await client.chat_postMessage(channel="C1", text=f"m{n}"))["ts"] for n in range(3)]

    plain = await client.conversations_history(channel="C1")
    assert [m["text"] for m in plain["messages"]] == ["m2", "m1", "m0", "one"]
    assert all("metadata" not in m for m in plain["messages"])
    assert plain["has_more"] is False and plain["response_metadata"]["next_cursor"] == ""
    assert thread["ts"] not in [m["ts"] for m in plain["messages"]], "replies are not history"

    full = await client.conversations_history(channel="C1", include_all_metadata=True)
    assert full["messages"][-1]["metadata"] == ALERT

    page = await client.conversations_history(channel="C1", limit=2)
    assert [m["text"] for m in page["messages"]] == ["m2", "m1"] and page["has_more"]
    rest = await client.conversations_history(
        channel="C1", limit=2, cursor=page["response_metadata"]["next_cursor"]
    )
    assert [m["text"] for m in rest["messages"]] == ["m0", "one"] and not rest["has_more"]

    since = await client.conversations_history(channel="C1", oldest=later[0])
    assert [m["text"] for m in since["messages"]] == ["m2", "m1"], "oldest is exclusive"
    both = await client.conversations_history(
        channel="C1", oldest=later[0], latest=later[2], inclusive=True
    )
    assert [m["text"] for m in both["messages"]] == ["m2", "m1", "m0"]


async def test_replies_list_the_parent_then_its_replies(client: AsyncWebClient) -> None:
    root = await client.chat_postMessage(channel="C1", text="root")
    tagged = {"event_type": "email_security_alert", "event_payload": {"alert_id": "thread:m:2"}}
    for n in range(3):
        await client.chat_postMessage(
            channel="C1", text=f"r{n}", thread_ts=root["ts"], metadata=tagged
        )
    answer = await client.conversations_replies(
        channel="C1", ts=root["ts"], include_all_metadata=True
    )
    assert [m["text"] for m in answer["messages"]] == ["root", "r0", "r1", "r2"]
    assert answer["messages"][1]["metadata"] == tagged
    with pytest.raises(SlackApiError) as raised:
        await client.conversations_replies(channel="C1", ts="1.000001")
    assert raised.value.response["error"] == "thread_not_found"


async def test_a_channel_the_bot_is_not_in_answers_not_in_channel(
    client: AsyncWebClient, server: StandinProcess
) -> None:
    await client.chat_postMessage(channel="C9", text="before leaving")
    await server.ahook("POST", "conversations", {"channel": "C9", "bot": False})
    for call in (
        client.conversations_history(channel="C9"),
        client.conversations_replies(channel="C9", ts="1.0"),
    ):
        with pytest.raises(SlackApiError) as raised:
            await call
        assert raised.value.response["error"] == "not_in_channel"
    await server.ahook("POST", "invite", {"channel": "C9", "user": "U1"})
    assert len((await client.conversations_history(channel="C9"))["messages"]) == 1


async def test_a_held_answer_comes_after_the_post_is_in_the_channel(
    client: AsyncWebClient, server: StandinProcess
) -> None:
    await server.ahook("POST", "hold", {"method": "chat.postMessage"})
    posting = asyncio.create_task(client.chat_postMessage(channel="C1", text="held"))

    async def held() -> None:
        while not (await server.ahook("GET", "hold"))["held"]:
            await asyncio.sleep(0.01)

    await asyncio.wait_for(held(), 5)
    assert not posting.done()
    assert [m["text"] for m in await server.ahook("GET", "messages?channel=C1")] == ["held"]
    await server.ahook("POST", "hold/release")
    answer = await asyncio.wait_for(posting, 5)
    assert answer["ok"] and (await server.ahook("GET", "hold")) == {"pending": {}, "held": []}
    await client.chat_postMessage(channel="C1", text="not held")  # one call only was held


async def test_the_alert_sender_finds_its_own_posts_by_their_alert_id(
    server: StandinProcess,
) -> None:
    """bot.slack.alerts against the stand-in: a root found in the channel's history, a thread
    post among the root's replies, nothing for an id never posted, and nothing (the post is
    made again) where the channel cannot be read."""
    sender = SlackAlertSender(
        AsyncWebClient(token=BOT_TOKEN, base_url=server.api_url), ChannelPacer(0)
    )
    first, second = make_message(id=f"{MID}1"), make_message(id=f"{MID}2")
    since = datetime.now(UTC)
    campaign = Campaign(
        key="c1", channel="C1", sender=None, subject=None, first_seen=since, last_seen=since
    )
    root_ts = await sender.post_root(campaign, first, "root:m:1")
    for n in range(3):  # other posts after it: it is found further down
        await sender.post_root(campaign, make_message(id=f"{MID}x{n}"), f"root:m:x{n}")
    threaded = campaign.model_copy(update={"root_ts": root_ts, "count": 2})
    await sender.post_in_thread(threaded, [second], "thread:m:2")
    assert await sender.find_posted("C1", "root:m:1", None, since, [first.id]) == root_ts
    found = await sender.find_posted("C1", "thread:m:2", root_ts, since, [second.id])
    [reply] = [m for m in await server.ahook("GET", "messages?channel=C1") if m["thread_ts"]]
    assert found == reply["ts"]
    assert await sender.find_posted("C1", "root:m:never", None, since, []) is None
    assert await sender.find_posted("C1", "thread:m:3", "1.000001", since, []) is None
    await server.ahook("POST", "conversations", {"channel": "C1", "bot": False})
    assert await sender.find_posted("C1", "root:m:1", None, since, []) is None


async def test_a_hold_containing_a_text_holds_only_the_call_that_has_it(
    client: AsyncWebClient, server: StandinProcess
) -> None:
    await server.ahook("POST", "hold", {"method": "chat.postMessage", "containing": "finished."})
    await client.chat_postMessage(channel="C1", text="running now")  # not held
    posting = asyncio.create_task(client.chat_postMessage(channel="C1", text="finished."))

    async def held() -> None:
        while not (await server.ahook("GET", "hold"))["held"]:
            await asyncio.sleep(0.01)

    await asyncio.wait_for(held(), 5)
    assert not posting.done()
    await server.ahook("POST", "hold/release")
    assert (await asyncio.wait_for(posting, 5))["ok"]
