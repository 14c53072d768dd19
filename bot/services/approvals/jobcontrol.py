"""Cancel, on the card of a request approved as a query while its bulk job runs.

Who may: the request's requester (who may also withdraw it while pending) or any approver (who
may approve or reject such requests). The job is cancelled at once, by the API, and the mark
names who asked (jobstore.py), so the run that follows the job shows it; a run that finds the
mark before the job was told (the click's call failed) sends the cancel itself.
"""

from __future__ import annotations

import logging

from bot.cloudflare import EmailSecurityClient
from bot.cloudflare.errors import ApiError
from bot.errors import Refused
from bot.roles import Role
from bot.services.approvals.jobstate import is_query
from bot.services.approvals.jobstore import JobStore
from bot.services.approvals.models import ApprovalState
from bot.services.approvals.store import ApprovalStore
from bot.services.audit import AuditLog
from bot.services.policy import Policy

log = logging.getLogger("bot.bulkjob")


async def cancel_job(
    actor: str,
    request_id: str,
    *,
    store: ApprovalStore,
    jobs: JobStore,
    policy: Policy,
    email: EmailSecurityClient,
    audit: AuditLog,
) -> None:
    made = await store.get(request_id)
    if made is None or not is_query(made):
        raise Refused("This request has no bulk job to cancel.")
    if made.state != ApprovalState.EXECUTING:
        raise Refused(f"This request is {made.state.value} already; its job is not running.")
    if actor != made.requester:
        await policy.require(actor, Role.APPROVER, "cancel a bulk job (or ask its requester)")
    first = await jobs.ask_cancel(made.id, actor)
    state = await jobs.load(made.id)
    if state is not None and state.job_id and not state.finished:
        try:
            await email.bulk_jobs.cancel(state.job_id)
        except ApiError as exc:  # ended meanwhile: its run reads it at the next poll
            log.info("cancel of job %s: %s", state.job_id, exc)
    await audit.record(
        actor=actor, action=f"cancel bulk job {made.action}", ids=[], outcome="asked",
        request_id=made.id, digest=made.digest,
        detail={"job_id": state.job_id if state else None, "first_asked_by": first},
    )  # fmt: skip
