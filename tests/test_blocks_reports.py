"""The VIP list, submissions and PhishGuard renderers within Block Kit's limits: the largest
page of the most hostile names, subjects and report texts; what is attacker text is made safe;
and the parsers of `vip`, `submissions` and `phishguard`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from blocks.phishguard import reports_list
from blocks.submissions import submissions_list
from blocks.vip import add_confirmation, read_add_value, vip_added_text, vip_list
from bot.cloudflare.models import PhishGuardReport, Submission
from bot.cloudflare.settings_models import ImpersonationEntry
from bot.commands import UsageError, parse
from bot.report_commands import PhishGuardCommand, SubmissionsCommand, VipCommand
from bot.services.paging import PAGE
from bot.services.paging import page_key as vip_key
from bot.services.phishguard import REPORTS_SHOWN
from bot.services.phishguard import page_key as reports_key
from bot.services.submissions import page_key as submissions_key
from tests.kit.factories import HOSTILE_TEXT
from tests.test_blocks import WORST, all_text, assert_clean, assert_no_injection, by_action

AT = datetime(2026, 11, 1, 9, 30, tzinfo=UTC)


def vip(n: int, text: str = WORST, provenance: str = "A1S_INTERNAL") -> ImpersonationEntry:
    return ImpersonationEntry(
        id=f"0000000{n}-0000-4000-8000-00000000000{n % 10}", name=text, email=text,
        comments=text, provenance=provenance, created_at=AT,
    )  # fmt: skip


def test_the_largest_vip_page_fits_and_only_manual_entries_have_remove() -> None:
    entries = [vip(n, provenance="SNOOPY-OFFICE_365" if n < 2 else "A1S_INTERNAL")
               for n in range(PAGE)]  # fmt: skip
    more = vip_key(2, WORST[:200])
    blocks = vip_list(entries, text=WORST, shown_before=0, total=10**9, more=more)
    assert_clean(blocks)
    assert [e["value"] for e in by_action(blocks, "vip_remove")] == [e.id for e in entries[2:]]
    assert [e["value"] for e in by_action(blocks, "vip_more")] == [more]
    assert all_text(blocks).count("synced from Microsoft 365") == 2


def test_vip_names_are_attacker_text_and_the_add_value_round_trips() -> None:
    blocks = vip_list([vip(1, HOSTILE_TEXT)], text=HOSTILE_TEXT, shown_before=0, total=1,
                      more=None)  # fmt: skip
    assert_clean(blocks)
    assert_no_injection(blocks)
    question = add_confirmation("ceo@example.com", HOSTILE_TEXT[:100])
    assert_clean(question)
    assert_no_injection(question)
    [button] = by_action(question, "vip_add")
    assert read_add_value(button["value"]) == ("ceo@example.com", HOSTILE_TEXT[:100])
    with pytest.raises(ValueError, match="not an Add button"):
        read_add_value('{"email": 1}')
    assert "could not record" in vip_added_text(vip(2, "x"), unaudited=True)


def submission(n: int, text: str = WORST) -> Submission:
    return Submission(
        submission_id=f"sub-{n}", requested_at=AT, requested_by=text, type="Team",
        status="completed", subject=text, original_disposition="SPAM",
        requested_disposition="NONE", outcome="Reclassified", outcome_disposition="NONE",
        original_postfix_id=text,
    )  # fmt: skip


def test_the_largest_submissions_page_fits() -> None:
    page = [submission(n) for n in range(PAGE)]
    more = submissions_key(2, timedelta(days=90), "completed")
    blocks = submissions_list(page, since=timedelta(days=90), status="completed", shown_before=0,
                              total=10**9, more=more)  # fmt: skip
    assert_clean(blocks)
    assert [e["value"] for e in by_action(blocks, "submissions_more")] == [more]
    hostile = submissions_list([submission(1, HOSTILE_TEXT)], since=timedelta(hours=12),
                               status=None, shown_before=0, total=1, more=None)  # fmt: skip
    assert_no_injection(hostile)
    text = all_text(hostile)
    assert "SPAM → asked NONE · completed: Reclassified (NONE)" in text
    assert "in the last 12 hours" in text


def report(n: int, text: str = WORST) -> PhishGuardReport:
    return PhishGuardReport.model_validate({
        "id": n, "title": text, "content": text, "priority": text, "disposition": "MALICIOUS",
        "fields": {"postfix_id": f"PG{n:010d}x", "from": text, "to": [text] * 20},
        "tags": [{"category": text, "value": text}] * 20, "created_at": AT.isoformat(),
    })  # fmt: skip


def test_the_largest_reports_page_fits_with_open_on_each_and_more() -> None:
    reports = [report(n) for n in range(REPORTS_SHOWN)]
    more = reports_key(1000, datetime(9999, 12, 31, tzinfo=UTC), timedelta(days=90))
    blocks = reports_list(reports, 10**6, timedelta(days=90), shown_before=10**6 - 9, more=more)
    assert_clean(blocks)
    assert [e["value"] for e in by_action(blocks, "search_open")] == [
        r.fields.postfix_id for r in reports
    ]
    assert [e["value"] for e in by_action(blocks, "phishguard_more")] == [more]
    assert "showing 999992-999999" in all_text(blocks)
    last = reports_list(reports[:1], 9, timedelta(days=1), shown_before=8)
    assert not by_action(last, "phishguard_more") and "showing 9-9" in all_text(last)
    hostile = reports_list([report(1, HOSTILE_TEXT)], 1, timedelta(hours=6))
    assert_no_injection(hostile)
    assert "in the last 6 hours" in all_text(hostile)
    assert "No PhishGuard reports in the last 7 days" in all_text(
        reports_list([], 0, timedelta(days=7))
    )


def test_the_parsers() -> None:
    assert parse("vip") == VipCommand("list")
    assert parse("vip dana") == VipCommand("list", text="dana")
    assert parse("vip add CEO@Example[.]com Dana  Whitfield") == VipCommand(
        "add", email="ceo@example.com", name="Dana Whitfield"
    )
    assert parse("submissions") == SubmissionsCommand()
    assert parse("submissions since:24h status:Pending") == SubmissionsCommand(
        timedelta(hours=24), "pending"
    )
    assert parse("phishguard since:2w") == PhishGuardCommand(timedelta(weeks=2))
    for bad, problem, verb in (
        ("vip add ceo@example.com", "takes an email address and the person's name", "vip add"),
        ("vip add nobody Name", "is not an email address", "vip add"),
        (f"vip {'x' * 201}", "at most 200", "vip"),
        ("submissions since:7y", "takes a duration", "submissions"),
        ("submissions since:100d", "at most 90 days", "submissions"),
        ("submissions status:lost", "is one of pending, escalated, completed", "submissions"),
        ("submissions since:1d since:2d", "once", "submissions"),
        ("phishguard status:pending", "this takes `since:`", "phishguard"),
        ("phishguard since:", "needs a value", "phishguard"),
    ):
        with pytest.raises(UsageError, match=problem) as raised:
            parse(bad)
        assert raised.value.verb == verb
    with pytest.raises(UsageError, match="is not a command"):
        parse('"vip add" x')
