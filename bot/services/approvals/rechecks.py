"""Does an approval request still have what it needs? Checked at each approval and when a run
starts (a click that completes it, or the sweeper resuming a stalled run), with user groups
looked up fresh from Slack (`Policy.lacking`), because roles change between the request and
its execution: people leave the team, an account is found compromised.

- The requester must still hold the role the action needs (operator). If not, the request is
  refused: the person who asked may no longer ask.
- Every counted approver must still be an approver. While the request is pending, an approval
  whose approver lost the role is withdrawn and the request waits for another approver: the
  request itself is still legitimate, and the approvals it ends up with all come from people who
  hold the role when it runs, so four eyes still see it; refusing it would only make the
  requester ask again. Once the count is complete (the request is executing), it may not go
  back to waiting: a run that finds fewer current approvers than required is refused.

A group Slack cannot read raises GroupLookupError: nothing is decided on a guess, the caller
refuses the click (try again) or leaves the run for the sweeper to retry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from bot.commands import role_for
from bot.roles import SETTING, Role
from bot.services.approvals.models import ApprovalRequest
from bot.services.policy import Policy


@dataclass(frozen=True)
class Recheck:
    """What the check found: why the request must end (None: it may go on), and the approvers
    whose approvals no longer count (withdrawn while it is pending)."""

    refusal: str | None = None
    withdrawn: list[str] = field(default_factory=list)


_NO_LONGER = {
    Role.VIEWER: "is no longer a viewer",
    Role.OPERATOR: "is no longer an operator",
    Role.APPROVER: "is no longer an approver",
}
_REFUSED = {"approval": "Refused at approval: ", "execution": "Refused at execution: "}


def no_longer(user: str, role: Role) -> str:
    """`<@U…> is no longer an approver (BOT_APPROVERS)`: user ids come from Slack."""
    return f"<@{user}> {_NO_LONGER[role]} ({SETTING[role]})"


async def recheck(
    policy: Policy, made: ApprovalRequest, at: Literal["approval", "execution"]
) -> Recheck:
    """Check `made`'s requester and counted approvers now (see the module docstring)."""
    needed = role_for(made.action)
    holders = [(made.requester, needed)] + [(a.user, Role.APPROVER) for a in made.approvals]
    lacking = await policy.lacking(holders)
    lost_requester = [no_longer(u, r) for u, r in lacking if u == made.requester and r == needed]
    lost_approvers = [u for u, r in lacking if r == Role.APPROVER]
    reasons = list(lost_requester)
    if at == "execution" and len(made.approvers - set(lost_approvers)) < made.required:
        reasons += [no_longer(u, Role.APPROVER) for u in lost_approvers]
    refusal = _REFUSED[at] + "; ".join(reasons) if reasons else None
    return Recheck(refusal=refusal, withdrawn=lost_approvers if at == "approval" else [])
