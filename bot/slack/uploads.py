"""A file upload to Slack streamed from disk: the raw EML of a message can be tens of MB.

`files_upload_v2` reads a file into memory whole before sending it (slack_sdk 3.x), and the
event loop's transport copies what the socket does not take at once: four concurrent raws of
25 MB went past 170 MB RSS that way. Its three steps are done here instead, the second sending
the open file in chunks (aiohttp streams a file object), so an upload costs the same memory at
any size.
"""

from __future__ import annotations

import logging
from typing import BinaryIO

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger("bot.slack.uploads")


async def upload_file(
    client: AsyncWebClient,
    file: BinaryIO,
    size: int,
    *,
    channel: str,
    thread_ts: str | None,
    filename: str,
    title: str,
    initial_comment: str,
) -> None:
    """Share `size` bytes of `file`, from its current position, in `channel` (a thread)."""
    issued = await client.files_getUploadURLExternal(filename=filename, length=size)
    url, file_id = str(issued["upload_url"]), str(issued["file_id"])
    # Only the upload URL, which Slack issued for this one file, gets the bytes; no token. The
    # client's timeout, plus a second a MB, so that a large file on a slow link is not cut off.
    timeout = aiohttp.ClientTimeout(total=client.timeout + size / 1024**2)
    async with (
        aiohttp.ClientSession(timeout=timeout) as session,
        session.post(
            url,
            data=file,
            proxy=client.proxy,
            ssl=True if client.ssl is None else client.ssl,
            headers={"Content-Type": "application/octet-stream", "Content-Length": str(size)},
        ) as answer,
    ):
        if answer.status != 200:
            log.warning("upload of %s refused: HTTP %d", filename, answer.status)
            refused = {"ok": False, "error": f"upload_failed_{answer.status}"}
            raise SlackApiError("Failed to upload a file", refused)  # type: ignore[no-untyped-call]
    await client.files_completeUploadExternal(
        files=[{"id": file_id, "title": title}], channel_id=channel, thread_ts=thread_ts,
        initial_comment=initial_comment,
    )  # fmt: skip
