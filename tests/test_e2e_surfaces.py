"""End to end: what people see tells the truth and fits. Copies of one message (one per
recipient) are told apart by their own recipient; approval lists are paged within Slack's block
limits; "Release all matching" says where its search stopped; the message shortcut shows its
card through its own response_url where the bot cannot post."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from blocks.limits import problems
from bot.cloudflare.models import PhishGuardReport
from bot.local import payloads
from bot.slack.alerts import ChannelPacer, SlackAlertSender
from tests.kit.factories import add, quarantined_messages
from tests.kit.flows import approval_card, request_id_of, thread_reply, updated_card
from tests.kit.servers import RedisProcess, SimulatorProcess
from tests.kit.slack import (
    APPROVER,
    BOT_TOKEN,
    BOTH,
    CHANNEL,
    OPERATOR,
    BotProcess,
    Slack,
    StandinProcess,
    has_action,
    text_of,
)

PEOPLE = ("alice@example.com", "bob@example.com", "carol@example.com")
SHOWN = {p: f"`{p}`" for p in PEOPLE}  # as the cards show them: the tenant's own, as they are
PAGE = "approvals_page"


def _copies(simulator: SimulatorProcess, postfix_id: str) -> list[str]:
    """One message to a distribution list, one copy (record) per mailbox: the header To is the
    same on every copy; only the envelope / client recipients tell them apart."""
    return [
        add(
            simulator,
            postfix_id=postfix_id,
            subject="Shared invoice",
            final_disposition="SPAM",
            to=["all-staff@example.com"],
            to_name=["All staff"],
            client_recipients=[person],
            envelope_to=[person],
        )
        for person in PEOPLE
    ]


def _rows(message: dict[str, Any]) -> dict[str, str]:
    """The chooser's rows: the id an "Open" button carries -> the row's text."""
    return {
        block["accessory"]["value"]: block["text"]["text"]
        for block in message["blocks"]
        if (block.get("accessory") or {}).get("action_id") == "msg_open"
    }


def test_the_chooser_and_the_card_name_each_copys_own_recipient(
    slack: Slack, simulator: SimulatorProcess
) -> None:
    ids = _copies(simulator, "Copies4455abcd")
    slack.command("lookup Copies4455abcd")
    rows = _rows(slack.private(OPERATOR, "Copies4455abcd"))
    assert set(rows) == set(ids), "one row per copy"
    for message_id, person in zip(ids, PEOPLE, strict=True):
        others = [SHOWN[p] for p in PEOPLE if p != person]
        assert SHOWN[person] in rows[message_id], rows[message_id]
        assert not any(other in rows[message_id] for other in others), rows[message_id]

    slack.command(f"lookup {ids[1]}")
    card = slack.card(lambda m: ids[1] in text_of(m))
    to = next(
        f["text"]
        for b in card["blocks"]
        for f in b.get("fields") or []
        if f["text"].startswith("*To*")
    )
    assert SHOWN["bob@example.com"] in to and SHOWN["alice@example.com"] not in to, to


def test_a_release_outcome_says_to_whom_it_was_delivered(
    slack: Slack, simulator: SimulatorProcess
) -> None:
    ids = _copies(simulator, "Copies7788efgh")
    slack.command(f"lookup {ids[2]}")
    card = slack.card(lambda m: ids[2] in text_of(m))
    slack.click(card, "msg_release")
    after = updated_card(slack, card["ts"], "Released")
    line = next(line for line in text_of(after).splitlines() if "Released" in line)
    assert f"delivered to {SHOWN['carol@example.com']}" in line, line
    thread_reply(slack, card["ts"], f"delivered to {SHOWN['carol@example.com']}")


# -- approval lists, paged ---------------------------------------------------------------------


def _requests(slack: Slack, simulator: SimulatorProcess, by: dict[str, int]) -> set[str]:
    """`by[user]` pending requests from each user (two messages each: the bulk rule)."""
    pair = [add(simulator, subject="Paged one"), add(simulator, subject="Paged two")]
    for user, count in by.items():
        for _ in range(count):
            assert slack.command(f"release {pair[0]} {pair[1]}", user=user).status_code == 200
    total = sum(by.values())

    def cards() -> list[dict[str, Any]] | None:
        found = [
            m for m in slack.standin.messages()
            if not m["ephemeral"] and has_action(m, "approval_approve")
        ]  # fmt: skip
        return found if len(found) >= total else None

    made = {request_id_of(card) for card in slack.wait(cards, f"{total} approval cards", 60)}
    assert len(made) == total
    return made


def _elements(blocks: list[dict[str, Any]], action_id: str) -> list[tuple[dict[str, Any], Any]]:
    found = []
    for block in blocks:
        for element in [*(block.get("elements") or []), block.get("accessory") or {}]:
            if element.get("action_id") == action_id:
                found.append((block, element))
    return found


def _entry(block: dict[str, Any], element: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "button", "action_id": element["action_id"], "block_id": block["block_id"],
        "value": element["value"], "action_ts": f"{time.time():.6f}",
    }  # fmt: skip


Page = dict[str, Any]  # a message or a Home view: what holds the blocks of one page


def _reach_all(
    first: Page, click: Callable[[Page, dict[str, Any], dict[str, Any]], Page]
) -> set[str]:
    """Every request id reachable from `first` by following "Next page" buttons; `click`
    answers the page a button leads to."""
    reached: set[str] = set()
    pages, followed = [first], set()
    while pages:
        page = pages.pop()
        reached |= {e["value"] for _, e in _elements(page["blocks"], "approval_approve")}
        for block, element in _elements(page["blocks"], PAGE):
            if element["value"] not in followed:
                followed.add(element["value"])
                pages.append(click(page, block, element))
    return reached


BY = {OPERATOR: 20, BOTH: 10}  # 30 pending; BOTH, an approver, waits on 20 and asked 10


@pytest.fixture
def own_bot(
    slack: Slack,
    shared_simulator: SimulatorProcess,
    standin: StandinProcess,
    redis_server: RedisProcess,
) -> Iterator[Slack]:
    """A bot of the test's own: thirty requests leave Home redraws paced under views.publish's
    tier for seconds after the test, which must not land in the next test's stand-in."""
    with BotProcess(shared_simulator, standin, redis_server.url) as process:
        yield Slack(process, standin)


def test_approvals_are_paged_within_slacks_limits_and_all_reachable(
    own_bot: Slack, simulator: SimulatorProcess
) -> None:
    slack = own_bot
    made = _requests(slack, simulator, BY)

    def answers(user: str) -> list[dict[str, Any]]:
        return [
            m for m in slack.standin.messages()
            if m["ephemeral"] and m.get("user") == user and has_action(m, "approval_approve")
        ]  # fmt: skip

    def fits(message: Page) -> Page:
        assert problems(message["blocks"], surface="message", text=message["text"]) == []
        return message

    def listed(user: str) -> set[str]:
        slack.command("approvals", user=user)
        first = slack.wait(lambda: answers(user), f"{user}'s list of approvals")[-1]

        def click(page: Page, block: dict[str, Any], element: dict[str, Any]) -> Page:
            before = len(answers(user))
            handles = slack.standin.hook(
                "POST", "response_urls", {"channel": CHANNEL, "user": user}
            )
            payload = payloads.block_actions(
                user, [_entry(block, element)], handles["trigger_id"], message=page,
                response_url=handles["url"],
            )  # fmt: skip
            assert slack.send(payloads.interaction(payload)).status_code == 200
            return fits(slack.wait(
                lambda: (lambda found: found[-1] if len(found) > before else None)(answers(user)),
                "the next page of approvals",
            ))  # fmt: skip

        return _reach_all(fits(first), click)

    assert listed(BOTH) == made, "both of BOTH's lists, every page"
    assert listed(APPROVER) == made
    # Within Slack's limits: nothing refused but a post over the channel's rate (the burst of
    # 30 commands in seconds), which the bot waits out (Retry-After) and posts again.
    refused = [(c["method"], c["error"]) for c in slack.standin.calls() if not c["ok"]]
    assert set(refused) <= {("chat.postMessage", "ratelimited")}, refused


def test_the_app_home_pages_approvals_within_its_limit(
    own_bot: Slack, simulator: SimulatorProcess
) -> None:
    slack = own_bot
    made = _requests(slack, simulator, BY)

    def published() -> list[Page]:
        return [
            e["view"] for e in slack.standin.hook("GET", "views")
            if e["kind"] == "publish" and e["user"] == BOTH
        ]  # fmt: skip

    # BOTH, a named approver, is redrawn as the requests come (coalesced: not once per
    # request): wait for the Home that shows them all (20 waiting, 10 of theirs).
    def complete() -> Page | None:
        last = (published() or [None])[-1]
        shown = len(_elements(last["blocks"], "approval_approve")) if last else 0
        return last if last is not None and "of 20" in text_of(last) and shown == 20 else None

    home = slack.wait(complete, "BOTH's Home with every request")

    def click(page: Page, block: dict[str, Any], element: dict[str, Any]) -> Page:
        before = len(published())
        start = int(element["value"].rsplit(":", 1)[1])
        payload = payloads.block_actions(BOTH, [_entry(block, element)], "", view=page)
        assert slack.send(payloads.interaction(payload)).status_code == 200

        def asked() -> Page | None:  # the page asked for, not a late redraw of the first
            found = [v for v in published()[before:] if f"· {start + 1}-" in text_of(v)]
            return found[-1] if found else None

        view: Page = slack.wait(asked, "the Home redrawn at the next page")
        assert problems(view["blocks"], surface="home") == []
        return view

    assert problems(home["blocks"], surface="home") == []
    assert _reach_all(home, click) == made
    assert [c for c in slack.standin.calls("views.publish") if not c["ok"]] == []


# -- Release all matching: past the search's cap, a query ---------------------------------------


def test_release_all_matching_past_its_cap_is_asked_as_a_query(
    slack: Slack,
    shared_simulator: SimulatorProcess,
    standin: StandinProcess,
    redis_server: RedisProcess,
) -> None:
    capped = BotProcess(shared_simulator, standin, redis_server.url, BOT_BULK_SEARCH_LIMIT="5")
    try:
        driver = Slack(capped, standin)
        messages = quarantined_messages(8, "Capd")
        for message in messages:
            message["subject"] = "Capd batch"
        shared_simulator.add_messages(messages)
        driver.command('search subject:"Capd batch"')
        driver.click(driver.private(OPERATOR, "Capd batch"), "search_release_all")
        driver.submit(driver.view("search_bulk_modal"), {"reason": "false positive campaign"})
        card = approval_card(driver)
        # Cloudflare gives no total: past the limit the ceiling is BOT_BULK_JOB_CEILING's.
        said = (
            "More than 5 messages match (Cloudflare gives no total, so the bot counted no "
            "further). The bulk job acts on every match still quarantined, at most 100,000 "
            "(BOT_BULK_JOB_CEILING)"
        )
        assert "Release the messages matching a search (more than 5 match; at most 100,000)" in (
            text_of(card)
        )
        assert said in text_of(card), text_of(card)
        driver.private(OPERATOR, said)
    finally:
        capped.stop()


# -- the message shortcut where the bot cannot post --------------------------------------------


@pytest.mark.parametrize(
    ("channel", "refusal", "said"),
    [
        ("C0NOTINVITED", "not_in_channel", "Invite me with `/invite @Email Security`"),
        ("D0TWOPEOPLE", "channel_not_found", "a direct message I'm not part of"),
    ],
)
def test_the_message_shortcut_answers_through_its_response_url(
    slack: Slack, simulator: SimulatorProcess, channel: str, refusal: str, said: str
) -> None:
    """In a channel the bot is not in, or a DM between two people, Slack refuses the card
    (the stand-in's own refusal, as a workspace's): the card goes to the person alone through
    the shortcut's own response_url (no ephemeral post, no DM), saying why."""
    message_id = add(simulator, subject="Looked up from elsewhere")
    posted = slack.standin.hook(
        "POST", "messages", {"channel": channel, "user": "U0REPORTER", "text": f"bad? {message_id}"}
    )
    message = next(m for m in slack.standin.messages(channel) if m["ts"] == posted["ts"])
    handles = slack.standin.hook("POST", "response_urls", {"channel": channel, "user": OPERATOR})
    payload = payloads.message_action(
        OPERATOR, "investigate_email", message, handles["url"], handles["trigger_id"]
    )
    assert slack.send(payloads.interaction(payload)).status_code == 200

    def answered() -> dict[str, Any] | None:
        return next(
            (
                m for m in slack.standin.messages(channel)
                if m["ephemeral"] and m["source"] == "response_url" and m["user"] == OPERATOR
            ),
            None,
        )  # fmt: skip

    answer = text_of(slack.wait(answered, "the shortcut's answer through its response_url"))
    assert "Looked up from elsewhere" in answer and message_id in answer, "the card itself"
    assert "Only you see this card" in answer and said in answer, answer
    assert [c["error"] for c in slack.standin.calls("chat.postMessage")] == [refusal]
    assert slack.standin.calls("chat.postEphemeral") == []
    assert slack.standin.calls("conversations.open") == [], "no DM: the response_url sufficed"


# -- notification text -------------------------------------------------------------------------


async def test_a_phishguard_reports_notification_text_is_made_safe(standin: StandinProcess) -> None:
    """The `text` of a post is what a notification shows: a report's title, written by whoever
    reported the message, gets no mention and no link there either."""
    standin.hook("POST", "reset")
    report = PhishGuardReport.model_validate(
        {
            "id": 7, "title": "<!channel> <https://evil.example|click>", "content": "look",
            "priority": "high", "disposition": "MALICIOUS", "fields": {"to": [], "from": None},
        }
    )  # fmt: skip
    sender = SlackAlertSender(
        AsyncWebClient(token=BOT_TOKEN, base_url=standin.api_url), ChannelPacer(0)
    )
    await sender.post_report("C0REPORTS", report, "report:r:1")
    [posted] = standin.messages("C0REPORTS")
    text = posted["text"]
    assert "<!channel>" not in text and "<https://" not in text and "https://evil" not in text
    assert "evil[.]example" in text, text
