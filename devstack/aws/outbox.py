"""The devstack's outbox: every email sent through the embedded SES, for the console to show.

moto's SES keeps sent messages in its backend; SESv2's ``SendEmail`` stores them in the same
(v1) backend, so one list holds both. The embedded AWS runs in this process, so the outbox reads
that list directly - no API exists to list sent mail.

What moto keeps, and so what the outbox can show:

* ``Simple`` content keeps only one body, the HTML one when both are given: the outbox reports it
  as ``html`` when it looks like markup, else as ``text``. Send ``Raw`` MIME to keep both parts.
* ``Raw`` content is kept whole and parsed here (subject, parts, headers).
* moto records no send time: ``sent_at`` is the raw message's ``Date`` header when there is one,
  else the moment the outbox first saw the message (so: poll it, or don't trust it to the second).
  The order (newest first) is always exact: it is moto's append order.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import re
import threading
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import getaddresses, parsedate_to_datetime
from typing import Any

__all__ = ["sent_emails"]

DEFAULT_ACCOUNT_ID = "123456789012"

_first_seen: dict[str, datetime] = {}
_first_seen_lock = threading.Lock()
_LOOKS_LIKE_HTML = re.compile(
    r"<\s*(!doctype|html|body|div|p|table|br|span|a|h[1-6]|ul|ol|strong|em)\b", re.I
)


def sent_emails(region: str = "us-east-1", account_id: str = DEFAULT_ACCOUNT_ID) -> list[dict[str, Any]]:
    """Every message sent through SES (v1 or v2) in this process, newest first.

    Each is a dict: ``id``, ``kind`` (simple / raw / template), ``from``, ``to``, ``cc``, ``bcc``
    (lists of addresses; for raw mail ``to`` holds every destination), ``subject``, ``text``,
    ``html``, ``raw`` (the MIME source, raw mail only), ``template`` / ``template_data``
    (templated mail only) and ``sent_at`` (ISO 8601, UTC).
    """
    from moto.ses.models import ses_backends

    backend = ses_backends[account_id][region]
    messages = list(backend.sent_messages)  # a copy: senders append concurrently
    now = datetime.now(UTC)
    result: list[dict[str, Any]] = []
    for message in reversed(messages):
        message_id = str(message.id)
        with _first_seen_lock:
            seen = _first_seen.setdefault(message_id, now)
        if hasattr(message, "raw_data"):
            entry = _raw_entry(message, seen)
        elif hasattr(message, "template"):
            entry = _template_entry(message, seen)
        else:
            entry = _simple_entry(message, seen)
        entry["id"] = message_id
        result.append(entry)
    return result


def _addresses(destinations: Any, key: str) -> list[str]:
    if isinstance(destinations, dict):
        return [str(address) for address in destinations.get(key) or []]
    return []


def _simple_entry(message: Any, seen: datetime) -> dict[str, Any]:
    body = str(message.body or "")
    is_html = bool(_LOOKS_LIKE_HTML.search(body))
    return {
        "kind": "simple",
        "from": str(message.source),
        "to": _addresses(message.destinations, "ToAddresses"),
        "cc": _addresses(message.destinations, "CcAddresses"),
        "bcc": _addresses(message.destinations, "BccAddresses"),
        "subject": str(message.subject or ""),
        "text": None if is_html else body,
        "html": body if is_html else None,
        "raw": None,
        "sent_at": seen.isoformat(),
    }


def _template_entry(message: Any, seen: datetime) -> dict[str, Any]:
    destinations = message.destinations if isinstance(message.destinations, dict) else {}
    return {
        "kind": "template",
        "from": str(message.source),
        "to": _addresses(destinations, "ToAddresses"),
        "cc": _addresses(destinations, "CcAddresses"),
        "bcc": _addresses(destinations, "BccAddresses"),
        "subject": "",
        "text": None,
        "html": None,
        "raw": None,
        "template": message.template,
        "template_data": message.template_data,
        "sent_at": seen.isoformat(),
    }


def _raw_entry(message: Any, seen: datetime) -> dict[str, Any]:
    raw = str(message.raw_data)
    parsed = email.message_from_string(raw, policy=email.policy.default)
    text = html = None
    if isinstance(parsed, EmailMessage):
        text_part = parsed.get_body(preferencelist=("plain",))
        html_part = parsed.get_body(preferencelist=("html",))
        text = text_part.get_content() if isinstance(text_part, EmailMessage) else None
        html = html_part.get_content() if isinstance(html_part, EmailMessage) else None
    sent_at = seen
    if parsed["Date"]:
        with contextlib.suppress(TypeError, ValueError):
            sent_at = parsedate_to_datetime(str(parsed["Date"])).astimezone(UTC)
    header_from = [address for _, address in getaddresses([str(parsed["From"] or "")]) if address]
    return {
        "kind": "raw",
        "from": str(message.source or (header_from[0] if header_from else "")),
        "to": [str(address) for address in (message.destinations or [])],
        "cc": [address for _, address in getaddresses([str(parsed["Cc"] or "")]) if address],
        "bcc": [],
        "subject": str(parsed["Subject"] or "").strip(),  # a folded header keeps its leading space
        "text": text,
        "html": html,
        "raw": raw,
        "sent_at": sent_at.isoformat(),
    }
