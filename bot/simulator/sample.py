"""Generated sample mail: a month of a corporate tenant's traffic, reproducible from a seed.

Besides single messages the sample has campaigns (one sender and subject to several people
within minutes), messages to several recipients that share one postfix id (one record and one
investigate id per recipient), and quarantined messages to "bounce" mailboxes so release can
report per-recipient failures. Timestamps count back from the simulator's start time.
"""

from __future__ import annotations

import copy
import hashlib
import random
from datetime import datetime, timedelta
from typing import Any

from bot.simulator.catalog import (
    BOUNCING,
    DISPOSITION_WEIGHTS,
    DOCUMENTATION_NETS,
    EXECUTIVE,
    PROFILES,
    STAFF,
    TENANT_DOMAINS,
    Profile,
)
from bot.simulator.derive import make_attachment
from bot.simulator.messages import (
    Message,
    action_entry,
    domain_of,
    fill_message,
    iso,
    random_postfix_id,
    record_operation,
)

Person = tuple[str, str]  # display name, address
MAX_AGE = timedelta(days=28)  # inside the API's default 30-day search window
CAMPAIGN_SPREAD = timedelta(minutes=20)
AUTOMATION = "auto-remediation@example.com"


def generate_messages(count: int, rng: random.Random, start: datetime) -> list[Message]:
    """`count` filled messages; the same seed and start give the same messages."""
    drafts: list[Message] = _bounce_examples(rng, start) if count >= 20 else []
    while len(drafts) < count:
        room, roll = count - len(drafts), rng.random()
        if roll < 0.03 and room >= 3:
            drafts += _campaign(rng, start, min(room, rng.randint(4, 8)))
        elif roll < 0.08 and room >= 2:
            drafts += _shared_postfix(rng, start, min(room, rng.randint(2, 3)))
        else:
            drafts.append(_single(rng, start))
    return [fill_message(draft, rng, start) for draft in drafts[:count]]


def _single(rng: random.Random, start: datetime) -> Message:
    content = _content(rng, _pick_disposition(rng))
    return _draft(rng, start, content, _when(rng, start), [_staff(rng)])


def _campaign(rng: random.Random, start: datetime, size: int) -> list[Message]:
    """One sender and content to `size` people within minutes: what alerts group by."""
    content = _content(rng, rng.choice(("MALICIOUS", "MALICIOUS", "SPAM", "BULK", "SUSPICIOUS")))
    first = _when(rng, start)
    return [
        _draft(rng, start, content, min(first + CAMPAIGN_SPREAD * rng.random(), start), [person])
        for person in _distinct_staff(rng, size)
    ]


def _shared_postfix(rng: random.Random, start: datetime, size: int) -> list[Message]:
    """One message to several people: same postfix id and Message-ID, one record each."""
    content, people = _content(rng, _pick_disposition(rng)), _distinct_staff(rng, size)
    when, postfix = _when(rng, start), random_postfix_id(rng)
    drafts = [_draft(rng, start, content, when, people) for _ in people]
    for draft, person in zip(drafts, people, strict=True):
        draft.update(postfix_id=postfix, client_recipients=[person[1]], envelope_to=[person[1]])
        draft.update(message_id=drafts[0]["message_id"], sent_at=drafts[0]["sent_at"])
    return drafts


def _bounce_examples(rng: random.Random, start: datetime) -> list[Message]:
    """Quarantined mail to bounce mailboxes: one mixed, one where every recipient fails."""
    bounce = [(name, f"{local}@example.com") for name, local in BOUNCING]
    drafts = [
        _draft(rng, start, _content(rng, "MALICIOUS"), _when(rng, start), people)
        for people in ([bounce[0], _staff(rng)], bounce)
    ]
    for draft in drafts:
        draft.update(is_quarantined=True, delivery_status=["quarantined"], _folder=None)
        draft.update(post_delivery_operations=[], _action_log=[])
    return drafts


def _content(rng: random.Random, disposition: str) -> Message:
    """What the sender wrote and how it scanned: shared by every copy of a campaign."""
    profile = PROFILES[disposition]
    name, local, domain = rng.choice(profile.senders)
    context = _context(rng, profile, domain)
    address = f"{local}@{domain}"
    bulk_bounce = f"bounces+{context['token'][:8]}@{domain}"
    return {
        "from": address,
        "from_name": name or None,
        "envelope_from": bulk_bounce if disposition == "BULK" else address,
        "replyto": _reply_to(disposition, address),
        "subject": rng.choice(profile.subjects).format(**context),
        "final_disposition": disposition,
        "detection_reasons": _some(rng, profile.reasons, context),
        "threat_categories": rng.sample(profile.categories, min(len(profile.categories), 3)),
        "validation": _validation(rng, profile),
        "edf_hash": hashlib.sha256(f"{address}|{context['n']}".encode()).hexdigest(),
        "htmltext_structure_hash": _hex(rng, 16) if profile.links else None,
        "smtp_helo_server_ip": context["ip"],
        "smtp_previous_hop_ip": context["ip"],
        "x_originating_ip": context["ip"] if disposition in ("MALICIOUS-BEC", "NONE") else None,
        "properties": _properties(disposition, domain),
        "_links": _links(profile, context),
        "_attachments": _attachments(rng, profile, disposition, context),
    }


def _draft(
    rng: random.Random, start: datetime, content: Message, when: datetime, people: list[Person]
) -> Message:
    """One record of `content`: its own postfix id, times, recipients and history."""
    domain = domain_of(content["from"])
    draft: Message = {
        **copy.deepcopy(content),
        "postfix_id": random_postfix_id(rng),
        "scanned_at": iso(when),
        "sent_at": iso(when - timedelta(seconds=rng.randint(5, 600))),
        "to": [person[1] for person in people],
        "to_name": [person[0] for person in people],
        "message_id": f"<{_hex(rng, 12)}.{rng.randint(1000, 99999)}@{domain}>",
        "delivery_mode": rng.choices(("DIRECT", "BCC", "JOURNAL"), (85, 8, 7))[0],
    }
    _history(rng, draft, PROFILES[content["final_disposition"]], when, start)
    return draft


def _context(rng: random.Random, profile: Profile, domain: str) -> dict[str, str]:
    """Template values for one message (or one campaign, which shares them)."""
    ip = _ip_for(domain)
    context = {
        "colleague": rng.choice(STAFF)[0].split()[0],
        "q": str(rng.randint(1, 4)),
        "n": str(rng.randint(1000, 99999)),
        "secs": str(rng.randint(8, 95)),
        "token": _hex(rng, 24),
        "days": str(rng.randint(1, 9)),
        "score": f"{rng.uniform(6.5, 9.9):.1f}",
        "domain": domain,
        "domain_dotted": domain.replace(".", "[dot]"),
        "ip": ip,
        "ip_dotted": ip.replace(".", "[dot]"),
        "executive": EXECUTIVE[0],
    }
    context["link_host_dotted"] = context["domain_dotted"]
    template, kind = rng.choice(profile.attachments or (("attachment.bin", ""),))
    context.update(attachment=template.format(**context), attachment_type=kind)
    return context


def _links(profile: Profile, context: dict[str, str]) -> list[dict[str, Any]]:
    return [
        {"href": href.format(**context), "text": text.format(**context)}
        for href, text in profile.links
    ]


def _attachments(
    rng: random.Random, profile: Profile, disposition: str, context: dict[str, str]
) -> list[dict[str, Any]]:
    if not profile.attachments or rng.random() < 0.4:
        return []
    detection = disposition if disposition in ("MALICIOUS", "SUSPICIOUS") else "NONE"
    encrypted = disposition == "ENCRYPTED"
    return [
        make_attachment(context["attachment"], context["attachment_type"], detection, encrypted)
    ]


def _history(
    rng: random.Random, draft: Message, profile: Profile, when: datetime, start: datetime
) -> None:
    """Quarantine state and the post-delivery actions taken before the simulator started."""
    quarantined = rng.random() < profile.quarantine
    draft.update(is_quarantined=quarantined, post_delivery_operations=[], _action_log=[])
    draft["delivery_status"] = ["quarantined" if quarantined else "delivered"]
    draft["_folder"] = None if quarantined else "Inbox"
    later = min(when + timedelta(minutes=rng.randint(2, 600)), start)
    disposition = draft["final_disposition"]
    if not quarantined and disposition == "SPAM" and rng.random() < 0.4:
        record_operation(draft, action_entry("MOVE", later, AUTOMATION, "JunkEmail"))
        draft.update(delivery_status=["moved"], _folder="JunkEmail")
    elif not quarantined and profile.quarantine >= 0.3 and rng.random() < 0.25:
        record_operation(draft, action_entry("QUARANTINE_RELEASE", later, "secops@example.com"))
    if rng.random() < 0.08:
        record_operation(draft, action_entry("PREVIEW", later, "secops@example.com"))
    user_reportable = disposition in ("NONE", "BULK", "SPAM", "SUSPICIOUS")
    draft["is_phish_submission"] = user_reportable and not quarantined and rng.random() < 0.06


def _validation(rng: random.Random, profile: Profile) -> dict[str, Any]:
    def verdict() -> str:
        if rng.random() < profile.auth_pass:
            return "pass"
        return rng.choice(("fail", "fail", "none", "neutral", "error"))

    return {"comment": None, "spf": verdict(), "dkim": verdict(), "dmarc": verdict()}


def _reply_to(disposition: str, address: str) -> str | None:
    if disposition == "MALICIOUS-BEC":
        return f"{EXECUTIVE[1]}.private@freemail.example"
    return None if disposition != "NONE" else address


def _properties(disposition: str, domain: str) -> dict[str, Any]:
    if disposition == "NONE" and domain == "partner-firm.example":
        return {"allowlisted_pattern": domain, "allowlisted_pattern_type": "acceptable_sender"}
    if disposition == "MALICIOUS" and domain == "m365-account-security.example":
        return {"blocklisted_message": True, "blocklisted_pattern": domain}
    return {}


def _some(rng: random.Random, templates: tuple[str, ...], context: dict[str, str]) -> list[str]:
    if not templates:
        return []
    chosen = rng.sample(templates, rng.randint(1, min(3, len(templates))))
    return [template.format(**context) for template in chosen]


def _pick_disposition(rng: random.Random) -> str:
    return rng.choices(list(DISPOSITION_WEIGHTS), list(DISPOSITION_WEIGHTS.values()))[0]


def _when(rng: random.Random, start: datetime) -> datetime:
    """Skewed towards recent: more mail in the last days than four weeks ago."""
    skew: float = rng.random() ** 1.5
    return start - MAX_AGE * skew - timedelta(minutes=1)


def _staff(rng: random.Random) -> Person:
    name, local = rng.choice(STAFF)
    return name, f"{local}@{rng.choice(TENANT_DOMAINS)}"


def _distinct_staff(rng: random.Random, size: int) -> list[Person]:
    domain = rng.choice(TENANT_DOMAINS)
    return [(name, f"{local}@{domain}") for name, local in rng.sample(STAFF, size)]


def _ip_for(domain: str) -> str:
    """A stable documentation-range address per sending domain, so campaigns share one."""
    digest = hashlib.sha256(domain.encode()).digest()
    return f"{DOCUMENTATION_NETS[digest[0] % 3]}.{1 + digest[1] % 254}"


def _hex(rng: random.Random, length: int) -> str:
    return f"{rng.getrandbits(length * 4):0{length}x}"


def fresh_mail(rng: random.Random, now: datetime, kind: str) -> list[Message]:
    """Drafts of mail arriving `now` (the traffic option's): a "campaign" (one sender and
    subject to several people), or one message of the disposition `kind` (e.g. "SPAM")."""
    if kind == "campaign":
        content = _content(rng, rng.choice(("MALICIOUS", "MALICIOUS", "SUSPICIOUS")))
        people = _distinct_staff(rng, rng.randint(3, 6))
        return [_draft(rng, now, content, now, [person]) for person in people]
    return [_draft(rng, now, _content(rng, kind), now, [_staff(rng)])]
