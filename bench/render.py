"""Benchmark 6, render cost: `message_card` (full and compact) and `search_results` for a 50-hit
page, built and serialised to the JSON-ready dicts that go to Slack, many times in-process."""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Callable
from typing import Any

from bench.common import Options, Result, Target, say, summary_ms
from bench.profile import when_asked
from blocks import message_card, search_results
from bot.cloudflare.models import ActionEntry
from tests.kit.factories import ACTION_LOG, make_detections, make_message

TARGET_MS = 2.0


def _full_inputs() -> tuple[Any, Any, list[ActionEntry], list[str]]:
    """A card near its caps: 10 reasons, 10 categories, 10 links, 10 attachments, 5 actions."""
    message = make_message(
        detection_reasons=[
            f"Reason {n}: pbx-notify.test imitates a sign-in page" for n in range(12)
        ],
        threat_categories=[f"Category{n}" for n in range(12)],
        to=[f"user{n}@example.com" for n in range(6)],
        to_name=[f"User {n}" for n in range(6)],
    )
    detections = make_detections(
        links=[
            {"href": f"https://evil{n}.example/login?session={n}", "text": f"Sign in {n}"}
            for n in range(12)
        ],
        attachments=[
            {"size": 1000 * n, "filename": f"invoice{n}.pdf.exe", "content_type": "application/x"}
            for n in range(12)
        ],
    )
    actions = ACTION_LOG * 6
    outcomes = [f"Released by <@U0OPERATOR{n}> at 06:0{n}" for n in range(3)]
    return message, detections, actions, outcomes


def _time(render: Callable[[], list[Any]], repetitions: int) -> list[float]:
    for _ in range(50):  # warm-up
        render()
    samples: list[float] = []
    gc.collect()
    for _ in range(repetitions):
        started = time.perf_counter()
        render()
        samples.append(time.perf_counter() - started)
    return samples


def run(options: Options) -> Result:
    quick = options.quick
    repetitions = 500 if quick else 3000
    message, detections, actions, outcomes = _full_inputs()
    hits = [
        make_message(id=f"id-{n}", postfix_id=f"P{n:015d}", subject=f"Invoice {n}")
        for n in range(50)
    ]

    def full() -> list[Any]:
        blocks = message_card(message, detections, actions, outcomes=outcomes)
        return [b.to_dict() for b in blocks]

    def compact() -> list[Any]:
        blocks = message_card(message, detections, actions, compact=True)
        return [b.to_dict() for b in blocks]

    def search() -> list[Any]:
        blocks = search_results(
            hits, description="from:pbx-notify.test", more_key="k" * 40, bulk_key="b" * 40
        )
        return [b.to_dict() for b in blocks]

    setup = {
        "what": "build blocks and serialise with to_dict(), in-process, after 50 warm-up runs",
        "repetitions": repetitions,
        "full_card": "12 reasons, 12 categories, 12 links, 12 attachments, 6 actions, 3 outcomes",
        "search_page": "search_results of 50 hits (page shows 10) with More/Release all/Move all",
    }
    say(f"[render] {repetitions} repetitions per card, build + to_dict()")
    result = Result("render", setup)
    for name, render in (("full_card", full), ("compact_card", compact), ("search_50", search)):
        with when_asked(
            options, os.getpid(), f"render-{name}", result.figures.setdefault(name, {})
        ):
            samples = _time(render, repetitions)
        stats = result.figures[name] | summary_ms(samples)
        stats["blocks"] = len(render())
        result.figures[name] = stats
        say(f"[render] {name}: p50 {stats['p50_ms']:.3f} ms, p99 {stats['p99_ms']:.3f} ms")
        result.targets.append(Target(f"{name} p50", float(stats["p50_ms"]), TARGET_MS, "ms", True))
    # Where a card's time goes: our renderer alone, without slack-sdk's to_dict() (which
    # validates every nested object on the way, the larger share).
    build = summary_ms(_time(lambda: message_card(message, detections, actions), repetitions))
    result.figures["full_card_build_only"] = build
    say(f"[render] full_card build only (no to_dict): p50 {build['p50_ms']:.3f} ms")
    return result
