"""End to end: a request made from a search ("Release all matching") keeps its search frozen
(its filters with a fixed start and end) and is re-checked with it after approval, 1,000
results a page, instead of one GET per message; only the ids the search no longer returns are
fetched one by one. The request's record keeps ids and the few fields its card needs, never
whole messages."""

from __future__ import annotations

import json
import re
from typing import Any

import redis

from bot.services.approvals.scripts import record_key
from tests.kit.factories import quarantined_messages
from tests.kit.flows import release_all_card, released_ids, request_id_of, wait_card
from tests.kit.servers import RedisProcess, SimulatorProcess
from tests.kit.slack import APPROVER, OPERATOR, Slack, text_of

ONE_MESSAGE = re.compile(r"/investigate/([^/]+)$")


def api_requests(simulator: SimulatorProcess, after: int) -> list[dict[str, Any]]:
    """What the bot asked the API after the `after`-th request (GET /__simulator/requests)."""
    return simulator.requests()[after:]


def single_gets(requests: list[dict[str, Any]]) -> list[str]:
    """The message ids fetched one by one (GET …/investigate/<id>)."""
    found = [ONE_MESSAGE.search(r["path"]) for r in requests if r["method"] == "GET"]
    return [m.group(1) for m in found if m is not None]


def searches(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in requests if r["method"] == "GET" and r["path"].endswith("/investigate")]


def test_a_release_from_a_search_is_rechecked_with_that_search_not_a_get_per_id(
    slack: Slack, simulator: SimulatorProcess
) -> None:
    card, ids = release_all_card(slack, simulator, 2500, "Frozen")
    mark = len(simulator.requests())
    slack.click(card, "approval_approve", user=APPROVER)
    wait_card(slack, card["ts"], "Done", timeout=60)
    asked = api_requests(simulator, mark)
    assert single_gets(asked) == [], f"{len(single_gets(asked))} single GETs"
    pages = searches(asked)
    assert len(pages) == 3, "2,500 ids: three pages of 1,000"
    assert {p["query"]["per_page"] for p in pages} == {"1000"}
    assert all(p["query"].get("start") and p["query"].get("end") for p in pages), "frozen window"
    assert {p["query"].get("subject") for p in pages} == {"Frozen batch"}
    assert len(asked) == 6, [f"{r['method']} {r['path']}" for r in asked]  # 3 pages, 3 POSTs
    released = released_ids(simulator)
    assert len(released) == len(set(released)) and sorted(released) == sorted(ids)


def test_ids_that_left_the_search_are_fetched_one_by_one_and_skipped_or_released(
    slack: Slack, simulator: SimulatorProcess
) -> None:
    card, ids = release_all_card(slack, simulator, 30, "Leaving")
    stored = {m["id"]: m for m in _stored(ids, "Leaving")}
    # After the request was made: three messages left the search (still quarantined), two
    # left it and were released meanwhile, two were released meanwhile and still match it.
    left, left_released, released_by_hand = ids[:3], ids[3:5], ids[5:7]
    simulator.add_messages(
        [{**stored[i], "subject": "Renamed meanwhile"} for i in left]
        + [{**stored[i], "subject": "Renamed meanwhile", "is_quarantined": False}
           for i in left_released]
        + [{**stored[i], "is_quarantined": False} for i in released_by_hand]
    )  # fmt: skip
    mark = len(simulator.requests())
    slack.click(card, "approval_approve", user=APPROVER)
    done = wait_card(slack, card["ts"], "Done")
    asked = api_requests(simulator, mark)
    assert sorted(single_gets(asked)) == sorted(left + left_released), (
        "only the ids the search no longer returns are fetched"
    )
    assert len(searches(asked)) == 1
    released = released_ids(simulator)
    assert sorted(released) == sorted(left + ids[7:]), "each id still quarantined, once"
    assert "skipped 4" in text_of(done), text_of(done)


def test_the_request_record_holds_ids_a_few_fields_and_its_frozen_search(
    slack: Slack, simulator: SimulatorProcess, redis_server: RedisProcess
) -> None:
    card, ids = release_all_card(slack, simulator, 1500, "Holds")
    record = redis.Redis.from_url(redis_server.url).hgetall(record_key(request_id_of(card)))
    fields = {k.decode(): v.decode() for k, v in record.items()}
    assert json.loads(fields["ids"]) == sorted(ids)
    summary = json.loads(fields["summary"])
    assert len(summary) <= 20
    assert all(set(s) <= {"id", "subject", "sender", "disposition", "recipient"} for s in summary)
    search = json.loads(fields["search"])
    assert search["matches"] == 1500, "the results the request was made from"
    filters = search["filters"]
    assert filters["subject"] == "Holds batch" and filters["detections_only"] == "false"
    assert filters["start"] < filters["end"], "a fixed window: no mail that arrives later"
    # Ids, the card's 20 summaries and a few fields: nothing of the 1,500 messages themselves.
    others = sum(len(v) for k, v in fields.items() if k not in ("ids", "summary"))
    assert others < 2000, {k: len(v) for k, v in fields.items()}
    assert len(fields["ids"]) < 60 * len(ids)
    assert "Approval needed" in text_of(card) and OPERATOR in text_of(card)


def _stored(ids: list[str], tag: str) -> list[dict[str, Any]]:
    """The factory's messages as `release_all_card` added them, with their ids."""
    messages = quarantined_messages(len(ids), tag)
    return [{**m, "subject": f"{tag} batch", "id": i} for m, i in zip(messages, ids, strict=True)]
