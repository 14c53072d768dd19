"""What a post to a response_url does, for response_urls the stand-in issued.

Slack's rules (docs.slack.dev/interactivity/handling-user-interaction): `delete_original`
removes the message the interaction came from; `replace_original` edits it; otherwise a new
message appears, visible to the user only unless `response_type` is `in_channel`.
"""

from __future__ import annotations

from bot.local.standin.model import BOT_USER_ID, JsonObject, Message, ResponseUrl, SlackError
from bot.local.standin.state import Standin
from bot.local.standin.webapi import content


def apply_response(standin: Standin, url: ResponseUrl, body: JsonObject) -> None:
    if body.get("delete_original"):
        if url.channel and url.message_ts:
            standin.delete(standin.find(url.channel, url.message_ts, ephemeral=None))
        return
    text, blocks, attachments = content(body)
    if url.channel is None:
        return  # issued without a channel (a test that needs only a trigger id): shown nowhere
    if body.get("replace_original") and url.message_ts:
        original = standin.find(url.channel, url.message_ts, ephemeral=None)
        original.text, original.blocks, original.attachments = text, blocks, attachments
        original.edited, original.version = True, original.version + 1
        return
    message = Message(url.channel, standin.ids.ts(), text, blocks, attachments=attachments)
    message.thread_ts = body.get("thread_ts")
    message.unfurl_links, message.unfurl_media = body.get("unfurl_links"), body.get("unfurl_media")
    message.source = "response_url"
    if body.get("response_type") != "in_channel":
        message.user, message.ephemeral = url.user, True
    standin.store(message)


def apply_ack(standin: Standin, ack: JsonObject, envelope: JsonObject) -> None:
    """Socket Mode: a slash command acked with a payload shows it, as Slack shows the HTTP ack
    body (visible to the user only unless in_channel). A payload Slack would refuse gets an
    `error` on the ack record; other envelopes' payloads are only recorded."""
    payload = ack.get("payload")
    if envelope["type"] != "slash_commands" or not isinstance(payload, dict):
        return
    command = envelope["payload"]
    channel, user = command.get("channel_id"), command.get("user_id")
    if not isinstance(channel, str) or not channel:
        return
    try:
        text, blocks, attachments = content(payload)
    except SlackError as error:
        ack["error"] = error.error
        return
    message = Message(channel, standin.ids.ts(), text, blocks, attachments=attachments)
    message.source = "ack"
    if payload.get("response_type") == "in_channel":
        message.user = BOT_USER_ID
    else:
        message.user, message.ephemeral = user, True
    standin.store(message)
