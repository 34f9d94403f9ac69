"""Allocations (add-ons): annual per contractor or organization, per matter, and the budget of a case.

Annual allocations. The firm's "Contractor Annual Allocation Settings" give a default for users and one for
organizations; the Contractor Allocation Structure block overrides it per contractor (an amount, or no
limit). What a contractor has used is the total of their invoices approved for payment (approved, payment
scheduled or paid) in the fiscal year up to today; un-approving an invoice gives its amount back. A
contractor whose use EXCEEDS the allocation (strictly more, as the seed says) is no longer offered when
creating a work order or an invoice. Without the add-on there is no limit.

Matter allocations. When a case is created its allocation is the problem code's Contractor Base Matter
Allocation. Each problem code change sets it again, until the first manual adjustment: a change through the
Contractor Matter Allocation block, or an invoice linked to the case being approved for payment. From then
on problem code changes leave it alone, until staff hand a manually set allocation back to its problem code
(``follow_problem_code_again``; not while approvals stand deducted). Approval deducts the invoice's amount
for the case; un-approval gives it back. Every change is logged (``AllocationLogEntry``). Deductions may
take the remaining amount below zero: paying for approved work is not blocked, the case shows over budget.

Case budget: allocated, invoiced (BTs billed to the case on an invoice, denied ones excluded), approved
(deducted) and remaining (allocated minus approved).

Public API:

- ``AllocationOverride``; ``annual_allocation_for(contractor, settings, override) -> Decimal | None``.
- ``fiscal_year(day, start_month) -> tuple[date, date]``.
- ``AnnualStanding``; ``annual_standing(contractor, allocation, invoices, *, today, fiscal_year_start_month,
  zone_name) -> AnnualStanding``; ``require_offered(standing, name)``; ``offered(contractors, standings)``.
- ``AllocationReason``, ``MatterAllocation``, ``AllocationLogEntry``, ``AllocationChange``.
- ``allocation_for_new_case``, ``on_problem_code_changed``, ``adjust_manually``,
  ``follow_problem_code_again``, ``deduct_for_approval``, ``credit_for_unapproval`` (each returns an
  ``AllocationChange``).
- ``CaseBudget``; ``case_budget(matter_id, allocation, bts) -> CaseBudget``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING

from chalicelib.domain.contractors.contractors import Contractor, ContractorKind, ContractorRef
from chalicelib.domain.contractors.lookups import BtStatus, InvoiceStatus
from chalicelib.domain.contractors.money import ZERO, parse_amount, sum_money, to_money
from chalicelib.domain.errors import Conflict, FieldError, InvalidInput
from chalicelib.domain.timeutil import local_day

if TYPE_CHECKING:
    from chalicelib.domain.contractors.invoices import Invoice
    from chalicelib.domain.contractors.settings import ContractorSettings
    from chalicelib.domain.contractors.transactions import BillingTransaction

APPROVED_FOR_PAYMENT = frozenset(
    {InvoiceStatus.APPROVED, InvoiceStatus.PAYMENT_SCHEDULED, InvoiceStatus.PAID}
)


@dataclass(frozen=True)
class AllocationOverride:
    """A contractor's own annual allocation (Contractor Allocation Structure block); ``None``: no limit."""

    contractor: ContractorRef
    amount: Decimal | None


def annual_allocation_for(
    contractor: ContractorRef, settings: ContractorSettings, override: AllocationOverride | None = None
) -> Decimal | None:
    """The contractor's annual allocation this year, or ``None`` for no limit (or the add-on is off)."""
    add_ons = settings.add_ons
    if contractor.kind is ContractorKind.USER and not add_ons.allocations:
        return None
    if contractor.kind is ContractorKind.ORGANIZATION and not add_ons.organization_allocations:
        return None
    if override is not None:
        if override.contractor != contractor:
            raise InvalidInput(
                f"that allocation override is {override.contractor.key}'s, not {contractor.key}'s"
            )
        return override.amount
    defaults = settings.annual_allocations
    return (
        defaults.user_allocation
        if contractor.kind is ContractorKind.USER
        else defaults.organization_allocation
    )


def fiscal_year(day: date, start_month: int = 1) -> tuple[date, date]:
    """The first and last day of the fiscal year ``day`` is in."""
    if not 1 <= start_month <= 12:
        raise InvalidInput("a fiscal year starts in a month from 1 to 12")
    start_year = day.year if day.month >= start_month else day.year - 1
    next_start = date(start_year + 1, start_month, 1)
    return date(start_year, start_month, 1), next_start - timedelta(days=1)


@dataclass(frozen=True)
class AnnualStanding:
    """A contractor's year to date against their annual allocation."""

    contractor: ContractorRef
    year_start: date
    year_end: date
    allocation: Decimal | None
    used: Decimal

    @property
    def remaining(self) -> Decimal | None:
        return None if self.allocation is None else to_money(self.allocation - self.used)

    @property
    def over_threshold(self) -> bool:
        return self.allocation is not None and self.used > self.allocation


def annual_standing(
    contractor: ContractorRef,
    allocation: Decimal | None,
    invoices: Iterable[Invoice],
    *,
    today: date,
    fiscal_year_start_month: int = 1,
    zone_name: str = "UTC",
) -> AnnualStanding:
    """Sum the contractor's invoices approved for payment this fiscal year, up to and including today."""
    start, end = fiscal_year(today, fiscal_year_start_month)
    used = sum_money(
        invoice.total
        for invoice in invoices
        if invoice.contractor == contractor
        and invoice.status in APPROVED_FOR_PAYMENT
        and invoice.approved_at is not None
        and start <= local_day(invoice.approved_at, zone_name) <= today
    )
    return AnnualStanding(contractor, start, end, allocation, used)


def require_offered(standing: AnnualStanding, name: str) -> None:
    """Refuse a contractor who exceeded their annual allocation, for new work orders and invoices."""
    if standing.over_threshold:
        raise Conflict(
            f"{name} has used {standing.used} of an annual allocation of {standing.allocation} this year, so "
            "they are no longer offered for new work; raise their allocation or choose another contractor"
        )


def offered(
    contractors: Iterable[Contractor], standings: Mapping[ContractorRef, AnnualStanding]
) -> tuple[Contractor, ...]:
    """The active contractors still offered when creating a work order or an invoice."""
    return tuple(
        c for c in contractors if c.active and not (c.ref in standings and standings[c.ref].over_threshold)
    )


# ------------------------------------------------------------------ matter allocations


class AllocationReason(StrEnum):
    CASE_CREATED = "case_created"
    PROBLEM_CODE_CHANGED = "problem_code_changed"
    MANUAL_ADJUSTMENT = "manual_adjustment"
    INVOICE_APPROVED = "invoice_approved"
    INVOICE_UNAPPROVED = "invoice_unapproved"
    BACK_TO_PROBLEM_CODE = "back_to_problem_code"


@dataclass(frozen=True)
class MatterAllocation:
    """A case's contractor allocation. ``manually_adjusted`` stops problem code changes from resetting it."""

    firm_id: str
    matter_id: str
    allocated: Decimal | None = None
    deducted: Decimal = ZERO
    problem_code: str | None = None
    manually_adjusted: bool = False
    version: int = 0

    @property
    def remaining(self) -> Decimal | None:
        return None if self.allocated is None else to_money(self.allocated - self.deducted)


@dataclass(frozen=True)
class AllocationLogEntry:
    """One line of a case's allocation log (the list view at the top of the block)."""

    firm_id: str
    matter_id: str
    at: datetime
    actor: str
    reason: AllocationReason
    allocated_before: Decimal | None
    allocated_after: Decimal | None
    deducted_before: Decimal
    deducted_after: Decimal
    problem_code: str | None = None
    invoice_id: str | None = None
    note: str = ""


@dataclass(frozen=True)
class AllocationChange:
    allocation: MatterAllocation
    log_entry: AllocationLogEntry | None


def allocation_for_new_case(
    firm_id: str,
    matter_id: str,
    problem_code: str | None,
    base_allocations: Mapping[str, Decimal],
    *,
    at: datetime,
    actor: str,
) -> AllocationChange:
    """A new case's allocation: its problem code's base allocation, if it has one."""
    allocation = MatterAllocation(firm_id, matter_id, problem_code=problem_code)
    base = base_allocations.get(problem_code) if problem_code else None
    if base is None:
        return AllocationChange(allocation, None)
    changed = replace(allocation, allocated=to_money(base))
    return AllocationChange(changed, _log(allocation, changed, AllocationReason.CASE_CREATED, at, actor))


def on_problem_code_changed(
    current: MatterAllocation,
    problem_code: str | None,
    base_allocations: Mapping[str, Decimal],
    *,
    at: datetime,
    actor: str,
) -> AllocationChange:
    """Follow the new problem code's base allocation, unless the allocation was adjusted manually."""
    recorded = replace(current, problem_code=problem_code)
    if current.manually_adjusted:
        return AllocationChange(recorded, None)
    base = base_allocations.get(problem_code) if problem_code else None
    if base is None or to_money(base) == current.allocated:
        return AllocationChange(recorded, None)
    changed = replace(recorded, allocated=to_money(base))
    return AllocationChange(changed, _log(current, changed, AllocationReason.PROBLEM_CODE_CHANGED, at, actor))


def adjust_manually(
    current: MatterAllocation, allocated: Decimal | int | str, *, note: str, at: datetime, actor: str
) -> AllocationChange:
    """Set the allocation by hand (the Contractor Matter Allocation block); problem codes stop moving it."""
    amount = parse_amount(allocated, "allocated")
    if not note.strip():
        raise InvalidInput(
            "say why the allocation changes",
            field_errors=[FieldError("note", "a manual adjustment needs a note")],
        )
    changed = replace(current, allocated=amount, manually_adjusted=True)
    return AllocationChange(
        changed, _log(current, changed, AllocationReason.MANUAL_ADJUSTMENT, at, actor, note=note.strip())
    )


def follow_problem_code_again(
    current: MatterAllocation,
    base_allocations: Mapping[str, Decimal],
    *,
    note: str,
    at: datetime,
    actor: str,
) -> AllocationChange:
    """Undo a manual override: the allocation becomes its problem code's base allocation again, and later
    problem code changes move it as they did before the override.

    The allocation is the case's whole budget, so it is set to the base as it is (nothing subtracted);
    approvals stay in ``deducted`` and ``remaining`` is still allocated minus deducted.

    After approvals. An approval stops problem codes from moving the allocation just as a manual adjustment
    does ("until a manual adjustment or an approval"): money has been spent against that budget, and a later
    problem code change must not move it underneath. So while any approval stands deducted (``deducted`` is
    not zero) this is refused, and staff set the amount by hand instead. Once every approval has been
    un-approved (deducted back to zero) nothing has been spent against the budget, and the allocation may
    follow its problem code again.

    Refused (``Conflict``) when the case has no problem code, the code has no base allocation, the
    allocation already follows the code (it was never set by hand), or approvals stand deducted; refused
    (``InvalidInput`` on ``note``) without a note, which goes into the allocation log.
    """
    if not note.strip():
        raise InvalidInput(
            "say why the allocation goes back to its problem code",
            field_errors=[FieldError("note", "going back to the problem code's allocation needs a note")],
        )
    code = current.problem_code
    if code is None:
        raise Conflict(
            f"case {current.matter_id} has no legal problem code, so there is no allocation to go back to; "
            "give the case a problem code first"
        )
    base = base_allocations.get(code)
    if base is None:
        raise Conflict(
            f"the problem code '{code}' has no Contractor Base Matter Allocation; give it one in the legal "
            "problem code lookup, or keep setting this case's allocation by hand"
        )
    if not current.manually_adjusted:
        raise Conflict(f"case {current.matter_id}'s allocation already follows its problem code '{code}'")
    if current.deducted != ZERO:
        raise Conflict(
            f"approvals have deducted {current.deducted} from case {current.matter_id}'s allocation; once an "
            "approval has touched it the problem code no longer sets it, so set the amount by hand instead"
        )
    changed = replace(current, allocated=to_money(base), manually_adjusted=False)
    return AllocationChange(
        changed, _log(current, changed, AllocationReason.BACK_TO_PROBLEM_CODE, at, actor, note=note.strip())
    )


def deduct_for_approval(
    current: MatterAllocation, amount: Decimal, *, invoice_id: str, at: datetime, actor: str
) -> AllocationChange:
    """An invoice linked to the case was approved for payment: deduct its amount for the case."""
    if amount < 0:
        raise InvalidInput("a deduction is not negative")
    changed = replace(current, deducted=to_money(current.deducted + amount), manually_adjusted=True)
    return AllocationChange(
        changed, _log(current, changed, AllocationReason.INVOICE_APPROVED, at, actor, invoice_id=invoice_id)
    )


def credit_for_unapproval(
    current: MatterAllocation, amount: Decimal, *, invoice_id: str, at: datetime, actor: str
) -> AllocationChange:
    """An approved invoice was un-approved: give its deduction back."""
    if amount < 0:
        raise InvalidInput("a credit is not negative")
    if amount > current.deducted:
        raise Conflict(
            f"case {current.matter_id} has only {current.deducted} deducted, less than the {amount} to give "
            "back; check the allocation log"
        )
    changed = replace(current, deducted=to_money(current.deducted - amount))
    return AllocationChange(
        changed, _log(current, changed, AllocationReason.INVOICE_UNAPPROVED, at, actor, invoice_id=invoice_id)
    )


def _log(
    before: MatterAllocation,
    after: MatterAllocation,
    reason: AllocationReason,
    at: datetime,
    actor: str,
    *,
    invoice_id: str | None = None,
    note: str = "",
) -> AllocationLogEntry:
    return AllocationLogEntry(
        firm_id=after.firm_id,
        matter_id=after.matter_id,
        at=at,
        actor=actor,
        reason=reason,
        allocated_before=before.allocated,
        allocated_after=after.allocated,
        deducted_before=before.deducted,
        deducted_after=after.deducted,
        problem_code=after.problem_code,
        invoice_id=invoice_id,
        note=note,
    )


@dataclass(frozen=True)
class CaseBudget:
    matter_id: str
    allocated: Decimal | None
    invoiced: Decimal
    approved: Decimal
    remaining: Decimal | None

    @property
    def over_budget(self) -> bool:
        return self.remaining is not None and self.remaining < 0


def case_budget(
    matter_id: str, allocation: MatterAllocation | None, bts: Iterable[BillingTransaction]
) -> CaseBudget:
    """Allocated, invoiced, approved and remaining for one case."""
    invoiced = sum_money(
        bt.amount
        for bt in bts
        if bt.matter_id == matter_id and bt.invoice_id is not None and bt.status is not BtStatus.DENIED
    )
    if allocation is None:
        return CaseBudget(matter_id, None, invoiced, ZERO, None)
    return CaseBudget(matter_id, allocation.allocated, invoiced, allocation.deducted, allocation.remaining)
