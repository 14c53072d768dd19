"""Settings collections: one store and one CRUD path for every `Kind` (kinds.py), and `/batch`.

A batch runs deletes, patches, puts and posts in that order, atomically: the first refusal
leaves the collection as it was. A full batch needs all four arrays (the file's `required`);
each holds at most 1000 operations. A collection whose batch only deletes takes `deletes` alone.
The `pattern` list filter (for content policies `name`) matches one value, case-insensitively.
An entry is unique by its key, pattern type and `is_regex`: the same text as a regex and as a
literal are two entries (so a pattern can name several).
"""

from __future__ import annotations

import builtins
import copy
import random
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from bot.simulator.errors import ApiError, end_of_life, invalid, malformed, not_found
from bot.simulator.kinds import KINDS, Kind, check_types
from bot.simulator.messages import iso
from bot.simulator.params import Params, paginate, parse_bool, parse_enum
from bot.simulator.seeds import Record, new_uuid, public_record

MAX_BATCH = 1000
BATCH_PARTS = ("deletes", "patches", "puts", "posts")


class Settings:
    def __init__(self, records: Mapping[str, list[Record]], rng: random.Random) -> None:
        self._records = {name: [dict(record) for record in records.get(name, [])] for name in KINDS}
        self._rng = rng

    def list(self, name: str, params: Params) -> tuple[list[object], dict[str, int]]:
        kind = KINDS[name]
        items = [record for record in self._records[name] if _listed(kind, record, params)]
        order = (parse_enum(params, "order", kind.orders) if kind.orders else None) or (
            kind.default_order
        )
        descending = (parse_enum(params, "direction", ("asc", "desc")) or "desc") == "desc"
        items.sort(key=lambda record: str(record[order]).lower(), reverse=descending)
        return paginate([public_record(record) for record in items], params)

    def get(self, name: str, record_id: str) -> Record:
        return public_record(self._find(name, record_id))

    def create(self, name: str, body: Any, now: datetime) -> Record:
        kind = KINDS[name]
        changes = _checked_body(kind, body, creating=True)
        record = {"id": new_uuid(self._rng), **_blank(kind), **changes}
        self._validate(name, record)
        record.update(created_at=iso(now), modified_at=iso(now), last_modified=iso(now))
        self._records[name].append(record)
        return public_record(record)

    def update(self, name: str, record_id: str, body: Any, now: datetime) -> Record:
        kind = KINDS[name]
        record = self._find(name, record_id)
        reason = kind.locked(record)
        if reason:
            raise invalid(reason)
        merged = {**record, **_checked_body(kind, body, creating=False)}
        self._validate(name, merged)
        record.update(merged, modified_at=iso(now), last_modified=iso(now))
        return public_record(record)

    def replace(self, name: str, record_id: str, body: Any, now: datetime) -> Record:
        """A batch's put: every writable field anew (those not given take their defaults)."""
        kind = KINDS[name]
        record = self._find(name, record_id)
        changes = _checked_body(kind, body, creating=True)
        fresh = {"id": record_id, **_blank(kind), **changes}
        self._validate(name, fresh)
        created = record.get("created_at") or iso(now)
        record.clear()
        record.update(fresh, created_at=created)
        record.update(modified_at=iso(now), last_modified=iso(now))
        return public_record(record)

    def delete(self, name: str, record_id: str) -> dict[str, str]:
        self._records[name].remove(self._find(name, record_id))
        return {"id": record_id}

    def batch(self, name: str, body: Any, now: datetime) -> dict[str, builtins.list[Any]]:
        """Run a batch atomically; the answer lists what each part did, in order."""
        kind = KINDS[name]
        parts = _batch_parts(kind, body)
        saved = copy.deepcopy(self._records[name])
        try:
            done: dict[str, builtins.list[Any]] = {part: [] for part in parts}
            for item in parts.get("deletes", []):
                done["deletes"].append(self.delete(name, _item_id(item)))
            for item in parts.get("patches", []):
                changes = {k: v for k, v in item.items() if k != "id"}
                done["patches"].append(self.update(name, _item_id(item), changes, now))
            for item in parts.get("puts", []):
                fields = {k: v for k, v in item.items() if k != "id"}
                done["puts"].append(self.replace(name, _item_id(item), fields, now))
            for item in parts.get("posts", []):
                done["posts"].append(self.create(name, item, now))
        except ApiError:
            self._records[name] = saved
            raise
        return done

    def _find(self, name: str, record_id: str) -> Record:
        for record in self._records[name]:
            if record["id"] == record_id:
                return record
        raise not_found(KINDS[name].label)

    def _validate(self, name: str, record: Record) -> None:
        kind = KINDS[name]
        kind.validate(record)
        for other in self._records[name]:
            # A regex and a literal of the same text match different mail: two entries.
            same_type = other.get("pattern_type") == record.get("pattern_type")
            same_regex = other.get("is_regex") == record.get("is_regex")
            same_key = str(other[kind.key]).lower() == str(record[kind.key]).lower()
            if other["id"] != record["id"] and same_type and same_regex and same_key:
                raise invalid(f"{kind.label} '{record[kind.key]}' already exists")


def _batch_parts(kind: Kind, body: Any) -> dict[str, builtins.list[Any]]:
    if kind.batch is None:
        raise not_found(f"Batch for {kind.label}")
    if not isinstance(body, dict):
        raise malformed("The request body must be a JSON object")
    wanted = BATCH_PARTS if kind.batch == "full" else ("deletes",)
    missing = [part for part in wanted if part not in body]
    if missing:
        raise invalid(f"Missing required field(s): {', '.join(missing)} (send [] when unused)")
    extra = sorted(set(body) - set(wanted))
    if extra:
        raise invalid(f"This batch does not take {', '.join(extra)}")
    for part in wanted:
        items = body[part]
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            raise invalid(f"'{part}' must be a list of objects")
        if len(items) > MAX_BATCH:
            raise invalid(f"Maximum batch size: {MAX_BATCH} {part} per request")
    return {part: body[part] for part in wanted}


def _item_id(item: dict[str, Any]) -> str:
    identifier = item.get("id")
    if not isinstance(identifier, str) or not identifier:
        raise invalid("Each delete, patch and put needs the 'id' of an entry")
    return identifier


def _listed(kind: Kind, record: Record, params: Params) -> bool:
    search = params.get("search", "").lower()
    text = " ".join(str(record.get(name) or "") for name in kind.searched).lower()
    if search and search not in text:
        return False
    wanted = params.get(kind.matched)
    if (
        wanted
        and kind.matched in kind.fields
        and wanted.lower() != str(record[kind.matched]).lower()
    ):
        return False
    for name, allowed in kind.enums.items():
        wanted = parse_enum(params, name, allowed)
        if wanted and record.get(name) != wanted:
            return False
    for flag in kind.flags:
        value = parse_bool(params, flag)
        if value is not None and record.get(flag) is not value:
            return False
    return True


def _blank(kind: Kind) -> Record:
    """The fields a new record has before its body: `comments` where the kind has them."""
    return {**({"comments": None} if "comments" in kind.fields else {}), **kind.defaults}


def _checked_body(kind: Kind, body: Any, creating: bool) -> Record:
    """The writable fields of a create/update body, type-checked; read-only ones are ignored."""
    if not isinstance(body, dict):
        raise malformed("The request body must be a JSON object")
    for name, (instead, sunset) in kind.eol_fields.items():
        if name in body:
            raise end_of_life(name, f"'{instead.strip(chr(39))}'", sunset=sunset)
    if creating:
        missing = [name for name in kind.required if name not in body]
        if missing:
            raise invalid(f"Missing required field(s): {', '.join(missing)}")
    changes = {name: body[name] for name in kind.fields if name in body}
    check_types(kind, changes)
    return changes
