"""The verdicts Email Security gives a message, and the named sets of them the bot works with.

The API sends a disposition as a plain string and adds new ones over time, so models keep the
string; code that decides (guards, alerts, search filters, menus) names one of these sets
instead of spelling the values out again.
"""

from __future__ import annotations

from enum import StrEnum


class Disposition(StrEnum):
    MALICIOUS = "MALICIOUS"
    MALICIOUS_BEC = "MALICIOUS-BEC"
    SUSPICIOUS = "SUSPICIOUS"
    SPOOF = "SPOOF"
    SPAM = "SPAM"
    BULK = "BULK"
    ENCRYPTED = "ENCRYPTED"
    EXTERNAL = "EXTERNAL"
    UNKNOWN = "UNKNOWN"
    NONE = "NONE"


D = Disposition
# Most severe first: the guard of a message takes the first of these it can find.
BY_SEVERITY: tuple[Disposition, ...] = (
    D.MALICIOUS_BEC, D.MALICIOUS, D.SUSPICIOUS, D.SPOOF, D.SPAM, D.BULK, D.ENCRYPTED,
    D.EXTERNAL, D.UNKNOWN, D.NONE,
)  # fmt: skip
# What the API's search can filter on (it has no MALICIOUS-BEC filter: search MALICIOUS).
SEARCHABLE: tuple[Disposition, ...] = (D.MALICIOUS, D.SUSPICIOUS, D.SPOOF, D.SPAM, D.BULK, D.NONE)
# What a reclassification may ask for (UNKNOWN is read-only in the API).
RECLASSIFIABLE: tuple[Disposition, ...] = (
    D.NONE, D.BULK, D.MALICIOUS, D.SPAM, D.SPOOF, D.SUSPICIOUS,
)  # fmt: skip
# Releasing (or moving to Inbox) one of these needs approval unless BOT_GUARDED_DISPOSITIONS says
# otherwise.
GUARDED_BY_DEFAULT: tuple[Disposition, ...] = (D.MALICIOUS, D.MALICIOUS_BEC)
# New messages with one of these alert unless ALERT_DISPOSITIONS says otherwise.
ALERTING_BY_DEFAULT: tuple[Disposition, ...] = (D.MALICIOUS, D.MALICIOUS_BEC, D.SUSPICIOUS)
# Verdicts of a detection: its preview is fetched with the detection endpoint.
DETECTIONS = frozenset({D.MALICIOUS, D.MALICIOUS_BEC, D.SUSPICIOUS, D.SPOOF, D.SPAM, D.BULK})
# Alerts with one of these are always posted one by one, before any other alert is queued
# (a flood of lesser verdicts is gathered into a digest instead; bot.services.alerts).
URGENT: tuple[Disposition, ...] = (D.MALICIOUS_BEC, D.MALICIOUS)


def severity_rank(value: str | None) -> int:
    """Where a disposition comes in BY_SEVERITY (0 = most severe). One the bot does not know
    ranks with SUSPICIOUS: alerted (an admin listed it), but not as urgent as MALICIOUS."""
    wanted = (value or "").upper()
    for rank, known in enumerate(BY_SEVERITY):
        if known.value == wanted:
            return rank
    return BY_SEVERITY.index(D.SUSPICIOUS)
