"""Alerts: new detections posted to Slack exactly once, grouped by campaign.

The poller (one replica at a time, by the `alerts:lock` lease) searches detections from a
watermark, puts new ones in a durable per-channel outbox in Redis, and drains it through an
`AlertSender` (the Slack side, `bot.slack.alerts`), which paces posts per channel. The watermark
moves only once the outbox is empty, so a crash anywhere loses nothing; ids are de-duplicated in
Redis, so an overlap or a restart repeats nothing.

The modules:

    models.py     Campaign, PollReport, AlertRejected, the AlertSender protocol, the small types
                  the modules pass to each other and their JSON (no Redis: blocks read these)
    campaigns.py  campaign grouping as pure functions (no Redis, no I/O)
    scripts.py    every write as one Lua script behind a typed method; the Redis layout
    outbox.py     the reads: outboxes, campaign records, `outbox_depth` for the metrics
    drain.py      posting a channel's outbox through the sender, each post then its commit
    poller.py     AlertPoller: the lock, the cycle (search, queue, drain, watermark), run_forever

One cycle (`AlertPoller.poll_once`, while holding `alerts:lock`):

a. drain what a stopped or crashed poller left in the outbox;
b. search detections (`detections_only`, every page) from `watermark - overlap` to now, and
   keep those whose final disposition is in ALERT_DISPOSITIONS (the API filters one
   disposition at a time and has no MALICIOUS-BEC filter, so this is done here);
c. PhishGuard reports of the same window (when on);
d. each id not seen before goes into the outbox of its route's channel and is marked seen, in
   one Lua script: an id is queued exactly once, whatever overlaps, restarts or replicas;
e. drain the outbox, channel by channel (channels concurrently, each in order): new campaigns'
   roots first, then PhishGuard reports, then each campaign's follow-ups in the root's thread
   (at most `THREAD_BATCH` per post) and one root update with the new counter and recipients;
f. only when every outbox is empty, move the watermark to this cycle's end.

An API failure in (b)/(c) ends the cycle with the watermark where it was (the window is
searched again next time). A sender failure stops that channel's drain and leaves its items
queued, in order, for the next cycle; the watermark waits for them.

Campaign (`campaigns.py`): same channel, same sender address (From, else the envelope sender,
lower-cased) and same subject (whitespace collapsed), the message's scan time within
`campaign_window_seconds` of the campaign's first message. A campaign's root is posted and its
ts stored before anything else is done with it.

Exactly once, step by step:

- Every post is followed by one Lua script that removes the posted items from the outbox and
  records what the post created (the root ts, the new counter). A crash, a Redis failure or a
  lost lock between Slack's success and that script makes the next drain post those items
  again: the residual duplicate window is that one Redis round trip (plus a sender call
  that reached Slack but raised, e.g. a timeout on the answer). Nothing is ever lost.
- Every script first checks that this poller still holds the lock, and no sender call starts
  once the lock is known to be lost, so a poller whose lease lapsed cannot commit after its
  successor started (at most the one call in flight can be repeated).
- A stopped poller (`run_forever` told to stop, or cancelled mid-call) never releases the lock
  while a sender call may be in flight: the lease lapses instead, and the successor starts
  after it.

The Redis layout (all under `alerts:`) is described in `scripts.py`, next to the scripts that
write it.
"""

from bot.services.alerts.campaigns import campaign_key
from bot.services.alerts.drain import THREAD_BATCH
from bot.services.alerts.models import AlertRejected, AlertSender, Campaign, PollReport
from bot.services.alerts.outbox import outbox_depth
from bot.services.alerts.poller import AlertPoller
from bot.services.alerts.scripts import LOCK_KEY, OUTBOXES_KEY, REJECTED_KEY, STATE_KEY

__all__ = [
    "LOCK_KEY",
    "OUTBOXES_KEY",
    "REJECTED_KEY",
    "STATE_KEY",
    "THREAD_BATCH",
    "AlertPoller",
    "AlertRejected",
    "AlertSender",
    "Campaign",
    "PollReport",
    "campaign_key",
    "outbox_depth",
]
