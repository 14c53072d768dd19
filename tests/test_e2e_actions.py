"""End to end: actions from commands, card buttons and modals; approval rules; card updates."""

from __future__ import annotations

from typing import Any

from tests.kit.factories import add
from tests.kit.flows import calls_to, thread_reply, updated_card
from tests.kit.servers import SimulatorProcess
from tests.kit.slack import APPROVER, GROUP_MEMBER, OPERATOR, VIEWER, Slack, has_action, text_of


def test_release_button_releases_and_updates_the_card(
    slack: Slack, simulator: SimulatorProcess
) -> None:
    message_id = add(simulator, subject="Held newsletter", final_disposition="BULK")
    slack.command(f"lookup {message_id}")
    card = slack.card()
    slack.click(card, "msg_release")
    after = updated_card(slack, card["ts"], "Released")
    assert not has_action(after, "msg_release"), "Release no longer applies"
    assert f"<@{OPERATOR}>" in text_of(after)
    thread_reply(slack, card["ts"], "Released")
    [call] = calls_to(simulator, "/investigate/release")
    assert call["body"] == [message_id]


def test_stale_release_click_is_explained(slack: Slack, simulator: SimulatorProcess) -> None:
    message_id = add(simulator, subject="Clicked twice")
    slack.command(f"lookup {message_id}")
    card = slack.card()
    slack.click(card, "msg_release")
    updated_card(slack, card["ts"], "Released")
    slack.click(card, "msg_release")  # the old card, as a second tab or a slow colleague sees it
    slack.private(OPERATOR, "not in quarantine")
    assert len(calls_to(simulator, "/investigate/release")) == 1


def test_guarded_release_needs_approval_and_does_nothing(
    slack: Slack, simulator: SimulatorProcess
) -> None:
    message_id = add(simulator, subject="Real phish", final_disposition="MALICIOUS")
    slack.command(f"release {message_id}")
    notice = text_of(slack.private(OPERATOR, "approval"))
    assert "MALICIOUS" in notice and f"<@{APPROVER}>" in notice
    assert calls_to(simulator, "/release") == []


def test_bulk_release_and_move_ask_for_approval(slack: Slack, simulator: SimulatorProcess) -> None:
    first, second = add(simulator, subject="one"), add(simulator, subject="two")
    slack.command(f"release {first} {second}")
    assert "BOT_BULK_THRESHOLD" in text_of(slack.private(OPERATOR, "Asked for approval"))
    slack.command(f"move {first} {second} junk")

    def cards() -> list[dict[str, Any]] | None:
        found = [m for m in slack.standin.messages() if has_action(m, "approval_approve")]
        return found if len(found) == 2 else None

    release, move = slack.wait(cards, "two approval cards")
    assert "Release 2 messages" in text_of(release)
    assert "Move 2 messages to JunkEmail" in text_of(move)
    assert simulator.calls() == [], "nothing is done before approval"


def test_release_command_posts_a_card_with_the_outcome(
    slack: Slack, simulator: SimulatorProcess
) -> None:
    message_id = add(simulator, subject="Release me", final_disposition="SPAM")
    slack.command(f"release {message_id}")
    card = slack.card(lambda m: "Released" in text_of(m))
    assert not has_action(card, "msg_release")


def test_group_member_is_an_operator(slack: Slack, simulator: SimulatorProcess) -> None:
    message_id = add(simulator, subject="Group act")
    slack.command(f"release {message_id}", user=GROUP_MEMBER)
    slack.card(lambda m: "Released" in text_of(m) and f"<@{GROUP_MEMBER}>" in text_of(m))


def test_viewer_cannot_act(slack: Slack, simulator: SimulatorProcess) -> None:
    message_id = add(simulator)
    slack.command(f"lookup {message_id}")
    slack.click(slack.card(), "msg_release", user=VIEWER)
    slack.private(VIEWER, "operator role")
    assert simulator.calls() == []


def test_move_menu_opens_a_modal_and_moves(slack: Slack, simulator: SimulatorProcess) -> None:
    message_id = add(simulator, subject="Move me")
    slack.command(f"lookup {message_id}")
    card = slack.card()
    slack.click(card, "msg_move", option="JunkEmail")
    view = slack.view("move_modal")
    assert slack.submit(view, {"folder": "DeletedItems"}).status_code == 200
    updated_card(slack, card["ts"], "Moved to DeletedItems")
    [call] = calls_to(simulator, f"/investigate/{message_id}/move")
    assert call["body"] == {"destination": "DeletedItems"}


def test_move_command(slack: Slack, simulator: SimulatorProcess) -> None:
    message_id = add(simulator, subject="Move by command")
    slack.command(f"move {message_id} inbox")
    slack.card(lambda m: "Moved to Inbox" in text_of(m))


def test_reclassify_modal_with_reason(slack: Slack, simulator: SimulatorProcess) -> None:
    message_id = add(simulator, subject="Not spam at all", final_disposition="SPAM")
    slack.command(f"lookup {message_id}")
    card = slack.card()
    slack.click(card, "msg_reclassify", option="NONE")
    view = slack.view("reclassify_modal")
    slack.submit(view, {"disposition": "NONE", "reason": "Known vendor <@U999> <!channel>"})
    after = text_of(updated_card(slack, card["ts"], "Reclassification as NONE"))
    assert "Known vendor" in after and "<!channel>" not in after and "<@U999>" not in after
    [call] = calls_to(simulator, "/reclassify")
    assert call["body"]["expected_disposition"] == "NONE"


def test_reclassify_command(slack: Slack, simulator: SimulatorProcess) -> None:
    message_id = add(simulator, subject="Reclassify by command", final_disposition="NONE")
    slack.command(f"reclassify {message_id} malicious")
    slack.card(lambda m: "Reclassification as MALICIOUS" in text_of(m))


def test_block_sender_modal_blocks_the_domain(slack: Slack, simulator: SimulatorProcess) -> None:
    message_id = add(simulator, subject="Block them", **{"from": "crook@badlands.example"})
    slack.command(f"lookup {message_id}")
    card = slack.card()
    slack.click(card, "msg_block")

    view = slack.view("block_modal", containing="badlands")
    slack.submit(view, {"pattern_type": "DOMAIN", "comment": "campaign"})
    updated_card(slack, card["ts"], "Blocked domain")
    [call] = calls_to(simulator, "/settings/block_senders")
    assert call["body"]["pattern"] == "badlands.example"
    assert call["body"]["pattern_type"] == "DOMAIN"


def test_block_command(slack: Slack, simulator: SimulatorProcess) -> None:
    slack.command("block phisher@evil.example")
    view = slack.view("block_modal", containing="in the last 30 days")
    assert calls_to(simulator, "/settings/block_senders") == [], "it confirms first"
    slack.submit(view, {"pattern_type": "EMAIL"})
    slack.wait(
        lambda: [m for m in slack.standin.messages() if "Blocked email" in text_of(m)],
        "the block announced",
    )
    [call] = calls_to(simulator, "/settings/block_senders")
    assert call["body"]["pattern"] == "phisher@evil.example"


def test_preview_and_trace_buttons(slack: Slack, simulator: SimulatorProcess) -> None:
    message_id = add(simulator, subject="Buttons", final_disposition="SUSPICIOUS")
    slack.command(f"lookup {message_id}")
    card = slack.card()
    slack.click(card, "msg_preview")
    slack.wait(
        lambda: [f for f in slack.standin.hook("GET", "files") if f["thread_ts"] == card["ts"]],
        "a preview in the thread",
    )
    slack.click(card, "msg_raw")
    slack.wait(
        lambda: [f for f in slack.standin.hook("GET", "files") if f["filename"].endswith(".eml")],
        "the raw EML",
    )
    slack.click(card, "msg_trace")
    thread_reply(slack, card["ts"], "Trace")


def test_direct_actions_are_audited(slack: Slack, simulator: SimulatorProcess) -> None:
    message_id = add(simulator, subject="Audit me")
    slack.command(f"release {message_id}")
    slack.card(lambda m: "Released" in text_of(m))
    slack.command(f"audit {message_id}")
    trail = text_of(slack.private(OPERATOR, "Audit trail"))
    assert "release" in trail and f"<@{OPERATOR}>" in trail and "delivered" in trail
