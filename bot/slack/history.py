"""Finding a message the bot posted, by the Slack message metadata it carries: an alert post
(alerts.py) or an approval request's thread line (approvals.py), looked for after a replica died
between posting and recording the post, so that it is neither posted twice nor lost.

Slack keeps the metadata of the bot's own messages and returns it with
`include_all_metadata`; reading needs the channels:history and groups:history scopes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

PAGE = 200  # messages per history page (Slack recommends at most 200)
MARGIN = 120.0  # seconds before a post's mark to read from (clocks differ)
# Answers after which the channel cannot be read: the caller posts again (at worst twice).
UNREADABLE = frozenset({"missing_scope", "not_in_channel", "channel_not_found"})

Message = dict[str, Any]


def carries(message: Message, event_type: str, **payload: str) -> bool:
    """Whether `message` carries metadata of `event_type` with each of `payload`'s values."""
    metadata = message.get("metadata") or {}
    found = metadata.get("event_payload") or {}
    return metadata.get("event_type") == event_type and all(
        found.get(key) == value for key, value in payload.items()
    )


async def find_message(
    client: AsyncWebClient,
    channel: str,
    thread_ts: str | None,
    since: float,
    wanted: Callable[[Message], bool],
    pages: int,
) -> Message | None:
    """The first message of the channel (or of the thread of `thread_ts`) posted since `since`
    (Unix seconds, less MARGIN) that is `wanted`, reading at most `pages` pages; None when none
    is. Slack's refusals are raised as they came (SlackApiError) for the caller to judge."""
    options: dict[str, Any] = {
        "channel": channel, "oldest": f"{since - MARGIN:.6f}", "limit": PAGE,
        "include_all_metadata": True,
    }  # fmt: skip
    cursor: str | None = None
    for _ in range(pages):
        if thread_ts is not None:
            page: Any = await client.conversations_replies(ts=thread_ts, cursor=cursor, **options)
        else:
            page = await client.conversations_history(cursor=cursor, **options)
        found = next((m for m in page["messages"] if wanted(m)), None)
        if found is not None:
            return dict(found)
        cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
        if cursor is None:
            return None
    return None
