"""The devstack's outbox archive: every email sent through the embedded SES, saved as ``.eml``.

moto keeps sent mail in memory only (``devstack.aws.outbox.sent_emails``), so a restart would lose
it. The archive writes each message once to ``var/outbox/<time>-<id>.eml`` (the raw MIME SES was
given, or a MIME rendering of Simple content) and lists the archive, newest first, for the devstack
page and ``GET /devstack/outbox.json``. Any mail client opens the files.
"""

from __future__ import annotations

import email
import email.policy
import re
import threading
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import getaddresses, parsedate_to_datetime
from pathlib import Path
from typing import Any

from devstack.aws.outbox import sent_emails

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


class OutboxArchive:
    """Saves sent emails under ``folder`` and lists them."""

    def __init__(self, folder: Path, region: str) -> None:
        self.folder = folder
        self.region = region
        self._lock = threading.Lock()

    def sync(self) -> list[dict[str, Any]]:
        """Save what was sent since the last call, then list the whole archive, newest first."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with self._lock:
            saved = {path.stem.split("-", 1)[-1] for path in self.folder.glob("*.eml")}
            for sent in reversed(sent_emails(self.region)):  # oldest first: file names sort by time
                key = _SAFE.sub("_", str(sent["id"]))
                if key in saved:
                    continue
                stamp = datetime.fromisoformat(sent["sent_at"]).astimezone(UTC)
                target = self.folder / f"{stamp:%Y%m%dT%H%M%S%f}-{key}.eml"
                temporary = target.with_suffix(".tmp")
                temporary.write_bytes(_mime(sent))
                temporary.replace(target)
                saved.add(key)
        return self.listing()

    def listing(self) -> list[dict[str, Any]]:
        """Every archived email, newest first: headers, both bodies and the file's name."""
        entries = []
        for path in sorted(self.folder.glob("*.eml"), reverse=True):
            entries.append(_entry(path))
        return entries

    def path_of(self, name: str) -> Path | None:
        """The archived file called ``name`` (nothing outside the archive)."""
        candidate = (self.folder / name).resolve()
        if candidate.parent != self.folder.resolve() or candidate.suffix != ".eml" or not candidate.is_file():
            return None
        return candidate


def _mime(sent: dict[str, Any]) -> bytes:
    if sent.get("raw"):
        return str(sent["raw"]).encode("utf-8")
    message = EmailMessage()
    message["From"] = sent.get("from") or ""
    message["To"] = ", ".join(sent.get("to") or [])
    if sent.get("cc"):
        message["Cc"] = ", ".join(sent["cc"])
    message["Subject"] = sent.get("subject") or ""
    message["Date"] = datetime.fromisoformat(sent["sent_at"]).strftime("%a, %d %b %Y %H:%M:%S +0000")
    if sent.get("html"):
        message.set_content(sent.get("text") or "")
        message.add_alternative(sent["html"], subtype="html")
    else:
        message.set_content(sent.get("text") or "")
    return message.as_bytes()


def _entry(path: Path) -> dict[str, Any]:
    parsed = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    text = html = None
    attachments: list[str] = []
    if isinstance(parsed, EmailMessage):
        text_part = parsed.get_body(preferencelist=("plain",))
        html_part = parsed.get_body(preferencelist=("html",))
        text = text_part.get_content() if isinstance(text_part, EmailMessage) else None
        html = html_part.get_content() if isinstance(html_part, EmailMessage) else None
        attachments = [str(part.get_filename()) for part in parsed.iter_attachments() if part.get_filename()]
    sent_at = None
    if parsed["Date"]:
        try:
            sent_at = parsedate_to_datetime(str(parsed["Date"])).astimezone(UTC).isoformat()
        except (TypeError, ValueError):
            sent_at = None
    return {
        "id": path.stem.split("-", 1)[-1],
        "file": path.name,
        "eml": f"/devstack/outbox/{path.name}",
        "from": str(parsed["From"] or ""),
        "to": [address for _, address in getaddresses([str(parsed["To"] or "")]) if address],
        "cc": [address for _, address in getaddresses([str(parsed["Cc"] or "")]) if address],
        "subject": str(parsed["Subject"] or ""),
        "sent_at": sent_at,
        "text": text,
        "html": html,
        "attachments": attachments,
    }
