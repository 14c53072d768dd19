"""Benchmark 4, alert burst: a bot with alerts on (ALERT_POLL_SECONDS=1), a Slack stand-in that
enforces 1 message/s per channel, and N new detections in C campaigns added to the simulator in
one go. Measured: time from adding them to the last chat.postMessage the stand-in accepted, the
number of posts and of 429s, and duplicates (every detection's investigate id, read from the
Trace button of the cards in the accepted root and thread posts, must appear exactly once)."""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from bench.common import Options, Result, Target, say, stack
from tests.kit.flows import ALERTS, card_ids, searches
from tests.kit.slack import BOT_TOKEN, text_of

PER_POST_S = 1.1  # the pacing the bot keeps per channel (Slack: 1 message/s, with margin)


def detections(count: int, campaigns: int) -> list[dict[str, Any]]:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return [
        {
            "postfix_id": f"BenchAlrt{i:06d}",
            "scanned_at": now,
            "subject": f"Bench wave {i % campaigns}",
            # One sender domain per campaign: "Bench wave 3" and "Bench wave 4" are one
            # subject to the grouping (a word with a digit counts as `#`).
            "from": f"wave@phish{i % campaigns}.example",
            "to": [f"u{i}@example.com"],
            "final_disposition": "MALICIOUS",
            "is_quarantined": True,
        }
        for i in range(count)
    ]


def _stamp(call: dict[str, Any]) -> float:
    return datetime.fromisoformat(call["at"]).timestamp()


def run(options: Options) -> Result:
    quick = options.quick
    count, campaigns = (200, 10) if quick else (1000, 50)
    setup = {
        "detections": count,
        "campaigns": campaigns,
        "standin_channel_rate": "1/1",
        "alert_poll_seconds": 1,
        "added": "in one simulator call, scanned_at now, final_disposition MALICIOUS",
        "measured": "add time -> stand-in `at` of the last accepted chat.postMessage",
    }
    say(f"[alerts] {count} detections in {campaigns} campaigns, stand-in at 1 message/s/channel")
    result = Result("alerts", setup)
    timeout = 60 + count * PER_POST_S * 1.5
    with stack(
        standin_args=("--bot-token", BOT_TOKEN, "--channel-rate", "1/1"),
        ALERT_CHANNEL=ALERTS, ALERT_POLL_SECONDS="1",
    ) as s:  # fmt: skip
        start = searches(s.simulator)
        s.slack.wait(lambda: searches(s.simulator) >= start + 1, "the first poll", timeout=30)
        added = time.time()
        ids = set(s.simulator.add_messages(detections(count, campaigns)))

        def seen() -> Counter[str]:
            # From the accepted posts, not the channel's current state: a campaign root is
            # re-rendered by chat.update (its counter) and then shows a later detection.
            posted = s.standin.calls("chat.postMessage")
            return Counter(card_ids([c["args"] for c in posted if c["status"] == 200]))

        s.slack.wait(lambda: ids <= set(seen()), f"all {count} detections posted", timeout)
        # Let a few more polls run: a repeat would show up now.
        start = searches(s.simulator)
        s.slack.wait(lambda: searches(s.simulator) >= start + 3, "3 more polls", timeout=30)
        time.sleep(PER_POST_S * 2)
        counts = seen()
        posts = s.standin.calls("chat.postMessage")
        updates = s.standin.calls("chat.update")
        messages = s.standin.messages(ALERTS)
    accepted = [c for c in posts if c["status"] == 200]
    rejected = [c for c in posts if c["status"] == 429]
    last = max(_stamp(c) for c in accepted)
    elapsed = last - added
    duplicates = sum(n - 1 for n in counts.values() if n > 1)
    missing = len(ids - set(counts))
    roots = [m for m in messages if not m.get("thread_ts") and not m["ephemeral"]]
    # The first post may go at once; each later one waits PER_POST_S after the one before.
    minimum = (len(accepted) - 1) * PER_POST_S
    result.figures.update(
        seconds_to_last_post=round(elapsed, 2),
        minimum_by_pacing_s=round(minimum, 2),
        ratio_to_minimum=round(elapsed / minimum, 3),
        posts=len(accepted),
        roots=len(roots),
        other_roots=[text_of(m)[:120] for m in roots if "Bench wave" not in text_of(m)],
        posts_429=len(rejected),
        updates=len([c for c in updates if c["status"] == 200]),
        updates_429=len([c for c in updates if c["status"] == 429]),
        detections_seen=len(counts),
        duplicates=duplicates,
        missing=missing,
        cards_per_post=round(sum(counts.values()) / max(1, len(accepted)), 2),
    )
    f = result.figures
    say(
        f"[alerts] last post {f['seconds_to_last_post']} s after adding (minimum the pacing "
        f"allows: ({f['posts']} posts - 1) x {PER_POST_S} s = {f['minimum_by_pacing_s']} s); "
        f"{f['roots']} roots, 429s {f['posts_429']} (+{f['updates_429']} on updates), "
        f"duplicates {duplicates}, missing {missing}"
    )
    result.targets.append(Target("chat.postMessage 429s (no 429 loop)", len(rejected), 2, "calls"))
    result.targets.append(Target("duplicate detections", duplicates, 0, "ids"))
    result.targets.append(Target("missing detections", missing, 0, "ids"))
    return result
