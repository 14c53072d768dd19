"""Slack's answers that mean "not there": the bot may not post in that conversation.

`not_in_channel` (a public channel it was never invited to), `channel_not_found` (a private
channel or a DM it is not in, or no such channel), `is_archived`. No retry changes them; a
person inviting the bot does. The boards turn them into `bot.services.ports.NotShown`, so that
services can tell "done, but shown nowhere" from a failure.
"""

from __future__ import annotations

from slack_sdk.errors import SlackApiError

from bot.services.ports import NotShown

NOT_THERE = frozenset({"channel_not_found", "not_in_channel", "is_archived"})


def not_there(exc: SlackApiError, channel: str) -> NotShown | None:
    """The NotShown that `exc` means for `channel`, or None for any other refusal."""
    code = str(exc.response.get("error", ""))
    return NotShown(channel, code) if code in NOT_THERE else None
