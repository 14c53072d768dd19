"""The use cases a surface calls, in one place: what the Slack handlers (or any other surface)
are given. Built once per process by the composition root (`bot.container`)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.services.actions import ActionService
from bot.services.alerts.digests import DigestService
from bot.services.allowlist import AllowlistService
from bot.services.approvals.service import ApprovalService
from bot.services.blocklist import BlocklistService
from bot.services.false_positive import FalsePositiveService
from bot.services.messages import MessageService
from bot.services.phishguard import PhishGuardService
from bot.services.policy import Policy
from bot.services.querying import QueryService
from bot.services.submissions import SubmissionService
from bot.services.vip import VipService


@dataclass(frozen=True)
class Services:
    actions: ActionService  # release, move, reclassify, block
    messages: MessageService  # cards, evidence, search
    approvals: ApprovalService  # ask, approve, reject, cancel, execute, what is pending
    queries: QueryService  # "Release/Move all matching": a whole search, one request
    policy: Policy  # who may do what (the services check it themselves)
    digests: DigestService  # an alert digest's list
    blocklist: BlocklistService  # the blocked senders (list, unblock), the protected domains
    submissions: SubmissionService  # reclassify submissions: the list, following outcomes
    phishguard: PhishGuardService  # PhishGuard reports
    vip: VipService  # the VIP list (impersonation registry): list, add, remove
    allowlist: AllowlistService  # allow policies, trusted domains: ask (approved), list, remove
    false_positives: FalsePositiveService  # "False positive…": release, reclassify, allow
