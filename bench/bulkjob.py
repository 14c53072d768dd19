"""Benchmark: 100,000 quarantined messages (`--quick`: 20,000) matching one search, "Release all
matching" asked by an operator (past BOT_BULK_SEARCH_LIMIT: approved as a query) and approved;
the bot runs it as one Cloudflare bulk job. The simulator enforces Cloudflare's limit (1,200
requests / 5 min, 429 past it) and, from the approval on, a latency of 200 ms; its job runs at
BULK_RATE messages a second (discovery ten times faster).

Measured: the API calls the bot made (GET /__simulator/requests), by kind, from the search
command to the card's chat.update showing Done: asking (the search page, and reading the search
as far as BOT_BULK_SEARCH_LIMIT + 1 matches: Cloudflare gives no total, so the ceiling is
BOT_BULK_JOB_CEILING, 100,000, not a count) and running (approve click -> Done); the final
card's lag behind the job's `completed_at`; the job created once; no message left
quarantined."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import httpx

from bench.bulk import _kinds, _stamp
from bench.common import Options, Result, Target, say, stack
from tests.kit.factories import quarantined_messages
from tests.kit.flows import wait_card
from tests.kit.servers import ACCOUNT_ID, API_TOKEN
from tests.kit.slack import APPROVER, OPERATOR, text_of

LATENCY_MS = 200
BULK_RATE = 2000  # messages a second: 100,000 in 50 s, after 5 s of discovery
TAG = "BenchJob"
CALLS_MAX, LAG_MAX = 30, 10.0


def _job(base_url: str) -> dict[str, Any]:
    answer = httpx.get(
        f"{base_url}/accounts/{ACCOUNT_ID}/email-security/investigate/bulk",
        headers={"Authorization": f"Bearer {API_TOKEN}"},
    )
    jobs: list[dict[str, Any]] = answer.json()["result"]
    return jobs[0]


def _card(driver: Any, containing: str) -> dict[str, Any] | None:
    found = [m for m in driver.standin.messages() if not m["ephemeral"] and containing in
             text_of(m) and "approval_approve" in str(m.get("blocks"))]  # fmt: skip
    return found[-1] if found else None


def run(options: Options) -> Result:
    count = 20_000 if options.quick else 100_000
    limit = "1200/300"
    setup = {
        "messages": count, "simulator": f"--rate-limit {limit}, latency {LATENCY_MS} ms from "
        f"the approval on, bulk_rate {BULK_RATE}/s", "bot": f"CLOUDFLARE_RATE_LIMIT={limit}",
        "measured": "API calls from the search command to the card's chat.update showing Done",
        "ceiling": "BOT_BULK_SEARCH_LIMIT 10000 read and one more, BOT_BULK_JOB_CEILING 100000",
    }  # fmt: skip
    result = Result("bulkjob", setup)
    with stack(["--rate-limit", limit], CLOUDFLARE_RATE_LIMIT=limit) as s:
        messages = quarantined_messages(count, TAG)
        for message in messages:
            message["subject"] = f"{TAG} batch"
        for start in range(0, count, 2000):
            s.simulator.add_messages(messages[start : start + 2000])
        start = len(s.simulator.requests())
        asked = time.time()
        s.slack.command(f'search subject:"{TAG} batch"')
        s.slack.click(s.slack.private(OPERATOR, f"{TAG} batch"), "search_release_all")
        s.slack.submit(s.slack.view("search_bulk_modal"), {"reason": "campaign clean-up"})
        # The search read to BOT_BULK_SEARCH_LIMIT + 1 (11 pages), not to its end (100 pages).
        card = s.slack.wait(lambda: _card(s.slack, f"{TAG} batch"), "the card", 600)
        request_s = time.time() - asked
        s.simulator.faults(latency_ms=LATENCY_MS, bulk_rate=BULK_RATE)
        mark = len(s.simulator.requests())
        asking = s.simulator.requests()[start:mark]
        approved = time.time()
        s.slack.click(card, "approval_approve", user=APPROVER)
        wait_card(s.slack, card["ts"], "Done", timeout=600)
        updates = [c for c in s.standin.calls("chat.update") if c["args"].get("ts") == card["ts"]]
        done_at = min(_stamp(c["at"]) for c in updates if "Done" in text_of(c["args"]))
        requests = [r for r in s.simulator.requests()[mark:] if _stamp(r["at"]) <= done_at]
        job = _job(s.simulator.base_url)
        final = text_of(next(m for m in s.standin.messages() if m["ts"] == card["ts"]))
    completed = datetime.fromisoformat(job["completed_at"]).timestamp()
    result.figures.update(
        request_s=round(request_s, 1), seconds_to_done=round(done_at - approved, 1),
        job_seconds=round(completed - approved, 1), final_card_lag_s=round(done_at - completed, 2),
        api_calls=len(asking) + len(requests), asking_calls=len(asking),
        asking_calls_by_kind=_kinds(asking), running_calls=len(requests),
        running_calls_by_kind=_kinds(requests),
        job={k: job[k] for k in ("status", "total_messages_discovered",
                                 "messages_successful", "messages_failed")},
        final_card_text=final[:400],
    )  # fmt: skip
    say(f"[bulkjob] {result.figures}")
    result.targets += [
        Target("API calls, search -> Done", len(asking) + len(requests), CALLS_MAX, "calls"),
        Target("final card after the job completed", done_at - completed, LAG_MAX, "s"),
        Target("messages not released", count - job["messages_successful"], 0, "messages"),
    ]
    return result
