"""Settings changes as approval requests (issue 16, items 3 and 4): an allow policy and a trusted
domain each switch protection off for a sender, so each is always asked for and approved by a
second person, never made directly. This module is their plain data: the request's params (what
the digest covers: the pattern, the policy's kind, and the 30 days of mail it would have let
through, counted when it was asked), read back for the card and the executor.

Pure (no redis, no API client): blocks/ read it to draw the request's card. The step that makes
the change is `approvals/apply.py`; who asks and how is `bot/services/allowlist.py`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

SettingsChange = Literal["allow", "trust"]
SETTINGS_CHANGES: tuple[SettingsChange, ...] = ("allow", "trust")
AllowKind = Literal["trusted", "acceptable", "exempt"]
ALLOW_KINDS: dict[AllowKind, str] = {
    "trusted": "trusted sender: skips all detections",
    "acceptable": "acceptable sender: skips spam and spoof detections only",
    "exempt": "exempt recipient: mail to it is not scanned",
}
# The API's flag for each kind (settings_models.NewAllowPolicy).
ALLOW_FLAGS: dict[AllowKind, str] = {
    "trusted": "is_trusted_sender",
    "acceptable": "is_acceptable_sender",
    "exempt": "is_exempt_recipient",
}
TRUST_FLAGS = ("recent", "similarity")  # is_recent, is_similarity of a trusted domain
YES, NO = "yes", "no"


@dataclass(frozen=True)
class Exposure:
    """The mail from (or, for an exempt recipient, to) a pattern in the last 30 days, by
    disposition, as counted when the request was made: what the change would have let
    through. `more`: the count stopped at one search page."""

    counts: dict[str, int]
    more: bool = False

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def param(self) -> str:
        """`MALICIOUS=2,NONE=14` (most first), `+` at the end when the count stopped."""
        ordered = sorted(self.counts.items(), key=lambda item: (-item[1], item[0]))
        return ",".join(f"{name}={count}" for name, count in ordered) + ("+" if self.more else "")

    @classmethod
    def load(cls, text: str) -> Exposure:
        more = text.endswith("+")
        counts: dict[str, int] = {}
        for pair in text.rstrip("+").split(","):
            name, _, count = pair.partition("=")
            if name and count.isdigit():
                counts[name] = int(count)
        return cls(counts, more)


def allow_params(
    pattern: str, pattern_type: str, kind: AllowKind, verify_sender: bool, exposure: Exposure
) -> dict[str, str]:
    return {
        "pattern": pattern, "pattern_type": pattern_type, "kind": kind,
        "verify_sender": YES if verify_sender else NO, "exposure": exposure.param(),
    }  # fmt: skip


def trust_params(domain: str, recent: bool, similarity: bool, exposure: Exposure) -> dict[str, str]:
    return {
        "pattern": domain, "recent": YES if recent else NO,
        "similarity": YES if similarity else NO, "exposure": exposure.param(),
    }  # fmt: skip


def allow_kind(params: Mapping[str, str]) -> AllowKind:
    kind = params.get("kind")
    if kind not in ALLOW_KINDS:
        raise ValueError(f"an allow request needs a kind, one of {', '.join(ALLOW_KINDS)}")
    return kind


def exposure(params: Mapping[str, str]) -> Exposure:
    return Exposure.load(params.get("exposure", ""))


def flag(params: Mapping[str, str], name: str) -> bool:
    return params.get(name) == YES


def check(action: str, params: Mapping[str, str]) -> None:
    """ValueError unless `params` describe a settings change the executor can make."""
    if not params.get("pattern"):
        raise ValueError(f"{action} needs a pattern")
    if action == "allow":
        allow_kind(params)
        if params.get("pattern_type") not in ("EMAIL", "DOMAIN"):
            raise ValueError("allow needs a pattern_type (EMAIL or DOMAIN)")
    elif action == "trust":
        if not any(flag(params, name) for name in TRUST_FLAGS):
            raise ValueError("trust needs recent, similarity or both")
    else:
        raise ValueError(f"{action!r} is not a settings change")
