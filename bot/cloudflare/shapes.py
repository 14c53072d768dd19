"""Request bodies whose shape the references disagree on, kept in one place.

CONTRACT.md §2: the official spec of 2026-07-27 and every reference page send release as a bare
JSON array of investigate ids and the non-detection preview as `{"postfix_id": ...}`; the
cloudflare SDK 5.9.0, the newer TypeScript SDK and the `cf` CLI send `{"ids": [...]}` and
`{"id": ...}`. We follow the spec (which the contract tests validate) until a real tenant answers
CONTRACT.md §7 questions 1 and 2; switching is a change to these two functions only.
"""

from __future__ import annotations

from collections.abc import Sequence


def release_body(investigate_ids: Sequence[str]) -> list[str]:
    return list(investigate_ids)


def preview_body(postfix_id: str) -> dict[str, str]:
    return {"postfix_id": postfix_id}
