"""The audit trail's hash chain: how an entry is sealed, and the walk that checks a stream of
them, oldest first (`bot.services.audit.AuditLog` appends and reads; this module does no I/O).

Each entry carries, besides its content:

    seq    its number in the chain (the one before it + 1; the first is 1)
    prev   the `hash` of the entry before it ("" for the first)
    key    the id of the integrity key that sealed it (bot.integrity.IntegrityKey.key_id)
    hash   HMAC-SHA256 under that key of the canonical JSON of every other field, `prev` and
           `seq` included

So an entry cannot be changed without the key (its hash stops matching), nor removed or
reordered (the next one's `prev` and `seq` stop following), nor forged at the end (no key, no
hash). What the walk accepts without a break:

- the stream's oldest entries trimmed by its cap (approximate trimming keeps at least `maxlen`
  entries, so a stream below its cap whose oldest entry is not the chain's first was cut by
  someone else: a break);
- a prefix written before the chain existed (no seal) or under a previous key (the key source
  was rotated): their links are followed, their content cannot be checked. Once an entry sealed
  with the current key has been seen, an entry without a seal or with another key is a break.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from bot.integrity import IntegrityKey

PURPOSE = "audit entry"
CHAIN_FIELDS = ("seq", "prev", "key", "hash")

Problem = Literal["changed", "unlinked", "unsealed", "foreign_key", "head_removed"]


def seal(key: IntegrityKey, fields: Mapping[str, str]) -> str:
    """The hash of an entry: every field but `hash` itself, as canonical JSON."""
    return key.seal(PURPOSE, _canonical(fields))


def _canonical(fields: Mapping[str, str]) -> bytes:
    content = {k: v for k, v in fields.items() if k != "hash"}
    return json.dumps(content, sort_keys=True, separators=(",", ":")).encode()


def _seq(fields: Mapping[str, str]) -> int:
    value = fields.get("seq", "")
    return int(value) if value.isdigit() else 0


@dataclass(frozen=True)
class Break:
    """The first entry the walk could not accept, and why."""

    entry_id: str
    problem: Problem
    before: str | None  # the id of the entry walked just before it, if any


@dataclass(frozen=True)
class TrailCheck:
    """What `AuditLog.verify` found."""

    checked: int  # entries walked (up to and without the broken one)
    oldest: str | None  # the oldest entry walked (None: the stream is empty)
    trimmed: bool  # entries before `oldest` were trimmed by the cap
    unverifiable: int  # of `checked`: written before the chain or under a previous key
    newest: str | None  # the newest entry walked
    newest_hash: str  # its hash: noted down, a later check shows nothing after it was cut
    broken: Break | None

    @property
    def intact(self) -> bool:
        return self.broken is None


class ChainWalk:
    """Feed entries oldest first (`step`); `result` says what was found. `capped` tells
    whether the stream holds at least its cap of entries (then a missing start is trimming)."""

    def __init__(self, key: IntegrityKey, *, capped: bool) -> None:
        self.key = key
        self.capped = capped
        self.checked = 0
        self.unverifiable = 0
        self.oldest: str | None = None
        self.trimmed = False
        self.seen_current = False  # an entry sealed with the current key was walked
        self.last: tuple[str, str, int] | None = None  # id, hash, seq of the previous entry
        self.broken: Break | None = None

    def step(
        self, entry_id: str, fields: Mapping[str, str], *, trimmed_before: bool = False
    ) -> bool:
        """Walk one entry; False (and `broken` set) at the first break. `trimmed_before`: the
        entry walked before it has been trimmed since, so the link to it is not checked."""
        if trimmed_before:
            self.last = None
        ours = bool(fields.get("hash")) and fields.get("key") == self.key.key_id
        problem = self._content(fields, ours) or self._link(fields)
        if problem is not None:
            self.broken = Break(entry_id, problem, self.last[0] if self.last else None)
            return False
        if self.oldest is None:
            self.oldest = entry_id
        self.checked += 1
        self.seen_current = self.seen_current or ours
        self.unverifiable += 0 if ours else 1
        self.last = (entry_id, fields.get("hash", ""), _seq(fields))
        return True

    def _content(self, fields: Mapping[str, str], ours: bool) -> Problem | None:
        if ours:
            intact = self.key.verifies(PURPOSE, _canonical(fields), fields["hash"])
            return None if intact else "changed"
        if not self.seen_current:
            return None  # before the chain, or under a previous key: links checked only
        return "foreign_key" if fields.get("hash") else "unsealed"

    def _link(self, fields: Mapping[str, str]) -> Problem | None:
        if not fields.get("hash"):
            return None  # written before the chain existed: nothing links it
        prev, seq = fields.get("prev", ""), _seq(fields)
        if self.last is not None:
            return None if prev == self.last[1] and seq == self.last[2] + 1 else "unlinked"
        if (prev == "" and seq == 1) or self.oldest is not None:
            return None  # the chain's first entry, or one after entries trimmed meanwhile
        if not self.capped:
            return "head_removed"  # below the cap, trimming removed nothing: someone did
        self.trimmed = True
        return None

    def result(self) -> TrailCheck:
        return TrailCheck(
            checked=self.checked,
            oldest=self.oldest,
            trimmed=self.trimmed,
            unverifiable=self.unverifiable,
            newest=self.last[0] if self.last else None,
            newest_hash=self.last[1] if self.last else "",
            broken=self.broken,
        )
