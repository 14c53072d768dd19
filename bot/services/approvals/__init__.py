"""Four-eyes approvals: requests kept in Redis, the one-time move to executing, chunked
execution that resumes after a crash, expiry (DESIGN.md "Policy and approvals").

    models.py    the request and the answers of its steps, as plain data (no redis: blocks/
                 import these)
    records.py   the request's Redis hash form (fields written, record read back)
    scripts.py   each transition as one Lua script behind a typed method; the Redis layout
    store.py     ApprovalStore: requests, decisions, lists, execution bookkeeping
    service.py   ApprovalService, the use cases' one face, made of base.py (what they are
                 given), asking.py, deciding.py, running.py and reading.py
    executor.py  Executor: runs an approved request chunk by chunk, exactly once
    endings.py   the scripts that end a run, and the record that its end is owed
    announcing.py  a run's end shown (card, thread line, message cards), redone by a sweep
                 when the replica that ended it died first
    eligible.py  what still needs doing just before acting: by the request's frozen search,
                 else one GET per id
    rechecks.py  the roles a request needs, checked again at each approval and run
    step.py      the one step of an approved settings change, run once (apply.py: allow
                 policies and trusted domains; block_step.py: blocks)

The names other modules use are re-exported here.
"""

from bot.services.approvals.eligible import freeze
from bot.services.approvals.executor import TAMPERED_ERROR, Executor
from bot.services.approvals.models import (
    CHUNK_SIZE,
    ActionName,
    Approval,
    ApprovalRequest,
    ApprovalState,
    ChunkResult,
    Decision,
    ExecutionReport,
    FrozenSearch,
    MessageSummary,
    Outcome,
    digest,
    now_utc,
    report,
    verified,
)
from bot.services.approvals.store import ApprovalStore

__all__ = [
    "CHUNK_SIZE",
    "TAMPERED_ERROR",
    "ActionName",
    "Approval",
    "ApprovalRequest",
    "ApprovalState",
    "ApprovalStore",
    "ChunkResult",
    "Decision",
    "ExecutionReport",
    "Executor",
    "FrozenSearch",
    "MessageSummary",
    "Outcome",
    "digest",
    "freeze",
    "now_utc",
    "report",
    "verified",
]
