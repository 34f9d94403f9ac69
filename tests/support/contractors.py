"""Builders shared by the contractor-module tests (this module holds no tests of its own).

A small firm: Alice (contract attorney for housing, Spanish interpreter, with a DBA name), Bob (investigator),
an organization; a catalog with hourly research, per-page translation, a formula-rate service; two cases.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal

from chalicelib.domain.contractors.catalog import FeeStructure, ProductService, define_product_service
from chalicelib.domain.contractors.contractors import (
    CONTRACT_ATTORNEY,
    DEFAULT_ASSIGNMENT_TYPES,
    INTERPRETER,
    INVESTIGATOR,
    TRANSLATOR,
    AssignmentType,
    Contractor,
    ContractorAssignment,
    ContractorKind,
)
from chalicelib.domain.contractors.formula import FormulaDefinition
from chalicelib.domain.contractors.invoices import (
    Invoice,
    approve,
    create_invoice,
    dispute_bts,
    dispute_invoice,
    pay,
    schedule,
    submit,
    verify_invoice,
)
from chalicelib.domain.contractors.lookups import (
    EACH_UNIT,
    HOUR_UNIT,
    InvoiceStatus,
    LookupKind,
    LookupTable,
    new_user_value,
)
from chalicelib.domain.contractors.pay_periods import (
    PayPeriodInterval,
    PayPeriodSchedule,
    period_containing,
)
from chalicelib.domain.contractors.permissions import ContractorActor, ContractorPermission
from chalicelib.domain.contractors.settings import ContractorAddOns
from chalicelib.domain.contractors.transactions import BillingTransaction, log_expense, log_product_service
from chalicelib.domain.contractors.work_orders import PsrRequest, WorkOrder, create_work_order
from chalicelib.domain.matters import Matter

FIRM = "f1"
AT = datetime(2026, 3, 9, 15, 0, tzinfo=UTC)
TODAY = date(2026, 3, 9)
ALL_ADD_ONS = ContractorAddOns(
    organizations=True,
    allocations=True,
    organization_allocations=True,
    matter_allocations=True,
    formula_rates=True,
)

TYPES: dict[str, AssignmentType] = {t.key: t for t in DEFAULT_ASSIGNMENT_TYPES}

ALICE = Contractor(
    FIRM,
    "u-alice",
    ContractorKind.USER,
    "Alice Avery",
    "alice@avery.law",
    doing_business_as="Avery Legal Services",
    assignments=(
        ContractorAssignment(CONTRACT_ATTORNEY, ("housing", "family")),
        ContractorAssignment(INTERPRETER, ("Spanish",)),
    ),
)
BOB = Contractor(
    FIRM,
    "u-bob",
    ContractorKind.USER,
    "Bob Barnes",
    "bob@barnes.example",
    assignments=(ContractorAssignment(INVESTIGATOR, ("surveillance",)),),
)
ACME = Contractor(
    FIRM,
    "o-acme",
    ContractorKind.ORGANIZATION,
    "Acme Translation Co",
    "billing@acme.example",
    assignments=(ContractorAssignment(TRANSLATOR, ("Spanish", "French")),),
)

FEE_UNITS = LookupTable.seeded(LookupKind.FEE_UNIT_TYPE).add(
    new_user_value(LookupKind.FEE_UNIT_TYPE, "page", "Page")
)
HOUR = FEE_UNITS.require_active(HOUR_UNIT, "unit_type")
EACH = FEE_UNITS.require_active(EACH_UNIT, "unit_type")
PAGE = FEE_UNITS.require_active("page", "unit_type")
LEGAL = new_user_value(LookupKind.PRODUCT_SERVICE_CATEGORY, "legal", "Legal work")
LANGUAGE = new_user_value(LookupKind.PRODUCT_SERVICE_CATEGORY, "language", "Language services")
MILEAGE = new_user_value(LookupKind.EXPENSE_REIMBURSEMENT_TYPE, "mileage", "Mileage")
PARKING = new_user_value(LookupKind.EXPENSE_REIMBURSEMENT_TYPE, "parking", "Parking")
EXPENSES = LookupTable(LookupKind.EXPENSE_REIMBURSEMENT_TYPE, (MILEAGE, PARKING))
CHECK = new_user_value(LookupKind.PAYMENT_METHOD, "check", "Check")

RESEARCH = define_product_service(
    FIRM, "p-research", "Legal research", default_rate="150.00", unit_type=HOUR, category=LEGAL
)
TRANSLATION = define_product_service(
    FIRM,
    "p-translation",
    "Document translation",
    default_rate="12.50",
    unit_type=PAGE,
    category=LANGUAGE,
    assignment_type=TYPES[TRANSLATOR],
)
COPIES = define_product_service(FIRM, "p-copies", "Copies", default_rate="0.10", unit_type=EACH)
FLAT_FILING = define_product_service(
    FIRM,
    "p-filing",
    "Filing fee",
    default_rate="75",
    unit_type=EACH,
    override_fee_structures=True,
    category=LEGAL,
)
WORD_COUNT = define_product_service(
    FIRM,
    "p-words",
    "Certified translation by words",
    formula=FormulaDefinition(
        "max(words * 0.12, 25) + pages * 2",
        primary_name="words",
        secondary_name="pages",
        primary_label="Words",
        secondary_label="Pages",
    ),
    formula_rates_enabled=True,
    category=LANGUAGE,
)
PRODUCTS: dict[str, ProductService] = {
    p.product_id: p for p in (RESEARCH, TRANSLATION, COPIES, FLAT_FILING, WORD_COUNT)
}


def a_matter(matter_id: str = "m1", number: str = "2026-001") -> Matter:
    return Matter(FIRM, matter_id, number, f"Case {number}", "c1")


CASE_ONE = a_matter("m1", "2026-001")
CASE_TWO = a_matter("m2", "2026-002")

STAFF_PERMISSIONS = frozenset(ContractorPermission) - {ContractorPermission.ADMIN}
CONTRACTOR_PERMISSIONS = frozenset(
    {
        ContractorPermission.INVOICE_CREATE_EDIT,
        ContractorPermission.WORK_ORDER_CREATE_EDIT,
        ContractorPermission.DELETE_BT,
    }
)
STAFF = ContractorActor("user:s-sam", STAFF_PERMISSIONS)
OTHER_STAFF = ContractorActor("user:s-tess", STAFF_PERMISSIONS)
ALICE_ACTOR = ContractorActor("user:u-alice", CONTRACTOR_PERMISSIONS, ALICE.ref)
BOB_ACTOR = ContractorActor("user:u-bob", CONTRACTOR_PERMISSIONS, BOB.ref)

PAY_PERIODS = PayPeriodSchedule(PayPeriodInterval.TWICE_MONTHLY, date(2026, 1, 1))
CURRENT_PERIOD = period_containing(PAY_PERIODS, TODAY)


def a_work_order(
    *,
    work_order_id: str = "wo-1",
    assignee: Contractor = ALICE,
    matters: Sequence[Matter] = (CASE_ONE,),
    items: Sequence[str] = ("p-research", "p-copies", "p-filing", "p-words"),
    fee_structures: dict[str, FeeStructure] | None = None,
) -> WorkOrder:
    """An open WO with a PSR per product id (psr-1, psr-2, ... in order) and mileage expenses allowed."""
    return create_work_order(
        firm_id=FIRM,
        work_order_id=work_order_id,
        assignee=assignee,
        title="Representation at eviction hearing",
        actor="user:s-sam",
        at=AT,
        add_ons=ALL_ADD_ONS,
        products=PRODUCTS,
        fee_structures=fee_structures or {},
        matters=matters,
        start_date=date(2026, 3, 1),
        end_date=date(2026, 6, 30),
        items=[PsrRequest(product_id) for product_id in items],
        expense_types=[MILEAGE],
    ).work_order


def copies_bt(
    work_order: WorkOrder, bt_id: str, units: str = "10", psr_id: str = "psr-2"
) -> BillingTransaction:
    """A product/service BT on the copies PSR (0.10 each by default)."""
    bt = log_product_service(
        work_order, psr_id, bt_id=bt_id, work_date=TODAY, units=Decimal(units), actor="user:u-alice", at=AT
    ).bt
    assert bt is not None
    return bt


def mileage_bt(work_order: WorkOrder, bt_id: str, amount: str = "42.50") -> BillingTransaction:
    bt = log_expense(
        work_order, MILEAGE, bt_id=bt_id, work_date=TODAY, amount=Decimal(amount), actor="user:u-alice", at=AT
    ).bt
    assert bt is not None
    return bt


def pool_of_bts(work_order: WorkOrder | None = None) -> list[BillingTransaction]:
    """Three pending BTs of Alice: 10 copies (1.00), 3 copies (0.30), mileage 42.50."""
    wo = work_order or a_work_order()
    return [copies_bt(wo, "bt-1", "10"), copies_bt(wo, "bt-2", "3"), mileage_bt(wo, "bt-3")]


def draft_invoice(
    bts: Sequence[BillingTransaction] | None = None, actor: ContractorActor = ALICE_ACTOR
) -> tuple[Invoice, list[BillingTransaction]]:
    change = create_invoice(
        firm_id=FIRM,
        invoice_id="inv-1",
        contractor=ALICE,
        bts=list(bts) if bts is not None else pool_of_bts(),
        actor=actor,
        at=AT,
        add_ons=ALL_ADD_ONS,
    )
    assert change.invoice is not None
    return change.invoice, list(change.bts)


def merged(
    bts: Sequence[BillingTransaction], changed: Sequence[BillingTransaction]
) -> list[BillingTransaction]:
    """The invoice's BTs after a change: changed ones replace theirs, released ones leave."""
    by_id = {bt.bt_id: bt for bt in changed}
    known = {bt.bt_id for bt in bts}
    result = [by_id.get(bt.bt_id, bt) for bt in bts]
    return [bt for bt in result if bt.invoice_id is not None] + [
        bt for bt in changed if bt.bt_id not in known and bt.invoice_id is not None
    ]


def invoice_in(status: InvoiceStatus) -> tuple[Invoice, list[BillingTransaction]]:
    """An invoice driven to ``status`` through the real transitions. From submitted on, bt-2 is disputed
    (until approval takes it off)."""
    invoice, bts = draft_invoice()
    if status is InvoiceStatus.DRAFT:
        return invoice, bts
    step = submit(invoice, bts, actor=ALICE_ACTOR, at=AT)
    invoice = _present(step.invoice)
    step = dispute_bts(invoice, bts, ["bt-2"], reason="Copies were not requested", actor=STAFF, at=AT)
    invoice, bts = _present(step.invoice), merged(bts, step.bts)
    if status is InvoiceStatus.SUBMITTED:
        return invoice, bts
    if status is InvoiceStatus.DISPUTED:
        step = dispute_invoice(invoice, bts, actor=STAFF, at=AT)
        return _present(step.invoice), bts
    step = verify_invoice(invoice, bts, actor=STAFF, at=AT)
    invoice, bts = _present(step.invoice), merged(bts, step.bts)
    if status is InvoiceStatus.VERIFIED:
        return invoice, bts
    step = approve(invoice, bts, actor=STAFF, at=AT)
    invoice, bts = _present(step.invoice), merged(bts, step.bts)
    if status is InvoiceStatus.APPROVED:
        return invoice, bts
    step = schedule(invoice, period=CURRENT_PERIOD, pay_periods=PAY_PERIODS, today=TODAY, actor=STAFF, at=AT)
    invoice = _present(step.invoice)
    if status is InvoiceStatus.PAYMENT_SCHEDULED:
        return invoice, bts
    step = pay(invoice, bts, payment_method=CHECK, payment_reference="CHK-1001", actor=STAFF, at=AT)
    return _present(step.invoice), merged(bts, step.bts)


def _present(invoice: Invoice | None) -> Invoice:
    assert invoice is not None
    return invoice
