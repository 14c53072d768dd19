"""What Slack sends to an app's Request URL, built and signed the way Slack does it.

Slash commands are a form body; interactions (block_actions, view_submission, view_closed,
message_action) are a form body with one `payload=` JSON field; Events API callbacks are JSON.
Each request is signed over its exact raw body (shared/slack/PLATFORM.md §4).
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Collection
from typing import Any
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier

from bot.local.render import (
    MULTI_OPTION_KINDS,
    Clickable,
    Input,
    Option,
    initial_state,
    selection,
)
from bot.local.standin.model import APP_ID, BOT_USER_ID, TEAM_ID

JsonObject = dict[str, Any]
FORM = "application/x-www-form-urlencoded"
TEAM = {"id": TEAM_ID, "domain": "local"}
# The deprecated verification token: Bolt ignores it, Slack still sends one.
VERIFICATION_TOKEN = "local-verification-token"  # noqa: S105 - not a secret


def signed_headers(secret: str, body: str, content_type: str = FORM) -> dict[str, str]:
    timestamp = str(int(time.time()))
    signature = SignatureVerifier(secret).generate_signature(timestamp=timestamp, body=body) or ""
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": signature,
    }


def user_object(user: str) -> JsonObject:
    name = user.lower()
    return {"id": user, "username": name, "name": name, "team_id": TEAM_ID}


def slash_command(
    command: str, text: str, user: str, channel: str, response_url: str, trigger_id: str
) -> str:
    return urlencode(
        {
            "token": VERIFICATION_TOKEN,
            "team_id": TEAM_ID,
            "team_domain": "local",
            "channel_id": channel,
            "channel_name": channel.lower(),
            "user_id": user,
            "user_name": user.lower(),
            "command": command,
            "text": text,
            "api_app_id": APP_ID,
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": trigger_id,
        }
    )


def interaction(payload: JsonObject) -> str:
    return urlencode({"payload": json.dumps(payload)})


def _envelope(kind: str, user: str, trigger_id: str | None) -> JsonObject:
    envelope: JsonObject = {
        "type": kind,
        "team": TEAM,
        "user": user_object(user),
        "api_app_id": APP_ID,
        "token": VERIFICATION_TOKEN,
        "is_enterprise_install": False,
        "enterprise": None,
    }
    if trigger_id:
        envelope["trigger_id"] = trigger_id
    return envelope


def action(clickable: Clickable, chosen: list[Option], value: str | None = None) -> JsonObject:
    """One entry of `actions`: what Slack reports for a click or a menu choice."""
    element = clickable.element
    entry: JsonObject = {
        "type": clickable.kind,
        "action_id": clickable.action_id,
        "block_id": clickable.block_id,
        "action_ts": f"{time.time():.6f}",
    }
    if clickable.kind == "button":
        entry["text"] = element.get("text")
        if element.get("value") is not None:
            entry["value"] = element["value"]
        if element.get("style"):
            entry["style"] = element["style"]
    elif clickable.kind in MULTI_OPTION_KINDS:
        entry["selected_options"] = [o.raw for o in chosen]
    elif clickable.options:
        entry["selected_option"] = chosen[0].raw if chosen else None
    else:
        entry.update(selection(clickable.kind, value))
    return entry


def block_actions(
    user: str,
    actions: list[JsonObject],
    trigger_id: str,
    *,
    message: JsonObject | None = None,
    view: JsonObject | None = None,
    response_url: str | None = None,
    state: dict[str, Any] | None = None,
) -> JsonObject:
    """A click. `message` is the stand-in's record of the message clicked (hook shape), or
    `view` the modal / Home tab. Ephemeral messages are not echoed back, as in Slack. `state`
    is the message's `state.values` (`message_state`), which Slack sends with every click."""
    payload = _envelope("block_actions", user, trigger_id)
    payload["actions"] = actions
    payload["state"] = {"values": state or {}}
    if view is not None:
        payload["container"] = {"type": "view", "view_id": view["id"]}
        payload["view"] = view
        return payload
    assert message is not None
    channel, ts = message["channel"], message["ts"]
    payload["container"] = {
        "type": "message",
        "message_ts": ts,
        "channel_id": channel,
        "is_ephemeral": bool(message["ephemeral"]),
    }
    payload["channel"] = {"id": channel, "name": channel.lower()}
    payload["response_url"] = response_url
    if not message["ephemeral"]:
        payload["message"] = message_object(message)
    return payload


def message_state(blocks: list[JsonObject], ticked: Collection[str] = ()) -> dict[str, Any]:
    """`state.values` of a message, as Slack sends it with a click on it: every checkbox group
    (an accessory or in an actions block), its options whose value is in `ticked` selected."""
    state: dict[str, Any] = {}
    for block in blocks:
        elements = [block.get("accessory"), *(block.get("elements") or [])]
        for element in elements:
            if not isinstance(element, dict) or element.get("type") != "checkboxes":
                continue
            chosen = [o for o in element.get("options") or [] if o.get("value") in ticked]
            entry = {"type": "checkboxes", "selected_options": chosen}
            state.setdefault(str(block.get("block_id")), {})[str(element.get("action_id"))] = entry
    return state


def message_object(message: JsonObject) -> JsonObject:
    """A stand-in message (hook shape) as Slack's `message` object."""
    shown: JsonObject = {
        "type": "message",
        "ts": message["ts"],
        "text": message["text"],
        "blocks": message["blocks"],
        "user": message.get("user"),
        "team": TEAM_ID,
    }
    if message.get("bot_id"):
        shown["bot_id"] = message["bot_id"]
    if message.get("thread_ts"):
        shown["thread_ts"] = message["thread_ts"]
    if message.get("files"):
        shown["files"] = message["files"]
    return shown


def state_values(blocks: list[JsonObject], values: dict[str, Any]) -> dict[str, Any]:
    """`view.state.values` for every input block: what was set, else the initial value,
    else null, as Slack sends it."""
    state: dict[str, Any] = {}
    for block in blocks:
        element = block.get("element")
        if block.get("type") != "input" or not isinstance(element, dict):
            continue
        block_id, action_id = str(block.get("block_id")), str(element.get("action_id"))
        entry = values.get(block_id, {}).get(action_id) or initial_state(element)
        state.setdefault(block_id, {})[action_id] = entry
    return state


def input_state(item: Input, text: str) -> JsonObject:
    """The state entry for `set N TEXT` on a modal input."""
    kind = str(item.element.get("type"))
    if item.options:
        chooser = Clickable(item.number, kind, item.action_id, item.block_id, "", {}, item.options)
        chosen = [o.raw for o in chooser.choose(text)]
        if kind in MULTI_OPTION_KINDS:
            return {"type": kind, "selected_options": chosen}
        return {"type": kind, "selected_option": chosen[0] if chosen else None}
    return {"type": kind, **selection(kind, text)}


def view_with_state(view: JsonObject, values: dict[str, Any]) -> JsonObject:
    return {**view, "state": {"values": state_values(view.get("blocks") or [], values)}}


def view_submission(
    user: str, view: JsonObject, values: dict[str, Any], trigger_id: str
) -> JsonObject:
    payload = _envelope("view_submission", user, trigger_id)
    payload["view"] = view_with_state(view, values)
    payload["response_urls"] = []
    return payload


def view_closed(user: str, view: JsonObject, values: dict[str, Any]) -> JsonObject:
    payload = _envelope("view_closed", user, None)
    payload["view"] = view_with_state(view, values)
    payload["is_cleared"] = False
    return payload


def message_action(
    user: str,
    callback_id: str,
    message: JsonObject,
    response_url: str,
    trigger_id: str,
) -> JsonObject:
    """A message shortcut run on `message` (hook shape)."""
    payload = _envelope("message_action", user, trigger_id)
    channel = message["channel"]
    payload.update(
        callback_id=callback_id,
        action_ts=f"{time.time():.6f}",
        message_ts=message["ts"],
        channel={"id": channel, "name": channel.lower()},
        message=message_object(message),
        response_url=response_url,
    )
    return payload


def app_home_opened(user: str, channel: str) -> JsonObject:
    """The Events API callback Slack sends when a person opens the app's Home tab."""
    now = time.time()
    return {
        "token": VERIFICATION_TOKEN,
        "team_id": TEAM_ID,
        "api_app_id": APP_ID,
        "type": "event_callback",
        "event_id": f"Ev{secrets.token_hex(5).upper()}",
        "event_time": int(now),
        "event": {
            "type": "app_home_opened",
            "user": user,
            "channel": channel,
            "tab": "home",
            "event_ts": f"{now:.6f}",
        },
        "authorizations": [
            {"team_id": TEAM_ID, "user_id": BOT_USER_ID, "is_bot": True, "enterprise_id": None}
        ],
    }
