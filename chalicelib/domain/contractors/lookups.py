"""The ten contractor lookups of the seed: which hold system values, which hold the firm's own, which both.

| lookup | values |
| --- | --- |
| billing transaction status | system only (``BtStatus``) |
| billing transaction type | system only (``BtType``) |
| expense reimbursement type | the firm's own |
| fee unit type | system and the firm's own; a unit type is time-based when it has ``minutes_per_unit`` |
| investigation type | the firm's own (the Investigator assignment type's values) |
| invoice status | system only (``InvoiceStatus``) |
| payment method | the firm's own (asked for when an invoice is marked paid) |
| product/service category | the firm's own (groups the totals on an invoice) |
| product or service type | the firm's own, kept as rich records in ``catalog`` (rate, unit, category...) |
| subject matter expertise | the firm's own (the Expert assignment type's values) |
| legal problem code | the firm's own: the problem codes a case (matter) carries |

The legal problem code lookup is the case's, not one of the seed's ten contractor lookups; it lives here
because the Contractor Matter Allocations add-on gives each of its values a "Contractor Base Matter
Allocation" (``base_matter_allocation``), the default allocation of a case with that problem code (see
``allocations``). Only that lookup takes the amount, and only while the add-on is on (the service checks).

System values cannot be added, renamed or switched off: the code relies on them. Values are never deleted,
only made inactive, so old records keep meaning what they meant.

Public API:

- ``BtStatus``, ``BtType``, ``InvoiceStatus``: the system lookups as enums (other modules use these).
- ``LookupKind``, ``LookupSource``, ``LOOKUP_SOURCES``: the ten lookups and who supplies their values.
- ``LookupValue``: one value; ``time_based`` for fee unit types; ``base_matter_allocation`` for legal
  problem codes.
- ``system_values(kind) -> tuple[LookupValue, ...]``
- ``new_user_value(kind, key, label, *, sort_order=0, minutes_per_unit=None, base_matter_allocation=None)``
- ``change_user_value(value, *, label=None, active=None, sort_order=None, base_matter_allocation=KEEP)``
- ``LookupTable``: one lookup's values; ``seeded(kind)``, ``add(value)``, ``replace(value)``,
  ``get(key)``, ``require_active(key, field)``, ``active_values()``, ``base_matter_allocations()``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from decimal import Decimal
from enum import Enum, StrEnum
from typing import Literal

from chalicelib.domain.contractors.money import parse_amount
from chalicelib.domain.errors import Conflict, Duplicate, FieldError, InvalidInput, NotFound


class BtStatus(StrEnum):
    """Contractor Billing Transaction Status (system values only)."""

    PENDING = "pending"
    INVOICED = "invoiced"
    VERIFIED = "verified"
    DISPUTED = "disputed"
    DENIED = "denied"
    PAID = "paid"


class BtType(StrEnum):
    """Contractor Billing Transaction Type (system values only)."""

    PRODUCT_SERVICE = "product_service"
    TIMESLIP = "timeslip"
    EXPENSE_REIMBURSEMENT = "expense_reimbursement"


class InvoiceStatus(StrEnum):
    """Contractor Invoice Status (system values only): the seven states of an invoice."""

    DRAFT = "draft"
    SUBMITTED = "submitted"
    DISPUTED = "disputed"
    VERIFIED = "verified"
    APPROVED = "approved"
    PAYMENT_SCHEDULED = "payment_scheduled"
    PAID = "paid"


class LookupKind(StrEnum):
    BILLING_TRANSACTION_STATUS = "contractor_billing_transaction_status"
    BILLING_TRANSACTION_TYPE = "contractor_billing_transaction_type"
    EXPENSE_REIMBURSEMENT_TYPE = "contractor_expense_reimbursement_type"
    FEE_UNIT_TYPE = "contractor_fee_unit_type"
    INVESTIGATION_TYPE = "contractor_investigation_type"
    INVOICE_STATUS = "contractor_invoice_status"
    PAYMENT_METHOD = "contractor_payment_method"
    PRODUCT_SERVICE_CATEGORY = "contractor_product_service_category"
    PRODUCT_SERVICE_TYPE = "contractor_product_service_type"
    SUBJECT_MATTER_EXPERTISE = "contractor_subject_matter_expertise"
    LEGAL_PROBLEM_CODE = "legal_problem_code"


class LookupSource(StrEnum):
    SYSTEM_ONLY = "system_only"
    USER_ONLY = "user_only"
    MIXED = "mixed"


LOOKUP_SOURCES: dict[LookupKind, LookupSource] = {
    LookupKind.BILLING_TRANSACTION_STATUS: LookupSource.SYSTEM_ONLY,
    LookupKind.BILLING_TRANSACTION_TYPE: LookupSource.SYSTEM_ONLY,
    LookupKind.EXPENSE_REIMBURSEMENT_TYPE: LookupSource.USER_ONLY,
    LookupKind.FEE_UNIT_TYPE: LookupSource.MIXED,
    LookupKind.INVESTIGATION_TYPE: LookupSource.USER_ONLY,
    LookupKind.INVOICE_STATUS: LookupSource.SYSTEM_ONLY,
    LookupKind.PAYMENT_METHOD: LookupSource.USER_ONLY,
    LookupKind.PRODUCT_SERVICE_CATEGORY: LookupSource.USER_ONLY,
    LookupKind.PRODUCT_SERVICE_TYPE: LookupSource.USER_ONLY,
    LookupKind.SUBJECT_MATTER_EXPERTISE: LookupSource.USER_ONLY,
    LookupKind.LEGAL_PROBLEM_CODE: LookupSource.USER_ONLY,
}

LOOKUP_LABELS: dict[LookupKind, str] = {
    LookupKind.BILLING_TRANSACTION_STATUS: "Contractor Billing Transaction Status",
    LookupKind.BILLING_TRANSACTION_TYPE: "Contractor Billing Transaction Type",
    LookupKind.EXPENSE_REIMBURSEMENT_TYPE: "Contractor Expense Reimbursement Type",
    LookupKind.FEE_UNIT_TYPE: "Contractor Fee Unit Type",
    LookupKind.INVESTIGATION_TYPE: "Contractor Investigation Type",
    LookupKind.INVOICE_STATUS: "Contractor Invoice Status",
    LookupKind.PAYMENT_METHOD: "Contractor Payment Method",
    LookupKind.PRODUCT_SERVICE_CATEGORY: "Contractor Product/Service Category",
    LookupKind.PRODUCT_SERVICE_TYPE: "Contractor Product or Service Type",
    LookupKind.SUBJECT_MATTER_EXPERTISE: "Contractor Subject Matter Expertise",
    LookupKind.LEGAL_PROBLEM_CODE: "Legal Problem Code",
}

# The two system fee unit types. Firms add their own (per page, per word, per quarter hour...).
HOUR_UNIT = "hour"
EACH_UNIT = "each"

_KEY = re.compile(r"^[a-z0-9][a-z0-9_]{0,63}$")
MAX_LABEL = 100
# A time-based unit is at most a day long; a "per day" rate is 1440 minutes per unit.
MAX_MINUTES_PER_UNIT = 1440


@dataclass(frozen=True)
class LookupValue:
    """One value of one lookup. ``minutes_per_unit`` is set on time-based fee unit types only."""

    kind: LookupKind
    key: str
    label: str
    system: bool = False
    active: bool = True
    sort_order: int = 0
    minutes_per_unit: int | None = None
    # Legal problem codes only (Contractor Matter Allocations add-on): a new case's default allocation.
    base_matter_allocation: Decimal | None = None

    @property
    def time_based(self) -> bool:
        """A fee unit type measured in time: only timeslips are billed against it."""
        return self.minutes_per_unit is not None


def _labelled(value: str) -> str:
    return value.replace("_", " ").capitalize()


_SYSTEM_VALUES: dict[LookupKind, tuple[LookupValue, ...]] = {
    LookupKind.BILLING_TRANSACTION_STATUS: tuple(
        LookupValue(
            LookupKind.BILLING_TRANSACTION_STATUS, s.value, _labelled(s.value), system=True, sort_order=i
        )
        for i, s in enumerate(BtStatus)
    ),
    LookupKind.BILLING_TRANSACTION_TYPE: (
        LookupValue(
            LookupKind.BILLING_TRANSACTION_TYPE, BtType.PRODUCT_SERVICE, "Product/Service", True, True, 0
        ),
        LookupValue(LookupKind.BILLING_TRANSACTION_TYPE, BtType.TIMESLIP, "Timeslip", True, True, 1),
        LookupValue(
            LookupKind.BILLING_TRANSACTION_TYPE,
            BtType.EXPENSE_REIMBURSEMENT,
            "Expense reimbursement",
            True,
            True,
            2,
        ),
    ),
    LookupKind.INVOICE_STATUS: tuple(
        LookupValue(LookupKind.INVOICE_STATUS, s.value, _labelled(s.value), system=True, sort_order=i)
        for i, s in enumerate(InvoiceStatus)
    ),
    LookupKind.FEE_UNIT_TYPE: (
        LookupValue(LookupKind.FEE_UNIT_TYPE, HOUR_UNIT, "Hour", system=True, minutes_per_unit=60),
        LookupValue(LookupKind.FEE_UNIT_TYPE, EACH_UNIT, "Each", system=True, sort_order=1),
    ),
}


class _Keep(Enum):
    KEEP = "keep"


KEEP = _Keep.KEEP
"""``change_user_value``'s "leave the base matter allocation as it is" (``None`` clears it)."""


def _base_allocation(
    kind: LookupKind, amount: Decimal | str | None, problems: list[FieldError]
) -> Decimal | None:
    if amount is None:
        return None
    if kind is not LookupKind.LEGAL_PROBLEM_CODE:
        problems.append(
            FieldError("base_matter_allocation", "only legal problem codes carry a base matter allocation")
        )
        return None
    try:
        return parse_amount(amount, "base_matter_allocation")
    except InvalidInput as error:
        problems.extend(
            error.field_errors or [FieldError("base_matter_allocation", "not an amount like 1500.00")]
        )
        return None


def system_values(kind: LookupKind) -> tuple[LookupValue, ...]:
    """The values the system supplies for a lookup (empty for user-only lookups)."""
    return _SYSTEM_VALUES.get(kind, ())


def new_user_value(
    kind: LookupKind,
    key: str,
    label: str,
    *,
    sort_order: int = 0,
    minutes_per_unit: int | None = None,
    base_matter_allocation: Decimal | str | None = None,
) -> LookupValue:
    """A value the firm adds to a lookup that takes user values."""
    source = LOOKUP_SOURCES[kind]
    if source is LookupSource.SYSTEM_ONLY:
        raise Conflict(f"{LOOKUP_LABELS[kind]} holds system values only; it cannot take new values")
    if kind is LookupKind.PRODUCT_SERVICE_TYPE:
        raise InvalidInput(
            "products and services carry a rate, unit type and category: define them in the product catalog"
        )
    problems: list[FieldError] = []
    if not _KEY.match(key):
        problems.append(FieldError("key", "use 1 to 64 lower-case letters, digits or _ (like court_fees)"))
    if not label.strip():
        problems.append(FieldError("label", "a value needs a label"))
    elif len(label) > MAX_LABEL:
        problems.append(FieldError("label", f"at most {MAX_LABEL} characters"))
    if minutes_per_unit is not None:
        if kind is not LookupKind.FEE_UNIT_TYPE:
            problems.append(FieldError("minutes_per_unit", "only fee unit types can be time-based"))
        elif not 1 <= minutes_per_unit <= MAX_MINUTES_PER_UNIT:
            problems.append(FieldError("minutes_per_unit", f"must be 1 to {MAX_MINUTES_PER_UNIT} minutes"))
    base = _base_allocation(kind, base_matter_allocation, problems)
    if problems:
        raise InvalidInput(f"the {LOOKUP_LABELS[kind]} value is not valid", field_errors=problems)
    return LookupValue(
        kind,
        key,
        label.strip(),
        sort_order=sort_order,
        minutes_per_unit=minutes_per_unit,
        base_matter_allocation=base,
    )


def change_user_value(
    value: LookupValue,
    *,
    label: str | None = None,
    active: bool | None = None,
    sort_order: int | None = None,
    base_matter_allocation: Decimal | str | Literal[_Keep.KEEP] | None = KEEP,
) -> LookupValue:
    """Rename, reorder, or switch a firm's value on or off, or (legal problem codes) change its base
    matter allocation; cases already created keep theirs. Whether a unit is time-based never changes:
    PSRs and billing transactions were priced by it."""
    if value.system:
        raise Conflict(
            f"'{value.label}' is a system value of {LOOKUP_LABELS[value.kind]}; it cannot be changed"
        )
    if label is not None:
        if not label.strip():
            raise InvalidInput(
                "a value needs a label", field_errors=[FieldError("label", "must not be empty")]
            )
        if len(label) > MAX_LABEL:
            raise InvalidInput(
                "the label is too long", field_errors=[FieldError("label", f"at most {MAX_LABEL} characters")]
            )
    base = value.base_matter_allocation
    if base_matter_allocation is not KEEP:
        problems: list[FieldError] = []
        base = _base_allocation(value.kind, base_matter_allocation, problems)
        if problems:
            raise InvalidInput(f"the {LOOKUP_LABELS[value.kind]} value is not valid", field_errors=problems)
    return replace(
        value,
        label=value.label if label is None else label.strip(),
        active=value.active if active is None else active,
        sort_order=value.sort_order if sort_order is None else sort_order,
        base_matter_allocation=base,
    )


@dataclass(frozen=True)
class LookupTable:
    """All values of one lookup, system values first."""

    kind: LookupKind
    values: tuple[LookupValue, ...] = ()

    @classmethod
    def seeded(cls, kind: LookupKind) -> LookupTable:
        """A lookup holding just its system values."""
        return cls(kind, system_values(kind))

    def get(self, key: str) -> LookupValue | None:
        """The value with this key, active or not."""
        return next((value for value in self.values if value.key == key), None)

    def add(self, value: LookupValue) -> LookupTable:
        """The table with one more (user) value; keys are unique within a lookup."""
        if value.kind is not self.kind:
            raise InvalidInput(
                f"'{value.key}' belongs to {LOOKUP_LABELS[value.kind]}, not {LOOKUP_LABELS[self.kind]}"
            )
        if self.get(value.key) is not None:
            raise Duplicate(
                f"{LOOKUP_LABELS[self.kind]} already has a value '{value.key}'; choose another key"
            )
        return replace(self, values=(*self.values, value))

    def replace(self, value: LookupValue) -> LookupTable:
        """The table with one value swapped for its changed version."""
        if self.get(value.key) is None:
            raise NotFound(f"{LOOKUP_LABELS[self.kind]} has no value '{value.key}'")
        return replace(self, values=tuple(value if v.key == value.key else v for v in self.values))

    def active_values(self) -> tuple[LookupValue, ...]:
        """What a form offers: active values in display order."""
        return tuple(
            sorted((v for v in self.values if v.active), key=lambda v: (not v.system, v.sort_order, v.label))
        )

    def base_matter_allocations(self) -> dict[str, Decimal]:
        """Legal problem codes with a base matter allocation, active or not: a case keeps following the
        code it has even after the code stops being offered."""
        return {v.key: v.base_matter_allocation for v in self.values if v.base_matter_allocation is not None}

    def require_active(self, key: str, field: str) -> LookupValue:
        """The active value with this key, or an ``InvalidInput`` naming the field."""
        value = self.get(key)
        if value is None or not value.active:
            message = f"'{key}' is not an active {LOOKUP_LABELS[self.kind]}"
            raise InvalidInput(message, field_errors=[FieldError(field, message)])
        return value
