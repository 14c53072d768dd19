"""Alerts: new detections posted to Slack exactly once, the most severe first, grouped by
campaign, a flood of lesser ones gathered into digests.

The poller (one replica at a time, by the `{alerts}:lock` lease) searches detections from a
watermark, puts new ones in a durable per-channel outbox in Redis (ordered by severity, then
arrival), and drains it through an `AlertSender` (the Slack side, `bot.slack.alerts`), which
paces posts per channel. The watermark moves only once the outbox is empty, so a crash
anywhere loses nothing; ids are de-duplicated in Redis, so an overlap or a restart repeats
nothing; every post is marked in flight until committed, so a post Slack took just before a
crash is found in the channel instead of posted again.

The modules:

    models.py     Campaign, Digest, PollReport, the AlertSender protocol and its verdicts, the
                  small types the modules pass to each other and their JSON (no Redis: blocks
                  read these)
    campaigns.py  campaign grouping as pure functions (no Redis, no I/O)
    evidence.py   link domains and attachment hashes from detections, for grouping
    lua.py        the Lua source of every write
    scripts.py    every write as one Lua script behind a typed method; the Redis layout
    outbox.py     the reads: outboxes, campaign records, digests, `outbox_depth` for the metrics
    sending.py    one Slack call at a time: the Guard, and posts marked in flight
    digests.py    the digest rate, digest cards, and DigestService (a digest's list)
    drain.py      posting a channel's outbox, most severe first, each post then its commit
    poller.py     AlertPoller: the lock, the cycle (search, queue, drain, watermark), run_forever

One cycle (`AlertPoller.poll_once`, while holding `{alerts}:lock`):

a. search detections (`detections_only`, every page) from `watermark - overlap` to now, and
   keep those whose final disposition is in ALERT_DISPOSITIONS (the API filters one
   disposition at a time and has no MALICIOUS-BEC filter, so this is done here);
b. PhishGuard reports of the same window (when on);
c. the detections of up to `evidence_lookups` new messages (for grouping), then each id not
   seen before goes into the outbox of its route's channel, ranked by severity, and is marked
   seen, in one Lua script: an id is queued exactly once, whatever overlaps, restarts or
   replicas;
d. drain the outboxes, channel by channel (channels concurrently, each in order): first a post
   a stopped poller left in flight, then the most severe alerts queued (MALICIOUS-BEC, then
   MALICIOUS, then the rest, whatever was queued before), each severity as new campaigns'
   roots (lesser ones past the digest rate into the channel's digest), then PhishGuard
   reports, then each campaign's follow-ups in the root's thread (at most `THREAD_BATCH` per
   post); when the channel's drain ends, each grown root is redrawn once with its new counter
   and recipients (during a long backlog, at most every ROOT_UPDATE_SECONDS). A drain starts
   posts for at most `drain_seconds` (the poll interval); what is left waits for the next
   cycle, whose search comes first, so nothing newly found waits behind a backlog of lesser
   alerts;
e. only when every outbox is empty, move the watermark to this cycle's end.

An API failure in (a)/(b) drains what is queued and ends the cycle with the watermark where it
was (the window is searched again next time). A sender failure stops that channel's drain and
leaves its items queued, in order, for the next cycle; the watermark waits for them.

Campaigns (`campaigns.py`): same channel and disposition, and the same fingerprint, sender
domain and normalised subject, link domain or attachment hash, within
`campaign_window_seconds` of the campaign's first message. A campaign's root is posted and its
ts stored before anything else is done with it.

Exactly once, step by step:

- Every post is marked in flight (`alerts:inflight:<channel>`, with what its commit needs)
  just before the Slack call, and carries the alert's id in its Slack message metadata. The
  Lua script that commits the post removes the posted items from the outbox, records what the
  post created (the root ts, the new counter) and removes the mark, in one step.
- A mark found by the next drain of the channel means the post may be in Slack with nothing
  recorded (a crash, a Redis failure or a lost lock after Slack's success, or an answer lost on
  the way): the channel's recent history (`find_posted`, the alert id in the metadata) says
  whether it is; if it is, it is committed as if it had just been made, else posted as usual.
  A post Slack answered with a refusal clears its mark at once.
- Every script first checks that this poller still holds the lock, and no sender call starts
  once the lock is known to be lost, so a poller whose lease lapsed cannot commit after its
  successor started; its one call in flight is found by the successor as above.
- A stopped poller (`run_forever` told to stop, or cancelled mid-call) never releases the lock
  while a sender call may be in flight: the lease lapses instead, and the successor starts
  after it.

The Redis layout (all under `alerts:`) is described in `scripts.py`, next to the methods that
write it.
"""

from bot.services.alerts.digests import DigestRate, DigestService
from bot.services.alerts.drain import THREAD_BATCH
from bot.services.alerts.models import (
    AlertNotPosted,
    AlertRejected,
    AlertSender,
    Campaign,
    Digest,
    DigestEntry,
    DigestListing,
    PollReport,
)
from bot.services.alerts.outbox import Outbox, outbox_depth
from bot.services.alerts.poller import AlertPoller
from bot.services.alerts.scripts import LOCK_KEY, OUTBOXES_KEY, REJECTED_KEY, STATE_KEY

__all__ = [
    "LOCK_KEY",
    "OUTBOXES_KEY",
    "REJECTED_KEY",
    "STATE_KEY",
    "THREAD_BATCH",
    "AlertNotPosted",
    "AlertPoller",
    "AlertRejected",
    "AlertSender",
    "Campaign",
    "Digest",
    "DigestEntry",
    "DigestListing",
    "DigestRate",
    "DigestService",
    "Outbox",
    "PollReport",
    "outbox_depth",
]
