"""Checks of what an admin types into a settings entry, the way they would want it checked: an
EMAIL looks like an address, a DOMAIN like a domain, an IP is a public IPv4 address or network,
and a regex compiles. Each refusal is a 422 naming the value."""

from __future__ import annotations

import ipaddress
import re

from bot.simulator.errors import invalid

PATTERN_TYPES = ("EMAIL", "DOMAIN", "IP")
_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_DOMAIN = re.compile(rf"^(?=.{{1,253}}$)({_LABEL}\.)+(?!\d+$)[a-z0-9-]{{2,63}}$", re.IGNORECASE)
_LOCAL_PART = re.compile(r"^[a-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}$", re.IGNORECASE)
# RFC 5737 networks are not "global", but the sample's senders live there; blocking them
# from a message card must work in the simulator.
_DOCUMENTATION_NETS = tuple(
    ipaddress.IPv4Network(net) for net in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24")
)


def check_pattern(pattern: str, pattern_type: str, is_regex: bool) -> None:
    """422 unless `pattern` fits its type (a regex only has to compile)."""
    if is_regex:
        try:
            re.compile(pattern)
        except re.error as error:
            raise invalid(f"'pattern' is not a valid regular expression: {error}") from None
        return
    checks = {"EMAIL": _check_email, "DOMAIN": _check_domain, "IP": _check_ip}
    checks.get(pattern_type, _check_domain)(pattern)


def _check_email(pattern: str) -> None:
    local, at, domain = pattern.rpartition("@")
    if not at or not _LOCAL_PART.match(local) or not _DOMAIN.match(domain):
        raise invalid(f"'{pattern}' is not an email address (pattern_type EMAIL)")


def _check_domain(pattern: str) -> None:
    if not _DOMAIN.match(pattern):
        raise invalid(f"'{pattern}' is not a domain name (pattern_type DOMAIN)")


def _check_ip(pattern: str) -> None:
    try:
        network = ipaddress.ip_network(pattern, strict=True)
    except ValueError as error:
        raise invalid(f"'{pattern}' is not an IPv4 address or CIDR network: {error}") from None
    if not isinstance(network, ipaddress.IPv4Network):
        raise invalid(f"'{pattern}' is not an IPv4 address or network (pattern_type IP)")
    documentation = any(network.subnet_of(net) for net in _DOCUMENTATION_NETS)
    if not network.is_global and not documentation:
        raise invalid(f"'{pattern}' is a private or reserved network; block public addresses only")


def check_domain(value: str) -> None:
    """422 unless `value` is a domain name."""
    _check_domain(value)


def check_address_or_regex(value: str, is_regex: bool) -> None:
    check_pattern(value, "EMAIL", is_regex)
