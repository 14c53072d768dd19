"""End to end: what the bot does where Slack will not let it post, against a stand-in that
refuses as a real workspace does (the bot must be invited to a channel; an ephemeral message
needs its person in the channel; nobody posts in a DM between two other people).

- Alerts for a channel the bot was never invited to are held, reported (the log, a metric, a
  DM to each approver named by user id, once per hold) and posted once it is invited.
- The message shortcut in a DM between two people (or a channel the bot is not in) shows its
  card privately: tests/test_e2e_surfaces.py.
- "Release all matching" in a channel the bot is not in: the request is not made, and the
  person is told so privately, naming the channel.
- A release asked for by command in such a channel is done, and said privately, since no card
  can show it there.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis

from bot.services.alerts.scripts import outbox_key
from tests.kit.factories import add, detection
from tests.kit.flows import calls_to, roots, settle, wait_roots
from tests.kit.http import LOCAL
from tests.kit.servers import RedisProcess, SimulatorProcess
from tests.kit.slack import (
    APPROVER,
    APPROVER2,
    BOTH,
    OPERATOR,
    BotProcess,
    Slack,
    StandinProcess,
    text_of,
)

OUTSIDE = "C0OUTSIDE"  # a public channel nobody invited the bot to
NAMED_APPROVERS = (APPROVER, APPROVER2, BOTH)  # BOT_APPROVERS of the test bots


def answers(slack: Slack, user: str, channel: str | None = None) -> list[dict[str, Any]]:
    """What `user` alone sees: ephemeral messages (in `channel`), and the bot's DMs to them."""
    dm = "D" + user[1:]
    return [
        m for m in slack.standin.hook("GET", "messages")
        if (m["ephemeral"] and m["user"] == user and channel in (None, m["channel"]))
        or (m["channel"] == dm and not m["ephemeral"])
    ]  # fmt: skip


def told(slack: Slack, user: str, containing: str, channel: str | None = None) -> dict[str, Any]:
    """The newest private answer to `user` (in `channel`) containing `containing`."""
    return slack.wait(
        lambda: next(
            (m for m in reversed(answers(slack, user, channel)) if containing in text_of(m)), None
        ),
        f"a private answer to {user} containing {containing!r}",
    )


def posted_in(slack: Slack, channel: str) -> list[dict[str, Any]]:
    return [m for m in slack.standin.messages(channel) if not m["ephemeral"]]


# -- alerts for a channel the bot is not in ----------------------------------------------------


@pytest.fixture
def uninvited(
    standin: StandinProcess,
    shared_simulator: SimulatorProcess,
    simulator: SimulatorProcess,
    redis_server: RedisProcess,
) -> Iterator[Slack]:
    """A bot whose ALERT_CHANNEL is a channel it was never invited to."""
    standin.hook("POST", "reset")
    standin.hook("POST", "conversations", {"channel": OUTSIDE, "bot": False})
    redis.Redis.from_url(redis_server.url).flushdb()
    env = {"ALERT_CHANNEL": OUTSIDE, "ALERT_POLL_SECONDS": "1"}
    with BotProcess(shared_simulator, standin, redis_server.url, **env) as process:
        yield Slack(process, standin)


def metric(slack: Slack, name: str) -> float:
    """A sample of the bot's /metrics (0 when absent)."""
    root = slack.bot.url.rsplit("/slack/events", 1)[0]
    for line in LOCAL.get(f"{root}/metrics", timeout=5).text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return 0.0


def test_alerts_for_a_channel_the_bot_is_not_in_are_held_reported_and_posted_once_invited(
    uninvited: Slack, simulator: SimulatorProcess, redis_server: RedisProcess
) -> None:
    slack = uninvited
    settle(slack, simulator, 1)
    simulator.add_messages([detection(70, sender="held@phish.example")])
    slack.wait(
        lambda: [c for c in slack.standin.calls("chat.postMessage") if c["error"]],
        "Slack refusing the alert",
    )

    for user in NAMED_APPROVERS:
        notice = text_of(told(slack, user, "are held"))
        assert f"<#{OUTSIDE}>" in notice and "/invite @Email Security" in notice, notice
    settle(slack, simulator, 3)  # more cycles, more refusals: still one notice each
    for user in NAMED_APPROVERS:
        assert len([m for m in answers(slack, user) if "are held" in text_of(m)]) == 1
    assert posted_in(slack, OUTSIDE) == []
    store = redis.Redis.from_url(redis_server.url)
    assert store.zcard(outbox_key(OUTSIDE)) == 1, "held in the outbox, not dropped"
    assert metric(slack, 'emailbot_alert_posts_total{outcome="held"}') >= 2
    assert f"alerts for {OUTSIDE} are held" in slack.bot.log()

    slack.standin.hook("POST", "invite", {"channel": OUTSIDE, "user": OPERATOR})
    [root] = wait_roots(slack, 1, OUTSIDE)
    assert "Detection 70" in text_of(root)
    settle(slack, simulator, 2)
    assert len(roots(slack.standin, OUTSIDE)) == 1, "posted once"
    assert store.zcard(outbox_key(OUTSIDE)) == 0
    assert f"alerts for {OUTSIDE} are posted again" in slack.bot.log()


# -- Release all matching where the bot is not ---------------------------------------------------


def test_release_all_in_a_channel_the_bot_is_not_in_is_refused_privately(
    slack: Slack, simulator: SimulatorProcess
) -> None:
    slack.standin.hook("POST", "conversations", {"channel": OUTSIDE, "bot": False})
    messages = [add(simulator, subject="Outside batch") for _ in range(3)]
    slack.command('search subject:"Outside batch"', channel=OUTSIDE)
    page = told(slack, OPERATOR, "match", OUTSIDE)  # the page, privately, in the channel
    slack.click(page, "search_release_all")
    slack.submit(slack.view("search_bulk_modal"), {"reason": "false positive campaign"})

    said = f"I can't post in <#{OUTSIDE}>: I'm not a member"
    answer = told(slack, OPERATOR, said)
    assert "/invite @Email Security" in text_of(answer) and "Nothing was done" in text_of(answer)
    assert posted_in(slack, OUTSIDE) == []
    assert calls_to(simulator, "/release") == [], "no request, nothing released"
    assert len(messages) == 3


def test_a_release_by_command_where_no_card_can_go_is_done_and_said_privately(
    slack: Slack, simulator: SimulatorProcess
) -> None:
    """Before, the release went through but the person was only told "I can't post in this
    channel": they could not know it was done."""
    slack.standin.hook("POST", "conversations", {"channel": OUTSIDE, "bot": False})
    message_id = add(simulator, subject="Released from outside")
    slack.command(f"release {message_id}", channel=OUTSIDE)
    answer = told(slack, OPERATOR, "Released", OUTSIDE)
    text = text_of(answer)
    assert message_id in text and "delivered to" in text, text
    assert "No card shows this" in text and f"<#{OUTSIDE}>" in text
    assert [c["body"] for c in calls_to(simulator, "/release")] == [[message_id]]
    assert posted_in(slack, OUTSIDE) == []
