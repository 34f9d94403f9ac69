"""What contractor-module transitions imply: the service persists the records, then hands these events to
the workflow (notifications, the approved-invoice PDF, allocation deductions, audit).

Every event names the firm, when it happened and who did it. Invoice events also name the invoice, its
contractor and whether the contractor acted themselves (they are not emailed about their own actions);
``notified_action`` says which invoice action notification, if any, the event triggers.

Public API: ``ContractorEvent`` and ``InvoiceEvent`` (bases) and one class per fact:
``WorkOrderCreated``, ``WorkOrderCompleted``, ``WorkOrderReopened``, ``PsrAdded``, ``PsrEdited``,
``PsrDeleted``, ``BtLogged``, ``BtRevised``, ``BtDeleted``, ``InvoiceCreated``, ``InvoiceBtsAdded``,
``InvoiceBtsRemoved``, ``InvoiceDetailsChanged``, ``InvoiceNoteAdded``, ``InvoiceDeleted``,
``InvoiceSubmitted``, ``InvoiceReturnedToDraft``, ``BtVerified``, ``BtDisputed``, ``BtDenied``,
``InvoiceVerified``, ``InvoiceDisputed``, ``InvoiceResubmitted``, ``InvoiceApproved``,
``InvoiceUnapproved``, ``InvoiceScheduled``, ``InvoicePaid``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from chalicelib.domain.contractors.contractors import ContractorRef
from chalicelib.domain.contractors.settings import NotifiedAction


@dataclass(frozen=True, kw_only=True)
class ContractorEvent:
    firm_id: str
    at: datetime
    actor: str

    @property
    def name(self) -> str:
        return type(self).__name__

    @property
    def notified_action(self) -> NotifiedAction | None:
        """The invoice action notification this event sends, if any."""
        return None


# ------------------------------------------------------------------ work orders and BTs


@dataclass(frozen=True, kw_only=True)
class WorkOrderCreated(ContractorEvent):
    work_order_id: str
    assignee: ContractorRef
    matter_ids: tuple[str, ...]
    template_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class WorkOrderCompleted(ContractorEvent):
    work_order_id: str
    closing_matter_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class WorkOrderReopened(ContractorEvent):
    work_order_id: str


@dataclass(frozen=True, kw_only=True)
class PsrAdded(ContractorEvent):
    work_order_id: str
    psr_id: str
    product_id: str
    rate: Decimal | None


@dataclass(frozen=True, kw_only=True)
class PsrEdited(ContractorEvent):
    work_order_id: str
    psr_id: str
    rate_before: Decimal | None
    rate_after: Decimal | None


@dataclass(frozen=True, kw_only=True)
class PsrDeleted(ContractorEvent):
    work_order_id: str
    psr_id: str


@dataclass(frozen=True, kw_only=True)
class BtLogged(ContractorEvent):
    bt_id: str
    work_order_id: str
    contractor: ContractorRef
    amount: Decimal
    service_record_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class BtRevised(ContractorEvent):
    bt_id: str
    amount_before: Decimal
    amount_after: Decimal


@dataclass(frozen=True, kw_only=True)
class BtDeleted(ContractorEvent):
    bt_id: str
    work_order_id: str
    invoice_id: str | None
    # The timeslip's service record goes with it.
    service_record_id: str | None = None


# ------------------------------------------------------------------ invoices


@dataclass(frozen=True, kw_only=True)
class InvoiceEvent(ContractorEvent):
    invoice_id: str
    contractor: ContractorRef
    by_contractor: bool
    # The invoice version the transition committed: orders an invoice's events (the workflow's decision
    # log); 0 where no version is known.
    invoice_version: int = 0


@dataclass(frozen=True, kw_only=True)
class InvoiceCreated(InvoiceEvent):
    bt_ids: tuple[str, ...]
    total: Decimal


@dataclass(frozen=True, kw_only=True)
class InvoiceBtsAdded(InvoiceEvent):
    bt_ids: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class InvoiceBtsRemoved(InvoiceEvent):
    bt_ids: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class InvoiceDetailsChanged(InvoiceEvent):
    invoice_date: date | None
    due_date: date | None


@dataclass(frozen=True, kw_only=True)
class InvoiceNoteAdded(InvoiceEvent):
    note_id: str
    text: str

    @property
    def notified_action(self) -> NotifiedAction | None:
        return NotifiedAction.NOTE_ADDED


@dataclass(frozen=True, kw_only=True)
class InvoiceDeleted(InvoiceEvent):
    bt_ids: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class InvoiceSubmitted(InvoiceEvent):
    total: Decimal

    @property
    def notified_action(self) -> NotifiedAction | None:
        return NotifiedAction.SUBMITTED


@dataclass(frozen=True, kw_only=True)
class InvoiceResubmitted(InvoiceEvent):
    total: Decimal

    @property
    def notified_action(self) -> NotifiedAction | None:
        return NotifiedAction.SUBMITTED


@dataclass(frozen=True, kw_only=True)
class InvoiceReturnedToDraft(InvoiceEvent):
    @property
    def notified_action(self) -> NotifiedAction | None:
        return NotifiedAction.RETURNED_TO_DRAFT


@dataclass(frozen=True, kw_only=True)
class BtVerified(InvoiceEvent):
    bt_ids: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class BtDisputed(InvoiceEvent):
    bt_ids: tuple[str, ...]
    reason: str

    @property
    def notified_action(self) -> NotifiedAction | None:
        return NotifiedAction.BT_DISPUTED


@dataclass(frozen=True, kw_only=True)
class BtDenied(InvoiceEvent):
    bt_ids: tuple[str, ...]
    reason: str

    @property
    def notified_action(self) -> NotifiedAction | None:
        return NotifiedAction.BT_DENIED


@dataclass(frozen=True, kw_only=True)
class InvoiceVerified(InvoiceEvent):
    total: Decimal


@dataclass(frozen=True, kw_only=True)
class InvoiceDisputed(InvoiceEvent):
    disputed_bt_ids: tuple[str, ...]
    denied_bt_ids: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class InvoiceApproved(InvoiceEvent):
    """Approved for payment: deduct ``amounts_by_matter`` from the matter allocations; send the PDF."""

    total: Decimal
    amounts_by_matter: dict[str, Decimal] = field(default_factory=dict)
    returned_to_pool: tuple[str, ...] = ()

    @property
    def notified_action(self) -> NotifiedAction | None:
        return NotifiedAction.APPROVED


@dataclass(frozen=True, kw_only=True)
class InvoiceUnapproved(InvoiceEvent):
    """Back to verified: give ``amounts_by_matter`` back to the matter allocations."""

    total: Decimal
    amounts_by_matter: dict[str, Decimal] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class InvoiceScheduled(InvoiceEvent):
    pay_period_start: date
    pay_period_end: date
    rescheduled: bool = False


@dataclass(frozen=True, kw_only=True)
class InvoicePaid(InvoiceEvent):
    total: Decimal
    payment_method: str
    payment_reference: str
