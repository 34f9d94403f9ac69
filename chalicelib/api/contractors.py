"""The contractor module's REST API: settings, lookups, contractors, catalog, cases, work orders, billing
transactions, receipts, invoices (one by one and in bulk) and pay periods.

Handlers parse, call one service, shape the reply. Money travels as decimal strings (``MONEY_RULE``).
"""

from __future__ import annotations

import base64
import binascii
from decimal import Decimal
from typing import Any

from chalice import Blueprint, Response

from chalicelib.api.contractors_schemas import (
    AllocationIn,
    AllocationLogOut,
    AnnualAllocationIn,
    BtIn,
    BtOut,
    BtUpdate,
    BudgetOut,
    BulkCompleteIn,
    BulkCompleteOut,
    BulkInvoiceIn,
    BulkResultOut,
    CaseAssignmentIn,
    CaseAssignmentOut,
    CaseLinkIn,
    CaseOut,
    ContractorIn,
    ContractorOut,
    ContractorUpdate,
    ExpenseTypeIn,
    FeeCopyIn,
    FeeCopyOut,
    FeeStructureIn,
    FeeStructureOut,
    FollowProblemCodeIn,
    InvoiceActionIn,
    InvoiceIn,
    InvoiceOut,
    InvoicePage,
    InvoiceQuery,
    InvoiceSummaryOut,
    LookupOut,
    LookupValueChange,
    LookupValueIn,
    PayPeriodOut,
    PayPeriodsQuery,
    ProductIn,
    ProductOut,
    ProductUpdate,
    PsrIn,
    PsrUpdate,
    ReceiptFileOut,
    ReceiptIn,
    ReceiptOut,
    RecommendedListIn,
    RecommendedOut,
    RecommendedQuery,
    SettingsIn,
    SettingsOut,
    StandingOut,
    TemplateIn,
    TemplateOut,
    TemplateUpdate,
    VersionBody,
    VersionQuery,
    WorkOrderDetailOut,
    WorkOrderIn,
    WorkOrderOut,
    WorkOrderPage,
    WorkOrderQuery,
    WorkOrderUpdate,
)
from chalicelib.api.routing import Api, Call, services
from chalicelib.domain.contractors.contractors import ContractorAssignment, ContractorKind, ContractorRef
from chalicelib.domain.contractors.formula import FormulaDefinition
from chalicelib.domain.contractors.lookups import KEEP, LookupKind
from chalicelib.domain.contractors.pay_periods import PayPeriodSchedule
from chalicelib.domain.contractors.permissions import InvoiceAction
from chalicelib.domain.contractors.settings import (
    AnnualAllocationSettings,
    ApprovedInvoicePdfSettings,
    ContractorAddOns,
    InvoiceActionNotifications,
)
from chalicelib.domain.contractors.transactions import BillingTransaction
from chalicelib.domain.contractors.work_orders import PsrRequest, WorkOrder
from chalicelib.domain.errors import FieldError, InvalidInput, NotFound
from chalicelib.services.contractors.service import ContractorService, InvoiceView

contractors = Blueprint(__name__)
api = Api(contractors, "contractors")


def _service() -> ContractorService:
    return services().contractors


def _ref(kind: str, contractor_id: str) -> ContractorRef:
    try:
        return ContractorRef(ContractorKind(kind), contractor_id)
    except ValueError:
        raise NotFound("no such contractor; the kind is user or organization") from None


def _lookup_kind(kind: str) -> LookupKind:
    try:
        return LookupKind(kind)
    except ValueError:
        raise NotFound(f"there is no lookup '{kind}'") from None


def _decimal(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _invoice(call: Call, view: InvoiceView) -> InvoiceOut:
    units = _service().unit_labels(call.principal)
    return InvoiceOut.view(view.invoice, view.bts, view.payee, view.actions, units)


def _work_order(call: Call, work_order: WorkOrder) -> WorkOrderOut:
    """A work order with its linked cases' numbers and names (contractors cannot read /matters)."""
    return WorkOrderOut.of(work_order, _service().case_labels(call.principal, [work_order]))


def _bts(call: Call, bts: list[BillingTransaction]) -> list[BtOut]:
    """BTs with the unit their rate is per, by its label."""
    units = _service().unit_labels(call.principal) if bts else {}
    return [BtOut.of(bt, units) for bt in bts]


# ------------------------------------------------------------------ settings, lookups, pay periods


@api.route("/contractor/settings", "GET", summary="The firm's contractor settings", response=SettingsOut)
def get_settings(call: Call) -> SettingsOut:
    return SettingsOut.of(_service().settings(call.principal))


@api.route(
    "/contractor/settings",
    "PUT",
    summary="Save the contractor settings page",
    body=SettingsIn,
    response=SettingsOut,
)
def put_settings(call: Call) -> SettingsOut:
    body: SettingsIn = call.body
    allocations = body.annual_allocations
    changes: dict[str, Any] = {
        "replace_name_with_dba_on_invoices": body.replace_name_with_dba_on_invoices,
        "invoice_action_notifications": InvoiceActionNotifications(
            body.invoice_action_notifications.enabled,
            tuple(body.invoice_action_notifications.recipients),
            body.invoice_action_notifications.notify_contractor,
        ),
        "approved_invoice_pdf": ApprovedInvoicePdfSettings(
            **{
                **body.approved_invoice_pdf.model_dump(),
                "recipients": tuple(body.approved_invoice_pdf.recipients),
            }
        ),
        "annual_allocations": AnnualAllocationSettings(
            _decimal(allocations.user_allocation),
            _decimal(allocations.organization_allocation),
            allocations.fiscal_year_start_month,
        ),
        "add_ons": ContractorAddOns(**body.add_ons.model_dump()),
        "pay_period_schedule": PayPeriodSchedule(
            body.pay_period_schedule.interval, body.pay_period_schedule.start_date
        )
        if body.pay_period_schedule
        else None,
    }
    return SettingsOut.of(_service().save_settings(call.principal, body.version, changes))


@api.route(
    "/contractor/settings/recommended-list",
    "PUT",
    summary="Set or clear the recommended-contractors list's custom default filters",
    body=RecommendedListIn,
    response=SettingsOut,
)
def put_recommended_list(call: Call) -> SettingsOut:
    body: RecommendedListIn = call.body
    return SettingsOut.of(_service().save_recommended_list(call.principal, body.version, body.config()))


@api.route(
    "/contractor/lookups/{lookup}", "GET", summary="One contractor lookup's values", response=LookupOut
)
def get_lookup(call: Call, lookup: str) -> LookupOut:
    return LookupOut.of(*_service().lookup(call.principal, _lookup_kind(lookup)))


@api.route(
    "/contractor/lookups/{lookup}/values",
    "POST",
    summary="Add the firm's own value to a lookup",
    body=LookupValueIn,
    response=LookupOut,
    status=201,
)
def add_lookup_value(call: Call, lookup: str) -> LookupOut:
    body: LookupValueIn = call.body
    table, version = _service().add_lookup_value(
        call.principal,
        _lookup_kind(lookup),
        body.version,
        key=body.key,
        label=body.label,
        sort_order=body.sort_order,
        minutes_per_unit=body.minutes_per_unit,
        base_matter_allocation=_decimal(body.base_matter_allocation),
    )
    return LookupOut.of(table, version)


@api.route(
    "/contractor/lookups/{lookup}/values/{key}",
    "PATCH",
    summary="Rename, reorder or switch off one of the firm's lookup values",
    body=LookupValueChange,
    response=LookupOut,
)
def change_lookup_value(call: Call, lookup: str, key: str) -> LookupOut:
    body: LookupValueChange = call.body
    table, version = _service().change_lookup_value(
        call.principal,
        _lookup_kind(lookup),
        key,
        body.version,
        label=body.label,
        active=body.active,
        sort_order=body.sort_order,
        # Left out: kept; null: cleared.
        base_matter_allocation=_decimal(body.base_matter_allocation)
        if "base_matter_allocation" in body.model_fields_set
        else KEEP,
    )
    return LookupOut.of(table, version)


@api.route(
    "/contractor/pay-periods",
    "GET",
    summary="The current pay period and the next ones",
    query=PayPeriodsQuery,
    response=PayPeriodOut,
    response_is_list=True,
)
def pay_periods(call: Call) -> list[PayPeriodOut]:
    query: PayPeriodsQuery = call.query
    return [PayPeriodOut.of(p) for p in _service().pay_periods(call.principal, query.count)]


# ------------------------------------------------------------------ contractors

_CONTRACTOR = "/contractor/contractors/{contractor_kind}/{contractor_id}"


@api.route(
    "/contractor/contractors",
    "GET",
    summary="Contractors (a contractor sees only themselves)",
    response=ContractorOut,
    response_is_list=True,
)
def list_contractors(call: Call) -> list[ContractorOut]:
    return [ContractorOut.of(c) for c in _service().contractors(call.principal)]


@api.route(
    "/contractor/contractors",
    "POST",
    summary="Register a contractor user or organization",
    body=ContractorIn,
    response=ContractorOut,
    status=201,
)
def create_contractor(call: Call) -> ContractorOut:
    body: ContractorIn = call.body
    created = _service().create_contractor(
        call.principal,
        kind=body.kind,
        user_id=body.user_id,
        name=body.name,
        email=body.email,
        doing_business_as=body.doing_business_as,
        assignments=[ContractorAssignment(a.assignment_type, tuple(a.values)) for a in body.assignments],
    )
    return ContractorOut.of(created)


@api.route(_CONTRACTOR, "GET", summary="One contractor", response=ContractorOut)
def get_contractor(call: Call, contractor_kind: str, contractor_id: str) -> ContractorOut:
    return ContractorOut.of(_service().contractor(call.principal, _ref(contractor_kind, contractor_id)))


@api.route(_CONTRACTOR, "PATCH", summary="Change a contractor", body=ContractorUpdate, response=ContractorOut)
def update_contractor(call: Call, contractor_kind: str, contractor_id: str) -> ContractorOut:
    body: ContractorUpdate = call.body
    changes = body.model_dump(exclude_unset=True, exclude={"version"})
    if body.assignments is not None:
        changes["assignments"] = [
            ContractorAssignment(a.assignment_type, tuple(a.values)) for a in body.assignments
        ]
    for name in ("name", "active"):
        if name in changes and changes[name] is None:
            raise InvalidInput(
                f"{name} cannot be null", field_errors=[FieldError(f"body.{name}", "not null")]
            )
    updated = _service().update_contractor(
        call.principal, _ref(contractor_kind, contractor_id), body.version, changes
    )
    return ContractorOut.of(updated)


@api.route(
    f"{_CONTRACTOR}/standing",
    "GET",
    summary="Year to date against the annual allocation",
    response=StandingOut,
)
def standing(call: Call, contractor_kind: str, contractor_id: str) -> StandingOut:
    return StandingOut.of(*_service().standing(call.principal, _ref(contractor_kind, contractor_id)))


@api.route(
    f"{_CONTRACTOR}/annual-allocation",
    "PUT",
    summary="Set the contractor's own annual allocation (null: no limit)",
    body=AnnualAllocationIn,
    response=StandingOut,
)
def set_annual_allocation(call: Call, contractor_kind: str, contractor_id: str) -> StandingOut:
    body: AnnualAllocationIn = call.body
    result = _service().set_annual_allocation(
        call.principal, _ref(contractor_kind, contractor_id), _decimal(body.amount), body.version
    )
    return StandingOut.of(*result)


@api.route(
    f"{_CONTRACTOR}/fee-structures",
    "GET",
    summary="The contractor's own rates",
    response=FeeStructureOut,
    response_is_list=True,
)
def fee_structures(call: Call, contractor_kind: str, contractor_id: str) -> list[FeeStructureOut]:
    found = _service().fee_structures(call.principal, _ref(contractor_kind, contractor_id))
    return [FeeStructureOut.of(s) for s in found]


@api.route(
    f"{_CONTRACTOR}/fee-structures/{{product_id}}",
    "PUT",
    summary="Set the contractor's rate for a product or service",
    body=FeeStructureIn,
    response=FeeStructureOut,
)
def set_fee_structure(
    call: Call, contractor_kind: str, contractor_id: str, product_id: str
) -> FeeStructureOut:
    body: FeeStructureIn = call.body
    saved = _service().set_fee_structure(
        call.principal, _ref(contractor_kind, contractor_id), product_id, Decimal(body.rate), body.version
    )
    return FeeStructureOut.of(saved)


@api.route(
    f"{_CONTRACTOR}/fee-structures/{{product_id}}",
    "DELETE",
    summary="Remove the contractor's rate for a product or service (PSRs already added keep theirs)",
    query=VersionQuery,
    status=204,
)
def delete_fee_structure(call: Call, contractor_kind: str, contractor_id: str, product_id: str) -> Response:
    query: VersionQuery = call.query
    _service().delete_fee_structure(
        call.principal, _ref(contractor_kind, contractor_id), product_id, query.version
    )
    return Response(body="", status_code=204)


@api.route(
    f"{_CONTRACTOR}/fee-structures/copy",
    "POST",
    summary="Copy the contractor's fee structures to other contractors",
    body=FeeCopyIn,
    response=FeeCopyOut,
)
def copy_fee_structures(call: Call, contractor_kind: str, contractor_id: str) -> FeeCopyOut:
    body: FeeCopyIn = call.body
    plan = _service().copy_fee_structures(
        call.principal,
        _ref(contractor_kind, contractor_id),
        [t.ref() for t in body.targets],
        product_ids=body.product_ids,
        overwrite_existing=body.overwrite_existing,
    )
    return FeeCopyOut(
        created=len(plan.to_create), updated=len(plan.to_update), kept_existing=len(plan.kept_existing)
    )


@api.route(
    f"{_CONTRACTOR}/billing-transactions",
    "GET",
    summary="The contractor's non-invoiced billing transactions",
    response=BtOut,
    response_is_list=True,
)
def pool(call: Call, contractor_kind: str, contractor_id: str) -> list[BtOut]:
    return _bts(call, _service().pool(call.principal, _ref(contractor_kind, contractor_id)))


# ------------------------------------------------------------------ catalog


@api.route(
    "/contractor/products", "GET", summary="Products and services", response=ProductOut, response_is_list=True
)
def list_products(call: Call) -> list[ProductOut]:
    return [ProductOut.of(p) for p in _service().products(call.principal)]


@api.route(
    "/contractor/products",
    "POST",
    summary="Define a product or service (a rate and unit, or a formula)",
    body=ProductIn,
    response=ProductOut,
    status=201,
)
def create_product(call: Call) -> ProductOut:
    body: ProductIn = call.body
    formula = FormulaDefinition(**body.formula.model_dump()) if body.formula else None
    created = _service().create_product(
        call.principal,
        name=body.name,
        default_rate=_decimal(body.default_rate),
        unit_type=body.unit_type,
        category=body.category,
        override_fee_structures=body.override_fee_structures,
        assignment_type=body.assignment_type,
        formula=formula,
    )
    return ProductOut.of(created)


@api.route(
    "/contractor/products/{product_id}",
    "PATCH",
    summary="Change a product or service (PSRs already added keep their rate)",
    body=ProductUpdate,
    response=ProductOut,
)
def update_product(call: Call, product_id: str) -> ProductOut:
    body: ProductUpdate = call.body
    changes = {k: v for k, v in body.model_dump(exclude={"version"}).items() if v is not None}
    if "default_rate" in changes:
        changes["default_rate"] = Decimal(changes["default_rate"])
    return ProductOut.of(_service().update_product(call.principal, product_id, body.version, changes))


@api.route(
    "/contractor/templates",
    "GET",
    summary="Work order templates",
    response=TemplateOut,
    response_is_list=True,
)
def list_templates(call: Call) -> list[TemplateOut]:
    return [TemplateOut.of(t) for t in _service().templates(call.principal)]


@api.route(
    "/contractor/templates",
    "POST",
    summary="Define a work order template",
    body=TemplateIn,
    response=TemplateOut,
    status=201,
)
def create_template(call: Call) -> TemplateOut:
    body: TemplateIn = call.body
    created = _service().create_template(
        call.principal,
        name=body.name,
        items=[_psr_request(i.product_id, i.description, i.requested_units) for i in body.items],
        expense_types=body.expense_types,
        start_offset_days=body.start_offset_days,
        duration_days=body.duration_days,
    )
    return TemplateOut.of(created)


@api.route(
    "/contractor/templates/{template_id}",
    "PATCH",
    summary="Change a work order template (work orders made from it keep what they got)",
    body=TemplateUpdate,
    response=TemplateOut,
)
def update_template(call: Call, template_id: str) -> TemplateOut:
    body: TemplateUpdate = call.body
    changes: dict[str, Any] = {
        name: getattr(body, name)
        for name in ("name", "expense_types", "start_offset_days", "active")
        if getattr(body, name) is not None
    }
    if body.items is not None:
        changes["items"] = [_psr_request(i.product_id, i.description, i.requested_units) for i in body.items]
    if "duration_days" in body.model_fields_set:
        changes["duration_days"] = body.duration_days
    return TemplateOut.of(_service().update_template(call.principal, template_id, body.version, changes))


@api.route(
    "/contractor/templates/{template_id}",
    "DELETE",
    summary="Delete a work order template (work orders made from it are unchanged)",
    query=VersionQuery,
    status=204,
)
def delete_template(call: Call, template_id: str) -> Response:
    query: VersionQuery = call.query
    _service().delete_template(call.principal, template_id, query.version)
    return Response(body="", status_code=204)


def _psr_request(product_id: str, description: str, requested_units: str | None) -> PsrRequest:
    return PsrRequest(product_id, description, _decimal(requested_units))


# ------------------------------------------------------------------ cases


def _case_out(view: Any) -> CaseOut:
    allocation = view.allocation
    return CaseOut(
        matter_id=view.matter_id,
        problem_code=view.problem_code,
        assignments=[CaseAssignmentOut.of(a) for a in view.assignments],
        work_order_ids=view.work_order_ids,
        allocation_version=allocation.version if allocation else 0,
        manually_adjusted=allocation.manually_adjusted if allocation else False,
        budget=BudgetOut.of(view.budget),
        log=[AllocationLogOut.of(e) for e in view.log],
    )


@api.route(
    "/contractor/cases/{matter_id}",
    "GET",
    summary="A case's contractors, work orders, allocation, log and budget",
    response=CaseOut,
)
def get_case(call: Call, matter_id: str) -> CaseOut:
    return _case_out(_service().case(call.principal, matter_id))


@api.route(
    "/contractor/cases/{matter_id}/assignments",
    "POST",
    summary="Assign a contractor to a case for a kind of work",
    body=CaseAssignmentIn,
    response=CaseAssignmentOut,
    status=201,
)
def assign(call: Call, matter_id: str) -> CaseAssignmentOut:
    body: CaseAssignmentIn = call.body
    assignment = _service().assign_to_case(
        call.principal, matter_id, body.contractor.ref(), body.assignment_type
    )
    return CaseAssignmentOut.of(assignment)


@api.route(
    "/contractor/cases/{matter_id}/assignments/{contractor_kind}/{contractor_id}/{assignment_type}",
    "DELETE",
    summary="Take a contractor off a case for one kind of work",
    status=204,
)
def unassign(
    call: Call, matter_id: str, contractor_kind: str, contractor_id: str, assignment_type: str
) -> Response:
    _service().remove_case_assignment(
        call.principal, matter_id, _ref(contractor_kind, contractor_id), assignment_type
    )
    return Response(body="", status_code=204)


@api.route(
    "/contractor/cases/{matter_id}/allocation",
    "PUT",
    summary="Set the case's allocation by hand (problem codes stop moving it)",
    body=AllocationIn,
    response=CaseOut,
)
def adjust_allocation(call: Call, matter_id: str) -> CaseOut:
    body: AllocationIn = call.body
    view = _service().adjust_allocation(
        call.principal, matter_id, Decimal(body.allocated), body.note, body.version
    )
    return _case_out(view)


@api.route(
    "/contractor/cases/{matter_id}/allocation/follow-problem-code",
    "POST",
    summary="Undo a manual override: the allocation goes back to the problem code's base allocation",
    body=FollowProblemCodeIn,
    response=CaseOut,
)
def follow_problem_code(call: Call, matter_id: str) -> CaseOut:
    body: FollowProblemCodeIn = call.body
    return _case_out(_service().follow_problem_code(call.principal, matter_id, body.note, body.version))


@api.route(
    "/contractor/cases/{matter_id}/complete-work-orders",
    "POST",
    summary="Bulk complete the work orders of a case being closed",
    body=BulkCompleteIn,
    response=BulkCompleteOut,
)
def complete_case_work_orders(call: Call, matter_id: str) -> BulkCompleteOut:
    body: BulkCompleteIn = call.body
    done, shared, already = _service().complete_for_case_close(
        call.principal,
        matter_id,
        silent=body.silent,
        complete_shared=body.complete_shared,
        selected_ids=body.selected_ids,
    )
    return BulkCompleteOut(
        completed=[wo.work_order_id for wo in done], skipped_shared=shared, already_complete=already
    )


@api.route(
    "/contractor/cases/{matter_id}/recommended",
    "GET",
    summary="Recommended contractors for a case, least busy first, and the filters that chose them",
    query=RecommendedQuery,
    response=RecommendedOut,
)
def recommended(call: Call, matter_id: str) -> RecommendedOut:
    query: RecommendedQuery = call.query
    found = _service().recommended(
        call.principal, matter_id, requested=query.requested(), use_defaults=query.defaults != "none"
    )
    return RecommendedOut.of(found)


# ------------------------------------------------------------------ work orders

_WO = "/contractor/work-orders/{work_order_id}"


@api.route(
    "/contractor/work-orders",
    "GET",
    summary="Work orders (a contractor's own; staff see the firm's)",
    query=WorkOrderQuery,
    response=WorkOrderPage,
)
def list_work_orders(call: Call) -> WorkOrderPage:
    query: WorkOrderQuery = call.query
    page = _service().work_orders(
        call.principal, query.status.value if query.status else None, query.cursor, query.limit
    )
    cases = _service().case_labels(call.principal, page.items)
    return WorkOrderPage(
        items=[WorkOrderOut.of(wo, cases) for wo in page.items], next_cursor=page.next_cursor
    )


@api.route(
    "/contractor/work-orders",
    "POST",
    summary="Create a work order, by hand or from a template",
    body=WorkOrderIn,
    response=WorkOrderOut,
    status=201,
)
def create_work_order(call: Call) -> WorkOrderOut:
    body: WorkOrderIn = call.body
    created = _service().create_work_order(
        call.principal,
        assignee=body.assignee.ref(),
        title=body.title,
        description=body.description,
        matter_ids=body.matter_ids,
        start_date=body.start_date,
        end_date=body.end_date,
        items=[_psr_request(i.product_id, i.description, i.requested_units) for i in body.items],
        expense_types=body.expense_types,
        template_id=body.template_id,
    )
    return _work_order(call, created)


@api.route(_WO, "GET", summary="A work order with its billing transactions", response=WorkOrderDetailOut)
def get_work_order(call: Call, work_order_id: str) -> WorkOrderDetailOut:
    work_order, bts, receipts = _service().work_order(call.principal, work_order_id)
    return WorkOrderDetailOut(
        work_order=_work_order(call, work_order),
        billing_transactions=_bts(call, bts),
        receipts=[ReceiptOut.of(r) for r in receipts],
    )


@api.route(
    _WO,
    "PATCH",
    summary="Change a work order's title, description, dates or linked cases",
    body=WorkOrderUpdate,
    response=WorkOrderOut,
)
def edit_work_order(call: Call, work_order_id: str) -> WorkOrderOut:
    body: WorkOrderUpdate = call.body
    # Dates may be cleared with null; the other fields are kept when left out (or sent as null).
    changes: dict[str, Any] = {
        name: getattr(body, name)
        for name in ("title", "description", "matter_ids")
        if getattr(body, name) is not None
    }
    changes.update(
        {name: getattr(body, name) for name in ("start_date", "end_date") if name in body.model_fields_set}
    )
    return _work_order(call, _service().edit_work_order(call.principal, work_order_id, body.version, changes))


@api.route(
    f"{_WO}/psrs", "POST", summary="Add a PSR (its rate is locked now)", body=PsrIn, response=WorkOrderOut
)
def add_psr(call: Call, work_order_id: str) -> WorkOrderOut:
    body: PsrIn = call.body
    request = _psr_request(body.product_id, body.description, body.requested_units)
    return _work_order(call, _service().add_psr(call.principal, work_order_id, body.version, request))


@api.route(f"{_WO}/psrs/{{psr_id}}", "PATCH", summary="Edit a PSR", body=PsrUpdate, response=WorkOrderOut)
def edit_psr(call: Call, work_order_id: str, psr_id: str) -> WorkOrderOut:
    body: PsrUpdate = call.body
    changes: dict[str, Any] = {}
    if body.description is not None:
        changes["description"] = body.description
    if body.requested_units is not None:
        changes["requested_units"] = Decimal(body.requested_units)
    if body.rate is not None:
        changes["rate"] = Decimal(body.rate)
    return _work_order(
        call, _service().edit_psr(call.principal, work_order_id, psr_id, body.version, changes)
    )


@api.route(
    f"{_WO}/psrs/{{psr_id}}",
    "DELETE",
    summary="Delete a PSR that has no billing transactions",
    query=VersionQuery,
    response=WorkOrderOut,
)
def delete_psr(call: Call, work_order_id: str, psr_id: str) -> WorkOrderOut:
    query: VersionQuery = call.query
    return _work_order(call, _service().delete_psr(call.principal, work_order_id, psr_id, query.version))


@api.route(
    f"{_WO}/complete", "POST", summary="Mark a work order complete", body=VersionBody, response=WorkOrderOut
)
def complete(call: Call, work_order_id: str) -> WorkOrderOut:
    body: VersionBody = call.body
    return _work_order(call, _service().complete_work_order(call.principal, work_order_id, body.version))


@api.route(
    f"{_WO}/reopen", "POST", summary="Reopen a completed work order", body=VersionBody, response=WorkOrderOut
)
def reopen(call: Call, work_order_id: str) -> WorkOrderOut:
    body: VersionBody = call.body
    return _work_order(call, _service().reopen_work_order(call.principal, work_order_id, body.version))


@api.route(f"{_WO}/cases", "POST", summary="Link or unlink cases", body=CaseLinkIn, response=WorkOrderOut)
def link_cases(call: Call, work_order_id: str) -> WorkOrderOut:
    body: CaseLinkIn = call.body
    changed = _service().link_cases(call.principal, work_order_id, body.version, body.link, body.unlink)
    return _work_order(call, changed)


@api.route(
    f"{_WO}/expense-types",
    "POST",
    summary="Allow an expense reimbursement type on the work order",
    body=ExpenseTypeIn,
    response=WorkOrderOut,
)
def allow_expense_type(call: Call, work_order_id: str) -> WorkOrderOut:
    body: ExpenseTypeIn = call.body
    changed = _service().allow_expense_type(call.principal, work_order_id, body.version, body.expense_type)
    return _work_order(call, changed)


@api.route(
    f"{_WO}/expense-types/{{expense_type}}",
    "DELETE",
    summary="Stop allowing an expense reimbursement type (refused while expenses of it are logged)",
    query=VersionQuery,
    response=WorkOrderOut,
)
def remove_expense_type(call: Call, work_order_id: str, expense_type: str) -> WorkOrderOut:
    query: VersionQuery = call.query
    changed = _service().remove_expense_type(call.principal, work_order_id, query.version, expense_type)
    return _work_order(call, changed)


@api.route(
    f"{_WO}/receipts",
    "POST",
    summary="Upload a receipt (PDF, PNG, JPEG or HEIC, at most 5 MB) for an expense",
    body=ReceiptIn,
    response=ReceiptOut,
    status=201,
)
def upload_receipt(call: Call, work_order_id: str) -> ReceiptOut:
    body: ReceiptIn = call.body
    try:
        content = base64.b64decode(body.content_base64, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput(
            "the file is not base64",
            field_errors=[FieldError("body.content_base64", "send the file as base64")],
        ) from None
    receipt = _service().upload_receipt(
        call.principal, work_order_id, body.file_name, body.content_type, content
    )
    return ReceiptOut.of(receipt)


@api.route(f"{_WO}/receipts/{{document_id}}", "GET", summary="Download a receipt", response=ReceiptFileOut)
def download_receipt(call: Call, work_order_id: str, document_id: str) -> ReceiptFileOut:
    receipt, content = _service().receipt_download(call.principal, work_order_id, document_id)
    return ReceiptFileOut(receipt=ReceiptOut.of(receipt), content_base64=base64.b64encode(content).decode())


@api.route(
    f"{_WO}/billing-transactions",
    "POST",
    summary="Log a billing transaction (product/service, timeslip or expense)",
    body=BtIn,
    response=BtOut,
    status=201,
)
def log_bt(call: Call, work_order_id: str) -> BtOut:
    body: BtIn = call.body
    inputs = (
        (Decimal(body.formula_inputs[0]), Decimal(body.formula_inputs[1])) if body.formula_inputs else None
    )
    bt = _service().log_bt(
        call.principal,
        work_order_id,
        bt_type=body.bt_type,
        work_date=body.work_date,
        psr_id=body.psr_id,
        units=_decimal(body.units),
        formula_inputs=inputs,
        minutes=body.minutes,
        amount=_decimal(body.amount),
        expense_type=body.expense_type,
        receipt_ids=body.receipt_ids,
        description=body.description,
        matter_id=body.matter_id,
    )
    return _bts(call, [bt])[0]


@api.route(
    f"{_WO}/billing-transactions/{{bt_id}}",
    "PATCH",
    summary="Correct a billing transaction",
    body=BtUpdate,
    response=BtOut,
)
def revise_bt(call: Call, work_order_id: str, bt_id: str) -> BtOut:
    body: BtUpdate = call.body
    changes: dict[str, Any] = {k: v for k, v in body.model_dump(exclude={"version"}).items() if v is not None}
    for name in ("units", "amount"):
        if name in changes:
            changes[name] = Decimal(changes[name])
    return _bts(call, [_service().revise_bt(call.principal, work_order_id, bt_id, body.version, changes)])[0]


@api.route(
    f"{_WO}/billing-transactions/{{bt_id}}",
    "DELETE",
    summary="Delete a billing transaction (pending, invoiced or disputed)",
    query=VersionQuery,
    status=204,
)
def delete_bt(call: Call, work_order_id: str, bt_id: str) -> Response:
    query: VersionQuery = call.query
    _service().delete_bt(call.principal, work_order_id, bt_id, query.version)
    return Response(body="", status_code=204)


# ------------------------------------------------------------------ invoices


@api.route(
    "/contractor/invoices",
    "GET",
    summary="Invoices by status (one Query), or one contractor's",
    query=InvoiceQuery,
    response=InvoicePage,
)
def list_invoices(call: Call) -> InvoicePage:
    query: InvoiceQuery = call.query
    who = None
    if query.contractor_kind and query.contractor_id:
        who = ContractorRef(query.contractor_kind, query.contractor_id)
    page = _service().invoices(call.principal, query.status, who, query.cursor, query.limit)
    return InvoicePage(items=[InvoiceSummaryOut.of(i) for i in page.items], next_cursor=page.next_cursor)


@api.route(
    "/contractor/invoices",
    "POST",
    summary="Create a draft invoice from the contractor's non-invoiced billing transactions",
    body=InvoiceIn,
    response=InvoiceOut,
    status=201,
)
def create_invoice(call: Call) -> InvoiceOut:
    body: InvoiceIn = call.body
    view = _service().create_invoice(
        call.principal,
        contractor=body.contractor.ref(),
        bt_ids=body.bt_ids,
        invoice_date=body.invoice_date,
        due_date=body.due_date,
        note=body.note,
    )
    return _invoice(call, view)


@api.route(
    "/contractor/invoices/bulk",
    "POST",
    summary="One action on many invoices; each invoice's outcome is reported",
    body=BulkInvoiceIn,
    response=BulkResultOut,
    response_is_list=True,
)
def bulk(call: Call) -> list[BulkResultOut]:
    body: BulkInvoiceIn = call.body
    results = _service().bulk(call.principal, body.invoice_ids, InvoiceAction(body.action), body.params())
    return [BulkResultOut(**r.__dict__) for r in results]


@api.route(
    "/contractor/invoices/{invoice_id}",
    "GET",
    summary="An invoice with its billing transactions, totals by category and your actions",
    response=InvoiceOut,
)
def get_invoice(call: Call, invoice_id: str) -> InvoiceOut:
    return _invoice(call, _service().invoice(call.principal, invoice_id))


@api.route(
    "/contractor/invoices/{invoice_id}/actions",
    "POST",
    summary="Take an action on an invoice (submit, verify, approve, pay, ...)",
    body=InvoiceActionIn,
    response=InvoiceOut,
)
def act(call: Call, invoice_id: str) -> InvoiceOut:
    body: InvoiceActionIn = call.body
    view = _service().act(call.principal, invoice_id, InvoiceAction(body.action), body.version, body.params())
    assert view is not None  # only delete removes an invoice, and it has its own route
    return _invoice(call, view)


@api.route(
    "/contractor/invoices/{invoice_id}",
    "DELETE",
    summary="Delete a draft or disputed invoice; its billing transactions return to the pool",
    query=VersionQuery,
    status=204,
)
def delete_invoice(call: Call, invoice_id: str) -> Response:
    query: VersionQuery = call.query
    _service().act(call.principal, invoice_id, InvoiceAction.DELETE, query.version, {})
    return Response(body="", status_code=204)
