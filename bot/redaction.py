"""Live Slack handles out of every log line, whoever wrote it.

A response_url posts into its channel for half an hour, a trigger_id opens a modal, an upload
URL takes a file's bytes and a file URL serves them (with a token), a Socket Mode URL carries a
ticket: whoever reads a log that holds one can act with it. At DEBUG, slack_sdk and slack_bolt
log the payloads and answers that carry them, httpx the URLs it calls. Rather than trust every
library's choices, the log handler's formatter (bot.observability) passes each finished line
through `redact`:

- a URL keeps its scheme and host; its path and query become `/[redacted]`, unless it is a
  Slack Web API method (`…/api/chat.postMessage`), which names no one's handle. Plain,
  JSON-escaped (`https:\\/\\/…`) and percent-encoded (`https%3A%2F%2F…`, as in a form body);
- anything shaped like a trigger_id becomes `[redacted]`.

The characters a URL is cut at (quotes, backslashes before anything but a slash, whitespace,
`<>|`) keep a JSON line valid JSON.
"""

from __future__ import annotations

import re

_SLASH = r"(?:\\*/|%2F)"
_URL = re.compile(
    rf"(?P<head>(?:https?|wss?)(?::|%3A){_SLASH}{_SLASH}[A-Za-z0-9.-]+(?::\d+|%3A\d+)?)"
    rf"(?P<rest>(?:{_SLASH}|[?#])(?:{_SLASH}|[^\s\"'<>|\\])*)?",
    re.I,
)
# Slack Web API methods and the API bases: they name no one's handle.
_KEPT_PATHS = re.compile(r"/api(?:/[A-Za-z][A-Za-z.]*)?/?|/client/v4/?")
_TRIGGER_ID = re.compile(r"\b\d{6,}\.\d+\.[0-9a-f]{8,}\b")


def _url(match: re.Match[str]) -> str:
    rest = match["rest"] or ""
    trailing = rest[len(rest.rstrip(".,;:)")) :]  # the sentence's, not the URL's
    path = re.sub(_SLASH, "/", rest.removesuffix(trailing) if trailing else rest, flags=re.I)
    if path in ("", "/") or _KEPT_PATHS.fullmatch(path):
        return match[0]
    return f"{match['head']}/[redacted]{trailing}"


def redact(line: str) -> str:
    return _TRIGGER_ID.sub("[redacted]", _URL.sub(_url, line))
