"""Benchmark 3, bulk release: N quarantined messages matching one search, "Release all
matching" requested from the search results by an operator and approved by an approver (as in
tests/test_e2e_approvals.py), simulator latency 200 ms, and a 429 window (3 POSTs answered 429
with Retry-After 2 s) met by the first release POST.

Two paths side by side, each on its own stack (simulator, stand-in, Redis, bot):

- `search`: the bot as deployed. The request keeps its search frozen and is re-checked with it
  (bot.services.approvals.eligible). The simulator enforces Cloudflare's limit (1,200 requests
  per 5 minutes, 429 past it) and the bot keeps its own limiter at the same.
- `per_id`: the old re-check, one GET per id (BOT_RECHECK_BY_SEARCH=false). At Cloudflare's
  limit it needs at least 37 minutes for 10,000 ids, too long for `make bench`: it runs with
  both limiters out of the way, and the floor the limit would set is computed from the calls
  it made.

Measured for each: approve click -> the approval card's chat.update showing Done (stand-in
`at`); the API calls in between (GET /__simulator/requests), by kind; every id released exactly
once (simulator calls); the rate of chat.update calls on the approval card; the bot's peak RSS
(VmHWM, the request's creation included)."""

from __future__ import annotations

import itertools
import json
import math
import re
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from bench.common import Options, Result, Target, hwm_mb, rss_mb, say, stack
from bench.profile import when_asked
from bot.services.approvals import CHUNK_SIZE
from tests.kit.flows import release_all_card, released_ids, wait_card
from tests.kit.slack import APPROVER, text_of

LATENCY_MS = 200
RECHECK_CONCURRENCY = 10  # Executor's default: the old path fetches each id again, 10 at a time
WINDOW = {"status": 429, "count": 3, "method": "POST", "retry_after": 2}
TAG = "BenchBulk"  # the messages' subject is "BenchBulk batch"
CLOUDFLARE_LIMIT = (1200, 300)  # Cloudflare's documented API limit: requests per seconds
PER_PAGE = 1000  # the re-check's search pages
# The search path's targets (issue 15): from the approving click to the final card.
CALLS_MAX, SECONDS_MAX, PEAK_MB_MAX = 40, 60.0, 100.0
ONE_MESSAGE = re.compile(r"/investigate/[^/]+$")


def _stamp(at: str) -> float:
    return datetime.fromisoformat(at).timestamp()


def _status_line(call: dict[str, Any]) -> str:
    """The first line of the update's text that says where the request is."""
    text = text_of(call["args"])
    words = ("Done", "chunk", "Approved", "%")
    lines = [x for x in text.splitlines() if any(w in x for w in words)]
    return (lines[0] if lines else text.splitlines()[0] if text else "")[:120]


def minimum_seconds(count: int, path: str) -> float:
    """Chunks run one after another. Per id: each chunk re-checks its ids RECHECK_CONCURRENCY at
    a time (one round trip of LATENCY_MS each), then one POST. Search: one round trip per page
    of the search, then one POST per chunk. The 429 window adds count x retry_after."""
    latency = LATENCY_MS / 1000
    chunks = math.ceil(count / CHUNK_SIZE)
    window = WINDOW["count"] * WINDOW["retry_after"]
    if path == "search":
        return (math.ceil(count / PER_PAGE) + chunks) * latency + window
    last = count - (chunks - 1) * CHUNK_SIZE
    per_chunk = math.ceil(CHUNK_SIZE / RECHECK_CONCURRENCY) * latency + latency
    last_chunk = math.ceil(last / RECHECK_CONCURRENCY) * latency + latency
    return (chunks - 1) * per_chunk + last_chunk + window


def rate_limited_seconds(calls: int) -> float:
    """The floor Cloudflare's rate limit alone sets for `calls` requests; the first window's
    worth goes at once."""
    allowed, per = CLOUDFLARE_LIMIT
    return max(0, calls - allowed) / allowed * per


def max_per_window(stamps: list[float], window: float = 1.0) -> int:
    ordered = sorted(stamps)
    best, start = 0, 0
    for end, stamp in enumerate(ordered):
        while stamp - ordered[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


def _kinds(requests: list[dict[str, Any]]) -> dict[str, int]:
    """The API calls by kind (a 429 answer counts as a call, and once more under "429")."""
    found: dict[str, int] = {}

    def count(kind: str) -> None:
        found[kind] = found.get(kind, 0) + 1

    for r in requests:
        path, method = r["path"], r["method"]
        if method == "GET" and path.endswith("/investigate"):
            count("search pages")
        elif method == "GET" and ONE_MESSAGE.search(path):
            count("single GETs")
        elif method == "POST" and path.endswith("/release"):
            count("release POSTs")
        else:
            count(f"{method} {path.rsplit('/', 1)[-1]}")
        if r["status"] == 429:
            count("429 answers")
    return found


def _one(path: str, count: int, options: Options) -> dict[str, Any]:
    """One path on its own stack: the figures of `path` ("search" or "per_id")."""
    if path == "search":
        limit = "/".join(map(str, CLOUDFLARE_LIMIT))
        args, env = ["--rate-limit", limit], {"CLOUDFLARE_RATE_LIMIT": limit}
    else:
        args, env = [], {"CLOUDFLARE_RATE_LIMIT": "100000/1", "BOT_RECHECK_BY_SEARCH": "false"}
    figures: dict[str, Any] = {}
    with stack(args, **env) as s:
        card, ids = release_all_card(s.slack, s.simulator, count, TAG)
        # The first release POST meets the 429 window: the search path's chunks follow each
        # other too quickly to inject it after the first one.
        s.simulator.faults(latency_ms=LATENCY_MS, fail_next=[WINDOW])
        mark = len(s.simulator.requests())
        approved = time.time()
        profiled = path == "search"
        with when_asked(options if profiled else Options(), s.bot.process.pid, "bulk", figures):
            s.slack.click(card, "approval_approve", user=APPROVER)
            limit_s = max(120, minimum_seconds(count, path) * 4)
            wait_card(s.slack, card["ts"], "Done", timeout=limit_s)
        updates = [
            c for c in s.standin.calls("chat.update") if c["args"].get("ts") == card["ts"]
        ]  # fmt: skip
        released = released_ids(s.simulator)
        requests = s.simulator.requests()[mark:]
        final = text_of(next(m for m in s.standin.messages() if m["ts"] == card["ts"]))
        rss, hwm = rss_mb(s.bot.process.pid), hwm_mb(s.bot.process.pid)
    done_at = min(
        (_stamp(c["at"]) for c in updates
         if c["status"] == 200 and "Done" in json.dumps(c["args"])),
        default=float("nan"),
    )  # fmt: skip
    calls = [r for r in requests if _stamp(r["at"]) <= done_at]
    after = sorted(_stamp(c["at"]) for c in updates if c["status"] == 200)
    after = [t for t in after if t >= approved]
    gaps = [b - a for a, b in itertools.pairwise(after)]
    # Progress is drawn at most once a second; the final card always (it may follow sooner).
    progress = [t for t in after if t < done_at]
    figures.update(
        seconds_to_done=round(done_at - approved, 2),
        minimum_s=round(minimum_seconds(count, path), 2),
        api_calls=len(calls),
        api_calls_by_kind=_kinds(calls),
        floor_at_cloudflare_rate_limit_s=round(rate_limited_seconds(len(calls)), 1),
        released=len(released),
        duplicates=len(released) - len(set(released)),
        missing=len(set(ids) - set(released)),
        card_updates=len(after),
        card_updates_max_in_1s=max_per_window(after),
        progress_updates_max_in_1s=max_per_window(progress),
        card_updates_at_s=[
            (round(_stamp(c["at"]) - approved, 2), _status_line(c))
            for c in updates
            if c["status"] == 200 and _stamp(c["at"]) >= approved
        ],
        card_update_min_gap_s=round(min(gaps), 3) if gaps else None,
        final_card_text=final[:300],
        bot_rss_after_mb=round(rss, 1),
        bot_peak_rss_mb=round(hwm, 1),
    )
    say(
        f"[bulk] {path}: Done {figures['seconds_to_done']} s after approval (minimum "
        f"{figures['minimum_s']} s); {len(calls)} API calls {figures['api_calls_by_kind']}; "
        f"released {len(released)}, duplicates {figures['duplicates']}, missing "
        f"{figures['missing']}; peak RSS {figures['bot_peak_rss_mb']} MB"
    )
    return figures


def run(options: Options) -> Result:
    count = 2000 if options.quick else 10000
    setup = {
        "ids": count,
        "chunk_size": CHUNK_SIZE,
        "simulator_latency_ms": LATENCY_MS,
        "fault": f"from the approval on: fail_next {WINDOW} (the first release POST meets it)",
        "flow": "search -> search_release_all -> bulk modal -> approval card -> approve",
        "measured": "approve click -> stand-in `at` of the card's chat.update showing Done",
        "search": "re-checked by its frozen search (1,000 a page); simulator --rate-limit "
        "1200/300 (429 past it), the bot's limiter at its default 1200/300",
        "per_id": f"re-checked by one GET per id ({RECHECK_CONCURRENCY} at a time; "
        "BOT_RECHECK_BY_SEARCH=false); no simulator limit, CLOUDFLARE_RATE_LIMIT=100000/1 (at "
        "the real limit it would need over half an hour: its floor there is computed)",
    }
    say(f"[bulk] release of {count} ids from a search, side by side: search vs per-id re-check")
    result = Result("bulk", setup)
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {path: pool.submit(_one, path, count, options) for path in ("search", "per_id")}
        paths = {path: future.result() for path, future in futures.items()}
    search, per_id = paths["search"], paths["per_id"]
    result.figures.update(search=search, per_id=per_id)
    options.shared["bot_rss_after_bulk_mb"] = search["bot_rss_after_mb"]
    options.shared["bot_hwm_after_bulk_mb"] = search["bot_peak_rss_mb"]
    say(
        f"[bulk] per id: {per_id['api_calls']} calls, {per_id['seconds_to_done']} s with the "
        f"limiters out of the way, at least {per_id['floor_at_cloudflare_rate_limit_s']} s at "
        f"Cloudflare's 1,200 requests / 5 min; search: {search['api_calls']} calls, "
        f"{search['seconds_to_done']} s at that limit"
    )
    for name, figures in paths.items():
        result.targets += [
            Target(f"{name}: ids released twice", figures["duplicates"], 0, "ids"),
            Target(f"{name}: ids not released", figures["missing"], 0, "ids"),
            Target(
                f"{name}: progress updates in any 1 s",
                figures["progress_updates_max_in_1s"], 1, "updates",
            ),
        ]  # fmt: skip
    result.targets += [
        Target("search: API calls, approve -> Done", search["api_calls"], CALLS_MAX, "calls"),
        Target("search: approve -> Done", search["seconds_to_done"], SECONDS_MAX, "s"),
        Target("search: peak RSS", search["bot_peak_rss_mb"], PEAK_MB_MAX, "MB"),
        Target(
            "per_id: wall time / minimum",
            per_id["seconds_to_done"] / per_id["minimum_s"], 1.5, "x",
        ),
    ]  # fmt: skip
    return result
