"""Bulk jobs (`/investigate/bulk`): move or release every message a search finds, in the
background.

A job takes its search's matches when it is created and then moves on by the store's clock,
at the pace it was created with (`rate` messages a second, the simulator's `bulk_rate`), as
Cloudflare's do in the background: PENDING for `START_AFTER`; DISCOVERING while
`total_messages_discovered` grows, `DISCOVERY_FACTOR` times faster than processing; PROCESSING,
each message moved or released as the one-message endpoints would (a release that delivers to
no recipient, or a message gone, is that message's failure, with its `status_message`), the
counts growing; then COMPLETED. The store's clock runs on every request and on the app's ticker
(app.py), so a job progresses while nobody asks. Until it finishes it can be cancelled
(CANCELLED: what is not yet acted on is left alone; during discovery, the messages not yet
discovered are not its messages). Listing answers the cursor-style `result_info` the file gives
these lists, paged by `page`/`per_page`.
"""

from __future__ import annotations

import builtins
import random
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from bot.simulator.errors import invalid, malformed, not_found
from bot.simulator.messages import Message, iso, recipients
from bot.simulator.params import Params, paginate, parse_enum
from bot.simulator.search import SearchQuery, parse_query
from bot.simulator.seeds import Record, new_uuid, public_record

START_AFTER = timedelta(seconds=1)
DISCOVERY_FACTOR = 10  # discovery runs this many times faster than processing
DEFAULT_RATE = 1000.0  # messages processed a second (the simulator's `bulk_rate`)
ACTIONS = ("MOVE", "RELEASE")
STATUSES = ("PENDING", "DISCOVERING", "PROCESSING", "COMPLETED", "FAILED", "CANCELLED", "SKIPPED")
DESTINATIONS = (
    "Inbox", "JunkEmail", "DeletedItems", "RecoverableItemsDeletions", "RecoverableItemsPurges",
)  # fmt: skip
FINISHED = ("COMPLETED", "FAILED", "CANCELLED", "SKIPPED")
# One message of a job: None when done, else why it failed.
Act = Callable[[Message, dict[str, Any], datetime], str | None]


class BulkJobs:
    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self.jobs: list[Record] = []

    def create(
        self,
        body: Any,
        found: Callable[[SearchQuery], list[Message]],
        now: datetime,
        rate: float = DEFAULT_RATE,
    ) -> Record:
        if not isinstance(body, dict):
            raise malformed("The request body must be a JSON object")
        action = body.get("action")
        if action not in ACTIONS:
            raise invalid("'action' must be MOVE or RELEASE")
        destination = body.get("destination")
        if action == "MOVE" and destination not in DESTINATIONS:
            raise invalid(f"A MOVE needs 'destination', one of {', '.join(DESTINATIONS)}")
        search = body.get("search_params")
        if not isinstance(search, dict):
            raise invalid("'search_params' is required: the search whose messages to act on")
        query = parse_query({k: _text(v) for k, v in search.items() if v is not None}, now)
        params = {"type": action, **({"destination": destination} if action == "MOVE" else {})}
        job_id = new_uuid(self._rng)
        items = [
            {
                "message_id": new_uuid(self._rng), "postfix_id": message["postfix_id"],
                "action_type": action, "status": "PENDING", "retry_count": 0,
                "status_message": None, "alert_id": message.get("alert_id"),
                "email_message_id": message.get("message_id"), "created_at": iso(now),
                "processed_at": None, "retry_after": None,
                "action_params": {**params, "client_recipient": (recipients(message) or [""])[0]},
                "_id": message["id"],
            }
            for message in found(query)
        ]  # fmt: skip
        job = {
            "job_id": job_id, "action_type": action, "action_params": params,
            "search_params": search, "comment": body.get("comment"), "status": "PENDING",
            "status_message": None, "total_messages_discovered": 0,
            "messages_pending": 0, "messages_successful": 0, "messages_failed": 0,
            "created_at": iso(now), "started_at": None, "completed_at": None,
            "_messages": items, "_start": now + START_AFTER, "_rate": rate, "_done": 0,
        }  # fmt: skip
        self.jobs.insert(0, job)
        return public_record(job)

    def run_due(self, now: datetime, act: Act, lookup: Callable[[str], Message | None]) -> None:
        """Move every unfinished job on to where its pace has it at `now`."""
        for job in self.jobs:
            if job["status"] not in FINISHED:
                self._advance(job, now, act, lookup)

    @staticmethod
    def _advance(
        job: Record, now: datetime, act: Act, lookup: Callable[[str], Message | None]
    ) -> None:
        elapsed = (now - job["_start"]).total_seconds()
        if elapsed < 0:
            return
        items, rate = job["_messages"], float(job["_rate"])
        total, discovering = len(items), rate * DISCOVERY_FACTOR
        if job["started_at"] is None:
            job["started_at"] = iso(job["_start"])
        discovered = min(total, int(elapsed * discovering))
        if discovered < total:
            job.update(
                status="DISCOVERING", total_messages_discovered=discovered,
                messages_pending=discovered,
            )  # fmt: skip
            return
        due = min(total, int((elapsed - total / discovering) * rate))
        for item in items[job["_done"] : max(due, job["_done"])]:
            message = lookup(item["_id"])
            why = "The message is no longer there" if message is None else None
            if message is not None:
                why = act(message, job["action_params"], now)
            item.update(status="FAILED" if why else "COMPLETED", processed_at=iso(now))
            item["status_message"] = why
            job["messages_successful" if why is None else "messages_failed"] += 1
        job["_done"] = max(due, job["_done"])
        job.update(
            status="COMPLETED" if job["_done"] >= total else "PROCESSING",
            total_messages_discovered=total, messages_pending=total - job["_done"],
        )  # fmt: skip
        if job["status"] == "COMPLETED":
            job["completed_at"] = iso(now)

    def list(self, params: Params) -> tuple[list[object], dict[str, Any]]:
        action = parse_enum(params, "action_type", ACTIONS)
        status = parse_enum(params, "status", STATUSES)
        kept: builtins.list[object] = [
            public_record(job)
            for job in self.jobs
            if action in (None, job["action_type"]) and status in (None, job["status"])
        ]
        return _cursor_page(kept, params)

    def get(self, job_id: str) -> Record:
        return public_record(self._find(job_id))

    def cancel(self, job_id: str, now: datetime) -> Record:
        job = self._find(job_id)
        if job["status"] in FINISHED:
            raise invalid(f"The job is already {job['status'].lower()}")
        if job["status"] in ("PENDING", "DISCOVERING"):
            # Not discovered yet: not the job's messages.
            del job["_messages"][job["total_messages_discovered"] :]
        for item in job["_messages"]:
            if item["status"] == "PENDING":
                item.update(status="CANCELLED", processed_at=iso(now))
        job.update(status="CANCELLED", completed_at=iso(now), messages_pending=0)
        return public_record(job)

    def delete(self, job_id: str) -> dict[str, str]:
        self.jobs.remove(self._find(job_id))
        return {"id": job_id}

    def messages(self, job_id: str, params: Params) -> tuple[builtins.list[object], dict[str, Any]]:
        status = parse_enum(params, "status", STATUSES)
        items = self._find(job_id)["_messages"]
        kept: builtins.list[object] = [
            public_record(item) for item in items if status in (None, item["status"])
        ]
        return _cursor_page(kept, params)

    def _find(self, job_id: str) -> Record:
        for job in self.jobs:
            if job["job_id"] == job_id:
                return job
        raise not_found("Bulk job")


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _cursor_page(items: list[object], params: Params) -> tuple[list[object], dict[str, Any]]:
    """Page by `page`/`per_page`, answered in the `CursorResultInfo` shape."""
    chunk, info = paginate(items, params)
    return chunk, {
        "count": info["count"], "per_page": info["per_page"], "total_count": info["total_count"],
        "next": None, "previous": None,
    }  # fmt: skip
