"""Billing transactions (BT): what a contractor, or someone on their behalf, bills on a work order.

Three types:

- product/service: against a PSR whose P/S is not time-based; ``units x rate`` (the PSR's locked rate),
  or, for a formula-rate PSR, the formula of the two inputs. Time-based PSRs refuse them.
- timeslip: time worked, against any PSR. On a time-based PSR the amount is ``minutes / minutes per unit x
  rate``; on any other PSR it is 0.00 (the seed keeps this, for now). Every timeslip also creates a service
  record on its case, so contractor time links into the case like any other service record.
- expense reimbursement: an amount for an expense type the WO allows, with receipt documents (stored in S3;
  the BT keeps their references).

Amounts are rounded once, to cents, half up (``money``). A BT is billed to one of the WO's cases: the one
given, or the WO's only case; a WO with several cases needs the case chosen; a WO without cases bills
none (and a timeslip then has no case for a service record).

Statuses: pending (new, not invoiced) -> invoiced (on an invoice) -> verified, disputed or denied (staff's
review) -> paid. A disputed or denied BT removed when its invoice is approved returns to the pool of
non-invoiced BTs keeping its status, and can go on a later invoice. A BT can be deleted, and revised, only
while pending, invoiced or disputed, and, when it is on an invoice, only while that invoice is a draft or
disputed. Revising a disputed BT is the contractor's answer to the dispute: it goes back to invoiced (or
pending, off an invoice) for another review.

Public API:

- ``BillingTransaction``, ``ReceiptDocument``, ``ServiceRecord``, ``BtChange``, ``FormulaInputs``.
- ``DELETABLE_STATUSES``, ``POOL_STATUSES``, ``EXPENSE_CATEGORY``, ``UNCATEGORIZED``.
- ``log_product_service``, ``log_timeslip``, ``log_expense``, ``revise_bt``, ``delete_bt`` (-> ``BtChange``);
  ``with_psr_unit(bt, work_order)`` (the unit of a BT logged before BTs recorded it);
  ``service_record_id_for(bt_id)``.
- For invoices: ``in_pool(bt)``, ``attach_to_invoice``, ``release_from_invoice``, ``record_decision``,
  ``reset_review``, ``mark_paid``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal

from chalicelib.domain.contractors.contractors import ContractorRef
from chalicelib.domain.contractors.events import BtDeleted, BtLogged, BtRevised, ContractorEvent
from chalicelib.domain.contractors.formula import compile_formula
from chalicelib.domain.contractors.lookups import BtStatus, BtType, InvoiceStatus, LookupKind, LookupValue
from chalicelib.domain.contractors.money import (
    ZERO,
    MoneyInput,
    line_amount,
    parse_amount,
    parse_rate,
    parse_units,
    to_money,
)
from chalicelib.domain.contractors.work_orders import Psr, WorkOrder
from chalicelib.domain.errors import Conflict, FieldError, InvalidInput

DELETABLE_STATUSES = frozenset({BtStatus.PENDING, BtStatus.INVOICED, BtStatus.DISPUTED})
REVISABLE_STATUSES = DELETABLE_STATUSES
# Not on an invoice and not settled: what a new invoice is made from.
POOL_STATUSES = frozenset({BtStatus.PENDING, BtStatus.DISPUTED, BtStatus.DENIED})
# Invoice states in which the contractor may change what is on the invoice.
INVOICE_OPEN_FOR_CHANGES = frozenset({InvoiceStatus.DRAFT, InvoiceStatus.DISPUTED})
REVIEW_DECISIONS = frozenset({BtStatus.VERIFIED, BtStatus.DISPUTED, BtStatus.DENIED})

# Totals by category: expenses have their own bucket; a P/S without a category goes to "uncategorized".
EXPENSE_CATEGORY = "expense_reimbursement"
UNCATEGORIZED = "uncategorized"

MAX_DESCRIPTION = 4000
MAX_TIMESLIP_MINUTES = 24 * 60
MAX_RECEIPTS = 20
MAX_RECEIPT_BYTES = 25 * 1024 * 1024
RECEIPT_CONTENT_TYPES = frozenset(
    {"application/pdf", "image/jpeg", "image/png", "image/gif", "image/heic", "image/tiff", "image/webp"}
)
UNIT_DISPLAY_PLACES = Decimal("0.0001")


@dataclass(frozen=True)
class ReceiptDocument:
    """A receipt uploaded with an expense reimbursement; the file itself lives in S3 under ``storage_key``."""

    document_id: str
    file_name: str
    content_type: str
    size_bytes: int
    storage_key: str


@dataclass(frozen=True)
class FormulaInputs:
    primary: Decimal
    secondary: Decimal


@dataclass(frozen=True)
class BillingTransaction:
    firm_id: str
    bt_id: str
    work_order_id: str
    contractor: ContractorRef
    bt_type: BtType
    work_date: date
    amount: Decimal
    category: str
    description: str = ""
    status: BtStatus = BtStatus.PENDING
    psr_id: str | None = None
    product_id: str | None = None
    units: Decimal | None = None
    rate: Decimal | None = None
    minutes: int | None = None
    formula_inputs: FormulaInputs | None = None
    expense_type: str | None = None
    receipts: tuple[ReceiptDocument, ...] = ()
    matter_id: str | None = None
    service_record_id: str | None = None
    invoice_id: str | None = None
    # Why staff disputed or denied it, the last time they did.
    review_note: str = ""
    created_at: datetime | None = None
    created_by: str = ""
    version: int = 0
    # The unit its rate is per (the PSR's fee unit type, locked with the rate when the BT was logged);
    # ``minutes_per_unit`` is set for time-based units. Both None on expenses and on BTs logged before
    # they were recorded (``with_psr_unit`` fills those in from the work order).
    unit_type: str | None = None
    minutes_per_unit: int | None = None


@dataclass(frozen=True)
class ServiceRecord:
    """The case service record a timeslip creates."""

    firm_id: str
    service_record_id: str
    matter_id: str
    contractor: ContractorRef
    work_order_id: str
    bt_id: str
    work_date: date
    minutes: int
    description: str


@dataclass(frozen=True)
class BtChange:
    """A BT after a change (None once deleted), its events, and the service record to write or remove."""

    bt: BillingTransaction | None
    events: tuple[ContractorEvent, ...] = ()
    service_record: ServiceRecord | None = None
    removed_service_record_id: str | None = None


def log_product_service(
    work_order: WorkOrder,
    psr_id: str,
    *,
    bt_id: str,
    work_date: date,
    actor: str,
    at: datetime,
    units: MoneyInput | None = None,
    formula_inputs: tuple[MoneyInput, MoneyInput] | None = None,
    description: str = "",
    matter_id: str | None = None,
) -> BtChange:
    """Bill units of a (non-time-based) PSR at its locked rate, or a formula PSR from its two inputs."""
    psr = work_order.psr(psr_id)
    if psr.time_based:
        raise InvalidInput(
            f"'{psr.product_name}' is billed by time: log a timeslip against it instead",
            field_errors=[FieldError("psr_id", "time-based: timeslips only")],
        )
    matter = _matter_for(work_order, matter_id)
    _check_description(description, required=False)
    priced = _price(psr, units, formula_inputs)
    bt = BillingTransaction(
        firm_id=work_order.firm_id,
        bt_id=bt_id,
        work_order_id=work_order.work_order_id,
        contractor=work_order.assignee,
        bt_type=BtType.PRODUCT_SERVICE,
        work_date=work_date,
        amount=priced.amount,
        category=psr.category or UNCATEGORIZED,
        description=description,
        psr_id=psr.psr_id,
        product_id=psr.product_id,
        units=priced.units,
        rate=psr.rate,
        formula_inputs=priced.inputs,
        matter_id=matter,
        created_at=at,
        created_by=actor,
        unit_type=psr.unit_type,
        minutes_per_unit=psr.minutes_per_unit,
    )
    return BtChange(bt, (_logged(bt, actor, at),))


def log_timeslip(
    work_order: WorkOrder,
    psr_id: str,
    *,
    bt_id: str,
    work_date: date,
    minutes: int,
    description: str,
    actor: str,
    at: datetime,
    matter_id: str | None = None,
) -> BtChange:
    """Bill time against a PSR; 0.00 unless the PSR is time-based. Creates the case's service record
    (``service_record_id_for(bt_id)``), when the BT is billed to a case."""
    psr = work_order.psr(psr_id)
    matter = _matter_for(work_order, matter_id)
    _check_description(description, required=True)
    _check_minutes(minutes)
    units, amount = _timeslip_amount(psr, minutes)
    bt = BillingTransaction(
        firm_id=work_order.firm_id,
        bt_id=bt_id,
        work_order_id=work_order.work_order_id,
        contractor=work_order.assignee,
        bt_type=BtType.TIMESLIP,
        work_date=work_date,
        amount=amount,
        category=psr.category or UNCATEGORIZED,
        description=description.strip(),
        psr_id=psr.psr_id,
        product_id=psr.product_id,
        units=units,
        rate=psr.rate if psr.time_based else None,
        minutes=minutes,
        matter_id=matter,
        service_record_id=service_record_id_for(bt_id) if matter else None,
        created_at=at,
        created_by=actor,
        unit_type=psr.unit_type,
        minutes_per_unit=psr.minutes_per_unit,
    )
    record = _service_record(bt)
    return BtChange(bt, (_logged(bt, actor, at),), service_record=record)


def with_psr_unit(bt: BillingTransaction, work_order: WorkOrder) -> BillingTransaction:
    """The BT with its rate's unit, taken from its PSR when the BT predates recording it (a PSR's unit is
    locked when the PSR is added, so it is the unit the BT was priced in)."""
    if bt.unit_type is not None or bt.psr_id is None:
        return bt
    psr = next((p for p in work_order.psrs if p.psr_id == bt.psr_id), None)
    if psr is None:
        return bt
    return replace(bt, unit_type=psr.unit_type, minutes_per_unit=psr.minutes_per_unit)


def log_expense(
    work_order: WorkOrder,
    expense_type: LookupValue,
    *,
    bt_id: str,
    work_date: date,
    amount: MoneyInput,
    actor: str,
    at: datetime,
    receipts: Sequence[ReceiptDocument] = (),
    description: str = "",
    matter_id: str | None = None,
) -> BtChange:
    """Claim an expense of a type the WO allows, with its receipts."""
    _check_expense_type(work_order, expense_type)
    matter = _matter_for(work_order, matter_id)
    _check_description(description, required=False)
    _check_receipts(receipts)
    claimed = _expense_amount(amount)
    bt = BillingTransaction(
        firm_id=work_order.firm_id,
        bt_id=bt_id,
        work_order_id=work_order.work_order_id,
        contractor=work_order.assignee,
        bt_type=BtType.EXPENSE_REIMBURSEMENT,
        work_date=work_date,
        amount=claimed,
        category=EXPENSE_CATEGORY,
        description=description,
        expense_type=expense_type.key,
        receipts=tuple(receipts),
        matter_id=matter,
        created_at=at,
        created_by=actor,
    )
    return BtChange(bt, (_logged(bt, actor, at),))


def revise_bt(
    bt: BillingTransaction,
    work_order: WorkOrder,
    *,
    invoice_status: InvoiceStatus | None,
    actor: str,
    at: datetime,
    work_date: date | None = None,
    description: str | None = None,
    matter_id: str | None = None,
    units: MoneyInput | None = None,
    formula_inputs: tuple[MoneyInput, MoneyInput] | None = None,
    minutes: int | None = None,
    amount: MoneyInput | None = None,
    receipts: Sequence[ReceiptDocument] | None = None,
) -> BtChange:
    """Correct a BT (its rate stays the one it was priced at). ``invoice_status`` is the status of the
    invoice the BT is on, if it is on one."""
    _require_changeable(bt, invoice_status, "change")
    if bt.work_order_id != work_order.work_order_id:
        raise InvalidInput("that is not this billing transaction's work order")
    changed = bt
    if work_date is not None:
        changed = replace(changed, work_date=work_date)
    if description is not None:
        _check_description(description, required=bt.bt_type is BtType.TIMESLIP)
        changed = replace(
            changed, description=description.strip() if bt.bt_type is BtType.TIMESLIP else description
        )
    if matter_id is not None:
        changed = replace(changed, matter_id=_matter_for(work_order, matter_id))
    if bt.bt_type is BtType.PRODUCT_SERVICE:
        if minutes is not None or amount is not None or receipts is not None:
            raise InvalidInput("a product/service transaction is changed through its units or formula inputs")
        if units is not None or formula_inputs is not None:
            psr = _psr_with_bt_rate(work_order, bt)
            priced = _price(psr, units, formula_inputs)
            changed = replace(changed, units=priced.units, formula_inputs=priced.inputs, amount=priced.amount)
    elif bt.bt_type is BtType.TIMESLIP:
        if units is not None or formula_inputs is not None or amount is not None or receipts is not None:
            raise InvalidInput("a timeslip is changed through its minutes")
        if minutes is not None:
            _check_minutes(minutes)
            psr = _psr_with_bt_rate(work_order, bt)
            new_units, new_amount = _timeslip_amount(psr, minutes)
            changed = replace(changed, minutes=minutes, units=new_units, amount=new_amount)
    else:
        if units is not None or formula_inputs is not None or minutes is not None:
            raise InvalidInput("an expense reimbursement is changed through its amount and receipts")
        if amount is not None:
            changed = replace(changed, amount=_expense_amount(amount))
        if receipts is not None:
            _check_receipts(receipts)
            changed = replace(changed, receipts=tuple(receipts))
    if changed.status is BtStatus.DISPUTED:
        # The contractor answered the dispute: staff review it again.
        changed = replace(changed, status=BtStatus.INVOICED if changed.invoice_id else BtStatus.PENDING)
    record: ServiceRecord | None = None
    removed: str | None = None
    if bt.bt_type is BtType.TIMESLIP:
        if changed.matter_id is None:
            removed = bt.service_record_id
            changed = replace(changed, service_record_id=None)
        else:
            if changed.service_record_id is None:
                changed = replace(changed, service_record_id=service_record_id_for(bt.bt_id))
            record = _service_record(changed)
    event = BtRevised(
        firm_id=bt.firm_id,
        at=at,
        actor=actor,
        bt_id=bt.bt_id,
        amount_before=bt.amount,
        amount_after=changed.amount,
    )
    return BtChange(changed, (event,), service_record=record, removed_service_record_id=removed)


def delete_bt(
    bt: BillingTransaction, *, invoice_status: InvoiceStatus | None, actor: str, at: datetime
) -> BtChange:
    """Delete a BT: only while pending, invoiced or disputed, and off an invoice or on a draft or disputed
    one. A timeslip's service record goes with it."""
    _require_changeable(bt, invoice_status, "delete")
    event = BtDeleted(
        firm_id=bt.firm_id,
        at=at,
        actor=actor,
        bt_id=bt.bt_id,
        work_order_id=bt.work_order_id,
        invoice_id=bt.invoice_id,
        service_record_id=bt.service_record_id,
    )
    return BtChange(None, (event,), removed_service_record_id=bt.service_record_id)


# ------------------------------------------------------------------ status changes invoices make


def service_record_id_for(bt_id: str) -> str:
    """A timeslip's service record id: derived from the BT's, so a retried write finds the same record."""
    return f"sr-{bt_id}"


def in_pool(bt: BillingTransaction) -> bool:
    """Not on an invoice and not settled: can go on a new invoice."""
    return bt.invoice_id is None and bt.status in POOL_STATUSES


def attach_to_invoice(bt: BillingTransaction, invoice_id: str) -> BillingTransaction:
    """Put a pool BT on an invoice: pending becomes invoiced; disputed and denied keep their status, so the
    reviewer sees what happened to them last time."""
    if not in_pool(bt):
        where = f"on invoice {bt.invoice_id}" if bt.invoice_id else bt.status.value
        raise Conflict(
            f"billing transaction {bt.bt_id} is {where}; only non-invoiced transactions can be added"
        )
    status = BtStatus.INVOICED if bt.status is BtStatus.PENDING else bt.status
    return replace(bt, invoice_id=invoice_id, status=status)


def release_from_invoice(bt: BillingTransaction) -> BillingTransaction:
    """Take a BT off its invoice, back to the pool: invoiced or verified become pending; disputed and denied
    keep their status."""
    status = BtStatus.PENDING if bt.status in (BtStatus.INVOICED, BtStatus.VERIFIED) else bt.status
    if status is BtStatus.PAID:
        raise Conflict(f"billing transaction {bt.bt_id} is paid; it stays on its invoice")
    return replace(bt, invoice_id=None, status=status)


def record_decision(bt: BillingTransaction, decision: BtStatus, reason: str = "") -> BillingTransaction:
    """Staff's review of one BT on a submitted invoice: verified, disputed or denied."""
    if decision not in REVIEW_DECISIONS:
        raise InvalidInput(f"a review decides verified, disputed or denied, not {decision.value}")
    note = reason.strip() if decision is not BtStatus.VERIFIED else bt.review_note
    return replace(bt, status=decision, review_note=note)


def reset_review(bt: BillingTransaction) -> BillingTransaction:
    """An invoice went back to draft: what was verified needs verifying again."""
    return replace(bt, status=BtStatus.INVOICED) if bt.status is BtStatus.VERIFIED else bt


def mark_paid(bt: BillingTransaction) -> BillingTransaction:
    return replace(bt, status=BtStatus.PAID)


# ------------------------------------------------------------------ helpers


@dataclass(frozen=True)
class _Priced:
    amount: Decimal
    units: Decimal | None
    inputs: FormulaInputs | None


def _price(
    psr: Psr, units: MoneyInput | None, formula_inputs: tuple[MoneyInput, MoneyInput] | None
) -> _Priced:
    if psr.formula is not None:
        if formula_inputs is None or units is not None:
            raise InvalidInput(
                f"'{psr.product_name}' is priced by a formula: give its two inputs "
                f"({psr.formula.primary_label}, {psr.formula.secondary_label}), not units",
                field_errors=[FieldError("formula_inputs", "both inputs are needed")],
            )
        primary = _formula_input(formula_inputs[0], psr.formula.primary_label)
        secondary = _formula_input(formula_inputs[1], psr.formula.secondary_label)
        result = to_money(compile_formula(psr.formula).evaluate(primary, secondary))
        if result < 0:
            raise InvalidInput(
                f"the formula gives {result} for these inputs; an amount cannot be negative",
                field_errors=[FieldError("formula_inputs", "the formula's result is negative")],
            )
        return _Priced(result, None, FormulaInputs(primary, secondary))
    if units is None or formula_inputs is not None:
        raise InvalidInput(
            f"give the number of {psr.unit_type or 'units'} of '{psr.product_name}'",
            field_errors=[FieldError("units", "required")],
        )
    if psr.rate is None:
        raise InvalidInput(f"'{psr.product_name}' has no rate on this work order")
    quantity = parse_units(units, "units")
    return _Priced(line_amount(quantity, psr.rate), quantity, None)


def _formula_input(value: MoneyInput, label: str) -> Decimal:
    # Shaped like a rate: zero or more, at most four places ("0 pages of exhibits" is a fine input).
    return parse_rate(value, label)


def _timeslip_amount(psr: Psr, minutes: int) -> tuple[Decimal | None, Decimal]:
    if not psr.time_based or psr.rate is None or psr.minutes_per_unit is None:
        # The seed: timeslips on non-time-based PSRs are allowed and always 0.00.
        return None, ZERO
    units = Decimal(minutes) / Decimal(psr.minutes_per_unit)
    # Exact until the one rounding: minutes x rate / minutes per unit.
    amount = to_money(Decimal(minutes) * psr.rate / Decimal(psr.minutes_per_unit))
    return units.quantize(UNIT_DISPLAY_PLACES), amount


def _psr_with_bt_rate(work_order: WorkOrder, bt: BillingTransaction) -> Psr:
    """The BT's PSR, priced at the rate the BT was logged at (a later PSR rate edit does not reach it)."""
    psr = work_order.psr(bt.psr_id or "")
    return replace(psr, rate=bt.rate if bt.rate is not None else psr.rate)


def _matter_for(work_order: WorkOrder, matter_id: str | None) -> str | None:
    if matter_id is not None:
        if matter_id not in work_order.matter_ids:
            message = f"work order {work_order.work_order_id} is not linked to case {matter_id}"
            raise InvalidInput(message, field_errors=[FieldError("matter_id", message)])
        return matter_id
    if len(work_order.matter_ids) > 1:
        message = "this work order is linked to several cases: choose the case this transaction is for"
        raise InvalidInput(message, field_errors=[FieldError("matter_id", message)])
    return work_order.matter_ids[0] if work_order.matter_ids else None


def _check_expense_type(work_order: WorkOrder, expense_type: LookupValue) -> None:
    if expense_type.kind is not LookupKind.EXPENSE_REIMBURSEMENT_TYPE or not expense_type.active:
        message = f"'{expense_type.key}' is not an active expense reimbursement type"
        raise InvalidInput(message, field_errors=[FieldError("expense_type", message)])
    if expense_type.key not in work_order.expense_types:
        message = (
            f"'{expense_type.label}' expenses are not on this work order; add the expense type to it first"
        )
        raise InvalidInput(message, field_errors=[FieldError("expense_type", message)])


def _expense_amount(amount: MoneyInput) -> Decimal:
    claimed = parse_amount(amount, "amount")
    if claimed <= 0:
        raise InvalidInput(
            "an expense is more than 0.00", field_errors=[FieldError("amount", "more than 0.00")]
        )
    return claimed


def _check_description(description: str, *, required: bool) -> None:
    if required and not description.strip():
        raise InvalidInput(
            "describe the work",
            field_errors=[FieldError("description", "a timeslip needs a work description")],
        )
    if len(description) > MAX_DESCRIPTION:
        raise InvalidInput(
            "the description is too long",
            field_errors=[FieldError("description", f"at most {MAX_DESCRIPTION}")],
        )


def _check_minutes(minutes: int) -> None:
    if isinstance(minutes, bool) or not isinstance(minutes, int) or not 1 <= minutes <= MAX_TIMESLIP_MINUTES:
        raise InvalidInput(
            "a timeslip is 1 to 1440 minutes (one day)",
            field_errors=[FieldError("minutes", f"whole minutes from 1 to {MAX_TIMESLIP_MINUTES}")],
        )


def _check_receipts(receipts: Sequence[ReceiptDocument]) -> None:
    problems: list[FieldError] = []
    if len(receipts) > MAX_RECEIPTS:
        problems.append(FieldError("receipts", f"at most {MAX_RECEIPTS} receipts"))
    ids = [r.document_id for r in receipts]
    if len(set(ids)) != len(ids):
        problems.append(FieldError("receipts", "the same receipt is attached twice"))
    for index, receipt in enumerate(receipts):
        where = f"receipts[{index}]"
        if not receipt.file_name.strip():
            problems.append(FieldError(where, "a receipt needs a file name"))
        if receipt.content_type not in RECEIPT_CONTENT_TYPES:
            problems.append(
                FieldError(where, f"'{receipt.content_type}' files are not accepted; send a PDF or an image")
            )
        if not 0 < receipt.size_bytes <= MAX_RECEIPT_BYTES:
            problems.append(FieldError(where, "a receipt is 1 byte to 25 MB"))
        if not receipt.storage_key.strip():
            problems.append(FieldError(where, "the receipt has not been stored"))
    if problems:
        raise InvalidInput("the receipts are not valid", field_errors=problems)


def _require_changeable(bt: BillingTransaction, invoice_status: InvoiceStatus | None, doing: str) -> None:
    if bt.status not in DELETABLE_STATUSES:
        raise Conflict(
            f"billing transaction {bt.bt_id} is {bt.status.value}; only pending, invoiced or disputed "
            f"transactions can be {'deleted' if doing == 'delete' else 'changed'}"
        )
    if bt.invoice_id is None:
        return
    if invoice_status is None:
        raise InvalidInput(
            f"billing transaction {bt.bt_id} is on invoice {bt.invoice_id}: give that invoice's status"
        )
    if invoice_status not in INVOICE_OPEN_FOR_CHANGES:
        raise Conflict(
            f"billing transaction {bt.bt_id} is on invoice {bt.invoice_id}, which is {invoice_status.value}; "
            f"it can be {'deleted' if doing == 'delete' else 'changed'} only while the invoice is a draft or "
            "disputed"
        )


def _service_record(bt: BillingTransaction) -> ServiceRecord | None:
    if bt.matter_id is None or bt.service_record_id is None or bt.minutes is None:
        return None
    return ServiceRecord(
        firm_id=bt.firm_id,
        service_record_id=bt.service_record_id,
        matter_id=bt.matter_id,
        contractor=bt.contractor,
        work_order_id=bt.work_order_id,
        bt_id=bt.bt_id,
        work_date=bt.work_date,
        minutes=bt.minutes,
        description=bt.description,
    )


def _logged(bt: BillingTransaction, actor: str, at: datetime) -> BtLogged:
    return BtLogged(
        firm_id=bt.firm_id,
        at=at,
        actor=actor,
        bt_id=bt.bt_id,
        work_order_id=bt.work_order_id,
        contractor=bt.contractor,
        amount=bt.amount,
        service_record_id=bt.service_record_id,
    )
