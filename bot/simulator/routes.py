"""Handlers for the Email Security API paths under `/client/v4/accounts/{account_id}/...`.

Each handler reads the request, calls the store and shapes the envelope. Auth, faults and the
account id check have already run in the middleware (`app.py`).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from bot.simulator import derive
from bot.simulator.errors import (
    NOT_FOUND,
    ApiError,
    end_of_life,
    invalid,
    malformed,
    success_body,
)
from bot.simulator.messages import DETECTIONS, DISPOSITIONS, Message, public
from bot.simulator.params import parse_bool
from bot.simulator.runtime import Simulator, now
from bot.simulator.search import (
    SearchQuery,
    decode_cursor,
    encode_cursor,
    parse_query,
)
from bot.simulator.state import MAX_BATCH

SIMULATOR = web.AppKey("simulator", Simulator)
BASE = "/client/v4/accounts/{account_id}/email-security"
DESTINATIONS = (
    "Inbox",
    "JunkEmail",
    "DeletedItems",
    "RecoverableItemsDeletions",
    "RecoverableItemsPurges",
)
RECLASSIFY_DISPOSITIONS = ("NONE", "BULK", "MALICIOUS", "SPAM", "SPOOF", "SUSPICIOUS")
SPEC_EXAMPLE_TOTAL = 2000  # `result_info.total_count`'s example in the spec
Lister = Callable[[dict[str, str]], tuple[list[object], dict[str, int]]]


def add_routes(app: web.Application) -> None:
    """Search, one message, actions, submissions and reports. Added after settings_routes'
    (app.py): aiohttp tries routes in order, and `investigate/bulk` must not be taken for
    `investigate/{investigate_id}`."""
    investigate = f"{BASE}/investigate"
    message = f"{investigate}/{{investigate_id}}"
    app.router.add_get(investigate, search)
    app.router.add_post(f"{investigate}/move", move_many)
    app.router.add_post(f"{investigate}/preview", preview_by_body)
    app.router.add_post(f"{investigate}/release", release)
    app.router.add_get(message, get_message)
    app.router.add_get(f"{message}/detections", detections)
    app.router.add_get(f"{message}/preview", preview)
    app.router.add_get(f"{message}/raw", raw)
    app.router.add_get(f"{message}/trace", trace)
    app.router.add_get(f"{message}/action_log", action_log)
    app.router.add_post(f"{message}/move", move_one)
    app.router.add_post(f"{message}/reclassify", reclassify)
    app.router.add_get(f"{BASE}/submissions", submissions)
    app.router.add_get(f"{BASE}/phishguard/reports", phishguard_reports)


def ok(result: Any, info: dict[str, Any] | None = None, status: int = 200) -> web.Response:
    return web.json_response(success_body(result, info), status=status)


def params_of(request: web.Request) -> dict[str, str]:
    """Query parameters; a repeated one counts once (the last value)."""
    return dict(request.query.items())


def _sim(request: web.Request) -> Simulator:
    return request.app[SIMULATOR]


def _actor(request: web.Request) -> str:
    return str(request.get("actor", "unknown"))


async def _json(request: web.Request) -> Any:
    try:
        return await request.json()
    except ValueError:
        raise malformed("The request body is not valid JSON") from None


async def _json_object(request: web.Request) -> dict[str, Any]:
    body = await _json(request)
    if not isinstance(body, dict):
        raise malformed("The request body must be a JSON object")
    return body


def _message(request: web.Request) -> Message:
    return _sim(request).store.find(request.match_info["investigate_id"])


# Search ---------------------------------------------------------------------------------------


async def search(request: web.Request) -> web.Response:
    """Newest first, cursor-paged; with search_202 on, a fresh search answers 202 first."""
    sim, params = _sim(request), params_of(request)
    query = parse_query(params, now())
    cursor = decode_cursor(params["cursor"], query.fingerprint) if params.get("cursor") else None
    if cursor is None and sim.faults.settings.search_202 > 0:
        pending = sim.store.begin_pending(sim.faults.settings.search_202)
        return _accepted(request, params, query, pending)
    if cursor is not None and cursor.pending and sim.store.still_pending(cursor.pending):
        return _accepted(request, params, query, cursor.pending)
    offset = cursor.offset if cursor else 0
    page, more = sim.store.search(query, offset)
    size = query.per_page
    info = _cursor_info(len(page), size)
    info["next"] = encode_cursor(offset + size, query.fingerprint) if more else None
    if offset > 0:
        info["previous"] = encode_cursor(max(0, offset - size), query.fingerprint)
    return ok([public(message) for message in page], info)


def _cursor_info(count: int, per_page: int) -> dict[str, Any]:
    # `page` and `total_count` are deprecated and always 0, but total_count is still required.
    return {
        "count": count,
        "per_page": per_page,
        "next": None,
        "previous": None,
        "page": 0,
        "total_count": 0,
    }


def _accepted(
    request: web.Request, params: dict[str, str], query: SearchQuery, pending: str
) -> web.Response:
    """202: no results yet; `Location` is this search with a cursor that stands for the job."""
    filters = [(key, value) for key, value in params.items() if key != "cursor"]
    filters.append(("cursor", encode_cursor(0, query.fingerprint, pending)))
    location = f"{request.path}?{urlencode(filters)}"
    body = success_body([], _cursor_info(0, query.per_page))
    return web.json_response(body, status=202, headers={"Location": location})


# One message ----------------------------------------------------------------------------------


async def get_message(request: web.Request) -> web.Response:
    submission = parse_bool(params_of(request), "submission") or False
    found = _sim(request).store.find(request.match_info["investigate_id"], submission)
    return ok(public(found))


async def detections(request: web.Request) -> web.Response:
    return ok(derive.detections(_message(request)))


async def raw(request: web.Request) -> web.Response:
    return ok({"raw": derive.raw_eml(_message(request))})


async def trace(request: web.Request) -> web.Response:
    return ok(derive.trace(_message(request)))


async def action_log(request: web.Request) -> web.Response:
    return ok([dict(entry) for entry in _message(request).get("_action_log") or []])


async def preview(request: web.Request) -> web.Response:
    """Detections only, as the spec splits it: other mail is previewed by POST (below)."""
    message = _message(request)
    if message.get("final_disposition") not in DETECTIONS:
        raise ApiError(
            404, NOT_FOUND, "No detection preview for this message: use POST /investigate/preview"
        )
    return ok({"screenshot": _sim(request).store.preview(message, _actor(request), now())})


async def preview_by_body(request: web.Request) -> web.Response:
    """Non-detection preview: `{"postfix_id": …}` per the spec, `{"id": …}` per newer SDKs;
    with `body_shapes` set to one of them, the other is refused as malformed."""
    body = await _json_object(request)
    field = {"spec": "postfix_id", "sdk": "id"}.get(_sim(request).faults.settings.body_shapes)
    identifier = body.get(field) if field else body.get("postfix_id") or body.get("id")
    if not isinstance(identifier, str) or not identifier:
        wanted = f"'{field}'" if field else "'postfix_id' (or 'id')"
        raise malformed(f"The body must carry {wanted}, a message identifier")
    store = _sim(request).store
    screenshot = store.preview(store.find(identifier), _actor(request), now())
    return ok({"screenshot": screenshot})


# Actions --------------------------------------------------------------------------------------


def _destination(body: dict[str, Any]) -> str:
    destination = body.get("destination")
    if destination not in DESTINATIONS:
        raise invalid(f"'destination' must be one of {', '.join(DESTINATIONS)}")
    expected = body.get("expected_disposition")
    if expected is not None and expected not in DISPOSITIONS:
        raise invalid(f"'expected_disposition' must be one of {', '.join(DISPOSITIONS)}")
    return str(destination)


def _id_list(value: Any, name: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise invalid(f"'{name}' must be a list of message ids")
    if len(value) > MAX_BATCH:
        raise invalid(f"Maximum batch size: {MAX_BATCH} messages per request")
    return list(value)


async def move_one(request: web.Request) -> web.Response:
    body = await _json_object(request)
    destination = _destination(body)
    moved = _sim(request).store.move(_message(request), destination, _actor(request), now())
    return ok(moved)


async def move_many(request: web.Request) -> web.Response:
    body = await _json_object(request)
    if "postfix_ids" in body:
        raise end_of_life("postfix_ids", "'ids' (investigate ids)")
    destination = _destination(body)
    if "ids" not in body:
        raise invalid("'ids' is required: the investigate ids to move")
    ids = _id_list(body["ids"], "ids")
    return ok(_sim(request).store.move_many(ids, destination, _actor(request), now()))


async def release(request: web.Request) -> web.Response:
    """Body: a bare array of ids (the spec) or `{"ids": [...]}` (newer SDKs and the CLI);
    with `body_shapes` set to one of them, the other is refused as malformed."""
    body = await _json(request)
    shapes = _sim(request).faults.settings.body_shapes
    if isinstance(body, dict) and "ids" in body and shapes != "spec":
        body = body["ids"]
    elif not isinstance(body, list) or shapes == "sdk":
        raise malformed(
            {
                "both": 'The body must be a JSON array of message ids (or {"ids": [...]})',
                "spec": "The body must be a JSON array of message ids",
                "sdk": 'The body must be a JSON object {"ids": [...]} of message ids',
            }[shapes]
        )
    ids = _id_list(body, "ids")
    return ok(_sim(request).store.release(ids, _actor(request), now()))


async def reclassify(request: web.Request) -> web.Response:
    body = await _json_object(request)
    if body.get("expected_disposition") not in RECLASSIFY_DISPOSITIONS:
        raise invalid(f"'expected_disposition' must be one of {', '.join(RECLASSIFY_DISPOSITIONS)}")
    _check_base64(body.get("eml_content"))
    escalated = body.get("escalated_submission_id")
    if escalated is not None and not isinstance(escalated, str):
        raise invalid("'escalated_submission_id' must be a string")
    _sim(request).store.reclassify(_message(request), body, _actor(request), now())
    return ok({}, status=202)


def _check_base64(value: Any) -> None:
    if value is None:
        return
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError, TypeError):
        raise invalid("'eml_content' must be the base64 of an EML file") from None


# Lists ----------------------------------------------------------------------------------------


def _page(request: web.Request, lister: Lister) -> web.Response:
    """One page of a page-paginated list; with `repeat_pages` on, always the first page,
    claiming the spec example's total_count."""
    params = params_of(request)
    if not _sim(request).faults.settings.repeat_pages:
        return ok(*lister(params))
    items, info = lister({**params, "page": "1"})
    return ok(items, {**info, "page": 1, "total_count": SPEC_EXAMPLE_TOTAL})


async def submissions(request: web.Request) -> web.Response:
    store = _sim(request).store
    return _page(request, lambda params: store.list_submissions(params, now()))


async def phishguard_reports(request: web.Request) -> web.Response:
    params = params_of(request)
    for name, instead in (("from_date", "'start'"), ("to_date", "'end'")):
        if name in params:
            raise end_of_life(name, instead)
    return ok(_sim(request).store.list_reports(params))
