"""Work orders (WO): all contractor work is done under one.

A WO is assigned to a contractor user or (add-on) a contractor organization when it is created, may be
linked to cases, has optional start and end dates, and holds product or service requests (PSRs). A WO is
created by hand or from a template (a set of PSRs and relative start and end dates).

A PSR locks, when it is added, the rate and unit type it will be billed at: the assignee's fee structure,
or the P/S default when there is none or the P/S overrides fee structures (``catalog.quote_rate``). Later
changes to the P/S or the fee structure never reach existing PSRs. A PSR can be deleted only while no BT
has been logged against it. Expense reimbursement types are added to a WO the same way, and expense BTs can
use only those.

When a case closes, the Bulk Complete block completes its work orders: the ones the user selects, or in
silent mode all the WOs linked to the case, except (by default) those also linked to another case.

A completed WO takes no new PSRs; BTs can still be logged on it, since work done before completion is
billed afterwards. It can be reopened.

Public API:

- ``WorkOrderStatus``, ``Psr``, ``PsrRequest``, ``WorkOrder``, ``WorkOrderTemplate``, ``WorkOrderChange``.
- ``create_work_order(...) -> WorkOrderChange``; ``create_work_order_from_template(template, ...)``;
  ``validate_template(template, products, expense_types) -> None``.
- ``add_psr``, ``edit_psr``, ``delete_psr``, ``add_expense_type``, ``remove_expense_type``,
  ``link_matters``, ``unlink_matter``, ``edit_details``, ``complete_work_order``, ``reopen_work_order``
  (each returns a ``WorkOrderChange``).
- ``BulkCompleteConfig``, ``BulkCompletePlan``; ``plan_case_close_completion(matter_id, work_orders, config,
  selected_ids=None) -> BulkCompletePlan``; ``complete_for_case_close(plan, *, actor, at)``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from chalicelib.domain.contractors.allocations import AnnualStanding, require_offered
from chalicelib.domain.contractors.catalog import (
    FeeStructure,
    ProductService,
    RateSource,
    offerable_products,
    quote_rate,
)
from chalicelib.domain.contractors.contractors import (
    CaseAssignment,
    Contractor,
    ContractorKind,
    ContractorRef,
)
from chalicelib.domain.contractors.events import (
    ContractorEvent,
    PsrAdded,
    PsrDeleted,
    PsrEdited,
    WorkOrderCompleted,
    WorkOrderCreated,
    WorkOrderReopened,
)
from chalicelib.domain.contractors.formula import FormulaDefinition
from chalicelib.domain.contractors.lookups import LookupKind, LookupTable, LookupValue
from chalicelib.domain.contractors.money import parse_rate, parse_units
from chalicelib.domain.contractors.settings import ContractorAddOns
from chalicelib.domain.errors import Conflict, FieldError, InvalidInput, NotFound
from chalicelib.domain.matters import Matter, MatterStatus

MAX_TITLE = 200
MAX_DESCRIPTION = 4000
MAX_PSRS = 500
MAX_LINKED_MATTERS = 50


class WorkOrderStatus(StrEnum):
    OPEN = "open"
    COMPLETE = "complete"


@dataclass(frozen=True)
class Psr:
    """A product or service request: a P/S on a WO with its rate and unit locked when it was added."""

    psr_id: str
    product_id: str
    product_name: str
    rate: Decimal | None
    unit_type: str | None
    minutes_per_unit: int | None
    rate_source: RateSource
    category: str | None = None
    formula: FormulaDefinition | None = None
    description: str = ""
    requested_units: Decimal | None = None
    added_at: datetime | None = None
    added_by: str = ""

    @property
    def time_based(self) -> bool:
        return self.minutes_per_unit is not None


@dataclass(frozen=True)
class PsrRequest:
    """A PSR to add: which P/S, with an optional description and requested quantity."""

    product_id: str
    description: str = ""
    requested_units: Decimal | None = None


@dataclass(frozen=True)
class WorkOrder:
    firm_id: str
    work_order_id: str
    assignee: ContractorRef
    title: str
    description: str = ""
    matter_ids: tuple[str, ...] = ()
    start_date: date | None = None
    end_date: date | None = None
    status: WorkOrderStatus = WorkOrderStatus.OPEN
    psrs: tuple[Psr, ...] = ()
    expense_types: tuple[str, ...] = ()
    # PSR ids are never reused, so a deleted PSR's id cannot come back meaning something else.
    psr_sequence: int = 0
    template_id: str | None = None
    created_at: datetime | None = None
    created_by: str = ""
    completed_at: datetime | None = None
    version: int = 0

    def psr(self, psr_id: str) -> Psr:
        """The PSR with this id, or ``NotFound``."""
        for psr in self.psrs:
            if psr.psr_id == psr_id:
                return psr
        raise NotFound(f"work order {self.work_order_id} has no PSR {psr_id}")


@dataclass(frozen=True)
class WorkOrderTemplate:
    """Pre-populates a WO: PSRs, expense types, and dates relative to the day the WO is created."""

    firm_id: str
    template_id: str
    name: str
    items: tuple[PsrRequest, ...] = ()
    expense_types: tuple[str, ...] = ()
    start_offset_days: int = 0
    duration_days: int | None = None
    active: bool = True
    version: int = 0


@dataclass(frozen=True)
class WorkOrderChange:
    work_order: WorkOrder
    events: tuple[ContractorEvent, ...] = ()


def validate_template(
    template: WorkOrderTemplate, products: Mapping[str, ProductService], expense_types: LookupTable
) -> None:
    """A template names active products, active expense types and sensible relative dates."""
    problems: list[FieldError] = []
    if not template.name.strip():
        problems.append(FieldError("name", "a template needs a name"))
    for index, item in enumerate(template.items):
        product = products.get(item.product_id)
        if product is None or not product.active:
            problems.append(
                FieldError(f"items[{index}]", f"'{item.product_id}' is not an active product or service")
            )
    for key in template.expense_types:
        value = expense_types.get(key)
        if value is None or not value.active:
            problems.append(
                FieldError("expense_types", f"'{key}' is not an active expense reimbursement type")
            )
    if not 0 <= template.start_offset_days <= 366:
        problems.append(FieldError("start_offset_days", "0 to 366 days after the work order is created"))
    if template.duration_days is not None and not 0 <= template.duration_days <= 3660:
        problems.append(FieldError("duration_days", "0 to 3660 days"))
    if len(template.items) > MAX_PSRS:
        problems.append(FieldError("items", f"at most {MAX_PSRS} items"))
    if problems:
        raise InvalidInput("the work order template is not valid", field_errors=problems)


def create_work_order(
    *,
    firm_id: str,
    work_order_id: str,
    assignee: Contractor,
    title: str,
    actor: str,
    at: datetime,
    add_ons: ContractorAddOns,
    products: Mapping[str, ProductService],
    fee_structures: Mapping[str, FeeStructure],
    description: str = "",
    matters: Sequence[Matter] = (),
    start_date: date | None = None,
    end_date: date | None = None,
    items: Sequence[PsrRequest] = (),
    expense_types: Sequence[LookupValue] = (),
    case_assignments: Iterable[CaseAssignment] = (),
    standing: AnnualStanding | None = None,
    template_id: str | None = None,
) -> WorkOrderChange:
    """A new open WO assigned to ``assignee``, with its first PSRs.

    ``fee_structures`` are the assignee's, by product id; ``standing`` is the assignee's annual
    allocation standing (a contractor over their allocation is no longer offered for new work orders)."""
    problems: list[FieldError] = []
    if assignee.kind is ContractorKind.ORGANIZATION and not add_ons.organizations:
        problems.append(
            FieldError("assignee", "contractor organizations are an add-on this firm has not enabled")
        )
    if not assignee.active:
        problems.append(FieldError("assignee", f"{assignee.name} is not an active contractor"))
    if not title.strip():
        problems.append(FieldError("title", "a work order needs a title"))
    elif len(title) > MAX_TITLE:
        problems.append(FieldError("title", f"at most {MAX_TITLE} characters"))
    if len(description) > MAX_DESCRIPTION:
        problems.append(FieldError("description", f"at most {MAX_DESCRIPTION} characters"))
    if start_date and end_date and end_date < start_date:
        problems.append(FieldError("end_date", "a work order cannot end before it starts"))
    problems.extend(_matter_problems(firm_id, matters, ()))
    if problems:
        raise InvalidInput("the work order is not valid", field_errors=problems)
    if standing is not None:
        require_offered(standing, assignee.name)
    work_order = WorkOrder(
        firm_id=firm_id,
        work_order_id=work_order_id,
        assignee=assignee.ref,
        title=title.strip(),
        description=description,
        matter_ids=tuple(m.matter_id for m in matters),
        start_date=start_date,
        end_date=end_date,
        template_id=template_id,
        created_at=at,
        created_by=actor,
    )
    for expense_type in expense_types:
        work_order = add_expense_type(work_order, expense_type).work_order
    events: list[ContractorEvent] = [
        WorkOrderCreated(
            firm_id=firm_id,
            at=at,
            actor=actor,
            work_order_id=work_order_id,
            assignee=assignee.ref,
            matter_ids=work_order.matter_ids,
            template_id=template_id,
        )
    ]
    assignments = tuple(case_assignments)
    for item in items:
        product = products.get(item.product_id)
        if product is None:
            raise InvalidInput(
                f"'{item.product_id}' is not a product or service",
                field_errors=[FieldError("items", f"unknown product or service '{item.product_id}'")],
            )
        change = add_psr(
            work_order,
            product,
            fee_structures.get(product.product_id),
            item,
            case_assignments=assignments,
            actor=actor,
            at=at,
        )
        work_order = change.work_order
        events.extend(change.events)
    return WorkOrderChange(work_order, tuple(events))


def create_work_order_from_template(
    template: WorkOrderTemplate,
    *,
    work_order_id: str,
    assignee: Contractor,
    title: str,
    today: date,
    actor: str,
    at: datetime,
    add_ons: ContractorAddOns,
    products: Mapping[str, ProductService],
    fee_structures: Mapping[str, FeeStructure],
    expense_table: LookupTable,
    description: str = "",
    matters: Sequence[Matter] = (),
    start_date: date | None = None,
    end_date: date | None = None,
    extra_items: Sequence[PsrRequest] = (),
    case_assignments: Iterable[CaseAssignment] = (),
    standing: AnnualStanding | None = None,
) -> WorkOrderChange:
    """A WO pre-populated from a template; dates given here win over the template's."""
    if not template.active:
        raise Conflict(f"the template '{template.name}' is inactive; choose another or reactivate it")
    validate_template(template, products, expense_table)
    start = start_date or today + timedelta(days=template.start_offset_days)
    end = end_date
    if end is None and template.duration_days is not None:
        end = start + timedelta(days=template.duration_days)
    return create_work_order(
        firm_id=template.firm_id,
        work_order_id=work_order_id,
        assignee=assignee,
        title=title,
        actor=actor,
        at=at,
        add_ons=add_ons,
        products=products,
        fee_structures=fee_structures,
        description=description,
        matters=matters,
        start_date=start,
        end_date=end,
        items=(*template.items, *extra_items),
        expense_types=[expense_table.require_active(key, "expense_types") for key in template.expense_types],
        case_assignments=case_assignments,
        standing=standing,
        template_id=template.template_id,
    )


def add_psr(
    work_order: WorkOrder,
    product: ProductService,
    fee_structure: FeeStructure | None,
    request: PsrRequest,
    *,
    case_assignments: Iterable[CaseAssignment],
    actor: str,
    at: datetime,
) -> WorkOrderChange:
    """Add a PSR, locking its rate and unit now. ``fee_structure`` is the assignee's for this P/S, if any."""
    _require_open(work_order, "add a product or service")
    if len(work_order.psrs) >= MAX_PSRS:
        raise Conflict(f"a work order holds at most {MAX_PSRS} PSRs")
    if fee_structure is not None and fee_structure.contractor != work_order.assignee:
        raise InvalidInput("that fee structure belongs to another contractor than the work order's")
    offered = offerable_products(
        [product],
        assignee=work_order.assignee,
        linked_matter_ids=work_order.matter_ids,
        case_assignments=case_assignments,
    )
    if not offered:
        if not product.active:
            message = f"'{product.name}' is inactive; choose an active product or service"
        else:
            message = (
                f"'{product.name}' is for {product.assignment_type} work, and the assignee is not assigned "
                f"as {product.assignment_type} on this work order's cases; assign them to the case first"
            )
        raise InvalidInput(message, field_errors=[FieldError("product_id", message)])
    if len(request.description) > MAX_DESCRIPTION:
        raise InvalidInput(
            "the description is too long",
            field_errors=[FieldError("description", f"at most {MAX_DESCRIPTION}")],
        )
    requested = (
        None if request.requested_units is None else parse_units(request.requested_units, "requested_units")
    )
    quote = quote_rate(product, fee_structure)
    number = work_order.psr_sequence + 1
    psr = Psr(
        psr_id=f"psr-{number}",
        product_id=product.product_id,
        product_name=product.name,
        rate=quote.rate,
        unit_type=quote.unit_type,
        minutes_per_unit=quote.minutes_per_unit,
        rate_source=quote.source,
        category=product.category,
        formula=product.formula,
        description=request.description,
        requested_units=requested,
        added_at=at,
        added_by=actor,
    )
    changed = replace(work_order, psrs=(*work_order.psrs, psr), psr_sequence=number)
    event = PsrAdded(
        firm_id=work_order.firm_id,
        at=at,
        actor=actor,
        work_order_id=work_order.work_order_id,
        psr_id=psr.psr_id,
        product_id=product.product_id,
        rate=psr.rate,
    )
    return WorkOrderChange(changed, (event,))


def edit_psr(
    work_order: WorkOrder,
    psr_id: str,
    *,
    actor: str,
    at: datetime,
    description: str | None = None,
    requested_units: Decimal | int | str | None = None,
    rate: Decimal | int | str | None = None,
) -> WorkOrderChange:
    """Edit a PSR (the service request edit permission). A new rate applies to BTs logged from now on;
    BTs already logged keep the rate they were priced at. The unit type never changes."""
    psr = work_order.psr(psr_id)
    changed = psr
    if description is not None:
        if len(description) > MAX_DESCRIPTION:
            raise InvalidInput(
                "the description is too long",
                field_errors=[FieldError("description", f"at most {MAX_DESCRIPTION}")],
            )
        changed = replace(changed, description=description)
    if requested_units is not None:
        changed = replace(changed, requested_units=parse_units(requested_units, "requested_units"))
    if rate is not None:
        if psr.formula is not None:
            raise InvalidInput(f"'{psr.product_name}' is priced by its formula; it has no rate to edit")
        changed = replace(changed, rate=parse_rate(rate, "rate"))
    psrs = tuple(changed if p.psr_id == psr_id else p for p in work_order.psrs)
    event = PsrEdited(
        firm_id=work_order.firm_id,
        at=at,
        actor=actor,
        work_order_id=work_order.work_order_id,
        psr_id=psr_id,
        rate_before=psr.rate,
        rate_after=changed.rate,
    )
    return WorkOrderChange(replace(work_order, psrs=psrs), (event,))


def delete_psr(
    work_order: WorkOrder, psr_id: str, *, bt_count: int, actor: str, at: datetime
) -> WorkOrderChange:
    """Delete a PSR; ``bt_count`` is how many BTs (any status) were logged against it."""
    psr = work_order.psr(psr_id)
    if bt_count > 0:
        raise Conflict(
            f"'{psr.product_name}' has {bt_count} billing transaction(s) logged against it; "
            "delete those first, or leave the PSR in place"
        )
    psrs = tuple(p for p in work_order.psrs if p.psr_id != psr_id)
    event = PsrDeleted(
        firm_id=work_order.firm_id, at=at, actor=actor, work_order_id=work_order.work_order_id, psr_id=psr_id
    )
    return WorkOrderChange(replace(work_order, psrs=psrs), (event,))


def add_expense_type(work_order: WorkOrder, expense_type: LookupValue) -> WorkOrderChange:
    """Allow expense reimbursements of this type on the WO."""
    if expense_type.kind is not LookupKind.EXPENSE_REIMBURSEMENT_TYPE or not expense_type.active:
        message = f"'{expense_type.key}' is not an active expense reimbursement type"
        raise InvalidInput(message, field_errors=[FieldError("expense_types", message)])
    if expense_type.key in work_order.expense_types:
        return WorkOrderChange(work_order)
    return WorkOrderChange(replace(work_order, expense_types=(*work_order.expense_types, expense_type.key)))


def remove_expense_type(work_order: WorkOrder, key: str, *, bt_count: int) -> WorkOrderChange:
    """Stop allowing an expense type; like a PSR, only while no BT uses it."""
    if key not in work_order.expense_types:
        raise NotFound(f"work order {work_order.work_order_id} does not allow '{key}' expenses")
    if bt_count > 0:
        raise Conflict(f"{bt_count} expense reimbursement(s) of type '{key}' are logged; delete those first")
    return WorkOrderChange(
        replace(work_order, expense_types=tuple(k for k in work_order.expense_types if k != key))
    )


def link_matters(work_order: WorkOrder, matters: Sequence[Matter]) -> WorkOrderChange:
    """Link more cases to the WO."""
    problems = _matter_problems(work_order.firm_id, matters, work_order.matter_ids)
    if problems:
        raise InvalidInput("those cases cannot be linked", field_errors=problems)
    return WorkOrderChange(
        replace(work_order, matter_ids=(*work_order.matter_ids, *(m.matter_id for m in matters)))
    )


def unlink_matter(work_order: WorkOrder, matter_id: str, *, bt_count: int) -> WorkOrderChange:
    """Unlink a case; refused while BTs on this WO are billed to it."""
    if matter_id not in work_order.matter_ids:
        raise NotFound(f"work order {work_order.work_order_id} is not linked to case {matter_id}")
    if bt_count > 0:
        raise Conflict(
            f"{bt_count} billing transaction(s) on this work order are billed to that case; move them first"
        )
    return WorkOrderChange(
        replace(work_order, matter_ids=tuple(m for m in work_order.matter_ids if m != matter_id))
    )


def edit_details(
    work_order: WorkOrder,
    *,
    title: str,
    description: str,
    start_date: date | None,
    end_date: date | None,
) -> WorkOrderChange:
    """Change a WO's title, description and dates (the values it should have after the change).

    BTs keep their work dates: nothing in the module ties a BT's work date to its WO's dates (work done
    before a WO was written up is billed on it), so moving the dates never touches or refuses on BTs.
    A completed WO can be corrected too; its PSRs stay closed until it is reopened."""
    problems: list[FieldError] = []
    if not title.strip():
        problems.append(FieldError("title", "a work order needs a title"))
    elif len(title) > MAX_TITLE:
        problems.append(FieldError("title", f"at most {MAX_TITLE} characters"))
    if len(description) > MAX_DESCRIPTION:
        problems.append(FieldError("description", f"at most {MAX_DESCRIPTION} characters"))
    if start_date and end_date and end_date < start_date:
        problems.append(FieldError("end_date", "a work order cannot end before it starts"))
    if problems:
        raise InvalidInput("the work order is not valid", field_errors=problems)
    return WorkOrderChange(
        replace(
            work_order,
            title=title.strip(),
            description=description,
            start_date=start_date,
            end_date=end_date,
        )
    )


def complete_work_order(
    work_order: WorkOrder, *, actor: str, at: datetime, closing_matter_id: str | None = None
) -> WorkOrderChange:
    """Mark a WO complete; completing a complete WO changes nothing."""
    if work_order.status is WorkOrderStatus.COMPLETE:
        return WorkOrderChange(work_order)
    event = WorkOrderCompleted(
        firm_id=work_order.firm_id,
        at=at,
        actor=actor,
        work_order_id=work_order.work_order_id,
        closing_matter_id=closing_matter_id,
    )
    return WorkOrderChange(replace(work_order, status=WorkOrderStatus.COMPLETE, completed_at=at), (event,))


def reopen_work_order(work_order: WorkOrder, *, actor: str, at: datetime) -> WorkOrderChange:
    """Reopen a completed WO."""
    if work_order.status is WorkOrderStatus.OPEN:
        raise Conflict(f"work order {work_order.work_order_id} is already open")
    event = WorkOrderReopened(
        firm_id=work_order.firm_id, at=at, actor=actor, work_order_id=work_order.work_order_id
    )
    return WorkOrderChange(replace(work_order, status=WorkOrderStatus.OPEN, completed_at=None), (event,))


@dataclass(frozen=True)
class BulkCompleteConfig:
    """The Bulk Complete Contractor Work Orders block's configuration.

    ``complete_shared`` ("Complete work orders that are also tied to other cases?") only exists in silent
    mode; outside it, the user's selection decides."""

    silent: bool = False
    complete_shared: bool = False


@dataclass(frozen=True)
class BulkCompletePlan:
    closing_matter_id: str
    to_complete: tuple[WorkOrder, ...]
    skipped_shared: tuple[WorkOrder, ...] = ()
    already_complete: tuple[WorkOrder, ...] = ()


def plan_case_close_completion(
    closing_matter_id: str,
    work_orders: Iterable[WorkOrder],
    config: BulkCompleteConfig,
    selected_ids: Collection[str] | None = None,
) -> BulkCompletePlan:
    """Which WOs closing a case completes.

    Shown mode: the user's selection among the case's WOs. Silent mode: every WO linked to the case, but
    not those also linked to another case unless ``complete_shared``."""
    linked = [wo for wo in work_orders if closing_matter_id in wo.matter_ids]
    if config.silent:
        if selected_ids:
            raise InvalidInput("in silent mode the block completes work orders itself; it takes no selection")
        chosen = linked
    else:
        by_id = {wo.work_order_id: wo for wo in linked}
        unknown = sorted(set(selected_ids or ()) - set(by_id))
        if unknown:
            raise InvalidInput(
                f"work order(s) {', '.join(unknown)} are not linked to the case being closed",
                field_errors=[FieldError("selected_ids", "choose from the case's work orders")],
            )
        wanted = set(selected_ids or ())
        chosen = [wo for wo_id, wo in by_id.items() if wo_id in wanted]
    complete: list[WorkOrder] = []
    shared: list[WorkOrder] = []
    done: list[WorkOrder] = []
    for wo in chosen:
        if wo.status is WorkOrderStatus.COMPLETE:
            done.append(wo)
        elif config.silent and not config.complete_shared and len(set(wo.matter_ids)) > 1:
            shared.append(wo)
        else:
            complete.append(wo)
    return BulkCompletePlan(closing_matter_id, tuple(complete), tuple(shared), tuple(done))


def complete_for_case_close(
    plan: BulkCompletePlan, *, actor: str, at: datetime
) -> tuple[WorkOrderChange, ...]:
    """Complete the planned WOs, each naming the case whose closing completed it."""
    return tuple(
        complete_work_order(wo, actor=actor, at=at, closing_matter_id=plan.closing_matter_id)
        for wo in plan.to_complete
    )


def _require_open(work_order: WorkOrder, doing: str) -> None:
    if work_order.status is not WorkOrderStatus.OPEN:
        raise Conflict(f"work order {work_order.work_order_id} is complete; reopen it to {doing}")


def _matter_problems(firm_id: str, matters: Sequence[Matter], already: tuple[str, ...]) -> list[FieldError]:
    problems: list[FieldError] = []
    seen = set(already)
    if len(already) + len(matters) > MAX_LINKED_MATTERS:
        problems.append(FieldError("matter_ids", f"a work order links at most {MAX_LINKED_MATTERS} cases"))
    for matter in matters:
        if matter.firm_id != firm_id:
            problems.append(FieldError("matter_ids", f"case {matter.number} is not this firm's"))
        elif matter.status is MatterStatus.CLOSED:
            problems.append(FieldError("matter_ids", f"case {matter.number} is closed"))
        elif matter.matter_id in seen:
            problems.append(FieldError("matter_ids", f"case {matter.number} is linked already"))
        seen.add(matter.matter_id)
    return problems
