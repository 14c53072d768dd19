"""The roles people hold, and the setting that grants each (fail closed: empty means nobody)."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    VIEWER = "viewer"
    OPERATOR = "operator"
    APPROVER = "approver"


SETTING = {
    Role.VIEWER: "BOT_VIEWERS",
    Role.OPERATOR: "BOT_OPERATORS",
    Role.APPROVER: "BOT_APPROVERS",
}
