"""The Web API methods the bot calls, as functions of (stand-in, call) -> answer fields.

Each returns what goes beside `"ok": true`, or raises SlackError. Auth, injected failures and
the argument merging already happened in `app.py`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.local.standin import history
from bot.local.standin.blocks import MESSAGE_TEXT, message_blocks, parse_json, view_body
from bot.local.standin.model import (
    APP_ID,
    BOT_ID,
    BOT_NAME,
    BOT_USER_ID,
    TEAM_ID,
    TEAM_NAME,
    JsonObject,
    Message,
    SlackError,
    StoredFile,
)
from bot.local.standin.state import Standin


@dataclass
class Call:
    args: dict[str, Any]  # query string, form body and JSON body, merged
    base_url: str  # how the caller reached us, for absolute URLs in answers

    def text(self, name: str) -> str | None:
        value = self.args.get(name)
        return None if value is None or value == "" else str(value)

    def need(self, name: str, error: str = "invalid_arguments") -> str:
        value = self.text(name)
        if value is None:
            raise SlackError(error)
        return value

    def flag(self, name: str) -> bool | None:
        value = self.args.get(name)
        if value is None or isinstance(value, bool):
            return value
        return str(value).lower() in ("1", "true", "yes")

    def channel(self, standin: Standin) -> str:
        """The channel arg; a user id means the bot's DM with that user (opened if need be),
        as in Slack."""
        channel = self.need("channel", "channel_not_found")
        return standin.members.open_im(channel).id if channel[0] in "UW" else channel


Method = Callable[[Standin, Call], JsonObject]


def content(args: dict[str, Any]) -> tuple[str, list[JsonObject], list[JsonObject] | None]:
    """text, blocks and (legacy) attachments of a message; `no_text` when all are missing."""
    text = args.get("text")
    text = "" if text is None else str(text)[:MESSAGE_TEXT]
    raw = args.get("blocks")
    blocks = message_blocks(raw) if raw not in (None, "") else []
    attachments = parse_json(args.get("attachments"), "invalid_attachments") or None
    if attachments is not None and not isinstance(attachments, list):
        raise SlackError("invalid_attachments")
    if not text and not blocks and not attachments:
        raise SlackError("no_text")
    return text, blocks, attachments


def apps_connections_open(standin: Standin, call: Call) -> JsonObject:
    """Socket Mode: a one-time WebSocket URL back to this stand-in (`/link/`)."""
    scheme, _, rest = call.base_url.partition("://")
    ws_scheme = "wss" if scheme == "https" else "ws"
    ticket = standin.sockets.issue_ticket()
    return {"url": f"{ws_scheme}://{rest}/link/?ticket={ticket}&app_id={APP_ID}"}


def auth_test(standin: Standin, call: Call) -> JsonObject:
    return {
        "url": f"{call.base_url}/",
        "team": TEAM_NAME,
        "user": BOT_NAME,
        "team_id": TEAM_ID,
        "user_id": BOT_USER_ID,
        "bot_id": BOT_ID,
        "is_enterprise_install": False,
    }


def chat_post_message(standin: Standin, call: Call) -> JsonObject:
    channel = call.channel(standin)
    standin.members.postable(channel)
    standin.limiter.check(channel)
    text, blocks, attachments = content(call.args)
    metadata = history.parse_metadata(call.args.get("metadata"))
    message = standin.store(
        Message(
            channel, standin.ids.ts(), text, blocks,
            thread_ts=call.text("thread_ts"), attachments=attachments,
            unfurl_links=call.flag("unfurl_links"), unfurl_media=call.flag("unfurl_media"),
            metadata=metadata,
        )
    )  # fmt: skip
    standin.limiter.record(channel)
    return {"channel": channel, "ts": message.ts, "message": message.to_slack()}


def chat_post_ephemeral(standin: Standin, call: Call) -> JsonObject:
    channel, user = call.channel(standin), call.need("user", "user_not_found")
    standin.members.ephemeral(channel, user)
    text, blocks, attachments = content(call.args)
    message = Message(channel, standin.ids.ts(), text, blocks, thread_ts=call.text("thread_ts"))
    message.user, message.ephemeral, message.attachments = user, True, attachments
    message.source = "chat.postEphemeral"
    standin.store(message)
    return {"message_ts": message.ts}


def chat_update(standin: Standin, call: Call) -> JsonObject:
    channel = call.channel(standin)
    standin.members.postable(channel)
    # An ephemeral message is not found: only its response_url can replace it.
    message = standin.find(channel, call.need("ts", "message_not_found"))
    if not any(call.args.get(k) not in (None, "") for k in ("text", "blocks", "attachments")):
        raise SlackError("no_text")
    # Slack keeps what is not sent: text-only updates keep the blocks, and the reverse.
    text, blocks, attachments = content({**message.to_slack(), **call.args})
    message.text, message.blocks, message.attachments = text, blocks, attachments
    message.edited, message.version = True, message.version + 1
    return {"channel": channel, "ts": message.ts, "text": text, "message": message.to_slack()}


def chat_delete(standin: Standin, call: Call) -> JsonObject:
    channel = call.channel(standin)
    standin.members.postable(channel)
    standin.delete(standin.find(channel, call.need("ts", "message_not_found")))
    return {"channel": channel, "ts": call.need("ts")}


def chat_get_permalink(standin: Standin, call: Call) -> JsonObject:
    channel = call.channel(standin)
    standin.members.visible(channel)
    ts = call.need("message_ts", "message_not_found")
    standin.find(channel, ts)
    permalink = f"{call.base_url}/archives/{channel}/p{ts.replace('.', '')}"
    return {"channel": channel, "permalink": permalink}


def conversations_open(standin: Standin, call: Call) -> JsonObject:
    users = call.need("users", "users_list_not_supplied").split(",")
    if len(users) != 1:
        raise SlackError("not_supported")  # group DMs are not needed by the bot
    return {"channel": {"id": standin.members.open_im(users[0].strip()).id, "is_im": True}}


def views_open(standin: Standin, call: Call, kind: str = "open") -> JsonObject:
    body = view_body(call.args.get("view"))
    if body.get("type") != "modal":
        raise SlackError("invalid_arguments", messages=["must be modal [json-pointer:/view/type]"])
    trigger = standin.exchange(call.args.get("trigger_id"))
    view = standin.new_view(body, trigger.user)
    standin.record_view(kind, view, trigger.trigger_id)
    return {"view": view.to_slack()}


def views_push(standin: Standin, call: Call) -> JsonObject:
    return views_open(standin, call, "push")


def views_update(standin: Standin, call: Call) -> JsonObject:
    view = standin.find_view(call.args.get("view_id"), call.args.get("external_id"))
    expected = call.text("hash")
    if expected is not None and expected != view.hash:
        raise SlackError("hash_conflict")
    view.body = view_body(call.args.get("view"))
    view.external_id = view.body.get("external_id") or view.external_id
    standin.record_view("update", view)
    return {"view": view.to_slack()}


def views_publish(standin: Standin, call: Call) -> JsonObject:
    user = call.need("user_id")
    body = view_body(call.args.get("view"))
    if body.get("type") != "home":
        raise SlackError("invalid_arguments", messages=["must be home [json-pointer:/view/type]"])
    existing = standin.views.get(standin.home_views.get(user, ""))
    if existing is None:
        existing = standin.new_view(body, user)
        standin.home_views[user] = existing.id
    existing.body = body
    standin.record_view("publish", existing)
    return {"view": existing.to_slack()}


def files_get_upload_url(standin: Standin, call: Call) -> JsonObject:
    filename, length = call.need("filename"), call.need("length")
    if not length.isdigit():
        raise SlackError("invalid_arguments", messages=["must be a number [json-pointer:/length]"])
    stored = StoredFile(standin.ids.new("F"), filename, int(length), call.text("alt_txt"))
    standin.files[stored.id] = stored
    return {"upload_url": f"{call.base_url}/upload/{stored.id}", "file_id": stored.id}


def files_complete_upload(standin: Standin, call: Call) -> JsonObject:
    items = parse_json(call.args.get("files"), "invalid_arguments")
    if not isinstance(items, list) or not items or not all(isinstance(i, dict) for i in items):
        raise SlackError("invalid_arguments", messages=["must be an array [json-pointer:/files]"])
    channels = [call.text("channel_id") or "", *(call.text("channels") or "").split(",")]
    channels = [c for c in channels if c]
    for channel in channels:  # sharing a file is posting it: the same membership rules
        standin.members.postable(channel)
    files = [_uploaded(standin, item) for item in items]
    thread_ts = call.text("thread_ts")
    for channel in dict.fromkeys(channels):
        _share(standin, files, channel, thread_ts, call.text("initial_comment") or "")
    return {"files": [f.to_slack() for f in files]}


def _uploaded(standin: Standin, item: JsonObject) -> StoredFile:
    stored = standin.files.get(str(item.get("id")))
    if stored is None or stored.content is None:
        raise SlackError("file_not_found")  # never issued, or its bytes never arrived
    stored.title = item.get("title") or stored.title
    stored.completed = True
    return stored


def _share(
    standin: Standin, files: list[StoredFile], channel: str, thread_ts: str | None, comment: str
) -> None:
    """Files shared into a channel appear as one message carrying them."""
    entries = [{k: f.to_slack()[k] for k in ("id", "name", "title", "size")} for f in files]
    message = Message(channel, standin.ids.ts(), comment, [], thread_ts=thread_ts, files=entries)
    message.source = "files.completeUploadExternal"
    standin.store(message)
    share: JsonObject = {"ts": message.ts, "channel_name": channel, "team_id": TEAM_ID}
    if thread_ts:
        share["thread_ts"] = thread_ts
    for stored in files:
        stored.shares.setdefault(channel, []).append(share)


def usergroups_users_list(standin: Standin, call: Call) -> JsonObject:
    group = call.need("usergroup", "no_such_subteam")
    if group not in standin.usergroups:
        raise SlackError("no_such_subteam")
    return {"users": list(standin.usergroups[group])}


def users_info(standin: Standin, call: Call) -> JsonObject:
    user = call.need("user", "user_not_found")
    name = user.lower()
    profile = {"display_name": name, "real_name": f"Local {user}", "email": f"{name}@example.com"}
    return {
        "user": {
            "id": user, "team_id": TEAM_ID, "name": name, "real_name": profile["real_name"],
            "deleted": False, "is_bot": user == BOT_USER_ID, "tz": "UTC", "profile": profile,
        }
    }  # fmt: skip


def files_upload_v1(standin: Standin, call: Call) -> JsonObject:
    # files.upload is retired; slack-sdk's files_upload_v2 uses the two methods below.
    raise SlackError("method_deprecated")


METHODS: dict[str, Method] = {
    "apps.connections.open": apps_connections_open,
    "auth.test": auth_test,
    "chat.postMessage": chat_post_message,
    "chat.postEphemeral": chat_post_ephemeral,
    "chat.update": chat_update,
    "chat.delete": chat_delete,
    "chat.getPermalink": chat_get_permalink,
    "conversations.open": conversations_open,
    "views.open": views_open,
    "views.push": views_push,
    "views.update": views_update,
    "views.publish": views_publish,
    "files.upload": files_upload_v1,
    "files.getUploadURLExternal": files_get_upload_url,
    "files.completeUploadExternal": files_complete_upload,
    "usergroups.users.list": usergroups_users_list,
    "users.info": users_info,
    **history.METHODS,
}

# Methods that take an app-level token (xapp-) instead of the bot token.
APP_LEVEL = frozenset({"apps.connections.open"})
