"""``ContractorEventSink`` on Step Functions: invoice transitions drive the invoice approval workflow.

The contractor service commits each invoice transition (a conditional write: the invoice record is the
truth), then publishes the domain's events here:

* ``InvoiceSubmitted`` starts an execution of the ``invoices`` state machine. Its name is derived from
  the invoice and the submission's time, so publishing the same event twice starts one execution;
* every later transition is logged as a staff decision under the invoice version it committed, and
  answers the decision the execution waits on (its task token), if it waits already; otherwise the
  execution finds it in the log when it gets there (``InvoiceWaits`` explains the hand-over).

* a note, or a line disputed or denied while the invoice stays where it is, waits for no one: its
  invoice action notification goes to the work queue (``invoice_notification`` job), whose worker
  sends it once (the job carries the delivery key, so a redelivered job sends nothing more).

Other events (work orders, BTs outside invoices) are not the workflow's business.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Sequence
from typing import Any

from chalicelib.domain.contractors.events import (
    BtDenied,
    BtDisputed,
    ContractorEvent,
    InvoiceApproved,
    InvoiceDisputed,
    InvoiceEvent,
    InvoiceNoteAdded,
    InvoicePaid,
    InvoiceResubmitted,
    InvoiceReturnedToDraft,
    InvoiceScheduled,
    InvoiceSubmitted,
    InvoiceUnapproved,
    InvoiceVerified,
)
from chalicelib.ports import InvoiceWaits, WorkflowSignals, WorkflowStarter, WorkQueue

logger = logging.getLogger(__name__)

WORKFLOW = "invoices"
_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")

# Which waiting step an event answers, and with which outcome. A return to draft can come while the
# workflow waits for verification or for a resubmission (after a dispute).
DECISIONS: dict[type[InvoiceEvent], tuple[tuple[str, ...], str]] = {
    InvoiceVerified: (("verify",), "verified"),
    InvoiceDisputed: (("verify",), "disputed"),
    InvoiceReturnedToDraft: (("verify", "resubmit"), "returned_to_draft"),
    InvoiceResubmitted: (("resubmit",), "resubmitted"),
    InvoiceApproved: (("approve",), "approved"),
    InvoiceUnapproved: (("schedule",), "unapproved"),
    InvoiceScheduled: (("schedule",), "scheduled"),
    InvoicePaid: (("pay",), "paid"),
}


def notification_job(event: InvoiceNoteAdded | BtDisputed | BtDenied) -> dict[str, Any]:
    """The work-queue job that sends the invoice action notification of a note or a BT decision."""
    if isinstance(event, InvoiceNoteAdded):
        kind, subject, detail = "note_added", event.note_id, event.text
    else:
        kind = "bt_disputed" if isinstance(event, BtDisputed) else "bt_denied"
        subject = ",".join(sorted(event.bt_ids))
        lines = "line" if len(event.bt_ids) == 1 else "lines"
        detail = f"{event.reason}\n({len(event.bt_ids)} {lines}: {', '.join(event.bt_ids)})"
    fact = f"{event.firm_id}|{event.invoice_id}|{kind}|{subject}|{event.at.isoformat()}"
    return {
        "kind": "invoice_notification",
        "firm_id": event.firm_id,
        "invoice_id": event.invoice_id,
        "event": kind,
        "key": f"invoice-event:{hashlib.sha256(fact.encode()).hexdigest()[:32]}",
        "by_contractor": event.by_contractor,
        "detail": detail[:2000],
    }


def execution_name(event: InvoiceSubmitted) -> str:
    """``inv-<invoice>-<submitted at>``: unique per submission, the same for a replayed event (≤ 80)."""
    name = f"inv-{_NAME_UNSAFE.sub('_', event.invoice_id)}-{event.at:%Y%m%dT%H%M%S%f}"
    if len(name) <= 80:
        return name
    digest = hashlib.sha256(event.invoice_id.encode()).hexdigest()[:24]
    return f"inv-{digest}-{event.at:%Y%m%dT%H%M%S%f}"


class StepFunctionsContractorEventSink:
    """Starts and steers one execution per invoice submission."""

    def __init__(
        self,
        workflows: WorkflowStarter,
        waits: InvoiceWaits,
        signals: WorkflowSignals,
        queue: WorkQueue,
        *,
        reminder_seconds: int,
        escalate_after_reminders: int,
    ) -> None:
        self._workflows = workflows
        self._waits = waits
        self._signals = signals
        self._queue = queue
        self._reminder_seconds = reminder_seconds
        self._escalate_after = escalate_after_reminders

    def publish(self, events: Sequence[ContractorEvent]) -> None:
        """Called after every committed invoice transition, with the transition's events."""
        direct = [
            notification_job(e) for e in events if isinstance(e, InvoiceNoteAdded | BtDisputed | BtDenied)
        ]
        if direct:
            self._queue.send(direct)
        for event in events:
            if isinstance(event, InvoiceSubmitted):
                self._start(event)
                continue
            decision = DECISIONS.get(type(event)) if isinstance(event, InvoiceEvent) else None
            if decision is None or not isinstance(event, InvoiceEvent):
                continue
            if isinstance(event, InvoiceScheduled) and event.rescheduled:
                continue  # a new pay period for a scheduled invoice: the workflow waits for payment
            self._decide(event, *decision)

    def _start(self, event: InvoiceSubmitted) -> None:
        name = execution_name(event)
        # The pointer first: a decision published right after this must find the execution's name.
        self._waits.set_current(event.firm_id, event.invoice_id, name)
        self._workflows.start(
            WORKFLOW,
            name,
            {
                "firm_id": event.firm_id,
                "invoice_id": event.invoice_id,
                "submitted_at": event.at.isoformat(),
                "by_contractor": event.by_contractor,
                # The cursor into the decision log (``InvoiceWaits``): decisions after the submission.
                "decision": {"outcome": "submitted", "seq": event.invoice_version},
                "waits": {
                    "reminder_seconds": self._reminder_seconds,
                    "escalate_after": self._escalate_after,
                },
            },
        )

    def _decide(self, event: InvoiceEvent, steps: tuple[str, ...], outcome: str) -> None:
        execution = self._waits.current(event.firm_id, event.invoice_id)
        if execution is None:
            logger.warning("no approval workflow for invoice %s; %s ignored", event.invoice_id, event.name)
            return
        decision: dict[str, Any] = {
            "outcome": outcome,
            "event": event.name,
            "at": event.at.isoformat(),
            "actor": event.actor,
            "by_contractor": event.by_contractor,
            "seq": event.invoice_version,
        }
        # Log the decision first, then look for a waiting token: the waiting task stores its token
        # first, then reads the log. Whatever the interleaving, at least one side sees the other; if
        # both do, the token is answered twice with the same decision, and Step Functions keeps the
        # first answer (the second is ignored by ``WorkflowSignals``).
        self._waits.put_decision(
            event.firm_id, event.invoice_id, execution, event.invoice_version, steps, decision
        )
        for step in steps:
            token = self._waits.take_token(event.firm_id, event.invoice_id, execution, step)
            # A token whose wait just timed out (the step is reminding) takes no answer; the decision
            # stays in the log, and the step's next wait finds it there.
            if token is not None and self._signals.succeed(token, decision):
                return
