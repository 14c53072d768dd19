"""The block list renderers within Block Kit's limits: the largest page of the most hostile
patterns and comments, a card with its "Sender blocked" line, the protected domains."""

from __future__ import annotations

from datetime import UTC, datetime

from blocks import fallback_text, message_card
from blocks.blocklist import blocked_list, domains_list, unblocked_text
from blocks.limits import problems
from bot.cloudflare.settings_models import BlockedSender, EmailsProcessed, ProtectedDomain
from bot.services.paging import PAGE, page_key
from tests.kit.factories import HOSTILE_TEXT
from tests.test_blocks import (
    WORST,
    all_text,
    assert_clean,
    assert_no_injection,
    by_action,
    worst_detections,
    worst_log,
    worst_message,
)

AT = datetime(2026, 11, 1, 9, 30, tzinfo=UTC)


def entry(n: int, pattern: str = WORST, comments: str | None = WORST) -> BlockedSender:
    return BlockedSender(
        id=f"0000000{n}-0000-4000-8000-00000000000{n % 10}", pattern=pattern,
        pattern_type="DOMAIN", is_regex=True, comments=comments, created_at=AT,
    )  # fmt: skip


def test_the_largest_page_fits_and_every_entry_has_unblock() -> None:
    entries = [entry(n) for n in range(PAGE)]
    more = page_key(2, WORST[:200])
    blocks = blocked_list(entries, text=WORST, shown_before=0, total=10**9, more=more)
    assert_clean(blocks)
    ids = [e["value"] for e in by_action(blocks, "blocklist_unblock")]
    assert ids == [e.id for e in entries]
    assert all(
        e["confirm"]["confirm"]["text"] == "Unblock" for e in by_action(blocks, "blocklist_unblock")
    )
    assert [e["value"] for e in by_action(blocks, "blocklist_more")] == [more]


def test_patterns_and_comments_are_attacker_text() -> None:
    entries = [entry(1, HOSTILE_TEXT, HOSTILE_TEXT), entry(2, "a@evil.example", None)]
    blocks = blocked_list(entries, text=HOSTILE_TEXT, shown_before=10, total=12, more=None)
    assert_clean(blocks)
    assert_no_injection(blocks)
    text = all_text(blocks)
    assert "a@evil[.]example" in text and "showing 11-12" in text
    assert "`00000002-0000-4000-8000-000000000002`" in text, "an id is a literal, to copy"
    assert by_action(blocks, "blocklist_more") == []


def test_an_empty_list_says_so() -> None:
    blocks = blocked_list([], text="x.example", shown_before=0, total=0, more=None)
    assert "No blocked senders matching x[.]example" in all_text(blocks)


def test_the_unblock_answer_names_what_was_removed() -> None:
    said = unblocked_text(entry(3, "<!channel> evil.example"), unaudited=True)
    assert "Unblocked &lt;!channel&gt; evil[.]example" in said and "regex" in said
    assert "could not record" in said


def test_a_card_of_the_largest_message_with_its_blocked_line_fits() -> None:
    worst = worst_message()
    blocks = message_card(worst, worst_detections(), worst_log(), blocked=entry(4))
    assert_clean(blocks, text=fallback_text(worst))
    assert "Sender blocked: pattern" in all_text(blocks)
    [button] = by_action(blocks, "blocklist_unblock")
    assert button["value"] == entry(4).id
    line = message_card(worst, None, [], blocked=entry(5, HOSTILE_TEXT))
    assert_no_injection([b for b in line if b.block_id and "blocked" in b.block_id])


def test_the_protected_domains_fit_and_say_editing_stays_in_the_dashboard() -> None:
    domains = [
        ProtectedDomain(
            id=str(n),
            domain=WORST,
            status=WORST,
            allowed_delivery_modes=[WORST] * 5,
            emails_processed=EmailsProcessed(timestamp=AT, total_emails_processed=10**12),
        )
        for n in range(60)
    ]
    blocks = domains_list(domains)
    assert problems(blocks, surface="message") == []
    assert "Cloudflare dashboard" in all_text(blocks)
    assert "60 protected domains* · the first 30 shown" in all_text(blocks)
    plain = ProtectedDomain(
        id="d", domain="example.com", status="ACTIVE", allowed_delivery_modes=["DIRECT"],
        modified_at=AT,
    )  # fmt: skip
    one = domains_list([plain])
    assert "example[.]com* · ACTIVE · delivery DIRECT · last changed" in all_text(one)
    assert "No protected domains" in all_text(domains_list([]))
