"""Block Kit renderers: structure (ids, buttons, confirms, outcomes, paging, modals), and no
Block Kit limit broken for normal data or for the most hostile data hypothesis can build; plus
`problems()` catching each violation it claims to catch."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from datetime import UTC
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    HeaderBlock,
    SectionBlock,
)
from slack_sdk.models.views import View

from blocks import (
    ModalContext,
    block_modal,
    chooser,
    fallback_text,
    help_blocks,
    message_card,
    move_modal,
    notice,
    problems,
    reclassify_modal,
    release_modal,
    search_results,
    text_size,
    trace_blocks,
    view_problems,
)
from blocks.alerts import DigestPage, digest_card, digest_list
from blocks.ids import ActionId, CallbackId, InputId, card_of
from blocks.search import CHOOSER_SHOWN, SEARCH_PAGE, matched, shareable_card
from bot.cloudflare.models import (
    DESTINATIONS,
    RECLASSIFY_DISPOSITIONS,
    ActionEntry,
    Detections,
    MessageDetails,
    Trace,
)
from bot.services.alerts.models import Digest, DigestEntry, DigestListing
from tests.kit.factories import ACTION_LOG, HOSTILE, MID, SENT, make_detections, make_message


def make_trace(inbound: Sequence[str] = ("connect from mail.evil.example",), **kw: Any) -> Trace:
    lines = [
        {"lineno": n, "message": text, "logged_at": "2026-11-21T05:17:01Z"}
        for n, text in enumerate(inbound, 1)
    ]
    return Trace.model_validate(
        {
            "inbound": {"lines": lines, "pending": kw.get("pending", False)},
            "outbound": {"lines": [], "pending": False},
        }
    )


# --- helpers ---------------------------------------------------------------------------------


def dicts(blocks: Sequence[Block]) -> list[dict[str, Any]]:
    return [b.to_dict() for b in blocks]


def walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk(item)


def texts(blocks: Sequence[Block] | dict[str, Any]) -> list[str]:
    root = blocks if isinstance(blocks, dict) else dicts(blocks)
    return [n["text"] for n in walk(root) if n.get("type") in ("plain_text", "mrkdwn")]


def all_text(blocks: Sequence[Block]) -> str:
    return "\n".join(texts(blocks))


def elements(blocks: Sequence[Block]) -> list[dict[str, Any]]:
    return [n for n in walk(dicts(blocks)) if "action_id" in n]


def by_action(blocks: Sequence[Block], action_id: str) -> list[dict[str, Any]]:
    return [e for e in elements(blocks) if e["action_id"] == action_id]


def assert_clean(
    blocks: Sequence[Block], *, surface: str = "message", text: str | None = None
) -> None:
    assert problems(blocks, surface=surface, text=text) == []  # type: ignore[arg-type]


def assert_no_injection(blocks: Sequence[Block], trusted: Sequence[str] = ()) -> None:
    """No text object holds a raw `<`/`>` (mention, link), a bare `&`, or a live scheme outside
    a code span (a literal: shown as it is, never linked); every code span is closed."""
    for text in texts(blocks):
        if text in trusted:
            continue
        assert "<" not in text and ">" not in text, text[:200]
        assert "&" not in re.sub(r"&(?:amp|lt|gt);", "", text), text[:200]
        assert text.count("`") % 2 == 0, f"a code span left open: {text[:200]}"
        outside = re.sub(r"`[^`]*`", "", text).lower()
        assert "https://" not in outside and "http://" not in outside, text[:200]


# --- the card --------------------------------------------------------------------------------


def test_card_shows_the_verdict_and_evidence() -> None:
    blocks = message_card(make_message(), make_detections(), ACTION_LOG)
    assert isinstance(blocks[0], HeaderBlock)
    assert blocks[0].to_dict()["text"]["text"] == "Overdue invoice #76171"
    text = all_text(blocks)
    for expected in (
        "Voicemail &lt;voicemail@pbx-notify[.]test&gt;",
        "Noah Fischer `noah.fischer@eu.example.com`",  # the tenant's mailbox, as it is
        "2026-11-21 05:16:11 UTC",
        "2026-11-21 05:17:05 UTC",
        "🔴 MALICIOUS",
        "🔒 Quarantined",
        "SPF softfail · DKIM none · DMARC reject",  # detections win over message.validation
        "Credential harvesting link: pbx-notify[.]test imitates",  # one notation: `[.]`
        "BrandImpersonation",
        "hxxps://login[.]microsoftonline[.]com → hxxps://login[.]pbx-notify[.]test/",
        "`invoice.pdf.exe` (application/x-dos, 24.0 KB)",
        "MOVE completed → JunkEmail 2026-11-21 06:00:00 UTC by `analyst@example.com`",
        f"Investigate id `{MID}`",
        "Postfix id `U1eHfGhAzC1iyg7I`",
        "Message-ID `&lt;022e6a14d373.68020@pbx-notify.test&gt;`",
    ):
        assert expected in text
    assert_clean(blocks, text=fallback_text(make_message()))


def test_card_falls_back_to_the_message_validation_and_operations() -> None:
    message = make_message(post_delivery_operations=["MOVE", "RELEASE"])
    text = all_text(message_card(message, None, []))
    assert "SPF pass · DKIM fail · DMARC error" in text
    assert "MOVE, RELEASE" in text
    assert "Links" not in text  # no detections, no evidence sections


@pytest.mark.parametrize(
    ("disposition", "cue"),
    [
        ("MALICIOUS", "🔴"),
        ("MALICIOUS-BEC", "🔴"),
        ("SUSPICIOUS", "🟠"),
        ("SPOOF", "🟠"),
        ("SPAM", "🟡"),
        ("BULK", "🟡"),
        ("NONE", "🟢"),
        ("UNKNOWN", "⚪"),
    ],
)
def test_disposition_cue(disposition: str, cue: str) -> None:
    text = all_text(message_card(make_message(final_disposition=disposition), None, []))
    assert f"{cue} {disposition}" in text


def test_buttons_carry_the_investigate_id() -> None:
    blocks = message_card(make_message(), make_detections(), [])
    buttons = [e for e in elements(blocks) if e["type"] == "button"]
    assert {b["action_id"] for b in buttons} == {
        ActionId.PREVIEW,
        ActionId.RAW,
        ActionId.TRACE,
        ActionId.RELEASE,
        ActionId.BLOCK,
        ActionId.ALLOW,
        ActionId.FALSE_POSITIVE,
    }
    assert all(b["value"] == MID for b in buttons)


def test_false_positive_only_when_not_clean_already() -> None:
    assert by_action(message_card(make_message(), None, []), ActionId.FALSE_POSITIVE)
    clean = make_message(final_disposition="NONE")
    assert not by_action(message_card(clean, None, []), ActionId.FALSE_POSITIVE)


def test_release_only_when_quarantined() -> None:
    assert by_action(message_card(make_message(), None, []), ActionId.RELEASE)
    delivered = make_message(is_quarantined=False, delivery_status=["delivered"])
    blocks = message_card(delivered, None, [])
    assert not by_action(blocks, ActionId.RELEASE)
    assert "Not quarantined (delivered)" in all_text(blocks)


@pytest.mark.parametrize("action_id", [ActionId.RELEASE, ActionId.BLOCK])
def test_destructive_buttons_confirm(action_id: str) -> None:
    (button,) = by_action(message_card(make_message(), None, []), action_id)
    assert button["style"] == "danger"
    assert button["confirm"]["style"] == "danger"
    assert button["confirm"]["title"]["text"].endswith("?")


def test_release_confirm_names_the_subject_safely() -> None:
    message = make_message(subject="<!channel> https://evil.example")
    (button,) = by_action(message_card(message, None, []), ActionId.RELEASE)
    assert "&lt;!channel&gt; hxxps://evil[.]example" in button["confirm"]["text"]["text"]


def test_menus_offer_folders_and_dispositions() -> None:
    blocks = message_card(make_message(), None, [])
    (move,) = by_action(blocks, ActionId.MOVE)
    (reclassify,) = by_action(blocks, ActionId.RECLASSIFY)
    assert move["type"] == reclassify["type"] == "static_select"
    assert move["placeholder"]["text"] == "Move…"
    assert [o["value"] for o in move["options"]] == list(DESTINATIONS)
    assert [o["value"] for o in reclassify["options"]] == list(RECLASSIFY_DISPOSITIONS)


def test_no_block_button_without_a_sender() -> None:
    message = make_message(**{"from": None, "envelope_from": None})
    assert not by_action(message_card(message, None, []), ActionId.BLOCK)


def test_no_actions_for_a_malformed_id() -> None:
    blocks = message_card(make_message(id="x" * 3000), None, [])
    assert not elements(blocks)
    assert "malformed id" in all_text(blocks)
    assert_clean(blocks)


def test_outcomes_follow_the_actions_with_indexed_block_ids() -> None:
    outcomes = ["Released by <@U123ABC> at 10:00 UTC", "Moved to JunkEmail by <@U456DEF>"]
    blocks = message_card(make_message(), None, [], outcomes=outcomes)
    tail = blocks[-2:]
    mid = make_message().id
    assert [b.block_id for b in tail] == [f"outcome-0|{mid}", f"outcome-1|{mid}"]
    assert [card_of(b.block_id) for b in blocks] == [mid] * len(blocks), "every block names it"
    assert all(isinstance(b, ContextBlock) for b in tail)
    assert texts(tail) == outcomes  # trusted: mentions kept, nothing escaped
    assert isinstance(blocks[-3], ActionsBlock)


def test_many_outcomes_keep_the_newest_within_limits() -> None:
    outcomes = [f"Outcome {i} by <@U123ABC> " + "x" * 600 for i in range(200)]
    blocks = message_card(make_message(), make_detections(), ACTION_LOG, outcomes=outcomes)
    assert len(blocks) <= 50
    assert blocks[-1].block_id == f"outcome-199|{make_message().id}"
    assert any((b.block_id or "").startswith("card-hidden|") for b in blocks)
    assert all(len(t) <= 500 for t in texts([b for b in blocks if isinstance(b, ContextBlock)]))
    assert_clean(blocks)


def test_text_size_of_models_counts_what_serialising_would() -> None:
    """`text_size` walks model objects without serialising them; it must count exactly the
    texts of the JSON Slack receives, menus and confirm dialogs included."""
    cards = [
        message_card(make_message(subject=" ".join(HOSTILE)), make_detections(), ACTION_LOG),
        message_card(make_message(), None, [], outcomes=["Released by <@U1> 😀"], compact=True),
        search_results(hits(30), description="from:x", more_key="k", bulk_key="b"),
        help_blocks("/email"),
    ]
    for blocks in cards:
        serialised = [b.to_dict() for b in blocks]
        expected = sum(len(t.encode("utf-16-le", "surrogatepass")) // 2 for t in texts(blocks))
        assert text_size(blocks) == text_size(serialised) == expected > 0


def test_compact_card_is_short_and_has_the_same_actions() -> None:
    reasons = [f"reason {i}" for i in range(7)]
    message = make_message(detection_reasons=reasons)
    full = message_card(message, make_detections(), ACTION_LOG)
    compact = message_card(message, make_detections(), ACTION_LOG, compact=True)
    assert len(compact) < len(full)
    assert not any(isinstance(b, HeaderBlock) for b in compact)
    text = all_text(compact)
    assert "reason 2" in text and "reason 3" not in text and "…and 4 more" in text
    assert "*Overdue invoice #76171*" in text
    assert {e["action_id"] for e in elements(compact)} == {e["action_id"] for e in elements(full)}
    assert_clean(compact)


def test_hostile_card_is_escaped_and_defanged() -> None:
    evil = "<!channel> <https://evil.example|Click> &amp; \u202e\u200b"
    message = make_message(
        subject=evil,
        from_name=evil,
        detection_reasons=[evil],
        to=[evil],
        **{"from": "a@" + evil},
    )
    detections = make_detections(
        links=[{"href": "https://evil.example/" + evil, "text": evil}],
        attachments=[{"size": -1, "filename": evil, "content_type": evil}],
    )
    outcomes = ["Released by <@U123ABC>"]
    blocks = message_card(message, detections, [], outcomes=outcomes)
    assert_no_injection(blocks, trusted=outcomes)
    assert "[bidi]" in all_text(blocks)
    assert "&amp;amp;" in all_text(blocks)  # the sender's literal `&amp;`, escaped once
    assert "&amp;amp;amp;" not in all_text(blocks)
    assert_clean(blocks, text=fallback_text(message))


def test_long_lists_are_capped() -> None:
    detections = make_detections(
        links=[{"href": f"https://h{i}.example/"} for i in range(200)],
        attachments=[{"size": i, "filename": f"f{i}.zip"} for i in range(200)],
    )
    message = make_message(detection_reasons=[f"r{i}" for i in range(200)], subject="s" * 5000)
    blocks = message_card(message, detections, [])
    text = all_text(blocks)
    assert text.count("…and 190 more") == 3
    assert len(blocks[0].to_dict()["text"]["text"]) <= 150
    assert_clean(blocks)


def test_fallback_text() -> None:
    text = fallback_text(make_message())
    assert text == "🔴 MALICIOUS: Overdue invoice #76171 from voicemail@pbx-notify[.]test"
    long = fallback_text(make_message(subject="<!here>" * 1000))
    assert len(long) <= 300 and "<" not in long


# --- search and chooser ----------------------------------------------------------------------


def hits(n: int) -> list[MessageDetails]:
    return [
        make_message(id=f"Abcd{i}-2026-11-21T05:17:05-0000000{i % 10}", subject=f"s{i}")
        for i in range(n)
    ]


def test_search_results_list_hits_with_open_buttons() -> None:
    messages = hits(3)
    blocks = search_results(messages, description='from:"a" <!here>', more_key=None)
    assert '*3 messages match* from:"a" &lt;!here&gt;' in all_text(blocks)
    assert "showing" not in all_text(blocks), "one page says its count alone"
    opens = by_action(blocks, ActionId.HIT_OPEN)
    assert [o["value"] for o in opens] == [m.id for m in messages]
    assert not by_action(blocks, ActionId.OPEN), "a hit opens privately, not as a chooser entry"
    assert all(f"`{m.id}`" in all_text(blocks) for m in messages), "each hit's id, to copy"
    assert not by_action(blocks, ActionId.SEARCH_MORE)
    assert_clean(blocks)


def test_more_button_only_with_a_key() -> None:
    blocks = search_results(hits(10), description="x", more_key="search:abc", shown_before=10)
    (more,) = by_action(blocks, ActionId.SEARCH_MORE)
    assert more["value"] == "search:abc"
    assert "*More than 20 messages match* x · showing 11-20" in all_text(blocks)
    assert_clean(blocks)


def test_the_count_is_exact_only_on_the_last_page() -> None:
    """The API gives no total (`total_count` is always 0): "more than N" while it has pages."""
    last = search_results(hits(3), description="x", more_key=None, shown_before=10)
    assert "*13 messages match* x · showing 11-13" in all_text(last)
    one = search_results(hits(1), description="x", more_key=None)
    assert "*1 message matches* x" in all_text(one)
    unsaved = search_results(hits(10), description="x", more_key=None, has_more=True)
    assert "*More than 10 messages match* x · showing 1-10" in all_text(unsaved)
    assert matched(1_200, more=False) == "1,200 messages match"


def test_each_hit_has_a_tick_box_and_the_page_acts_on_the_ticked() -> None:
    messages = hits(10)
    blocks = search_results(messages, description="x", more_key="k", bulk_key="b")
    data = dicts(blocks)
    ticks = [b for b in data if (b.get("accessory") or {}).get("action_id") == ActionId.HIT_PICK]
    assert [b["accessory"]["options"][0]["value"] for b in ticks] == [m.id for m in messages]
    assert all(b["accessory"]["type"] == "checkboxes" for b in ticks)
    assert all(len(b["accessory"]["options"]) <= 10 for b in ticks), "Block Kit: 10 options"
    assert all(m.id in b["text"]["text"] for m, b in zip(messages, ticks, strict=True)), (
        "the tick box sits beside the hit it ticks"
    )
    ids = [b["block_id"] for b in data if "block_id" in b]
    assert len(ids) == len(set(ids)), "Slack sends the state by block id: unique on a page"
    (release,) = by_action(blocks, ActionId.RELEASE_SELECTED)
    assert release["confirm"]["confirm"]["text"] == "Release", "a destructive button confirms"
    assert by_action(blocks, ActionId.MOVE_SELECTED)
    assert by_action(blocks, ActionId.RELEASE_ALL) and by_action(blocks, ActionId.MOVE_ALL)
    assert len(blocks) <= 50
    assert_clean(blocks)


def test_a_hit_that_cannot_be_acted_on_has_no_tick_box() -> None:
    odd = make_message(id="bad id <!here>")
    long = make_message(id="A" * 151)
    blocks = search_results([odd, long], description="x", more_key=None)
    assert not by_action(blocks, ActionId.HIT_PICK)
    assert not by_action(blocks, ActionId.RELEASE_SELECTED), "nothing could be ticked"
    assert len(by_action(blocks, ActionId.HIT_OPEN)) == 1, "a long id can still be opened"
    assert_clean(blocks)


def test_search_page_is_capped() -> None:
    blocks = search_results(hits(40), description="x", more_key=None)
    assert len(by_action(blocks, ActionId.HIT_OPEN)) == SEARCH_PAGE
    assert len(by_action(blocks, ActionId.HIT_PICK)) == SEARCH_PAGE
    assert "*40 messages match* x · showing 1-10" in all_text(blocks)
    assert "30 more not shown" in all_text(blocks)
    assert_clean(blocks)


def test_a_hit_opens_as_a_private_card_with_share_in_channel() -> None:
    message = make_message()
    blocks = shareable_card(message, make_detections(), ACTION_LOG)
    (share,) = by_action(blocks, ActionId.SHARE)
    assert share["value"] == message.id
    assert "Only you can see this card" in all_text(blocks)
    assert by_action(blocks, ActionId.TRACE), "the card's own buttons are there"
    assert card_of(dicts(blocks)[-1]["block_id"]) == message.id
    assert_clean(blocks, text=fallback_text(message))
    worst = worst_message()
    assert_clean(shareable_card(worst, worst_detections(), worst_log()), text=fallback_text(worst))


def test_empty_search_says_so_with_a_hint() -> None:
    blocks = search_results([], description="subject:nothing", more_key=None)
    assert "No messages match subject:nothing" in all_text(blocks)
    assert "since:" in all_text(blocks)
    assert_clean(blocks)


def test_chooser_offers_each_recipient() -> None:
    matches = [
        make_message(id=f"Abcd-2026-11-21T05:17:05-0000000{i}", to=[f"user{i}@example.com"])
        for i in range(3)
    ]
    blocks = chooser(matches, "Abcd")
    text = all_text(blocks)
    assert "*3 messages share postfix id* `Abcd` (one per recipient): pick one" in text
    assert all(f"`user{i}@example.com`" in text for i in range(3))
    assert [o["value"] for o in by_action(blocks, ActionId.OPEN)] == [m.id for m in matches]
    assert_clean(blocks)


def test_chooser_is_capped() -> None:
    blocks = chooser(hits(40), "Abcd")
    assert len(by_action(blocks, ActionId.OPEN)) == CHOOSER_SHOWN
    assert_clean(blocks)


# --- trace, help, notice ---------------------------------------------------------------------


def test_trace_lines_are_preformatted_and_escaped() -> None:
    blocks = trace_blocks(MID, make_trace(["helo=<mail.evil.example> ```break```"]))
    text = all_text(blocks)
    assert "```\n   1 2026-11-21 05:17:01 UTC helo=&lt;mail[.]evil[.]example&gt;" in text
    assert "break" in text and "```break" not in text
    assert "*Outbound*: No trace lines" in text
    assert_clean(blocks)


def test_trace_pending_and_empty() -> None:
    text = all_text(trace_blocks(MID, make_trace([], pending=True)))
    assert "*Inbound*: No trace lines · ⏳ pending" in text


def test_long_trace_is_cut_within_limits() -> None:
    blocks = trace_blocks(MID, make_trace(["<!channel> " + "y" * 1000] * 500))
    assert_clean(blocks)
    assert "more inbound line(s) not shown" in all_text(blocks)
    assert_no_injection(blocks)


def test_help_lists_every_verb_and_role() -> None:
    blocks = help_blocks("/email")
    text = all_text(blocks)
    for verb in (
        "lookup &lt;id&gt;",
        'search &lt;terms&gt; [from:… to:… subject:"…" disposition:… since:7d]',
        "preview &lt;id&gt;",
        "raw &lt;id&gt;",
        "trace &lt;id&gt;",
        'release &lt;id…&gt; [reason:"…"]',
        'move &lt;id…&gt; &lt;folder&gt; [reason:"…"]',
        "reclassify &lt;id&gt; &lt;disposition&gt;",
        "block &lt;sender|domain&gt;",
        "approvals",
        "audit [id|verify]",
        "help",
    ):
        assert f"`/email {verb}`" in text
    assert "*Viewer*" in text and "*Operator*" in text and "*Approver*" in text
    assert_clean(blocks)
    assert_clean(blocks, surface="home")


def test_notice_keeps_our_mentions_and_clamps() -> None:
    assert texts(notice("Ask <@U123ABC> to approve.")) == ["Ask <@U123ABC> to approve."]
    assert_clean(notice("x" * 10_000))
    assert_clean(notice(""))


# --- modals ----------------------------------------------------------------------------------

CTX = ModalContext(
    message_id=MID,
    channel_id="C0123456",
    message_ts="1700000000.000100",
    thread_ts="1700000000.000001",
)


def modal_inputs(view: View) -> dict[str, dict[str, Any]]:
    return {b["block_id"]: b for b in view.to_dict()["blocks"] if b["type"] == "input"}


def test_modal_context_round_trips() -> None:
    assert ModalContext.load(CTX.dump()) == CTX
    bare = ModalContext(message_id=MID, channel_id="", message_ts="")
    assert ModalContext.load(bare.dump()) == bare
    assert len(CTX.dump()) <= 3000


def test_move_modal() -> None:
    view = move_modal(CTX, make_message(subject="<!here> invoice"), "JunkEmail")
    data = view.to_dict()
    assert data["callback_id"] == CallbackId.MOVE_MODAL
    assert ModalContext.load(data["private_metadata"]) == CTX
    element = modal_inputs(view)[InputId.FOLDER]["element"]
    assert element["action_id"] == InputId.FOLDER
    assert element["initial_option"]["value"] == "JunkEmail"
    assert [o["value"] for o in element["options"]] == list(DESTINATIONS)
    assert "&lt;!here&gt; invoice" in "".join(texts(data))
    assert view_problems(view) == []
    assert (
        "initial_option"
        not in modal_inputs(move_modal(CTX, None, "Nowhere"))[InputId.FOLDER]["element"]
    )


def test_move_and_release_modals_of_ticked_hits_name_every_id() -> None:
    messages = [make_message(id=f"Abcd{i}-2026-11-21T05:17:05-0000000{i}") for i in range(10)]
    ctx = ModalContext(message_ids=tuple(m.id for m in messages), channel_id="C0123456")
    assert ctx.targets == ctx.message_ids and CTX.targets == (MID,)
    assert ModalContext.load(ctx.dump()) == ctx
    move = move_modal(ctx, None, None)
    release = release_modal(ctx, messages, "it touches 10 messages (BOT_BULK_THRESHOLD is 2)")
    for view in (move, release):
        text = "".join(texts(view.to_dict()))
        assert "10 selected messages" in text and all(f"`{m.id}`" in text for m in messages)
        assert view_problems(view) == []
    assert move.to_dict()["title"]["text"] == "Move messages"
    assert modal_inputs(move)[InputId.FOLDER]["element"]["action_id"] == InputId.FOLDER
    longest = ModalContext(message_ids=("A" * 150,) * SEARCH_PAGE, channel_id="C" * 64)
    assert len(longest.dump()) <= 3000, "a page's ticked ids fit the modal's metadata"
    with pytest.raises(ValueError, match="at most 10 items"):
        ModalContext(message_ids=("A",) * (SEARCH_PAGE + 1))


def test_reclassify_modal() -> None:
    view = reclassify_modal(CTX, make_message(subject="Subject"), "SPAM")
    assert view.callback_id == CallbackId.RECLASSIFY_MODAL
    inputs = modal_inputs(view)
    assert inputs[InputId.DISPOSITION]["element"]["initial_option"]["value"] == "SPAM"
    reason = inputs[InputId.REASON]
    assert reason["optional"] is True
    assert reason["element"] == {
        "type": "plain_text_input",
        "action_id": InputId.REASON,
        "multiline": True,
        "max_length": 500,
    }
    assert view_problems(view) == []


def test_block_modal_shows_what_will_be_blocked() -> None:
    view = block_modal(CTX, "bob@evil.example")
    data = view.to_dict()
    assert data["callback_id"] == CallbackId.BLOCK_MODAL and data["submit"]["text"] == "Block"
    radio = modal_inputs(view)[InputId.PATTERN_TYPE]["element"]
    assert radio["action_id"] == InputId.PATTERN_TYPE
    assert [(o["value"], o["description"]["text"]) for o in radio["options"]] == [
        ("EMAIL", "bob@evil[.]example"),
        ("DOMAIN", "evil[.]example"),
    ]
    assert radio["initial_option"]["value"] == "EMAIL"
    assert modal_inputs(view)[InputId.COMMENT]["optional"] is True
    assert view_problems(view) == []


def test_block_modal_placeholder_and_domain_only() -> None:
    waiting = block_modal(CTX, "").to_dict()
    assert "submit" not in waiting and "Looking up the sender" in "".join(texts(waiting))
    domain_only = modal_inputs(block_modal(CTX, "evil.example"))[InputId.PATTERN_TYPE]
    assert [o["value"] for o in domain_only["element"]["options"]] == ["DOMAIN"]


@pytest.mark.parametrize(
    "view",
    [
        move_modal(CTX, make_message(), None),
        reclassify_modal(CTX, make_message(), None),
        block_modal(CTX, "a@b.example"),
    ],
)
def test_modal_titles_fit(view: View) -> None:
    data = view.to_dict()
    assert all(len(data[k]["text"]) <= 24 for k in ("title", "submit", "close"))


# --- hostile data, every renderer ------------------------------------------------------------

hostile_text = st.one_of(
    st.text(max_size=60),
    st.lists(st.sampled_from(HOSTILE), max_size=20).map("".join),
    st.builds(lambda piece, n: piece * n, st.sampled_from(HOSTILE), st.integers(100, 3000)),
)
maybe_text = st.one_of(st.none(), hostile_text)
investigate_ids = st.from_regex(
    r"[A-Za-z0-9]{4,64}-2026-11-21T05:17:05-[0-9a-f]{8}", fullmatch=True
)
times = st.one_of(st.none(), st.datetimes(timezones=st.sampled_from([UTC, None])))


def many(element: st.SearchStrategy[Any]) -> st.SearchStrategy[list[Any]]:
    """A few varied items, or one item repeated up to 250 times (cheap to generate)."""
    return st.one_of(
        st.lists(element, max_size=4),
        st.builds(lambda item, n: [item] * n, element, st.integers(0, 250)),
    )


messages = st.builds(
    lambda **kw: MessageDetails.model_validate(kw),
    id=investigate_ids,
    postfix_id=hostile_text,
    subject=maybe_text,
    **{"from": maybe_text},
    from_name=maybe_text,
    envelope_from=maybe_text,
    replyto=maybe_text,
    to=st.one_of(st.none(), many(hostile_text)),
    to_name=st.one_of(st.none(), many(hostile_text)),
    message_id=maybe_text,
    sent_at=times,
    scanned_at=times,
    final_disposition=st.one_of(maybe_text, st.sampled_from(RECLASSIFY_DISPOSITIONS)),
    is_quarantined=st.booleans(),
    delivery_status=st.one_of(st.none(), many(hostile_text)),
    detection_reasons=many(hostile_text),
    threat_categories=st.one_of(st.none(), many(hostile_text)),
    post_delivery_operations=st.one_of(st.none(), many(hostile_text)),
    validation=st.fixed_dictionaries({"spf": maybe_text, "dkim": maybe_text, "dmarc": maybe_text}),
)
detections = st.one_of(
    st.none(),
    st.builds(
        lambda **kw: Detections.model_validate(kw),
        action=hostile_text,
        final_disposition=maybe_text,
        validation=st.fixed_dictionaries({"spf": maybe_text}),
        links=many(st.fixed_dictionaries({"href": hostile_text, "text": maybe_text})),
        attachments=many(
            st.fixed_dictionaries(
                {
                    "size": st.integers(-10, 10**15),
                    "filename": maybe_text,
                    "content_type": maybe_text,
                    "detection": maybe_text,
                    "encrypted": st.one_of(st.none(), st.booleans()),
                }
            )
        ),
        threat_categories=many(st.fixed_dictionaries({"name": maybe_text})),
    ),
)
action_logs = many(
    st.builds(
        lambda **kw: ActionEntry.model_validate(kw),
        operation=hostile_text,
        status=maybe_text,
        success=st.one_of(st.none(), st.booleans()),
        completed_at=times,
        properties=st.fixed_dictionaries({"folder": maybe_text, "requested_by": maybe_text}),
    )
)
outcome_lists = many(st.sampled_from(["Released by <@U123ABC> at 10:00 UTC", "x" * 3000, ""]))
HOSTILE_SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@HOSTILE_SETTINGS
@given(messages, detections, action_logs, outcome_lists, st.booleans())
def test_hostile_cards_break_no_limit(
    message: MessageDetails,
    found: Detections | None,
    log: list[ActionEntry],
    outcomes: list[str],
    compact: bool,
) -> None:
    blocks = message_card(message, found, log, outcomes=outcomes, compact=compact)
    assert_clean(blocks, text=fallback_text(message))
    assert_no_injection(blocks, trusted=outcomes)


@HOSTILE_SETTINGS
@given(st.lists(messages, max_size=12), hostile_text, st.one_of(st.none(), st.just("k:1")))
def test_hostile_search_and_chooser_break_no_limit(
    found: list[MessageDetails], description: str, more_key: str | None
) -> None:
    results = search_results(found, description=description, more_key=more_key)
    assert_clean(results)
    assert_no_injection(results)
    picks = chooser(found, description)
    assert_clean(picks)
    assert_no_injection(picks)


@HOSTILE_SETTINGS
@given(
    investigate_ids,
    many(st.fixed_dictionaries({"lineno": st.integers(-5, 10**9), "message": hostile_text})),
    st.booleans(),
)
def test_hostile_traces_break_no_limit(
    message_id: str, lines: list[dict[str, Any]], pending: bool
) -> None:
    trace = Trace.model_validate(
        {"inbound": {"lines": lines, "pending": pending}, "outbound": {"lines": lines}}
    )
    blocks = trace_blocks(message_id, trace)
    assert_clean(blocks)
    assert_no_injection(blocks)


@HOSTILE_SETTINGS
@given(maybe_text, hostile_text, st.sampled_from([None, *DESTINATIONS, "bogus"]))
def test_hostile_modals_break_no_limit(
    subject: str | None, sender: str, choice: str | None
) -> None:
    hostile = make_message(
        subject=subject, **{"from": sender}, envelope_from=sender, client_recipients=[sender] * 5
    )
    for view in (
        move_modal(CTX, hostile, choice),
        reclassify_modal(CTX, hostile, choice),
        block_modal(CTX, sender),
    ):
        assert view_problems(view) == []
        assert_no_injection(view.blocks or [])


# --- problems() catches what it claims to catch ----------------------------------------------


def text_obj(text: str, kind: str = "mrkdwn") -> dict[str, Any]:
    return {"type": kind, "text": text}


def section(text: str = "ok") -> dict[str, Any]:
    return {"type": "section", "text": text_obj(text)}


def button(action_id: str = "b", text: str = "Go", **kw: Any) -> dict[str, Any]:
    return {"type": "button", "action_id": action_id, "text": text_obj(text, "plain_text"), **kw}


def option(text: str = "o", value: str = "v") -> dict[str, Any]:
    return {"text": text_obj(text, "plain_text"), "value": value}


def select(**kw: Any) -> dict[str, Any]:
    return {"type": "static_select", "action_id": "s", "options": [option()], **kw}


def actions(*elements: dict[str, Any]) -> dict[str, Any]:
    return {"type": "actions", "elements": list(elements)}


VIOLATIONS: list[tuple[str, list[dict[str, Any]], str, str | None, str]] = [
    ("51 blocks in a message", [section()] * 51, "message", None, "a message allows 50"),
    ("101 blocks in a modal", [section()] * 101, "modal", None, "a modal allows 100"),
    ("101 blocks on home", [section()] * 101, "home", None, "a home allows 100"),
    ("empty message", [], "message", None, "needs blocks or text"),
    ("fallback text", [section()], "message", "x" * 4001, "max 4000"),
    ("section text", [section("x" * 3001)], "message", None, "max 3000"),
    (
        "field text",
        [{"type": "section", "fields": [text_obj("x" * 2001)]}],
        "message",
        None,
        "max 2000",
    ),
    (
        "11 fields",
        [{"type": "section", "fields": [text_obj("x")] * 11}],
        "message",
        None,
        "11 fields",
    ),
    ("section without text", [{"type": "section"}], "message", None, "needs text or fields"),
    ("empty context", [{"type": "context", "elements": []}], "message", None, "1 to 10"),
    (
        "11 context elements",
        [{"type": "context", "elements": [text_obj("x")] * 11}],
        "message",
        None,
        "1 to 10",
    ),
    (
        "context text",
        [{"type": "context", "elements": [text_obj("x" * 3001)]}],
        "message",
        None,
        "max 3000",
    ),
    (
        "header length",
        [{"type": "header", "text": text_obj("x" * 151, "plain_text")}],
        "message",
        None,
        "max 150",
    ),
    (
        "header mrkdwn",
        [{"type": "header", "text": text_obj("x")}],
        "message",
        None,
        "must be plain_text",
    ),
    ("button text", [actions(button(text="x" * 76))], "message", None, "max 75"),
    (
        "button mrkdwn",
        [actions({**button(), "text": text_obj("Go")})],
        "message",
        None,
        "must be plain_text",
    ),
    ("button value", [actions(button(value="x" * 2001))], "message", None, "value longer"),
    ("button style", [actions(button(style="green"))], "message", None, "style"),
    ("option text", [actions(select(options=[option("x" * 76)]))], "message", None, "max 75"),
    (
        "option value",
        [actions(select(options=[option(value="x" * 151)]))],
        "message",
        None,
        "1 to 150",
    ),
    (
        "option mrkdwn",
        [actions(select(options=[{"text": text_obj("o"), "value": "v"}]))],
        "message",
        None,
        "must be plain_text",
    ),
    (
        "initial option",
        [actions(select(initial_option=option("other", "w")))],
        "message",
        None,
        "initial_option",
    ),
    ("empty actions", [actions()], "message", None, "1 to 25"),
    (
        "26 actions",
        [actions(*[button(f"b{i}") for i in range(26)])],
        "message",
        None,
        "1 to 25",
    ),
    ("empty text", [section("  ")], "message", None, "empty text"),
    ("dropped text", [{"type": "section", "text": {"type": "mrkdwn"}}], "message", None, "missing"),
    (
        "duplicate action_id",
        [actions(button("same"), button("same"))],
        "message",
        None,
        "used twice in one block",
    ),
    ("missing action_id", [actions({**button(), "action_id": ""})], "message", None, "without"),
    (
        "duplicate block_id",
        [{**section(), "block_id": "b"}, {**section(), "block_id": "b"}],
        "message",
        None,
        "block_id 'b' used twice",
    ),
    ("text budget", [section("x" * 2900)] * 5, "message", None, "characters of block text"),
    (
        "confirm text",
        [
            actions(
                button(
                    confirm={
                        "title": text_obj("t", "plain_text"),
                        "text": text_obj("x" * 301),
                        "confirm": text_obj("y", "plain_text"),
                        "deny": text_obj("n", "plain_text"),
                    }
                )
            )
        ],
        "message",
        None,
        "max 300",
    ),
    (
        "radio options",
        [
            {
                "type": "input",
                "label": text_obj("l", "plain_text"),
                "element": {
                    "type": "radio_buttons",
                    "action_id": "r",
                    "options": [option()] * 11,
                },
            }
        ],
        "modal",
        None,
        "needs 1 to 10",
    ),
    (
        "text input max_length",
        [
            {
                "type": "input",
                "label": text_obj("l", "plain_text"),
                "element": {"type": "plain_text_input", "action_id": "t", "max_length": 5000},
            }
        ],
        "modal",
        None,
        "max_length",
    ),
    (
        "option description",
        [
            {
                "type": "input",
                "label": text_obj("l", "plain_text"),
                "element": {
                    "type": "radio_buttons",
                    "action_id": "r",
                    "options": [{**option(), "description": text_obj("x" * 76, "plain_text")}],
                },
            }
        ],
        "modal",
        None,
        "description: 76 characters",
    ),
    ("astral characters count twice", [section("😀" * 1501)], "message", None, "max 3000"),
]


@pytest.mark.parametrize(
    ("payload", "surface", "text", "expected"),
    [pytest.param(p, s, t, e, id=name) for name, p, s, t, e in VIOLATIONS],
)
def test_problems_reports_each_violation(
    payload: list[dict[str, Any]], surface: str, text: str | None, expected: str
) -> None:
    found = problems(payload, surface=surface, text=text)  # type: ignore[arg-type]
    assert any(expected in p for p in found), found


def test_problems_reports_slack_sdk_validation_errors() -> None:
    too_long = SectionBlock(text="x" * 3001)
    found = problems([too_long], surface="message")
    assert any("blocks[0]" in p and "3000" in p for p in found), found
    bad_button = ActionsBlock(elements=[ButtonElement(text="x" * 76, action_id="b")])
    assert problems([bad_button], surface="message")


def test_problems_accepts_a_valid_payload_as_models_or_dicts() -> None:
    blocks = message_card(make_message(), make_detections(), ACTION_LOG)
    assert problems(blocks, surface="message") == []
    assert problems(json.loads(json.dumps(dicts(blocks))), surface="message") == []


def test_same_action_id_in_different_blocks_is_allowed() -> None:
    """Slack wants action_ids unique per block: every search hit's "Open" shares one."""
    assert problems([actions(button("open")), actions(button("open"))], surface="message") == []


def test_view_problems_checks_the_view_itself() -> None:
    view = View(type="modal", title="x" * 25, blocks=[SectionBlock(text="ok")])
    assert any("title" in p for p in view_problems(view))


# --- the largest possible data, deterministically ---------------------------------------------

# `&` becomes `&amp;`: the most a character can grow, so every capped field is at its longest.
WORST = "&" * 5000


def worst_message(**changes: Any) -> MessageDetails:
    many_worst = [WORST] * 300
    fields: dict[str, Any] = {
        "subject": WORST,
        "from": WORST,
        "from_name": WORST,
        "envelope_from": WORST + "e",
        "replyto": WORST + "r",
        "to": many_worst,
        "to_name": many_worst,
        "message_id": WORST,
        "postfix_id": WORST,
        "final_disposition": WORST,
        "delivery_status": many_worst,
        "detection_reasons": many_worst,
        "threat_categories": many_worst,
        "post_delivery_operations": many_worst,
        "validation": {"spf": WORST, "dkim": WORST, "dmarc": WORST},
    }
    return make_message(**{**fields, **changes})


def worst_detections() -> Detections:
    return make_detections(
        links=[{"href": WORST, "text": WORST + "t"}] * 300,
        attachments=[{"size": 10**14, "filename": WORST, "content_type": WORST, "detection": WORST}]
        * 300,
        threat_categories=[{"name": WORST}] * 300,
        validation={"spf": WORST, "dkim": WORST, "dmarc": WORST},
    )


def worst_log() -> list[ActionEntry]:
    entry = {
        "operation": WORST,
        "status": WORST,
        "success": False,
        "completed_at": "2026-11-21T06:00:00Z",
        "properties": {"folder": WORST, "requested_by": WORST},
    }
    return [ActionEntry.model_validate(entry)] * 300


@pytest.mark.parametrize("compact", [False, True])
@pytest.mark.parametrize("outcomes", [(), ("x" * 3000,) * 100])
def test_worst_case_card_fits(compact: bool, outcomes: tuple[str, ...]) -> None:
    message = worst_message()
    blocks = message_card(
        message, worst_detections(), worst_log(), outcomes=outcomes, compact=compact
    )
    assert_clean(blocks, text=fallback_text(message))


def test_worst_case_lists_fit() -> None:
    found = [worst_message(id=f"Abcd{i}-2026-11-21T05:17:05-00000000") for i in range(30)]
    assert_clean(search_results(found, description=WORST, more_key="k" * 2000, shown_before=9))
    assert_clean(chooser(found, WORST))
    line = {"lineno": 10**9, "message": WORST, "logged_at": "2026-11-21T05:17:01Z"}
    trace = Trace.model_validate(
        {
            "inbound": {"lines": [line] * 1000, "pending": True},
            "outbound": {"lines": [line] * 1000, "pending": True},
        }
    )
    assert_clean(trace_blocks(WORST, trace))
    worst = make_message(
        id=WORST, subject=WORST, **{"from": WORST}, client_recipients=[WORST] * 100
    )
    for view in (
        move_modal(CTX, worst, None),
        reclassify_modal(CTX, worst, None),
        block_modal(CTX, WORST + "@" + WORST),
    ):
        assert view_problems(view) == []


def test_approval_card_lists_failed_and_undelivered_ids() -> None:
    from datetime import UTC, datetime, timedelta

    from blocks.approvals import approval_card
    from blocks.limits import problems
    from bot.services.approvals import ApprovalRequest, ApprovalState, ChunkResult, digest, report
    from tests.kit.store import TEST_KEY

    ids = [f"id{i:04d}-2026-01-01T00:00:00-0000abcd" for i in range(30)]
    now = datetime(2026, 11, 21, tzinfo=UTC)
    request = ApprovalRequest(
        id="req123", action="release", params={}, ids=ids,
        digest=digest(TEST_KEY, "release", {}, ids),
        requester="U1", reason="<!channel> please", rule="it touches 30 messages", summary=[],
        created_at=now, expires_at=now + timedelta(hours=1), required=1,
        state=ApprovalState.DONE, chunks_total=1, chunks_done=1,
    )  # fmt: skip
    result = ChunkResult(index=0, acted=ids, skipped=[], delivered=ids[2:], failed=ids[:1],
                         undelivered=ids[1:2])  # fmt: skip
    blocks = approval_card(request, approvers="Approvers: <@U2>.", totals=report([result]))
    text = str([b.to_dict() for b in blocks])
    assert "Done with failures" in text
    assert "*Failed*: `id0000" in text and "*Undelivered*: `id0001" in text
    assert "<!channel>" not in text
    assert "approval_approve" not in text, "no buttons on a finished request"
    assert problems(blocks, surface="message") == []


@pytest.mark.parametrize("source", ["count", "setting"])
def test_a_query_says_whether_its_ceiling_was_counted_or_is_the_setting(source: str) -> None:
    """Counted: "at most 4,210 messages". BOT_BULK_JOB_CEILING: that nobody counted, and the
    setting named wherever the ceiling is (card, job cancelled past it, thread, file comment)."""
    from datetime import UTC, datetime, timedelta

    from blocks.approvals import approval_card, what
    from blocks.bulkjob import message_list_comment
    from blocks.limits import problems
    from blocks.outcomes import finished_line
    from bot.services.approvals import ApprovalRequest, ApprovalState, FrozenSearch, digest
    from bot.services.approvals.jobstate import JobReport, JobState
    from tests.kit.store import TEST_KEY

    ids = [f"id{i:04d}-2026-01-01T00:00:00-0000abcd" for i in range(12)]
    ceiling = "4210" if source == "count" else "100000"
    params = {"folder": "JunkEmail", "ceiling": ceiling, "ceiling_from": source}
    now = datetime(2026, 11, 21, tzinfo=UTC)
    search = FrozenSearch(filters={"subject": "Invoice", "start": "a", "end": "b"}, matches=12)
    request = ApprovalRequest(
        id="req123", action="move", params=params, ids=ids,
        digest=digest(TEST_KEY, "move", params, ids), requester="U1", reason="", rule="r",
        summary=[], created_at=now, expires_at=now + timedelta(hours=1), required=1,
        state=ApprovalState.DONE, chunks_total=0, chunks_done=0, search=search,
    )  # fmt: skip
    job = JobState(phase="finished", ceiling=int(ceiling), status="CANCELLED", discovered=100_001,
                   over_ceiling=True)  # fmt: skip
    card = approval_card(request, approvers="", totals=JobReport.of(job))
    text = str([b.to_dict() for b in card])
    assert problems(card, surface="message") == []
    if source == "count":
        assert what(request) == "Move at most 4,210 messages matching a search to JunkEmail"
        assert "*Ceiling*: at most 4,210 messages" in text and "BOT_BULK_JOB_CEILING" not in text
        assert "found more than the ceiling of 4,210 messages approved" in text
        assert finished_line(request, JobReport.of(job)).endswith(
            "Cancelled by the bot: it found more than the ceiling."
        )
        assert message_list_comment(request).startswith("Every message of this request")
        return
    assert what(request) == (
        "Move the messages matching a search (more than 12 match; at most 100,000) to JunkEmail"
    )
    assert (
        "*Ceiling*: More than 12 messages match (Cloudflare gives no total, so the bot counted "
        "no further). The bulk job acts on every match, at most 100,000 (BOT_BULK_JOB_CEILING)"
    ) in text
    assert "*Its first matches* (12; the bulk job acts on every match)" in text
    assert (
        "the ceiling of 100,000 messages (BOT_BULK_JOB_CEILING). To act on them all, raise" in text
    )
    assert finished_line(request, JobReport.of(job)).endswith(
        "it found more than the ceiling of 100,000 (BOT_BULK_JOB_CEILING)."
    )
    assert "The bulk job acts on every match." in message_list_comment(request)


# --- alert digests ----------------------------------------------------------------------------


def make_digest(count: int = 37, **dispositions: int) -> Digest:
    return Digest(
        id="d16e57", channel="C0ALERTS", ts="1.000001", opened=SENT, latest=SENT,
        window_seconds=300, count=count, senders=12,
        dispositions=dispositions or {"SUSPICIOUS": count},
    )  # fmt: skip


def test_a_digest_card_counts_by_severity_and_lists_on_a_button() -> None:
    card = digest_card(make_digest(37, SPOOF=7, SUSPICIOUS=30))
    assert_clean(card)
    assert "30 SUSPICIOUS and 7 SPOOF from 12 senders in the last 5 min" in all_text(card)
    [button] = by_action(card, ActionId.DIGEST_LIST)
    assert DigestPage.load(button["value"]) == DigestPage("d16e57", 0)
    assert "MALICIOUS and MALICIOUS-BEC alerts are always posted one by one" in all_text(card)
    for bad in ("digest:x:1", "digest:d16e57:", "other:d16e57:0", "digest:d16e57:-1"):
        with pytest.raises(ValueError, match="not a page of an alert digest"):
            DigestPage.load(bad)


def test_a_digest_list_pages_within_slacks_limits_each_alert_with_open() -> None:
    entries = [
        DigestEntry(id=f"{MID}{n}", subject=HOSTILE[n % len(HOSTILE)], sender=HOSTILE[0],
                    disposition="SUSPICIOUS", recipient="a@example.com", at=SENT)
        for n in range(10)
    ]  # fmt: skip
    first = digest_list(DigestListing(make_digest(1200), entries, 0, 1000))
    assert_clean(first)
    assert_no_injection(first)
    assert len(first) <= 50
    assert [e["value"] for e in by_action(first, ActionId.HIT_OPEN)] == [e.id for e in entries]
    [following] = by_action(first, ActionId.DIGEST_LIST)
    assert DigestPage.load(following["value"]).start == 10
    assert "1-10 of 1000 (the first 1000 are listed)" in all_text(first)
    last = digest_list(DigestListing(make_digest(12), entries[:2], 10, 12))
    [back] = by_action(last, ActionId.DIGEST_LIST)
    assert DigestPage.load(back["value"]).start == 0 and "11-12 of 12" in all_text(last)
    unopenable = DigestListing(make_digest(1), [DigestEntry(id="not an id!")], 0, 1)
    assert by_action(digest_list(unopenable), ActionId.HIT_OPEN) == []
