"""Contractor-module use cases: settings, lookups, contractors, catalog, work orders, BTs, invoices, pay
periods and allocations.

Each use case turns the verified caller into a ``ContractorActor`` (roles → the ten contractor
permissions, ``permissions.actor_for``), checks it with the domain's ``require_*`` functions, lets the
pure domain decide, and persists with one conditional write. A contractor sees only their own work
orders, BTs and invoices: anything else is ``NotFound``, exactly as if it did not exist. After every
committed invoice transition the domain's events go to the ``ContractorEventSink``.

Concurrency: every change names the ``version`` the caller read; a stale one is refused (409) before the
domain runs, and the write itself is conditional on it, so of two staff approving one invoice at once
exactly one succeeds.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib.adapters.persistence.contractors import TableContractorRepository
from chalicelib.domain.contractors import invoices as inv
from chalicelib.domain.contractors.allocations import (
    AllocationChange,
    AllocationLogEntry,
    AllocationOverride,
    AnnualStanding,
    CaseBudget,
    MatterAllocation,
    adjust_manually,
    annual_allocation_for,
    annual_standing,
    case_budget,
    credit_for_unapproval,
    deduct_for_approval,
    follow_problem_code_again,
)
from chalicelib.domain.contractors.catalog import (
    FeeCopyPlan,
    FeeStructure,
    ProductService,
    change_product_service,
    define_product_service,
    plan_fee_structure_copy,
    set_fee_structure,
)
from chalicelib.domain.contractors.contractors import (
    DEFAULT_ASSIGNMENT_TYPES,
    AssignmentAttribute,
    AssignmentType,
    CaseAssignment,
    Contractor,
    ContractorAssignment,
    ContractorKind,
    ContractorRef,
    RecommendationFilters,
    RecommendedList,
    RecommendedListConfig,
    assign_to_case,
    case_facts,
    choose_filters,
    recommend,
    unassign_from_case,
    validate_contractor,
    validate_filters,
)
from chalicelib.domain.contractors.events import ContractorEvent, InvoiceApproved, InvoiceUnapproved
from chalicelib.domain.contractors.formula import FormulaDefinition
from chalicelib.domain.contractors.invoices import Invoice, InvoiceChange
from chalicelib.domain.contractors.lookups import (
    KEEP,
    BtType,
    InvoiceStatus,
    LookupKind,
    LookupTable,
    LookupValue,
    change_user_value,
    new_user_value,
)
from chalicelib.domain.contractors.pay_periods import PayPeriod, period_starting, upcoming_periods
from chalicelib.domain.contractors.permissions import (
    DEFAULT_ROLE_PERMISSIONS,
    ContractorActor,
    ContractorPermission,
    InvoiceAction,
    RolePermissions,
    WorkOrderAction,
    actor_for,
    can_see,
    require_admin,
    require_invoice_action,
    require_work_order_action,
)
from chalicelib.domain.contractors.settings import ContractorSettings, validate_settings
from chalicelib.domain.contractors.transactions import (
    BillingTransaction,
    BtChange,
    ReceiptDocument,
    delete_bt,
    log_expense,
    log_product_service,
    log_timeslip,
    revise_bt,
    with_psr_unit,
)
from chalicelib.domain.contractors.work_orders import (
    BulkCompleteConfig,
    PsrRequest,
    WorkOrder,
    WorkOrderChange,
    WorkOrderTemplate,
    add_expense_type,
    add_psr,
    complete_for_case_close,
    complete_work_order,
    create_work_order,
    create_work_order_from_template,
    delete_psr,
    edit_details,
    edit_psr,
    link_matters,
    plan_case_close_completion,
    remove_expense_type,
    reopen_work_order,
    unlink_matter,
    validate_template,
)
from chalicelib.domain.errors import (
    Conflict,
    FieldError,
    Forbidden,
    InvalidInput,
    NotFound,
    StaleVersion,
)
from chalicelib.domain.identity import Principal, Role
from chalicelib.domain.matters import Matter
from chalicelib.ports import (
    Clock,
    ContractorEventSink,
    FileStore,
    FirmRepository,
    MatterRepository,
    Page,
    UserRepository,
)
from chalicelib.services.contractors.cases import ContractorCaseProblemCodes

# What the receipt upload accepts (the brief's list; the domain also knows a few more image types).
RECEIPT_TYPES = {
    "application/pdf": ".pdf",
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/heic": ".heic",
}
# API Gateway takes at most 10 MB per request, and base64 adds a third.
MAX_RECEIPT_UPLOAD_BYTES = 5 * 1024 * 1024


def _new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def _versioned(record: Any, version: int, what: str, record_id: str) -> None:
    if record.version != version:
        raise StaleVersion(what, record_id)


@dataclass(frozen=True)
class InvoiceView:
    """An invoice as a screen shows it: its BTs, the name it pays, and the actor's buttons."""

    invoice: Invoice
    bts: list[BillingTransaction]
    payee: str
    actions: frozenset[InvoiceAction]


@dataclass(frozen=True)
class BulkResult:
    """One invoice's outcome in a bulk action."""

    invoice_id: str
    ok: bool
    status: str | None
    version: int | None
    code: str | None = None
    message: str | None = None


@dataclass(frozen=True)
class CaseLabel:
    """What a work order shows of a linked case: its number and name, nothing more (a contractor may
    not read the matter itself, its client or its other fields)."""

    matter_id: str
    number: str | None
    name: str | None


@dataclass(frozen=True)
class CaseView:
    """A case's contractor block: assignments, work orders, allocation, its log and budget."""

    matter_id: str
    problem_code: str | None
    assignments: list[CaseAssignment]
    work_order_ids: list[str]
    allocation: MatterAllocation | None
    log: list[AllocationLogEntry]
    budget: CaseBudget


class ContractorService:
    """Use cases of the contractor module."""

    def __init__(
        self,
        *,
        repository: TableContractorRepository,
        matters: MatterRepository,
        users: UserRepository,
        files: FileStore,
        events: ContractorEventSink,
        firms: FirmRepository,
        clock: Clock,
        role_permissions: RolePermissions = DEFAULT_ROLE_PERMISSIONS,
    ) -> None:
        self._role_permissions = role_permissions
        self._firms = firms
        self._repo = repository
        self._matters = matters
        self._users = users
        self._files = files
        self._events = events
        self._clock = clock
        self._case_codes = ContractorCaseProblemCodes(repository, clock)

    # ------------------------------------------------------------------ who is acting

    def _actor_of(self, principal: Principal) -> ContractorActor:
        """The caller as the contractor module sees them: their roles' contractor permissions."""
        return actor_for(principal, self._role_permissions)

    def access(self, principal: Principal) -> ContractorActor:
        """The caller's contractor permissions (from the firm's mapping of their roles) and, for a
        contractor, who they are: what ``/me`` tells the console so it need not guess from roles."""
        return self._actor_of(principal)

    def _reader(self, principal: Principal) -> ContractorActor:
        """Anyone holding a contractor permission may read the module's shared configuration."""
        actor = self._actor_of(principal)
        if not actor.permissions:
            raise Forbidden("the contractor module needs a contractor role; ask a firm admin")
        return actor

    def _admin(self, principal: Principal) -> ContractorActor:
        actor = self._actor_of(principal)
        require_admin(actor)
        return actor

    def _staff(self, principal: Principal, permission: ContractorPermission) -> ContractorActor:
        actor = self._actor_of(principal)
        if actor.is_contractor or not actor.has(permission):
            raise Forbidden("this is done by the agency's contractor staff")
        return actor

    def _today(self, firm_id: str) -> date:
        """Today where the firm is: a pay period or a fiscal year turns over at the firm's midnight, not
        at UTC's (7 or 8 pm the day before in New York)."""
        firm = self._firms.get(firm_id)
        zone = ZoneInfo(firm.time_zone) if firm is not None else UTC
        return self._clock.now().astimezone(zone).date()

    # ------------------------------------------------------------------ settings and lookups

    def settings(self, principal: Principal) -> ContractorSettings:
        """The firm's contractor settings page."""
        self._admin(principal)
        return self._repo.settings(principal.firm_id)

    def save_settings(
        self, principal: Principal, version: int, changes: dict[str, Any]
    ) -> ContractorSettings:
        """Save the settings page (``changes`` holds whole sections, already typed)."""
        actor = self._admin(principal)
        current = self._repo.settings(principal.firm_id)
        _versioned(current, version, "contractor settings", principal.firm_id)
        changed = replace(current, **changes)
        validate_settings(changed)
        return self._repo.save_settings(changed, actor.actor)

    def lookup(self, principal: Principal, kind: LookupKind) -> tuple[LookupTable, int]:
        """One lookup's values and its version."""
        self._reader(principal)
        return self._repo.lookup(principal.firm_id, kind)

    def add_lookup_value(
        self,
        principal: Principal,
        kind: LookupKind,
        version: int,
        *,
        key: str,
        label: str,
        sort_order: int = 0,
        minutes_per_unit: int | None = None,
        base_matter_allocation: Decimal | None = None,
    ) -> tuple[LookupTable, int]:
        """Add the firm's own value to a lookup (a legal problem code may carry a base allocation)."""
        actor = self._admin(principal)
        table, current = self._repo.lookup(principal.firm_id, kind)
        if current != version:
            raise StaleVersion("lookup", kind.value)
        if base_matter_allocation is not None:
            self._require_matter_allocations(principal.firm_id)
        value = new_user_value(
            kind,
            key,
            label,
            sort_order=sort_order,
            minutes_per_unit=minutes_per_unit,
            base_matter_allocation=base_matter_allocation,
        )
        changed = table.add(value)
        return changed, self._repo.save_lookup(principal.firm_id, changed, current, actor.actor)

    def change_lookup_value(
        self,
        principal: Principal,
        kind: LookupKind,
        key: str,
        version: int,
        *,
        label: str | None = None,
        active: bool | None = None,
        sort_order: int | None = None,
        base_matter_allocation: Any = KEEP,
    ) -> tuple[LookupTable, int]:
        """Rename, reorder or switch off one of the firm's values, or change a legal problem code's base
        matter allocation (``None`` clears it; cases already created keep their allocation)."""
        actor = self._admin(principal)
        table, current = self._repo.lookup(principal.firm_id, kind)
        if current != version:
            raise StaleVersion("lookup", kind.value)
        value = table.get(key)
        if value is None:
            raise NotFound(f"the lookup has no value '{key}'")
        if base_matter_allocation is not KEEP and base_matter_allocation is not None:
            self._require_matter_allocations(principal.firm_id)
        changed = table.replace(
            change_user_value(
                value,
                label=label,
                active=active,
                sort_order=sort_order,
                base_matter_allocation=base_matter_allocation,
            )
        )
        return changed, self._repo.save_lookup(principal.firm_id, changed, current, actor.actor)

    def _require_matter_allocations(self, firm_id: str) -> None:
        if not self._repo.settings(firm_id).add_ons.matter_allocations:
            message = (
                "base matter allocations need the Contractor Matter Allocations add-on; turn it on first"
            )
            raise InvalidInput(message, field_errors=[FieldError("base_matter_allocation", message)])

    def _active(self, firm_id: str, kind: LookupKind, key: str, field: str) -> LookupValue:
        return self._repo.lookup(firm_id, kind)[0].require_active(key, field)

    # ------------------------------------------------------------------ contractors

    @staticmethod
    def assignment_types() -> dict[str, AssignmentType]:
        """The contractor assignment types (the five of the seed)."""
        return {t.key: t for t in DEFAULT_ASSIGNMENT_TYPES}

    def _allowed_values(self, firm_id: str) -> dict[AssignmentAttribute, frozenset[str]]:
        # Subjects and languages are free text in this firm; the two contractor lookups are checked.
        expertise = self._repo.lookup(firm_id, LookupKind.SUBJECT_MATTER_EXPERTISE)[0]
        investigations = self._repo.lookup(firm_id, LookupKind.INVESTIGATION_TYPE)[0]
        return {
            AssignmentAttribute.SUBJECT_MATTER_EXPERTISE: frozenset(v.key for v in expertise.active_values()),
            AssignmentAttribute.INVESTIGATION_TYPES: frozenset(v.key for v in investigations.active_values()),
        }

    def contractors(self, principal: Principal) -> list[Contractor]:
        """Every contractor for staff; a contractor sees only themselves."""
        actor = self._reader(principal)
        return [c for c in self._repo.contractors(principal.firm_id) if can_see(actor, c.ref)]

    def contractor(self, principal: Principal, who: ContractorRef) -> Contractor:
        """One contractor (``NotFound`` for another contractor's record)."""
        actor = self._reader(principal)
        found = self._repo.contractor(principal.firm_id, who)
        if found is None or not can_see(actor, who):
            raise NotFound("there is no such contractor in your firm")
        return found

    def create_contractor(
        self,
        principal: Principal,
        *,
        kind: ContractorKind,
        user_id: str | None,
        name: str,
        email: str | None,
        doing_business_as: str,
        assignments: Sequence[ContractorAssignment],
    ) -> Contractor:
        """Register a contractor: a firm user holding the contractor role, or an organization."""
        actor = self._admin(principal)
        firm_id = principal.firm_id
        settings = self._repo.settings(firm_id)
        if kind is ContractorKind.USER:
            if not user_id:
                raise InvalidInput(
                    "a contractor user is one of the firm's users",
                    field_errors=[FieldError("user_id", "name the firm user who is the contractor")],
                )
            user = self._users.get(firm_id, user_id)
            if user is None:
                raise NotFound("there is no such user in your firm")
            if Role.CONTRACTOR not in user.roles:
                raise InvalidInput(
                    f"{user.display_name} does not hold the contractor role; give it to them first",
                    field_errors=[FieldError("user_id", "the user needs the contractor role")],
                )
            contractor_id = user_id
            email = email or user.email
        else:
            if user_id:
                raise InvalidInput(
                    "an organization is not a user", field_errors=[FieldError("user_id", "leave it out")]
                )
            contractor_id = _new_id("org")
        contractor = Contractor(
            firm_id,
            contractor_id,
            kind,
            name.strip(),
            email,
            doing_business_as.strip(),
            tuple(assignments),
        )
        validate_contractor(
            contractor,
            self.assignment_types(),
            self._allowed_values(firm_id),
            organizations_enabled=settings.add_ons.organizations,
        )
        return self._repo.save_contractor(contractor, actor.actor)

    def update_contractor(
        self, principal: Principal, who: ContractorRef, version: int, changes: dict[str, Any]
    ) -> Contractor:
        """Change a contractor's name, email, DBA name, assignment types or active flag."""
        actor = self._admin(principal)
        current = self.contractor(principal, who)
        _versioned(current, version, "contractor", who.key)
        if "assignments" in changes:
            changes = {**changes, "assignments": tuple(changes["assignments"])}
        changed = replace(current, **changes)
        settings = self._repo.settings(principal.firm_id)
        validate_contractor(
            changed,
            self.assignment_types(),
            self._allowed_values(principal.firm_id),
            organizations_enabled=settings.add_ons.organizations or who.kind is ContractorKind.USER,
        )
        return self._repo.save_contractor(changed, actor.actor)

    def standing(self, principal: Principal, who: ContractorRef) -> tuple[AnnualStanding, int]:
        """The contractor's year to date against their annual allocation, and the version of their own
        allocation (0 while they have none), which setting it names."""
        self.contractor(principal, who)
        return self._standing(principal.firm_id, who), self._repo.annual_override(principal.firm_id, who)[1]

    def _standing(self, firm_id: str, who: ContractorRef) -> AnnualStanding:
        settings = self._repo.settings(firm_id)
        override = self._repo.annual_override(firm_id, who)[0]
        allocation = annual_allocation_for(who, settings, override)
        invoices = self._repo.all_invoices_of(firm_id, who) if allocation is not None else []
        return annual_standing(
            who,
            allocation,
            invoices,
            today=self._today(firm_id),
            fiscal_year_start_month=settings.annual_allocations.fiscal_year_start_month,
        )

    def set_annual_allocation(
        self, principal: Principal, who: ContractorRef, amount: Decimal | None, version: int
    ) -> tuple[AnnualStanding, int]:
        """The contractor's own annual allocation (None: no limit); the standing and the new version."""
        actor = self._admin(principal)
        self.contractor(principal, who)
        current_version = self._repo.annual_override(principal.firm_id, who)[1]
        if current_version != version:
            raise StaleVersion("annual allocation", who.key)
        saved_version = self._repo.save_annual_override(
            principal.firm_id, AllocationOverride(who, amount), current_version, actor.actor
        )
        return self._standing(principal.firm_id, who), saved_version

    def recommended(
        self,
        principal: Principal,
        matter_id: str,
        *,
        requested: RecommendationFilters | None = None,
        use_defaults: bool = True,
    ) -> RecommendedList:
        """The recommended contractors for a case, least busy first, with the filters that chose them.

        ``requested`` (the filters a caller named) replaces the default filters whole; without it the
        admin's custom default filters apply, else those inherited from the case (its problem code and
        its client's languages); ``use_defaults=False`` lists everyone. Requested filters are checked
        like contractors' assignments (``InvalidInput`` with field errors)."""
        self._staff(principal, ContractorPermission.WORK_ORDER_CREATE_EDIT)
        firm_id = principal.firm_id
        matter = self._matter(firm_id, matter_id)
        if requested is not None:
            validate_filters(requested, self.assignment_types(), self._allowed_values(firm_id))
        config = self._repo.settings(firm_id).recommended_list
        chosen = choose_filters(config, case_facts(matter), requested, use_defaults=use_defaults)
        contractors = self._repo.contractors(firm_id)
        over = frozenset(c.ref for c in contractors if self._standing(firm_id, c.ref).over_threshold)
        found = recommend(
            contractors,
            chosen.filters,
            assignment_types=self.assignment_types(),
            matter_id=matter_id,
            case_assignments=self._repo.case_assignments(firm_id, matter_id),
            open_work_orders=self._repo.open_work_order_counts(firm_id),
            over_allocation=over,
        )
        return RecommendedList(found, chosen.filters, chosen.source)

    def save_recommended_list(
        self, principal: Principal, version: int, config: RecommendedListConfig
    ) -> ContractorSettings:
        """Set the recommended list's custom default filters on the settings page, or clear them
        (``custom_default_filters=None``: each case's own data gives the defaults again). Values of the
        attributes that have a lookup must be its active values, as for contractors."""
        actor = self._admin(principal)
        current = self._repo.settings(principal.firm_id)
        _versioned(current, version, "contractor settings", principal.firm_id)
        changed = replace(current, recommended_list=config)
        validate_settings(changed, allowed_values=self._allowed_values(principal.firm_id))
        return self._repo.save_settings(changed, actor.actor)

    # ------------------------------------------------------------------ catalog

    def products(self, principal: Principal) -> list[ProductService]:
        """The catalog of products and services."""
        self._reader(principal)
        return sorted(self._repo.products(principal.firm_id), key=lambda p: (p.name.casefold(), p.product_id))

    def create_product(
        self,
        principal: Principal,
        *,
        name: str,
        default_rate: Decimal | None,
        unit_type: str | None,
        category: str | None,
        override_fee_structures: bool,
        assignment_type: str | None,
        formula: FormulaDefinition | None,
    ) -> ProductService:
        """Define a product or service (or, with the add-on, a formula-rate one)."""
        actor = self._admin(principal)
        firm_id = principal.firm_id
        settings = self._repo.settings(firm_id)
        kind = None
        if assignment_type is not None:
            kind = self.assignment_types().get(assignment_type)
            if kind is None:
                raise InvalidInput(
                    f"'{assignment_type}' is not an assignment type",
                    field_errors=[FieldError("assignment_type", "choose a contractor assignment type")],
                )
        product = define_product_service(
            firm_id,
            _new_id("ps"),
            name,
            default_rate=default_rate,
            unit_type=self._active(firm_id, LookupKind.FEE_UNIT_TYPE, unit_type, "unit_type")
            if unit_type
            else None,
            category=self._active(firm_id, LookupKind.PRODUCT_SERVICE_CATEGORY, category, "category")
            if category
            else None,
            override_fee_structures=override_fee_structures,
            assignment_type=kind,
            formula=formula,
            formula_rates_enabled=settings.add_ons.formula_rates,
        )
        return self._repo.save_product(product, actor.actor)

    def update_product(
        self, principal: Principal, product_id: str, version: int, changes: dict[str, Any]
    ) -> ProductService:
        """Change what new PSRs of this P/S will get (PSRs already added keep their locked rate)."""
        actor = self._admin(principal)
        product = self._product(principal.firm_id, product_id)
        _versioned(product, version, "product or service", product_id)
        category = changes.pop("category", None)
        changed = change_product_service(
            product,
            category=self._active(
                principal.firm_id, LookupKind.PRODUCT_SERVICE_CATEGORY, category, "category"
            )
            if category
            else None,
            **changes,
        )
        return self._repo.save_product(changed, actor.actor)

    def _product(self, firm_id: str, product_id: str) -> ProductService:
        product = self._repo.product(firm_id, product_id)
        if product is None:
            raise NotFound("there is no such product or service in your firm")
        return product

    def fee_structures(self, principal: Principal, who: ContractorRef) -> list[FeeStructure]:
        """A contractor's own rates (a contractor sees their own)."""
        self.contractor(principal, who)
        return self._repo.fee_structures(principal.firm_id, who)

    def set_fee_structure(
        self, principal: Principal, who: ContractorRef, product_id: str, rate: Decimal, version: int
    ) -> FeeStructure:
        """Set a contractor's rate for a P/S (``version`` 0 for a new one)."""
        actor = self._admin(principal)
        self.contractor(principal, who)
        product = self._product(principal.firm_id, product_id)
        current = next(
            (s for s in self._repo.fee_structures(principal.firm_id, who) if s.product_id == product_id), None
        )
        if (current.version if current else 0) != version:
            raise StaleVersion("fee structure", f"{who.key}/{product_id}")
        structure = set_fee_structure(who, product, rate, at=self._clock.now())
        return self._repo.save_fee_structure(replace(structure, version=version), actor.actor)

    def delete_fee_structure(
        self, principal: Principal, who: ContractorRef, product_id: str, version: int
    ) -> None:
        """Remove a contractor's own rate for a P/S: PSRs added from now on get the P/S default; PSRs
        already added keep the rate they locked."""
        actor = self._admin(principal)
        self.contractor(principal, who)
        current = next(
            (s for s in self._repo.fee_structures(principal.firm_id, who) if s.product_id == product_id), None
        )
        if current is None:
            raise NotFound("this contractor has no fee structure for that product or service")
        _versioned(current, version, "fee structure", f"{who.key}/{product_id}")
        self._repo.delete_fee_structure(current, actor.actor)

    def copy_fee_structures(
        self,
        principal: Principal,
        source: ContractorRef,
        targets: Sequence[ContractorRef],
        *,
        product_ids: Sequence[str] | None,
        overwrite_existing: bool,
    ) -> FeeCopyPlan:
        """Copy one contractor's fee structures to others; each target's own rates kept unless asked."""
        actor = self._admin(principal)
        for who in (source, *targets):
            self.contractor(principal, who)
        firm_id = principal.firm_id
        plan = plan_fee_structure_copy(
            source,
            self._repo.fee_structures(firm_id, source),
            targets,
            {target: self._repo.fee_structures(firm_id, target) for target in targets},
            at=self._clock.now(),
            product_ids=product_ids,
            overwrite_existing=overwrite_existing,
        )
        for structure in plan.writes:
            self._repo.save_fee_structure(structure, actor.actor)
        return plan

    def templates(self, principal: Principal) -> list[WorkOrderTemplate]:
        """The work order templates."""
        self._reader(principal)
        return self._repo.templates(principal.firm_id)

    def create_template(
        self,
        principal: Principal,
        *,
        name: str,
        items: Sequence[PsrRequest],
        expense_types: Sequence[str],
        start_offset_days: int,
        duration_days: int | None,
    ) -> WorkOrderTemplate:
        """A template of PSRs, expense types and relative dates."""
        actor = self._admin(principal)
        firm_id = principal.firm_id
        template = WorkOrderTemplate(
            firm_id,
            _new_id("tpl"),
            name.strip(),
            tuple(items),
            tuple(expense_types),
            start_offset_days,
            duration_days,
        )
        validate_template(
            template,
            {p.product_id: p for p in self._repo.products(firm_id)},
            self._repo.lookup(firm_id, LookupKind.EXPENSE_REIMBURSEMENT_TYPE)[0],
        )
        return self._repo.save_template(template, actor.actor)

    def _template(self, firm_id: str, template_id: str) -> WorkOrderTemplate:
        template = self._repo.template(firm_id, template_id)
        if template is None:
            raise NotFound("there is no such work order template")
        return template

    def update_template(
        self, principal: Principal, template_id: str, version: int, changes: dict[str, Any]
    ) -> WorkOrderTemplate:
        """Change a template (name, items, expense types, relative dates, active). Work orders already made
        from it keep what they were given."""
        actor = self._admin(principal)
        firm_id = principal.firm_id
        current = self._template(firm_id, template_id)
        _versioned(current, version, "work order template", template_id)
        for listed in ("items", "expense_types"):
            if listed in changes:
                changes = {**changes, listed: tuple(changes[listed])}
        if "name" in changes:
            changes = {**changes, "name": changes["name"].strip()}
        changed = replace(current, **changes)
        validate_template(
            changed,
            {p.product_id: p for p in self._repo.products(firm_id)},
            self._repo.lookup(firm_id, LookupKind.EXPENSE_REIMBURSEMENT_TYPE)[0],
        )
        return self._repo.save_template(changed, actor.actor)

    def delete_template(self, principal: Principal, template_id: str, version: int) -> None:
        """Remove a template; work orders made from it are unchanged (to keep it but stop offering it,
        switch it off instead)."""
        actor = self._admin(principal)
        current = self._template(principal.firm_id, template_id)
        _versioned(current, version, "work order template", template_id)
        self._repo.delete_template(current, actor.actor)

    # ------------------------------------------------------------------ cases

    def _matter(self, firm_id: str, matter_id: str) -> Matter:
        matter = self._matters.matter(firm_id, matter_id)
        if matter is None:
            raise NotFound("there is no such case in your firm")
        return matter

    def assign_to_case(
        self, principal: Principal, matter_id: str, who: ContractorRef, assignment_type: str
    ) -> CaseAssignment:
        """Assign a contractor to a case for a kind of work they do."""
        actor = self._staff(principal, ContractorPermission.WORK_ORDER_CREATE_EDIT)
        matter = self._matter(principal.firm_id, matter_id)
        contractor = self.contractor(principal, who)
        assignment = assign_to_case(
            contractor,
            matter,
            assignment_type,
            self._repo.case_assignments(principal.firm_id, matter_id),
            at=self._clock.now(),
            actor=actor.actor,
        )
        self._repo.add_case_assignment(assignment, actor.actor)
        return assignment

    def remove_case_assignment(
        self, principal: Principal, matter_id: str, who: ContractorRef, assignment_type: str
    ) -> None:
        """Take a contractor off a case for one kind of work (their work orders on the case stay)."""
        actor = self._staff(principal, ContractorPermission.WORK_ORDER_CREATE_EDIT)
        self._matter(principal.firm_id, matter_id)
        assignment = unassign_from_case(
            self._repo.case_assignments(principal.firm_id, matter_id), who, matter_id, assignment_type
        )
        self._repo.remove_case_assignment(assignment, actor.actor)

    def case(self, principal: Principal, matter_id: str) -> CaseView:
        """The case's contractor block (staff only: it shows every contractor's work on the case)."""
        actor = self._staff(principal, ContractorPermission.WORK_ORDER_CREATE_EDIT)
        matter = self._matter(principal.firm_id, matter_id)
        firm_id = principal.firm_id
        allocation = self._allocation_in_line(matter, actor.actor)
        return CaseView(
            matter_id=matter_id,
            problem_code=matter.problem_code,
            assignments=self._repo.case_assignments(firm_id, matter_id),
            work_order_ids=self._repo.work_orders_of_case(firm_id, matter_id),
            allocation=allocation,
            log=self._repo.allocation_log(firm_id, matter_id),
            budget=case_budget(matter_id, allocation, self._repo.bts_of_case(firm_id, matter_id)),
        )

    def _allocation_in_line(self, matter: Matter, actor: str) -> MatterAllocation | None:
        """The case's allocation, first rolled forward to the case's problem code if a change of the code
        was written without its allocation step (see ``cases``)."""
        allocation = self._repo.matter_allocation(matter.firm_id, matter.matter_id)
        recorded = allocation.problem_code if allocation else None
        if recorded == matter.problem_code:
            return allocation
        if not self._repo.settings(matter.firm_id).add_ons.matter_allocations:
            return allocation
        # A case still at its first version was created with this code; otherwise the code was changed.
        new_case = allocation is None and matter.version == 1
        return self._case_codes.bring_in_line(
            matter.firm_id, matter.matter_id, matter.problem_code, actor, new_case=new_case
        )

    def adjust_allocation(
        self, principal: Principal, matter_id: str, allocated: Decimal, note: str, version: int
    ) -> CaseView:
        """Set a case's allocation by hand (problem code changes stop moving it)."""
        actor = self._admin(principal)
        matter = self._matter(principal.firm_id, matter_id)
        current = self._allocation_in_line(matter, actor.actor) or MatterAllocation(
            principal.firm_id, matter_id, problem_code=matter.problem_code
        )
        _versioned(current, version, "matter allocation", matter_id)
        change = adjust_manually(current, allocated, note=note, at=self._clock.now(), actor=actor.actor)
        self._repo.save_allocation(change, actor.actor)
        return self.case(principal, matter_id)

    def follow_problem_code(self, principal: Principal, matter_id: str, note: str, version: int) -> CaseView:
        """Undo a manual override: the case's allocation goes back to its problem code's base allocation,
        and problem code changes move it again (refused while approvals stand deducted; see
        ``allocations.follow_problem_code_again``)."""
        actor = self._admin(principal)
        matter = self._matter(principal.firm_id, matter_id)
        if not self._repo.settings(principal.firm_id).add_ons.matter_allocations:
            # Without the add-on problem codes never set allocations, so there is nothing to follow.
            raise Conflict(
                "problem codes set a case's allocation only with the Contractor Matter Allocations add-on; "
                "turn it on first"
            )
        current = self._allocation_in_line(matter, actor.actor) or MatterAllocation(
            principal.firm_id, matter_id, problem_code=matter.problem_code
        )
        _versioned(current, version, "matter allocation", matter_id)
        codes = self._repo.lookup(principal.firm_id, LookupKind.LEGAL_PROBLEM_CODE)[0]
        change = follow_problem_code_again(
            current, codes.base_matter_allocations(), note=note, at=self._clock.now(), actor=actor.actor
        )
        self._repo.save_allocation(change, actor.actor)
        return self.case(principal, matter_id)

    def complete_for_case_close(
        self,
        principal: Principal,
        matter_id: str,
        *,
        silent: bool,
        complete_shared: bool,
        selected_ids: Sequence[str] | None,
    ) -> tuple[list[WorkOrder], list[str], list[str]]:
        """Bulk complete a closing case's work orders: (completed, skipped as shared, already complete)."""
        actor = self._staff(principal, ContractorPermission.WORK_ORDER_CREATE_EDIT)
        self._matter(principal.firm_id, matter_id)
        firm_id = principal.firm_id
        orders = [
            wo
            for wo_id in self._repo.work_orders_of_case(firm_id, matter_id)
            if (wo := self._repo.work_order(firm_id, wo_id)) is not None
        ]
        plan = plan_case_close_completion(
            matter_id,
            orders,
            BulkCompleteConfig(silent=silent, complete_shared=complete_shared),
            selected_ids,
        )
        completed = []
        events: list[ContractorEvent] = []
        for change in complete_for_case_close(plan, actor=actor.actor, at=self._clock.now()):
            completed.append(self._repo.save_work_order(change.work_order, actor.actor, "complete"))
            events.extend(change.events)
        self._events.publish(events)
        return (
            completed,
            [wo.work_order_id for wo in plan.skipped_shared],
            [wo.work_order_id for wo in plan.already_complete],
        )

    # ------------------------------------------------------------------ work orders

    def create_work_order(
        self,
        principal: Principal,
        *,
        assignee: ContractorRef,
        title: str,
        description: str,
        matter_ids: Sequence[str],
        start_date: date | None,
        end_date: date | None,
        items: Sequence[PsrRequest],
        expense_types: Sequence[str],
        template_id: str | None,
    ) -> WorkOrder:
        """A new work order, by hand or from a template, with its first PSRs at locked rates."""
        actor = self._actor_of(principal)
        require_work_order_action(actor, assignee, WorkOrderAction.CREATE)
        firm_id = principal.firm_id
        contractor = self.contractor(principal, assignee)
        settings = self._repo.settings(firm_id)
        matters = [self._matter(firm_id, m) for m in dict.fromkeys(matter_ids)]
        if len(matters) != len(matter_ids):
            raise InvalidInput(
                "a case is listed twice", field_errors=[FieldError("matter_ids", "list each case once")]
            )
        products = {p.product_id: p for p in self._repo.products(firm_id)}
        fees = {s.product_id: s for s in self._repo.fee_structures(firm_id, assignee)}
        assignments = [a for m in matters for a in self._repo.case_assignments(firm_id, m.matter_id)]
        standing = self._standing(firm_id, assignee)
        expense_table = self._repo.lookup(firm_id, LookupKind.EXPENSE_REIMBURSEMENT_TYPE)[0]
        common: dict[str, Any] = {
            "work_order_id": _new_id("wo"),
            "assignee": contractor,
            "title": title,
            "actor": actor.actor,
            "at": self._clock.now(),
            "add_ons": settings.add_ons,
            "products": products,
            "fee_structures": fees,
            "description": description,
            "matters": matters,
            "start_date": start_date,
            "end_date": end_date,
            "case_assignments": assignments,
            "standing": standing,
        }
        if template_id:
            template = self._repo.template(firm_id, template_id)
            if template is None:
                raise NotFound("there is no such work order template")
            if expense_types:
                raise InvalidInput(
                    "the template sets the expense types",
                    field_errors=[FieldError("expense_types", "leave it out when using a template")],
                )
            change = create_work_order_from_template(
                template, today=self._today(firm_id), expense_table=expense_table, extra_items=items, **common
            )
        else:
            change = create_work_order(
                firm_id=firm_id,
                items=items,
                expense_types=[expense_table.require_active(k, "expense_types") for k in expense_types],
                **common,
            )
        saved = self._repo.save_work_order(change.work_order, actor.actor, "create")
        self._events.publish(change.events)
        return saved

    def work_orders(
        self, principal: Principal, status: str | None, cursor: str | None, limit: int
    ) -> Page[WorkOrder]:
        """A contractor's own work orders; staff see the firm's."""
        actor = self._actor_of(principal)
        if actor.own is None and not actor.has(ContractorPermission.WORK_ORDER_CREATE_EDIT):
            raise Forbidden("work orders need the 'Contractor Work Order Create/Edit' permission")
        return self._repo.work_orders(principal.firm_id, actor.own, status, cursor, limit)

    def work_order(
        self, principal: Principal, work_order_id: str
    ) -> tuple[WorkOrder, list[BillingTransaction], list[ReceiptDocument]]:
        """A work order with its BTs and receipts (one Query)."""
        actor = self._actor_of(principal)
        work_order, bts, receipts = self._repo.work_order_with_bts(principal.firm_id, work_order_id)
        if work_order is None:
            raise NotFound("no such work order")
        require_work_order_action(actor, work_order.assignee, WorkOrderAction.VIEW)
        return work_order, [with_psr_unit(bt, work_order) for bt in bts], receipts

    def case_labels(self, principal: Principal, work_orders: Sequence[WorkOrder]) -> dict[str, CaseLabel]:
        """The number and name of each case linked to these work orders (which the caller was just given,
        so may see), one Get per distinct case. A case since removed keeps only its id."""
        firm_id = principal.firm_id
        labels: dict[str, CaseLabel] = {}
        for matter_id in dict.fromkeys(m for wo in work_orders for m in wo.matter_ids):
            matter = self._matters.matter(firm_id, matter_id)
            labels[matter_id] = CaseLabel(
                matter_id, matter.number if matter else None, matter.name if matter else None
            )
        return labels

    def unit_labels(self, principal: Principal) -> dict[str, str]:
        """The firm's fee unit types by key ("hour" → "Hour"), to name the unit a BT's rate is per. Unit
        labels are not confidential: this serves whoever was just shown the BTs."""
        table = self._repo.lookup(principal.firm_id, LookupKind.FEE_UNIT_TYPE)[0]
        return {value.key: value.label for value in table.values}

    def _change_work_order(
        self,
        principal: Principal,
        work_order_id: str,
        version: int,
        action: WorkOrderAction,
        decide: Callable[[ContractorActor, WorkOrder, list[BillingTransaction]], WorkOrderChange],
    ) -> WorkOrder:
        actor = self._actor_of(principal)
        work_order, bts, _ = self._repo.work_order_with_bts(principal.firm_id, work_order_id)
        if work_order is None:
            raise NotFound("no such work order")
        require_work_order_action(actor, work_order.assignee, action)
        _versioned(work_order, version, "work order", work_order_id)
        change = decide(actor, work_order, bts)
        saved = self._repo.save_work_order(change.work_order, actor.actor, action.value)
        self._events.publish(change.events)
        return saved

    def add_psr(
        self, principal: Principal, work_order_id: str, version: int, request: PsrRequest
    ) -> WorkOrder:
        """Add a PSR; its rate and unit are locked now."""
        firm_id = principal.firm_id

        def decide(actor: ContractorActor, wo: WorkOrder, bts: list[BillingTransaction]) -> WorkOrderChange:
            product = self._product(firm_id, request.product_id)
            fee = next(
                (
                    s
                    for s in self._repo.fee_structures(firm_id, wo.assignee)
                    if s.product_id == product.product_id
                ),
                None,
            )
            assignments = [a for m in wo.matter_ids for a in self._repo.case_assignments(firm_id, m)]
            return add_psr(
                wo,
                product,
                fee,
                request,
                case_assignments=assignments,
                actor=actor.actor,
                at=self._clock.now(),
            )

        return self._change_work_order(principal, work_order_id, version, WorkOrderAction.ADD_PSR, decide)

    def edit_psr(
        self, principal: Principal, work_order_id: str, psr_id: str, version: int, changes: dict[str, Any]
    ) -> WorkOrder:
        """Edit a PSR (rate changes reach BTs logged from now on)."""
        return self._change_work_order(
            principal,
            work_order_id,
            version,
            WorkOrderAction.EDIT_PSR,
            lambda actor, wo, bts: edit_psr(wo, psr_id, actor=actor.actor, at=self._clock.now(), **changes),
        )

    def delete_psr(self, principal: Principal, work_order_id: str, psr_id: str, version: int) -> WorkOrder:
        """Delete a PSR that has no BTs."""
        return self._change_work_order(
            principal,
            work_order_id,
            version,
            WorkOrderAction.DELETE_PSR,
            lambda actor, wo, bts: delete_psr(
                wo,
                psr_id,
                bt_count=sum(1 for bt in bts if bt.psr_id == psr_id),
                actor=actor.actor,
                at=self._clock.now(),
            ),
        )

    def complete_work_order(self, principal: Principal, work_order_id: str, version: int) -> WorkOrder:
        """Mark a work order complete."""
        return self._change_work_order(
            principal,
            work_order_id,
            version,
            WorkOrderAction.COMPLETE,
            lambda actor, wo, bts: complete_work_order(wo, actor=actor.actor, at=self._clock.now()),
        )

    def reopen_work_order(self, principal: Principal, work_order_id: str, version: int) -> WorkOrder:
        """Reopen a completed work order."""
        return self._change_work_order(
            principal,
            work_order_id,
            version,
            WorkOrderAction.REOPEN,
            lambda actor, wo, bts: reopen_work_order(wo, actor=actor.actor, at=self._clock.now()),
        )

    def link_cases(
        self,
        principal: Principal,
        work_order_id: str,
        version: int,
        link: Sequence[str],
        unlink: Sequence[str],
    ) -> WorkOrder:
        """Link cases to a work order, or unlink cases no BT of it is billed to."""
        firm_id = principal.firm_id

        def decide(actor: ContractorActor, wo: WorkOrder, bts: list[BillingTransaction]) -> WorkOrderChange:
            change = WorkOrderChange(wo)
            for matter_id in unlink:
                count = sum(1 for bt in bts if bt.matter_id == matter_id)
                change = unlink_matter(change.work_order, matter_id, bt_count=count)
            if link:
                change = link_matters(change.work_order, [self._matter(firm_id, m) for m in link])
            return change

        return self._change_work_order(principal, work_order_id, version, WorkOrderAction.EDIT, decide)

    def allow_expense_type(
        self, principal: Principal, work_order_id: str, version: int, key: str
    ) -> WorkOrder:
        """Allow expense reimbursements of a type on the work order."""
        value = self._active(principal.firm_id, LookupKind.EXPENSE_REIMBURSEMENT_TYPE, key, "expense_type")
        return self._change_work_order(
            principal,
            work_order_id,
            version,
            WorkOrderAction.EDIT,
            lambda actor, wo, bts: add_expense_type(wo, value),
        )

    def remove_expense_type(
        self, principal: Principal, work_order_id: str, version: int, key: str
    ) -> WorkOrder:
        """Stop allowing an expense type on the work order; refused while expense BTs of it exist."""
        return self._change_work_order(
            principal,
            work_order_id,
            version,
            WorkOrderAction.EDIT,
            lambda actor, wo, bts: remove_expense_type(
                wo, key, bt_count=sum(1 for bt in bts if bt.expense_type == key)
            ),
        )

    def edit_work_order(
        self, principal: Principal, work_order_id: str, version: int, changes: dict[str, Any]
    ) -> WorkOrder:
        """Change a work order's title, description, dates and linked cases in one write.

        ``changes`` holds only what the caller sent; ``matter_ids`` is the whole new list of cases: cases
        left out are unlinked (refused while BTs of this work order are billed to them), new ones linked
        (open cases of the firm). Dates may be cleared with ``None``."""
        firm_id = principal.firm_id

        def decide(actor: ContractorActor, wo: WorkOrder, bts: list[BillingTransaction]) -> WorkOrderChange:
            change = edit_details(
                wo,
                title=changes.get("title", wo.title),
                description=changes.get("description", wo.description),
                start_date=changes.get("start_date", wo.start_date),
                end_date=changes.get("end_date", wo.end_date),
            )
            if "matter_ids" in changes:
                wanted = list(changes["matter_ids"])
                if len(set(wanted)) != len(wanted):
                    raise InvalidInput(
                        "a case is listed twice",
                        field_errors=[FieldError("matter_ids", "list each case once")],
                    )
                for matter_id in [m for m in wo.matter_ids if m not in wanted]:
                    count = sum(1 for bt in bts if bt.matter_id == matter_id)
                    change = unlink_matter(change.work_order, matter_id, bt_count=count)
                added = [m for m in wanted if m not in wo.matter_ids]
                if added:
                    change = link_matters(change.work_order, [self._matter(firm_id, m) for m in added])
            return change

        return self._change_work_order(principal, work_order_id, version, WorkOrderAction.EDIT, decide)

    # ------------------------------------------------------------------ receipts

    def upload_receipt(
        self, principal: Principal, work_order_id: str, file_name: str, content_type: str, content: bytes
    ) -> ReceiptDocument:
        """Store a receipt in S3 under the firm and work order; a later expense BT attaches it by id."""
        actor = self._actor_of(principal)
        work_order = self._repo.work_order(principal.firm_id, work_order_id)
        if work_order is None:
            raise NotFound("no such work order")
        require_work_order_action(actor, work_order.assignee, WorkOrderAction.LOG_BT)
        problems: list[FieldError] = []
        if content_type not in RECEIPT_TYPES:
            problems.append(
                FieldError("content_type", f"send a PDF, PNG, JPEG or HEIC file, not '{content_type}'")
            )
        if not content:
            problems.append(FieldError("content_base64", "the file is empty"))
        elif len(content) > MAX_RECEIPT_UPLOAD_BYTES:
            problems.append(FieldError("content_base64", "a receipt is at most 5 MB"))
        safe_name = "".join(ch for ch in file_name if ch.isalnum() or ch in "._- ").strip()[:120]
        if not safe_name:
            problems.append(FieldError("file_name", "give the file a name"))
        if problems:
            raise InvalidInput("the receipt was not accepted", field_errors=problems)
        document_id = _new_id("rcpt")
        key = f"firms/{principal.firm_id}/contractors/receipts/{work_order_id}/{document_id}"
        handle, path = tempfile.mkstemp(suffix=RECEIPT_TYPES[content_type])
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(content)
            self._files.put(key, path, content_type)
        finally:
            os.unlink(path)
        receipt = ReceiptDocument(document_id, safe_name, content_type, len(content), key)
        self._repo.save_receipt(principal.firm_id, work_order_id, receipt, actor.actor)
        return receipt

    def receipt_download(
        self, principal: Principal, work_order_id: str, document_id: str
    ) -> tuple[ReceiptDocument, bytes]:
        """A receipt's bytes, to someone who may see the work order."""
        self.work_order(principal, work_order_id)
        receipt = self._repo.receipt(principal.firm_id, work_order_id, document_id)
        if receipt is None:
            raise NotFound("no such receipt on this work order")
        return receipt, self._files.get(receipt.storage_key)

    # ------------------------------------------------------------------ billing transactions

    def log_bt(
        self,
        principal: Principal,
        work_order_id: str,
        *,
        bt_type: BtType,
        work_date: date,
        psr_id: str | None,
        units: Decimal | None,
        formula_inputs: tuple[Decimal, Decimal] | None,
        minutes: int | None,
        amount: Decimal | None,
        expense_type: str | None,
        receipt_ids: Sequence[str],
        description: str,
        matter_id: str | None,
    ) -> BillingTransaction:
        """Log a product/service BT, a timeslip (with its case service record) or an expense."""
        actor = self._actor_of(principal)
        firm_id = principal.firm_id
        work_order = self._repo.work_order(firm_id, work_order_id)
        if work_order is None:
            raise NotFound("no such work order")
        require_work_order_action(actor, work_order.assignee, WorkOrderAction.LOG_BT)
        common: dict[str, Any] = {
            "bt_id": _new_id("bt"),
            "work_date": work_date,
            "actor": actor.actor,
            "at": self._clock.now(),
            "matter_id": matter_id,
        }
        change: BtChange
        if bt_type is BtType.EXPENSE_REIMBURSEMENT:
            if amount is None or expense_type is None:
                raise InvalidInput(
                    "an expense needs its type and amount",
                    field_errors=[FieldError("amount", "required"), FieldError("expense_type", "required")],
                )
            receipts = []
            for document_id in dict.fromkeys(receipt_ids):
                receipt = self._repo.receipt(firm_id, work_order_id, document_id)
                if receipt is None:
                    raise InvalidInput(
                        f"receipt {document_id} was not uploaded to this work order",
                        field_errors=[FieldError("receipt_ids", "upload the receipt first")],
                    )
                receipts.append(receipt)
            value = self._active(firm_id, LookupKind.EXPENSE_REIMBURSEMENT_TYPE, expense_type, "expense_type")
            change = log_expense(
                work_order, value, amount=amount, receipts=receipts, description=description, **common
            )
        else:
            if psr_id is None:
                raise InvalidInput("choose the PSR", field_errors=[FieldError("psr_id", "required")])
            if bt_type is BtType.TIMESLIP:
                if minutes is None:
                    raise InvalidInput(
                        "a timeslip needs minutes", field_errors=[FieldError("minutes", "required")]
                    )
                change = log_timeslip(work_order, psr_id, minutes=minutes, description=description, **common)
            else:
                change = log_product_service(
                    work_order,
                    psr_id,
                    units=units,
                    formula_inputs=formula_inputs,
                    description=description,
                    **common,
                )
        assert change.bt is not None
        saved = self._repo.save_bt(change.bt, actor.actor, "log", service_record=change.service_record)
        self._events.publish(change.events)
        return saved

    def pool(self, principal: Principal, who: ContractorRef) -> list[BillingTransaction]:
        """A contractor's non-invoiced BTs (one Query)."""
        actor = self._actor_of(principal)
        require_invoice_action(actor, who, InvoiceAction.VIEW)
        self.contractor(principal, who)
        return self._repo.pool(principal.firm_id, who)

    def _bt(
        self, principal: Principal, work_order_id: str, bt_id: str, action: WorkOrderAction
    ) -> tuple[ContractorActor, WorkOrder, BillingTransaction]:
        actor = self._actor_of(principal)
        work_order = self._repo.work_order(principal.firm_id, work_order_id)
        bt = self._repo.bt(principal.firm_id, work_order_id, bt_id)
        if work_order is None or bt is None:
            raise NotFound("no such billing transaction")
        require_work_order_action(actor, work_order.assignee, action)
        return actor, work_order, bt

    def revise_bt(
        self, principal: Principal, work_order_id: str, bt_id: str, version: int, changes: dict[str, Any]
    ) -> BillingTransaction:
        """Correct a BT; on a draft or disputed invoice, the invoice's totals follow in the same commit."""
        actor, work_order, bt = self._bt(principal, work_order_id, bt_id, WorkOrderAction.EDIT_BT)
        _versioned(bt, version, "billing transaction", bt_id)
        invoice, invoice_bts = self._invoice_of(principal.firm_id, bt)
        change = revise_bt(
            bt,
            work_order,
            invoice_status=invoice.status if invoice else None,
            actor=actor.actor,
            at=self._clock.now(),
            **changes,
        )
        assert change.bt is not None
        removed = (
            (bt.matter_id, change.removed_service_record_id)
            if change.removed_service_record_id and bt.matter_id
            else None
        )
        if invoice is None:
            saved = self._repo.save_bt(
                change.bt,
                actor.actor,
                "revise",
                before=bt,
                service_record=change.service_record,
                removed_service_record=removed,
            )
        else:
            # The invoice decides: one transaction writes the revised BT and the invoice's new totals.
            revised = [change.bt if b.bt_id == bt_id else b for b in invoice_bts]
            operations = self._repo.bt_change_operations(
                change.bt,
                actor.actor,
                "revise",
                before=bt,
                service_record=change.service_record,
                removed=removed,
            )
            self._repo.commit_invoice(
                before=invoice,
                after=inv.refresh_totals(invoice, revised),
                bts=(),
                actor=actor.actor,
                action="bt_revised",
                extra=operations,
            )
            saved = replace(change.bt, version=bt.version + 1)
        self._events.publish(change.events)
        return saved

    def delete_bt(self, principal: Principal, work_order_id: str, bt_id: str, version: int) -> None:
        """Delete a BT (pending, or on a draft or disputed invoice, which it leaves first)."""
        actor, _, bt = self._bt(principal, work_order_id, bt_id, WorkOrderAction.DELETE_BT)
        _versioned(bt, version, "billing transaction", bt_id)
        invoice, invoice_bts = self._invoice_of(principal.firm_id, bt)
        change = delete_bt(
            bt, invoice_status=invoice.status if invoice else None, actor=actor.actor, at=self._clock.now()
        )
        if invoice is not None:
            leaving = inv.remove_bts(invoice, invoice_bts, [bt_id], actor=actor, at=self._clock.now())
            self._repo.commit_invoice(
                before=invoice, after=leaving.invoice, bts=leaving.bts, actor=actor.actor, action="remove_bts"
            )
            fresh = self._repo.bt(principal.firm_id, work_order_id, bt_id)
            if fresh is None:
                return
            bt = fresh
        removed = (bt.matter_id, bt.service_record_id) if bt.service_record_id and bt.matter_id else None
        self._repo.delete_bt(bt, actor.actor, removed)
        self._events.publish(change.events)

    def _invoice_of(
        self, firm_id: str, bt: BillingTransaction
    ) -> tuple[Invoice | None, list[BillingTransaction]]:
        if bt.invoice_id is None:
            return None, []
        invoice, bts = self._repo.invoice_with_bts(firm_id, bt.invoice_id)
        return invoice, bts

    # ------------------------------------------------------------------ invoices

    def create_invoice(
        self,
        principal: Principal,
        *,
        contractor: ContractorRef,
        bt_ids: Sequence[str],
        invoice_date: date | None,
        due_date: date | None,
        note: str,
    ) -> InvoiceView:
        """A draft invoice from some of the contractor's non-invoiced BTs."""
        actor = self._actor_of(principal)
        require_invoice_action(actor, contractor, InvoiceAction.CREATE)
        firm_id = principal.firm_id
        who = self.contractor(principal, contractor)
        pool = {bt.bt_id: bt for bt in self._repo.pool(firm_id, contractor)}
        missing = [bt_id for bt_id in bt_ids if bt_id not in pool]
        if missing:
            raise InvalidInput(
                f"billing transactions {', '.join(sorted(set(missing))[:20])} are not among the contractor's "
                "non-invoiced transactions",
                field_errors=[FieldError("bt_ids", "choose from the contractor's non-invoiced transactions")],
            )
        settings = self._repo.settings(firm_id)
        invoice_id = _new_id("inv")
        change = inv.create_invoice(
            firm_id=firm_id,
            invoice_id=invoice_id,
            contractor=who,
            bts=[pool[bt_id] for bt_id in bt_ids],
            actor=actor,
            at=self._clock.now(),
            add_ons=settings.add_ons,
            invoice_date=invoice_date,
            due_date=due_date,
            note=note,
            note_id=f"{invoice_id}-n1",
            standing=self._standing(firm_id, contractor),
        )
        committed = self._repo.commit_invoice(
            before=None,
            after=change.invoice,
            bts=change.bts,
            actor=actor.actor,
            action="create",
            known=[pool[bt_id] for bt_id in bt_ids],
        )
        self._events.publish(change.events)
        taken = [pool[bt_id] for bt_id in bt_ids]
        return self._view_after(principal, actor, committed, invoice_id, taken, change, settings)

    def invoice(self, principal: Principal, invoice_id: str) -> InvoiceView:
        """An invoice with its BTs and the caller's available actions."""
        actor = self._actor_of(principal)
        invoice, bts = self._repo.invoice_with_bts(principal.firm_id, invoice_id)
        if invoice is None:
            raise NotFound("no such invoice")
        require_invoice_action(actor, invoice.contractor, InvoiceAction.VIEW)
        settings = self._repo.settings(principal.firm_id)
        return InvoiceView(
            invoice, bts, inv.payee_name(invoice, settings), inv.available_actions(actor, invoice, bts)
        )

    def invoices(
        self,
        principal: Principal,
        status: InvoiceStatus | None,
        contractor: ContractorRef | None,
        cursor: str | None,
        limit: int,
    ) -> Page[Invoice]:
        """The invoice queue by status (staff: one Query), or one contractor's invoices."""
        actor = self._actor_of(principal)
        if actor.own is not None:
            if contractor is not None and contractor != actor.own:
                raise NotFound("no such contractor")
            contractor = actor.own
        if contractor is not None:
            require_invoice_action(actor, contractor, InvoiceAction.VIEW)
            return self._repo.invoices_of(principal.firm_id, contractor, status, cursor, limit)
        if not actor.has(ContractorPermission.INVOICE_CREATE_EDIT):
            raise Forbidden("invoices need the 'Contractor Invoice Create/Edit' permission")
        return self._repo.invoices_by_status(
            principal.firm_id, status or InvoiceStatus.SUBMITTED, cursor, limit
        )

    def act(
        self,
        principal: Principal,
        invoice_id: str,
        action: InvoiceAction,
        version: int,
        params: dict[str, Any],
        *,
        fail_after_batches: int | None = None,
    ) -> InvoiceView | None:
        """Take one invoice action (the version read must still be current). None once deleted."""
        actor = self._actor_of(principal)
        firm_id = principal.firm_id
        invoice, bts = self._repo.invoice_with_bts(firm_id, invoice_id)
        if invoice is None:
            raise NotFound("no such invoice")
        # Visibility before anything else: another contractor's invoice does not exist for them.
        require_invoice_action(actor, invoice.contractor, InvoiceAction.VIEW)
        if invoice.version != version:
            raise StaleVersion("invoice", invoice_id)
        change, taken = self._decide(actor, invoice, bts, action, params)
        settings = self._repo.settings(firm_id)
        allocations = self._allocation_changes(settings, change, actor)
        committed = self._repo.commit_invoice(
            before=invoice,
            after=change.invoice,
            bts=change.bts,
            actor=actor.actor,
            action=action.value,
            allocations=allocations,
            known=[*bts, *taken],
            fail_after_batches=fail_after_batches,
        )
        self._events.publish(change.events)
        if change.invoice is None:
            return None
        return self._view_after(principal, actor, committed, invoice_id, bts, change, settings)

    def _view_after(
        self,
        principal: Principal,
        actor: ContractorActor,
        committed: Invoice | None,
        invoice_id: str,
        bts: list[BillingTransaction],
        change: InvoiceChange,
        settings: ContractorSettings,
    ) -> InvoiceView:
        """The invoice as it now stands, from what was just written (no second read), unless the BT
        sync had to drop a BT that another invoice took meanwhile: then it is read again."""
        if committed is None:
            raise NotFound("no such invoice")
        merged = {bt.bt_id: bt for bt in bts}
        for bt in change.bts:
            # The sync writes (and so versions) only the BTs that really changed.
            merged[bt.bt_id] = bt if merged.get(bt.bt_id) == bt else replace(bt, version=bt.version + 1)
        now_on = [bt for bt in merged.values() if bt.invoice_id == invoice_id]
        if len(now_on) != committed.bt_count:
            return self.invoice(principal, invoice_id)
        return InvoiceView(
            committed,
            now_on,
            inv.payee_name(committed, settings),
            inv.available_actions(actor, committed, now_on),
        )

    def complete_pending(self, principal: Principal, invoice_id: str) -> InvoiceView:
        """Finish a transition a crash interrupted (any read does the same)."""
        return self.invoice(principal, invoice_id)

    def bulk(
        self,
        principal: Principal,
        invoice_ids: Sequence[str],
        action: InvoiceAction,
        params: dict[str, Any],
    ) -> list[BulkResult]:
        """The action on each invoice on its own (at its current version); one refusal stops nothing."""
        from chalicelib.domain.errors import DomainError

        results: list[BulkResult] = []
        for invoice_id in dict.fromkeys(invoice_ids):
            try:
                current = self._repo.invoice(principal.firm_id, invoice_id)
                if current is None:
                    raise NotFound("no such invoice")
                view = self.act(principal, invoice_id, action, current.version, params)
                results.append(
                    BulkResult(
                        invoice_id,
                        True,
                        view.invoice.status.value if view else "deleted",
                        view.invoice.version if view else None,
                    )
                )
            except DomainError as error:
                results.append(BulkResult(invoice_id, False, None, None, error.code, error.message))
        return results

    def _decide(
        self,
        actor: ContractorActor,
        invoice: Invoice,
        bts: list[BillingTransaction],
        action: InvoiceAction,
        params: dict[str, Any],
    ) -> tuple[InvoiceChange, list[BillingTransaction]]:
        """The domain's decision, and the pool BTs it takes onto the invoice (as read)."""
        at = self._clock.now()
        firm_id = invoice.firm_id
        if action is InvoiceAction.ADD_BTS:
            require_invoice_action(actor, invoice.contractor, action)
            pool = {bt.bt_id: bt for bt in self._repo.pool(firm_id, invoice.contractor)}
            wanted = list(params.get("bt_ids") or [])
            missing = [bt_id for bt_id in wanted if bt_id not in pool]
            if missing:
                raise InvalidInput(
                    f"billing transactions {', '.join(sorted(set(missing))[:20])} are not non-invoiced "
                    "transactions of this contractor",
                    field_errors=[
                        FieldError("bt_ids", "choose from the contractor's non-invoiced transactions")
                    ],
                )
            taken = [pool[b] for b in wanted]
            return inv.add_bts(invoice, bts, taken, actor=actor, at=at), taken
        return self._decide_on_invoice(actor, invoice, bts, action, params), []

    def _decide_on_invoice(
        self,
        actor: ContractorActor,
        invoice: Invoice,
        bts: list[BillingTransaction],
        action: InvoiceAction,
        params: dict[str, Any],
    ) -> InvoiceChange:
        at = self._clock.now()
        firm_id = invoice.firm_id
        if action is InvoiceAction.REMOVE_BTS:
            return inv.remove_bts(invoice, bts, params.get("bt_ids") or [], actor=actor, at=at)
        if action is InvoiceAction.EDIT_DETAILS:
            return inv.edit_details(
                invoice,
                actor=actor,
                at=at,
                invoice_date=params.get("invoice_date"),
                due_date=params.get("due_date"),
            )
        if action is InvoiceAction.ADD_NOTE:
            return inv.add_note(
                invoice,
                actor=actor,
                at=at,
                note_id=f"{invoice.invoice_id}-n{len(invoice.notes) + 1}",
                text=params.get("note") or "",
            )
        if action is InvoiceAction.DELETE:
            return inv.delete_invoice(invoice, bts, actor=actor, at=at)
        simple: dict[InvoiceAction, Callable[..., InvoiceChange]] = {
            InvoiceAction.SUBMIT: inv.submit,
            InvoiceAction.RETURN_TO_DRAFT: inv.return_to_draft,
            InvoiceAction.VERIFY: inv.verify_invoice,
            InvoiceAction.DISPUTE: inv.dispute_invoice,
            InvoiceAction.RESUBMIT: inv.resubmit,
            InvoiceAction.APPROVE: inv.approve,
            InvoiceAction.UNAPPROVE: inv.unapprove,
        }
        if action in simple:
            return simple[action](invoice, bts, actor=actor, at=at)
        if action is InvoiceAction.VERIFY_BTS:
            return inv.verify_bts(invoice, bts, params.get("bt_ids") or [], actor=actor, at=at)
        if action in (InvoiceAction.DISPUTE_BTS, InvoiceAction.DENY_BTS):
            decide = inv.dispute_bts if action is InvoiceAction.DISPUTE_BTS else inv.deny_bts
            return decide(
                invoice,
                bts,
                params.get("bt_ids") or [],
                reason=params.get("reason") or "",
                actor=actor,
                at=at,
            )
        if action is InvoiceAction.SCHEDULE:
            require_invoice_action(actor, invoice.contractor, action)
            schedule = self._repo.settings(firm_id).pay_period_schedule
            if schedule is None:
                raise Conflict("the firm has no pay period schedule; set one in the contractor settings")
            start = params.get("pay_period_start")
            if start is None:
                raise InvalidInput(
                    "choose a pay period", field_errors=[FieldError("pay_period_start", "required")]
                )
            period: PayPeriod = period_starting(schedule, start)
            return inv.schedule(
                invoice, period=period, pay_periods=schedule, today=self._today(firm_id), actor=actor, at=at
            )
        if action is InvoiceAction.PAY:
            require_invoice_action(actor, invoice.contractor, action)
            method_key = params.get("payment_method") or ""
            method = self._active(firm_id, LookupKind.PAYMENT_METHOD, method_key, "payment_method")
            return inv.pay(
                invoice,
                bts,
                payment_method=method,
                payment_reference=params.get("payment_reference") or "",
                actor=actor,
                at=at,
            )
        raise InvalidInput(f"'{action.value}' is not an action on an existing invoice")

    def _allocation_changes(
        self, settings: ContractorSettings, change: InvoiceChange, actor: ContractorActor
    ) -> list[AllocationChange]:
        """Approval deducts from (and un-approval credits) the cases' allocations, in the same commit."""
        if not settings.add_ons.matter_allocations:
            return []
        firm_id = settings.firm_id
        changes: list[AllocationChange] = []
        for event in change.events:
            if not isinstance(event, InvoiceApproved | InvoiceUnapproved):
                continue
            for matter_id, amount in event.amounts_by_matter.items():
                current = self._repo.matter_allocation(firm_id, matter_id) or MatterAllocation(
                    firm_id, matter_id
                )
                if isinstance(event, InvoiceApproved):
                    changes.append(
                        deduct_for_approval(
                            current, amount, invoice_id=event.invoice_id, at=event.at, actor=actor.actor
                        )
                    )
                else:
                    changes.append(
                        credit_for_unapproval(
                            current, amount, invoice_id=event.invoice_id, at=event.at, actor=actor.actor
                        )
                    )
        return changes

    # ------------------------------------------------------------------ pay periods

    def pay_periods(self, principal: Principal, count: int) -> list[PayPeriod]:
        """The current pay period and the next ones."""
        self._reader(principal)
        schedule = self._repo.settings(principal.firm_id).pay_period_schedule
        if schedule is None:
            raise NotFound("the firm has no pay period schedule yet; set one in the contractor settings")
        return list(upcoming_periods(schedule, self._today(principal.firm_id), count))
