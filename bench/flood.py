"""Benchmark 4b, alert flood: N distinct SUSPICIOUS detections (each its own sender domain and
subject: no campaign groups them) queued in one channel, then one MALICIOUS-BEC. The bot polls
every second (ALERT_POLL_SECONDS=1), the Slack stand-in enforces 1 message/s per channel.

Measured: the BEC's search (the first successful search that started after it was added) ->
its accepted chat.postMessage, and add -> post; the posts the flood took (single alerts, digest
cards, digest redraws) and the time until its last one; every flood detection accounted for
exactly once (a single alert's card, or an entry of a digest's list in Redis). Run twice: with
the default ALERT_DIGEST_RATE (10/300) and with digests off, where the most-severe-first order
alone must keep the BEC from waiting behind the flood's N posts."""

from __future__ import annotations

import itertools
import json
import string
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import redis

from bench.common import Options, Result, Target, say, stack
from bot.services.alerts.scripts import OUTBOXES_KEY, entries_key
from tests.kit.flows import ALERTS, card_ids, searches
from tests.kit.slack import BOT_TOKEN

BEC_WITHIN_S = 5.0  # the BEC posted at most this long after the search that found it
NAMES = ["".join(p) for p in itertools.product(string.ascii_lowercase, repeat=3)]


def flood(count: int) -> list[dict[str, Any]]:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return [
        {
            "postfix_id": f"BenchFlood{i:06d}",
            "scanned_at": now,
            "subject": f"Your notice {NAMES[i]} is waiting",  # no digits: distinct subjects
            "from": f"notice@{NAMES[i]}-flood.example",
            "to": [f"u{i}@example.com"],
            "final_disposition": "SUSPICIOUS",
            "is_quarantined": True,
        }
        for i in range(count)
    ]


def bec() -> dict[str, Any]:
    return {
        "postfix_id": "BenchFloodBEC0001",
        "scanned_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "subject": "Wire before noon",
        "from": "ceo@lookalike-corp.example",
        "to": ["cfo@example.com"],
        "final_disposition": "MALICIOUS-BEC",
        "is_quarantined": True,
    }


def _stamp(at: str) -> float:
    return datetime.fromisoformat(at).timestamp()


def _scenario(count: int, digest_rate: str) -> dict[str, Any]:
    with stack(
        standin_args=("--bot-token", BOT_TOKEN, "--channel-rate", "1/1"),
        ALERT_CHANNEL=ALERTS, ALERT_POLL_SECONDS="1", ALERT_DIGEST_RATE=digest_rate,
    ) as s:  # fmt: skip
        start = searches(s.simulator)
        s.slack.wait(lambda: searches(s.simulator) >= start + 1, "the first poll", timeout=30)
        flood_ids = set(s.simulator.add_messages(flood(count)))
        flood_added = time.time()

        def accepted() -> list[dict[str, Any]]:
            return [c for c in s.standin.calls("chat.postMessage") if c["status"] == 200]

        s.slack.wait(accepted, "the flood's first post", timeout=60)  # queued, being posted
        added = time.time()
        [bec_id] = s.simulator.add_messages([bec()])

        def bec_post() -> dict[str, Any] | None:
            return next((c for c in accepted() if bec_id in card_ids([c["args"]])), None)

        post = s.slack.wait(bec_post, "the BEC's post", timeout=120)
        posted = _stamp(post["at"])
        found_by = min(
            _stamp(r["at"])
            for r in s.simulator.requests()
            if r["path"].endswith("/investigate") and r["status"] == 200
            and _stamp(r["at"]) >= added
        )  # fmt: skip
        before = [c for c in accepted() if added <= _stamp(c["at"]) < posted]
        figures: dict[str, Any] = {
            "bec_search_to_post_s": round(posted - found_by, 2),
            "bec_add_to_post_s": round(posted - added, 2),
            "posts_between_bec_add_and_post": len(before),
        }
        if digest_rate == "off":
            return figures  # the flood's N posts would take N x 1.1 s: not waited for
        store = redis.Redis.from_url(s.redis.url)
        s.slack.wait(lambda: store.scard(OUTBOXES_KEY) == 0, "the flood drained", 120)
        flood_posts = [c for c in accepted() if bec_id not in card_ids([c["args"]])]
        updates = [c for c in s.standin.calls("chat.update") if c["status"] == 200]
        singles = Counter(i for c in flood_posts for i in card_ids([c["args"]]))
        digested: Counter[str] = Counter()
        for key in store.scan_iter(entries_key("*")):
            for raw in store.lrange(key, 0, -1):
                digested[str(json.loads(raw)["id"])] += 1
        seen = singles + digested
        last = max(_stamp(c["at"]) for c in [*flood_posts, *updates])
        figures.update(
            flood_posts=len(flood_posts),
            flood_singles=len(singles),
            flood_digest_cards=len(flood_posts) - len(singles),
            flood_digest_redraws=len(updates),
            flood_digested=sum(digested.values()),
            flood_add_to_last_post_s=round(last - flood_added, 2),
            duplicates=sum(n - 1 for n in seen.values() if n > 1),
            missing=len(flood_ids - set(seen)),
        )
        return figures


def run(options: Options) -> Result:
    count = 200 if options.quick else 1000
    setup = {
        "flood": f"{count} SUSPICIOUS detections, each its own sender domain and subject",
        "then": "one MALICIOUS-BEC, added once the flood's first post was accepted",
        "standin_channel_rate": "1/1",
        "alert_poll_seconds": 1,
        "digest_rates": ["10/300 (the default)", "off"],
        "measured": "stand-in `at` of the BEC's accepted chat.postMessage - simulator `at` of "
        "the first successful search after the BEC was added",
    }
    say(f"[flood] {count} distinct SUSPICIOUS detections, then a MALICIOUS-BEC")
    result = Result("flood", setup)
    default = _scenario(count, "10/300")
    off = _scenario(count, "off")
    result.figures.update(digests=default, no_digests=off)
    say(
        f"[flood] digests on: BEC posted {default['bec_search_to_post_s']} s after its search "
        f"({default['bec_add_to_post_s']} s after it was added); the flood took "
        f"{default['flood_posts']} posts ({default['flood_singles']} single, "
        f"{default['flood_digest_cards']} digest card(s), {default['flood_digest_redraws']} "
        f"redraws), last at {default['flood_add_to_last_post_s']} s; duplicates "
        f"{default['duplicates']}, missing {default['missing']}. Digests off: BEC posted "
        f"{off['bec_search_to_post_s']} s after its search"
    )
    for name, figures in (("digests on", default), ("digests off", off)):
        result.targets.append(
            Target(
                f"BEC search -> post, {name}", figures["bec_search_to_post_s"], BEC_WITHIN_S, "s"
            )
        )
    result.targets.append(Target("duplicate detections", default["duplicates"], 0, "ids"))
    result.targets.append(Target("missing detections", default["missing"], 0, "ids"))
    return result
