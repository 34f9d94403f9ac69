"""The tasks of the invoice approval workflow (``infra/statemachines/invoice_approval.asl.json``).

    NotifySubmitted ─▶ wait: verify ─┬─ verified ──▶ wait: approve ── approved ─▶ SendApprovedInvoice
          ▲                          ├─ disputed ──▶ NotifyDisputed ─▶ wait: resubmit ─┐      │
          └──────────── resubmitted ─┼────────────────────────────────────────────────┘      ▼
                                     └─ returned to draft ─▶ NotifyReturned ─▶ end    wait: schedule
                                                                                     ─▶ wait: pay ─▶ end
    every wait: no decision within the reminder time ─▶ Remind (after N reminders: Escalate) ─▶ wait again

The invoice record (the contractor module's repository) is the truth; these tasks only read it, tell
people, and hand the waiting task's token over (``InvoiceWaits``). Every email has a delivery key made
of the execution and the state's entry time, so a retried task never sends a second one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib.domain.contractors.approval_steps import outcome_from_status
from chalicelib.domain.contractors.invoices import Invoice, payee_name
from chalicelib.domain.contractors.settings import (
    NotifiedAction,
    approved_pdf_recipients,
    invoice_action_recipients,
    render_pdf_email,
)
from chalicelib.domain.errors import NotFound
from chalicelib.ports import (
    Clock,
    EmailAttachment,
    FileStore,
    FirmRepository,
    InvoiceRecords,
    InvoiceWaits,
    WorkflowSignals,
)
from chalicelib.services.notifications import Delivery, NotificationService
from chalicelib.services.reports import ReportService

# What each waiting step waits for, as the emails say it.
STEP_LABELS = {
    "verify": "verification",
    "resubmit": "the contractor's corrections",
    "approve": "approval",
    "schedule": "scheduling to a pay period",
    "pay": "payment",
}
# The notification each workflow event sends (the seed's invoice action notifications).
EVENT_ACTIONS = {
    "submitted": NotifiedAction.SUBMITTED,
    "disputed": NotifiedAction.BT_DISPUTED,
    "returned_to_draft": NotifiedAction.RETURNED_TO_DRAFT,
    # Sent straight from the event (the work queue), not from a workflow step: see ``notify_event``.
    "note_added": NotifiedAction.NOTE_ADDED,
    "bt_disputed": NotifiedAction.BT_DISPUTED,
    "bt_denied": NotifiedAction.BT_DENIED,
}
EVENT_HEADLINES = {
    "submitted": "was submitted and is waiting for verification",
    "disputed": "was disputed: some lines need the contractor's corrections",
    "returned_to_draft": "was returned to draft",
    "approved": "was approved for payment",
    "note_added": "has a new note",
    "bt_disputed": "has lines disputed by the reviewer",
    "bt_denied": "has lines denied by the reviewer",
}


@dataclass(frozen=True)
class InvoiceFacts:
    """What the emails say about an invoice."""

    invoice: Invoice
    bts: list[Any]
    settings: Any
    contractor_email: str | None
    payee: str
    total: str


class InvoiceApprovalService:
    """Notifications, reminders, escalations, the approved-invoice PDF and the task-token hand-over."""

    def __init__(
        self,
        *,
        records: InvoiceRecords,
        waits: InvoiceWaits,
        signals: WorkflowSignals,
        notifications: NotificationService,
        reports: ReportService,
        firms: FirmRepository,
        files: FileStore,
        clock: Clock,
        console_url: str,
    ) -> None:
        self._records = records
        self._waits = waits
        self._signals = signals
        self._notifications = notifications
        self._reports = reports
        self._firms = firms
        self._files = files
        self._clock = clock
        self._console_url = console_url

    # ------------------------------------------------------------ waiting on staff

    def await_decision(
        self, firm_id: str, invoice_id: str, execution: str, step: str, token: str, after: int
    ) -> str:
        """Store the waiting step's token; answer it at once if its decision came first: logged after the
        execution's cursor ``after``, or, when that signal was lost, told by the invoice's status."""
        self._waits.put_token(firm_id, invoice_id, execution, step, token)
        decision = next(
            (
                logged
                for steps, logged in self._waits.decisions_after(firm_id, invoice_id, execution, after)
                if step in steps
            ),
            None,
        ) or self._decision_from_status(firm_id, invoice_id, step)
        if decision is None:
            return "waiting"
        self._signals.succeed(token, decision)
        self._waits.take_token(firm_id, invoice_id, execution, step)
        return "answered"

    def _decision_from_status(self, firm_id: str, invoice_id: str, step: str) -> dict[str, Any] | None:
        invoice = self._records.invoice(firm_id, invoice_id)
        outcome = outcome_from_status(step, invoice.status) if invoice is not None else None
        if outcome is None:
            return None
        # The invoice's version moves the cursor past every decision this status already includes,
        # so their signals, logged late, are not taken for the next round's. Who acted is in the
        # audit trail, not on the invoice: the contractor gets the email either way.
        return {
            "outcome": outcome,
            "event": "status",
            "at": None,
            "actor": None,
            "by_contractor": False,
            "seq": invoice.version,
        }

    # ------------------------------------------------------------ emails

    def notify(
        self,
        firm_id: str,
        invoice_id: str,
        event: str,
        key: str,
        by_contractor: bool = False,
        detail: str = "",
    ) -> Delivery:
        """The invoice action notification of ``event`` to the firm's list (and the contractor);
        ``detail`` is what the email quotes (the note, or the reviewer's reason and the lines)."""
        facts = self._facts(firm_id, invoice_id)
        action = EVENT_ACTIONS[event]
        recipients = invoice_action_recipients(
            facts.settings, action, contractor_email=facts.contractor_email, by_contractor=by_contractor
        )
        return self._notifications.deliver(
            key=key,
            firm_id=firm_id,
            template="invoice_action",
            kind=f"invoice_{event}",
            to=recipients,
            context=self._context(
                firm_id, facts, headline=EVENT_HEADLINES[event], kind="action", detail=detail
            ),
        )

    def remind(
        self, firm_id: str, invoice_id: str, step: str, reminder: int, escalate_after: int, key: str
    ) -> dict[str, Any]:
        """A reminder to the staff list that the invoice still waits; from ``escalate_after`` reminders
        on, an escalation to the firm's admins as well."""
        facts = self._facts(firm_id, invoice_id)
        staff = list(facts.settings.invoice_action_notifications.recipients)
        escalated = reminder >= escalate_after
        admins = self._reports.admin_addresses(firm_id)
        to = [*staff, *admins] if escalated else (staff or admins)
        label = STEP_LABELS.get(step, step)
        delivery = self._notifications.deliver(
            key=key,
            firm_id=firm_id,
            template="invoice_action",
            kind="invoice_escalation" if escalated else "invoice_reminder",
            to=to,
            context=self._context(
                firm_id,
                facts,
                headline=f"is still waiting for {label}",
                kind="escalation" if escalated else "reminder",
                reminder=reminder,
            ),
        )
        return {"count": reminder, "escalated": escalated, "outcome": delivery.outcome}

    def send_approved(self, firm_id: str, invoice_id: str, key: str) -> dict[str, Any]:
        """On approval: the action notification, and the approved invoice as a PDF to its recipients."""
        from chalicelib.adapters.documents.invoice_pdf import render_invoice_pdf

        facts = self._facts(firm_id, invoice_id)
        firm = self._firms.get(firm_id)
        firm_name = firm.name if firm else firm_id
        notified = self._notifications.deliver(
            key=f"{key}:action",
            firm_id=firm_id,
            template="invoice_action",
            kind="invoice_approved",
            to=invoice_action_recipients(
                facts.settings,
                NotifiedAction.APPROVED,
                contractor_email=facts.contractor_email,
                by_contractor=False,
            ),
            context=self._context(firm_id, facts, headline=EVENT_HEADLINES["approved"], kind="action"),
        )
        recipients = approved_pdf_recipients(facts.settings, contractor_email=facts.contractor_email)
        pdf_delivery = Delivery(f"{key}:pdf", "no_recipients", None, ())
        if recipients:
            logo_key = facts.settings.approved_invoice_pdf.logo_document_key
            logo = self._files.get(logo_key) if logo_key else None
            pdf = render_invoice_pdf(
                facts.invoice, facts.bts, facts.settings, firm_name=firm_name, logo_png=logo
            )
            approved_on = facts.invoice.approved_at or self._clock.now()
            subject, body = render_pdf_email(
                facts.settings,
                {
                    "invoice_number": facts.invoice.invoice_id,
                    "contractor_name": facts.payee,
                    "total": facts.total,
                    "approved_on": f"{approved_on:%d %B %Y}",
                    "firm_name": firm_name,
                },
            )
            pdf_delivery = self._notifications.deliver(
                key=f"{key}:pdf",
                firm_id=firm_id,
                template="invoice_approved",
                kind="invoice_approved_pdf",
                to=recipients,
                context={"custom_subject": subject, "paragraphs": [p for p in body.split("\n") if p.strip()]},
                attachments=(
                    EmailAttachment(f"invoice-{facts.invoice.invoice_id}.pdf", "application/pdf", pdf),
                ),
            )
        return {"action": notified.outcome, "pdf": pdf_delivery.outcome}

    # ------------------------------------------------------------ helpers

    def _facts(self, firm_id: str, invoice_id: str) -> InvoiceFacts:
        invoice, bts = self._records.invoice_with_bts(firm_id, invoice_id)
        if invoice is None:
            raise NotFound(f"there is no invoice {invoice_id}")
        settings = self._records.settings(firm_id)
        contractor = self._records.contractor(firm_id, invoice.contractor)
        # Approval returns disputed and denied lines to the pool: the PDF shows what is paid.
        kept = [bt for bt in bts if bt.invoice_id == invoice.invoice_id]
        return InvoiceFacts(
            invoice=invoice,
            bts=kept,
            settings=settings,
            contractor_email=contractor.email if contractor is not None else None,
            payee=payee_name(invoice, settings),
            total=f"${invoice.total.quantize(invoice.total.__class__('0.01')):,}",
        )

    def _context(self, firm_id: str, facts: InvoiceFacts, **extra: Any) -> Mapping[str, Any]:
        firm = self._firms.get(firm_id)
        return {
            "firm_name": firm.name if firm else firm_id,
            "invoice_id": facts.invoice.invoice_id,
            "payee": facts.payee,
            "total": facts.total,
            "status": facts.invoice.status.value.replace("_", " "),
            "link": f"{self._console_url.rstrip('/')}/#invoices/{facts.invoice.invoice_id}",
            "reminder": 0,
            "detail": "",
            **extra,
        }
