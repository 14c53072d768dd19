"""Acting on mail by id: move (one or in bulk), release from quarantine, reclassify.

Lists of ids go in chunks of at most 1000 ("Maximum batch size: 1000 messages per request",
docs/001); a failure part-way raises `PartialBulkError` with what was done and what was never
sent, so nothing is left half-done silently. Bodies whose shape the references disagree on
(release) go through shapes.py.
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from pydantic import TypeAdapter

from bot.cloudflare import shapes
from bot.cloudflare.core import ClientCore, check_id, chunks, endpoint, unique
from bot.cloudflare.errors import ApiError, PartialBulkError
from bot.cloudflare.models import (
    DESTINATIONS,
    RECLASSIFY_DISPOSITIONS,
    Destination,
    MoveResult,
    ReclassifyDisposition,
    ReleaseResult,
)
from bot.cloudflare.shapes import BodyShape, Shape

MAX_BATCH = 1000  # "Maximum batch size: 1000 messages per request" (docs/001)
ChunkCallback = Callable[[list[Any]], Awaitable[None]]


class ActionsApi(ClientCore):
    _release_shape: BodyShape

    @endpoint("POST", "investigate/{investigate_id}/move")
    @endpoint("POST", "investigate/move")
    async def move(
        self,
        ids: Sequence[str],
        destination: Destination,
        *,
        on_chunk: ChunkCallback | None = None,
    ) -> list[MoveResult]:
        """Move messages to a mailbox folder: one id uses `…/{id}/move`, more use the bulk
        endpoint in chunks of at most 1000. `on_chunk` sees each chunk's results before the next
        chunk is sent (so a caller can store progress)."""
        if destination not in DESTINATIONS:
            raise ValueError(
                f"unknown folder {destination!r}; use one of {', '.join(DESTINATIONS)}"
            )
        ids = unique(ids)
        # expected_disposition is not sent: "nonfunctional", EOL 2026-12-01 (CONTRACT.md §2);
        # nor postfix_ids, past its end of life: `ids` are investigate ids.
        if len(ids) == 1:
            results: list[MoveResult] = await self._result(
                _MOVES, "POST", "investigate", ids[0], "move", json={"destination": destination}
            )
            if on_chunk:
                await on_chunk(results)
            return results

        async def send(chunk: list[str]) -> list[MoveResult]:
            moved: list[MoveResult] = await self._result(
                _MOVES,
                "POST",
                "investigate",
                "move",
                json={"destination": destination, "ids": chunk},
            )
            return moved

        return await self._in_chunks(ids, send, on_chunk)

    @endpoint("POST", "investigate/release")
    async def release(
        self, ids: Sequence[str], *, on_chunk: ChunkCallback | None = None
    ) -> list[ReleaseResult]:
        """Release messages from quarantine, in chunks of at most 1000. One result per id, in
        the order given; an id the API's answer left out comes back with `missing=True`."""

        async def send(chunk: list[str]) -> list[ReleaseResult]:
            async def attempt(shape: Shape) -> list[ReleaseResult]:
                body = shapes.release_body(chunk, shape)
                sent: list[ReleaseResult] = await self._result(
                    _RELEASES, "POST", "investigate", "release", json=body
                )
                return sent

            answered = await self._release_shape.send(attempt)
            by_id = {r.id: r for r in answered}
            return [by_id.get(i) or ReleaseResult(id=i, missing=True) for i in chunk]

        return await self._in_chunks(unique(ids), send, on_chunk)

    async def _in_chunks(
        self,
        ids: list[str],
        send: Callable[[list[str]], Awaitable[list[Any]]],
        on_chunk: ChunkCallback | None,
    ) -> list[Any]:
        done: list[Any] = []
        parts = chunks(ids, MAX_BATCH)
        for index, chunk in enumerate(parts):
            try:
                results = await send(chunk)
            except ApiError as exc:
                not_sent = [i for later in parts[index:] for i in later]
                if not done:
                    raise
                raise PartialBulkError(exc, done=done, not_attempted=not_sent) from exc
            if on_chunk:
                await on_chunk(results)
            done.extend(results)
        return done

    @endpoint("POST", "investigate/{investigate_id}/reclassify")
    async def reclassify(
        self,
        message_id: str,
        disposition: ReclassifyDisposition,
        eml_content: bytes | str | None = None,
        escalated_submission_id: str | None = None,
    ) -> None:
        """Submit a message for reclassification (asynchronous at Cloudflare: 202).
        `eml_content` is the EML itself (bytes or text); it is base64-encoded here."""
        if disposition not in RECLASSIFY_DISPOSITIONS:
            raise ValueError(
                f"cannot reclassify as {disposition!r}; use one of "
                f"{', '.join(RECLASSIFY_DISPOSITIONS)}"
            )
        body: dict[str, str] = {"expected_disposition": disposition}
        if eml_content is not None:
            raw = eml_content.encode() if isinstance(eml_content, str) else eml_content
            body["eml_content"] = base64.b64encode(raw).decode()
        if escalated_submission_id:
            body["escalated_submission_id"] = escalated_submission_id
        await self._call("POST", ["investigate", check_id(message_id), "reclassify"], json=body)


_MOVES = TypeAdapter(list[MoveResult])
_RELEASES = TypeAdapter(list[ReleaseResult])
