"""Renderers of issue 12's "smaller untruths", from data alone: approval lists paged within
Slack's block limits (a message 50, the App Home 100), each copy of a message named by its own
recipient (chooser, card, release outcome), and a PhishGuard title kept out of the
notification text."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from slack_sdk.models.blocks import Block

from blocks import chooser, message_card, problems, view_problems
from blocks.alerts import report_text
from blocks.approvals import LIST_PAGE, ListPage, approvals_list
from blocks.home import home_view
from blocks.outcomes import LINE_CHARS, release_summary
from bot.cloudflare.models import PhishGuardReport, ReleaseResult
from bot.services.approvals import ApprovalRequest, ApprovalState, digest
from tests.kit.factories import make_message
from tests.kit.store import TEST_KEY

NOW = datetime(2026, 11, 21, tzinfo=UTC)
WORST = "&" * 5000  # `&` escapes to `&amp;`: every capped field at its longest


def request(n: int, requester: str = "U1", reason: str = WORST) -> ApprovalRequest:
    ids = [f"id{n:04d}-2026-01-01T00:00:00-0000abcd", f"id{n:04d}-2026-01-01T00:00:00-0000abce"]
    return ApprovalRequest(
        id=f"req{n:05d}", action="release", params={}, ids=ids,
        digest=digest(TEST_KEY, "release", {}, ids), requester=requester, reason=reason,
        rule="it touches 2 messages", summary=[], created_at=NOW,
        expires_at=NOW + timedelta(hours=1), required=1,
    )  # fmt: skip


def dicts(blocks: list[Block]) -> list[dict[str, Any]]:
    return [b.to_dict() for b in blocks]


def elements(blocks: list[dict[str, Any]], action_id: str) -> list[dict[str, Any]]:
    found = []
    for block in blocks:
        for element in [*(block.get("elements") or []), block.get("accessory") or {}]:
            if element.get("action_id") == action_id:
                found.append(element)
    return found


def every_page(requests: list[ApprovalRequest], first: ListPage) -> list[list[dict[str, Any]]]:
    """The pages one list shows, following its "Next page" buttons from `first`."""
    pages, page = [], first
    while True:
        blocks = dicts(approvals_list(requests, page))
        pages.append(blocks)
        [button] = elements(blocks, "approvals_page") or [None]
        if button is None or ListPage.load(button["value"]).start == 0:
            return pages
        page = ListPage.load(button["value"])


# -- approval lists ----------------------------------------------------------------------------


@pytest.mark.parametrize("count", [0, 1, LIST_PAGE, LIST_PAGE + 1, 30, 250])
def test_the_approvals_answer_fits_a_message_and_reaches_every_request(count: int) -> None:
    """`/email approvals` for an approver with requests of their own: both lists, any length."""
    waiting = [request(n, "U2") for n in range(count)]
    mine = [request(1000 + n) for n in range(count)]
    first = approvals_list(waiting, ListPage("command", "waiting"))
    first += approvals_list(mine, ListPage("command", "mine"))
    assert problems(first, surface="message", text=f"{2 * count} pending") == []
    for requests, name in ((waiting, "waiting"), (mine, "mine")):
        pages = every_page(requests, ListPage("command", name))
        for blocks in pages:
            assert problems(blocks, surface="message") == []
        reached = {e["value"] for blocks in pages for e in elements(blocks, "approval_approve")}
        assert reached == {r.id for r in requests}


def test_a_later_page_says_where_it_is_and_the_last_leads_back_to_the_first() -> None:
    requests = [request(n) for n in range(25)]
    middle = json.dumps(dicts(approvals_list(requests, ListPage("command", "mine", 10))))
    assert "11-20 of 25" in middle and "5 more on the next pages" in middle
    last = dicts(approvals_list(requests, ListPage("home", "mine", 20)))
    [button] = elements(last, "approvals_page")
    assert ListPage.load(button["value"]) == ListPage("home", "mine", 0)
    assert button["text"]["text"] == "First page"


def test_a_page_past_the_end_of_a_shrunken_list_shows_its_last_page() -> None:
    requests = [request(n) for n in range(12)]
    blocks = dicts(approvals_list(requests, ListPage("command", "waiting", 40)))
    assert {e["value"] for e in elements(blocks, "approval_approve")} == {"req00010", "req00011"}


@pytest.mark.parametrize(
    "value", ["", "home:waiting", "home:all:0", "dm:mine:0", "home:mine:-1", "home:mine:1e3"]
)
def test_a_page_value_that_is_not_ours_is_refused(value: str) -> None:
    with pytest.raises(ValueError, match="not a page"):
        ListPage.load(value)


def test_page_values_round_trip() -> None:
    for page in (ListPage("home", "waiting", 0), ListPage("command", "mine", 120)):
        assert ListPage.load(page.dump()) == page


@pytest.mark.parametrize("page", [None, ListPage("home", "waiting", 20), ListPage("home", "mine")])
def test_the_app_home_fits_whatever_is_pending(page: ListPage | None) -> None:
    waiting = [request(n, "U2") for n in range(300)]
    mine = [request(1000 + n) for n in range(300)]
    recent = [request(2000 + n).model_copy(update={"state": ApprovalState.DONE}) for n in range(10)]
    view = home_view(
        roles=["viewer", "operator", "approver"], waiting=waiting, mine=mine, recent=recent,
        command="/email", page=page,
    )  # fmt: skip
    assert view_problems(view) == []
    assert len(view.blocks) < 100, "nothing is cut off: the commands' help stays at the bottom"
    assert "Email Security commands" in json.dumps(view.to_dict())


def test_a_home_page_of_one_list_leaves_the_other_on_its_first_page() -> None:
    waiting = [request(n, "U2") for n in range(30)]
    mine = [request(1000 + n) for n in range(30)]
    view = home_view(
        roles=["approver"], waiting=waiting, mine=mine, recent=[], command="/email",
        page=ListPage("home", "waiting", 20),
    )  # fmt: skip
    shown = {e["value"] for e in elements(view.to_dict()["blocks"], "approval_approve")}
    assert shown == {r.id for r in waiting[20:30]} | {r.id for r in mine[:LIST_PAGE]}


# -- copies told apart -------------------------------------------------------------------------


def copy_to(person: str, **changes: Any) -> Any:
    """One copy of a message sent to a list: the header To names the list, not the mailbox."""
    return make_message(
        id=f"Abcd1234-2026-11-21T05:17:05-{abs(hash(person)) % 10**8:08d}",
        to=["all-staff@example.com"], to_name=["All staff"],
        client_recipients=[person], envelope_to=[person], **changes,
    )  # fmt: skip


def test_chooser_rows_name_each_copys_recipient() -> None:
    people = ["alice@example.com", "bob@example.com"]
    blocks = dicts(chooser([copy_to(p) for p in people], "Abcd1234"))
    rows = [b["text"]["text"] for b in blocks if b.get("accessory")]
    assert "`alice@example.com`" in rows[0] and "bob@example.com" not in rows[0]
    assert "`bob@example.com`" in rows[1] and "alice@example.com" not in rows[1]


def test_the_card_names_this_copys_recipient_and_the_header_to_beside_it() -> None:
    blocks = dicts(message_card(copy_to("bob@example.com"), None, []))
    to = next(f["text"] for b in blocks for f in b.get("fields") or [] if f["text"][:4] == "*To*")
    assert to.splitlines()[1] == "`bob@example.com`", "the tenant's mailbox, as it is"
    assert to.splitlines()[2] == "header: All staff &lt;all-staff@example[.]com&gt;", (
        "what the sender claimed: defanged"
    )


def test_the_card_shows_one_recipient_line_when_the_header_to_is_the_copys() -> None:
    blocks = dicts(message_card(make_message(), None, []))
    to = next(f["text"] for b in blocks for f in b.get("fields") or [] if f["text"][:4] == "*To*")
    assert to == "*To*\nNoah Fischer `noah.fischer@eu.example.com`"


def test_worst_case_card_with_copy_and_header_recipients_fits() -> None:
    message = make_message(
        subject=WORST, to=[WORST + "t"] * 300, to_name=[WORST] * 300,
        client_recipients=[WORST] * 300, envelope_to=[WORST] * 300,
    )  # fmt: skip
    for compact in (False, True):
        assert problems(message_card(message, None, [], compact=compact), surface="message") == []


# -- release outcomes --------------------------------------------------------------------------


def result(**lists: list[str]) -> ReleaseResult:
    return ReleaseResult(id="x", **lists)


@pytest.mark.parametrize(
    ("released", "said"),
    [
        (result(delivered=["bob@example.com"]), "✅ Released: delivered to `bob@example.com`"),
        (
            result(delivered=["a@x.example", "b@x.example"], failed=["bounce@x.example"]),
            "⚠️ Released in part: delivered to `a@x.example`, `b@x.example`; "
            "failed for `bounce@x.example`",
        ),
        (result(failed=["bounce@x.example"]), "❌ Release failed for `bounce@x.example`"),
        (result(undelivered=["c@x.example"]), "⚠️ Release undelivered for `c@x.example`"),
        (
            result(delivered=[f"u{i}@x.example" for i in range(7)]),
            "✅ Released: delivered to `u0@x.example`, `u1@x.example`, `u2@x.example` and 4 more",
        ),
    ],
)
def test_a_release_outcome_says_to_whom(released: ReleaseResult, said: str) -> None:
    assert release_summary(released) == said


def test_a_release_outcome_naming_hostile_recipients_is_safe_and_bounded() -> None:
    hostile = ["<!channel>@evil.example", "<https://evil.example|x>", WORST]
    line = release_summary(result(delivered=hostile * 3, failed=hostile * 3, undelivered=hostile))
    assert "<!channel>" not in line and "<https://" not in line
    assert len(line) <= LINE_CHARS
    assert line.endswith("and 6 more; undelivered for " + ", ".join(
        ["`&lt;!channel&gt;@evil.example`", "`&lt;https://evil.example|x&gt;`",
         "`" + "&amp;" * 9 + "…`"]
    ))  # fmt: skip


# -- notification text -------------------------------------------------------------------------


def test_a_phishguard_title_reaches_the_notification_text_made_safe() -> None:
    report = PhishGuardReport.model_validate(
        {
            "id": 1, "title": "<!channel> <https://evil.example|click>", "content": "",
            "priority": "high", "disposition": "MALICIOUS", "fields": {},
        }
    )  # fmt: skip
    text = report_text(report)
    assert text == "PhishGuard report: &lt;!channel&gt; &lt;hxxps://evil[.]example|click&gt;"
    assert problems([], surface="message", text=text) == []
