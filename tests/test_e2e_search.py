"""End to end: search results you can act on. A page says how many match (or "more than N":
the API gives no total); each hit shows its id, recipient, disposition and quarantine state and
has a tick box; "Release selected" / "Move selected…" make one action or one approval request
of exactly the ticked hits, under the rules of `/email release <id> <id>`; "Open" shows the
card privately, and "Share in channel" posts it there."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.kit.factories import add
from tests.kit.flows import approval_card, calls_to, released_ids, updated_card
from tests.kit.http import LOCAL
from tests.kit.servers import ACCOUNT_ID, API_TOKEN, RedisProcess, SimulatorProcess
from tests.kit.slack import (
    CHANNEL,
    OPERATOR,
    VIEWER,
    BotProcess,
    Slack,
    StandinProcess,
    clean_slate,
    has_action,
    text_of,
)

PICK, OPEN, SHARE = "search_pick", "search_open", "msg_share"
RELEASE_SELECTED, MOVE_SELECTED = "search_release_selected", "search_move_selected"


@pytest.fixture(scope="module")
def roomy_bot(
    shared_simulator: SimulatorProcess, standin: StandinProcess, redis_server: RedisProcess
) -> Iterator[BotProcess]:
    """A bot whose bulk rule starts at 3 messages, so that two ticked hits are one action."""
    with BotProcess(shared_simulator, standin, redis_server.url, BOT_BULK_THRESHOLD="3") as bot:
        yield bot


@pytest.fixture
def roomy(
    roomy_bot: BotProcess,
    standin: StandinProcess,
    simulator: SimulatorProcess,
    redis_server: RedisProcess,
) -> Slack:
    clean_slate(standin, redis_server.url)
    return Slack(roomy_bot, standin)


def modals(slack: Slack) -> list[dict[str, Any]]:
    """The modals opened or changed (Home tabs are views too, but no modal)."""
    return [e for e in slack.standin.hook("GET", "views") if e["kind"] != "publish"]


def seed(simulator: SimulatorProcess, tag: str, count: int, **fields: Any) -> list[str]:
    """`count` messages with the subject "<tag> <i>", each to its own recipient."""
    ids = []
    for i in range(count):
        postfix, to = f"{tag}{i:04d}abcdefg", [f"person{i}@example.com"]
        ids.append(add(simulator, postfix_id=postfix, subject=f"{tag} {i}", to=to, **fields))
    return ids


def search(slack: Slack, tag: str) -> dict[str, Any]:
    """The first page of a search for `tag` (not an earlier search's page: its own)."""
    slack.command(f'search subject:"{tag}"')
    return slack.private(OPERATOR, f"* subject:{tag}")


def hit_texts(page: dict[str, Any]) -> dict[str, str]:
    """Each hit's text by the id its tick box carries."""
    return {
        block["accessory"]["options"][0]["value"]: block["text"]["text"]
        for block in page["blocks"]
        if (block.get("accessory") or {}).get("action_id") == PICK
    }


def quarantined(simulator: SimulatorProcess, message_id: str) -> bool:
    """The message's state in the simulator, as the API reports it."""
    url = f"{simulator.base_url}/accounts/{ACCOUNT_ID}/email-security/investigate/{message_id}"
    answer = LOCAL.get(url, headers={"Authorization": f"Bearer {API_TOKEN}"}, timeout=10)
    return bool(answer.json()["result"]["is_quarantined"])


def public(slack: Slack) -> list[dict[str, Any]]:
    return [m for m in slack.standin.messages(CHANNEL) if not m["ephemeral"]]


# -- how many match, and what each hit shows ---------------------------------------------------


def test_a_page_says_how_many_match_and_what_each_hit_is(
    slack: Slack, simulator: SimulatorProcess
) -> None:
    ids = seed(simulator, "Headcount", 13)
    first = search(slack, "Headcount")
    assert "More than 10 messages match" in text_of(first), "the API gives no total"
    assert "showing 1-10" in text_of(first)
    slack.click(first, "search_more")
    second = slack.private(OPERATOR, "13 messages match")
    assert "showing 11-13" in text_of(second)

    hits = hit_texts(first) | hit_texts(second)
    assert set(hits) == set(ids), "every hit has a tick box carrying its id"
    for i, message_id in enumerate(ids):
        text = hits[message_id]
        assert f"`{message_id}`" in text, "the whole id, to copy"
        assert f"`person{i}@example.com`" in text, "this copy's recipient, as it is"
        assert "SPAM" in text and "Quarantined" in text, text

    delivered = seed(simulator, "Notheld", 1, is_quarantined=False)
    page = search(slack, "Notheld")
    assert "1 message matches" in text_of(page) and "showing" not in text_of(page)
    assert "Not quarantined (delivered)" in hit_texts(page)[delivered[0]]


# -- acting on the ticked hits -----------------------------------------------------------------


def test_release_selected_releases_exactly_the_ticked_hits(
    roomy: Slack, simulator: SimulatorProcess
) -> None:
    ids = seed(simulator, "Tickrel", 4)
    page = search(roomy, "Tickrel")
    chosen = [ids[1], ids[3]]
    tick = roomy.click(page, PICK, ticked=[ids[1]], value=ids[1])
    assert tick.status_code == 200, "a tick is acknowledged"
    roomy.click(page, RELEASE_SELECTED, ticked=chosen)

    note = text_of(roomy.private(OPERATOR, "Released"))
    assert all(f"`{i}`" in note for i in chosen) and f"`{ids[0]}`" not in note, note
    [call] = calls_to(simulator, "/investigate/release")
    assert sorted(call["body"]) == sorted(chosen), "one release of exactly the ticked hits"
    assert sorted(released_ids(simulator)) == sorted(chosen)
    assert [quarantined(simulator, i) for i in ids] == [True, False, True, False]
    for message_id in chosen:  # as `/email release` does: a card shows each outcome
        roomy.card(lambda m, i=message_id: i in text_of(m) and "Released" in text_of(m))
    answers = [m for m in roomy.standin.messages() if m["ephemeral"]]
    assert len(answers) == 2, "the page and the note: the tick itself answered nothing"


def test_ticked_hits_over_the_threshold_make_one_request_of_exactly_them(
    roomy: Slack, simulator: SimulatorProcess
) -> None:
    ids = seed(simulator, "Tickbulk", 5)
    page = search(roomy, "Tickbulk")
    chosen = ids[:3]
    roomy.click(page, RELEASE_SELECTED, ticked=chosen)
    view = roomy.view("release_modal")
    assert all(i in text_of(view) for i in chosen) and ids[3] not in text_of(view)
    assert "BOT_BULK_THRESHOLD is 3" in text_of(view)
    roomy.submit(view, {"reason": "vendor newsletters"})

    card = text_of(approval_card(roomy))
    assert "Release 3 messages" in card and "vendor newsletters" in card
    assert all(i in card for i in chosen) and not any(i in card for i in ids[3:]), card
    note = text_of(roomy.private(OPERATOR, "Asked for approval"))
    assert all(f"`{i}`" in note for i in chosen), note
    approvals = [m for m in public(roomy) if has_action(m, "approval_approve")]
    assert len(approvals) == 1, "one request"
    assert calls_to(simulator, "/release") == [], "nothing is done before approval"
    assert all(quarantined(simulator, i) for i in ids)


def test_a_ticked_guarded_hit_makes_the_selection_one_request(
    roomy: Slack, simulator: SimulatorProcess
) -> None:
    spam = seed(simulator, "Tickguard", 2)
    phish = add(
        simulator, postfix_id="Tickguard9999abcdefg", subject="Tickguard phish",
        final_disposition="MALICIOUS",
    )  # fmt: skip
    page = search(roomy, "Tickguard")
    chosen = [spam[0], phish]
    roomy.click(page, RELEASE_SELECTED, ticked=chosen)
    view = roomy.view("release_modal")
    assert "MALICIOUS" in text_of(view)
    roomy.submit(view, {"reason": "checked with the sender"})

    card = text_of(approval_card(roomy))
    assert "Release 2 messages" in card and "includes 1 MALICIOUS" in card
    assert spam[0] in card and phish in card and spam[1] not in card, card
    assert calls_to(simulator, "/release") == []


def test_move_selected_moves_the_ticked_hits_through_the_move_modal(
    roomy: Slack, simulator: SimulatorProcess
) -> None:
    ids = seed(simulator, "Tickmove", 3)
    page = search(roomy, "Tickmove")
    chosen = [ids[0], ids[2]]
    roomy.click(page, MOVE_SELECTED, ticked=chosen)
    view = roomy.view("move_modal", containing="2 selected messages")
    assert all(i in text_of(view) for i in chosen) and ids[1] not in text_of(view)
    roomy.submit(view, {"folder": "JunkEmail"})

    note = text_of(roomy.private(OPERATOR, "Moved to JunkEmail"))
    assert all(f"`{i}`" in note for i in chosen), note
    [call] = calls_to(simulator, "/investigate/move")
    assert call["body"]["destination"] == "JunkEmail"
    assert sorted(call["body"]["ids"]) == sorted(chosen), "one move of exactly the ticked hits"


def test_acting_with_nothing_ticked_says_to_tick_first(
    slack: Slack, simulator: SimulatorProcess
) -> None:
    seed(simulator, "Untick", 2)
    page = search(slack, "Untick")
    slack.click(page, RELEASE_SELECTED)
    slack.private(OPERATOR, "Tick the hits to act on first")
    slack.click(page, MOVE_SELECTED)
    answers = slack.wait(
        lambda: (lambda found: found if len(found) == 2 else None)(
            [m for m in slack.standin.messages() if "Tick the hits" in text_of(m)]
        ),
        "the second answer",
    )
    assert all(m["ephemeral"] and m["user"] == OPERATOR for m in answers)
    assert not modals(slack), "no modal"
    assert simulator.calls() == []


def test_a_viewer_is_refused_before_any_modal(slack: Slack, simulator: SimulatorProcess) -> None:
    ids = seed(simulator, "Viewtick", 2)
    slack.command('search subject:"Viewtick"', user=VIEWER)
    page = slack.private(VIEWER, "match")
    slack.click(page, MOVE_SELECTED, user=VIEWER, ticked=ids)
    slack.private(VIEWER, "operator role")
    slack.click(page, RELEASE_SELECTED, user=VIEWER, ticked=ids)
    slack.wait(
        lambda: len([m for m in slack.standin.messages() if "operator role" in text_of(m)]) == 2,
        "the second refusal",
    )
    assert not modals(slack), "no modal"
    assert simulator.calls() == []


# -- Open: privately, then shared --------------------------------------------------------------


def test_open_shows_the_card_privately_and_share_posts_it(
    slack: Slack, simulator: SimulatorProcess
) -> None:
    [message_id] = seed(simulator, "Peek", 1)
    page = search(slack, "Peek")
    slack.click(page, OPEN, value=message_id)
    private = slack.private(OPERATOR, "Only you can see this card")
    assert "Peek 0" in text_of(private) and has_action(private, "msg_trace")
    assert public(slack) == [], "nothing is posted in the channel"

    slack.click(private, SHARE)
    card = slack.card(lambda m: message_id in text_of(m))
    assert "Peek 0" in text_of(card) and not has_action(card, SHARE)
    replaced = slack.private(OPERATOR, "Shared in the channel")
    assert replaced["ts"] == private["ts"], "the private card is replaced, not repeated"

    slack.command(f"release {message_id}")
    updated_card(slack, card["ts"], "Released")  # a card like any other: it follows


def test_the_private_cards_menu_acts_on_its_own_message(
    slack: Slack, simulator: SimulatorProcess
) -> None:
    """A menu's value is its choice: on a private card (no post to find it by) the message
    is the one its block names, not the folder chosen."""
    [message_id] = seed(simulator, "Pmenu", 1)
    slack.click(search(slack, "Pmenu"), OPEN, value=message_id)
    private = slack.private(OPERATOR, "Only you can see this card")
    slack.click(private, "msg_move", option="JunkEmail")
    view = slack.view("move_modal", containing=message_id)
    slack.submit(view, {"folder": "JunkEmail"})
    slack.card(lambda m: message_id in text_of(m) and "Moved to JunkEmail" in text_of(m))
    [call] = calls_to(simulator, f"/investigate/{message_id}/move")
    assert call["body"] == {"destination": "JunkEmail"}
