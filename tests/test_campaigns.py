"""Campaign grouping (bot.services.alerts.campaigns) as the pure functions it is: no Redis, no
API, no Slack. Which queued message starts a campaign, which goes into whose thread, and what a
campaign's counter and recipients become."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from bot.cloudflare.models import MessageDetails, PhishGuardReport
from bot.services.alerts.campaigns import (
    RECIPIENTS_KEEP,
    as_root,
    campaign_key,
    campaign_keys,
    campaign_sender,
    campaign_subject,
    grown,
    merged_recipients,
    plan,
    recipients_of,
)
from bot.services.alerts.models import Campaign, Item, StoredCampaign

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


def item(m: MessageDetails) -> Item:
    return Item(f"m:{m.id}", message=m)


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
        key=campaign_key(CHANNEL, m),
        channel=CHANNEL,
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


# -- keys: sender and subject normalisation ----------------------------------------------------


def test_sender_is_trimmed_and_lower_cased_falling_back_to_the_envelope() -> None:
    assert campaign_sender(message(1, sender="  Boss@Evil.EXAMPLE ")) == "boss@evil.example"
    fallback = message(2, sender="", envelope_from="Bounce@Evil.example")
    assert campaign_sender(fallback) == "bounce@evil.example"
    assert campaign_sender(message(3, sender="")) is None


def test_subject_whitespace_is_collapsed_and_its_case_kept() -> None:
    assert campaign_subject(message(1, subject="  Urgent \t wire\n transfer ")) == (
        "Urgent wire transfer"
    )
    assert campaign_subject(message(2, subject="   ")) is None
    spaced = message(3, subject="Urgent   wire transfer ")
    assert campaign_key(CHANNEL, spaced) == campaign_key(CHANNEL, message(4))
    shouting = message(5, subject="URGENT WIRE TRANSFER")
    assert campaign_key(CHANNEL, shouting) != campaign_key(CHANNEL, message(6))


def test_key_depends_on_channel_sender_and_subject_only() -> None:
    base = campaign_key(CHANNEL, message(1))
    assert campaign_key(CHANNEL, message(2, sender="BOSS@evil.example", to=["x@y"])) == base
    assert campaign_key(OTHER, message(1)) != base
    assert campaign_key(CHANNEL, message(1, sender="other@evil.example")) != base
    assert campaign_key(CHANNEL, message(1, subject="Another subject")) != base


def test_campaign_keys_are_distinct_in_order_and_skip_reports() -> None:
    a, b = message(1), message(2, sender="other@evil.example")
    items = [item(b), report_item(7), item(a), item(message(3, sender="other@evil.example"))]
    assert campaign_keys(CHANNEL, items) == [campaign_key(CHANNEL, b), campaign_key(CHANNEL, a)]


# -- planning ----------------------------------------------------------------------------------


def test_same_sender_and_subject_within_the_window_is_one_campaign() -> None:
    batch = [item(message(n, at=T0 + timedelta(minutes=10 * n))) for n in range(4)]
    plans = plan(CHANNEL, batch, {}, window_seconds=HOUR, now=T0)
    assert len(plans) == 1
    (only,) = plans
    assert only.root is batch[0]
    assert ids(only.follow) == ids(batch[1:])
    assert only.campaign.key == campaign_key(CHANNEL, message(0))
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
    assert plans[0].campaign.key == plans[1].campaign.key


def test_a_different_channel_is_a_different_campaign() -> None:
    m = message(1)
    here = plan(CHANNEL, [item(m)], {}, window_seconds=HOUR, now=T0)
    there = plan(OTHER, [item(m)], {}, window_seconds=HOUR, now=T0)
    assert here[0].campaign.key != there[0].campaign.key
    assert (here[0].campaign.channel, there[0].campaign.channel) == (CHANNEL, OTHER)
    # A campaign known in one channel does not take messages queued for another.
    known = {campaign_key(CHANNEL, m): stored(m, "1.000001", 3, T0)}
    again = plan(OTHER, [item(message(2))], known, window_seconds=HOUR, now=T0)
    assert len(again) == 1 and again[0].root is not None and again[0].campaign.root_ts is None


def test_messages_join_a_known_campaign_in_its_thread() -> None:
    first = message(1, at=T0)
    known = {campaign_key(CHANNEL, first): stored(first, "1700000000.000001", 2, T0)}
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
    known = {campaign_key(CHANNEL, first): stored(first, "1700000000.000001", 5, T0)}
    late = [item(message(n, at=T0 + timedelta(hours=2, minutes=n))) for n in (2, 3)]
    plans = plan(CHANNEL, late, known, window_seconds=HOUR, now=T0)
    assert len(plans) == 1, "the known campaign gets nothing, so it is not in the plan"
    (fresh,) = plans
    assert fresh.root is late[0] and ids(fresh.follow) == [late[1].id]
    assert fresh.campaign.root_ts is None and fresh.campaign.count == 0
    assert fresh.campaign.first_seen == T0 + timedelta(hours=2, minutes=2)


def test_order_is_kept_within_and_across_campaigns() -> None:
    a = [message(n, sender="a@evil.example") for n in (1, 3, 6)]
    b = [message(n, sender="b@evil.example") for n in (2, 5)]
    c = [message(4, sender="c@evil.example")]
    queue = [item(m) for m in (a[0], b[0], a[1], c[0], b[1], a[2])]
    plans = plan(CHANNEL, queue, {}, window_seconds=HOUR, now=T0)
    assert [p.campaign.sender for p in plans] == [
        "a@evil.example",
        "b@evil.example",
        "c@evil.example",
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
    after = grown(campaign, more, T0)
    assert after.count == 3
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
