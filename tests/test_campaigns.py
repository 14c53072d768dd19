"""Campaign grouping (bot.services.alerts.campaigns) as the pure functions it is: no Redis, no
API, no Slack. Which messages are related (fingerprint, sender domain and normalised subject,
link domain, attachment), which queued message starts a campaign, which goes into whose
thread, and what a campaign's counter and recipients become."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from bot.cloudflare.models import MessageDetails, PhishGuardReport
from bot.services.alerts.campaigns import (
    RECIPIENTS_KEEP,
    as_root,
    campaign_id,
    campaign_keys,
    campaign_sender,
    campaign_subject,
    grown,
    match_keys,
    merged_recipients,
    normal_subject,
    plan,
    recipients_of,
)
from bot.services.alerts.models import Campaign, Evidence, Item, StoredCampaign

CHANNEL = "CALERTS01"
OTHER = "COTHER001"
T0 = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)
HOUR = 3600.0


def message(
    n: int,
    sender: str = "boss@evil.example",
    subject: str = "Urgent wire transfer",
    to: list[str] | None = None,
    at: datetime | None = T0,
    **extra: Any,
) -> MessageDetails:
    data: dict[str, Any] = {
        "id": f"m{n}",
        "postfix_id": f"P{n:05d}",
        "from": sender,
        "subject": subject,
        "to": to if to is not None else [f"user{n}@example.com"],
        **extra,
    }
    if at is not None:
        data["scanned_at"] = at.isoformat()
    return MessageDetails.model_validate(data)


def item(m: MessageDetails, evidence: Evidence | None = None) -> Item:
    return Item(f"m:{m.id}", message=m, evidence=evidence)


def key(channel: str, m: MessageDetails) -> str:
    """A message's sender-and-subject match key (its only one without a fingerprint or
    evidence)."""
    (found,) = match_keys(channel, m, None)
    return found


def report_item(n: int) -> Item:
    found = PhishGuardReport.model_validate(
        {
            "id": n,
            "title": "Report",
            "content": "",
            "priority": "high",
            "disposition": "MALICIOUS",
            "fields": {"to": []},
        }
    )
    return Item(f"r:{n}", report=found)


def stored(m: MessageDetails, root_ts: str, count: int, first_seen: datetime) -> StoredCampaign:
    campaign = Campaign(
        key=campaign_id(CHANNEL, item(m)),
        channel=CHANNEL,
        keys=match_keys(CHANNEL, m, None),
        sender=campaign_sender(m),
        subject=campaign_subject(m),
        root_ts=root_ts,
        count=count,
        recipients=recipients_of(m),
        first_seen=first_seen,
        last_seen=first_seen,
    )
    return StoredCampaign(campaign, m)


def ids(items: list[Item]) -> list[str]:
    return [i.id for i in items]


# -- keys: what makes messages related ---------------------------------------------------------


def test_sender_is_trimmed_and_lower_cased_falling_back_to_the_envelope() -> None:
    assert campaign_sender(message(1, sender="  Boss@Evil.EXAMPLE ")) == "boss@evil.example"
    fallback = message(2, sender="", envelope_from="Bounce@Evil.example")
    assert campaign_sender(fallback) == "bounce@evil.example"
    assert campaign_sender(message(3, sender="")) is None


def test_subject_shown_has_its_whitespace_collapsed_and_its_case_kept() -> None:
    assert campaign_subject(message(1, subject="  Urgent \t wire\n transfer ")) == (
        "Urgent wire transfer"
    )
    assert campaign_subject(message(2, subject="   ")) is None


def test_subjects_compare_case_folded_without_reply_prefixes_and_numbers() -> None:
    assert normal_subject("  URGENT   wire Transfer ") == "urgent wire transfer"
    assert normal_subject("RE: Fwd: AW:  Invoice 4711 due") == "invoice # due"
    assert normal_subject("Invoice INV-0042 due 2025-01-06") == "invoice # due #"
    assert normal_subject("Your parcel") != normal_subject("Your payroll")
    assert normal_subject(None) == ""
    shouting = message(5, subject="RE: URGENT WIRE TRANSFER")
    assert key(CHANNEL, shouting) == key(CHANNEL, message(6))
    numbered = [message(n, subject=f"Invoice {1000 + n} overdue") for n in (7, 8)]
    assert key(CHANNEL, numbered[0]) == key(CHANNEL, numbered[1])


def test_the_sender_counts_by_domain_but_a_public_mailbox_by_address() -> None:
    base = key(CHANNEL, message(1))
    assert key(CHANNEL, message(2, sender="CFO@Evil.example", to=["x@y"])) == base
    assert key(CHANNEL, message(3, sender="boss@other.example")) != base
    assert key(OTHER, message(1)) != base
    assert key(CHANNEL, message(1, subject="Another subject")) != base
    gmail = [message(n, sender=f"person{n}@gmail.com") for n in (4, 5)]
    assert key(CHANNEL, gmail[0]) != key(CHANNEL, gmail[1])


def test_a_disposition_is_never_grouped_with_another() -> None:
    bec = message(1, final_disposition="MALICIOUS-BEC")
    assert key(CHANNEL, bec) != key(CHANNEL, message(2, final_disposition="MALICIOUS"))
    (alone, other) = plan(
        CHANNEL,
        [item(message(3, final_disposition="SUSPICIOUS")), item(bec)],
        {},
        window_seconds=HOUR,
        now=T0,
    )
    assert alone.root is not None and other.root is not None and not other.follow


def test_a_fingerprint_or_evidence_relates_messages_of_any_sender_and_subject() -> None:
    one = message(1, sender="a@one.example", subject="Parcel", edf_hash="ABC123")
    two = message(2, sender="b@two.example", subject="Payroll", edf_hash="abc123")
    assert set(match_keys(CHANNEL, one, None)) & set(match_keys(CHANNEL, two, None))
    link = Evidence(link_domains=["evil-login.example"])
    three = message(3, sender="c@three.example", subject="Voicemail")
    four = message(4, sender="d@four.example", subject="Mailbox full")
    attachment = Evidence(attachment_hashes=["f00d"])
    five = message(5, sender="e@five.example", subject="Contract")
    queue = [item(one), item(two), item(three, link), item(four, link), item(five, attachment)]
    queue.append(item(message(6, sender="f@six.example", subject="Survey"), attachment))
    plans = plan(CHANNEL, queue, {}, window_seconds=HOUR, now=T0)
    assert [(p.root.id if p.root else None, ids(p.follow)) for p in plans] == [
        ("m:m1", ["m:m2"]),
        ("m:m3", ["m:m4"]),
        ("m:m5", ["m:m6"]),
    ]


def test_a_message_joining_by_one_key_brings_its_other_keys_along() -> None:
    """m2 joins m1 by their shared link; m3 shares only m2's sender and subject: it joins too."""
    link = Evidence(link_domains=["evil-login.example"])
    queue = [
        item(message(1, sender="a@one.example", subject="Parcel"), link),
        item(message(2, sender="b@two.example", subject="Payroll"), link),
        item(message(3, sender="c@two.example", subject="Payroll")),
    ]
    (only,) = plan(CHANNEL, queue, {}, window_seconds=HOUR, now=T0)
    assert ids(only.follow) == ["m:m2", "m:m3"]


def test_campaign_keys_are_distinct_in_order_and_skip_reports() -> None:
    a, b = message(1), message(2, sender="other@elsewhere.example")
    items = [item(b), report_item(7), item(a), item(message(3, sender="x@elsewhere.example"))]
    assert campaign_keys(CHANNEL, items) == [key(CHANNEL, b), key(CHANNEL, a)]


# -- planning ----------------------------------------------------------------------------------


def test_same_sender_and_subject_within_the_window_is_one_campaign() -> None:
    batch = [item(message(n, at=T0 + timedelta(minutes=10 * n))) for n in range(4)]
    plans = plan(CHANNEL, batch, {}, window_seconds=HOUR, now=T0)
    assert len(plans) == 1
    (only,) = plans
    assert only.root is batch[0]
    assert ids(only.follow) == ids(batch[1:])
    assert only.campaign.key == campaign_id(CHANNEL, batch[0])
    assert only.campaign.keys == [key(CHANNEL, message(0))]
    assert (only.campaign.channel, only.campaign.sender) == (CHANNEL, "boss@evil.example")
    assert only.campaign.subject == "Urgent wire transfer"
    assert only.campaign.first_seen == T0 and only.campaign.root_ts is None


def test_the_window_is_inclusive_and_a_later_message_starts_a_new_campaign() -> None:
    first = item(message(1, at=T0))
    edge = item(message(2, at=T0 + timedelta(seconds=HOUR)))
    late = item(message(3, at=T0 + timedelta(seconds=HOUR + 1)))
    after = item(message(4, at=T0 + timedelta(seconds=HOUR + 60)))
    plans = plan(CHANNEL, [first, edge, late, after], {}, window_seconds=HOUR, now=T0)
    assert [(p.root, ids(p.follow)) for p in plans] == [
        (first, [edge.id]),
        (late, [after.id]),
    ]
    assert plans[1].campaign.first_seen == T0 + timedelta(seconds=HOUR + 1)
    assert plans[0].campaign.keys == plans[1].campaign.keys, "related, but not one campaign"
    assert plans[0].campaign.key != plans[1].campaign.key


def test_a_different_channel_is_a_different_campaign() -> None:
    m = message(1)
    here = plan(CHANNEL, [item(m)], {}, window_seconds=HOUR, now=T0)
    there = plan(OTHER, [item(m)], {}, window_seconds=HOUR, now=T0)
    assert here[0].campaign.key != there[0].campaign.key
    assert (here[0].campaign.channel, there[0].campaign.channel) == (CHANNEL, OTHER)
    # A campaign known in one channel does not take messages queued for another.
    known = {key(CHANNEL, m): stored(m, "1.000001", 3, T0)}
    again = plan(OTHER, [item(message(2))], known, window_seconds=HOUR, now=T0)
    assert len(again) == 1 and again[0].root is not None and again[0].campaign.root_ts is None


def test_messages_join_a_known_campaign_in_its_thread() -> None:
    first = message(1, at=T0)
    known = {key(CHANNEL, first): stored(first, "1700000000.000001", 2, T0)}
    more = [item(message(n, at=T0 + timedelta(minutes=n))) for n in (2, 3)]
    plans = plan(CHANNEL, more, known, window_seconds=HOUR, now=T0)
    assert len(plans) == 1
    (joined,) = plans
    assert joined.root is None, "the root is already posted"
    assert ids(joined.follow) == ids(more)
    assert joined.campaign.root_ts == "1700000000.000001" and joined.campaign.count == 2
    assert joined.latest == first


def test_past_a_known_campaigns_window_a_new_campaign_starts() -> None:
    first = message(1, at=T0)
    known = {key(CHANNEL, first): stored(first, "1700000000.000001", 5, T0)}
    late = [item(message(n, at=T0 + timedelta(hours=2, minutes=n))) for n in (2, 3)]
    plans = plan(CHANNEL, late, known, window_seconds=HOUR, now=T0)
    assert len(plans) == 1, "the known campaign gets nothing, so it is not in the plan"
    (fresh,) = plans
    assert fresh.root is late[0] and ids(fresh.follow) == [late[1].id]
    assert fresh.campaign.root_ts is None and fresh.campaign.count == 0
    assert fresh.campaign.first_seen == T0 + timedelta(hours=2, minutes=2)


def test_order_is_kept_within_and_across_campaigns() -> None:
    a = [message(n, sender="a@a-evil.example") for n in (1, 3, 6)]
    b = [message(n, sender="b@b-evil.example") for n in (2, 5)]
    c = [message(4, sender="c@c-evil.example")]
    queue = [item(m) for m in (a[0], b[0], a[1], c[0], b[1], a[2])]
    plans = plan(CHANNEL, queue, {}, window_seconds=HOUR, now=T0)
    assert [p.campaign.sender for p in plans] == [
        "a@a-evil.example",
        "b@b-evil.example",
        "c@c-evil.example",
    ]
    assert [(p.root.id if p.root else None, ids(p.follow)) for p in plans] == [
        ("m:m1", ["m:m3", "m:m6"]),
        ("m:m2", ["m:m5"]),
        ("m:m4", []),
    ]


def test_reports_are_left_out_and_untimed_messages_use_now() -> None:
    untimed = message(2, at=None)
    queue = [report_item(9), item(message(1, at=T0)), item(untimed)]
    now = T0 + timedelta(minutes=30)
    plans = plan(CHANNEL, queue, {}, window_seconds=HOUR, now=now)
    assert [(p.root.id if p.root else None, ids(p.follow)) for p in plans] == [("m:m1", ["m:m2"])]
    alone = plan(CHANNEL, [item(untimed)], {}, window_seconds=HOUR, now=now)
    assert alone[0].campaign.first_seen == now
    assert plan(CHANNEL, [report_item(9)], {}, window_seconds=HOUR, now=now) == []


def test_sent_time_counts_when_there_is_no_scan_time() -> None:
    sent = message(1, at=None, sent_at=(T0 - timedelta(minutes=5)).isoformat())
    (only,) = plan(CHANNEL, [item(sent)], {}, window_seconds=HOUR, now=T0)
    assert only.campaign.first_seen == T0 - timedelta(minutes=5)


# -- counters and recipients -------------------------------------------------------------------


def test_recipients_are_trimmed_lower_cased_and_distinct_in_order() -> None:
    m = message(1, to=[" B@Example.com", "a@example.com", "b@example.com", " ", ""])
    assert recipients_of(m) == ["b@example.com", "a@example.com"]
    forged = message(4, to=["cfo@subsidiary.example"], envelope_to=["alice@example.com"])
    assert recipients_of(forged) == ["alice@example.com"], "where it went, not the header To"
    fallback = message(2, to=[], client_recipients=["C@Example.com"])
    assert recipients_of(fallback) == ["c@example.com"]
    envelope = message(3, to=[], envelope_to=["d@example.com"])
    assert recipients_of(envelope) == ["d@example.com"]


def test_merged_recipients_keep_order_drop_repeats_and_are_capped() -> None:
    assert merged_recipients(["a", "b"], ["b", "c", "a", "d"]) == ["a", "b", "c", "d"]
    many = [f"u{n}@example.com" for n in range(RECIPIENTS_KEEP + 20)]
    capped = merged_recipients(many[:10], many)
    assert capped == many[:RECIPIENTS_KEEP]


def test_as_root_counts_the_first_message_only() -> None:
    queued = plan(
        CHANNEL, [item(message(1, to=["x@example.com"]))], {}, window_seconds=HOUR, now=T0
    )
    first = message(7, to=["Y@example.com", "y@example.com"], at=T0 + timedelta(minutes=3))
    root = as_root(queued[0].campaign, first, T0)
    assert (root.count, root.recipients, root.root_ts) == (1, ["y@example.com"], None)
    assert root.first_seen == root.last_seen == T0 + timedelta(minutes=3)
    assert root.key == queued[0].campaign.key
    assert queued[0].campaign.count == 0, "the planned campaign itself is unchanged"


def test_as_root_caps_the_recipients() -> None:
    wide = message(1, to=[f"u{n}@example.com" for n in range(RECIPIENTS_KEEP + 5)])
    (planned,) = plan(CHANNEL, [item(wide)], {}, window_seconds=HOUR, now=T0)
    assert len(as_root(planned.campaign, wide, T0).recipients) == RECIPIENTS_KEEP


def test_grown_adds_the_messages_count_recipients_and_latest_time() -> None:
    first = message(1, to=["a@example.com"], at=T0)
    campaign = as_root(stored(first, "1.1", 1, T0).campaign, first, T0)
    campaign.root_ts = "1.1"
    more = [
        message(2, to=["b@example.com", "a@example.com"], at=T0 + timedelta(minutes=20)),
        message(3, to=["c@example.com"], at=T0 + timedelta(minutes=10)),
    ]
    after = grown(campaign, more, T0, ["k2", *campaign.keys, "k3"])
    assert after.count == 3
    assert after.keys == [*campaign.keys, "k2", "k3"]
    assert after.recipients == ["a@example.com", "b@example.com", "c@example.com"]
    assert after.last_seen == T0 + timedelta(minutes=20), "the latest, not the last in order"
    assert (after.first_seen, after.root_ts, after.key) == (T0, "1.1", campaign.key)
    assert campaign.count == 1 and campaign.recipients == ["a@example.com"], "input unchanged"


def test_grown_caps_the_recipients() -> None:
    first = message(1, to=[f"u{n}@example.com" for n in range(RECIPIENTS_KEEP - 1)])
    campaign = as_root(stored(first, "1.1", 1, T0).campaign, first, T0)
    more = [message(2, to=["late1@example.com", "late2@example.com"])]
    after = grown(campaign, more, T0)
    assert len(after.recipients) == RECIPIENTS_KEEP
    assert after.recipients[-1] == "late1@example.com"
    assert after.count == 2
