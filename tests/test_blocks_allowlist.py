"""The allow policies and trusted domains renderers within Block Kit's limits and safe with
attacker text (a pattern asked from a card is the envelope sender): the largest list pages, the
approval card of an allow and of a trust, the allow and "False positive…" modals; and the
commands that ask for them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from blocks.allowlist import allow_modal, removed_text, settings_list
from blocks.approvals import approval_card
from blocks.false_positive import false_positive_modal
from blocks.limits import problems
from blocks.modals import ModalContext
from bot.cloudflare.settings_models import AllowPolicy, TrustedDomain
from bot.commands import (
    AllowCommand,
    AllowlistCommand,
    TrustCommand,
    UsageError,
    parse,
)
from bot.services.approvals.changes import Exposure, allow_params, trust_params
from bot.services.approvals.models import ApprovalRequest, MessageSummary
from bot.services.paging import PAGE, page_key
from tests.kit.factories import HOSTILE_TEXT, make_message
from tests.test_blocks import WORST, all_text, assert_clean, assert_no_injection, by_action, texts

AT = datetime(2026, 11, 1, 9, 30, tzinfo=UTC)


def policy(n: int, pattern: str = WORST, comments: str | None = WORST) -> AllowPolicy:
    return AllowPolicy(
        id=f"0000000{n}-0000-4000-8000-00000000000{n % 10}", pattern=pattern,
        pattern_type="DOMAIN", is_regex=True, is_trusted_sender=True, verify_sender=False,
        comments=comments, created_at=AT,
    )  # fmt: skip


def domain(n: int, pattern: str = WORST) -> TrustedDomain:
    return TrustedDomain(
        id=f"1000000{n}-0000-4000-8000-00000000000{n % 10}", pattern=pattern, is_recent=True,
        comments=WORST, created_at=AT,
    )  # fmt: skip


def request(action: str, params: dict[str, str], summary: list[MessageSummary]) -> ApprovalRequest:
    return ApprovalRequest(
        id="q07qad8FV_oK", action=action, params=params, ids=[s.id for s in summary],  # type: ignore[arg-type]
        digest="d" * 64, requester="U0OPERATOR", reason=WORST, rule="rule", summary=summary,
        created_at=AT, expires_at=AT, required=1,
    )  # fmt: skip


@pytest.mark.parametrize("listing", ["allowed", "trusted"])
def test_the_largest_page_fits_and_every_entry_has_remove(listing: str) -> None:
    made = [policy(n) if listing == "allowed" else domain(n) for n in range(PAGE)]
    key, more = page_key(3, WORST[:200]), page_key(4, WORST[:200])
    blocks = settings_list(
        listing,
        made,
        text=WORST,
        shown_before=20,
        total=10**9,
        key=key,
        more=more,  # type: ignore[arg-type]
    )
    assert_clean(blocks)
    action = "allowlist_remove" if listing == "allowed" else "trusted_remove"
    values = [e["value"] for e in by_action(blocks, action)]
    assert values == [f"{e.id} {key}" for e in made], "each names its entry and its page"
    assert all(e["confirm"]["confirm"]["text"] == "Remove" for e in by_action(blocks, action))


def test_patterns_and_comments_are_attacker_text() -> None:
    blocks = settings_list(
        "allowed", [policy(1, HOSTILE_TEXT, HOSTILE_TEXT)], text=HOSTILE_TEXT, shown_before=0,
        total=1, key="1:", more=None,
    )  # fmt: skip
    assert_clean(blocks)
    assert_no_injection(blocks)
    assert "trusted sender · sender not verified" in all_text(blocks)
    said = removed_text("allow policy", "<!channel> evil.example", "x", unaudited=True)
    assert "&lt;!channel&gt; evil[.]example" in said and "could not record" in said


def test_approval_cards_of_an_allow_and_a_trust_fit_and_show_the_exposure() -> None:
    counted = Exposure({"MALICIOUS": 3, "NONE": 997}, more=True)
    summary = [MessageSummary(id="m" * 100, subject=HOSTILE_TEXT, sender=HOSTILE_TEXT)]
    allow = request("allow", allow_params(HOSTILE_TEXT, "EMAIL", "exempt", False, counted), summary)
    blocks = approval_card(allow, approvers="<@U0APPROVER>")
    assert_clean(blocks)
    assert_no_injection(blocks, trusted=[t for t in texts(blocks) if "<@U0" in t])
    text = all_text(blocks)
    assert "Mail to it in the last 30 days*: more than 1,000 messages" in text
    assert "MALICIOUS: 3" in text and "spoofed mail passes too" in text
    trust = request("trust", trust_params("acme.example", True, False, Exposure({})), [])
    text = all_text(approval_card(trust, approvers=""))
    assert "Trust domain acme[.]example" in text and "new-domain checks" in text
    assert "0 messages" in text


def test_the_modals_fit_with_hostile_senders() -> None:
    ctx = ModalContext(message_id="m" * 200, channel_id="C1", message_ts="1.2")
    patterns = [("EMAIL", HOSTILE_TEXT), ("DOMAIN", HOSTILE_TEXT)]
    view = allow_modal(ctx, patterns, header_from=HOSTILE_TEXT, comment=WORST)
    assert problems(view.blocks, surface="modal") == []
    message = make_message(subject=HOSTILE_TEXT, **{"from": HOSTILE_TEXT})
    view = false_positive_modal(ctx, message, patterns)
    assert problems(view.blocks, surface="modal") == []
    assert_no_injection(view.blocks)


def test_the_commands_that_ask_list_and_remove() -> None:
    assert parse('allow Billing@Vendor.example reason:"our vendor"') == AllowCommand(
        "billing@vendor.example", "EMAIL", "our vendor"
    )
    assert parse("allow vendor[.]example") == AllowCommand("vendor.example", "DOMAIN")
    assert parse("trust acme.example") == TrustCommand("acme.example", True, True)
    assert parse("trust acme.example recent") == TrustCommand("acme.example", True, False)
    assert parse("allowed vendor") == AllowlistCommand("allowed", "vendor")
    assert parse("untrust acme.example") == AllowlistCommand("untrust", "acme.example")
    for text, verb in (("allow", "allow"), ("allow a b", "allow"), ("trust x_y", "trust"),
                       ("trust a.example often", "trust"), ("disallow", "disallow"),
                       ("untrust a b", "untrust")):  # fmt: skip
        with pytest.raises(UsageError) as caught:
            parse(text)
        assert caught.value.verb == verb
