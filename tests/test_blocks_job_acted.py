"""What a request's bulk job did to one message, on that message's cards: which result each
message gets from the job's end (failed by postfix id, done, unsure, stopped), and the line each
reads as (the API's failure reason and the folder shown as text, never as markup)."""

from __future__ import annotations

from datetime import UTC, datetime

from blocks.outcomes import outcome_line
from bot.services.approvals.jobstate import JobFailure, JobState
from bot.services.approvals.models import Approval, ApprovalRequest
from bot.services.outcomes import JobActed, load_outcome
from bot.services.showing import job_acted

SEEN = datetime(2026, 11, 21, 6, 0, tzinfo=UTC)
OK, BOUNCED = "Okay000001-2026-11-21T05:17:05-0a0b0c0d", "Bnce000002-2026-11-21T05:17:04-0a0b0c0e"


def request(action: str = "release", **params: str) -> ApprovalRequest:
    return ApprovalRequest.model_validate(
        {
            "id": "r-9", "action": action, "params": params, "ids": [OK, BOUNCED],
            "digest": "d", "requester": "U0REQ", "reason": "clean-up", "rule": "many",
            "summary": [], "created_at": SEEN, "expires_at": SEEN, "required": 1,
            "approvals": [Approval(user="U0APP", at=SEEN)],
        }
    )  # fmt: skip


def job(status: str, failed: int = 1) -> JobState:
    return JobState(
        phase="finished", ceiling=10, job_id="j-1", status=status, failed=failed,
        failures=[JobFailure(postfix_id="Bnce000002", reason="Delivery failed")],
        updated_at=SEEN,
    )  # fmt: skip


def test_each_message_gets_what_the_job_did_to_it() -> None:
    completed = job("COMPLETED")
    assert job_acted(request(), "U0APP", completed, OK).result == "done"
    failed = job_acted(request(), "U0APP", completed, BOUNCED)
    assert (failed.result, failed.reason) == ("failed", "Delivery failed")
    assert job_acted(request(), "U0APP", completed, "Bnce000002").result == "failed", "a bare id"
    # More failures than listed: a message not among them may have failed too.
    assert job_acted(request(), "U0APP", job("COMPLETED", failed=80), OK).result == "unsure"
    stopped = job_acted(request(), "U0APP", job("CANCELLED"), OK)
    assert (stopped.result, stopped.job) == ("stopped", "cancelled")
    assert job_acted(request(), "U0APP", job("CANCELLED"), BOUNCED).result == "failed"


def test_the_record_is_the_same_each_time_the_end_is_redone() -> None:
    """A resumed run redoes the job's end: the same record, so a card adds it only once."""
    first = job_acted(request(), "U0APP", job("COMPLETED"), OK)
    again = job_acted(request(), "U0APP", job("COMPLETED"), OK)
    assert first.model_dump_json() == again.model_dump_json()
    assert first.at == SEEN and first.actor == "U0APP"


def test_each_result_reads_as_what_the_job_did() -> None:
    def line(result: str, **fields: str) -> str:
        acted = JobActed.model_validate(
            {"actor": "U0APP", "at": SEEN, "request_id": "r-9", "requester": "U0REQ",
             "action": "release", "job": "completed", "result": result, **fields}
        )  # fmt: skip
        return outcome_line(acted)

    tail = "the bulk job of approval request `r-9`, asked by <@U0REQ>, approved by <@U0APP> at "
    assert line("done").startswith("✅ Released by " + tail)
    assert line("failed", reason="Delivery failed").startswith(
        "❌ Release failed (Delivery failed) in " + tail
    )
    assert "❔ Release unsure (the job failed on more messages than it lists" in line("unsure")
    stopped = line("stopped", job="cancelled")
    assert "⏹️ Release not finished (the job was cancelled before it ended" in stopped
    assert "this card shows the message as it is now): " + tail in stopped


def test_a_move_names_its_folder_and_a_hostile_reason_is_text() -> None:
    acted = job_acted(request("move", folder="JunkEmail"), "U0APP", job("COMPLETED"), OK)
    assert outcome_line(acted).startswith("✅ Moved to JunkEmail by the bulk job")
    hostile = JobActed(
        actor="U0APP", request_id="r-9", requester="U0REQ", action="release", job="completed",
        result="failed", reason="<!channel> see http://evil.example",
    )  # fmt: skip
    text = outcome_line(hostile)
    assert "<!channel>" not in text and "http://evil.example" not in text
    assert load_outcome(hostile.model_dump_json()) == hostile, "kept in a card's history as is"
