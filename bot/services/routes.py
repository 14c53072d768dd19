"""Alert routing: which Slack channel a detection (or a PhishGuard report) goes to.

ALERT_ROUTES names a YAML file holding a list of rules. The first rule that matches wins; a
detection no rule matches goes to ALERT_CHANNEL. Example:

```yaml
# BEC to the fraud team, whatever the domains
- channel: C0FRAUD01
  dispositions: [MALICIOUS-BEC]
# anything from these senders (and their subdomains) to the threat-intel channel
- channel: C0INTEL01
  sender_domains: [evil.example, phish.example]
# malicious mail to the subsidiary goes to its own SOC
- channel: C0SUBSOC1
  dispositions: [MALICIOUS, SUSPICIOUS]
  recipient_domains: [subsidiary.example]
```

Each rule has:

- `channel` (required): a channel id (`C…` or `G…`), not a name; the bot must be a member.
- `dispositions` (optional): final dispositions, e.g. `MALICIOUS`, `MALICIOUS-BEC`,
  `SUSPICIOUS`, `SPOOF`, `SPAM`, `BULK` (case-insensitive).
- `sender_domains` (optional): the sender's domain (the From address or the envelope sender).
- `recipient_domains` (optional): any recipient's domain: the envelope recipients and the
  mailboxes this copy was delivered to (client recipients), never the header To, which the
  sender writes: a forged `To:` must not move an alert off its route.

All the conditions a rule gives must match; a rule with none matches everything (a catch-all
that overrides ALERT_CHANNEL). A domain matches itself and any subdomain, case-insensitively:
`example.com` matches `a@example.com` and `b@mail.example.com`, not `a@notexample.com`. A rule
only sees dispositions that ALERT_DISPOSITIONS lets through. PhishGuard reports are routed by
the same rules, with the report's disposition, sender and recipients.

An empty file routes everything to ALERT_CHANNEL. A file that cannot be read or holds an
invalid rule stops start-up with a message naming the rule (counted from 1) and the problem.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from bot.cloudflare.models import MessageDetails, PhishGuardReport

# The dispositions Email Security gives (the same list as bot.config's).
DISPOSITIONS = frozenset(
    {"MALICIOUS", "MALICIOUS-BEC", "SUSPICIOUS", "SPOOF", "SPAM", "BULK", "NONE"}
    | {"ENCRYPTED", "EXTERNAL", "UNKNOWN"}
)
CHANNEL = re.compile(r"^[CGD][A-Z0-9]{2,}$")  # as ALERT_CHANNEL (bot.config)
DOMAIN = re.compile(r"^(?=.{1,253}$)[a-z0-9_](?:[a-z0-9_-]{0,62})(?:\.[a-z0-9_-]{1,63})*$")
KEYS = ("channel", "dispositions", "sender_domains", "recipient_domains")


def domain_of(address: str | None) -> str | None:
    """The lower-case domain of an address (`Name <a@b.example>` too); None without one."""
    if not address:
        return None
    text = address.strip().rstrip(">").strip()
    if "@" not in text:
        return None
    domain = text.rpartition("@")[2].strip().rstrip(".").lower()
    return domain or None


def _within(domain: str, wanted: Iterable[str]) -> bool:
    return any(domain == w or domain.endswith("." + w) for w in wanted)


class Rule(BaseModel):
    """One routing rule; None for a condition the rule does not give."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    channel: str
    dispositions: tuple[str, ...] | None = None
    sender_domains: tuple[str, ...] | None = None
    recipient_domains: tuple[str, ...] | None = None

    @field_validator("channel", mode="before")
    @classmethod
    def _channel(cls, value: Any) -> Any:
        if not isinstance(value, str) or not CHANNEL.match(value.strip()):
            raise ValueError("must be a channel id (C… or G…), not a channel name")
        return value.strip()

    @field_validator("dispositions", mode="before")
    @classmethod
    def _dispositions(cls, value: Any) -> Any:
        if value is None:
            return None
        items = _list_of_strings(value)
        upper = tuple(v.strip().upper() for v in items)
        bad = sorted(set(upper) - DISPOSITIONS)
        if bad:
            raise ValueError(
                f"unknown disposition {', '.join(bad)}; use {', '.join(sorted(DISPOSITIONS))}"
            )
        return upper

    @field_validator("sender_domains", "recipient_domains", mode="before")
    @classmethod
    def _domains(cls, value: Any) -> Any:
        if value is None:
            return None
        domains = []
        for item in _list_of_strings(value):
            domain = item.strip().lower().removeprefix("@").removeprefix("*.").rstrip(".")
            if not DOMAIN.match(domain):
                raise ValueError(f"{item!r} is not a domain (write evil.example, not a URL)")
            domains.append(domain)
        return tuple(domains)

    def matches(
        self, disposition: str | None, senders: Sequence[str], recipients: Sequence[str]
    ) -> bool:
        if self.dispositions is not None and (disposition or "").upper() not in self.dispositions:
            return False
        if self.sender_domains is not None and not any(
            _within(d, self.sender_domains) for d in senders
        ):
            return False
        return self.recipient_domains is None or any(
            _within(d, self.recipient_domains) for d in recipients
        )


def _list_of_strings(value: Any) -> list[str]:
    if isinstance(value, str):
        value = [value]  # `dispositions: MALICIOUS` reads as a list of one
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError("must be a list of strings, e.g. [MALICIOUS, SUSPICIOUS]")
    if not value:
        raise ValueError("is an empty list, which matches nothing; leave the key out instead")
    return value


def _domains(addresses: Iterable[str | None]) -> list[str]:
    return [d for d in (domain_of(a) for a in addresses) if d]


class Routes(BaseModel):
    """The rules in file order and the default channel (ALERT_CHANNEL)."""

    model_config = ConfigDict(frozen=True)

    rules: tuple[Rule, ...] = ()
    default_channel: str

    @property
    def channels(self) -> list[str]:
        """Every channel alerts may go to (the default first), e.g. to check membership."""
        return list(dict.fromkeys([self.default_channel, *(r.channel for r in self.rules)]))

    def _route(self, disposition: str | None, senders: list[str], recipients: list[str]) -> str:
        for rule in self.rules:
            if rule.matches(disposition, senders, recipients):
                return rule.channel
        return self.default_channel

    def channel_for(self, message: MessageDetails) -> str:
        senders = _domains([message.from_, message.envelope_from])
        # The envelope, not the header To: the SMTP recipients are what the mail really went to.
        recipients = _domains([*message.client_recipients, *(message.envelope_to or ())])
        return self._route(message.final_disposition, senders, recipients)

    def channel_for_report(self, report: PhishGuardReport) -> str:
        senders = _domains([report.fields.from_])
        recipients = _domains(report.fields.to)
        return self._route(report.disposition, senders, recipients)


def parse_routes(data: Any, default_channel: str, source: str = "ALERT_ROUTES") -> Routes:
    """Routes from already-parsed YAML (None or a list of rules); ValueError names the rule."""
    if data is None:
        data = []
    if not isinstance(data, list):
        raise ValueError(
            f"{source}: expected a list of rules (each starting with `- channel: C…`), "
            f"found a {type(data).__name__}"
        )
    rules = []
    for number, item in enumerate(data, 1):
        if not isinstance(item, dict):
            raise ValueError(f"{source}: rule {number}: must be a mapping with a `channel` key")
        unknown = sorted(str(k) for k in item if k not in KEYS)
        if unknown:
            raise ValueError(
                f"{source}: rule {number}: unknown key {', '.join(unknown)} "
                f"(a rule has {', '.join(KEYS)})"
            )
        if "channel" not in item:
            raise ValueError(f"{source}: rule {number}: `channel` is missing")
        try:
            rules.append(Rule.model_validate(item))
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'rule'}: "
                f"{str(e['msg']).removeprefix('Value error, ')}"
                for e in exc.errors()
            )
            raise ValueError(f"{source}: rule {number}: {problems}") from None
    if not CHANNEL.match(default_channel):
        raise ValueError(f"ALERT_CHANNEL must be a channel id (C…), not {default_channel!r}")
    return Routes(rules=tuple(rules), default_channel=default_channel)


def load_routes(path: str | Path | None, default_channel: str) -> Routes:
    """The rules of the YAML file at `path` (no file: everything to `default_channel`).
    ValueError says which rule is wrong and how, for the start-up error."""
    if path is None:
        return parse_routes([], default_channel)
    name = f"ALERT_ROUTES ({path})"
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"{name}: cannot be read ({exc.strerror or type(exc).__name__})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ValueError(f"{name}: not valid YAML{where}") from None
    return parse_routes(data, default_channel, name)
