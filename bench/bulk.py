"""Benchmark 3, bulk release: N quarantined messages matching one search, "Release all
matching" requested from the search results by an operator and approved by an approver (as in
tests/test_e2e_approvals.py), simulator latency 200 ms, and a 429 window (3 POSTs answered 429
with Retry-After 2 s) injected once the first chunk is released. Measured: approve click -> the
approval card's chat.update showing Done (stand-in `at`), every id released exactly once
(simulator calls), and the rate of chat.update calls on the approval card."""

from __future__ import annotations

import itertools
import json
import math
import time
from datetime import datetime
from typing import Any

from bench.common import Options, Result, Target, hwm_mb, rss_mb, say, stack
from bench.profile import when_asked
from bot.services.approvals import CHUNK_SIZE
from tests.kit.flows import release_all_card, released_ids, wait_card
from tests.kit.slack import APPROVER, text_of

LATENCY_MS = 200
RECHECK_CONCURRENCY = 10  # Executor's default: each id is fetched again just before acting
WINDOW = {"status": 429, "count": 3, "method": "POST", "retry_after": 2}
TAG = "BenchBulk"  # the messages' subject is "BenchBulk batch"


def _stamp(call: dict[str, Any]) -> float:
    return datetime.fromisoformat(call["at"]).timestamp()


def _status_line(call: dict[str, Any]) -> str:
    """The first line of the update's text that says where the request is."""
    text = text_of(call["args"])
    words = ("Done", "chunk", "Approved", "%")
    lines = [x for x in text.splitlines() if any(w in x for w in words)]
    return (lines[0] if lines else text.splitlines()[0] if text else "")[:120]


def minimum_seconds(count: int) -> float:
    """Chunks run one after another; each re-checks its ids RECHECK_CONCURRENCY at a time (one
    round trip of LATENCY_MS each), then one POST; the 429 window adds count x retry_after."""
    latency = LATENCY_MS / 1000
    chunks = math.ceil(count / CHUNK_SIZE)
    per_chunk = math.ceil(CHUNK_SIZE / RECHECK_CONCURRENCY) * latency + latency
    last = count - (chunks - 1) * CHUNK_SIZE
    last_chunk = math.ceil(last / RECHECK_CONCURRENCY) * latency + latency
    return (chunks - 1) * per_chunk + last_chunk + WINDOW["count"] * WINDOW["retry_after"]


CLOUDFLARE_LIMIT = (1200, 300)  # Cloudflare's documented API limit: requests per seconds
EXECUTOR_SHARE = 0.5  # CLOUDFLARE_EXECUTOR_SHARE's default: the executor's part of that limit


def rate_limited_seconds(count: int) -> float:
    """The floor Cloudflare's rate limit alone sets, at the executor's share of it: every id
    re-checked (one GET each), one POST per chunk and the 429'd POSTs; the first window's
    worth goes at once."""
    requests = count + math.ceil(count / CHUNK_SIZE) + WINDOW["count"]
    allowed, per = CLOUDFLARE_LIMIT
    allowed = int(allowed * EXECUTOR_SHARE)
    return max(0, requests - allowed) / allowed * per


def max_per_window(stamps: list[float], window: float = 1.0) -> int:
    ordered = sorted(stamps)
    best, start = 0, 0
    for end, stamp in enumerate(ordered):
        while stamp - ordered[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


def run(options: Options) -> Result:
    quick, shared = options.quick, options.shared
    count = 2000 if quick else 10000
    minimum = minimum_seconds(count)
    setup = {
        "ids": count,
        "chunk_size": CHUNK_SIZE,
        "recheck_concurrency": RECHECK_CONCURRENCY,
        "simulator_latency_ms": LATENCY_MS,
        "cloudflare_rate_limit": "100000/1 (raised: the bot's own limiter out of the way)",
        "fault": f"after the first released chunk: fail_next {WINDOW}",
        "flow": "search -> search_release_all -> bulk modal -> approval card -> approve",
        "measured": "approve click -> stand-in `at` of the card's chat.update showing Done",
    }
    say(f"[bulk] release of {count} ids, latency {LATENCY_MS} ms, 429 window after chunk 1")
    result = Result("bulk", setup)
    with stack(CLOUDFLARE_RATE_LIMIT="100000/1") as s:
        card, ids = release_all_card(s.slack, s.simulator, count, TAG)
        s.simulator.faults(latency_ms=LATENCY_MS)
        approved = time.time()
        with when_asked(options, s.bot.process.pid, "bulk", result.figures):
            s.slack.click(card, "approval_approve", user=APPROVER)
            s.slack.wait(lambda: released_ids(s.simulator), "the first released chunk", timeout=120)
            s.simulator.faults(fail_next=[WINDOW])
            wait_card(s.slack, card["ts"], "Done", timeout=max(120, minimum * 4))
        updates = [
            c for c in s.standin.calls("chat.update") if c["args"].get("ts") == card["ts"]
        ]  # fmt: skip
        released = released_ids(s.simulator)
        statuses = [c["status"] for c in s.simulator.calls() if c["path"].endswith("/release")]
        final = text_of(next(m for m in s.standin.messages() if m["ts"] == card["ts"]))
        shared["bot_rss_after_bulk_mb"] = rss_mb(s.bot.process.pid)
        shared["bot_hwm_after_bulk_mb"] = hwm_mb(s.bot.process.pid)
    done_at = min(
        (_stamp(c) for c in updates if c["status"] == 200 and "Done" in json.dumps(c["args"])),
        default=float("nan"),
    )
    elapsed = done_at - approved
    stamps = [_stamp(c) for c in updates if c["status"] == 200]
    after = [t for t in stamps if t >= approved]
    gaps = [b - a for a, b in itertools.pairwise(after)]
    duplicates = len(released) - len(set(released))
    missing = len(set(ids) - set(released))
    peak_rate = max_per_window(after)
    result.figures.update(
        seconds_to_done=round(elapsed, 2),
        minimum_s=round(minimum, 2),
        minimum_at_cloudflare_rate_limit_s=round(rate_limited_seconds(count), 1),
        ratio_to_minimum=round(elapsed / minimum, 3),
        released=len(released),
        duplicates=duplicates,
        missing=missing,
        release_posts_by_status={str(k): statuses.count(k) for k in sorted(set(statuses))},
        card_updates=len(after),
        card_updates_max_in_1s=peak_rate,
        card_updates_at_s=[
            (round(_stamp(c) - approved, 2), _status_line(c))
            for c in updates
            if c["status"] == 200 and _stamp(c) >= approved
        ],
        card_update_min_gap_s=round(min(gaps), 3) if gaps else None,
        final_card_text=final[:300],
        bot_rss_after_mb=round(shared["bot_rss_after_bulk_mb"], 1),
        bot_peak_rss_mb=round(shared["bot_hwm_after_bulk_mb"], 1),
    )
    f = result.figures
    say(
        f"[bulk] Done {f['seconds_to_done']} s after approval (minimum {f['minimum_s']} s, "
        f"x{f['ratio_to_minimum']}); released {len(released)}, duplicates {duplicates}, "
        f"missing {missing}; release POSTs {f['release_posts_by_status']}; "
        f"{len(after)} card updates, at most {peak_rate} in any 1 s"
    )
    say(
        f"[bulk] minimum by chunk size and re-check concurrency {f['minimum_s']} s (the rate "
        "limiter raised); at Cloudflare's 1200 requests / 5 min, of which the executor takes "
        "half, the same release needs at least "
        f"{f['minimum_at_cloudflare_rate_limit_s']} s (one re-check GET per id)"
    )
    result.targets.append(Target("wall time / minimum", elapsed / minimum, 1.5, "x"))
    result.targets.append(Target("ids released twice", duplicates, 0, "ids"))
    result.targets.append(Target("ids not released", missing, 0, "ids"))
    result.targets.append(Target("card updates in any 1 s", peak_rate, 1, "updates"))
    return result
