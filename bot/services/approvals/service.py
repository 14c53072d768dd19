"""Four-eyes approvals as use cases: ask, approve, reject, cancel, execute, sweep, and what is
pending for whom. Each entry point takes the actor first, checks the role, lets the store decide
atomically, audits what changed and shows it through the `ApprovalBoard` it was given (the card,
its thread, the Home tabs); a refusal is raised as `bot.errors.Refused` with its sentence.

A request's card is posted before anyone can see the request in a list, and its place attached
to the record; the executor reports progress to the same board, never to a handler. Roles are
checked again, groups fresh from Slack, at each approval and when a run starts (`rechecks.py`).

`ApprovalService` is the one face the handlers and the other services use; its parts live in
the modules named for what they hold:

    base.py      what every part is given (store, audit, policy, board, cards), shared steps
    asking.py    `request`: the card first, then the request with its place
    deciding.py  `approve`, `reject`, `cancel`: rechecks, the store's decision, its refusals
    running.py   `execute`, `cancel_job`, `sweep`: chunks or one bulk job, progress
    announcing.py  `announce`: the end of a run audited (end_audit.py: once) and shown, redone
                 by the sweep if its replica died
    reading.py   `pending_for`, `home`, `trail`, `check_trail`: what waits, the audit trail
"""

from __future__ import annotations

from bot.services.approvals.asking import Asking
from bot.services.approvals.deciding import Deciding
from bot.services.approvals.reading import Overview, Reading

__all__ = ["ApprovalService", "Overview"]


class ApprovalService(Asking, Deciding, Reading):
    """Asking, deciding (with running: the approval that completes a request runs it) and
    reading, over one `ApprovalBase` (base.py)."""
