"""Request and response models of the contractor module's API.

Money is exact: every amount, rate and quantity travels as a decimal STRING (never a JSON number, which
clients may read as a float). The rounding rule (``MONEY_RULE``) is written into each field's
description, so it is part of ``/openapi.json``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, model_validator

from chalicelib.api.schemas import ApiModel, Input
from chalicelib.domain.contractors.allocations import AllocationLogEntry, AnnualStanding, CaseBudget
from chalicelib.domain.contractors.catalog import FeeStructure, ProductService
from chalicelib.domain.contractors.contractors import (
    AssignmentAttribute,
    CaseAssignment,
    Contractor,
    ContractorKind,
    ContractorRef,
    FilterSource,
    Recommendation,
    RecommendationFilters,
    RecommendedList,
    RecommendedListConfig,
)
from chalicelib.domain.contractors.invoices import Invoice
from chalicelib.domain.contractors.lookups import BtStatus, BtType, InvoiceStatus, LookupKind, LookupTable
from chalicelib.domain.contractors.pay_periods import PayPeriod, PayPeriodInterval
from chalicelib.domain.contractors.permissions import InvoiceAction
from chalicelib.domain.contractors.settings import ContractorSettings
from chalicelib.domain.contractors.transactions import BillingTransaction, ReceiptDocument
from chalicelib.domain.contractors.work_orders import Psr, WorkOrder, WorkOrderStatus, WorkOrderTemplate

if TYPE_CHECKING:
    from chalicelib.services.contractors.service import CaseLabel

MONEY_RULE = (
    "An exact decimal, as a string. A line amount is units x rate (or a formula's result, or a "
    "timeslip's minutes / minutes per unit x rate) computed exactly and rounded ONCE to cents, half up "
    "(0.005 becomes 0.01); totals are sums of the rounded line amounts, so they add up to the cent."
)
AMOUNT = r"^\d{1,9}(\.\d{1,2})?$"
RATE = r"^\d{1,8}(\.\d{1,4})?$"
UNITS = r"^\d{1,7}(\.\d{1,4})?$"


def _money(description: str, pattern: str = AMOUNT) -> Any:
    return Field(pattern=pattern, description=f"{description}. {MONEY_RULE}", examples=["125.50"])


def _optional_money(description: str, pattern: str = AMOUNT) -> Any:
    return Field(default=None, pattern=pattern, description=f"{description}. {MONEY_RULE}")


Id = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")


class ContractorRefIn(Input):
    kind: ContractorKind
    contractor_id: str = Id

    def ref(self) -> ContractorRef:
        return ContractorRef(self.kind, self.contractor_id)


class ContractorRefOut(ApiModel):
    kind: ContractorKind
    contractor_id: str

    @classmethod
    def of(cls, ref: ContractorRef) -> ContractorRefOut:
        return cls(kind=ref.kind, contractor_id=ref.contractor_id)


class VersionBody(Input):
    version: int = Field(ge=0, le=10**9, description="the record's version as read")


class VersionQuery(Input):
    version: int = Field(ge=0, le=10**9, description="the record's version as read")


# ------------------------------------------------------------------ settings and lookups


class InvoiceNotificationsModel(Input):
    enabled: bool = False
    recipients: list[str] = Field(default_factory=list, max_length=50)
    notify_contractor: bool = True


class PdfSettingsModel(Input):
    enabled: bool = False
    recipients: list[str] = Field(default_factory=list, max_length=50)
    notify_contractor: bool = True
    email_subject: str = Field(default="Invoice {invoice_number} approved for payment", max_length=200)
    email_body: str = Field(
        default="Invoice {invoice_number} from {contractor_name} for {total} was approved on {approved_on}.",
        max_length=10_000,
    )
    logo_document_key: str | None = Field(default=None, max_length=300)


class AnnualAllocationsModel(Input):
    user_allocation: str | None = _optional_money("default annual allocation of a contractor user")
    organization_allocation: str | None = _optional_money("default annual allocation of an organization")
    fiscal_year_start_month: int = Field(default=1, ge=1, le=12)


class AddOnsModel(Input):
    organizations: bool = False
    allocations: bool = False
    organization_allocations: bool = False
    matter_allocations: bool = False
    formula_rates: bool = False


class PayPeriodScheduleModel(Input):
    interval: PayPeriodInterval
    start_date: date


class SettingsIn(Input):
    """The whole settings page; send ``version`` as read (0 before the first save)."""

    version: int = Field(ge=0, le=10**9)
    replace_name_with_dba_on_invoices: bool = False
    invoice_action_notifications: InvoiceNotificationsModel = Field(default_factory=InvoiceNotificationsModel)
    approved_invoice_pdf: PdfSettingsModel = Field(default_factory=PdfSettingsModel)
    annual_allocations: AnnualAllocationsModel = Field(default_factory=AnnualAllocationsModel)
    add_ons: AddOnsModel = Field(default_factory=AddOnsModel)
    pay_period_schedule: PayPeriodScheduleModel | None = None


class DefaultFiltersIn(Input):
    """The recommended-contractors list's custom default filters (they replace those a case inherits)."""

    assignment_types: list[str] = Field(
        default_factory=list, max_length=10, description="only these kinds of work (none: any kind)"
    )
    values: dict[AssignmentAttribute, list[str]] = Field(
        default_factory=dict,
        description="per attribute, values a contractor of that kind of work must ALL have (subjects, "
        "languages, ...); expertise and investigation types are keys of their lookups",
    )
    include_already_assigned: bool = False
    include_over_allocation: bool = False

    def filters(self) -> RecommendationFilters:
        return RecommendationFilters(
            assignment_types=frozenset(self.assignment_types),
            values={attribute: frozenset(values) for attribute, values in self.values.items() if values},
            include_already_assigned=self.include_already_assigned,
            include_over_allocation=self.include_over_allocation,
        )


class RecommendedListIn(Input):
    """Set (an object) or clear (null: inherit from each case) the custom default filters."""

    version: int = Field(ge=0, le=10**9, description="the settings' version as read")
    custom_default_filters: DefaultFiltersIn | None

    def config(self) -> RecommendedListConfig:
        custom = self.custom_default_filters
        return RecommendedListConfig(custom.filters() if custom is not None else None)


class FiltersOut(ApiModel):
    """Filters of the recommended-contractors list; empty means any."""

    assignment_types: list[str]
    values: dict[str, list[str]] = Field(description="attribute -> the values asked for, sorted")
    name: str
    include_already_assigned: bool
    include_over_allocation: bool

    @classmethod
    def of(cls, filters: RecommendationFilters) -> FiltersOut:
        return cls(
            assignment_types=sorted(filters.assignment_types),
            values={
                attribute.value: sorted(values, key=str.casefold)
                for attribute, values in sorted(filters.values.items())
                if values
            },
            name=filters.name_contains,
            include_already_assigned=filters.include_already_assigned,
            include_over_allocation=filters.include_over_allocation,
        )


class RecommendedListSettingsOut(ApiModel):
    custom_default_filters: FiltersOut | None = Field(
        description="null: the list inherits its default filters from each case"
    )


class SettingsOut(ApiModel):
    replace_name_with_dba_on_invoices: bool
    invoice_action_notifications: dict[str, object]
    approved_invoice_pdf: dict[str, object]
    annual_allocations: dict[str, object]
    add_ons: dict[str, bool]
    pay_period_schedule: dict[str, str] | None
    recommended_list: RecommendedListSettingsOut
    version: int

    @classmethod
    def of(cls, settings: ContractorSettings) -> SettingsOut:
        from chalicelib.adapters.persistence.contractors_codec import to_plain

        plain = to_plain(settings)
        custom = settings.recommended_list.custom_default_filters
        return cls(
            replace_name_with_dba_on_invoices=settings.replace_name_with_dba_on_invoices,
            invoice_action_notifications=plain["invoice_action_notifications"],
            approved_invoice_pdf=plain["approved_invoice_pdf"],
            annual_allocations=plain["annual_allocations"],
            add_ons=plain["add_ons"],
            pay_period_schedule=plain["pay_period_schedule"],
            recommended_list=RecommendedListSettingsOut(
                custom_default_filters=FiltersOut.of(custom) if custom is not None else None
            ),
            version=settings.version,
        )


class LookupValueOut(ApiModel):
    key: str
    label: str
    system: bool
    active: bool
    sort_order: int
    minutes_per_unit: int | None
    base_matter_allocation: Decimal | None = Field(
        default=None, description=f"legal problem codes: a new case's contractor allocation. {MONEY_RULE}"
    )


class LookupOut(ApiModel):
    kind: LookupKind
    values: list[LookupValueOut]
    version: int

    @classmethod
    def of(cls, table: LookupTable, version: int) -> LookupOut:
        return cls(
            kind=table.kind,
            values=[
                LookupValueOut(
                    key=v.key,
                    label=v.label,
                    system=v.system,
                    active=v.active,
                    sort_order=v.sort_order,
                    minutes_per_unit=v.minutes_per_unit,
                    base_matter_allocation=v.base_matter_allocation,
                )
                for v in table.values
            ],
            version=version,
        )


class LookupValueIn(Input):
    version: int = Field(ge=0, le=10**9, description="the lookup's version as read (0 before any change)")
    key: str = Field(min_length=1, max_length=64)
    label: str = Field(min_length=1, max_length=100)
    sort_order: int = Field(default=0, ge=0, le=10_000)
    minutes_per_unit: int | None = Field(default=None, ge=1, le=1440, description="time-based fee units")
    base_matter_allocation: str | None = _optional_money(
        "legal problem codes, with the Contractor Matter Allocations add-on: the Contractor Base Matter "
        "Allocation a new case with this code gets"
    )


class LookupValueChange(Input):
    version: int = Field(ge=0, le=10**9)
    label: str | None = Field(default=None, min_length=1, max_length=100)
    active: bool | None = None
    sort_order: int | None = Field(default=None, ge=0, le=10_000)
    base_matter_allocation: str | None = _optional_money(
        "legal problem codes: a new Contractor Base Matter Allocation (null clears it; left out, it stays); "
        "cases already created keep theirs"
    )


class PayPeriodsQuery(Input):
    count: int = Field(default=6, ge=1, le=104)


class PayPeriodOut(ApiModel):
    start: date
    end: date

    @classmethod
    def of(cls, period: PayPeriod) -> PayPeriodOut:
        return cls(start=period.start, end=period.end)


# ------------------------------------------------------------------ contractors


class AssignmentModel(Input):
    assignment_type: str = Field(min_length=1, max_length=64)
    values: list[str] = Field(default_factory=list, max_length=50)


class ContractorIn(Input):
    kind: ContractorKind
    user_id: str | None = Field(default=None, max_length=64, description="for a contractor user")
    name: str = Field(min_length=1, max_length=200)
    email: str | None = Field(default=None, max_length=254)
    doing_business_as: str = Field(default="", max_length=200)
    assignments: list[AssignmentModel] = Field(default_factory=list, max_length=10)


class ContractorUpdate(Input):
    version: int = Field(ge=1, le=10**9)
    name: str | None = Field(default=None, min_length=1, max_length=200)
    email: str | None = Field(default=None, max_length=254)
    doing_business_as: str | None = Field(default=None, max_length=200)
    assignments: list[AssignmentModel] | None = Field(default=None, max_length=10)
    active: bool | None = None


class AssignmentOut(ApiModel):
    assignment_type: str
    values: list[str]


class ContractorOut(ApiModel):
    kind: ContractorKind
    contractor_id: str
    name: str
    email: str | None
    doing_business_as: str
    assignments: list[AssignmentOut]
    active: bool
    version: int

    @classmethod
    def of(cls, contractor: Contractor) -> ContractorOut:
        return cls(
            kind=contractor.kind,
            contractor_id=contractor.contractor_id,
            name=contractor.name,
            email=contractor.email,
            doing_business_as=contractor.doing_business_as,
            assignments=[
                AssignmentOut(assignment_type=a.assignment_type, values=list(a.values))
                for a in contractor.assignments
            ],
            active=contractor.active,
            version=contractor.version,
        )


class StandingOut(ApiModel):
    year_start: date
    year_end: date
    allocation: Decimal | None = Field(description=f"None: no limit. {MONEY_RULE}")
    used: Decimal = Field(description=f"approved for payment this fiscal year to date. {MONEY_RULE}")
    remaining: Decimal | None
    over_threshold: bool
    version: int = Field(
        description="the version of the contractor's own annual allocation (0: none set yet); send it to "
        "PUT …/annual-allocation"
    )

    @classmethod
    def of(cls, standing: AnnualStanding, version: int) -> StandingOut:
        return cls(
            year_start=standing.year_start,
            year_end=standing.year_end,
            allocation=standing.allocation,
            used=standing.used,
            remaining=standing.remaining,
            over_threshold=standing.over_threshold,
            version=version,
        )


class AnnualAllocationIn(Input):
    version: int = Field(ge=0, le=10**9)
    amount: str | None = _optional_money("the contractor's own annual allocation; null for no limit")


class FeeStructureIn(Input):
    version: int = Field(ge=0, le=10**9, description="0 for a new fee structure")
    rate: str = _money("the contractor's rate per unit", RATE)


class FeeStructureOut(ApiModel):
    product_id: str
    rate: Decimal = Field(description=MONEY_RULE)
    updated_at: datetime | None
    version: int

    @classmethod
    def of(cls, structure: FeeStructure) -> FeeStructureOut:
        return cls(
            product_id=structure.product_id,
            rate=structure.rate,
            updated_at=structure.updated_at,
            version=structure.version,
        )


class FeeCopyIn(Input):
    targets: list[ContractorRefIn] = Field(min_length=1, max_length=100)
    product_ids: list[str] | None = Field(default=None, max_length=500)
    overwrite_existing: bool = False


class FeeCopyOut(ApiModel):
    created: int
    updated: int
    kept_existing: int


# ------------------------------------------------------------------ catalog


class FormulaModel(Input):
    expression: str = Field(min_length=1, max_length=500)
    primary_name: str = Field(default="primary", max_length=32)
    secondary_name: str = Field(default="secondary", max_length=32)
    primary_label: str = Field(default="Primary Formula Transaction Input", max_length=100)
    secondary_label: str = Field(default="Secondary Formula Transaction Input", max_length=100)


class ProductIn(Input):
    name: str = Field(min_length=1, max_length=200)
    default_rate: str | None = _optional_money("the default rate per unit", RATE)
    unit_type: str | None = Field(default=None, max_length=64)
    category: str | None = Field(default=None, max_length=64)
    override_fee_structures: bool = False
    assignment_type: str | None = Field(default=None, max_length=64)
    formula: FormulaModel | None = None


class ProductUpdate(Input):
    version: int = Field(ge=1, le=10**9)
    name: str | None = Field(default=None, min_length=1, max_length=200)
    default_rate: str | None = _optional_money("the default rate per unit", RATE)
    category: str | None = Field(default=None, max_length=64)
    override_fee_structures: bool | None = None
    active: bool | None = None


class ProductOut(ApiModel):
    product_id: str
    name: str
    default_rate: Decimal | None = Field(description=MONEY_RULE)
    unit_type: str | None
    time_based: bool
    category: str | None
    override_fee_structures: bool
    assignment_type: str | None
    formula: str | None
    active: bool
    version: int

    @classmethod
    def of(cls, product: ProductService) -> ProductOut:
        return cls(
            product_id=product.product_id,
            name=product.name,
            default_rate=product.default_rate,
            unit_type=product.unit_type,
            time_based=product.time_based,
            category=product.category,
            override_fee_structures=product.override_fee_structures,
            assignment_type=product.assignment_type,
            formula=product.formula.expression if product.formula else None,
            active=product.active,
            version=product.version,
        )


class PsrRequestModel(Input):
    product_id: str = Id
    description: str = Field(default="", max_length=4000)
    requested_units: str | None = _optional_money("units requested", UNITS)


class TemplateIn(Input):
    name: str = Field(min_length=1, max_length=200)
    items: list[PsrRequestModel] = Field(default_factory=list, max_length=500)
    expense_types: list[str] = Field(default_factory=list, max_length=50)
    start_offset_days: int = Field(default=0, ge=0, le=366)
    duration_days: int | None = Field(default=None, ge=0, le=3660)


class TemplateUpdate(Input):
    """Send only what changes; ``items`` and ``expense_types`` replace the template's lists whole, and
    ``duration_days`` may be null (no end date)."""

    version: int = Field(ge=1, le=10**9, description="the template's version as read")
    name: str | None = Field(default=None, min_length=1, max_length=200)
    items: list[PsrRequestModel] | None = Field(default=None, max_length=500)
    expense_types: list[str] | None = Field(default=None, max_length=50)
    start_offset_days: int | None = Field(default=None, ge=0, le=366)
    duration_days: int | None = Field(default=None, ge=0, le=3660)
    active: bool | None = Field(default=None, description="false: no longer offered for new work orders")


class TemplateOut(ApiModel):
    template_id: str
    name: str
    product_ids: list[str]
    expense_types: list[str]
    start_offset_days: int
    duration_days: int | None
    active: bool = True
    version: int

    @classmethod
    def of(cls, template: WorkOrderTemplate) -> TemplateOut:
        return cls(
            template_id=template.template_id,
            name=template.name,
            product_ids=[item.product_id for item in template.items],
            expense_types=list(template.expense_types),
            start_offset_days=template.start_offset_days,
            duration_days=template.duration_days,
            active=template.active,
            version=template.version,
        )


# ------------------------------------------------------------------ cases


class CaseAssignmentIn(Input):
    contractor: ContractorRefIn
    assignment_type: str = Field(min_length=1, max_length=64)


class CaseAssignmentOut(ApiModel):
    contractor: ContractorRefOut
    assignment_type: str
    assigned_at: datetime | None
    assigned_by: str

    @classmethod
    def of(cls, assignment: CaseAssignment) -> CaseAssignmentOut:
        return cls(
            contractor=ContractorRefOut.of(assignment.contractor),
            assignment_type=assignment.assignment_type,
            assigned_at=assignment.assigned_at,
            assigned_by=assignment.assigned_by,
        )


class AllocationLogOut(ApiModel):
    at: datetime
    actor: str
    reason: str
    allocated_before: Decimal | None
    allocated_after: Decimal | None
    deducted_before: Decimal
    deducted_after: Decimal
    invoice_id: str | None
    note: str

    @classmethod
    def of(cls, entry: AllocationLogEntry) -> AllocationLogOut:
        return cls(
            at=entry.at,
            actor=entry.actor,
            reason=entry.reason.value,
            allocated_before=entry.allocated_before,
            allocated_after=entry.allocated_after,
            deducted_before=entry.deducted_before,
            deducted_after=entry.deducted_after,
            invoice_id=entry.invoice_id,
            note=entry.note,
        )


class BudgetOut(ApiModel):
    allocated: Decimal | None = Field(description=f"None: no allocation. {MONEY_RULE}")
    invoiced: Decimal = Field(
        description=f"BTs billed to the case on invoices, denied excluded. {MONEY_RULE}"
    )
    approved: Decimal = Field(description=f"deducted by approved invoices. {MONEY_RULE}")
    remaining: Decimal | None = Field(description=f"allocated - approved; may be negative. {MONEY_RULE}")
    over_budget: bool

    @classmethod
    def of(cls, budget: CaseBudget) -> BudgetOut:
        return cls(
            allocated=budget.allocated,
            invoiced=budget.invoiced,
            approved=budget.approved,
            remaining=budget.remaining,
            over_budget=budget.over_budget,
        )


class CaseOut(ApiModel):
    matter_id: str
    problem_code: str | None = Field(
        default=None, description="the case's legal problem code (its allocation follows it until adjusted)"
    )
    assignments: list[CaseAssignmentOut]
    work_order_ids: list[str]
    allocation_version: int
    manually_adjusted: bool
    budget: BudgetOut
    log: list[AllocationLogOut]


class AllocationIn(Input):
    version: int = Field(ge=0, le=10**9, description="the allocation's version as read (0: none yet)")
    allocated: str = _money("the case's contractor allocation")
    note: str = Field(min_length=1, max_length=1000)


class FollowProblemCodeIn(Input):
    """Hand a manually set allocation back to the case's problem code (its base allocation)."""

    version: int = Field(ge=0, le=10**9, description="the allocation's version as read")
    note: str = Field(
        min_length=1, max_length=1000, description="why the allocation goes back; it goes into the log"
    )


class BulkCompleteIn(Input):
    silent: bool = False
    complete_shared: bool = Field(default=False, description="silent mode: also WOs tied to other cases")
    selected_ids: list[str] | None = Field(default=None, max_length=200)


class BulkCompleteOut(ApiModel):
    completed: list[str]
    skipped_shared: list[str]
    already_complete: list[str]


_LIST = "comma-separated"


def _listed(description: str) -> Any:
    return Field(default=None, max_length=1500, description=f"{description} ({_LIST})")


class RecommendedQuery(Input):
    """With no filter parameter the list's default filters apply (the admin's custom defaults, else those
    inherited from the case); any filter parameter (with a value) replaces the defaults whole;
    ``defaults=none`` and no filter parameter lists everyone."""

    defaults: Literal["apply", "none"] = Field(
        default="apply", description="none: apply no default filters (ignored when filters are named)"
    )
    assignment_types: str | None = _listed("only these kinds of work")
    name: str | None = Field(default=None, max_length=100, description="part of the name or DBA name")
    subjects: str | None = _listed("contract attorneys must have every one of these subjects")
    subject_matter_expertise: str | None = _listed("experts must have every one of these expertise keys")
    languages_spoken: str | None = _listed("interpreters must speak every one of these languages")
    languages_written: str | None = _listed("translators must write every one of these languages")
    investigation_types: str | None = _listed("investigators must do every one of these investigation types")
    include_already_assigned: bool | None = None
    include_over_allocation: bool | None = None

    def requested(self) -> RecommendationFilters | None:
        """The filters the request names, or None when it names none (the defaults then apply)."""
        named = {
            name for name in self.model_fields_set - {"defaults"} if getattr(self, name) not in (None, "")
        }
        if not named:
            return None
        values = {
            attribute: frozenset(_split(getattr(self, attribute.value)))
            for attribute in AssignmentAttribute
            if _split(getattr(self, attribute.value))
        }
        return RecommendationFilters(
            assignment_types=frozenset(_split(self.assignment_types)),
            values=values,
            name_contains=self.name or "",
            include_already_assigned=bool(self.include_already_assigned),
            include_over_allocation=bool(self.include_over_allocation),
        )


def _split(text: str | None) -> list[str]:
    return [item.strip() for item in (text or "").split(",") if item.strip()]


class RecommendedOut(ApiModel):
    """A case's recommended contractors, least busy first, and the filters that chose them."""

    source: FilterSource = Field(
        description="where the filters came from: custom (the admin's default filters), case (inherited "
        "from the case's problem code and languages), request (named by the caller), none (no filter)"
    )
    filters: FiltersOut
    contractors: list[RecommendationOut]

    @classmethod
    def of(cls, found: RecommendedList) -> RecommendedOut:
        return cls(
            source=found.source,
            filters=FiltersOut.of(found.filters),
            contractors=[RecommendationOut.of(r) for r in found.recommendations],
        )


class RecommendationOut(ApiModel):
    contractor: ContractorOut
    matched_types: list[str]
    open_work_orders: int
    already_assigned: bool

    @classmethod
    def of(cls, recommendation: Recommendation) -> RecommendationOut:
        return cls(
            contractor=ContractorOut.of(recommendation.contractor),
            matched_types=list(recommendation.matched_types),
            open_work_orders=recommendation.open_work_orders,
            already_assigned=recommendation.already_assigned,
        )


# ------------------------------------------------------------------ work orders and BTs


class WorkOrderIn(Input):
    assignee: ContractorRefIn
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=4000)
    matter_ids: list[str] = Field(default_factory=list, max_length=50)
    start_date: date | None = None
    end_date: date | None = None
    items: list[PsrRequestModel] = Field(default_factory=list, max_length=500)
    expense_types: list[str] = Field(default_factory=list, max_length=50)
    template_id: str | None = Field(default=None, max_length=64)


class WorkOrderUpdate(Input):
    """Send only what changes. ``start_date`` and ``end_date`` may be null (that clears them);
    ``matter_ids`` is the whole new list of linked cases (left out: the links stay)."""

    version: int = Field(ge=1, le=10**9, description="the work order's version as read")
    title: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=4000)
    start_date: date | None = None
    end_date: date | None = None
    matter_ids: list[str] | None = Field(default=None, max_length=50)


class WorkOrderQuery(Input):
    status: WorkOrderStatus | None = None
    cursor: str | None = Field(default=None, max_length=2048)
    limit: int = Field(default=50, ge=1, le=200)


class PsrOut(ApiModel):
    psr_id: str
    product_id: str
    product_name: str
    rate: Decimal | None = Field(
        description=f"locked when the PSR was added; None for a formula. {MONEY_RULE}"
    )
    unit_type: str | None
    time_based: bool
    rate_source: str
    category: str | None
    formula: str | None
    description: str
    requested_units: Decimal | None

    @classmethod
    def of(cls, psr: Psr) -> PsrOut:
        return cls(
            psr_id=psr.psr_id,
            product_id=psr.product_id,
            product_name=psr.product_name,
            rate=psr.rate,
            unit_type=psr.unit_type,
            time_based=psr.time_based,
            rate_source=psr.rate_source.value,
            category=psr.category,
            formula=psr.formula.expression if psr.formula else None,
            description=psr.description,
            requested_units=psr.requested_units,
        )


class CaseLabelOut(ApiModel):
    """A linked case as a work order shows it: number and name only."""

    matter_id: str
    number: str | None = Field(description="None when the case no longer exists")
    name: str | None


class WorkOrderOut(ApiModel):
    work_order_id: str
    assignee: ContractorRefOut
    title: str
    description: str
    matter_ids: list[str]
    cases: list[CaseLabelOut] = Field(
        description="the linked cases' numbers and names, in the order of matter_ids (what the contractor "
        "needs to know of a case: not its client or its other fields)"
    )
    start_date: date | None
    end_date: date | None
    status: WorkOrderStatus
    psrs: list[PsrOut]
    expense_types: list[str]
    template_id: str | None
    created_at: datetime | None
    version: int

    @classmethod
    def of(cls, work_order: WorkOrder, cases: Mapping[str, CaseLabel]) -> WorkOrderOut:
        labels = [cases.get(m) for m in work_order.matter_ids]
        return cls(
            work_order_id=work_order.work_order_id,
            assignee=ContractorRefOut.of(work_order.assignee),
            title=work_order.title,
            description=work_order.description,
            matter_ids=list(work_order.matter_ids),
            cases=[
                CaseLabelOut(
                    matter_id=m,
                    number=label.number if label else None,
                    name=label.name if label else None,
                )
                for m, label in zip(work_order.matter_ids, labels, strict=True)
            ],
            start_date=work_order.start_date,
            end_date=work_order.end_date,
            status=work_order.status,
            psrs=[PsrOut.of(p) for p in work_order.psrs],
            expense_types=list(work_order.expense_types),
            template_id=work_order.template_id,
            created_at=work_order.created_at,
            version=work_order.version,
        )


class WorkOrderPage(ApiModel):
    items: list[WorkOrderOut]
    next_cursor: str | None


class ReceiptOut(ApiModel):
    document_id: str
    file_name: str
    content_type: str
    size_bytes: int

    @classmethod
    def of(cls, receipt: ReceiptDocument) -> ReceiptOut:
        return cls(
            document_id=receipt.document_id,
            file_name=receipt.file_name,
            content_type=receipt.content_type,
            size_bytes=receipt.size_bytes,
        )


class BtOut(ApiModel):
    bt_id: str
    work_order_id: str
    contractor: ContractorRefOut
    bt_type: BtType
    status: BtStatus
    work_date: date
    amount: Decimal = Field(description=MONEY_RULE)
    category: str
    description: str
    psr_id: str | None
    units: Decimal | None
    rate: Decimal | None = Field(description=f"the rate it was priced at. {MONEY_RULE}")
    unit_type: str | None = Field(
        description="the fee unit type the rate is per (a key of contractor_fee_unit_type), locked with the "
        "rate; None for expenses"
    )
    unit: str | None = Field(description="that unit's label, e.g. 'Hour' (the rate is per one of it)")
    minutes_per_unit: int | None = Field(description="for a time-based unit, its length in minutes")
    minutes: int | None
    formula_inputs: list[Decimal] | None
    expense_type: str | None
    receipts: list[ReceiptOut]
    matter_id: str | None
    service_record_id: str | None
    invoice_id: str | None
    review_note: str
    version: int

    @classmethod
    def of(cls, bt: BillingTransaction, unit_labels: Mapping[str, str]) -> BtOut:
        """``unit_labels``: the firm's fee unit type labels by key (a key no longer listed names itself)."""
        return cls(
            bt_id=bt.bt_id,
            work_order_id=bt.work_order_id,
            contractor=ContractorRefOut.of(bt.contractor),
            bt_type=bt.bt_type,
            status=bt.status,
            work_date=bt.work_date,
            amount=bt.amount,
            category=bt.category,
            description=bt.description,
            psr_id=bt.psr_id,
            units=bt.units,
            rate=bt.rate,
            unit_type=bt.unit_type,
            unit=unit_labels.get(bt.unit_type, bt.unit_type) if bt.unit_type else None,
            minutes_per_unit=bt.minutes_per_unit,
            minutes=bt.minutes,
            formula_inputs=[bt.formula_inputs.primary, bt.formula_inputs.secondary]
            if bt.formula_inputs
            else None,
            expense_type=bt.expense_type,
            receipts=[ReceiptOut.of(r) for r in bt.receipts],
            matter_id=bt.matter_id,
            service_record_id=bt.service_record_id,
            invoice_id=bt.invoice_id,
            review_note=bt.review_note,
            version=bt.version,
        )


class WorkOrderDetailOut(ApiModel):
    work_order: WorkOrderOut
    billing_transactions: list[BtOut]
    receipts: list[ReceiptOut]


class PsrIn(Input):
    version: int = Field(ge=1, le=10**9, description="the work order's version as read")
    product_id: str = Id
    description: str = Field(default="", max_length=4000)
    requested_units: str | None = _optional_money("units requested", UNITS)


class PsrUpdate(Input):
    version: int = Field(ge=1, le=10**9, description="the work order's version as read")
    description: str | None = Field(default=None, max_length=4000)
    requested_units: str | None = _optional_money("units requested", UNITS)
    rate: str | None = _optional_money("a new rate for BTs logged from now on", RATE)


class CaseLinkIn(Input):
    version: int = Field(ge=1, le=10**9)
    link: list[str] = Field(default_factory=list, max_length=50)
    unlink: list[str] = Field(default_factory=list, max_length=50)


class ExpenseTypeIn(Input):
    version: int = Field(ge=1, le=10**9)
    expense_type: str = Field(min_length=1, max_length=64)


class ReceiptIn(Input):
    file_name: str = Field(min_length=1, max_length=200)
    content_type: Literal["application/pdf", "image/png", "image/jpeg", "image/heic"]
    content_base64: str = Field(
        min_length=4, max_length=7_000_000, description="the file, base64; at most 5 MB"
    )


class ReceiptFileOut(ApiModel):
    receipt: ReceiptOut
    content_base64: str


class BtIn(Input):
    bt_type: BtType
    work_date: date
    psr_id: str | None = Field(default=None, max_length=32)
    units: str | None = _optional_money("quantity of the PSR's unit", UNITS)
    formula_inputs: list[str] | None = Field(
        default=None, min_length=2, max_length=2, description="a formula PSR's two inputs, as decimal strings"
    )
    minutes: int | None = Field(default=None, ge=1, le=1440)
    amount: str | None = _optional_money("an expense's amount")
    expense_type: str | None = Field(default=None, max_length=64)
    receipt_ids: list[str] = Field(default_factory=list, max_length=20)
    description: str = Field(default="", max_length=4000)
    matter_id: str | None = Field(default=None, max_length=64)

    @model_validator(mode="after")
    def _formula_inputs_are_decimals(self) -> BtIn:
        import re

        for value in self.formula_inputs or []:
            if not re.fullmatch(RATE, value):
                raise ValueError("formula inputs are decimal strings with at most 4 places")
        return self


class BtUpdate(Input):
    version: int = Field(ge=1, le=10**9)
    work_date: date | None = None
    description: str | None = Field(default=None, max_length=4000)
    matter_id: str | None = Field(default=None, max_length=64)
    units: str | None = _optional_money("quantity of the PSR's unit", UNITS)
    minutes: int | None = Field(default=None, ge=1, le=1440)
    amount: str | None = _optional_money("an expense's amount")


# ------------------------------------------------------------------ invoices


class InvoiceIn(Input):
    contractor: ContractorRefIn
    bt_ids: list[str] = Field(min_length=1, max_length=5000)
    invoice_date: date | None = None
    due_date: date | None = None
    note: str = Field(default="", max_length=4000)


ActionName = Literal[
    "add_bts",
    "remove_bts",
    "edit_details",
    "add_note",
    "submit",
    "return_to_draft",
    "verify_bts",
    "dispute_bts",
    "deny_bts",
    "verify",
    "dispute",
    "resubmit",
    "approve",
    "unapprove",
    "schedule",
    "pay",
]


class ActionParams(Input):
    bt_ids: list[str] | None = Field(default=None, max_length=5000)
    reason: str | None = Field(default=None, max_length=4000)
    note: str | None = Field(default=None, max_length=4000)
    invoice_date: date | None = None
    due_date: date | None = None
    pay_period_start: date | None = Field(default=None, description="the chosen pay period's first day")
    payment_method: str | None = Field(default=None, max_length=64)
    payment_reference: str | None = Field(default=None, max_length=100, description="check or transaction id")

    def params(self) -> dict[str, object]:
        return self.model_dump(exclude={"action", "version", "invoice_ids"})


class InvoiceActionIn(ActionParams):
    action: ActionName
    version: int = Field(ge=1, le=10**9, description="the invoice's version as read")


class BulkInvoiceIn(ActionParams):
    action: ActionName
    invoice_ids: list[str] = Field(min_length=1, max_length=200)


class BulkResultOut(ApiModel):
    invoice_id: str
    ok: bool
    status: str | None
    version: int | None
    code: str | None
    message: str | None


class InvoiceQuery(Input):
    status: InvoiceStatus | None = None
    contractor_kind: ContractorKind | None = None
    contractor_id: str | None = Field(default=None, max_length=64)
    cursor: str | None = Field(default=None, max_length=2048)
    limit: int = Field(default=50, ge=1, le=200)


class CategoryTotalOut(ApiModel):
    category: str
    amount: Decimal = Field(description=MONEY_RULE)
    count: int


class NoteOut(ApiModel):
    note_id: str
    text: str
    author: str
    at: datetime
    by_contractor: bool


class InvoiceSummaryOut(ApiModel):
    invoice_id: str
    contractor: ContractorRefOut
    contractor_name: str
    status: InvoiceStatus
    invoice_date: date | None
    due_date: date | None
    total: Decimal = Field(description=f"the sum of the BTs' rounded amounts. {MONEY_RULE}")
    bt_count: int
    created_at: datetime | None
    version: int

    @classmethod
    def of(cls, invoice: Invoice) -> InvoiceSummaryOut:
        return cls(
            invoice_id=invoice.invoice_id,
            contractor=ContractorRefOut.of(invoice.contractor),
            contractor_name=invoice.contractor_name,
            status=invoice.status,
            invoice_date=invoice.invoice_date,
            due_date=invoice.due_date,
            total=invoice.total,
            bt_count=invoice.bt_count,
            created_at=invoice.created_at,
            version=invoice.version,
        )


class InvoicePage(ApiModel):
    items: list[InvoiceSummaryOut]
    next_cursor: str | None


class InvoiceOut(InvoiceSummaryOut):
    payee_name: str = Field(description="the contractor's name, or their DBA name when the firm says so")
    totals_by_category: list[CategoryTotalOut]
    notes: list[NoteOut]
    pay_period: PayPeriodOut | None
    payment_method: str | None
    payment_reference: str
    dispute_count: int
    available_actions: list[InvoiceAction]
    billing_transactions: list[BtOut]

    @classmethod
    def view(
        cls,
        invoice: Invoice,
        bts: list[BillingTransaction],
        payee: str,
        actions: frozenset[InvoiceAction],
        unit_labels: Mapping[str, str],
    ) -> InvoiceOut:
        summary = InvoiceSummaryOut.of(invoice).model_dump()
        return cls(
            **summary,
            payee_name=payee,
            totals_by_category=[
                CategoryTotalOut(category=c.category, amount=c.amount, count=c.count)
                for c in invoice.totals_by_category
            ],
            notes=[
                NoteOut(
                    note_id=n.note_id, text=n.text, author=n.author, at=n.at, by_contractor=n.by_contractor
                )
                for n in invoice.notes
            ],
            pay_period=PayPeriodOut.of(invoice.pay_period) if invoice.pay_period else None,
            payment_method=invoice.payment_method,
            payment_reference=invoice.payment_reference,
            dispute_count=invoice.dispute_count,
            available_actions=sorted(actions),
            billing_transactions=[
                BtOut.of(bt, unit_labels) for bt in sorted(bts, key=lambda b: (b.work_date, b.bt_id))
            ],
        )
