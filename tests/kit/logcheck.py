"""What the bot's logs must never hold, and the check run on every bot log of the session.

conftest.py runs `problems()` over every `BotProcess` started in the session (they run with
LOG_LEVEL=DEBUG) when the session ends, and fails the run on any problem: a secret the process
was configured with, a message body the tests made it fetch, a live Slack handle (a
response_url, a trigger_id, an upload or file URL, a Socket Mode ticket), or a JSON line that
does not parse.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping

# A sentence only a message's body holds: test_observability puts it in a message's raw EML
# and has the bot fetch and upload it (`raw <id>`), so it has passed through the bot.
BODY_CANARY = "Canary 5f1c: please wire the deposit to account 4417 before noon"
# Every raw EML the simulator derives has MIME boundaries named `=_sim_<digest>`; the lookup
# and action tests fetch raw EML (`raw <id>`, the Raw button).
RAW_EML_MARKER = "=_sim_"
BODIES = {"a message body": BODY_CANARY, "raw EML": RAW_EML_MARKER}
# Handles that act for whoever holds them, as Slack and the stand-in (bot/local/standin) issue
# them: a response_url posts into the channel for 30 minutes, a trigger_id opens a modal, an
# upload URL takes a file's bytes, a file URL serves them, a ticket opens a Socket Mode link.
# Plain, JSON-escaped (`\/`) or percent-encoded (a form body), in JSON or in a dict's repr.
_SLASH = r"(?:\\*/|%2F)"
HANDLES = {
    "a response_url": re.compile(
        rf"hooks\.slack\.com{_SLASH}\w|{_SLASH}response{_SLASH}[A-Za-z0-9_-]{{8}}", re.I
    ),
    "a trigger_id": re.compile(r"\b\d{9,}\.\d+\.[0-9a-f]{8,}\b"),
    "an upload URL": re.compile(rf"files\.slack\.com{_SLASH}upload|{_SLASH}upload{_SLASH}F", re.I),
    "a file URL": re.compile(rf"files-(?:pri|tmb){_SLASH}|slack-files\.com", re.I),
    "a Socket Mode ticket": re.compile(r"ticket=[A-Za-z0-9_-]{8}"),
}


def leaks(text: str, needles: Mapping[str, str]) -> list[str]:
    """The names of the needles found in `text`."""
    return [name for name, value in needles.items() if value and value in text]


def handles(text: str) -> list[str]:
    """The kinds of live Slack handle found in `text`."""
    return [name for name, pattern in HANDLES.items() if pattern.search(text)]


def bad_json_lines(text: str) -> list[str]:
    """Lines that look like JSON log lines but do not parse, or lack level or msg."""
    bad = []
    for line in text.splitlines():
        if not line.startswith("{"):
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            bad.append(line)
            continue
        if not isinstance(entry, dict) or not {"ts", "level", "logger", "msg"} <= entry.keys():
            bad.append(line)
    return bad


def problems(logs: Iterable[tuple[str, str, Mapping[str, str]]]) -> list[str]:
    """For (name, text, secrets) of each log: every leak and every bad JSON line, described
    without repeating the secret itself."""
    found = []
    for name, text, secrets in logs:
        found += [f"{name}: holds {what}" for what in leaks(text, {**secrets, **BODIES})]
        found += [f"{name}: holds {what}" for what in handles(text)]
        found += [f"{name}: not a JSON log line: {line[:200]}" for line in bad_json_lines(text)]
    return found
