"""The Email Security API simulator, over real HTTP.

Every API response these tests receive is validated against the OpenAPI file by an httpx
response hook (`tests/kit/openapi_check.py`), so each test also checks the shapes of what it
touches.
"""

from __future__ import annotations

import base64
import json
import struct
import time
import urllib.error
import zlib
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.kit.http import LOCAL, TLS
from tests.kit.openapi_check import check_failure_body, check_response, spec
from tests.kit.servers import ACCOUNT_ID, API_EMAIL, API_KEY, API_TOKEN, SimulatorProcess

ALL_DISPOSITIONS = set(spec()["components"]["schemas"]["email-security_DispositionLabel"]["enum"])
INVESTIGATE_ID = r"^[A-Za-z0-9]{10,16}-\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d-[0-9a-f]{8}$"


def api_client(simulator: SimulatorProcess, headers: dict[str, str] | None = None) -> httpx.Client:
    """A client on the account's email-security base that validates every response.

    Only responses: several tests send requests the spec forbids, to see them refused.
    """
    if headers is None:
        headers = {"Authorization": f"Bearer {API_TOKEN}"}

    def validate(response: httpx.Response) -> None:
        check_response(response.request, response)

    return httpx.Client(
        verify=TLS,
        base_url=f"{simulator.base_url}/accounts/{ACCOUNT_ID}/email-security",
        headers=headers,
        event_hooks={"response": [validate]},
        timeout=10,
    )


@pytest.fixture
def api(simulator: SimulatorProcess) -> Iterator[httpx.Client]:
    with api_client(simulator) as client:
        yield client


def everything(api: httpx.Client, **filters: Any) -> list[dict[str, Any]]:
    """All messages matching `filters` (detections or not) in one page."""
    params = {"detections_only": "false", "per_page": 1000, **filters}
    response = api.get("/investigate", params=params)
    assert response.status_code == 200, response.text
    return list(response.json()["result"])


def error_of(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is False
    assert body["result"] is None
    return dict(body["errors"][0])


def quarantined(api: httpx.Client, count: int) -> list[dict[str, Any]]:
    """Quarantined messages with no bounce recipients (their release fully succeeds)."""
    found = [
        message
        for message in everything(api)
        if message["is_quarantined"]
        and not any(rcpt.startswith("bounce") for rcpt in message["client_recipients"])
    ]
    assert len(found) >= count
    return found[:count]


def single(messages: list[dict[str, Any]]) -> dict[str, Any]:
    """The first message whose postfix id no other record shares."""
    counts = Counter(message["postfix_id"] for message in messages)
    return next(message for message in messages if counts[message["postfix_id"]] == 1)


def png_size(data: bytes) -> tuple[int, int]:
    """Check a PNG chunk by chunk (signature, CRCs, IHDR, zlib IDAT); answer width, height."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    offset, chunks, idat = 8, [], b""
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        body = data[offset + 8 : offset + 8 + length]
        (crc,) = struct.unpack(">I", data[offset + 8 + length : offset + 12 + length])
        assert zlib.crc32(kind + body) & 0xFFFFFFFF == crc, kind
        chunks.append(kind)
        idat += body if kind == b"IDAT" else b""
        offset += 12 + length
    assert chunks[0] == b"IHDR"
    assert chunks[-1] == b"IEND"
    assert b"IDAT" in chunks
    width, height, depth, colour = struct.unpack(">IIBB", data[16:26])
    assert (depth, colour) == (8, 2)
    assert len(zlib.decompress(idat)) == width * height * 3 + height
    return width, height


# Sample data and shapes -------------------------------------------------------------------------


def test_sample_covers_dispositions_campaigns_and_shared_postfix_ids(
    simulator: SimulatorProcess, api: httpx.Client
) -> None:
    assert simulator.hook("GET", "health") == {"ok": True, "messages": 240}
    messages = everything(api)
    assert len(messages) == 240
    assert {message["final_disposition"] for message in messages} == ALL_DISPOSITIONS
    assert {message["is_quarantined"] for message in messages} == {True, False}
    postfix_counts = Counter(message["postfix_id"] for message in messages)
    assert max(postfix_counts.values()) >= 2, "some recipients share a postfix id"
    assert len({message["id"] for message in messages}) == 240
    campaigns = Counter((m["from"], m["subject"]) for m in messages if m["postfix_id"])
    assert max(campaigns.values()) >= 4, "a campaign sends one message to several people"
    malicious = [m for m in messages if m["final_disposition"] == "MALICIOUS"]
    assert sum(m["is_quarantined"] for m in malicious) > len(malicious) / 2
    for message in messages:
        assert message["id"].startswith(message["postfix_id"] + "-")
        assert "_links" not in message
        assert "_action_log" not in message


def test_every_read_path_answers_the_documented_shapes(api: httpx.Client) -> None:
    """One message per disposition through every per-message path (validated by the hook)."""
    by_disposition = {m["final_disposition"]: m for m in everything(api)}
    for disposition, message in by_disposition.items():
        for suffix in ("", "/detections", "/raw", "/trace", "/action_log"):
            response = api.get(f"/investigate/{message['id']}{suffix}")
            assert response.status_code == 200, (suffix, response.text)
        preview = api.get(f"/investigate/{message['id']}/preview")
        detection = disposition not in ("NONE", "ENCRYPTED", "EXTERNAL", "UNKNOWN")
        assert preview.status_code == (200 if detection else 404), disposition
    detections = api.get(f"/investigate/{by_disposition['MALICIOUS']['id']}/detections").json()
    result = detections["result"]
    assert result["action"] in ("QUARANTINE", "DELIVER")
    assert result["findings"]
    assert result["threat_categories"][0]["name"]
    raw = api.get(f"/investigate/{by_disposition['NONE']['id']}/raw").json()["result"]["raw"]
    assert "Message-ID:" in raw
    assert "Authentication-Results:" in raw
    lines = api.get(f"/investigate/{by_disposition['SPAM']['id']}/trace").json()["result"]
    assert all(line["ts"] == line["logged_at"] for line in lines["inbound"]["lines"])
    for path in (
        "/submissions",
        "/phishguard/reports",
        "/settings/block_senders",
        "/settings/allow_policies",
        "/settings/trusted_domains",
        "/settings/domains",
    ):
        response = api.get(path)
        assert response.status_code == 200, path
        assert response.json()["result"], path
    report = api.get("/phishguard/reports").json()["result"][0]
    assert api.get(f"/investigate/{report['fields']['postfix_id']}").status_code == 200


# Search -----------------------------------------------------------------------------------------


def test_cursor_pagination_returns_every_message_exactly_once(api: httpx.Client) -> None:
    seen: list[str] = []
    params: dict[str, Any] = {"detections_only": "false", "per_page": 37}
    pages = 0
    while True:
        body = api.get("/investigate", params=params).json()
        info = body["result_info"]
        assert (info["page"], info["total_count"], info["count"]) == (0, 0, len(body["result"]))
        assert (info["previous"] is None) == (pages == 0)
        seen += [message["id"] for message in body["result"]]
        pages += 1
        if info["next"] is None:
            break
        params["cursor"] = info["next"]
    assert pages == 7
    assert len(seen) == 240 == len(set(seen))
    scanned = [m["scanned_at"] for m in everything(api)]
    assert scanned == sorted(scanned, reverse=True)


def test_cursor_is_tied_to_its_filters(api: httpx.Client) -> None:
    first = api.get("/investigate", params={"per_page": 5}).json()["result_info"]["next"]
    other = api.get("/investigate", params={"per_page": 5, "cursor": first, "query": "invoice"})
    assert error_of(other, 422)["code"] == 1003
    garbage = api.get("/investigate", params={"cursor": "not-a-cursor"})
    assert error_of(garbage, 422)["code"] == 1003


def test_search_filters(simulator: SimulatorProcess, api: httpx.Client) -> None:
    detections = api.get("/investigate", params={"per_page": 1000}).json()["result"]
    assert detections
    assert all(
        m["final_disposition"] not in ("NONE", "ENCRYPTED", "EXTERNAL", "UNKNOWN")
        for m in detections
    )
    spam = everything(api, final_disposition="SPAM")
    assert spam
    assert {m["final_disposition"] for m in spam} == {"SPAM"}
    by_domain = everything(api, sender="m365-account-security.example")
    assert by_domain
    assert all(m["from"].endswith("@m365-account-security.example") for m in by_domain)
    target = single(by_domain)
    recipient = target["client_recipients"][0]
    assert target["id"] in {m["id"] for m in everything(api, recipient=recipient)}
    words = " ".join(reversed(target["subject"].split()[:2]))
    assert target["id"] in {m["id"] for m in everything(api, subject=words)}
    assert target["id"] in {m["id"] for m in everything(api, exact_subject=target["subject"])}
    assert [m["id"] for m in everything(api, message_id=target["message_id"])] == [target["id"]]
    terms = f"{target['id'].upper()} {target['from'].split('@')[0]}"
    assert [m["id"] for m in everything(api, query=terms)] == [target["id"]]
    assert target["id"] in {
        m["id"] for m in everything(api, domain="m365-account-security.example")
    }
    submitted = everything(api, submissions="true")
    assert submitted
    assert all(m["is_phish_submission"] for m in submitted)
    moved = everything(api, delivery_status="moved")
    assert moved
    assert all("moved" in m["delivery_status"] for m in moved)
    (added,) = simulator.add_messages(
        {
            "subject": "link only",
            "final_disposition": "SPAM",
            "_links": [{"href": "https://cdn.link-host.test/x"}],
        }
    )
    assert [m["id"] for m in everything(api, domain="link-host.test")] == [added]
    assert everything(api, start="2000-01-01T00:00:00Z", end="2000-01-02T00:00:00Z") == []
    for bad in (
        {"final_disposition": "EVIL"},
        {"per_page": 0},
        {"per_page": 1001},
        {"start": "2999-01-01T00:00:00Z"},
        {"detections_only": "maybe"},
    ):
        assert error_of(api.get("/investigate", params=bad), 422)["code"] == 1003, bad


def test_search_answers_202_until_the_location_is_ready(
    simulator: SimulatorProcess, api: httpx.Client
) -> None:
    expected = api.get("/investigate", params={"per_page": 10, "query": "invoice"}).json()
    simulator.faults(search_202=3)
    first = api.get("/investigate", params={"per_page": 10, "query": "invoice"})
    assert first.status_code == 202
    assert first.json()["result"] == []
    assert first.json()["result_info"]["next"] is None
    location = first.headers["Location"]
    assert location.startswith(f"/client/v4/accounts/{ACCOUNT_ID}/email-security/investigate?")
    assert "query=invoice" in location
    assert "cursor=" in location
    statuses = []
    for _ in range(3):
        response = api.get(simulator.root + location)
        statuses.append(response.status_code)
        if response.status_code == 200:
            break
        assert response.headers["Location"] == location
    assert statuses == [202, 202, 200]
    assert response.json()["result"] == expected["result"]
    polls = [r for r in simulator.requests() if r["path"].endswith("/investigate")]
    assert [r["status"] for r in polls] == [200, 202, 202, 202, 200]


# Actions ----------------------------------------------------------------------------------------


def test_release_accepts_both_body_shapes_and_clears_quarantine(
    simulator: SimulatorProcess, api: httpx.Client
) -> None:
    one, two = quarantined(api, 2)
    bare = api.post("/investigate/release", json=[one["id"]])
    wrapped = api.post("/investigate/release", json={"ids": [two["id"], "unknown-id"]})
    assert bare.status_code == wrapped.status_code == 200
    assert bare.json()["result"] == [
        {
            "id": one["id"],
            "postfix_id": one["postfix_id"],
            "delivered": one["client_recipients"],
            "failed": [],
            "undelivered": [],
        }
    ]
    assert wrapped.json()["result"][1] == {
        "id": "unknown-id",
        "delivered": [],
        "failed": [],
        "undelivered": [],
    }
    for message in (one, two):
        now = api.get(f"/investigate/{message['id']}").json()["result"]
        assert now["is_quarantined"] is False
        assert now["delivery_status"] == ["delivered"]
        assert "QUARANTINE_RELEASE" in now["post_delivery_operations"]
        log = api.get(f"/investigate/{message['id']}/action_log").json()["result"]
        assert log[-1]["operation"] == "QUARANTINE_RELEASE"
        assert log[-1]["success"] is True
    released = {m["id"] for m in everything(api, message_action="QUARANTINE_RELEASED")}
    assert {one["id"], two["id"]} <= released
    calls = simulator.calls()
    assert [call["body"] for call in calls] == [[one["id"]], {"ids": [two["id"], "unknown-id"]}]
    assert all(call["method"] == "POST" and call["status"] == 200 for call in calls)
    again = api.post("/investigate/release", json=[one["id"]]).json()["result"][0]
    assert again["delivered"] == []
    assert again["undelivered"] == one["client_recipients"]
    too_many = api.post("/investigate/release", json=[one["id"]] * 1001)
    assert error_of(too_many, 422)["code"] == 1003


def test_release_reports_bounced_recipients(api: httpx.Client) -> None:
    bouncing = [m for m in everything(api, query="bounce") if m["is_quarantined"]]
    mixed = next(m for m in bouncing if not all(r.startswith("bounce") for r in m["to"]))
    only = next(m for m in bouncing if all(r.startswith("bounce") for r in m["to"]))
    result = api.post("/investigate/release", json=[mixed["id"], only["id"]]).json()["result"]
    assert result[0]["failed"]
    assert result[0]["delivered"]
    assert result[1]["failed"] == only["client_recipients"]
    assert result[1]["delivered"] == []
    assert api.get(f"/investigate/{mixed['id']}").json()["result"]["is_quarantined"] is False
    assert api.get(f"/investigate/{only['id']}").json()["result"]["is_quarantined"] is True


def test_move_one_and_many(simulator: SimulatorProcess, api: httpx.Client) -> None:
    first, second = everything(api, final_disposition="BULK")[:2]
    moved = api.post(f"/investigate/{first['id']}/move", json={"destination": "JunkEmail"})
    items = moved.json()["result"]
    assert [item["recipient"] for item in items] == first["client_recipients"]
    assert all(item["success"] and item["destination"] == "JunkEmail" for item in items)
    bulk = api.post(
        "/investigate/move", json={"destination": "DeletedItems", "ids": [second["id"], "missing"]}
    )
    results = bulk.json()["result"]
    assert results[-1]["success"] is False
    assert results[-1]["status"] == "not_found"
    assert results[0]["message_id"] == second["id"]
    assert results[0]["status"] == "completed"
    log = api.get(f"/investigate/{second['id']}/action_log").json()["result"]
    assert log[-1]["operation"] == "MOVE"
    assert log[-1]["properties"]["folder"] == "DeletedItems"
    state = api.get(f"/investigate/{second['id']}").json()["result"]
    assert state["delivery_status"] == ["moved"]
    assert "MOVE" in state["post_delivery_operations"]
    assert {first["id"], second["id"]} <= {m["id"] for m in everything(api, message_action="MOVED")}
    bad_folder = api.post("/investigate/move", json={"destination": "Spam", "ids": [first["id"]]})
    assert error_of(bad_folder, 422)["code"] == 1003
    too_many = api.post("/investigate/move", json={"destination": "Inbox", "ids": ["x"] * 1001})
    assert "1000" in error_of(too_many, 422)["message"]
    eol = api.post(
        "/investigate/move", json={"destination": "Inbox", "postfix_ids": [first["postfix_id"]]}
    )
    assert error_of(eol, 400)["code"] == 10001
    assert [c["status"] for c in simulator.calls()] == [200, 200, 422, 422, 400]


def test_reclassify_answers_202_and_creates_a_submission(api: httpx.Client) -> None:
    message = everything(api, final_disposition="SPAM")[0]
    response = api.post(
        f"/investigate/{message['id']}/reclassify",
        json={
            "expected_disposition": "NONE",
            "eml_content": base64.b64encode(b"From: x\r\n\r\nhi").decode(),
        },
    )
    assert response.status_code == 202
    assert response.json()["result"] == {}
    newest = api.get("/submissions", params={"per_page": 1}).json()
    submission = newest["result"][0]
    assert submission["original_postfix_id"] == message["postfix_id"]
    assert submission["requested_disposition"] == "NONE"
    assert submission["type"] == "Team"
    assert newest["result_info"]["page"] == 1
    assert newest["result_info"]["total_count"] > 30
    found = api.get("/submissions", params={"submission_id": submission["submission_id"]})
    assert [s["submission_id"] for s in found.json()["result"]] == [submission["submission_id"]]
    state = api.get(f"/investigate/{message['id']}").json()["result"]
    assert "SUBMISSION" in state["post_delivery_operations"]
    bad = api.post(
        f"/investigate/{message['id']}/reclassify", json={"expected_disposition": "MALICIOUS-BEC"}
    )
    assert error_of(bad, 422)["code"] == 1003


def test_preview_png_by_get_and_both_post_shapes(api: httpx.Client) -> None:
    detection = everything(api, final_disposition="MALICIOUS")[0]
    clean = single(everything(api, final_disposition="NONE"))
    shots = [
        api.get(f"/investigate/{detection['id']}/preview"),
        api.post("/investigate/preview", json={"postfix_id": clean["postfix_id"]}),
        api.post("/investigate/preview", json={"id": clean["id"]}),
    ]
    for shot in shots:
        assert shot.status_code == 200
        assert png_size(base64.b64decode(shot.json()["result"]["screenshot"])) == (480, 320)
    assert shots[1].json() == shots[2].json()
    assert error_of(api.post("/investigate/preview", json={}), 400)["code"] == 1001
    log = api.get(f"/investigate/{detection['id']}/action_log").json()["result"]
    assert log[-1]["operation"] == "PREVIEW"
    assert detection["id"] in {m["id"] for m in everything(api, message_action="PREVIEW")}


@pytest.mark.parametrize(
    ("shapes", "accepted", "refused"),
    [
        ("spec", ([0], {"postfix_id": "P"}), ({"ids": [0]}, {"id": "I"})),
        ("sdk", ({"ids": [0]}, {"id": "I"}), ([0], {"postfix_id": "P"})),
    ],
)
def test_body_shapes_setting_refuses_the_other_shape(
    simulator: SimulatorProcess,
    api: httpx.Client,
    shapes: str,
    accepted: tuple[Any, Any],
    refused: tuple[Any, Any],
) -> None:
    """One shape only, as the live API may be: the other is a 400 with the failure envelope,
    and nothing happens (the client's retry with the other shape relies on that)."""
    one, two = quarantined(api, 2)
    clean = single(everything(api, final_disposition="NONE"))

    def filled(body: Any, message: dict[str, Any]) -> Any:
        values = {"P": message["postfix_id"], "I": message["id"]}
        if isinstance(body, list):
            return [message["id"]]
        if "ids" in body:
            return {"ids": [message["id"]]}
        return {key: values[value] for key, value in body.items()}

    simulator.faults(body_shapes=shapes)
    release_refused = api.post("/investigate/release", json=filled(refused[0], one))
    assert error_of(release_refused, 400)["code"] == 1001
    check_failure_body(release_refused.json())
    assert api.get(f"/investigate/{one['id']}").json()["result"]["is_quarantined"] is True
    preview_refused = api.post("/investigate/preview", json=filled(refused[1], clean))
    assert error_of(preview_refused, 400)["code"] == 1001
    assert api.post("/investigate/release", json=filled(accepted[0], two)).status_code == 200
    assert api.get(f"/investigate/{two['id']}").json()["result"]["is_quarantined"] is False
    assert api.post("/investigate/preview", json=filled(accepted[1], clean)).status_code == 200


def test_repeat_pages_answers_the_first_page_with_the_spec_example_total(
    simulator: SimulatorProcess, api: httpx.Client
) -> None:
    honest = [api.get("/submissions", params={"per_page": 2, "page": p}).json() for p in (1, 2)]
    assert honest[0]["result"] != honest[1]["result"]
    simulator.faults(repeat_pages=True)
    for path in ("/submissions", "/settings/block_senders", "/settings/domains"):
        pages = [api.get(path, params={"per_page": 1, "page": p}).json() for p in (1, 2, 3)]
        assert pages[0]["result"] and pages[0] == pages[1] == pages[2], path
        assert pages[2]["result_info"] == {
            "count": 1,
            "page": 1,
            "per_page": 1,
            "total_count": 2000,
        }
    assert api.get("/submissions", params={"per_page": 2}).json()["result"] == honest[0]["result"]


def test_bare_postfix_id_resolves_to_the_newest_record(api: httpx.Client) -> None:
    messages = everything(api)
    shared = Counter(m["postfix_id"] for m in messages).most_common(1)[0][0]
    records = [m for m in messages if m["postfix_id"] == shared]
    assert len(records) >= 2
    assert len({m["id"] for m in records}) == len(records)
    got = api.get(f"/investigate/{shared}").json()["result"]
    assert got["id"] == records[0]["id"]
    assert api.get(f"/investigate/{shared}/trace").status_code == 200
    missing = api.get("/investigate/NoSuchPostfix1")
    assert error_of(missing, 404) == {"code": 1002, "message": "Message not found"}
    plain = next(m for m in messages if not m["is_phish_submission"])
    assert api.get(f"/investigate/{plain['id']}", params={"submission": "true"}).status_code == 404


def test_parameters_past_end_of_life_are_refused(api: httpx.Client) -> None:
    assert error_of(api.get("/investigate", params={"page": 2}), 400)["code"] == 10001
    eol = api.get("/phishguard/reports", params={"from_date": "2026-01-01"})
    assert error_of(eol, 400)["code"] == 10001
    policy = {
        "pattern": "x.example",
        "pattern_type": "DOMAIN",
        "is_regex": False,
        "is_exempt_recipient": False,
        "is_trusted_sender": False,
        "is_acceptable_sender": True,
        "verify_sender": True,
        "is_spoof": True,
    }
    assert error_of(api.post("/settings/allow_policies", json=policy), 400)["code"] == 10001
    del policy["is_spoof"]
    created = api.post("/settings/allow_policies", json=policy)
    assert created.status_code == 201
    assert api.get(f"/settings/allow_policies/{created.json()['result']['id']}").status_code == 200


# Settings ---------------------------------------------------------------------------------------


def test_block_senders_create_list_delete_and_validation(api: httpx.Client) -> None:
    body = {
        "pattern": "Evil@Phish.example",
        "pattern_type": "EMAIL",
        "is_regex": False,
        "comments": "reported by SOC",
    }
    created = api.post("/settings/block_senders", json=body)
    assert created.status_code == 201
    record = created.json()["result"]
    assert record["created_at"] == record["modified_at"] == record["last_modified"]
    listed = api.get("/settings/block_senders", params={"pattern": "evil@phish.example"})
    assert [r["id"] for r in listed.json()["result"]] == [record["id"]]
    patched = api.patch(f"/settings/block_senders/{record['id']}", json={"comments": "confirmed"})
    assert patched.json()["result"]["comments"] == "confirmed"
    assert api.delete(f"/settings/block_senders/{record['id']}").json()["result"] == {
        "id": record["id"]
    }
    assert error_of(api.get(f"/settings/block_senders/{record['id']}"), 404)["code"] == 1002
    invalid: list[dict[str, Any]] = [
        {"pattern": "not-an-address", "pattern_type": "EMAIL"},
        {"pattern": "bad_domain!", "pattern_type": "DOMAIN"},
        {"pattern": "10.1.2.3", "pattern_type": "IP"},
        {"pattern": "300.1.1.1", "pattern_type": "IP"},
        {"pattern": "spammer.example", "pattern_type": "UNKNOWN"},
        {"pattern": "m365-account-security.example", "pattern_type": "DOMAIN"},  # duplicate
        {"pattern": "([unclosed", "pattern_type": "EMAIL", "is_regex": True},
    ]
    for bad in invalid:
        response = api.post("/settings/block_senders", json={"is_regex": False, **bad})
        assert error_of(response, 422)["code"] == 1003, bad
    ok = api.post(
        "/settings/block_senders",
        json={"pattern": "198.51.100.0/24", "pattern_type": "IP", "is_regex": False},
    )
    assert ok.status_code == 201
    missing = api.post("/settings/block_senders", json={"pattern": "a.example"})
    assert "is_regex" in error_of(missing, 422)["message"]


def test_protected_domains_are_the_sample_recipients_domains(api: httpx.Client) -> None:
    recipients = {
        rcpt.rsplit("@", 1)[1] for m in everything(api) for rcpt in m["client_recipients"]
    }
    listed = api.get("/settings/domains").json()
    domains = [d["domain"] for d in listed["result"]]
    assert set(domains) == recipients == {"example.com", "example.org", "eu.example.com"}
    assert listed["result_info"]["total_count"] == 3
    picked = api.get("/settings/domains", params=[("domain", "example.org"), ("domain", "x.test")])
    assert [d["domain"] for d in picked.json()["result"]] == ["example.org"]
    pending = api.get("/settings/domains", params={"status": "PENDING"}).json()["result"]
    assert [(d["domain"], d["authorization"]["authorized"]) for d in pending] == [
        ("eu.example.com", False)
    ]
    newest = api.get("/settings/domains", params={"order": "created_at", "direction": "desc"})
    assert newest.json()["result"][0]["domain"] == "eu.example.com"
    second = api.get("/settings/domains", params={"per_page": 1, "page": 2}).json()
    assert [d["domain"] for d in second["result"]] == ["example.com"]
    assert error_of(api.get("/settings/domains", params={"status": "LIVE"}), 422)["code"] == 1003


# Auth, routing, hooks ---------------------------------------------------------------------------


def test_auth_and_routing_errors(simulator: SimulatorProcess) -> None:
    legacy = {"X-Auth-Email": API_EMAIL, "X-Auth-Key": API_KEY}
    cases = [
        ({}, 401),
        ({"Authorization": "Bearer wrong"}, 401),
        ({"X-Auth-Email": API_EMAIL, "X-Auth-Key": "wrong"}, 401),
        (legacy, 200),
        ({"Authorization": "Bearer wrong", **legacy}, 401),
        ({"Authorization": f"Bearer {API_TOKEN}", "X-Auth-Key": "wrong"}, 200),
    ]
    for headers, status in cases:
        with api_client(simulator, headers) as client:
            response = client.get("/investigate", params={"per_page": 1})
        assert response.status_code == status, headers
        if status == 401:
            assert response.json()["errors"][0] == {
                "code": 10000,
                "message": "Authentication error",
            }
    token = {"Authorization": f"Bearer {API_TOKEN}"}
    short = LOCAL.get(
        f"{simulator.base_url}/accounts/abc/email-security/investigate", headers=token
    )
    assert error_of(short, 400)["code"] == 7003
    unknown = LOCAL.get(f"{simulator.base_url}/accounts/{ACCOUNT_ID}/nothing", headers=token)
    assert error_of(unknown, 404) == {"code": 7003, "message": "No route for the URI"}


def test_messages_hook_fills_partial_messages(
    simulator: SimulatorProcess, api: httpx.Client
) -> None:
    ids = simulator.add_messages(
        [
            {
                "postfix_id": "4Njp3P0STMz2c02Q",
                "subject": "Hook one",
                "to": ["a@example.com"],
                "final_disposition": "MALICIOUS",
                "is_quarantined": True,
                "_raw": "Subject: given\r\n\r\nbody",
                "_preview_png_base64": "aGVsbG8=",
            },
            {"subject": "Hook two"},
        ]
    )
    assert len(ids) == 2
    assert ids[0].startswith("4Njp3P0STMz2c02Q-")
    assert len(ids[0].split("-")[-1]) == 8
    stored = api.get(f"/investigate/{ids[0]}").json()["result"]
    assert stored["subject"] == "Hook one"
    assert stored["alert_id"]
    assert not any(key.startswith("_") for key in stored)
    assert (
        api.get(f"/investigate/{ids[0]}/raw").json()["result"]["raw"].startswith("Subject: given")
    )
    assert api.get(f"/investigate/{ids[0]}/preview").json()["result"]["screenshot"] == "aGVsbG8="
    for suffix in ("/detections", "/trace", "/action_log"):
        assert api.get(f"/investigate/{ids[1]}{suffix}").status_code == 200
    assert simulator.hook("GET", "health")["messages"] == 242
    assert ids[0] in {m["id"] for m in api.get("/investigate").json()["result"][:5]}
    with pytest.raises(httpx.HTTPStatusError):
        LOCAL.post(
            f"{simulator.root}/__simulator/messages", json={"final_disposition": "EVIL"}
        ).raise_for_status()


# Faults -----------------------------------------------------------------------------------------


def test_fail_next_answers_injected_errors_before_any_state_change(
    simulator: SimulatorProcess, api: httpx.Client
) -> None:
    (message,) = quarantined(api, 1)
    simulator.faults(
        fail_next=[
            {
                "status": 503,
                "count": 2,
                "method": "POST",
                "path_contains": "/release",
                "retry_after": 2,
            },
        ]
    )
    for _ in range(2):
        failed = api.post("/investigate/release", json=[message["id"]])
        assert failed.status_code == 503
        assert failed.headers["Retry-After"] == "2"
        check_failure_body(failed.json())
    assert api.get(f"/investigate/{message['id']}").json()["result"]["is_quarantined"] is True
    assert api.post("/investigate/release", json=[message["id"]]).status_code == 200
    assert [call["status"] for call in simulator.calls()] == [503, 503, 200]
    simulator.faults(fail_next=[{"status": 404, "count": 1}])
    assert api.get("/submissions").status_code == 404


def test_rate_limit_answers_429_with_retry_after(
    simulator: SimulatorProcess, api: httpx.Client
) -> None:
    simulator.faults(rate_limit="3/60")
    statuses = [api.get("/submissions").status_code for _ in range(3)]
    limited = api.get("/submissions")
    assert statuses == [200, 200, 200]
    assert error_of(limited, 429)["code"] == 10429
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert [r["status"] for r in simulator.requests()] == [200, 200, 200, 429]


def test_error_rate_and_latency(simulator: SimulatorProcess, api: httpx.Client) -> None:
    simulator.faults(error_rate=1.0)
    failed = api.get("/investigate")
    assert failed.status_code == 503
    assert failed.json()["errors"][0]["code"] == 10002
    simulator.faults(error_rate=0.0, latency_ms=300)
    started = time.monotonic()
    assert api.get("/settings/trusted_domains").status_code == 200
    assert time.monotonic() - started >= 0.3
    started = time.monotonic()
    simulator.hook("GET", "health")
    assert time.monotonic() - started < 0.3, "hooks are not slowed down"


def test_reset_restores_data_logs_and_faults(
    simulator: SimulatorProcess, api: httpx.Client
) -> None:
    before = everything(api)
    (message,) = quarantined(api, 1)
    api.post("/investigate/release", json=[message["id"]])
    simulator.add_messages({"subject": "temporary"})
    simulator.faults(latency_ms=50, search_202=1, fail_next=[{"status": 500, "count": 9}])
    simulator.faults(body_shapes="sdk", repeat_pages=True, bulk_jobs=False, bulk_rate=5)
    simulator.faults(bulk_create_errors=2, bulk_create_lands=True)
    simulator.reset()
    assert simulator.calls() == []
    assert simulator.requests() == []
    assert simulator.hook("GET", "faults") == {
        "latency_ms": 0,
        "error_rate": 0.0,
        "rate_limit": None,
        "search_202": 0,
        "fail_next": [],
        "body_shapes": "both",
        "repeat_pages": False,
        "bulk_jobs": True,
        "bulk_rate": 1000.0,
        "bulk_create_errors": 0,
        "bulk_create_lands": False,
    }
    assert everything(api) == before


# Start-up flags ---------------------------------------------------------------------------------


def test_data_file_open_auth_and_search_202_flag(tmp_path: Path) -> None:
    data = tmp_path / "messages.json"
    data.write_text(
        json.dumps(
            [
                {
                    "postfix_id": "AAAAAAAAAA1",
                    "subject": "From a file",
                    "final_disposition": "SPOOF",
                },
                {
                    "postfix_id": "AAAAAAAAAA2",
                    "subject": "Clean",
                    "final_disposition": "NONE",
                    "scanned_at": "2020-01-01T00:00:00Z",
                },
            ]
        )
    )
    simulator = SimulatorProcess("--data", str(data), "--search-202", "1")
    try:
        assert simulator.hook("GET", "health") == {"ok": True, "messages": 2}
        with api_client(simulator, {"Authorization": "Bearer anything"}) as api:
            pending = api.get("/investigate")
            assert pending.status_code == 202
            ready = api.get(simulator.root + pending.headers["Location"])
            assert [m["subject"] for m in ready.json()["result"]] == ["From a file"]
        with api_client(simulator, {"X-Auth-Email": "a@b.example", "X-Auth-Key": "k"}) as api:
            assert api.get("/investigate/AAAAAAAAAA2").json()["result"]["subject"] == "Clean"
        assert "Email Security API simulator on http://127.0.0.1:" in simulator.log()
        assert "(2 messages)" in simulator.log()
    finally:
        simulator.stop()


def test_body_shapes_and_repeat_pages_flags() -> None:
    simulator = SimulatorProcess("--body-shapes", "sdk", "--repeat-pages")
    try:
        settings = simulator.hook("GET", "faults")
        assert (settings["body_shapes"], settings["repeat_pages"]) == ("sdk", True)
        simulator.faults(body_shapes="both", repeat_pages=False)
        simulator.reset()
        settings = simulator.hook("GET", "faults")
        assert (settings["body_shapes"], settings["repeat_pages"]) == ("sdk", True), (
            "a reset goes back to the flags"
        )
        with pytest.raises(urllib.error.HTTPError):
            simulator.faults(body_shapes="ids")
    finally:
        simulator.stop()
