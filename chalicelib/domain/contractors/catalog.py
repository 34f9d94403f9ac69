"""Products and services (P/S), fee structures, and which P/S a work order may offer.

A P/S has a default rate and a unit type (time-based when the unit type is), an optional category (for the
invoice's totals by category), an optional assignment type, and the "Override existing fee structures?"
flag. A formula-rate P/S (an add-on) has no rate and no unit type: its BT amounts come from its formula.

A fee structure is one contractor's (user or organization) own rate for one P/S. When a PSR is added to a
work order, the assignee's fee structure sets its rate, unless the P/S overrides fee structures; either way
the rate and unit are then locked on the PSR.

Public API:

- ``ProductService``; ``define_product_service(...) -> ProductService``;
  ``change_product_service(product, ...) -> ProductService``.
- ``FeeStructure``; ``set_fee_structure(contractor, product, rate, *, at) -> FeeStructure``.
- ``RateSource``, ``RateQuote``; ``quote_rate(product, fee_structure) -> RateQuote``.
- ``FeeCopyPlan``; ``plan_fee_structure_copy(source, source_structures, targets, existing, *, at,
  product_ids=None, overwrite_existing=False) -> FeeCopyPlan``.
- ``offerable_products(products, *, assignee, linked_matter_ids, case_assignments)``
  ``-> tuple[ProductService, ...]``
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from chalicelib.domain.contractors.contractors import AssignmentType, CaseAssignment, ContractorRef
from chalicelib.domain.contractors.formula import FormulaDefinition, compile_formula
from chalicelib.domain.contractors.lookups import LookupKind, LookupValue
from chalicelib.domain.contractors.money import parse_rate
from chalicelib.domain.errors import Conflict, FieldError, InvalidInput

MAX_NAME = 200


@dataclass(frozen=True)
class ProductService:
    """A Contractor Product or Service Type lookup value, with its pricing."""

    firm_id: str
    product_id: str
    name: str
    default_rate: Decimal | None
    unit_type: str | None
    # Copied from the unit type when the P/S is defined: set means time-based (timeslips only).
    minutes_per_unit: int | None = None
    category: str | None = None
    override_fee_structures: bool = False
    assignment_type: str | None = None
    formula: FormulaDefinition | None = None
    active: bool = True
    version: int = 0

    @property
    def time_based(self) -> bool:
        return self.minutes_per_unit is not None

    @property
    def formula_rate(self) -> bool:
        return self.formula is not None


def define_product_service(
    firm_id: str,
    product_id: str,
    name: str,
    *,
    default_rate: Decimal | int | str | None = None,
    unit_type: LookupValue | None = None,
    category: LookupValue | None = None,
    override_fee_structures: bool = False,
    assignment_type: AssignmentType | None = None,
    formula: FormulaDefinition | None = None,
    formula_rates_enabled: bool = False,
) -> ProductService:
    """A new P/S: a rate and unit type, or (add-on) a formula instead of both."""
    problems: list[FieldError] = []
    if not name.strip():
        problems.append(FieldError("name", "a product or service needs a name"))
    elif len(name) > MAX_NAME:
        problems.append(FieldError("name", f"at most {MAX_NAME} characters"))
    rate: Decimal | None = None
    if formula is not None:
        if not formula_rates_enabled:
            problems.append(
                FieldError("formula", "formula-rate products and services are an add-on not enabled here")
            )
        if default_rate is not None or unit_type is not None:
            problems.append(
                FieldError("formula", "a formula-rate product or service has no default rate or unit type")
            )
        if override_fee_structures:
            problems.append(
                FieldError("override_fee_structures", "a formula-rate product or service has no rate")
            )
        try:
            compile_formula(formula)
        except InvalidInput as error:
            problems.extend(error.field_errors)
    else:
        if unit_type is None:
            problems.append(FieldError("unit_type", "choose a fee unit type"))
        elif unit_type.kind is not LookupKind.FEE_UNIT_TYPE or not unit_type.active:
            problems.append(FieldError("unit_type", f"'{unit_type.key}' is not an active fee unit type"))
        if default_rate is None:
            problems.append(FieldError("default_rate", "set a default rate"))
        else:
            try:
                rate = parse_rate(default_rate, "default_rate")
            except InvalidInput as error:
                problems.extend(error.field_errors)
    if category is not None and (
        category.kind is not LookupKind.PRODUCT_SERVICE_CATEGORY or not category.active
    ):
        problems.append(FieldError("category", f"'{category.key}' is not an active product/service category"))
    if assignment_type is not None and (not assignment_type.is_contractor_type or not assignment_type.active):
        problems.append(
            FieldError("assignment_type", f"'{assignment_type.key}' is not a contractor assignment type")
        )
    if problems:
        raise InvalidInput("the product or service is not valid", field_errors=problems)
    return ProductService(
        firm_id=firm_id,
        product_id=product_id,
        name=name.strip(),
        default_rate=rate,
        unit_type=None if unit_type is None else unit_type.key,
        minutes_per_unit=None if unit_type is None else unit_type.minutes_per_unit,
        category=None if category is None else category.key,
        override_fee_structures=override_fee_structures,
        assignment_type=None if assignment_type is None else assignment_type.key,
        formula=formula,
    )


def change_product_service(
    product: ProductService,
    *,
    name: str | None = None,
    default_rate: Decimal | int | str | None = None,
    category: LookupValue | None = None,
    clear_category: bool = False,
    override_fee_structures: bool | None = None,
    active: bool | None = None,
    formula: FormulaDefinition | None = None,
) -> ProductService:
    """Change what new PSRs will get. PSRs already on work orders keep the rate and unit locked on them;
    the unit type (and so time-basedness) never changes, because BTs were already priced by it."""
    changed = product
    if name is not None:
        if not name.strip() or len(name) > MAX_NAME:
            raise InvalidInput(
                "the name is not valid", field_errors=[FieldError("name", f"1 to {MAX_NAME} characters")]
            )
        changed = replace(changed, name=name.strip())
    if default_rate is not None:
        if product.formula_rate:
            raise InvalidInput(
                "a formula-rate product or service has no default rate; change its formula instead"
            )
        changed = replace(changed, default_rate=parse_rate(default_rate, "default_rate"))
    if formula is not None:
        if not product.formula_rate:
            raise InvalidInput("only formula-rate products and services have a formula")
        compile_formula(formula)
        changed = replace(changed, formula=formula)
    if clear_category:
        changed = replace(changed, category=None)
    elif category is not None:
        if category.kind is not LookupKind.PRODUCT_SERVICE_CATEGORY or not category.active:
            raise InvalidInput(
                "not a category",
                field_errors=[FieldError("category", "choose an active product/service category")],
            )
        changed = replace(changed, category=category.key)
    if override_fee_structures is not None:
        if override_fee_structures and product.formula_rate:
            raise InvalidInput(
                "a formula-rate product or service has no rate to override fee structures with"
            )
        changed = replace(changed, override_fee_structures=override_fee_structures)
    if active is not None:
        changed = replace(changed, active=active)
    return changed


@dataclass(frozen=True)
class FeeStructure:
    """One contractor's own rate for one P/S."""

    firm_id: str
    contractor: ContractorRef
    product_id: str
    rate: Decimal
    updated_at: datetime | None = None
    version: int = 0


def set_fee_structure(
    contractor: ContractorRef, product: ProductService, rate: Decimal | int | str, *, at: datetime
) -> FeeStructure:
    """A contractor's rate for a P/S. Formula-rate P/S have no rate to set."""
    if product.formula_rate:
        raise InvalidInput(
            f"'{product.name}' is priced by its formula; it takes no fee structure",
            field_errors=[FieldError("product_id", "choose a product or service with a rate")],
        )
    return FeeStructure(product.firm_id, contractor, product.product_id, parse_rate(rate, "rate"), at)


class RateSource(StrEnum):
    DEFAULT = "default"
    FEE_STRUCTURE = "fee_structure"
    FORMULA = "formula"


@dataclass(frozen=True)
class RateQuote:
    """What a PSR locks: the rate (None for a formula), the unit type and whether it is time-based."""

    rate: Decimal | None
    unit_type: str | None
    minutes_per_unit: int | None
    source: RateSource


def quote_rate(product: ProductService, fee_structure: FeeStructure | None) -> RateQuote:
    """The rate a new PSR gets: the assignee's fee structure, unless the P/S overrides fee structures."""
    if product.formula is not None:
        return RateQuote(None, None, None, RateSource.FORMULA)
    if fee_structure is not None and fee_structure.product_id != product.product_id:
        raise InvalidInput(f"that fee structure is for another product or service, not '{product.name}'")
    if fee_structure is not None and not product.override_fee_structures:
        return RateQuote(
            fee_structure.rate, product.unit_type, product.minutes_per_unit, RateSource.FEE_STRUCTURE
        )
    return RateQuote(product.default_rate, product.unit_type, product.minutes_per_unit, RateSource.DEFAULT)


@dataclass(frozen=True)
class FeeCopyPlan:
    """What a bulk copy writes: new fee structures, changed ones, and those left alone."""

    to_create: tuple[FeeStructure, ...]
    to_update: tuple[FeeStructure, ...]
    kept_existing: tuple[FeeStructure, ...]

    @property
    def writes(self) -> tuple[FeeStructure, ...]:
        return self.to_create + self.to_update


def plan_fee_structure_copy(
    source: ContractorRef,
    source_structures: Sequence[FeeStructure],
    targets: Sequence[ContractorRef],
    existing: Mapping[ContractorRef, Sequence[FeeStructure]],
    *,
    at: datetime,
    product_ids: Collection[str] | None = None,
    overwrite_existing: bool = False,
) -> FeeCopyPlan:
    """Copy one contractor's fee structures (all, or the chosen products) to other contractors.

    A target's own rate for a product is kept unless ``overwrite_existing``; a rate equal to the source's
    is neither created nor updated."""
    if not targets:
        raise InvalidInput("choose at least one contractor to copy the fee structures to")
    if source in targets:
        raise InvalidInput(
            "a contractor's fee structures cannot be copied onto themselves; remove them from the list"
        )
    if len(set(targets)) != len(targets):
        raise InvalidInput("a contractor is listed twice among the targets")
    for structure in source_structures:
        if structure.contractor != source:
            raise InvalidInput(f"fee structure for {structure.product_id} is not {source.key}'s")
    chosen = [s for s in source_structures if product_ids is None or s.product_id in product_ids]
    if product_ids is not None:
        missing = sorted(set(product_ids) - {s.product_id for s in source_structures})
        if missing:
            raise InvalidInput(f"{source.key} has no fee structure for {', '.join(missing)}")
    if not chosen:
        raise Conflict(f"{source.key} has no fee structures to copy; set some first")
    creates: list[FeeStructure] = []
    updates: list[FeeStructure] = []
    kept: list[FeeStructure] = []
    for target in targets:
        theirs = {s.product_id: s for s in existing.get(target, ())}
        for structure in chosen:
            current = theirs.get(structure.product_id)
            if current is None:
                creates.append(replace(structure, contractor=target, updated_at=at, version=0))
            elif current.rate == structure.rate:
                continue
            elif overwrite_existing:
                updates.append(replace(current, rate=structure.rate, updated_at=at))
            else:
                kept.append(current)
    return FeeCopyPlan(tuple(creates), tuple(updates), tuple(kept))


def offerable_products(
    products: Iterable[ProductService],
    *,
    assignee: ContractorRef,
    linked_matter_ids: Collection[str],
    case_assignments: Iterable[CaseAssignment],
) -> tuple[ProductService, ...]:
    """The P/S a work order may offer as new PSRs.

    Without linked cases every active P/S is offered. With linked cases, a P/S tied to an assignment type is
    offered only when the assignee is assigned with that type on one of those cases; a P/S tied to no
    assignment type is always offered."""
    active = [p for p in products if p.active]
    if not linked_matter_ids:
        return tuple(active)
    types = {
        a.assignment_type
        for a in case_assignments
        if a.contractor == assignee and a.matter_id in linked_matter_ids
    }
    return tuple(p for p in active if p.assignment_type is None or p.assignment_type in types)
