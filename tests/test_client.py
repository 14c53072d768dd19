"""EmailSecurityClient against the simulator over real HTTP; every exchange is contract-checked."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import logging
import time
import zlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.cloudflare import (
    AuthError,
    EmailSecurityClient,
    InvalidRequestError,
    NotFoundError,
    PartialBulkError,
    RateLimitedError,
    UnavailableError,
    UnexpectedResponseError,
)
from bot.cloudflare.errors import TooLargeError
from bot.cloudflare.rawjson import RawEmlWriter
from tests.kit.clients import FAST_RETRY, api_client
from tests.kit.contract import ContractRecorder
from tests.kit.factories import add, quarantined_messages
from tests.kit.http import async_local
from tests.kit.servers import ACCOUNT_ID, API_EMAIL, API_KEY, API_TOKEN, SimulatorProcess, free_port


@pytest.fixture
def recorder() -> ContractRecorder:
    return ContractRecorder()


@pytest.fixture
async def client(
    simulator: SimulatorProcess, recorder: ContractRecorder
) -> AsyncIterator[EmailSecurityClient]:
    async with api_client(simulator.base_url, recorder) as es:
        yield es
    # The contract holds for every exchange of every test, not only in test_contract.py.
    assert recorder.violations() == []


async def all_messages(es: EmailSecurityClient, **filters: Any) -> list[Any]:
    return [m async for m in es.search(**filters)]


def api_requests(
    simulator: SimulatorProcess, path_end: str, method: str = "GET"
) -> list[dict[str, Any]]:
    return [
        r for r in simulator.requests() if r["method"] == method and r["path"].endswith(path_end)
    ]


# -- search ------------------------------------------------------------------------------------


async def test_search_follows_cursor_across_pages(
    client: EmailSecurityClient, simulator: SimulatorProcess
) -> None:
    one_page = await client.search_page(detections_only=False, per_page=1000)
    assert one_page.next_cursor is None
    paged = await all_messages(client, detections_only=False, per_page=7)
    assert len(one_page.messages) >= 200
    assert [m.id for m in paged] == [m.id for m in one_page.messages]
    searches = api_requests(simulator, "/investigate")
    assert len(searches) == 1 + -(-len(paged) // 7)
    assert all("page" not in r["query"] for r in searches), "EOL `page` must never be sent"
    assert sum("cursor" in r["query"] for r in searches) == len(searches) - 2


async def test_search_limit_stops_early(
    client: EmailSecurityClient, simulator: SimulatorProcess
) -> None:
    found = [m async for m in client.search(limit=5, per_page=3, detections_only=False)]
    assert len(found) == 5
    assert len(api_requests(simulator, "/investigate")) == 2


async def test_search_filters_reach_the_api(client: EmailSecurityClient) -> None:
    malicious = await all_messages(client, final_disposition="MALICIOUS", per_page=1000)
    assert malicious and all(m.final_disposition == "MALICIOUS" for m in malicious)
    everything = await all_messages(client, detections_only=False, per_page=1000)
    detections = await all_messages(client, per_page=1000)
    assert any(m.final_disposition == "NONE" for m in everything)
    assert all(m.final_disposition != "NONE" for m in detections)
    sender = malicious[0].from_
    assert sender
    by_sender = await all_messages(client, sender=sender, detections_only=False)
    assert by_sender and all(m.from_ == sender for m in by_sender)
    start = datetime.now(UTC) + timedelta(days=1)
    with pytest.raises(InvalidRequestError) as future:
        await client.search_page(start=start)
    assert future.value.status == 422 and future.value.errors


async def test_search_refuses_unknown_and_end_of_life_filters(
    client: EmailSecurityClient, simulator: SimulatorProcess
) -> None:
    with pytest.raises(ValueError, match="page"):
        await client.search_page(page=2)  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="final_disposition"):
        await client.search_page(final_disposition="MALICIOUS-BEC")  # type: ignore[typeddict-item]
    assert simulator.requests() == []


async def test_search_202_polls_location_until_ready(
    client: EmailSecurityClient, simulator: SimulatorProcess
) -> None:
    simulator.faults(search_202=3)
    page = await client.search_page(final_disposition="MALICIOUS", per_page=50)
    assert page.messages and all(m.final_disposition == "MALICIOUS" for m in page.messages)
    statuses = [r["status"] for r in api_requests(simulator, "/investigate")]
    assert statuses == [202, 202, 202, 200]


async def test_search_202_polling_is_bounded(simulator: SimulatorProcess) -> None:
    simulator.faults(search_202=1000)
    async with api_client(simulator.base_url, search_poll_timeout=0.3) as es:
        with pytest.raises(UnavailableError, match="still running"):
            await es.search_page()
    assert len(api_requests(simulator, "/investigate")) < 40


# -- one message ------------------------------------------------------------------------------


async def test_get_message_by_investigate_and_postfix_id(client: EmailSecurityClient) -> None:
    first = (await client.search_page(per_page=1)).messages[0]
    by_id = await client.get_message(first.id)
    by_postfix = await client.get_message(first.postfix_id)
    assert by_id == first
    assert by_postfix.postfix_id == first.postfix_id


async def test_get_message_not_found_is_typed(client: EmailSecurityClient) -> None:
    with pytest.raises(NotFoundError) as missing:
        await client.get_message("NoSuchMessage00-2026-01-01T00:00:00-deadbeef")
    assert missing.value.status == 404
    assert missing.value.errors and missing.value.errors[0].code >= 1000
    assert "not found" in str(missing.value)


async def test_get_message_from_submissions(client: EmailSecurityClient) -> None:
    submitted = await all_messages(client, submissions=True, detections_only=False, per_page=1000)
    assert submitted, "the sample data has phish submissions"
    found = await client.get_message(submitted[0].id, submission=True)
    assert found.is_phish_submission
    regular = (await client.search_page(per_page=1)).messages[0]
    with pytest.raises(NotFoundError):
        await client.get_message(regular.id, submission=True)


async def test_detections_raw_trace_and_action_log(client: EmailSecurityClient) -> None:
    malicious = await all_messages(client, final_disposition="MALICIOUS", per_page=1000)
    message = next(m for m in malicious if m.is_quarantined)
    detections = await client.get_detections(message.id)
    assert detections.links or detections.attachments
    assert detections.validation.spf is not None
    raw = await client.get_raw(message.id)
    assert "Subject:" in raw and "From:" in raw
    trace = await client.get_trace(message.id)
    assert trace.inbound.lines and all(line.message for line in trace.inbound.lines)
    before = await client.get_action_log(message.id)
    await client.release([message.id])
    after = await client.get_action_log(message.id)
    assert after[: len(before)] == before
    assert [entry.operation for entry in after[len(before) :]] == ["QUARANTINE_RELEASE"]


# Everything a JSON string escape can stand for, and text that looks like the envelope.
TRICKY_EML = (
    'From: "Payroll \\ Team" <payroll@evil.example>\r\nSubject: =?utf-8?q?caf=C3=A9?= é ü 😀\r\n'
    '\r\n{"success": false, "result": {"raw": "not this"}}\r\n\t\\u00e9 \\" / \x01\x1f\r\n'
)


async def test_raw_is_streamed_to_a_file_exactly(
    client: EmailSecurityClient, simulator: SimulatorProcess, tmp_path: Any
) -> None:
    message_id = add(simulator, subject="Tricky", _raw=TRICKY_EML)
    path = tmp_path / "raw.eml"
    with path.open("w+b") as sink:
        size = await client.save_raw(message_id, sink, max_bytes=1024)
    assert path.read_bytes() == TRICKY_EML.encode()
    assert size == len(TRICKY_EML.encode())
    assert await client.get_raw(message_id) == TRICKY_EML


async def test_raw_above_the_cap_stops_reading(
    client: EmailSecurityClient, simulator: SimulatorProcess
) -> None:
    message_id = add(simulator, subject="Large", _raw="Subject: Large\r\n\r\n" + "x" * 5000)
    with pytest.raises(TooLargeError) as large:
        await client.save_raw(message_id, io.BytesIO(), max_bytes=4096)
    assert large.value.limit == 4096
    with pytest.raises(TooLargeError):
        await client.get_raw(message_id, max_bytes=4096)
    assert len(api_requests(simulator, "/raw")) == 2, "not retried"


@pytest.mark.parametrize("ensure_ascii", [True, False])
def test_raw_writer_decodes_across_every_chunk_boundary(ensure_ascii: bool) -> None:
    """However the answer is cut into chunks (an escape, a surrogate pair or a UTF-8
    character split in two), the EML comes out as `json.loads` reads it."""
    raw = TRICKY_EML + "pair: \U0001f600\\ud83d\\ude00 end"
    envelope = {
        "success": True, "errors": [], "messages": [{"code": 1, "message": "m", "n": -2.5e3}],
        "result": {"other": ["\\", None, False, {}], "raw": raw}, "result_info": None,
    }  # fmt: skip
    body = json.dumps(envelope, ensure_ascii=ensure_ascii).encode()
    for step in (1, 2, 3, 5, 7, 4096):
        sink = io.BytesIO()
        writer = RawEmlWriter(sink, 1024)
        for start in range(0, len(body), step):
            writer.feed(body[start : start + step])
        assert writer.close() == len(raw.encode())
        assert sink.getvalue() == raw.encode(), step


@pytest.mark.parametrize(
    "body",
    [
        b'{"success": false, "errors": [], "messages": [], "result": {"raw": "x"}}',
        b'{"success": true, "result": {"raw": "x"}',
        b'{"success": true, "result": {}}',
        b'{"success": true, "result": {"raw": "a\\qb"}}',
        b'{"success": tru, "result": {"raw": "x"}}',
        b'{"success": true "result": {"raw": "x"}}',
    ],
)
def test_raw_writer_refuses_what_is_not_a_successful_envelope(body: bytes) -> None:
    def read() -> int:
        writer = RawEmlWriter(io.BytesIO(), 1024)
        writer.feed(body)
        return writer.close()

    with pytest.raises(UnexpectedResponseError):
        read()


def decode_png(data: bytes) -> tuple[int, int]:
    """Walk the PNG's chunks, check every CRC and inflate IDAT; returns (width, height)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, size = 8, b"", (0, 0)
    while pos < len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        crc = int.from_bytes(data[pos + 8 + length : pos + 12 + length], "big")
        assert zlib.crc32(kind + body) == crc, f"bad CRC in {kind!r}"
        if kind == b"IHDR":
            size = (int.from_bytes(body[:4], "big"), int.from_bytes(body[4:8], "big"))
        if kind == b"IDAT":
            idat += body
        pos += 12 + length
    assert len(zlib.decompress(idat)) > size[1]
    return size


async def test_preview_of_a_detection_uses_get(
    client: EmailSecurityClient, simulator: SimulatorProcess
) -> None:
    message = (await client.search_page(final_disposition="MALICIOUS", per_page=1)).messages[0]
    png = await client.get_preview(message.id, is_detection=True)
    width, height = decode_png(png)
    assert width > 0 and height > 0
    assert api_requests(simulator, "/preview", "GET")
    assert not api_requests(simulator, "/preview", "POST")


async def test_preview_of_a_clean_message_posts_the_postfix_id(
    client: EmailSecurityClient, simulator: SimulatorProcess
) -> None:
    clean = (
        await client.search_page(final_disposition="NONE", detections_only=False, per_page=1)
    ).messages[0]
    decode_png(await client.get_preview(clean.id, is_detection=False))
    decode_png(await client.get_preview(clean.id))  # unknown: GET first, POST on 404
    posts = [c for c in simulator.calls() if c["path"].endswith("/investigate/preview")]
    assert [c["body"] for c in posts] == [{"postfix_id": clean.postfix_id}] * 2


# -- actions -----------------------------------------------------------------------------------


async def test_release_chunks_2500_ids_at_1000(
    client: EmailSecurityClient, simulator: SimulatorProcess
) -> None:
    ids = simulator.add_messages(quarantined_messages(2500, "Bulk"))
    chunk_sizes: list[int] = []

    async def on_chunk(results: list[Any]) -> None:
        chunk_sizes.append(len(results))

    results = await client.release(ids + ids[:10], on_chunk=on_chunk)
    assert chunk_sizes == [1000, 1000, 500]
    assert [r.id for r in results] == ids
    assert {r.outcome for r in results} == {"delivered"}
    calls = [c for c in simulator.calls() if c["path"].endswith("/investigate/release")]
    assert [len(c["body"]) for c in calls] == [1000, 1000, 500]
    assert all(isinstance(c["body"], list) for c in calls), "spec shape: a bare array"
    sent = [i for c in calls for i in c["body"]]
    assert sorted(sent) == sorted(ids), "every id released exactly once"
    released = await all_messages(client, message_action="QUARANTINE_RELEASED", per_page=1000)
    assert set(ids) <= {m.id for m in released}


async def test_release_reports_every_id(
    client: EmailSecurityClient, simulator: SimulatorProcess
) -> None:
    [queued] = simulator.add_messages(quarantined_messages(1, "Once"))
    first = await client.release([queued])
    again = await client.release([queued, "Unknown000000-2026-01-01T00:00:00-00000000"])
    assert first[0].outcome == "delivered" and first[0].delivered
    assert again[0].outcome == "undelivered"
    assert again[1].outcome == "unknown"


def shape_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "body shape" in r.getMessage()]


async def test_release_retries_once_with_the_sdk_body_and_keeps_it(
    simulator: SimulatorProcess, caplog: pytest.LogCaptureFixture
) -> None:
    """The live API may take only `{"ids": [...]}`: the refused bare array was not processed,
    so the client sends the same ids once more in that shape, and from then on only that."""
    caplog.set_level(logging.INFO, logger="bot.cloudflare")
    one, two = simulator.add_messages(quarantined_messages(2, "SdkShape"))
    simulator.faults(body_shapes="sdk")
    async with api_client(simulator.base_url) as es:
        [first] = await es.release([one])
        [second] = await es.release([two])
    assert first.outcome == second.outcome == "delivered"
    sent = [(c["status"], c["body"]) for c in simulator.calls() if c["path"].endswith("/release")]
    assert sent == [(400, [one]), (200, {"ids": [one]}), (200, {"ids": [two]})]
    [line] = shape_lines(caplog)
    assert '{"ids": [...]}' in line


async def test_release_keeps_the_spec_body_that_worked(
    simulator: SimulatorProcess, caplog: pytest.LogCaptureFixture
) -> None:
    """Once a shape worked, a later 400 is the API refusing the request, not the shape: it is
    answered as it is, and nothing is sent again."""
    caplog.set_level(logging.INFO, logger="bot.cloudflare")
    one, two = simulator.add_messages(quarantined_messages(2, "SpecShape"))
    simulator.faults(body_shapes="spec")
    async with api_client(simulator.base_url) as es:
        [first] = await es.release([one])
        simulator.faults(body_shapes="sdk")
        with pytest.raises(InvalidRequestError):
            await es.release([two])
    assert first.outcome == "delivered"
    sent = [(c["status"], c["body"]) for c in simulator.calls() if c["path"].endswith("/release")]
    assert sent == [(200, [one]), (400, [two])]
    [line] = shape_lines(caplog)
    assert "bare array" in line


async def test_preview_retries_once_with_the_sdk_body_and_keeps_it(
    simulator: SimulatorProcess, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.cloudflare")
    simulator.faults(body_shapes="sdk")
    async with api_client(simulator.base_url) as es:
        clean = (
            await es.search_page(final_disposition="NONE", detections_only=False, per_page=1)
        ).messages[0]
        decode_png(await es.get_preview(clean.id, is_detection=False))
        decode_png(await es.get_preview(clean.id, is_detection=False))
    sent = [(c["status"], c["body"]) for c in simulator.calls() if c["path"].endswith("/preview")]
    assert sent == [
        (400, {"postfix_id": clean.postfix_id}),
        (200, {"id": clean.id}),
        (200, {"id": clean.id}),
    ]
    [line] = shape_lines(caplog)
    assert '{"id": ...}' in line


async def test_move_one_uses_single_endpoint(
    client: EmailSecurityClient, simulator: SimulatorProcess
) -> None:
    message = (await client.search_page(per_page=1)).messages[0]
    results = await client.move([message.id], "JunkEmail")
    assert results and all(r.success for r in results)
    [call] = simulator.calls()
    assert call["path"].endswith(f"/investigate/{message.id}/move")
    assert call["body"] == {"destination": "JunkEmail"}
    log = await client.get_action_log(message.id)
    assert (
        log[-1].operation == "MOVE"
        and log[-1].properties
        and log[-1].properties.folder == "JunkEmail"
    )


async def test_move_2500_in_chunks_of_1000(
    client: EmailSecurityClient, simulator: SimulatorProcess
) -> None:
    ids = simulator.add_messages(quarantined_messages(2500, "Move"))
    results = await client.move(ids, "DeletedItems")
    assert len(results) == 2500 and all(r.success for r in results)
    calls = [c for c in simulator.calls() if c["path"].endswith("/investigate/move")]
    assert [len(c["body"]["ids"]) for c in calls] == [1000, 1000, 500]
    assert {c["body"]["destination"] for c in calls} == {"DeletedItems"}
    assert sorted(i for c in calls for i in c["body"]["ids"]) == sorted(ids)


async def test_move_refuses_unknown_folder(
    client: EmailSecurityClient, simulator: SimulatorProcess
) -> None:
    with pytest.raises(ValueError, match="JunkEmail"):
        await client.move(["a1b2c3d4e5"], "Spam")  # type: ignore[arg-type]
    assert simulator.calls() == []


async def test_bulk_failure_part_way_reports_what_was_done(
    client: EmailSecurityClient, simulator: SimulatorProcess
) -> None:
    ids = simulator.add_messages(quarantined_messages(2500, "Part"))

    async def break_next_chunk(results: list[Any]) -> None:
        async with async_local() as http:
            await http.post(
                f"{simulator.root}/__simulator/faults",
                json={"fail_next": [{"status": 503, "count": 1, "method": "POST"}]},
            )

    with pytest.raises(PartialBulkError) as partial:
        await client.release(ids, on_chunk=break_next_chunk)
    assert [r.id for r in partial.value.done] == ids[:1000]
    assert partial.value.not_attempted == ids[1000:]
    assert isinstance(partial.value.cause, UnavailableError)
    posted = [c for c in simulator.calls() if c["path"].endswith("/release")]
    assert [c["status"] for c in posted] == [200, 503], "a failed POST is not retried"


async def test_reclassify_creates_a_submission(
    client: EmailSecurityClient, simulator: SimulatorProcess
) -> None:
    message = (await client.search_page(final_disposition="SPAM", per_page=1)).messages[0]
    await client.reclassify(message.id, "NONE", eml_content=b"From: a@example.com\r\n\r\nhi")
    [call] = simulator.calls()
    assert call["status"] == 202
    assert call["body"]["expected_disposition"] == "NONE"
    assert base64.b64decode(call["body"]["eml_content"]).startswith(b"From: a@example.com")
    submissions = await client.list_submissions(requested_disposition="NONE")
    assert any(s.original_postfix_id == message.postfix_id for s in submissions)
    with pytest.raises(ValueError, match="MALICIOUS-BEC"):
        await client.reclassify(message.id, "MALICIOUS-BEC")  # type: ignore[arg-type]


async def test_submissions_page_through_everything(
    client: EmailSecurityClient, simulator: SimulatorProcess
) -> None:
    everything = await client.list_submissions(per_page=1000)
    paged = await client.list_submissions(per_page=5)
    assert len(everything) > 5
    assert [s.submission_id for s in paged] == [s.submission_id for s in everything]
    one_page = await client.list_submissions(page=2, per_page=5)
    assert [s.submission_id for s in one_page] == [s.submission_id for s in everything[5:10]]
    with pytest.raises(ValueError, match="cursor"):
        await client.list_submissions(cursor="x")


def page_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "bot.cloudflare" and r.levelno == logging.WARNING and "page" in r.getMessage()
    ]


async def test_a_list_stops_on_a_repeated_page_of_the_spec_example(
    simulator: SimulatorProcess, caplog: pytest.LogCaptureFixture
) -> None:
    """A server that ignores `page` and claims the spec example's total_count (2000): the
    client stops at the first repeat, says so once, and keeps each item once."""
    caplog.set_level(logging.INFO, logger="bot.cloudflare")
    async with api_client(simulator.base_url) as es:
        everything = await es.list_submissions(per_page=1000)
        simulator.faults(repeat_pages=True)
        repeated = await es.list_submissions(per_page=2)
        assert len(api_requests(simulator, "/submissions")) == 1 + 2
        assert [s.submission_id for s in repeated] == [s.submission_id for s in everything[:2]]
        assert len(page_warnings(caplog)) == 1, page_warnings(caplog)
        assert "repeat" in page_warnings(caplog)[0]
        # Pages of the default size hold all 36: a short page ends the list at once.
        assert len(await es.list_submissions()) == len(everything)
    assert len(api_requests(simulator, "/submissions")) == 1 + 2 + 1


async def test_a_list_stops_at_its_page_cap(
    simulator: SimulatorProcess, caplog: pytest.LogCaptureFixture
) -> None:
    """36 submissions one a page: the list stops at 10 pages (under 1% of the 1200 requests
    per 5 minutes Cloudflare allows), and says where it stopped, once."""
    caplog.set_level(logging.INFO, logger="bot.cloudflare")
    async with api_client(simulator.base_url) as es:
        capped = await es.list_submissions(per_page=1)
    assert len(capped) == 10
    assert len(api_requests(simulator, "/submissions")) == 10
    [warning] = page_warnings(caplog)
    assert "10 pages" in warning and "submissions" in warning


async def test_phishguard_reports(client: EmailSecurityClient, simulator: SimulatorProcess) -> None:
    end = datetime.now(UTC)
    reports = await client.list_phishguard_reports(end - timedelta(days=30), end)
    assert reports and all(r.fields.to for r in reports)
    [request] = api_requests(simulator, "/phishguard/reports")
    assert set(request["query"]) == {"start", "end"}


async def test_block_sender_list_and_delete(client: EmailSecurityClient) -> None:
    created = await client.block_sender("phisher@evil.example", "EMAIL", comments="campaign 42")
    assert created.id and created.pattern == "phisher@evil.example"
    listed = await client.list_blocked_senders(pattern="phisher@evil.example")
    assert [b.id for b in listed] == [created.id]
    assert await client.delete_blocked_sender(created.id) == created.id
    assert await client.list_blocked_senders(pattern="phisher@evil.example") == []
    with pytest.raises(NotFoundError):
        await client.delete_blocked_sender(created.id)


async def test_block_sender_validation_error_carries_cloudflare_text(
    client: EmailSecurityClient,
) -> None:
    with pytest.raises(InvalidRequestError) as bad:
        await client.block_sender("not an address", "EMAIL")
    assert bad.value.errors and bad.value.errors[0].code >= 1000 and bad.value.errors[0].message
    assert bad.value.errors[0].message in str(bad.value)
    with pytest.raises(ValueError, match="UNKNOWN"):
        await client.block_sender("x@example.com", "UNKNOWN")  # type: ignore[arg-type]


async def test_allow_policies_and_trusted_domains(
    client: EmailSecurityClient, simulator: SimulatorProcess
) -> None:
    policy = await client.create_allow_policy(
        "partner.example", "DOMAIN", is_acceptable_sender=True, comments="partner"
    )
    assert policy.is_acceptable_sender and not policy.is_trusted_sender
    [call] = simulator.calls()
    assert not {"is_recipient", "is_sender", "is_spoof"} & set(call["body"]), "EOL flags"
    policies = await client.list_allow_policies(pattern="partner.example")
    assert policy.id in {p.id for p in policies}
    assert await client.list_trusted_domains()


async def test_protected_domains_every_page_and_filters(
    client: EmailSecurityClient, simulator: SimulatorProcess
) -> None:
    every = await client.list_protected_domains(per_page=1)
    assert [d.domain for d in every] == ["eu.example.com", "example.com", "example.org"]
    assert all(d.id and d.status in ("ACTIVE", "PENDING") for d in every)
    assert len(api_requests(simulator, "/settings/domains")) == 3, "one request per page"
    active = await client.list_protected_domains(status="ACTIVE")
    assert {d.domain for d in active} == {"example.com", "example.org"}
    with pytest.raises(ValueError, match="settings/domains does not take pattern"):
        await client.list_protected_domains(pattern="example.com")


# -- auth, errors, retries, limits -----------------------------------------------------------


async def test_wrong_token_is_an_auth_error(simulator: SimulatorProcess) -> None:
    async with api_client(simulator.base_url, api_token="wrong") as es:
        with pytest.raises(AuthError, match="CLOUDFLARE_API_TOKEN") as refused:
            await es.search_page()
    assert refused.value.status == 401
    assert len(simulator.requests()) == 1, "auth errors are not retried"


async def test_legacy_key_auth_and_token_precedence(
    simulator: SimulatorProcess, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.cloudflare")
    async with api_client(
        simulator.base_url, api_token=None, email=API_EMAIL, api_key=API_KEY
    ) as es:
        assert (await es.search_page(per_page=1)).messages
    async with api_client(simulator.base_url, email=API_EMAIL, api_key="wrong-key") as es:
        assert (await es.search_page(per_page=1)).messages, "the token wins over the key pair"
    text = caplog.text
    assert "legacy global API key" in text and "API token" in text
    for secret in (API_TOKEN, API_KEY, "wrong-key"):
        assert secret not in text


def test_missing_or_half_credentials_are_refused() -> None:
    with pytest.raises(ValueError, match="CLOUDFLARE_API_TOKEN"):
        EmailSecurityClient(ACCOUNT_ID)
    with pytest.raises(ValueError, match="both"):
        EmailSecurityClient(ACCOUNT_ID, email=API_EMAIL)
    with pytest.raises(ValueError, match="32"):
        EmailSecurityClient("short", api_token=API_TOKEN)


async def test_429_waits_retry_after_then_succeeds(
    client: EmailSecurityClient, simulator: SimulatorProcess
) -> None:
    simulator.faults(fail_next=[{"status": 429, "count": 1, "retry_after": 1}])
    started = time.monotonic()
    page = await client.search_page(per_page=1)
    assert page.messages
    assert time.monotonic() - started >= 1.0
    assert [r["status"] for r in simulator.requests()] == [429, 200]


async def test_429_on_post_waits_and_sends_once(
    client: EmailSecurityClient, simulator: SimulatorProcess
) -> None:
    [queued] = simulator.add_messages(quarantined_messages(1, "Rate"))
    simulator.faults(fail_next=[{"status": 429, "count": 1, "method": "POST", "retry_after": 1}])
    [result] = await client.release([queued])
    assert result.outcome == "delivered"
    assert [c["status"] for c in simulator.calls()] == [429, 200]


async def test_429_longer_than_the_cap_fails_fast(simulator: SimulatorProcess) -> None:
    simulator.faults(fail_next=[{"status": 429, "count": 1, "retry_after": 120}])
    async with api_client(simulator.base_url) as es:  # FAST_RETRY caps waits at 5 s
        started = time.monotonic()
        with pytest.raises(RateLimitedError) as limited:
            await es.search_page()
        assert time.monotonic() - started < 2
    assert limited.value.retry_after == 120


async def test_429_wait_is_cancellable(simulator: SimulatorProcess) -> None:
    simulator.faults(fail_next=[{"status": 429, "count": 1, "retry_after": 4}])
    async with api_client(simulator.base_url) as es:
        task = asyncio.create_task(es.search_page())
        deadline = time.monotonic() + 5
        while not simulator.requests() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        task.cancel()
        started = time.monotonic()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert time.monotonic() - started < 1
    assert len(simulator.requests()) == 1


async def test_get_retries_5xx(client: EmailSecurityClient, simulator: SimulatorProcess) -> None:
    simulator.faults(fail_next=[{"status": 503, "count": 2, "method": "GET"}])
    assert (await client.search_page(per_page=1)).messages
    assert [r["status"] for r in simulator.requests()] == [503, 503, 200]


async def test_get_gives_up_after_the_retry_budget(
    client: EmailSecurityClient, simulator: SimulatorProcess
) -> None:
    simulator.faults(fail_next=[{"status": 500, "count": 10, "method": "GET"}])
    with pytest.raises(UnavailableError, match="500"):
        await client.search_page()
    assert len(simulator.requests()) == FAST_RETRY.attempts


async def test_post_is_not_retried_on_5xx(
    client: EmailSecurityClient, simulator: SimulatorProcess
) -> None:
    message = (await client.search_page(per_page=1)).messages[0]
    simulator.faults(fail_next=[{"status": 502, "count": 1, "method": "POST"}])
    with pytest.raises(UnavailableError):
        await client.move([message.id], "Inbox")
    assert [c["status"] for c in simulator.calls()] == [502]


async def test_unreachable_api_is_unavailable() -> None:
    async with api_client(f"http://127.0.0.1:{free_port()}/client/v4") as es:
        with pytest.raises(UnavailableError, match="could not reach"):
            await es.get_message("a1b2c3d4e5f6")
        with pytest.raises(UnavailableError, match="could not reach"):
            await es.release(["a1b2c3d4e5f6"])


async def test_client_side_limiter_keeps_under_the_window(simulator: SimulatorProcess) -> None:
    async with api_client(simulator.base_url, rate_limit=(5, 0.5)) as es:
        started = time.monotonic()
        await asyncio.gather(*(es.search_page(per_page=1) for _ in range(8)))
        assert time.monotonic() - started >= 0.5
    times = sorted(datetime.fromisoformat(r["at"]).timestamp() for r in simulator.requests())
    assert len(times) == 8
    for i in range(len(times) - 5):
        assert times[i + 5] - times[i] >= 0.45, "more than 5 requests inside one 0.5 s window"


async def test_simulator_rate_limit_is_survived(tmp_path: Any) -> None:
    limited = SimulatorProcess("--rate-limit", "4/1", "--api-token", API_TOKEN)
    try:
        async with api_client(limited.base_url) as es:
            found = [m async for m in es.search(per_page=20, detections_only=False, limit=120)]
        assert len(found) == 120
        statuses = [r["status"] for r in limited.requests()]
        assert 429 in statuses and statuses[-1] == 200
    finally:
        limited.stop()
