"""Benchmark 7, raw EML memory: 4 people ask for the raw of one 25 MB message at once
(`/email raw <id>`, back to back); the bot streams each answer to a temporary file and uploads
it from there. Measured: the bot's peak RSS (VmHWM) over the four, against its RSS before, and
the time from the first command to the last upload shared in Slack."""

from __future__ import annotations

import time

from bench.common import Options, Result, Target, hwm_mb, rss_mb, say, stack
from tests.kit.factories import add
from tests.kit.slack import Slack

SIZE_MB = 25
VIEWS = 4
PEAK_MB = 200.0
LINE = "".join(chr(ord("A") + (i * 7) % 26) for i in range(76)) + "\r\n"  # base64-like lines


def _eml(size: int) -> str:
    head = "From: sender@example.net\r\nSubject: Large attachment\r\nMIME-Version: 1.0\r\n\r\n"
    return head + LINE * ((size - len(head)) // len(LINE))


def _shared(slack: Slack, count: int, timeout: float = 120) -> tuple[float, list[int]]:
    """When (to the 0.1 s poll) the `count`-th .eml was shared in a thread, and the sizes of
    the files shared (the stand-in's messages carry names and sizes, not content)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sizes = [
            int(f["size"]) for m in slack.standin.messages() for f in m.get("files") or []
            if str(f.get("name", "")).endswith(".eml")
        ]  # fmt: skip
        if len(sizes) >= count:
            return time.time(), sizes
        time.sleep(0.1)
    raise TimeoutError(f"{count} raw uploads not shared within {timeout}s:\n{slack.bot.log()}")


def run(options: Options) -> Result:
    setup = {
        "message": f"one message whose raw EML is {SIZE_MB} MB (76-character lines, CRLF)",
        "views": f"{VIEWS} `/email raw <id>` commands sent back to back (concurrent in the bot)",
        "measured": "the bot's VmHWM after the last upload, its VmRSS before the first command",
    }
    say(f"[raw] {VIEWS} concurrent raw views of a {SIZE_MB} MB message")
    result = Result("raw", setup)
    eml = _eml(SIZE_MB * 1024**2)
    size = len(eml.encode())
    with stack() as s:
        message_id = add(s.simulator, subject="Large attachment", _raw=eml)
        del eml
        s.slack.command(f"lookup {message_id}")  # warms up connections and caches
        time.sleep(1)
        before = rss_mb(s.bot.process.pid)
        sent = time.time()
        for _ in range(VIEWS):
            s.slack.command(f"raw {message_id}")
        last, sizes = _shared(s.slack, VIEWS)
        peak = hwm_mb(s.bot.process.pid)
        after = rss_mb(s.bot.process.pid)
    result.figures.update(
        rss_before_mb=round(before, 1), peak_rss_mb=round(peak, 1), rss_after_mb=round(after, 1),
        first_command_to_last_upload_s=round(last - sent, 2),
    )  # fmt: skip
    say(f"[raw] RSS before {before:.1f} MB, peak {peak:.1f} MB, after {after:.1f} MB; "
        f"{last - sent:.1f} s to the last upload")  # fmt: skip
    result.figures["uploaded_sizes"] = sizes
    if sizes != [size] * VIEWS:
        result.notes.append(f"uploads of {sizes} bytes, not {VIEWS} x {size}")
    result.targets.append(Target("peak RSS", peak, PEAK_MB, "MB", strict=True))
    result.targets.append(Target("uploads not whole", float(sizes != [size] * VIEWS), 0, ""))
    return result
