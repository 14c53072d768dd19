"""The line that closes a card's "asked for approval" when the request ends unrun: who ended
it, how, and a reason typed by a person shown as text (never a mention, never a format field)."""

from __future__ import annotations

from blocks.outcomes import outcome_line
from bot.services.outcomes import RequestEnded, load_outcome


def test_each_ending_reads_as_not_done_with_who_ended_it() -> None:
    def line(how: str, actor: str, **fields: str) -> str:
        ended = RequestEnded.model_validate(
            {"actor": actor, "request_id": "r-1", "action": "allow", "how": how, **fields}
        )
        return outcome_line(ended)

    rejected = line("rejected", "U1", pattern="vendor.example", reason="not ours")
    assert rejected.startswith("✖️ Allow policy for vendor[.]example: not done, approval request")
    assert "`r-1` rejected (reason: not ours) by <@U1> at " in rejected
    assert "`r-1` cancelled by <@U2> at " in line("cancelled", "U2")
    assert "`r-1` expired unapproved; closed by the bot at " in line("expired", "bot")
    assert "refused (reason: no longer an operator) by the bot" in line(
        "refused", "bot", reason="no longer an operator"
    )


def test_a_hostile_reason_is_text() -> None:
    ended = RequestEnded(
        actor="U1", request_id="r-2", action="release", how="rejected", reason="<!channel> {0}"
    )
    text = outcome_line(ended)
    assert "<!channel>" not in text and "{0}" in text
    assert load_outcome(ended.model_dump_json()) == ended, "kept in a card's history as is"
