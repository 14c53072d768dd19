"""Test hooks at `/__standin/...`: no auth, no faults, plain JSON."""

from __future__ import annotations

import base64
from typing import Any

from aiohttp import web

from bot.local.standin.limits import Rate, parse_rate
from bot.local.standin.model import BOT_USER_ID, JsonObject, Message, SlackError, StoredFile
from bot.local.standin.sockets import KINDS, NoConnectionError
from bot.local.standin.state import Standin
from bot.local.standin.webapi import content

STANDIN = web.AppKey("standin", Standin)
PREFIX = "/__standin"


def add_hooks(app: web.Application) -> None:
    app.router.add_get(f"{PREFIX}/health", health)
    app.router.add_get(f"{PREFIX}/calls", calls)
    app.router.add_get(f"{PREFIX}/messages", messages)
    app.router.add_post(f"{PREFIX}/messages", post_message)
    app.router.add_get(f"{PREFIX}/responses", responses)
    app.router.add_get(f"{PREFIX}/views", views)
    app.router.add_get(f"{PREFIX}/files", files)
    app.router.add_get(f"{PREFIX}/usergroups", usergroups)
    app.router.add_post(f"{PREFIX}/usergroups", set_usergroups)
    app.router.add_get(f"{PREFIX}/faults", faults)
    app.router.add_post(f"{PREFIX}/faults", set_faults)
    app.router.add_post(f"{PREFIX}/reset", reset)
    app.router.add_post(f"{PREFIX}/response_urls", issue_response_url)
    app.router.add_get(f"{PREFIX}/conversations", conversations)
    app.router.add_post(f"{PREFIX}/conversations", declare_conversation)
    app.router.add_post(f"{PREFIX}/invite", invite)
    app.router.add_get(f"{PREFIX}/socket", socket_state)
    app.router.add_post(f"{PREFIX}/socket", push_envelope)
    app.router.add_post(f"{PREFIX}/socket/disconnect", socket_disconnect)


def _bad(message: str) -> web.Response:
    return web.json_response({"ok": False, "error": message}, status=400)


async def _object(request: web.Request) -> JsonObject:
    """The JSON object posted (an empty body counts as {}); ValueError otherwise."""
    if not request.body_exists:
        return {}
    body = await request.json()
    if not isinstance(body, dict):
        raise ValueError("send a JSON object")
    return body


async def health(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


async def calls(request: web.Request) -> web.Response:
    return web.json_response(request.app[STANDIN].calls)


async def messages(request: web.Request) -> web.Response:
    channel = request.query.get("channel")
    found = request.app[STANDIN].messages.values()
    return web.json_response([m.to_hook() for m in found if channel in (None, m.channel)])


async def post_message(request: web.Request) -> web.Response:
    """A message Slack itself puts in a channel: by default one a person (`user`) wrote, e.g.
    for a message shortcut to act on. With `from_bot`, the bot's answer in the HTTP ack of a
    slash command (the console delivers it; `ephemeral` unless response_type in_channel)."""
    standin = request.app[STANDIN]
    try:
        body = await _object(request)
        channel, user = str(body["channel"]), str(body["user"])
        text, blocks, _ = content(body)
    except (ValueError, KeyError):
        return _bad("send {channel, user, text[, blocks, thread_ts, ephemeral, from_bot]}")
    except SlackError as error:
        return _bad(error.error)
    message = Message(channel, standin.ids.ts(), text, blocks, thread_ts=body.get("thread_ts"))
    message.user, message.ephemeral = user, bool(body.get("ephemeral"))
    if body.get("from_bot"):
        message.source = "ack"
        if not message.ephemeral:
            message.user = BOT_USER_ID
    else:
        message.bot_id, message.source = None, "user"
        standin.members.seen(channel, user)  # whoever writes in a conversation is in it
    standin.store(message)
    return web.json_response({"ok": True, "channel": channel, "ts": message.ts})


async def responses(request: web.Request) -> web.Response:
    return web.json_response(request.app[STANDIN].responses)


async def views(request: web.Request) -> web.Response:
    return web.json_response(request.app[STANDIN].view_events)


def _file_json(stored: StoredFile) -> JsonObject:
    first = next(iter(stored.shares.items()), None)
    content_b64 = base64.b64encode(stored.content).decode() if stored.content is not None else None
    return {
        "id": stored.id,
        "filename": stored.filename,
        "title": stored.title or stored.filename,
        "length": stored.length,
        "size": len(stored.content) if stored.content is not None else None,
        "completed": stored.completed,
        "channel": first[0] if first else None,
        "thread_ts": first[1][0].get("thread_ts") if first else None,
        "shares": stored.shares,
        "content_base64": content_b64,
    }


async def files(request: web.Request) -> web.Response:
    return web.json_response([_file_json(f) for f in request.app[STANDIN].files.values()])


async def usergroups(request: web.Request) -> web.Response:
    return web.json_response(request.app[STANDIN].usergroups)


async def set_usergroups(request: web.Request) -> web.Response:
    """`{"S123": ["U1", "U2"]}`: replaces the members of each group named."""
    try:
        body = await _object(request)
    except ValueError:
        body = None
    if not body or not all(_user_list(members) for members in body.values()):
        return _bad('send {"S123": ["U1", "U2"], ...}')
    groups = request.app[STANDIN].usergroups
    groups.update({str(group): list(members) for group, members in body.items()})
    return web.json_response(groups)


def _user_list(members: Any) -> bool:
    return isinstance(members, list) and all(isinstance(m, str) for m in members)


def _faults_json(standin: Standin) -> JsonObject:
    rate = standin.limiter.rate
    return {
        "fail_next": [rule.to_json() for rule in standin.faults.rules],
        "channel_rate": f"{rate[0]}/{rate[1]:g}" if rate else None,
        "method_rates": standin.tiers.to_json(),
    }


def _method_rates(value: Any) -> dict[str, Rate | None]:
    """`{"views.publish": "3/1", "chat.update": null}` -> the limits they set (null: none)."""
    if not isinstance(value, dict):
        raise ValueError('method_rates must be an object like {"views.publish": "3/1"}')
    return {str(m): parse_rate(None if r is None else str(r)) for m, r in value.items()}


async def faults(request: web.Request) -> web.Response:
    return web.json_response(_faults_json(request.app[STANDIN]))


async def set_faults(request: web.Request) -> web.Response:
    """`fail_next` replaces the pending one-shot failures; `channel_rate` ("N/SECONDS", or
    null for none) replaces the chat.postMessage limit, and `method_rates` the tier of each
    method named, until the next reset."""
    standin = request.app[STANDIN]
    try:
        body = await _object(request)
        unknown = set(body) - {"fail_next", "channel_rate", "method_rates"}
        if unknown:
            raise ValueError(f"unknown fault settings: {', '.join(sorted(unknown))}")
        rate = standin.limiter.rate
        if "channel_rate" in body:
            value = body["channel_rate"]
            rate = parse_rate(None if value is None else str(value))
        method_rates = _method_rates(body.get("method_rates", {}))
        if "fail_next" in body:
            standin.faults.set(body["fail_next"])
    except ValueError as error:
        return _bad(str(error))
    standin.limiter.rate = rate
    standin.tiers.rates.update(method_rates)
    return web.json_response(_faults_json(standin))


async def reset(request: web.Request) -> web.Response:
    request.app[STANDIN].reset()
    return web.json_response({"ok": True})


async def issue_response_url(request: web.Request) -> web.Response:
    """A response_url (and a trigger_id) for one interaction. With `channel`, `user` and
    optionally `message_ts`, posts to the URL show up in that channel like Slack's."""
    standin = request.app[STANDIN]
    try:
        body = await _object(request)
    except ValueError as error:
        return _bad(str(error))
    fields = [body.get(k) for k in ("channel", "user", "message_ts")]
    if not all(f is None or isinstance(f, str) for f in fields):
        return _bad("channel, user and message_ts must be strings")
    if fields[0] is not None:
        standin.members.seen(fields[0], fields[1])  # the interaction came from in there
    url = standin.issue(*fields)
    trigger = standin.issue_trigger(fields[1])
    address = f"{request.scheme}://{request.host}/response/{url.token}"
    return web.json_response({"url": address, "token": url.token, "trigger_id": trigger.trigger_id})


async def conversations(request: web.Request) -> web.Response:
    found = request.app[STANDIN].members.conversations.values()
    return web.json_response([c.to_json() for c in found])


async def declare_conversation(request: web.Request) -> web.Response:
    """`{"channel": "C0X", "bot": false, "users": ["U1"], "kind": "private"}`: that conversation
    as it is now (`bot` default true; `users` default null, every person; `kind` from the id)."""
    try:
        found = request.app[STANDIN].members.declare(await _object(request))
    except ValueError as error:
        return _bad(str(error))
    return web.json_response(found.to_json())


async def invite(request: web.Request) -> web.Response:
    """`{"channel": "C0X", "user": "U1"}`: `user` invites the bot to the channel. Answers
    `{"joined", "event"}`: the member_joined_channel callback Slack sends to apps subscribed
    to it (the caller delivers it to the bot, as it delivers other events)."""
    try:
        body = await _object(request)
        channel, user = body.get("channel"), body.get("user")
        if not isinstance(channel, str) or not channel or not isinstance(user, str | None):
            raise ValueError('send {"channel": "C0X", "user": "U1"}')
    except ValueError as error:
        return _bad(str(error))
    return web.json_response(request.app[STANDIN].members.invite(channel, user))


async def socket_state(request: web.Request) -> web.Response:
    """Socket Mode: clients connected now, connections, envelopes delivered, acks received."""
    return web.json_response(request.app[STANDIN].sockets.to_json())


ENVELOPE_OVERRIDES = ("accepts_response_payload", "retry_attempt", "retry_reason")


async def push_envelope(request: web.Request) -> web.Response:
    """`{"type": "slash_commands"|"interactive"|"events_api", "payload": {...}}`: delivered
    to a connected client as Slack would; 409 when no client is connected."""
    try:
        body = await _object(request)
    except ValueError as error:
        return _bad(str(error))
    kind, payload = body.get("type"), body.get("payload")
    unknown = set(body) - {"type", "payload", *ENVELOPE_OVERRIDES}
    if kind not in KINDS or not isinstance(payload, dict) or unknown:
        return _bad(f"send {{type: {'|'.join(KINDS)}, payload: {{...}}}}")
    overrides = {k: body[k] for k in ENVELOPE_OVERRIDES if k in body}
    try:
        sent = await request.app[STANDIN].sockets.push(str(kind), payload, **overrides)
    except NoConnectionError:
        return web.json_response({"ok": False, "error": "no_connection"}, status=409)
    return web.json_response(
        {"envelope_id": sent.envelope["envelope_id"], "connection": sent.connection}
    )


async def socket_disconnect(request: web.Request) -> web.Response:
    """Slack's `{"type": "disconnect", "reason": ...}` to every client (default reason
    refresh_requested); a well-behaved client opens a new connection and drops the old."""
    try:
        body = await _object(request)
    except ValueError as error:
        return _bad(str(error))
    reason = str(body.get("reason") or "refresh_requested")
    told = await request.app[STANDIN].sockets.disconnect(reason)
    return web.json_response({"connections": told})
