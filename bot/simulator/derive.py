"""What the per-message endpoints return, derived from the message's own fields.

Detections, raw EML, trace and preview are computed on request rather than stored, so a message
added by the hook or a `--data` file gets all four for free. A message that carries `_detections`,
`_raw`, `_trace` or `_preview_png_base64` gets that value back instead.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from typing import Any

from bot.simulator.catalog import AS_NAMES, THREAT_CATEGORIES
from bot.simulator.messages import (
    DISPOSITIONS,
    Message,
    attachments_of,
    domain_of,
    iso,
    links_of,
    parse_time,
    recipients,
    scanned_at,
)
from bot.simulator.png import preview_png


def attachment_bytes(filename: str) -> bytes:
    """The (harmless) content of a simulated attachment; its hashes are what detections report."""
    return f"Simulated attachment {filename}. Not a real file.\n".encode()


def make_attachment(
    filename: str, content_type: str, detection: str | None, encrypted: bool = False
) -> dict[str, Any]:
    content = attachment_bytes(filename)
    return {
        "filename": filename,
        "name": filename,
        "content_type": content_type,
        "size": len(content),
        "md5": hashlib.md5(content).hexdigest(),  # noqa: S324 - a reported file hash, not security
        "sha1": hashlib.sha1(content).hexdigest(),  # noqa: S324 - a reported file hash, not security
        "sha256": hashlib.sha256(content).hexdigest(),
        "detection": detection,
        "encrypted": encrypted,
    }


def detections(message: Message) -> dict[str, Any]:
    """`MessageDetectionDetails` for a message."""
    if isinstance(message.get("_detections"), dict):
        return dict(message["_detections"])
    disposition = message.get("final_disposition")
    result: dict[str, Any] = {
        "action": "QUARANTINE" if message.get("is_quarantined") else "DELIVER",
        "attachments": attachments_of(message),
        "findings": _findings(message),
        "headers": [{"name": name, "value": value} for name, value in _headers(message)],
        "links": links_of(message),
        "sender_info": _sender_info(message),
        "threat_categories": _threat_categories(message),
        "validation": message.get("validation") or {},
    }
    if disposition in DISPOSITIONS:
        result["final_disposition"] = disposition
    return result


def _findings(message: Message) -> list[dict[str, Any]]:
    disposition = message.get("final_disposition")
    categories = message.get("threat_categories") or []
    findings = []
    for index, reason in enumerate(message.get("detection_reasons") or []):
        finding: dict[str, Any] = {
            "name": categories[index % len(categories)] if categories else "Detection",
            "reason": reason,
            "detail": reason,
            "field": "message",
            "portion": "body",
            "value": None,
            "attachment": None,
            "score": round(0.9 - 0.1 * index, 2),
        }
        if disposition in DISPOSITIONS:
            finding["detection"] = disposition
        findings.append(finding)
    return findings


def _threat_categories(message: Message) -> list[dict[str, Any]]:
    result = []
    for name in message.get("threat_categories") or []:
        number, description = THREAT_CATEGORIES.get(name, (_stable_number(name), None))
        result.append({"id": number, "name": name, "description": description})
    return result


def _sender_info(message: Message) -> dict[str, Any]:
    ip = message.get("smtp_helo_server_ip")
    as_name, as_number, geo = AS_NAMES[_stable_number(str(ip)) % len(AS_NAMES)]
    return {
        "as_name": as_name if ip else None,
        "as_number": as_number if ip else None,
        "geo": geo if ip else None,
        "ip": ip,
        "pld": domain_of(message.get("from")) or None,
    }


def _stable_number(text: str) -> int:
    return int(hashlib.sha256(text.encode()).hexdigest()[:6], 16)


def _headers(message: Message) -> list[tuple[str, str]]:
    """The main headers of the message, one line each (attacker text cannot fold a header)."""
    sender = _mailbox(message.get("from_name"), message.get("from"))
    to = ", ".join(_to_addresses(message))
    headers = [
        ("Received", _received(message)),
        ("Authentication-Results", _auth_results(message)),
        ("From", sender),
        ("To", to),
        ("Subject", str(message.get("subject") or "")),
        ("Date", format_datetime(_sent(message))),
        ("Message-ID", str(message.get("message_id") or "")),
    ]
    if message.get("replyto"):
        headers.append(("Reply-To", str(message["replyto"])))
    if message.get("x_originating_ip"):
        headers.append(("X-Originating-IP", f"[{message['x_originating_ip']}]"))
    return [(name, _one_line(value)) for name, value in headers]


def _one_line(value: str) -> str:
    return " ".join(value.splitlines())


def _to_addresses(message: Message) -> list[str]:
    names = message.get("to_name") or []
    addresses = message.get("to") or recipients(message)
    return [
        _mailbox(names[i] if i < len(names) else None, address)
        for i, address in enumerate(addresses)
    ]


def _mailbox(name: Any, address: Any) -> str:
    """`"Name" <address>`; unlike email.utils.formataddr it accepts any text (attackers' too)."""
    if not name:
        return str(address or "")
    quoted = str(name).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{quoted}" <{address or ""}>'


def _sent(message: Message) -> datetime:
    return parse_time(str(message.get("sent_at") or message["scanned_at"]))


def _received(message: Message) -> str:
    ip = message.get("smtp_helo_server_ip") or "unknown"
    helo = f"mail.{domain_of(message.get('envelope_from')) or 'unknown'}"
    return (
        f"from {helo} ({helo} [{ip}]) by mx.cloudflare.net with ESMTPS id "
        f"{message['postfix_id']}; {format_datetime(scanned_at(message))}"
    )


def _auth_results(message: Message) -> str:
    validation = message.get("validation") or {}
    domain = domain_of(message.get("from")) or "unknown"
    mail_from = message.get("envelope_from") or ""
    return (
        f"mx.cloudflare.net; spf={validation.get('spf') or 'none'} smtp.mailfrom={mail_from}; "
        f"dkim={validation.get('dkim') or 'none'} header.d={domain}; "
        f"dmarc={validation.get('dmarc') or 'none'} header.from={domain}"
    )


def raw_eml(message: Message) -> str:
    """RFC 5322 text of the message: headers, a text and HTML body, attachments as parts."""
    if isinstance(message.get("_raw"), str):
        return str(message["_raw"])
    email = EmailMessage()
    for name, value in _headers(message):
        email[name] = value
    email.set_content(_body_text(message))
    email.add_alternative(_body_html(message), subtype="html")
    for attachment in attachments_of(message):
        filename = str(attachment.get("filename") or attachment.get("name") or "attachment.bin")
        maintype, _, subtype = str(
            attachment.get("content_type") or "application/octet-stream"
        ).partition("/")
        email.add_attachment(
            attachment_bytes(filename),
            maintype=maintype,
            subtype=subtype or "octet-stream",
            filename=filename,
        )
    _fix_boundaries(email, str(message["id"]))
    return email.as_string(policy=SMTP)


def _fix_boundaries(email: EmailMessage, seed: str) -> None:
    """MIME boundaries are random by default; derive them so raw output is reproducible."""
    for depth, part in enumerate(email.walk()):
        if part.is_multipart():
            digest = hashlib.sha256(f"{seed}|{depth}".encode()).hexdigest()[:24]
            part.set_boundary(f"=_sim_{digest}")


def _body_text(message: Message) -> str:
    lines = ["Hello,", "", f"{message.get('subject') or ''}", ""]
    for link in links_of(message):
        lines.append(f"{link.get('text') or 'Link'}: {link.get('href')}")
    if attachments_of(message):
        lines += ["", "Please see the attached file(s)."]
    lines += ["", "Regards,", str(message.get("from_name") or message.get("from") or "")]
    return "\n".join(lines) + "\n"


def _body_html(message: Message) -> str:
    anchors = "".join(
        f'<p><a href="{_html(str(link.get("href")))}">{_html(str(link.get("text") or "Link"))}'
        "</a></p>"
        for link in links_of(message)
    )
    subject = _html(str(message.get("subject") or ""))
    return f"<html><body><p>Hello,</p><p>{subject}</p>{anchors}<p>Regards</p></body></html>\n"


def _html(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )


def trace(message: Message) -> dict[str, Any]:
    """`MessageTrace`: postfix-style inbound log lines, nothing outbound."""
    if isinstance(message.get("_trace"), dict):
        return dict(message["_trace"])
    start = scanned_at(message) - timedelta(seconds=4)
    lines = []
    for number, text in enumerate(_trace_texts(message), start=1):
        logged = iso(start + timedelta(milliseconds=700 * number))
        lines.append({"lineno": number, "message": text, "logged_at": logged, "ts": logged})
    return {
        "inbound": {"lines": lines, "pending": False},
        "outbound": {"lines": [], "pending": False},
    }


def _trace_texts(message: Message) -> list[str]:
    postfix = message["postfix_id"]
    ip = message.get("smtp_helo_server_ip") or "unknown"
    helo = f"mail.{domain_of(message.get('envelope_from')) or 'unknown'}"
    pid = 1000 + _stable_number(postfix) % 9000
    rcpts = recipients(message)
    texts = [
        f"postfix/smtpd[{pid}]: connect from {helo}[{ip}]",
        f"postfix/smtpd[{pid}]: {postfix}: client={helo}[{ip}], helo=<{helo}>",
        f"postfix/cleanup[{pid + 1}]: {postfix}: message-id={message.get('message_id') or ''}",
        f"postfix/qmgr[{pid + 2}]: {postfix}: from=<{message.get('envelope_from') or ''}>, "
        f"nrcpt={len(rcpts)} (queue active)",
        f"scanner[{pid + 3}]: {postfix}: disposition={message.get('final_disposition') or 'NONE'}",
    ]
    for rcpt in rcpts:
        texts.append(_delivery_line(message, pid + 4, rcpt))
    texts.append(f"postfix/qmgr[{pid + 2}]: {postfix}: removed")
    return [_one_line(text) for text in texts]


def _delivery_line(message: Message, pid: int, rcpt: str) -> str:
    postfix = message["postfix_id"]
    if message.get("is_quarantined"):
        return f"postfix/smtp[{pid}]: {postfix}: to=<{rcpt}>, relay=quarantine, status=quarantined"
    return (
        f"postfix/smtp[{pid}]: {postfix}: to=<{rcpt}>, relay=mailstore.example.com[192.0.2.25]:25,"
        " status=sent (250 2.6.0 Queued mail for delivery)"
    )


def preview_base64(message: Message) -> str:
    """The base64 PNG `screenshot` of a message."""
    if isinstance(message.get("_preview_png_base64"), str):
        return str(message["_preview_png_base64"])
    picture = preview_png(
        message.get("final_disposition"), f"{message['id']}|{message.get('subject')}"
    )
    return base64.b64encode(picture).decode()
