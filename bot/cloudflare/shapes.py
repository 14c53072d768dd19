"""Request bodies whose shape the references disagree on, kept in one place.

CONTRACT.md §2: the official spec of 2026-07-27 and every reference page send release as a bare
JSON array of investigate ids and the non-detection preview as `{"postfix_id": ...}`; the
cloudflare SDK 5.9.0, the newer TypeScript SDK and the `cf` CLI send `{"ids": [...]}` and
`{"id": ...}`. No local run can tell which the live API takes (CONTRACT.md §7, questions 1 and 2),
so the client sends the spec's shape first and, if the API refuses it (400/422: the request was
not carried out, so sending it again is safe), the SDK's once; the shape that worked is kept
for the rest of the process and said once in the log.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Literal, TypeVar

from bot.cloudflare.errors import InvalidRequestError

log = logging.getLogger("bot.cloudflare")

Shape = Literal["spec", "sdk"]
T = TypeVar("T")


def release_body(investigate_ids: Sequence[str], shape: Shape = "spec") -> Any:
    ids = list(investigate_ids)
    return ids if shape == "spec" else {"ids": ids}


def preview_body(postfix_id: str, investigate_id: str, shape: Shape = "spec") -> dict[str, str]:
    # The SDK sends the investigate id under `id`; the spec, the postfix id under `postfix_id`.
    return {"postfix_id": postfix_id} if shape == "spec" else {"id": investigate_id}


class BodyShape:
    """Which shape one request body takes, settled by the first answer that accepts one."""

    def __init__(self, name: str, spec: str, sdk: str) -> None:
        self.name = name
        self.described: dict[Shape, str] = {"spec": spec, "sdk": sdk}
        self.settled: Shape | None = None

    async def send(self, attempt: Callable[[Shape], Awaitable[T]]) -> T:
        """`attempt(shape)` in the settled shape; while none is settled, the spec's, then
        (once, if the API refuses it as invalid) the SDK's."""
        if self.settled is not None:
            return await attempt(self.settled)
        try:
            result = await attempt("spec")
        except InvalidRequestError as refused:
            if self.settled is not None:
                raise  # settled meanwhile by another request: this refusal is about this one
            try:
                result = await attempt("sdk")
            except InvalidRequestError:
                # Both refused: the request itself is at fault (or the API changed again); the
                # answer to the documented shape is the one to show.
                raise refused from None
            self._settle("sdk", refused.status)
            return result
        self._settle("spec", None)
        return result

    def _settle(self, shape: Shape, refused: int | None) -> None:
        if self.settled is not None:
            return
        self.settled = shape
        if shape == "spec":
            log.info(
                "%s body shape: the API accepts %s; sending that for the rest of this process",
                self.name, self.described["spec"],
            )  # fmt: skip
            return
        log.warning(
            "%s body shape: the API refused %s (%s) and accepted %s, which differs from the "
            "spec (CONTRACT.md §7); sending that for the rest of this process",
            self.name, self.described["spec"], refused, self.described["sdk"],
        )  # fmt: skip
