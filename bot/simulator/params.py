"""Query-string parsing shared by every list endpoint; each refusal is a 422 naming the field."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from bot.simulator.errors import invalid
from bot.simulator.messages import parse_time

Params = Mapping[str, str]


def parse_bool(params: Params, name: str) -> bool | None:
    """true/false/1/0 (any case); None when absent or empty."""
    value = params.get(name)
    if value is None or value == "":
        return None
    lowered = value.lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    raise invalid(f"'{name}' must be true or false")


def parse_enum(params: Params, name: str, allowed: Iterable[str]) -> str | None:
    value = params.get(name)
    if not value:
        return None
    if value not in allowed:
        raise invalid(f"'{name}' must be one of {', '.join(allowed)}")
    return value


def parse_int(params: Params, name: str, default: int, low: int, high: int) -> int:
    value = params.get(name)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise invalid(f"'{name}' must be an integer") from None
    if not low <= number <= high:
        raise invalid(f"'{name}' must be between {low} and {high}")
    return number


def parse_when(params: Params, name: str) -> datetime | None:
    value = params.get(name)
    if not value:
        return None
    try:
        return parse_time(value)
    except ValueError:
        raise invalid(
            f"'{name}' must be an RFC 3339 date-time, e.g. 2026-01-31T12:00:00Z"
        ) from None


def per_page(params: Params, default: int = 20) -> int:
    return parse_int(params, "per_page", default, 1, 1000)


def page_number(params: Params) -> int:
    return parse_int(params, "page", 1, 1, 10**9)


def paginate(items: list[object], params: Params) -> tuple[list[object], dict[str, int]]:
    """Page pagination for settings and submissions: the slice and its `result_info`."""
    page, size = page_number(params), per_page(params)
    chunk = items[(page - 1) * size : page * size]
    info = {"count": len(chunk), "page": page, "per_page": size, "total_count": len(items)}
    return chunk, info
