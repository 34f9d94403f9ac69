"""Sending an email exactly once: render it, claim its delivery key, send, record the message id.

Every email Matterline sends has a *delivery key* that names the fact it reports (this user's weekly
report of that week; this invoice's approval; this export run). Workflow tasks are retried (a crash,
a timeout, a redelivery), and the key is what makes a retry harmless: the second attempt finds the
delivery sent, or claimed by a live attempt, and sends nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from chalicelib.ports import Clock, DeliveryLedger, EmailAttachment, EmailRenderer, EmailSender, OutgoingEmail

# An attempt that claimed a delivery and did not record it within this time died in between: another
# attempt may send. Longer than any sending task's Lambda timeout.
CLAIM_LIFETIME = timedelta(minutes=15)


@dataclass(frozen=True)
class Delivery:
    """What became of one delivery: ``sent`` now, or ``already`` sent (or being sent) by another attempt."""

    key: str
    outcome: str
    message_id: str | None
    recipients: tuple[str, ...]
    subject: str = ""


class NotificationService:
    """Renders and sends emails, once per delivery key."""

    def __init__(
        self, sender: EmailSender, renderer: EmailRenderer, ledger: DeliveryLedger, clock: Clock
    ) -> None:
        self._sender = sender
        self._renderer = renderer
        self._ledger = ledger
        self._clock = clock

    def deliver(
        self,
        *,
        key: str,
        firm_id: str,
        template: str,
        context: Mapping[str, Any],
        to: Iterable[str],
        cc: Iterable[str] = (),
        attachments: tuple[EmailAttachment, ...] = (),
        kind: str = "",
    ) -> Delivery:
        """Send the email ``template`` to ``to`` unless delivery ``key`` already went out."""
        recipients = tuple(dict.fromkeys(address.strip().lower() for address in to if address.strip()))
        copies = tuple(
            address
            for address in dict.fromkeys(a.strip().lower() for a in cc if a.strip())
            if address not in recipients
        )
        if not recipients:
            return Delivery(key, "no_recipients", None, ())
        already = self._ledger.sent(key, firm_id)
        if already is not None:
            return Delivery(key, "already", already, recipients)
        # Render before claiming: a template error must not leave a claim behind.
        subject, html, text = self._renderer.render(template, context)
        if not self._ledger.claim(key, firm_id, self._clock.now() - CLAIM_LIFETIME):
            return Delivery(key, "already", self._ledger.sent(key, firm_id), recipients, subject)
        email = OutgoingEmail(
            to=recipients,
            cc=copies,
            subject=subject,
            html=html,
            text=text,
            attachments=attachments,
            tags={"kind": kind or template, "firm": firm_id},
        )
        try:
            message_id = self._sender.send(email)
        except Exception:
            # Nothing went out: give the claim back so the task's retry sends it.
            self._ledger.release(key, firm_id)
            raise
        self._ledger.mark_sent(key, firm_id, message_id)
        return Delivery(key, "sent", message_id, recipients, subject)
