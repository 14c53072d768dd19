"""Contract: every client method's requests, and the simulator's answers to them, validate
against ../shared/api/email-security-openapi.json (openapi-core)."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from bot.cloudflare import EmailSecurityClient, InvalidRequestError, NotFoundError
from bot.cloudflare.bulkjobs import BulkSearch
from bot.cloudflare.settings_models import (
    AllowPolicyChanges,
    BlockedSenderChanges,
    DomainChanges,
    DomainReplacement,
    ImpersonationChanges,
    NewAllowPolicy,
    NewImpersonationEntry,
    NewProtectedDomain,
    NewSendingDomainRestriction,
    NewTrustedDomain,
    NewUrlIgnorePattern,
    SendingDomainRestrictionChanges,
    TrustedDomainChanges,
    UrlIgnorePatternChanges,
)
from tests.kit.clients import FAST_RETRY
from tests.kit.contract import ContractRecorder
from tests.kit.factories import quarantined_messages
from tests.kit.openapi_check import check_exchange, operations
from tests.kit.servers import ACCOUNT_ID, API_TOKEN, SimulatorProcess


def current_operations() -> set[str]:
    """Every operationId of the file but those past end of life (deprecated)."""
    return {op["operationId"] for op in operations().values() if not op.get("deprecated")}


async def test_every_operation_honours_the_contract(simulator: SimulatorProcess) -> None:
    """Every current operation of the file, sent by the client to the simulator: each request
    and each answer (errors too) validates against the file, and none is left out."""
    recorder = ContractRecorder()
    ids = simulator.add_messages(quarantined_messages(3, "Contract"))
    async with EmailSecurityClient(
        ACCOUNT_ID, api_token=API_TOKEN, base_url=simulator.base_url, retry=FAST_RETRY,
        search_poll_interval=0.01, event_hooks=recorder.hooks,
    ) as es:  # fmt: skip
        await drive_investigate(es, simulator, ids)
        await drive_settings(es)
        await drive_domains(es)
        await drive_bulk_jobs(es)
    assert recorder.violations() == []
    assert sorted(current_operations() - recorder.operations()) == []
    statuses = {response.status_code for _, response in recorder.exchanges}
    assert {200, 201, 202, 204, 404, 422} <= statuses


async def drive_investigate(
    es: EmailSecurityClient, simulator: SimulatorProcess, ids: list[str]
) -> None:
    simulator.faults(search_202=1)
    found = [m async for m in es.search(per_page=50, detections_only=False, limit=120)]
    simulator.faults(search_202=0)
    detection = next(m for m in found if m.final_disposition == "MALICIOUS")
    clean = next(m for m in found if m.final_disposition == "NONE")
    await es.get_message(detection.id)
    await es.get_detections(detection.id)
    await es.get_preview(detection.id)
    await es.get_preview(clean.id, is_detection=False)
    await es.get_raw(detection.id)
    await es.save_raw(detection.id, io.BytesIO(), max_bytes=1024**2)
    await es.get_trace(detection.id)
    await es.move([ids[0]], "JunkEmail")
    await es.move(ids[1:], "Inbox")
    await es.release(ids)
    await es.get_action_log(ids[0])
    await es.reclassify(detection.id, "MALICIOUS", eml_content="From: x@example.com\r\n\r\n")
    await es.list_submissions(per_page=10)
    await es.submissions_page(1, 5, type="USER", escalated_from_user=False)
    now = datetime.now(UTC)
    await es.list_phishguard_reports(now - timedelta(days=7), now)
    # Error answers are part of the contract too.
    with pytest.raises(NotFoundError):
        await es.get_raw("Missing0000000-2026-01-01T00:00:00-00000000")


async def drive_settings(es: EmailSecurityClient) -> None:
    blocked = await es.block_sender("evil.example", "DOMAIN", comments="contract")
    await es.block_senders.edit(blocked.id, BlockedSenderChanges(comments="edited"))
    await es.block_senders.get(blocked.id)
    await es.block_senders.page(1, 2, pattern_type="DOMAIN", order="pattern", direction="asc")
    await es.list_blocked_senders()
    await es.delete_blocked_sender(blocked.id)
    with pytest.raises(InvalidRequestError):
        await es.block_sender("not-a-domain", "DOMAIN")
    policy = await es.create_allow_policy(
        "trusted@partner.example", "EMAIL", is_trusted_sender=True
    )
    await es.allow_policies.get(policy.id)
    await es.allow_policies.edit(policy.id, AllowPolicyChanges(verify_sender=False))
    await es.list_allow_policies(is_trusted_sender=True)
    done = await es.allow_policies.batch(
        deletes=[policy.id],
        posts=[NewAllowPolicy(pattern="partner2.example", pattern_type="DOMAIN")],
    )
    await es.allow_policies.delete(done.posts[0].id)
    trusted = await es.trusted_domains.create(NewTrustedDomain(pattern="newpartner.example"))
    await es.trusted_domains.edit(trusted.id, TrustedDomainChanges(is_similarity=False))
    await es.trusted_domains.get(trusted.id)
    await es.list_trusted_domains(is_recent=True)
    await es.trusted_domains.batch(patches=[(trusted.id, TrustedDomainChanges(comments="x"))])
    await es.trusted_domains.delete(trusted.id)
    executives = await es.impersonation_registry.list(order="name", direction="asc")
    entry = await es.impersonation_registry.create(
        NewImpersonationEntry(name="Interim CFO", email="interim.cfo@example.com")
    )
    await es.impersonation_registry.get(entry.id)
    await es.impersonation_registry.edit(entry.id, ImpersonationChanges(comments="interim"))
    await es.impersonation_registry.page(1, 5, provenance="A1S_INTERNAL")
    await es.impersonation_registry.delete(entry.id)
    assert executives
    restriction = await es.sending_domain_restrictions.create(
        NewSendingDomainRestriction(domain="bank.example", exclude=["legacy.bank.example"])
    )
    await es.sending_domain_restrictions.get(restriction.id)
    await es.sending_domain_restrictions.edit(
        restriction.id, SendingDomainRestrictionChanges(exclude=[])
    )
    await es.sending_domain_restrictions.list(order="domain")
    await es.sending_domain_restrictions.batch_delete([restriction.id])
    second = await es.sending_domain_restrictions.create(
        NewSendingDomainRestriction(domain="payments.example")
    )
    await es.sending_domain_restrictions.delete(second.id)
    ignored = await es.url_ignore_patterns.create(NewUrlIgnorePattern(pattern="tracking.example"))
    await es.url_ignore_patterns.get(ignored.id)
    await es.url_ignore_patterns.edit(ignored.id, UrlIgnorePatternChanges(comments="ok"))
    await es.url_ignore_patterns.page(1, 1)
    await es.url_ignore_patterns.batch(
        deletes=[ignored.id], posts=[NewUrlIgnorePattern(pattern="click.example")]
    )
    with pytest.raises(ValueError, match="only deletes and posts"):
        await es.url_ignore_patterns.batch(patches=[(ignored.id, UrlIgnorePatternChanges())])
    another = await es.url_ignore_patterns.create(NewUrlIgnorePattern(pattern="redirect.example"))
    await es.url_ignore_patterns.delete(another.id)


async def drive_domains(es: EmailSecurityClient) -> None:
    existing = await es.list_protected_domains(status="ACTIVE", order="domain", direction="asc")
    await es.protected_domains.list(domain=["example.com", "example.org"])
    assert await es.protected_domains.verification(existing[0].id) is None  # 204
    added = await es.protected_domains.create(
        NewProtectedDomain(domain="acquired.example", allowed_delivery_modes=["DIRECT"])
    )
    assert await es.protected_domains.verification(added.id) is not None
    await es.protected_domains.get(added.id)
    await es.protected_domains.edit(added.id, DomainChanges(require_tls_inbound=True))
    await es.protected_domains.replace(
        added.id, DomainReplacement(allowed_delivery_modes=["BCC"], regions=["DE"])
    )
    await es.protected_domains.batch(
        patches=[(added.id, DomainChanges(lookback_hops=2))],
        posts=[NewProtectedDomain(domain="second.example", allowed_delivery_modes=["API"])],
    )
    await es.protected_domains.delete(added.id)


async def drive_bulk_jobs(es: EmailSecurityClient) -> None:
    job = await es.bulk_jobs.create(
        "MOVE", BulkSearch(sender="m365-account-security.example"), destination="JunkEmail"
    )
    await es.bulk_jobs.get(job.job_id)
    await es.bulk_jobs.list(action_type="MOVE")
    await es.bulk_jobs.messages(job.job_id)
    await es.bulk_jobs.messages_page(job.job_id, 1, 50, status="FAILED")
    await es.bulk_jobs.cancel(job.job_id)
    await es.bulk_jobs.delete(job.job_id)


def exchange(
    method: str, path: str, body: object, status: int, answer: object
) -> tuple[httpx.Request, httpx.Response]:
    url = f"http://127.0.0.1:1/client/v4/accounts/{ACCOUNT_ID}/email-security/{path}"
    request = httpx.Request(
        method, url, content=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": "Bearer t", "Content-Type": "application/json"},
    )  # fmt: skip
    response = httpx.Response(status, json=answer, request=request)
    return request, response


RELEASED = {"success": True, "errors": [], "messages": [], "result": []}


def test_checker_accepts_the_spec_release_shape() -> None:
    check_exchange(
        *exchange("POST", "investigate/release", ["a-2026-01-01T00:00:00-0000aaaa"], 200, RELEASED)
    )


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "answer"),
    [
        ("POST", "investigate/release", {"ids": ["x"]}, 200, RELEASED),  # the SDK's shape
        ("POST", "investigate/move", {"destination": "Spam", "ids": ["x"]}, 200, RELEASED),
        ("POST", "investigate/preview", {"id": "x"}, 200, RELEASED),
        (
            "GET",
            "investigate/x",
            None,
            200,
            {"success": True, "errors": [], "messages": [], "result": {"id": "x"}},
        ),
        ("GET", "investigate/x", None, 404, {"success": False, "errors": [], "messages": []}),
    ],
)
def test_checker_rejects_what_the_spec_forbids(
    method: str, path: str, body: object, status: int, answer: object
) -> None:
    with pytest.raises(Exception):  # noqa: B017, PT011 - any openapi-core violation will do
        check_exchange(*exchange(method, path, body, status, answer))
