"""The aiohttp application: Web API under /api/, file uploads, response_urls, the Socket Mode
WebSocket (/link/) and the hooks.

Web API answers are HTTP 200 with `"ok": false` on failure, as Slack's are, except rate
limits (429 + Retry-After) and injected HTTP statuses. One log line per call: method, status
and error code; never tokens or message contents.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import WSMsgType, web

from bot.local.standin.holds import add_hold_hooks
from bot.local.standin.hooks import PREFIX, STANDIN, add_hooks
from bot.local.standin.model import JsonObject, SlackError, iso_now
from bot.local.standin.responses import apply_ack, apply_response
from bot.local.standin.state import Config, Standin
from bot.local.standin.webapi import APP_LEVEL, METHODS, Call
from bot.simulator.changes import CHANGES, add_changes

log = logging.getLogger("bot.local.standin")
FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


def create_app(config: Config | None = None) -> web.Application:
    app = web.Application(client_max_size=64 * 1024**2)  # uploads can be raw EML files
    app[STANDIN] = Standin(config or Config())
    app.router.add_get("/api/{method}", api)
    app.router.add_post("/api/{method}", api)
    app.router.add_post("/upload/{file_id}", upload)
    app.router.add_post("/response/{token}", response_url)
    app.router.add_get("/link", link)
    app.router.add_get("/link/", link)
    app.on_shutdown.append(close_sockets)
    add_hooks(app)
    add_hold_hooks(app, lambda request: request.app[STANDIN].holds)
    add_changes(app, PREFIX)
    return app


def base_url(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


async def api(request: web.Request) -> web.Response:
    standin = request.app[STANDIN]
    method = request.match_info["method"]
    entry: JsonObject = {"method": method, "args": {}, "status": 200, "ok": True, "error": None}
    entry["at"] = iso_now()
    standin.calls.append(entry)
    try:
        args = await read_args(request)
        token = _bearer(request) or args.get("token")
        args.pop("token", None)  # never kept, never shown by the calls hook
        entry["args"] = args
        answer = web.json_response({"ok": True, **run(standin, method, args, token, request)})
    except SlackError as error:
        entry.update(ok=False, error=error.error)
        answer = web.json_response(error.body(), status=error.status, headers=error.headers)
    except Exception:
        log.exception("stand-in failed on %s", method)
        entry.update(ok=False, error="internal_error")
        answer = web.json_response({"ok": False, "error": "internal_error"}, status=500)
    entry["status"] = answer.status
    log.info("%s %d %s", method, answer.status, entry["error"] or "ok")
    await standin.holds.wait(method, entry, request.app[CHANGES])  # done, answer held back
    return answer


def run(
    standin: Standin, method: str, args: dict[str, Any], token: Any, request: web.Request
) -> JsonObject:
    handler = METHODS.get(method)
    if handler is None:
        raise SlackError("unknown_method")
    token = token if isinstance(token, str) else None
    standin.check_token(token, app_level=method in APP_LEVEL)
    standin.faults.check(method)
    standin.tiers.check(method)
    return handler(standin, Call(args, base_url(request)))


async def read_args(request: web.Request) -> dict[str, Any]:
    """Query string, then form fields, then JSON body keys (slack-sdk uses all three)."""
    args: dict[str, Any] = dict(request.query)
    if request.method != "POST" or not request.body_exists:
        return args
    if request.content_type == "application/json":
        try:
            body = await request.json()
        except ValueError:
            raise SlackError("invalid_json") from None
        if not isinstance(body, dict):
            raise SlackError("invalid_json")
        args.update(body)
    elif request.content_type in FORMS:
        form = await request.post()
        args.update({k: v for k, v in form.items() if isinstance(v, str)})  # file bytes left out
    return args


def _bearer(request: web.Request) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


async def upload(request: web.Request) -> web.Response:
    """Step 2 of files_upload_v2: raw bytes (or multipart) to the upload_url, no auth."""
    stored = request.app[STANDIN].files.get(request.match_info["file_id"])
    if stored is None:
        log.info("upload %d unknown file", 404)
        return web.Response(status=404, text="file not found")
    if request.content_type == "multipart/form-data":
        form = await request.post()
        part = next((v for v in form.values() if isinstance(v, web.FileField)), None)
        data = part.file.read() if part else str(next(iter(form.values()), "")).encode()
    else:
        data = await request.read()
    stored.content = data
    log.info("upload %d %s", 200, stored.id)
    return web.Response(text=f"OK - {len(data)}")  # what files.slack.com answers


async def response_url(request: web.Request) -> web.Response:
    standin = request.app[STANDIN]
    token = request.match_info["token"]
    try:
        body = await request.json()
    except ValueError:
        body = None
    standin.responses.append({"token": token, "body": body, "at": iso_now()})
    try:
        if not isinstance(body, dict):
            raise SlackError("invalid_payload", 400)
        url = standin.response_url(token)
        apply_response(standin, url, body)
    except SlackError as error:
        status = error.status if error.status != 200 else 400
        log.info("response_url %d %s", status, error.error)
        return web.json_response(error.body(), status=status)
    url.uses += 1
    log.info("response_url %d ok", 200)
    return web.Response(text="ok")


async def link(request: web.Request) -> web.StreamResponse:
    """The Socket Mode WebSocket: `hello` first, then envelopes out and acks in."""
    standin = request.app[STANDIN]
    hub = standin.sockets
    if not hub.redeem(request.query.get("ticket")):
        log.info("link %d unknown or used ticket", 401)
        return web.json_response({"ok": False, "error": "invalid_ticket"}, status=401)
    ws = web.WebSocketResponse()  # answers the client's pings itself
    await ws.prepare(request)
    connection = hub.open(ws)
    log.info("link open %s", connection.id)
    try:
        await ws.send_json(hub.hello())
        async for message in ws:
            if message.type != WSMsgType.TEXT:
                continue
            received = hub.receive(connection, message.data)
            if received is not None:
                ack, sent = received
                apply_ack(standin, ack, sent.envelope)
            request.app[CHANGES].bump()  # an ack (and what it answers) is a change too
    finally:
        hub.close(connection)
        log.info("link closed %s", connection.id)
    return ws


async def close_sockets(app: web.Application) -> None:
    await app[STANDIN].sockets.close_all()
