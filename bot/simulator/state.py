"""The simulator's state and every operation that reads or changes it.

`Dataset` is the start-up data (generated from a seed or read from `--data`), kept untouched so
`reset()` can go back to it. `Store` is the live copy the API works on. Handlers in `app.py`
only parse requests and shape responses; the rules (what a release does to a message, what a
search matches) live here and in `search.py`.
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bot.simulator import derive
from bot.simulator.bulkjobs import BulkJobs
from bot.simulator.domains import Domains, generate_domains
from bot.simulator.errors import not_found
from bot.simulator.messages import (
    Message,
    action_entry,
    fill_message,
    iso,
    recipients,
    record_operation,
    scanned_at,
)
from bot.simulator.params import Params, paginate, parse_bool, parse_enum, parse_when
from bot.simulator.sample import generate_messages
from bot.simulator.search import SearchQuery, matches
from bot.simulator.seeds import (
    REVIEW_AFTER,
    SUBMISSION_DISPOSITIONS,
    Record,
    generate_registry,
    generate_reports,
    generate_settings,
    generate_submissions,
    make_submission,
    new_uuid,
    public_record,
    review_due,
)
from bot.simulator.settings import Settings

MAX_BATCH = 1000
SUBMISSION_TYPES = {"TEAM": "Team", "USER": "User"}


@dataclass(frozen=True)
class Dataset:
    messages: list[Message]
    submissions: list[Record]
    reports: list[Record]
    settings: dict[str, list[Record]]
    domains: list[Record]

    @classmethod
    def build(cls, seed: int, count: int, started: datetime, data: Path | None) -> Dataset:
        """The sample for `seed`, or the messages of a `--data` file (ValueError if invalid)."""
        rng = random.Random(seed)
        messages = (
            load_messages(data, rng, started) if data else generate_messages(count, rng, started)
        )
        dataset = cls(
            messages=messages,
            submissions=generate_submissions(messages, rng, started),
            reports=generate_reports(messages, rng, started),
            settings=generate_settings(rng, started),
            domains=generate_domains(rng, started),
        )
        # Last: the earlier records stay as they were before these collections existed.
        dataset.settings.update(generate_registry(rng, started))
        return dataset


def load_messages(path: Path, rng: random.Random, started: datetime) -> list[Message]:
    """A JSON array of (partial) MessageDetails objects, filled like the hook fills them."""
    items = json.loads(path.read_text())
    if not isinstance(items, list):
        raise ValueError(f"{path}: expected a JSON array of message objects")
    messages = []
    for index, item in enumerate(items):
        try:
            messages.append(fill_message(item, rng, started))
        except ValueError as error:
            raise ValueError(f"{path}: message {index}: {error}") from None
    return messages


class Store:
    def __init__(self, dataset: Dataset, seed: int) -> None:
        self._dataset = dataset
        self._seed = seed
        self.reset()

    def reset(self) -> None:
        data = copy.deepcopy(self._dataset)
        self._rng = random.Random(self._seed + 1)
        self.messages: list[Message] = []
        self._by_id: dict[str, Message] = {}
        self._upsert(data.messages)
        self.submissions = data.submissions
        self.reports = data.reports
        self.settings = Settings(data.settings, self._rng)
        self.domains = Domains(data.domains, self._rng)
        self.bulk_jobs = BulkJobs(self._rng)
        self._pending: dict[str, int] = {}
        # How far the clock of things that take time (reviews, bulk jobs, domain verification)
        # runs ahead of the wall clock: `POST /__simulator/clock` moves it, so a test sees
        # them happen without waiting.
        self.ahead = timedelta(0)

    def clock(self, now: datetime) -> datetime:
        """`now` on the store's clock; whatever has come due by then has happened."""
        moment = now + self.ahead
        review_due(self.submissions, moment)
        self.bulk_jobs.run_due(moment, self._act, self.lookup)
        self.domains.settle(moment)
        return moment

    def _act(self, message: Message, params: dict[str, Any], now: datetime) -> str | None:
        """One message of a bulk job, as the one-message endpoints do it: None when done,
        else why it failed."""
        if params["type"] == "MOVE":
            self.move(message, params["destination"], "bulk-job", now)
            return None
        released = self._release_one(message["id"], "bulk-job", now)
        if released["delivered"]:
            return None
        if released["undelivered"]:
            return "The message is not quarantined"
        return "Delivery failed for every recipient"

    def find_all(self, query: SearchQuery) -> list[Message]:
        """Every message a search finds (a bulk job's)."""
        return [message for message in self.messages if matches(message, query)]

    # Messages -------------------------------------------------------------------------------

    def add_messages(self, items: Iterable[Any], now: datetime) -> list[str]:
        """Fill and store messages (an existing id is replaced); ValueError names a bad one."""
        filled = []
        for index, item in enumerate(items):
            try:
                filled.append(fill_message(item, self._rng, now))
            except ValueError as error:
                raise ValueError(f"message {index}: {error}") from None
        self._upsert(filled)
        return [message["id"] for message in filled]

    def _upsert(self, messages: list[Message]) -> None:
        for message in messages:
            self._by_id[message["id"]] = message
        # Newest first, as search returns them; ties broken by id so paging is stable.
        self.messages = sorted(
            self._by_id.values(), key=lambda m: (scanned_at(m), m["id"]), reverse=True
        )

    def lookup(self, identifier: str, submission: bool = False) -> Message | None:
        """By investigate id, else by bare postfix id (newest record first)."""
        message = self._by_id.get(identifier)
        if message is None:
            message = next((m for m in self.messages if m["postfix_id"] == identifier), None)
        if message is not None and submission and not message.get("is_phish_submission"):
            return None
        return message

    def find(self, identifier: str, submission: bool = False) -> Message:
        message = self.lookup(identifier, submission)
        if message is None:
            raise not_found("Message")
        return message

    def search(self, query: SearchQuery, offset: int) -> tuple[list[Message], bool]:
        """One page of matches from `offset`, and whether more follow."""
        found = [message for message in self.messages if matches(message, query)]
        return found[offset : offset + query.per_page], offset + query.per_page < len(found)

    # Search that answers 202 first ----------------------------------------------------------

    def begin_pending(self, answers_202: int) -> str:
        """Register a slow search that answers 202 `answers_202` times in all (this one too)."""
        pending = new_uuid(self._rng)
        self._pending[pending] = answers_202 - 1
        return pending

    def still_pending(self, pending: str) -> bool:
        """Count one poll; True while the search should still answer 202."""
        left = self._pending.get(pending, 0)
        if left <= 0:
            self._pending.pop(pending, None)
            return False
        self._pending[pending] = left - 1
        return True

    # Actions --------------------------------------------------------------------------------

    def preview(self, message: Message, actor: str, now: datetime) -> str:
        record_operation(message, action_entry("PREVIEW", now, actor))
        return derive.preview_base64(message)

    def release(self, identifiers: list[str], actor: str, now: datetime) -> list[Record]:
        return [self._release_one(identifier, actor, now) for identifier in identifiers]

    def _release_one(self, identifier: str, actor: str, now: datetime) -> Record:
        """A `ReleaseResponse` for one id.

        - unknown id: the id with all three lists empty (nothing to deliver, nothing tried);
        - not quarantined (never was, or already released): every recipient `undelivered`;
        - quarantined: recipients whose local part starts with "bounce" `failed`, the rest
          `delivered`; the message leaves quarantine unless every recipient failed.
        """
        message = self.lookup(identifier)
        if message is None:
            return {"id": identifier, "delivered": [], "failed": [], "undelivered": []}
        result: Record = {"id": message["id"], "postfix_id": message["postfix_id"]}
        rcpts = recipients(message)
        if not message.get("is_quarantined"):
            return {**result, "delivered": [], "failed": [], "undelivered": rcpts}
        failed = [rcpt for rcpt in rcpts if rcpt.lower().startswith("bounce")]
        delivered = [rcpt for rcpt in rcpts if rcpt not in failed]
        if delivered:
            message.update(is_quarantined=False, delivery_status=["delivered"], _folder="Inbox")
        entry = action_entry("QUARANTINE_RELEASE", now, actor, success=bool(delivered))
        record_operation(message, entry)
        return {**result, "delivered": delivered, "failed": failed, "undelivered": []}

    def move(self, message: Message, destination: str, actor: str, now: datetime) -> list[Record]:
        """Move to a mailbox folder: one `MoveResponseItem` per recipient."""
        message.update(delivery_status=["moved"], _folder=destination)
        record_operation(message, action_entry("MOVE", now, actor, folder=destination))
        return [
            {
                "success": True,
                "status": "completed",
                "operation": "MOVE",
                "destination": destination,
                "recipient": rcpt,
                "message_id": message["id"],
                "completed_at": iso(now),
                "completed_timestamp": iso(now),
                "item_count": 1,
            }
            for rcpt in recipients(message)
        ]

    def move_many(
        self, identifiers: list[str], destination: str, actor: str, now: datetime
    ) -> list[Record]:
        results: list[Record] = []
        for identifier in identifiers:
            message = self.lookup(identifier)
            if message is None:
                results.append(_move_not_found(identifier, destination))
            else:
                results += self.move(message, destination, actor, now)
        return results

    def reclassify(
        self, message: Message, body: dict[str, Any], actor: str, now: datetime
    ) -> Record:
        """Record a team submission asking for a new verdict (the verdict itself stays)."""
        submission = make_submission(
            message, body["expected_disposition"], now, actor, "Team", new_uuid(self._rng)
        )
        submission["escalated_submission_id"] = body.get("escalated_submission_id")
        submission["_review_at"] = iso(now + self.ahead + REVIEW_AFTER)
        self.submissions.insert(0, submission)
        record_operation(message, action_entry("SUBMISSION", now, actor))
        return submission

    # Submissions and PhishGuard -------------------------------------------------------------

    def list_submissions(
        self, params: Params, now: datetime
    ) -> tuple[list[object], dict[str, int]]:
        self.clock(now)
        start, end = parse_when(params, "start"), parse_when(params, "end")
        kind = SUBMISSION_TYPES.get(parse_enum(params, "type", SUBMISSION_TYPES) or "")
        wanted = {
            name: parse_enum(params, name, SUBMISSION_DISPOSITIONS)
            for name in ("original_disposition", "requested_disposition", "outcome_disposition")
        }
        escalated = parse_bool(params, "escalated_from_user")
        text = (params.get("query") or "").lower()

        def keep(record: Record) -> bool:
            at = datetime.fromisoformat(str(record["requested_at"]))
            return (
                (start is None or at >= start)
                and (end is None or at <= end)
                and kind in (None, record.get("type"))
                and params.get("submission_id") in (None, record["submission_id"])
                and all(value in (None, record.get(name)) for name, value in wanted.items())
                and params.get("status", "").lower() in ("", str(record.get("status")).lower())
                and (escalated is None or escalated == bool(record.get("escalated_at")))
                and text in _submission_text(record)
            )

        kept: list[object] = [public_record(r) for r in self.submissions if keep(r)]
        return paginate(kept, params)

    def list_reports(self, params: Params) -> list[Record]:
        start, end = parse_when(params, "start"), parse_when(params, "end")

        def keep(report: Record) -> bool:
            at = datetime.fromisoformat(str(report["created_at"]))
            return (start is None or at >= start) and (end is None or at <= end)

        return [copy.deepcopy(report) for report in self.reports if keep(report)]


def _move_not_found(identifier: str, destination: str) -> Record:
    return {
        "success": False,
        "status": "not_found",
        "operation": "MOVE",
        "destination": destination,
        "recipient": None,
        "message_id": identifier,
        "completed_at": None,
        "item_count": 0,
    }


def _submission_text(record: Record) -> str:
    fields = ("subject", "submission_id", "original_postfix_id", "requested_by", "outcome")
    return " ".join(str(record.get(name) or "") for name in fields).lower()
