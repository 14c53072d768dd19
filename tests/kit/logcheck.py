"""What the bot's logs must never hold, and the check run on every bot log of the session.

conftest.py runs `problems()` over every `BotProcess` started in the session (they run with
LOG_LEVEL=DEBUG) when the session ends, and fails the run on any problem: a secret the process
was configured with, a message body the tests made it fetch, or a JSON line that does not parse.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping

# A sentence only a message's body holds: test_observability puts it in a message's raw EML
# and has the bot fetch and upload it (`raw <id>`), so it has passed through the bot.
BODY_CANARY = "Canary 5f1c: please wire the deposit to account 4417 before noon"
# Every raw EML the simulator derives has MIME boundaries named `=_sim_<digest>`; the lookup
# and action tests fetch raw EML (`raw <id>`, the Raw button).
RAW_EML_MARKER = "=_sim_"
BODIES = {"a message body": BODY_CANARY, "raw EML": RAW_EML_MARKER}


def leaks(text: str, needles: Mapping[str, str]) -> list[str]:
    """The names of the needles found in `text`."""
    return [name for name, value in needles.items() if value and value in text]


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
        found += [f"{name}: not a JSON log line: {line[:200]}" for line in bad_json_lines(text)]
    return found
