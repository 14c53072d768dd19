"""The bot's integrity key: HMAC-SHA256 seals on what it keeps in Redis (approval requests'
digests, the audit chain), so that whoever can write Redis but does not hold the bot's secrets
cannot rewrite a record and its seal together.

The key is never stored: every replica derives it from a secret of its settings
(`Settings.integrity_key`: BOT_INTEGRITY_KEY, else SLACK_SIGNING_SECRET, else SLACK_APP_TOKEN),
as HMAC-SHA256(secret, a fixed label), so replicas with the same settings share it. Each use
seals under its own purpose label (domain separation: a seal made for one use never verifies
as another). Standard library only: blocks/ render approval models that import this module.
"""

from __future__ import annotations

import hashlib
import hmac

_LABEL = b"email-security-bot/integrity-key/v1"


class IntegrityKey:
    """A secret HMAC key; its repr never shows it. `key_id` names it without revealing it
    (stored beside seals, so a seal made under a previous key is told from a forged one)."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("an integrity key needs at least 16 bytes")
        self._key = key
        self.key_id = self.seal("key id", b"")[:12]

    @classmethod
    def derive(cls, secret: str) -> IntegrityKey:
        """The key derived from a configured secret (the same secret gives the same key)."""
        if not secret:
            raise ValueError("an integrity key needs a secret to derive it from")
        return cls(hmac.new(secret.encode(), _LABEL, hashlib.sha256).digest())

    def seal(self, purpose: str, data: bytes) -> str:
        """HMAC-SHA256 (hex) of `data` for `purpose`."""
        message = purpose.encode() + b"\0" + data
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def verifies(self, purpose: str, data: bytes, seal: str) -> bool:
        """True when `seal` is this key's seal of `data` for `purpose` (constant time)."""
        # As bytes: a seal read from Redis may hold anything, and compare_digest refuses
        # non-ASCII str.
        return hmac.compare_digest(self.seal(purpose, data).encode(), seal.encode())

    def __repr__(self) -> str:
        return f"IntegrityKey(id={self.key_id})"
