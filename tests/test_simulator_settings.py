"""The simulator's settings, reports and jobs behave like a tenant's: the sample has the company's
executives in the impersonation registry, protected domains with their statuses, allow policies
and trusted domains; submissions, bulk jobs and new domains move on over time (on the simulator's
clock, which a test runs ahead instead of waiting); batches are atomic and bounded; what is past
end of life is refused. Driven through the bot's client, every exchange checked against the file.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from bot.cloudflare import EmailSecurityClient, InvalidRequestError
from bot.cloudflare.bulkjobs import BulkSearch
from bot.cloudflare.errors import ApiError
from bot.cloudflare.settings_models import (
    ImpersonationChanges,
    NewAllowPolicy,
    NewProtectedDomain,
)
from bot.simulator.catalog import EXECUTIVES, TENANT_DOMAINS
from bot.simulator.errors import EOL_PARAMETER
from tests.kit.clients import api_client
from tests.kit.contract import ContractRecorder
from tests.kit.factories import quarantined_messages
from tests.kit.http import TLS
from tests.kit.servers import ACCOUNT_ID, API_TOKEN, SimulatorProcess


@pytest.fixture
async def es(simulator: SimulatorProcess) -> AsyncIterator[EmailSecurityClient]:
    recorder = ContractRecorder()
    async with api_client(simulator.base_url, recorder) as client:
        yield client
    assert recorder.violations() == []


async def test_the_registry_protects_the_executives_and_directory_entries_stay_put(
    es: EmailSecurityClient,
) -> None:
    registry = await es.impersonation_registry.list(order="name", direction="asc")
    assert {name for name, _, _ in EXECUTIVES} <= {entry.name for entry in registry}
    synced = [entry for entry in registry if entry.provenance == "SNOOPY-OFFICE_365"]
    manual = [entry for entry in registry if entry.provenance == "A1S_INTERNAL"]
    assert synced and manual
    assert any(entry.is_email_regex for entry in manual)
    with pytest.raises(InvalidRequestError, match="Directory-synced entries can't be updated"):
        await es.impersonation_registry.edit(synced[0].id, ImpersonationChanges(comments="x"))
    edited = await es.impersonation_registry.edit(manual[0].id, ImpersonationChanges(comments="y"))
    assert edited.comments == "y"
    only_synced = await es.impersonation_registry.list(provenance="SNOOPY-OFFICE_365")
    assert {entry.id for entry in only_synced} == {entry.id for entry in synced}


async def test_the_sample_has_domains_with_statuses_policies_and_trusted_domains(
    es: EmailSecurityClient,
) -> None:
    domains = await es.list_protected_domains()
    assert {d.domain for d in domains} == set(TENANT_DOMAINS)
    assert {d.status for d in domains} == {"ACTIVE", "PENDING"}
    assert await es.list_allow_policies() and await es.list_trusted_domains()
    assert await es.sending_domain_restrictions.list()
    assert await es.url_ignore_patterns.list()


async def test_a_submission_moves_from_pending_to_its_outcome_over_time(
    es: EmailSecurityClient, simulator: SimulatorProcess
) -> None:
    [message_id] = simulator.add_messages(quarantined_messages(1, "Review"))
    postfix_id = (await es.get_message(message_id)).postfix_id
    await es.reclassify(message_id, "NONE")
    [pending] = [
        s for s in await es.list_submissions(status="pending")
        if s.original_postfix_id == postfix_id
    ]  # fmt: skip
    assert pending.outcome is None
    simulator.advance(121)  # the review takes two minutes
    [reviewed] = await es.list_submissions(submission_id=pending.submission_id)
    assert reviewed.status == "completed"
    assert reviewed.outcome in ("Reclassified", "No change")
    assert reviewed.outcome_disposition in ("NONE", reviewed.original_disposition)


async def test_the_sample_has_pending_submissions_that_get_reviewed(
    es: EmailSecurityClient, simulator: SimulatorProcess
) -> None:
    pending = await es.list_submissions(status="pending")
    assert pending
    simulator.advance(1800)  # reviewed within half an hour of the start
    later = {s.submission_id: s for s in await es.list_submissions()}
    assert all(later[s.submission_id].status == "completed" for s in pending)


async def test_a_domain_added_through_the_api_is_pending_until_its_record_is_found(
    es: EmailSecurityClient, simulator: SimulatorProcess
) -> None:
    added = await es.protected_domains.create(
        NewProtectedDomain(domain="acquired.example", allowed_delivery_modes=["DIRECT"])
    )
    assert added.status == "PENDING" and added.authorization and not added.authorization.authorized
    record = await es.protected_domains.verification(added.id)
    assert record is not None and record.txt_record_name == "_cf-email-security.acquired.example"
    sample = (await es.list_protected_domains(status="ACTIVE"))[0]
    assert await es.protected_domains.verification(sample.id) is None
    simulator.advance(301)
    assert (await es.protected_domains.get(added.id)).status == "ACTIVE"


async def test_a_bulk_job_moves_what_its_search_finds_when_it_runs(
    es: EmailSecurityClient, simulator: SimulatorProcess
) -> None:
    ids = simulator.add_messages(quarantined_messages(3, "BulkJob"))
    subject = (await es.get_message(ids[0])).subject
    assert subject
    job = await es.bulk_jobs.create(
        "MOVE", BulkSearch(exact_subject=subject, detections_only=False), destination="JunkEmail"
    )
    assert (job.status, job.total_messages_discovered) == ("PENDING", 0)
    simulator.advance(31)
    done = await es.bulk_jobs.get(job.job_id)
    assert (done.status, done.messages_successful, done.messages_pending) == ("COMPLETED", 1, 0)
    assert done.total_messages_discovered == 1
    assert [m.status for m in await es.bulk_jobs.messages(job.job_id)] == ["COMPLETED"]
    moved = await es.get_action_log(ids[0])
    assert [(e.operation, e.properties.folder if e.properties else None) for e in moved][-1] == (
        "MOVE", "JunkEmail",
    )  # fmt: skip
    with pytest.raises(InvalidRequestError, match="already completed"):
        await es.bulk_jobs.cancel(job.job_id)
    assert [j.job_id for j in await es.bulk_jobs.list(status="COMPLETED")] == [job.job_id]


async def test_bulk_create_errors_answer_5xx_with_or_without_the_job_made(
    es: EmailSecurityClient, simulator: SimulatorProcess
) -> None:
    """The next `bulk_create_errors` creations fail on the server's side: 503 and nothing made,
    or (`bulk_create_lands`) 502 with the job made, as a gateway that lost the answer."""
    search = BulkSearch(exact_subject="nothing here", detections_only=False)
    simulator.faults(bulk_create_errors=1)
    with pytest.raises(ApiError) as refused:
        await es.bulk_jobs.create("RELEASE", search, comment="first")
    assert refused.value.status == 503 and await es.bulk_jobs.list() == []
    simulator.faults(bulk_create_errors=1, bulk_create_lands=True)
    with pytest.raises(ApiError) as lost:
        await es.bulk_jobs.create("RELEASE", search, comment="second")
    assert lost.value.status == 502
    assert [j.comment for j in await es.bulk_jobs.list()] == ["second"]
    made = await es.bulk_jobs.create("RELEASE", search, comment="third")  # counted down
    assert [j.comment for j in await es.bulk_jobs.list()] == ["third", "second"]
    assert made.comment == "third"


async def test_a_bulk_job_discovers_then_acts_at_its_pace_and_reports_each_failure(
    es: EmailSecurityClient, simulator: SimulatorProcess
) -> None:
    """At `bulk_rate` 1 message a second (discovery 10 a second) the clock shows each phase;
    a release that reaches no recipient and a message not quarantined are failures, each with
    its reason."""
    simulator.faults(bulk_rate=1)
    messages = quarantined_messages(20, "Paced")
    for message in messages:
        message["subject"] = "Paced batch"
    messages[0]["to"] = ["bounce-a@example.com"]  # every recipient fails
    messages[1]["is_quarantined"] = False
    simulator.add_messages(messages)
    job = await es.bulk_jobs.create("RELEASE", BulkSearch(exact_subject="Paced batch"))
    simulator.advance(2)  # 1 s pending, then discovery at 10 a second
    seen = await es.bulk_jobs.get(job.job_id)
    assert seen.status == "DISCOVERING" and 0 < seen.total_messages_discovered < 20
    simulator.advance(2)  # discovered (2 s), then processing at 1 a second
    seen = await es.bulk_jobs.get(job.job_id)
    assert seen.status == "PROCESSING" and seen.total_messages_discovered == 20
    assert 0 < seen.messages_successful + seen.messages_failed < 20
    simulator.advance(30)
    done = await es.bulk_jobs.get(job.job_id)
    assert (done.status, done.messages_pending) == ("COMPLETED", 0)
    assert (done.messages_successful, done.messages_failed) == (18, 2)
    failed = await es.bulk_jobs.messages(job.job_id, status="FAILED")
    assert sorted(m.status_message or "" for m in failed) == [
        "Delivery failed for every recipient", "The message is not quarantined",
    ]  # fmt: skip


async def test_a_cancelled_discovery_keeps_only_what_it_found_and_acts_on_none(
    es: EmailSecurityClient, simulator: SimulatorProcess
) -> None:
    simulator.faults(bulk_rate=1)
    ids = simulator.add_messages(
        [dict(m, subject="Stopped batch") for m in quarantined_messages(40, "Stop")]
    )
    job = await es.bulk_jobs.create("RELEASE", BulkSearch(exact_subject="Stopped batch"))
    simulator.advance(2.5)
    cancelled = await es.bulk_jobs.cancel(job.job_id)
    assert cancelled.status == "CANCELLED" and cancelled.messages_successful == 0
    found = await es.bulk_jobs.messages(job.job_id)
    assert len(found) == cancelled.total_messages_discovered < 40
    assert {m.status for m in found} == {"CANCELLED"}
    for message_id in ids[:3]:
        assert (await es.get_message(message_id)).is_quarantined


async def test_an_account_without_bulk_jobs_is_refused(
    es: EmailSecurityClient, simulator: SimulatorProcess
) -> None:
    simulator.faults(bulk_jobs=False)
    with pytest.raises(ApiError, match="not enabled") as refused:
        await es.bulk_jobs.create("RELEASE", BulkSearch(subject="anything"))
    assert refused.value.status == 403
    assert await es.bulk_jobs.list() == []


async def test_a_batch_is_atomic_and_bounded(es: EmailSecurityClient) -> None:
    policies = await es.list_allow_policies()
    with pytest.raises(InvalidRequestError):
        await es.allow_policies.batch(
            deletes=[policies[0].id],
            posts=[NewAllowPolicy(pattern="not a domain", pattern_type="DOMAIN")],
        )
    assert len(await es.list_allow_policies()) == len(policies)  # the delete was undone
    with pytest.raises(ValueError, match="at most 1000"):
        await es.allow_policies.batch(deletes=[policies[0].id] * 1001)


def test_the_simulator_refuses_batches_without_every_array_and_what_is_past_end_of_life(
    simulator: SimulatorProcess,
) -> None:
    base = f"{simulator.base_url}/accounts/{ACCOUNT_ID}/email-security/settings"
    with httpx.Client(verify=TLS, headers={"Authorization": f"Bearer {API_TOKEN}"}) as http:
        partial = http.post(f"{base}/trusted_domains/batch", json={"deletes": []})
        assert partial.status_code == 422 and "patches, puts, posts" in partial.text
        too_many = [{"id": "x"}] * 1001
        full = {"deletes": too_many, "patches": [], "puts": [], "posts": []}
        assert http.post(f"{base}/trusted_domains/batch", json=full).status_code == 422
        bulk = http.request("DELETE", f"{base}/domains", json=[{"id": "x"}])
        assert bulk.status_code == 400 and bulk.json()["errors"][0]["code"] == EOL_PARAMETER
        old = {"name": "A", "email": "a@example.com", "is_email_regex": False,
               "external_directory_node_id": "n"}  # fmt: skip
        refused = http.post(f"{base}/impersonation_registry", json=old)
        assert refused.status_code == 400 and "end of life" in refused.text


async def test_phishguard_reports_name_messages_of_the_sample(es: EmailSecurityClient) -> None:
    now = datetime.now(UTC)
    reports = await es.list_phishguard_reports(now - timedelta(days=30), now + timedelta(days=1))
    assert reports
    for report in reports[:5]:
        named = report.fields.postfix_id
        assert named and (await es.get_message(named)).postfix_id == named
