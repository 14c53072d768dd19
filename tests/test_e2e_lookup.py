"""End to end: /email commands over real HTTP (bot, Slack stand-in, simulator, Redis)."""

from __future__ import annotations

import base64
from typing import Any

from tests.kit.factories import add
from tests.kit.servers import SimulatorProcess
from tests.kit.slack import OPERATOR, STRANGER, VIEWER, Slack, has_action, text_of

PNG = b"\x89PNG\r\n\x1a\n"


def test_lookup_posts_a_full_card(slack: Slack, simulator: SimulatorProcess) -> None:
    message_id = add(simulator, subject="Unpaid invoice 4411", final_disposition="MALICIOUS")
    assert slack.command(f"lookup {message_id}").status_code == 200
    card = slack.card()
    text = text_of(card)
    assert "Unpaid invoice 4411" in text and "MALICIOUS" in text
    assert "vendor[.]example" in text, "addresses are defanged"
    for action in (
        "msg_preview",
        "msg_raw",
        "msg_trace",
        "msg_release",
        "msg_move",
        "msg_reclassify",
        "msg_block",
    ):
        assert has_action(card, action), action
    assert card["unfurl_links"] is False and card["unfurl_media"] is False


def test_release_button_only_when_quarantined(slack: Slack, simulator: SimulatorProcess) -> None:
    message_id = add(simulator, subject="Delivered already", is_quarantined=False)
    slack.command(f"lookup {message_id}")
    card = slack.card()
    assert not has_action(card, "msg_release")
    assert has_action(card, "msg_move")


def test_lookup_by_bare_postfix_id(slack: Slack, simulator: SimulatorProcess) -> None:
    add(simulator, postfix_id="Solo12345abcd", subject="Only one recipient")
    slack.command("lookup Solo12345abcd")
    assert "Only one recipient" in text_of(slack.card())


def test_shared_postfix_id_offers_a_chooser(slack: Slack, simulator: SimulatorProcess) -> None:
    for recipient in ("alice@example.com", "bob@example.com"):
        add(simulator, postfix_id="Shared9876xyz", to=[recipient], subject="Shared message")
    slack.command("lookup Shared9876xyz")
    chooser = slack.private(OPERATOR, "Shared9876xyz")
    assert has_action(chooser, "msg_open")
    slack.click(chooser, "msg_open")
    assert "Shared message" in text_of(slack.card())


def test_unknown_and_malformed_ids_answer_privately(slack: Slack) -> None:
    slack.command("lookup Nope0000000000-2026-01-01T00:00:00-00000000")
    slack.private(OPERATOR, "Not found")
    slack.command("lookup <!channel>")
    notice = slack.private(OPERATOR, "is not a message id")
    assert "Usage: `/email lookup <id>`" in text_of(notice) or "lookup &lt;id&gt;" in text_of(
        notice
    )
    assert "<!channel>" not in text_of(notice)


def test_bad_input_gets_usage(slack: Slack) -> None:
    slack.command("frobnicate now")
    slack.private(OPERATOR, "is not a command")
    ids = " ".join(f"abcdef{i:06d}" for i in range(101))
    slack.command(f"release {ids}")
    slack.private(OPERATOR, "too many ids")
    slack.command("help")
    help_text = text_of(slack.private(OPERATOR, "reclassify"))
    for verb in ("lookup", "search", "preview", "raw", "trace", "release", "move", "block"):
        assert verb in help_text


def test_search_pages_with_more(slack: Slack, simulator: SimulatorProcess) -> None:
    for i in range(13):
        add(
            simulator,
            postfix_id=f"Page{i:04d}abcdefg",
            subject=f"Payroll change {i}",
            final_disposition="BULK",
        )
    slack.command('search subject:"Payroll change" disposition:bulk')
    first = slack.private(OPERATOR, "Payroll change")
    assert has_action(first, "search_more")
    hits_first = text_of(first).count("Payroll change")
    slack.click(first, "search_more")

    def second_page() -> dict[str, Any] | None:
        pages = [
            m for m in slack.standin.messages() if m["ephemeral"] and "Payroll change" in text_of(m)
        ]
        return pages[1] if len(pages) > 1 else None

    second = slack.wait(second_page, "the second page of results")
    assert not has_action(second, "search_more")
    assert hits_first + text_of(second).count("Payroll change") >= 13


def test_preview_raw_and_trace_commands_reply_in_the_card_thread(
    slack: Slack, simulator: SimulatorProcess
) -> None:
    message_id = add(simulator, subject="Look at me", final_disposition="MALICIOUS")
    slack.command(f"preview {message_id}")
    card = slack.card()

    def upload(name_end: str) -> dict[str, Any] | None:
        files = [
            f
            for f in slack.standin.hook("GET", "files")
            if f["filename"].endswith(name_end) and f["completed"]  # listed from step 1 on
        ]
        return files[0] if files else None

    png = slack.wait(lambda: upload(".png"), "the preview upload")
    assert base64.b64decode(png["content_base64"]).startswith(PNG)
    assert png["thread_ts"] == card["ts"]
    slack.command(f"raw {message_id}")
    eml = slack.wait(lambda: upload(".eml"), "the raw upload")
    assert b"Subject: Look at me" in base64.b64decode(eml["content_base64"])
    assert not any(
        "Subject: Look at me" in (m.get("text") or "") for m in slack.standin.messages()
    ), "never inline"
    slack.command(f"trace {message_id}")

    def trace_reply() -> dict[str, Any] | None:
        replies = [
            m
            for m in slack.standin.messages()
            if m.get("thread_ts") and "Trace" in (m.get("text") or "")
        ]
        return replies[0] if replies else None

    assert slack.wait(trace_reply, "the trace reply")["blocks"]


def test_viewer_may_look_up_but_not_preview(slack: Slack, simulator: SimulatorProcess) -> None:
    message_id = add(simulator)
    slack.command(f"lookup {message_id}", user=VIEWER)
    slack.card()
    slack.command(f"preview {message_id}", user=VIEWER)
    refusal = text_of(slack.private(VIEWER, "operator role"))
    assert "BOT_OPERATORS" in refusal and f"<@{OPERATOR}>" in refusal
    slack.command(f"lookup {message_id}", user=STRANGER)
    slack.private(STRANGER, "viewer role")


def test_audit_of_an_untouched_message_is_empty(slack: Slack, simulator: SimulatorProcess) -> None:
    message_id = add(simulator)
    slack.command(f"audit {message_id}")
    slack.private(OPERATOR, "No audit entries")
