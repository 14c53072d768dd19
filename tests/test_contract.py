"""Contract: every client method's requests, and the simulator's answers to them, validate
against ../shared/api/email-security-openapi.json (openapi-core)."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from bot.cloudflare import EmailSecurityClient, InvalidRequestError, NotFoundError
from tests.kit.clients import FAST_RETRY
from tests.kit.contract import ContractRecorder
from tests.kit.factories import quarantined_messages
from tests.kit.openapi_check import check_exchange
from tests.kit.servers import ACCOUNT_ID, API_TOKEN, SimulatorProcess

# The operations behind each public client method.
EXPECTED = {
    "search": {"email_security_investigate"},
    "search_matches": {"email_security_investigate"},
    "get_message": {"email_security_get_message"},
    "get_detections": {"email_security_get_message_detections"},
    "get_preview": {"email_security_get_message_preview", "email_security_post_preview"},
    "get_raw": {"email_security_get_message_raw"},
    "save_raw": {"email_security_get_message_raw"},
    "get_trace": {"email_security_get_message_trace"},
    "get_action_log": {"email_security_get_message_action_log"},
    "move": {"email_security_post_message_move", "email_security_post_bulk_move"},
    "reclassify": {"email_security_post_reclassify"},
    "release": {"email_security_post_release"},
    "list_submissions": {"email_security_submissions"},
    "list_phishguard_reports": {"email_security_get_phishguard_reports"},
    "block_sender": {"email_security_create_blocked_sender"},
    "list_blocked_senders": {"email_security_list_blocked_senders"},
    "delete_blocked_sender": {"email_security_delete_blocked_sender"},
    "create_allow_policy": {"email_security_create_allow_policy"},
    "list_allow_policies": {"email_security_list_allow_policies"},
    "list_trusted_domains": {"email_security_list_trusted_domains"},
    "list_protected_domains": {"email_security_list_domains"},
}


def test_expected_covers_every_public_method() -> None:
    public = {
        name
        for name in dir(EmailSecurityClient)
        if not name.startswith("_") and callable(getattr(EmailSecurityClient, name))
    }
    assert public - {"aclose", "search_page"} == set(EXPECTED)


async def test_every_client_method_honours_the_contract(simulator: SimulatorProcess) -> None:
    recorder = ContractRecorder()
    ids = simulator.add_messages(quarantined_messages(3, "Contract"))
    async with EmailSecurityClient(
        ACCOUNT_ID, api_token=API_TOKEN, base_url=simulator.base_url, retry=FAST_RETRY,
        search_poll_interval=0.01, event_hooks=recorder.hooks,
    ) as es:  # fmt: skip
        simulator.faults(search_202=1)
        found = [m async for m in es.search(per_page=50, detections_only=False, limit=120)]
        simulator.faults(search_202=0)
        matched = es.search_matches(per_page=50, detections_only=False, limit=120)
        assert [m.id async for m in matched] == [m.id for m in found]
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
        now = datetime.now(UTC)
        await es.list_phishguard_reports(now - timedelta(days=7), now)
        blocked = await es.block_sender("evil.example", "DOMAIN", comments="contract")
        await es.list_blocked_senders()
        await es.delete_blocked_sender(blocked.id)
        await es.create_allow_policy("trusted@partner.example", "EMAIL", is_trusted_sender=True)
        await es.list_allow_policies()
        await es.list_trusted_domains()
        await es.list_protected_domains(status="ACTIVE", order="domain", direction="asc")
        # Error answers are part of the contract too.
        with pytest.raises(NotFoundError):
            await es.get_raw("Missing0000000-2026-01-01T00:00:00-00000000")
        with pytest.raises(InvalidRequestError):
            await es.block_sender("not-a-domain", "DOMAIN")
    assert recorder.violations() == []
    covered = recorder.operations()
    missing = {m: ops - covered for m, ops in EXPECTED.items() if ops - covered}
    assert missing == {}
    statuses = {response.status_code for _, response in recorder.exchanges}
    assert {200, 201, 202, 404, 422} <= statuses


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
