"""The local console: rendering, the payloads it signs, and a round trip through a real Bolt
app served over HTTP with the Slack stand-in as its Web API."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import parse_qs

import pytest
from aiohttp import web
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from blocks.alerts import HEADLINE_BLOCK, REPORT_PREFIX
from bot.local import payloads
from bot.local.console import execute
from bot.local.console_session import Console, ConsoleError
from bot.local.render import Renderer, mrkdwn, render
from tests.kit.servers import ROOT, free_port
from tests.kit.slack import StandinProcess

SECRET = "console-test-signing-secret"
MOVE_SELECT = {
    "type": "static_select",
    "action_id": "move",
    "placeholder": {"type": "plain_text", "text": "Move"},
    "options": [
        {"text": {"type": "plain_text", "text": name}, "value": name}
        for name in ("Inbox", "JunkEmail", "DeletedItems")
    ],
}
CARD = [
    {"type": "header", "text": {"type": "plain_text", "text": "Invoice overdue"}},
    {
        "type": "section",
        "text": {"type": "mrkdwn", "text": "From &lt;billing@evil.example&gt; &amp; co <!here>"},
        "fields": [
            {"type": "mrkdwn", "text": "*Disposition*\nMALICIOUS"},
            {"type": "mrkdwn", "text": "*To*\na@example.com\nb@example.com"},
        ],
    },
    {"type": "context", "elements": [{"type": "mrkdwn", "text": "scanned 10:02"}]},
    {"type": "divider"},
    {
        "type": "actions",
        "block_id": "acts",
        "elements": [
            {
                "type": "button",
                "action_id": "release",
                "text": {"type": "plain_text", "text": "Release"},
                "value": "rq1",
            },
            MOVE_SELECT,
        ],
    },
]


def plain(text: str) -> dict[str, str]:
    return {"type": "plain_text", "text": text}


def button(action_id: str, text: str) -> dict[str, Any]:
    return {"type": "button", "action_id": action_id, "text": plain(text)}


def folder_input() -> dict[str, Any]:
    element = {**MOVE_SELECT, "action_id": "pick"}
    return {"type": "input", "block_id": "folder", "label": plain("Folder"), "element": element}


# --- render -----------------------------------------------------------------------------------


def test_render_a_card() -> None:
    text, clickables = render(CARD)
    assert text.splitlines() == [
        "== Invoice overdue ==",
        "From <billing@evil.example> & co @here",
        "Disposition: MALICIOUS",
        "To: a@example.com",
        "  b@example.com",
        "· scanned 10:02",
        "─" * 40,
        "[1] Release  [2] Move ▾ (1 Inbox, 2 JunkEmail, 3 DeletedItems)",
    ]
    release, move = clickables
    assert (release.number, release.action_id, release.block_id) == (1, "release", "acts")
    assert move.kind == "static_select" and move.choose("2")[0].value == "JunkEmail"
    assert move.choose("DeletedItems")[0].text == "DeletedItems"
    with pytest.raises(ValueError, match="no option"):
        move.choose("9")


def test_render_numbers_from_start_and_shows_accessories() -> None:
    overflow = {"type": "overflow", "action_id": "o", "options": MOVE_SELECT["options"][:2]}
    blocks = [
        {"type": "section", "text": plain("a"), "accessory": button("p", "Preview")},
        {"type": "image", "image_url": "https://x/y.png", "alt_text": "preview"},
        {"type": "actions", "elements": [overflow]},
    ]
    text, clickables = render(blocks, start=7)
    assert text.splitlines() == [
        "a",
        "[7] Preview",
        "[image: preview]",
        "[8] ⋯ (1 Inbox, 2 JunkEmail)",
    ]
    assert [c.number for c in clickables] == [7, 8]


def test_text_is_shown_not_interpreted() -> None:
    # Escaped control sequences show literally; real ones show as Slack displays them.
    assert mrkdwn("&lt;!channel&gt; vs <!channel>") == "<!channel> vs @channel"
    assert (
        mrkdwn("<https://a.example/x|click> <@U1> <#C2|ops>")
        == "click (https://a.example/x) @U1 #ops"
    )
    assert mrkdwn("&amp;lt;") == "&lt;"  # decoded exactly once
    # Terminal escapes from an email subject never reach the terminal.
    assert mrkdwn("\x1b[2Jsubject\u202e") == "\\x1b[2Jsubject\\u202e"
    text, _ = render([{"type": "header", "text": {"type": "plain_text", "text": "a &amp; b"}}])
    assert text == "== a &amp; b ==", "plain_text is not mrkdwn: a needless escape shows"


def test_modal_inputs_are_numbered_with_their_values() -> None:
    reason = {"type": "plain_text_input", "action_id": "text"}
    blocks = [
        folder_input(),
        {
            "type": "input",
            "block_id": "why",
            "optional": True,
            "label": plain("Reason"),
            "element": reason,
        },
    ]
    values = {"why": {"text": {"type": "plain_text_input", "value": "phish"}}}
    renderer = Renderer(1, values)
    renderer.blocks(blocks)
    assert renderer.lines == [
        "{1} Folder: (empty)",
        "    options: 1 Inbox, 2 JunkEmail, 3 DeletedItems",
        "{2} Reason (optional): phish",
    ]
    state = payloads.state_values(blocks, values)
    assert state["folder"]["pick"] == {"type": "static_select", "selected_option": None}
    chosen = payloads.input_state(renderer.inputs[0], "JunkEmail")
    assert chosen["selected_option"]["value"] == "JunkEmail"


# --- payloads ---------------------------------------------------------------------------------


def test_requests_are_signed_like_slack() -> None:
    body = payloads.slash_command("/email", "lookup x", "U1", "C1", "http://r", "1.2.3")
    headers = payloads.signed_headers(SECRET, body)
    assert SignatureVerifier(SECRET).is_valid_request(body, headers)
    fields = parse_qs(body)
    assert fields["command"] == ["/email"] and fields["text"] == ["lookup x"]
    assert fields["user_id"] == ["U1"] and fields["response_url"] == ["http://r"]


def test_block_actions_from_channel_and_ephemeral_messages() -> None:
    _, (release, _) = render(CARD)
    action = payloads.action(release, [])
    message = {"channel": "C1", "ts": "1.000100", "text": "t", "blocks": CARD, "ephemeral": False,
               "user": "U0BOT", "bot_id": "B0BOT", "thread_ts": None, "files": None}  # fmt: skip
    public = payloads.block_actions(
        "U1", [action], "trig", message=message, response_url="http://r"
    )
    assert public["container"] == {
        "type": "message", "message_ts": "1.000100", "channel_id": "C1", "is_ephemeral": False,
    }  # fmt: skip
    assert public["message"]["blocks"] == CARD and public["channel"]["id"] == "C1"
    assert public["actions"][0]["value"] == "rq1" and public["response_url"] == "http://r"
    private = payloads.block_actions("U1", [action], "trig", message={**message, "ephemeral": True})
    assert private["container"]["is_ephemeral"] and "message" not in private
    form = parse_qs(payloads.interaction(public))
    assert json.loads(form["payload"][0])["type"] == "block_actions"


# --- round trip -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def standin_process() -> Iterator[StandinProcess]:
    process = StandinProcess("--channel-rate", "off")
    yield process
    process.stop()


def preselected_move(trigger_id: str, channel: str) -> dict[str, Any]:
    """The move modal with a folder and a reason already chosen."""
    element = {**MOVE_SELECT, "action_id": "pick", "initial_option": MOVE_SELECT["options"][1]}
    reason = {"type": "plain_text_input", "action_id": "text", "initial_value": "seen before"}
    return {
        "type": "modal", "callback_id": "move", "private_metadata": channel,
        "title": plain("Move"), "submit": plain("Move"),
        "blocks": [
            {"type": "input", "block_id": "folder", "label": plain("Folder"), "element": element},
            {"type": "input", "block_id": "why", "label": plain("Reason"), "element": reason},
        ],
    }  # fmt: skip


async def publish_home(command: dict[str, Any], client: AsyncWebClient) -> None:
    blocks = [{"type": "section", "text": plain(f"Published for {command['user_id']}")}]
    await client.views_publish(user_id=command["user_id"], view={"type": "home", "blocks": blocks})


async def open_preselected(command: dict[str, Any], client: AsyncWebClient) -> None:
    view = preselected_move(command["trigger_id"], command["channel_id"])
    await client.views_open(trigger_id=command["trigger_id"], view=view)


async def post_alerts(command: dict[str, Any], client: AsyncWebClient) -> None:
    """What the alert poller posts: a campaign root with two follow-ups in its thread and a
    PhishGuard report; and one post that is no alert."""
    channel = command["channel_id"]
    headline = {
        "type": "context",
        "block_id": HEADLINE_BLOCK,
        "elements": [{"type": "mrkdwn", "text": "🚨 *Campaign: 3 messages* since 10:00"}],
    }
    card = {"type": "section", "text": {"type": "mrkdwn", "text": "*Overdue invoice #76171*"}}
    buttons = {"type": "actions", "elements": [button("looked", "Looked")]}
    root = await client.chat_postMessage(
        channel=channel, text="Campaign (3): Overdue invoice", blocks=[headline, card, buttons]
    )  # fmt: skip
    for n in (2, 3):
        follow_up = {"type": "section", "text": plain(f"copy {n} of the campaign")}
        await client.chat_postMessage(
            channel=channel, thread_ts=root["ts"], text="1 more", blocks=[follow_up, buttons]
        )
    report = {"type": "section", "text": {"type": "mrkdwn", "text": "🎣 *PhishGuard report*"}}
    await client.chat_postMessage(channel=channel, text=REPORT_PREFIX + "odd", blocks=[report])
    await client.chat_postMessage(channel=channel, text="just a note")


SCENES = {"publish": publish_home, "preselected": open_preselected, "alerts": post_alerts}


def bolt_app(api_url: str) -> AsyncApp:
    """A tiny bot: /email answers with a button and a modal opener; both do something."""
    client = AsyncWebClient(token="xoxb-console-test", base_url=api_url)
    app = AsyncApp(signing_secret=SECRET, client=client)

    @app.command("/email")
    async def email(
        ack: AsyncAck, respond: AsyncRespond, command: dict[str, Any], client: AsyncWebClient
    ) -> None:
        if command["text"] == "ack":
            await ack("Working on it")  # the answer is the HTTP ack body itself
            return
        if command["text"] in SCENES:
            await ack()
            await SCENES[command["text"]](command, client)
            await respond(f"({command['text']}: done)")
            return
        await ack()
        if command["text"] == "pick":
            options = [{"text": plain(n), "value": n.lower()} for n in ("Alpha", "Beta")]
            tick = {"type": "checkboxes", "action_id": "tick", "options": options}
            text = {"type": "mrkdwn", "text": "Two hits"}
            await respond(
                blocks=[
                    {"type": "section", "block_id": "hits", "text": text, "accessory": tick},
                    {"type": "actions", "elements": [button("go", "Act on ticked")]},
                ]
            )
            return
        text = {"type": "mrkdwn", "text": f"Looked up *{command['text']}* &lt;ok&gt;"}
        confirm = {
            "title": {"type": "plain_text", "text": "Release?"},
            "text": {"type": "plain_text", "text": "Deliver it to the inbox."},
            "confirm": {"type": "plain_text", "text": "Release"},
            "deny": {"type": "plain_text", "text": "Keep"},
        }
        await respond(
            blocks=[
                {"type": "section", "text": text},
                {"type": "actions", "elements": [
                    {**button("b1", "Release"), "value": "v1", "confirm": confirm},
                    button("open", "Move…"),
                ]},
            ]
        )  # fmt: skip

    @app.action("b1")
    async def clicked(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        value, user = body["actions"][0]["value"], body["user"]["id"]
        await client.chat_postMessage(
            channel=body["channel"]["id"], text=f"clicked {value} by {user}"
        )

    @app.action("looked")
    async def looked(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        message = body["message"]
        await client.chat_postMessage(
            channel=body["channel"]["id"],
            thread_ts=message.get("thread_ts") or message["ts"],
            text=f"looked at by {body['user']['id']}",
        )

    @app.action("tick")
    async def ticked(ack: AsyncAck) -> None:
        await ack()

    @app.action("go")
    async def go(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        state = body["state"]["values"]["hits"]["tick"]["selected_options"]
        ticked = ",".join(o["value"] for o in state) or "nothing"
        await client.chat_postMessage(channel=body["channel"]["id"], text=f"acting on {ticked}")

    @app.action("open")
    async def open_modal(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        view = {
            "type": "modal", "callback_id": "move", "private_metadata": body["channel"]["id"],
            "title": {"type": "plain_text", "text": "Move"},
            "submit": {"type": "plain_text", "text": "Move"},
            "blocks": [folder_input()],
        }  # fmt: skip
        await client.views_open(trigger_id=body["trigger_id"], view=view)

    @app.view("move")
    async def moved(ack: AsyncAck, view: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        folder = view["state"]["values"]["folder"]["pick"]["selected_option"]["value"]
        await client.chat_postMessage(channel=view["private_metadata"], text=f"moved to {folder}")

    @app.event("app_home_opened")
    async def home(event: dict[str, Any], client: AsyncWebClient) -> None:
        if event["user"].startswith("U0QUIET"):
            return  # a bot that draws nothing new when the tab opens
        blocks = [{"type": "section", "text": plain("Approvals waiting: 0")}]
        await client.views_publish(user_id=event["user"], view={"type": "home", "blocks": blocks})

    @app.shortcut("investigate")
    async def investigate(ack: AsyncAck, shortcut: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        await respond(text=f"investigating: {shortcut['message']['text']}")

    return app


@pytest.fixture
async def console(standin_process: StandinProcess) -> AsyncIterator[Console]:
    standin_process.hook("POST", "reset")
    port = free_port()
    runner = web.AppRunner(bolt_app(standin_process.api_url).web_app(port=port))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    bot_url = f"http://127.0.0.1:{port}/slack/events"
    try:
        async with Console(bot_url, standin_process.root, SECRET, timeout=5) as session:
            yield session
    finally:
        await runner.cleanup()


async def test_command_answer_click_and_confirm(console: Console) -> None:
    answer = await console.send_command("/email lookup abc123")
    assert "Looked up *lookup abc123* <ok>" in answer and "only visible to you" in answer
    assert "[1] Release  [2] Move…" in answer

    asked = await console.click(1)
    assert "?? Release?" in asked and "yes = Release · no = Keep" in asked
    await console.answer_confirm(yes=True)
    await console.wait_for(lambda screen: "clicked v1 by U0LOCAL" in screen)


async def test_tick_boxes_are_ticked_and_sent_as_the_messages_state(console: Console) -> None:
    answer = await console.send_command("/email pick")
    assert "[1] ☐ 1 Alpha, ☐ 2 Beta" in answer and "[2] Act on ticked" in answer
    assert "☑ 1 Alpha, ☐ 2 Beta" in await console.click(1, "1")
    assert "☑ 1 Alpha, ☑ 2 Beta" in await console.click(1, "beta")
    assert "☐ 1 Alpha, ☑ 2 Beta" in await console.click(1, "1")
    with pytest.raises(ConsoleError, match="which box"):
        await console.click(1)
    await console.click(2)
    await console.wait_for(lambda screen: "acting on beta" in screen)


async def test_modal_through_the_repl_commands(console: Console) -> None:
    await execute(console, "/email move abc123")
    await execute(console, "click 2")
    await console.wait_for(lambda screen: "modal opened: Move" in screen)
    assert "{1} Folder: (empty)" in console.screen()
    with pytest.raises(ConsoleError):
        await execute(console, "click 99")
    await execute(console, "submit")
    assert "⚠ {1} Folder is required" in console.screen()
    await execute(console, "set 1 JunkEmail")
    await execute(console, "submit")
    await console.wait_for(lambda screen: "moved to JunkEmail" in screen)
    assert "(modal closed)" in console.screen()
    assert not await execute(console, "quit")


async def test_ack_text_home_tab_and_message_shortcut(console: Console) -> None:
    answer = await console.send_command("/email ack")
    assert "Working on it" in answer and "only visible to you" in answer
    assert "Approvals waiting: 0" in await console.open_home()
    await console.say_text("have a look at abc123")
    await console.shortcut("investigate")
    await console.wait_for(lambda screen: "investigating: have a look at abc123" in screen)
    other = await console.switch(user="U0OTHER")
    assert "have a look at abc123" in other and "Working on it" not in other


def test_the_terminal_loop(standin_process: StandinProcess) -> None:
    command = [sys.executable, "-m", "bot", "console", "--standin", standin_process.root]
    command += ["--bot-url", "http://127.0.0.1:9/none", "--signing-secret", "s"]
    result = subprocess.run(
        command, input="help\nclick 5\nquit\n", capture_output=True, text=True,
        cwd=ROOT, timeout=20, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "click N [OPTION]" in result.stdout and "there is no [5] on screen" in result.stdout


async def test_a_modal_submitted_unchanged_keeps_its_preselected_values(console: Console) -> None:
    await console.send_command("/email preselected")
    await console.wait_for(lambda screen: "modal opened: Move" in screen)
    assert "{1} Folder: JunkEmail" in console.screen()
    assert "{2} Reason: seen before" in console.screen()
    await execute(console, "submit")
    await console.wait_for(lambda screen: "moved to JunkEmail" in screen)


async def test_home_shows_the_tab_the_bot_published_when_asked(console: Console) -> None:
    await console.switch(user="U0QUIET")
    await console.send_command("/email publish")
    await console.wait_for(lambda screen: "(publish: done)" in screen)
    assert "Published for U0QUIET" not in console.screen(), "the Home tab is not open"
    console.timeout = 1  # this bot draws nothing new when the tab opens
    shown = await console.open_home()
    assert "── Home tab" in shown and "Published for U0QUIET" in shown


async def test_alerts_are_announced_listed_and_opened_with_their_thread(console: Console) -> None:
    await console.send_command("/email alerts")
    await console.wait_for(lambda screen: "just a note" in screen)
    screen = console.screen()
    assert "Overdue invoice #76171" in screen, "a new alert is announced in one line"
    assert "Looked" not in screen and "copy 2" not in screen, "but not replayed in full"

    listed = await console.show_alerts()
    first, second = [line for line in listed.splitlines() if line.lstrip()[:2] in ("1)", "2)")]
    assert "PhishGuard report" in first and "no replies" in first
    assert "2 replies" in second and "Campaign: 3 messages" in second
    assert "Overdue invoice #76171" in second

    opened = await execute_and_show(console, "alert 2")
    assert "Overdue invoice #76171" in opened and "copy 2" in opened and "copy 3" in opened
    number = opened.split("] Looked")[0].rsplit("[", 1)[1]
    await execute(console, f"click {number}")
    await console.wait_for(lambda screen: "looked at by U0LOCAL" in screen)

    channel = await console.show_messages()
    assert "just a note" in channel and "Overdue invoice" not in channel
    assert "2 alerts: `alerts` lists them" in channel


async def execute_and_show(console: Console, line: str) -> str:
    mark = console.display.mark()
    await execute(console, line)
    return console.display.since(mark)


async def test_invite_brings_the_bot_into_a_channel(console: Console) -> None:
    """`/invite` (Slack's own command, which the bot's refusals ask for) adds the bot to the
    console's channel in the stand-in, which refuses its posts elsewhere as Slack does."""
    await console.switch(channel="C0ELSEWHERE")
    assert "joined #C0ELSEWHERE" in await console.send_command("/invite @Email Security")
    assert "already in #C0ELSEWHERE" in await console.send_command("/invite @Email Security")
    listed = {c["id"]: c for c in await console._hook("GET", "conversations")}
    assert listed["C0ELSEWHERE"]["bot"] and listed["C0ELSEWHERE"]["users"] == ["U0LOCAL"]
