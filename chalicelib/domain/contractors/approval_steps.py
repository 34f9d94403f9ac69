"""What a waiting step of the invoice approval workflow can tell from the invoice's status alone.

The workflow is told of each staff decision by a signal (a task token answered by the event sink). A
signal can be lost: published while the step's wait was timing out into a reminder, or a process dying
between the commit and the signal. The invoice record is the truth, so each time a step starts waiting
it also reads the status: an invoice already past the step answers the wait itself.

    step       waits while   answered by the status
    ────────   ───────────   ──────────────────────────────────────────────────────────────────────
    verify     submitted     disputed → disputed · draft → returned_to_draft · later → verified
    resubmit   disputed      draft → returned_to_draft · submitted or later → resubmitted
    approve    verified      approved or later → approved
    schedule   approved      verified → unapproved · payment_scheduled or paid → scheduled
    pay        scheduled     paid → paid

Only a status the step can have led to answers it; anything else (say, an invoice back in draft while
the workflow waits for approval, which no transition allows) keeps the step waiting on its signal.
"""

from __future__ import annotations

from chalicelib.domain.contractors.lookups import InvoiceStatus

_S = InvoiceStatus
_AFTER_VERIFIED = (_S.VERIFIED, _S.APPROVED, _S.PAYMENT_SCHEDULED, _S.PAID)

_OUTCOMES: dict[str, dict[InvoiceStatus, str]] = {
    "verify": {
        _S.DISPUTED: "disputed",
        _S.DRAFT: "returned_to_draft",
        **dict.fromkeys(_AFTER_VERIFIED, "verified"),
    },
    "resubmit": {
        _S.DRAFT: "returned_to_draft",
        **dict.fromkeys((_S.SUBMITTED, *_AFTER_VERIFIED), "resubmitted"),
    },
    "approve": dict.fromkeys((_S.APPROVED, _S.PAYMENT_SCHEDULED, _S.PAID), "approved"),
    "schedule": {_S.VERIFIED: "unapproved", _S.PAYMENT_SCHEDULED: "scheduled", _S.PAID: "scheduled"},
    "pay": {_S.PAID: "paid"},
}

STEPS = tuple(_OUTCOMES)


def outcome_from_status(step: str, status: InvoiceStatus) -> str | None:
    """The decision ``step`` would have been signalled, judging by ``status``; None while it still waits."""
    return _OUTCOMES[step].get(status)
