"""Contractor invoices: made from a contractor's non-invoiced BTs, then reviewed, approved, scheduled, paid.

    draft --submit--> submitted --verify--> verified --approve--> approved --schedule--> payment scheduled
    submitted --return to draft--> draft           approved --un-approve--> verified
    submitted --dispute--> disputed --resubmit--> submitted (as often as it takes)
    payment scheduled --schedule--> payment scheduled (another pay period) --pay--> paid
    draft or disputed --delete--> gone (its BTs return to the pool)

Per state (the seed's rules, and the decisions where it is silent):

- draft: add and remove BTs, change the invoice and due dates, add notes, delete, submit (with >= 1 BT).
- submitted: the contractor may only add a note or return it to draft (verified BTs then need verifying
  again). Staff with the verify permission decide each BT (verified, disputed with a reason, denied with a
  reason), verify the invoice (every BT not yet decided becomes verified; at least one must be), or dispute
  it (only when at least one BT is disputed or denied).
- disputed: the contractor revises disputed BTs (``transactions.revise_bt``), adds notes, removes BTs or
  deletes the invoice, and resubmits; it cycles with submitted as often as it takes.
- verified: staff with the approve permission approve it for payment. Disputed and denied BTs are then
  taken off the invoice and return to the pool with their status; what remains must not be empty.
- approved: un-approve (approve permission) goes back to verified; schedule (schedule permission) puts it on
  a pay period that has not ended.
- payment scheduled: reschedule; pay (pay permission) with a payment method and a check or transaction id,
  which marks every BT paid.
- paid: notes only.

Every transition first checks the actor (``permissions.require_invoice_action``: another contractor's
invoice is ``NotFound``, a missing permission or one's own invoice on the staff side is ``Forbidden``),
then the state (``Conflict``). Functions that change BTs take ALL the invoice's BTs (the invoice's
``bt_count`` guards against a stale list) and return the invoice, the BTs that changed and the events.

Totals: ``total`` and ``totals_by_category`` are sums of the BTs' rounded amounts (``money``).

Public API:

- ``Invoice``, ``InvoiceNote``, ``CategoryTotal``, ``InvoiceTotals``, ``InvoiceChange``, ``ALLOWED_FROM``.
- ``invoice_totals(bts) -> InvoiceTotals``; ``payee_name(invoice, settings) -> str``;
  ``refresh_totals(invoice, bts) -> Invoice``: after a BT on a draft or disputed invoice was revised. (To
  delete a BT that is on an invoice, ``remove_bts`` it first, then ``transactions.delete_bt`` it.)
- ``create_invoice``, ``add_bts``, ``remove_bts``, ``edit_details``, ``add_note``, ``delete_invoice``,
  ``submit``, ``return_to_draft``, ``verify_bts``, ``dispute_bts``, ``deny_bts``, ``verify_invoice``,
  ``dispute_invoice``, ``resubmit``, ``approve``, ``unapprove``, ``schedule``, ``pay``.
- ``available_actions(actor, invoice, bts) -> frozenset[InvoiceAction]``: the buttons to show.
- ``BulkOutcome``, ``BulkRefusal``; ``bulk_apply(targets, action) -> BulkOutcome``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from typing import TypedDict

from chalicelib.domain.contractors.allocations import AnnualStanding, require_offered
from chalicelib.domain.contractors.contractors import Contractor, ContractorKind, ContractorRef
from chalicelib.domain.contractors.events import (
    BtDenied,
    BtDisputed,
    BtVerified,
    ContractorEvent,
    InvoiceApproved,
    InvoiceBtsAdded,
    InvoiceBtsRemoved,
    InvoiceCreated,
    InvoiceDeleted,
    InvoiceDetailsChanged,
    InvoiceDisputed,
    InvoiceNoteAdded,
    InvoicePaid,
    InvoiceResubmitted,
    InvoiceReturnedToDraft,
    InvoiceScheduled,
    InvoiceSubmitted,
    InvoiceUnapproved,
    InvoiceVerified,
)
from chalicelib.domain.contractors.lookups import BtStatus, InvoiceStatus, LookupKind, LookupValue
from chalicelib.domain.contractors.money import ZERO, sum_money
from chalicelib.domain.contractors.pay_periods import PayPeriod, PayPeriodSchedule, require_schedulable
from chalicelib.domain.contractors.permissions import ContractorActor, InvoiceAction, require_invoice_action
from chalicelib.domain.contractors.settings import ContractorAddOns, ContractorSettings, name_on_invoice
from chalicelib.domain.contractors.transactions import (
    BillingTransaction,
    attach_to_invoice,
    in_pool,
    mark_paid,
    record_decision,
    release_from_invoice,
    reset_review,
)
from chalicelib.domain.errors import Conflict, DomainError, FieldError, InvalidInput, NotFound

MAX_NOTE = 4000
MAX_REFERENCE = 100
MAX_BTS = 5000

S = InvoiceStatus
ALLOWED_FROM: dict[InvoiceAction, frozenset[InvoiceStatus]] = {
    InvoiceAction.CREATE: frozenset(),
    InvoiceAction.VIEW: frozenset(S),
    InvoiceAction.ADD_BTS: frozenset({S.DRAFT}),
    InvoiceAction.REMOVE_BTS: frozenset({S.DRAFT, S.DISPUTED}),
    InvoiceAction.EDIT_DETAILS: frozenset({S.DRAFT, S.DISPUTED}),
    InvoiceAction.ADD_NOTE: frozenset(S),
    InvoiceAction.DELETE: frozenset({S.DRAFT, S.DISPUTED}),
    InvoiceAction.SUBMIT: frozenset({S.DRAFT}),
    InvoiceAction.RETURN_TO_DRAFT: frozenset({S.SUBMITTED}),
    InvoiceAction.VERIFY_BTS: frozenset({S.SUBMITTED}),
    InvoiceAction.DISPUTE_BTS: frozenset({S.SUBMITTED}),
    InvoiceAction.DENY_BTS: frozenset({S.SUBMITTED}),
    InvoiceAction.VERIFY: frozenset({S.SUBMITTED}),
    InvoiceAction.DISPUTE: frozenset({S.SUBMITTED}),
    InvoiceAction.RESUBMIT: frozenset({S.DISPUTED}),
    InvoiceAction.APPROVE: frozenset({S.VERIFIED}),
    InvoiceAction.UNAPPROVE: frozenset({S.APPROVED}),
    InvoiceAction.SCHEDULE: frozenset({S.APPROVED, S.PAYMENT_SCHEDULED}),
    InvoiceAction.PAY: frozenset({S.PAYMENT_SCHEDULED}),
}

CONTESTED = frozenset({BtStatus.DISPUTED, BtStatus.DENIED})


@dataclass(frozen=True)
class InvoiceNote:
    note_id: str
    text: str
    author: str
    at: datetime
    by_contractor: bool


@dataclass(frozen=True)
class CategoryTotal:
    category: str
    amount: Decimal
    count: int


@dataclass(frozen=True)
class InvoiceTotals:
    total: Decimal
    count: int
    by_category: tuple[CategoryTotal, ...]


@dataclass(frozen=True)
class Invoice:
    firm_id: str
    invoice_id: str
    contractor: ContractorRef
    contractor_name: str
    doing_business_as: str = ""
    status: InvoiceStatus = InvoiceStatus.DRAFT
    invoice_date: date | None = None
    due_date: date | None = None
    notes: tuple[InvoiceNote, ...] = ()
    total: Decimal = ZERO
    bt_count: int = 0
    totals_by_category: tuple[CategoryTotal, ...] = ()
    pay_period: PayPeriod | None = None
    payment_method: str | None = None
    payment_reference: str = ""
    # How many times staff disputed it: the dispute loop has no limit, but people like to know.
    dispute_count: int = 0
    created_at: datetime | None = None
    created_by: str = ""
    submitted_at: datetime | None = None
    verified_at: datetime | None = None
    verified_by: str = ""
    approved_at: datetime | None = None
    approved_by: str = ""
    scheduled_at: datetime | None = None
    scheduled_by: str = ""
    paid_at: datetime | None = None
    paid_by: str = ""
    version: int = 0


@dataclass(frozen=True)
class InvoiceChange:
    """The invoice after a transition (None once deleted), the BTs that changed, and the events."""

    invoice: Invoice | None
    bts: tuple[BillingTransaction, ...] = ()
    events: tuple[ContractorEvent, ...] = ()


def invoice_totals(bts: Sequence[BillingTransaction]) -> InvoiceTotals:
    """The invoice total and the Totals By Product Category table, from the BTs' rounded amounts."""
    amounts: dict[str, list[Decimal]] = defaultdict(list)
    for bt in bts:
        amounts[bt.category].append(bt.amount)
    by_category = tuple(
        CategoryTotal(category, sum_money(values), len(values))
        for category, values in sorted(amounts.items())
    )
    return InvoiceTotals(sum_money(bt.amount for bt in bts), len(bts), by_category)


def payee_name(invoice: Invoice, settings: ContractorSettings) -> str:
    """The name the invoice shows: the DBA name when the firm replaces names with it."""
    return name_on_invoice(settings, invoice.contractor_name, invoice.doing_business_as)


def refresh_totals(invoice: Invoice, bts: Sequence[BillingTransaction]) -> Invoice:
    """The invoice with its totals recomputed from its (revised) BTs; all of them must be given."""
    _check_current(invoice, bts)
    if invoice.status not in (S.DRAFT, S.DISPUTED):
        raise Conflict(
            f"invoice {invoice.invoice_id} is {invoice.status.value}; its transactions cannot change"
        )
    return _with_totals(invoice, bts)


# ------------------------------------------------------------------ draft


def create_invoice(
    *,
    firm_id: str,
    invoice_id: str,
    contractor: Contractor,
    bts: Sequence[BillingTransaction],
    actor: ContractorActor,
    at: datetime,
    add_ons: ContractorAddOns,
    invoice_date: date | None = None,
    due_date: date | None = None,
    note: str = "",
    note_id: str = "",
    standing: AnnualStanding | None = None,
) -> InvoiceChange:
    """A draft invoice from some of the contractor's non-invoiced BTs (at least one)."""
    require_invoice_action(actor, contractor.ref, InvoiceAction.CREATE)
    if contractor.kind is ContractorKind.ORGANIZATION and not add_ons.organizations:
        raise InvalidInput("contractor organizations are an add-on this firm has not enabled")
    if not contractor.active:
        raise Conflict(f"{contractor.name} is not an active contractor")
    if standing is not None:
        require_offered(standing, contractor.name)
    if not bts:
        raise InvalidInput(
            "choose at least one billing transaction", field_errors=[FieldError("bt_ids", "at least one")]
        )
    _check_dates(invoice_date, due_date)
    _check_new_bts(contractor.ref, bts, ())
    attached = tuple(attach_to_invoice(bt, invoice_id) for bt in bts)
    invoice = _with_totals(
        Invoice(
            firm_id=firm_id,
            invoice_id=invoice_id,
            contractor=contractor.ref,
            contractor_name=contractor.name,
            doing_business_as=contractor.doing_business_as,
            invoice_date=invoice_date,
            due_date=due_date,
            created_at=at,
            created_by=actor.actor,
        ),
        attached,
    )
    events: list[ContractorEvent] = [
        InvoiceCreated(
            **_base(invoice, actor, at), bt_ids=tuple(bt.bt_id for bt in attached), total=invoice.total
        )
    ]
    if note.strip():
        invoice, note_event = _append_note(invoice, actor, at, note_id or f"{invoice_id}-n1", note)
        events.append(note_event)
    return InvoiceChange(invoice, attached, tuple(events))


def add_bts(
    invoice: Invoice,
    bts: Sequence[BillingTransaction],
    new_bts: Sequence[BillingTransaction],
    *,
    actor: ContractorActor,
    at: datetime,
) -> InvoiceChange:
    """Add more of the contractor's non-invoiced BTs to a draft (the green check mark)."""
    _check(actor, invoice, InvoiceAction.ADD_BTS)
    _check_current(invoice, bts)
    if not new_bts:
        raise InvalidInput("choose at least one billing transaction to add")
    _check_new_bts(invoice.contractor, new_bts, bts)
    attached = tuple(attach_to_invoice(bt, invoice.invoice_id) for bt in new_bts)
    changed = _with_totals(invoice, (*bts, *attached))
    event = InvoiceBtsAdded(**_base(invoice, actor, at), bt_ids=tuple(bt.bt_id for bt in attached))
    return InvoiceChange(changed, attached, (event,))


def remove_bts(
    invoice: Invoice,
    bts: Sequence[BillingTransaction],
    bt_ids: Collection[str],
    *,
    actor: ContractorActor,
    at: datetime,
) -> InvoiceChange:
    """Take BTs off a draft or disputed invoice (the red X), back to the pool."""
    _check(actor, invoice, InvoiceAction.REMOVE_BTS)
    _check_current(invoice, bts)
    chosen = _chosen(invoice, bts, bt_ids)
    released = tuple(release_from_invoice(bt) for bt in chosen)
    leaving = {bt.bt_id for bt in chosen}
    remaining = tuple(bt for bt in bts if bt.bt_id not in leaving)
    changed = _with_totals(invoice, remaining)
    event = InvoiceBtsRemoved(**_base(invoice, actor, at), bt_ids=tuple(bt.bt_id for bt in released))
    return InvoiceChange(changed, released, (event,))


def edit_details(
    invoice: Invoice,
    *,
    actor: ContractorActor,
    at: datetime,
    invoice_date: date | None,
    due_date: date | None,
) -> InvoiceChange:
    """Change the invoice and due dates."""
    _check(actor, invoice, InvoiceAction.EDIT_DETAILS)
    _check_dates(invoice_date, due_date)
    changed = replace(invoice, invoice_date=invoice_date, due_date=due_date)
    event = InvoiceDetailsChanged(**_base(invoice, actor, at), invoice_date=invoice_date, due_date=due_date)
    return InvoiceChange(changed, (), (event,))


def add_note(
    invoice: Invoice, *, actor: ContractorActor, at: datetime, note_id: str, text: str
) -> InvoiceChange:
    """Add a note, in any state."""
    _check(actor, invoice, InvoiceAction.ADD_NOTE)
    changed, event = _append_note(invoice, actor, at, note_id, text)
    return InvoiceChange(changed, (), (event,))


def delete_invoice(
    invoice: Invoice, bts: Sequence[BillingTransaction], *, actor: ContractorActor, at: datetime
) -> InvoiceChange:
    """Delete a draft or disputed invoice; its BTs return to the pool."""
    _check(actor, invoice, InvoiceAction.DELETE)
    _check_current(invoice, bts)
    released = tuple(release_from_invoice(bt) for bt in bts)
    event = InvoiceDeleted(**_base(invoice, actor, at), bt_ids=tuple(bt.bt_id for bt in released))
    return InvoiceChange(None, released, (event,))


def submit(
    invoice: Invoice, bts: Sequence[BillingTransaction], *, actor: ContractorActor, at: datetime
) -> InvoiceChange:
    """Send a draft for review."""
    _check(actor, invoice, InvoiceAction.SUBMIT)
    _check_current(invoice, bts)
    if not bts:
        raise Conflict("the invoice has no billing transactions; add some, or delete it")
    changed = replace(invoice, status=S.SUBMITTED, submitted_at=at)
    return InvoiceChange(changed, (), (InvoiceSubmitted(**_base(invoice, actor, at), total=invoice.total),))


def return_to_draft(
    invoice: Invoice, bts: Sequence[BillingTransaction], *, actor: ContractorActor, at: datetime
) -> InvoiceChange:
    """Take a submitted invoice back to draft. Staff's verifications lapse (the draft may change); their
    disputes and denials stay, so the contractor sees what to fix."""
    _check(actor, invoice, InvoiceAction.RETURN_TO_DRAFT)
    _check_current(invoice, bts)
    reset = tuple(reset_review(bt) for bt in bts if bt.status is BtStatus.VERIFIED)
    changed = replace(invoice, status=S.DRAFT, submitted_at=None)
    return InvoiceChange(changed, reset, (InvoiceReturnedToDraft(**_base(invoice, actor, at)),))


# ------------------------------------------------------------------ review


def verify_bts(
    invoice: Invoice,
    bts: Sequence[BillingTransaction],
    bt_ids: Collection[str],
    *,
    actor: ContractorActor,
    at: datetime,
) -> InvoiceChange:
    """Mark BTs on a submitted invoice verified."""
    return _review(invoice, bts, bt_ids, BtStatus.VERIFIED, "", actor, at)


def dispute_bts(
    invoice: Invoice,
    bts: Sequence[BillingTransaction],
    bt_ids: Collection[str],
    *,
    reason: str,
    actor: ContractorActor,
    at: datetime,
) -> InvoiceChange:
    """Mark BTs disputed, saying why (the contractor is told and can answer)."""
    return _review(invoice, bts, bt_ids, BtStatus.DISPUTED, reason, actor, at)


def deny_bts(
    invoice: Invoice,
    bts: Sequence[BillingTransaction],
    bt_ids: Collection[str],
    *,
    reason: str,
    actor: ContractorActor,
    at: datetime,
) -> InvoiceChange:
    """Mark BTs denied, saying why."""
    return _review(invoice, bts, bt_ids, BtStatus.DENIED, reason, actor, at)


def verify_invoice(
    invoice: Invoice, bts: Sequence[BillingTransaction], *, actor: ContractorActor, at: datetime
) -> InvoiceChange:
    """Verify a submitted invoice: every BT not yet decided becomes verified. Disputed and denied BTs stay
    as they are (approval will take them off). At least one BT must end up verified."""
    _check(actor, invoice, InvoiceAction.VERIFY)
    _check_current(invoice, bts)
    undecided = [bt for bt in bts if bt.status is BtStatus.INVOICED]
    if not undecided and not any(bt.status is BtStatus.VERIFIED for bt in bts):
        raise Conflict("every transaction on this invoice is disputed or denied: dispute the invoice instead")
    verified = tuple(record_decision(bt, BtStatus.VERIFIED) for bt in undecided)
    changed = replace(invoice, status=S.VERIFIED, verified_at=at, verified_by=actor.actor)
    events: list[ContractorEvent] = []
    if verified:
        events.append(BtVerified(**_base(invoice, actor, at), bt_ids=tuple(bt.bt_id for bt in verified)))
    events.append(InvoiceVerified(**_base(invoice, actor, at), total=invoice.total))
    return InvoiceChange(changed, verified, tuple(events))


def dispute_invoice(
    invoice: Invoice, bts: Sequence[BillingTransaction], *, actor: ContractorActor, at: datetime
) -> InvoiceChange:
    """Send a submitted invoice back to the contractor; possible once a BT is disputed or denied."""
    _check(actor, invoice, InvoiceAction.DISPUTE)
    _check_current(invoice, bts)
    disputed = tuple(bt.bt_id for bt in bts if bt.status is BtStatus.DISPUTED)
    denied = tuple(bt.bt_id for bt in bts if bt.status is BtStatus.DENIED)
    if not disputed and not denied:
        raise Conflict("dispute or deny at least one transaction before disputing the invoice")
    changed = replace(invoice, status=S.DISPUTED, dispute_count=invoice.dispute_count + 1)
    event = InvoiceDisputed(**_base(invoice, actor, at), disputed_bt_ids=disputed, denied_bt_ids=denied)
    return InvoiceChange(changed, (), (event,))


def resubmit(
    invoice: Invoice, bts: Sequence[BillingTransaction], *, actor: ContractorActor, at: datetime
) -> InvoiceChange:
    """Send a disputed invoice back for review."""
    _check(actor, invoice, InvoiceAction.RESUBMIT)
    _check_current(invoice, bts)
    if not bts:
        raise Conflict("the invoice has no billing transactions left; delete it instead")
    changed = replace(invoice, status=S.SUBMITTED, submitted_at=at)
    return InvoiceChange(changed, (), (InvoiceResubmitted(**_base(invoice, actor, at), total=invoice.total),))


# ------------------------------------------------------------------ payment


def approve(
    invoice: Invoice, bts: Sequence[BillingTransaction], *, actor: ContractorActor, at: datetime
) -> InvoiceChange:
    """Approve a verified invoice for payment. Disputed and denied BTs leave it for the pool, keeping their
    status; the total is what remains. The event carries the amount per case, for matter allocations."""
    _check(actor, invoice, InvoiceAction.APPROVE)
    _check_current(invoice, bts)
    contested = [bt for bt in bts if bt.status in CONTESTED]
    kept = [bt for bt in bts if bt.status not in CONTESTED]
    if not kept:
        raise Conflict("nothing on this invoice is payable: every transaction is disputed or denied")
    unverified = [bt.bt_id for bt in kept if bt.status is not BtStatus.VERIFIED]
    if unverified:
        raise Conflict(f"transactions {', '.join(unverified)} are not verified; verify the invoice again")
    released = tuple(release_from_invoice(bt) for bt in contested)
    changed = replace(_with_totals(invoice, kept), status=S.APPROVED, approved_at=at, approved_by=actor.actor)
    event = InvoiceApproved(
        **_base(invoice, actor, at),
        total=changed.total,
        amounts_by_matter=_amounts_by_matter(kept),
        returned_to_pool=tuple(bt.bt_id for bt in released),
    )
    return InvoiceChange(changed, released, (event,))


def unapprove(
    invoice: Invoice, bts: Sequence[BillingTransaction], *, actor: ContractorActor, at: datetime
) -> InvoiceChange:
    """Take the approval back (approve permission): verified again, allocations credited. BTs that left
    the invoice at approval stay in the pool."""
    _check(actor, invoice, InvoiceAction.UNAPPROVE)
    _check_current(invoice, bts)
    changed = replace(invoice, status=S.VERIFIED, approved_at=None, approved_by="")
    event = InvoiceUnapproved(
        **_base(invoice, actor, at), total=invoice.total, amounts_by_matter=_amounts_by_matter(bts)
    )
    return InvoiceChange(changed, (), (event,))


def schedule(
    invoice: Invoice,
    *,
    period: PayPeriod,
    pay_periods: PayPeriodSchedule,
    today: date,
    actor: ContractorActor,
    at: datetime,
) -> InvoiceChange:
    """Schedule an approved invoice on a pay period (or move a scheduled one to another)."""
    _check(actor, invoice, InvoiceAction.SCHEDULE)
    require_schedulable(pay_periods, period, today)
    rescheduled = invoice.status is S.PAYMENT_SCHEDULED
    if rescheduled and invoice.pay_period == period:
        return InvoiceChange(invoice)
    changed = replace(
        invoice, status=S.PAYMENT_SCHEDULED, pay_period=period, scheduled_at=at, scheduled_by=actor.actor
    )
    event = InvoiceScheduled(
        **_base(invoice, actor, at),
        pay_period_start=period.start,
        pay_period_end=period.end,
        rescheduled=rescheduled,
    )
    return InvoiceChange(changed, (), (event,))


def pay(
    invoice: Invoice,
    bts: Sequence[BillingTransaction],
    *,
    payment_method: LookupValue,
    payment_reference: str,
    actor: ContractorActor,
    at: datetime,
) -> InvoiceChange:
    """Mark a scheduled invoice paid, with the payment method and the check or transaction id."""
    _check(actor, invoice, InvoiceAction.PAY)
    _check_current(invoice, bts)
    problems: list[FieldError] = []
    if payment_method.kind is not LookupKind.PAYMENT_METHOD or not payment_method.active:
        problems.append(
            FieldError("payment_method", f"'{payment_method.key}' is not an active payment method")
        )
    reference = payment_reference.strip()
    if not reference:
        problems.append(FieldError("payment_reference", "give the check or transaction id"))
    elif len(reference) > MAX_REFERENCE:
        problems.append(FieldError("payment_reference", f"at most {MAX_REFERENCE} characters"))
    if problems:
        raise InvalidInput("the payment is not complete", field_errors=problems)
    paid = tuple(mark_paid(bt) for bt in bts)
    changed = replace(
        invoice,
        status=S.PAID,
        payment_method=payment_method.key,
        payment_reference=reference,
        paid_at=at,
        paid_by=actor.actor,
    )
    event = InvoicePaid(
        **_base(invoice, actor, at),
        total=invoice.total,
        payment_method=payment_method.key,
        payment_reference=reference,
    )
    return InvoiceChange(changed, paid, (event,))


# ------------------------------------------------------------------ what to show, bulk


def available_actions(
    actor: ContractorActor, invoice: Invoice, bts: Sequence[BillingTransaction]
) -> frozenset[InvoiceAction]:
    """The actions the actor may take on the invoice now: its buttons. Empty when they cannot see it."""
    allowed: set[InvoiceAction] = set()
    for action, states in ALLOWED_FROM.items():
        if invoice.status not in states:
            continue
        try:
            require_invoice_action(actor, invoice.contractor, action)
        except DomainError:
            continue
        allowed.add(action)
    # The Dispute Invoice button becomes active once a BT is disputed or denied.
    if not any(bt.status in CONTESTED for bt in bts):
        allowed.discard(InvoiceAction.DISPUTE)
    if not bts:
        allowed -= {InvoiceAction.SUBMIT, InvoiceAction.RESUBMIT}
    return frozenset(allowed)


@dataclass(frozen=True)
class BulkRefusal:
    invoice_id: str
    code: str
    message: str


@dataclass(frozen=True)
class BulkOutcome:
    changes: tuple[InvoiceChange, ...]
    refusals: tuple[BulkRefusal, ...]


def bulk_apply(
    targets: Sequence[tuple[Invoice, Sequence[BillingTransaction]]],
    action: Callable[[Invoice, Sequence[BillingTransaction]], InvoiceChange],
) -> BulkOutcome:
    """Bulk invoice actions: the action on each invoice on its own; one refusal does not stop the others."""
    changes: list[InvoiceChange] = []
    refusals: list[BulkRefusal] = []
    for invoice, bts in targets:
        try:
            changes.append(action(invoice, bts))
        except DomainError as error:
            refusals.append(BulkRefusal(invoice.invoice_id, error.code, error.message))
    return BulkOutcome(tuple(changes), tuple(refusals))


# ------------------------------------------------------------------ helpers


def _check(actor: ContractorActor, invoice: Invoice, action: InvoiceAction) -> None:
    require_invoice_action(actor, invoice.contractor, action)
    allowed = ALLOWED_FROM[action]
    if invoice.status not in allowed:
        states = ", ".join(sorted(s.value.replace("_", " ") for s in allowed))
        raise Conflict(
            f"invoice {invoice.invoice_id} is {invoice.status.value.replace('_', ' ')}; "
            f"'{action.value.replace('_', ' ')}' is possible only when it is {states}"
        )


def _check_current(invoice: Invoice, bts: Sequence[BillingTransaction]) -> None:
    strays = [bt.bt_id for bt in bts if bt.invoice_id != invoice.invoice_id]
    if strays:
        raise InvalidInput(f"transactions {', '.join(strays)} are not on invoice {invoice.invoice_id}")
    if len(bts) != invoice.bt_count or len({bt.bt_id for bt in bts}) != len(bts):
        raise Conflict(f"invoice {invoice.invoice_id}'s transactions changed since they were read; reload it")


def _check_new_bts(
    contractor: ContractorRef, new_bts: Sequence[BillingTransaction], current: Sequence[BillingTransaction]
) -> None:
    ids = [bt.bt_id for bt in new_bts]
    if len(set(ids)) != len(ids):
        raise InvalidInput("a billing transaction is listed twice")
    if len(current) + len(new_bts) > MAX_BTS:
        raise Conflict(f"an invoice holds at most {MAX_BTS} billing transactions; start another invoice")
    for bt in new_bts:
        if bt.contractor != contractor:
            raise InvalidInput(f"billing transaction {bt.bt_id} is another contractor's")
        if not in_pool(bt):
            where = f"already on invoice {bt.invoice_id}" if bt.invoice_id else bt.status.value
            raise Conflict(
                f"billing transaction {bt.bt_id} is {where}; only non-invoiced transactions can be added"
            )


def _chosen(
    invoice: Invoice, bts: Sequence[BillingTransaction], bt_ids: Collection[str]
) -> list[BillingTransaction]:
    if not bt_ids:
        raise InvalidInput("choose at least one billing transaction")
    on_invoice = {bt.bt_id: bt for bt in bts}
    missing = sorted(set(bt_ids) - set(on_invoice))
    if missing:
        raise NotFound(f"transactions {', '.join(missing)} are not on invoice {invoice.invoice_id}")
    wanted = set(bt_ids)
    return [bt for bt_id, bt in on_invoice.items() if bt_id in wanted]


def _review(
    invoice: Invoice,
    bts: Sequence[BillingTransaction],
    bt_ids: Collection[str],
    decision: BtStatus,
    reason: str,
    actor: ContractorActor,
    at: datetime,
) -> InvoiceChange:
    action = {
        BtStatus.VERIFIED: InvoiceAction.VERIFY_BTS,
        BtStatus.DISPUTED: InvoiceAction.DISPUTE_BTS,
        BtStatus.DENIED: InvoiceAction.DENY_BTS,
    }[decision]
    _check(actor, invoice, action)
    _check_current(invoice, bts)
    if decision is not BtStatus.VERIFIED:
        if not reason.strip():
            raise InvalidInput(
                f"say why the transactions are {decision.value}; the contractor needs it to respond",
                field_errors=[FieldError("reason", "required")],
            )
        if len(reason) > MAX_NOTE:
            raise InvalidInput(
                "the reason is too long", field_errors=[FieldError("reason", f"at most {MAX_NOTE}")]
            )
    decided = tuple(record_decision(bt, decision, reason) for bt in _chosen(invoice, bts, bt_ids))
    ids = tuple(bt.bt_id for bt in decided)
    base = _base(invoice, actor, at)
    event: ContractorEvent
    if decision is BtStatus.VERIFIED:
        event = BtVerified(**base, bt_ids=ids)
    elif decision is BtStatus.DISPUTED:
        event = BtDisputed(**base, bt_ids=ids, reason=reason.strip())
    else:
        event = BtDenied(**base, bt_ids=ids, reason=reason.strip())
    return InvoiceChange(invoice, decided, (event,))


def _append_note(
    invoice: Invoice, actor: ContractorActor, at: datetime, note_id: str, text: str
) -> tuple[Invoice, InvoiceNoteAdded]:
    if not text.strip():
        raise InvalidInput("a note needs text", field_errors=[FieldError("note", "must not be empty")])
    if len(text) > MAX_NOTE:
        raise InvalidInput(
            "the note is too long", field_errors=[FieldError("note", f"at most {MAX_NOTE} characters")]
        )
    if any(n.note_id == note_id for n in invoice.notes):
        # A retried request: the note is there already.
        raise Conflict(f"note {note_id} is already on invoice {invoice.invoice_id}")
    by_contractor = actor.own == invoice.contractor
    note = InvoiceNote(note_id, text.strip(), actor.actor, at, by_contractor)
    event = InvoiceNoteAdded(**_base(invoice, actor, at), note_id=note_id, text=note.text)
    return replace(invoice, notes=(*invoice.notes, note)), event


def _with_totals(invoice: Invoice, bts: Sequence[BillingTransaction]) -> Invoice:
    totals = invoice_totals(bts)
    return replace(invoice, total=totals.total, bt_count=totals.count, totals_by_category=totals.by_category)


def _amounts_by_matter(bts: Sequence[BillingTransaction]) -> dict[str, Decimal]:
    amounts: dict[str, list[Decimal]] = defaultdict(list)
    for bt in bts:
        if bt.matter_id is not None:
            amounts[bt.matter_id].append(bt.amount)
    return {matter_id: sum_money(values) for matter_id, values in sorted(amounts.items())}


def _check_dates(invoice_date: date | None, due_date: date | None) -> None:
    if invoice_date and due_date and due_date < invoice_date:
        raise InvalidInput(
            "an invoice cannot fall due before its date",
            field_errors=[FieldError("due_date", "on or after the invoice date")],
        )


class _EventBase(TypedDict):
    firm_id: str
    at: datetime
    actor: str
    invoice_id: str
    contractor: ContractorRef
    by_contractor: bool
    invoice_version: int


def _base(invoice: Invoice, actor: ContractorActor, at: datetime) -> _EventBase:
    return {
        "firm_id": invoice.firm_id,
        "at": at,
        "actor": actor.actor,
        "invoice_id": invoice.invoice_id,
        "contractor": invoice.contractor,
        "by_contractor": actor.own == invoice.contractor,
        # The repository writes each transition at the version it read + 1.
        "invoice_version": invoice.version + 1,
    }
