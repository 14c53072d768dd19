"""The console's screens, drawn from the bot's real renderers: every one fits an 80-column
terminal however long the subjects and addresses are, and modals show what is preselected."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from blocks import (
    ModalContext,
    block_modal,
    chooser,
    help_blocks,
    message_card,
    move_modal,
    reclassify_modal,
    release_modal,
    search_results,
)
from blocks.alerts import campaign_root, report_card, thread_cards
from blocks.approvals import ListPage, approval_card, approvals_list, bulk_modal, reject_modal
from blocks.home import home_view
from bot.cloudflare.models import PhishGuardReport
from bot.local import payloads
from bot.local.columns import SCREEN_COLUMNS, columns, fit
from bot.local.console import HELP
from bot.local.console_screen import Screen
from bot.local.render import render
from bot.services.alerts.models import Campaign
from bot.services.approvals import ApprovalRequest, digest
from bot.services.outcomes import BlockChoice, BlockPreview
from tests.kit.factories import ACTION_LOG, make_detections, make_message
from tests.kit.store import TEST_KEY

NOW = datetime(2026, 11, 21, tzinfo=UTC)
# No spaces to break at: the console must cut them itself.
LONG_ADDRESS = "accounts." + "receivable" * 9 + "@billing-" + "invoices" * 8 + ".example"
LONG_SUBJECT = "Final notice: invoice " + "INV-2026-000123-" * 12 + " is overdue, pay now " * 6
LONG_LINK = "https://" + "login-" * 20 + ".example/" + "session" * 30


def plain(text: str) -> dict[str, str]:
    return {"type": "plain_text", "text": text}


def hostile_message(**changes: Any) -> Any:
    recipients = [f"{name}.{LONG_ADDRESS}" for name in ("noah", "ana", "li", "sven", "maya")]
    fields: dict[str, Any] = {
        "subject": LONG_SUBJECT, "from": LONG_ADDRESS, "from_name": "Accounts " * 20,
        "envelope_from": LONG_ADDRESS, "to": recipients, "to_name": ["Person " * 10] * 5,
        "detection_reasons": [f"Link reputation: {LONG_LINK} is a known phishing host"] * 3,
    }  # fmt: skip
    fields.update(changes)
    return make_message(**fields)


def request(reason: str = "checked with the recipient " * 20) -> ApprovalRequest:
    ids = [hostile_message().id, "id0002-2026-01-01T00:00:00-0000abce"]
    return ApprovalRequest(
        id="req00001", action="release", params={}, ids=ids,
        digest=digest(TEST_KEY, "release", {}, ids), requester="U0LOCAL", reason=reason,
        rule="it releases 1 MALICIOUS message (BOT_GUARDED_DISPOSITIONS)", summary=[],
        created_at=NOW, expires_at=NOW + timedelta(hours=1), required=1,
    )  # fmt: skip


def hook(blocks: list[Block], *, thread_ts: str | None = None, **changes: Any) -> dict[str, Any]:
    """A stand-in message (hook shape) holding `blocks`."""
    message = {
        "channel": "C0LOCAL", "ts": "1796556558.858495", "thread_ts": thread_ts,
        "text": "fallback", "blocks": [b.to_dict() for b in blocks], "attachments": None,
        "user": "U0BOT", "bot_id": "B0BOT", "files": None, "ephemeral": False, "version": 1,
    }  # fmt: skip
    message.update(changes)
    return message


def messages() -> Iterator[tuple[str, dict[str, Any]]]:
    m = hostile_message()
    detections = make_detections(
        links=[{"href": LONG_LINK, "text": LONG_SUBJECT}] * 3,
        attachments=[{"size": 24_576, "filename": LONG_SUBJECT, "content_type": "text/html"}],
    )
    yield "full card", hook(message_card(m, detections, ACTION_LOG, outcomes=[LONG_SUBJECT]))
    campaign = Campaign(
        key="k", channel="C0LOCAL", sender=LONG_ADDRESS, subject=LONG_SUBJECT, count=12,
        recipients=[f"{n}.{LONG_ADDRESS}" for n in range(12)], first_seen=NOW, last_seen=NOW,
    )  # fmt: skip
    yield "alert root", hook(campaign_root(campaign, m))
    in_thread = hook(thread_cards([m, m]), thread_ts="1796556557.748201", ephemeral=True)
    yield "alert thread post", in_thread
    report = PhishGuardReport.model_validate(
        {"id": 1, "title": LONG_SUBJECT, "content": LONG_SUBJECT * 3, "disposition": "MALICIOUS",
         "priority": "high", "created_at": NOW.isoformat(),
         "fields": {"to": [LONG_ADDRESS] * 3, "from": LONG_ADDRESS, "postfix_id": "a" * 40}}
    )  # fmt: skip
    yield "phishguard report", hook(report_card(report))
    results = search_results([m] * 10, description=LONG_SUBJECT, more_key="k", bulk_key="b")
    yield "search results", hook(results, ephemeral=True, user="U0LOCAL")
    yield "chooser", hook(chooser([m, m], "U1eHfGhAzC1iyg7I"), ephemeral=True, user="U0LOCAL")
    card = approval_card(request(), approvers="<@U0APPROVER> or any approver in BOT_APPROVERS")
    yield "approval card", hook(card)
    listed = approvals_list([request()] * 3, ListPage("command", "waiting"))
    yield "approvals list", hook(listed, ephemeral=True, user="U0LOCAL")
    yield "help", hook(help_blocks("/email"), ephemeral=True, user="U0LOCAL")


def views() -> Iterator[tuple[str, View]]:
    m = hostile_message()
    ctx = ModalContext(message_id=m.id, channel_id="C0LOCAL", message_ts="1.2")
    yield "release modal", release_modal(ctx, [m], "it releases 1 MALICIOUS message " * 5)
    yield "move modal", move_modal(ctx, m, "JunkEmail")
    yield "reclassify modal", reclassify_modal(ctx, m, "SPAM")
    choices = [
        BlockChoice("EMAIL", LONG_ADDRESS, 12, False, None),
        BlockChoice("DOMAIN", LONG_ADDRESS.partition("@")[2], 1000, True, LONG_SUBJECT),
    ]
    preview = BlockPreview(choices, header_from=LONG_ADDRESS)
    yield "block modal", block_modal(ctx, LONG_ADDRESS, preview)
    yield "reject modal", reject_modal(ModalContext(request_id="req00001"))
    bulk = ModalContext(search_key="s", action="move")
    yield "bulk modal", bulk_modal(bulk, description=LONG_SUBJECT)
    home = home_view(
        roles=["operator", "approver"], waiting=[request()] * 3, mine=[request()] * 2,
        recent=[request()] * 5, command="/email",
    )  # fmt: skip
    yield "home", home


def too_wide(text: str) -> list[str]:
    return [line for line in text.splitlines() if columns(line) > SCREEN_COLUMNS]


@pytest.mark.parametrize(("name", "message"), [pytest.param(*m, id=m[0]) for m in messages()])
def test_every_message_fits_80_columns(name: str, message: dict[str, Any]) -> None:
    screen = Screen()
    screen.message(message, "U0LOCAL", updated=True)
    assert too_wide(screen.text()) == [], name
    if name in ("full card", "alert root", "search results", "approval card"):
        assert "[1]" in screen.text(), "its buttons are still there, numbered"


@pytest.mark.parametrize(("name", "view"), [pytest.param(*v, id=v[0]) for v in views()])
def test_every_view_fits_80_columns(name: str, view: View) -> None:
    screen = Screen()
    screen.view({**view.to_dict(), "id": "V1"}, "modal opened", {})
    assert too_wide(screen.text()) == [], name


def test_help_and_confirmations_fit_80_columns() -> None:
    screen = Screen()
    screen.say(HELP)
    screen.say(f"?? Release this message?\n   “{LONG_SUBJECT}” will be delivered.")
    assert too_wide(screen.text()) == []
    assert "quit" in screen.text()


def test_fit_wraps_words_and_cuts_what_has_no_space() -> None:
    assert fit("short line") == ["short line"]
    wrapped = fit("  • " + "word " * 30)
    assert all(columns(line) <= SCREEN_COLUMNS for line in wrapped)
    assert wrapped[1].startswith("    word"), "a continuation hangs under its first line"
    cut = fit("  " + "x" * 200)
    assert "".join(line.strip() for line in cut) == "x" * 200
    assert columns("🔴 MALICIOUS") == 12, "an emoji takes two columns"
    assert fit("[1] Release  [2] Move") == ["[1] Release  [2] Move"], "spacing kept"


def preselected_modal() -> dict[str, Any]:
    def option(text: str) -> dict[str, Any]:
        return {"text": {"type": "plain_text", "text": text}, "value": text.lower()}

    def block(block_id: str, element: dict[str, Any]) -> dict[str, Any]:
        label = {"type": "plain_text", "text": block_id.title()}
        return {"type": "input", "block_id": block_id, "label": label, "element": element}

    folders = [option(f) for f in ("Inbox", "Junk", "Deleted")]
    return {
        "id": "V1", "type": "modal", "title": {"type": "plain_text", "text": "Preselected"},
        "blocks": [
            block("folder", {"type": "static_select", "action_id": "a", "options": folders,
                             "initial_option": folders[1]}),
            block("kind", {"type": "radio_buttons", "action_id": "a", "options": folders,
                           "initial_option": folders[2]}),
            block("flags", {"type": "checkboxes", "action_id": "a", "options": folders,
                            "initial_options": folders[:2]}),
            block("reason", {"type": "plain_text_input", "action_id": "a",
                             "initial_value": "seen before"}),
            block("where", {"type": "conversations_select", "action_id": "a",
                            "initial_conversation": "C0ALERTS"}),
            block("who", {"type": "users_select", "action_id": "a", "initial_user": "U0ANA"}),
            block("day", {"type": "datepicker", "action_id": "a", "initial_date": "2026-11-21"}),
            block("team", {"type": "multi_users_select", "action_id": "a",
                           "initial_users": ["U0ANA", "U0LI"]}),
        ],
    }  # fmt: skip


def test_modals_show_preselected_values_and_submit_them_unchanged() -> None:
    view = preselected_modal()
    screen = Screen()
    screen.view(view, "modal opened", {})
    lines = screen.text().splitlines()
    for shown in (
        "{1} Folder: Junk", "{2} Kind: Deleted", "{3} Flags: Inbox, Junk",
        "{4} Reason: seen before", "{5} Where: C0ALERTS", "{6} Who: U0ANA", "{7} Day: 2026-11-21",
        "{8} Team: U0ANA, U0LI",
    ):  # fmt: skip
        assert "  " + shown in lines, (shown, lines)
    state = payloads.view_with_state(view, {})["state"]["values"]
    assert state["folder"]["a"]["selected_option"]["value"] == "junk"
    assert state["kind"]["a"]["selected_option"]["value"] == "deleted"
    assert [o["value"] for o in state["flags"]["a"]["selected_options"]] == ["inbox", "junk"]
    assert state["reason"]["a"]["value"] == "seen before"
    assert state["where"]["a"]["selected_conversation"] == "C0ALERTS"
    assert state["team"]["a"]["selected_users"] == ["U0ANA", "U0LI"]


def test_a_menu_on_a_message_shows_its_preselected_option() -> None:
    folders = preselected_modal()["blocks"][0]["element"]
    text, _ = render([{"type": "actions", "elements": [{**folders, "placeholder": plain("Move")}]}])
    assert text == "[1] Move ▾ = Junk (1 Inbox, 2 Junk, 3 Deleted)"


def test_the_real_modals_show_their_preselected_choice() -> None:
    m = make_message()
    ctx = ModalContext(message_id=m.id)
    screen = Screen()
    screen.view({**reclassify_modal(ctx, m, "SPAM").to_dict(), "id": "V1"}, "modal opened", {})
    screen.view({**block_modal(ctx, m.sender or "").to_dict(), "id": "V2"}, "modal opened", {})
    text = screen.text()
    assert "{1} Disposition: SPAM" in text
    assert "{1} What to block: This address" in text
