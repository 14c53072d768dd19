"""Slack's request signature, checked on the raw bytes before anything parses them.

Bolt checks the signature too, but only after it has decoded the body and parsed it as a form
or JSON: garbage from anyone raised there, before any check, and came back as a 500 with a
traceback in the log (issue 14). Here the body stays bytes until the signature holds: an
unsigned request costs one HMAC and gets a 401.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping

WINDOW_SECONDS = 300  # Slack's: a request more than five minutes off is a replay


def signature_problem(
    secret: str, body: bytes, headers: Mapping[str, str], now: float | None = None
) -> str | None:
    """Why the request is not signed by Slack with `secret`, or None when it is. The reasons
    name what was wrong, never a header's value."""
    timestamp = headers.get("X-Slack-Request-Timestamp")
    signature = headers.get("X-Slack-Signature")
    if not timestamp or not signature:
        return "no signature"
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        return "timestamp not a number"
    if abs((time.time() if now is None else now) - int(timestamp)) > WINDOW_SECONDS:
        return "timestamp more than five minutes off"
    expected = hmac.new(
        secret.encode(), b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256
    ).hexdigest()
    if not hmac.compare_digest(f"v0={expected}".encode(), signature.encode("utf-8", "replace")):
        return "signature does not match"
    return None
