"""Builders shared by the contractor-module tests (this module holds no tests of its own).

A small firm: Alice (contract attorney for housing, Spanish interpreter, with a DBA name), Bob (investigator),
an organization; a catalog with hourly research, per-page translation, a formula-rate service; two cases.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

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


# ------------------------------------------------------------------ service- and API-level builders


def seed_contractor_world(api: Any, seeded: Any) -> ContractorWorld:
    """Through the real API: settings with every add-on and twice-monthly pay periods, the lookups, a case,
    the firm's contractor user as a contractor (with a DBA name), a catalog and an open work order."""
    from chalicelib.domain.identity import Role

    admin = api.token_for(seeded, Role.FIRM_ADMIN)
    staff = api.token_for(seeded, Role.CONTRACTOR_STAFF)
    casey = api.token_for(seeded, Role.CONTRACTOR)

    def call(method: str, path: str, body: Any = None, token: str = admin) -> Any:
        reply = api.call(method, path, token=token, body=body)
        assert reply.status < 300, f"{method} {path}: {reply.text}"
        return reply.body

    call(
        "PUT",
        "/contractor/settings",
        {
            "version": 0,
            "replace_name_with_dba_on_invoices": True,
            "add_ons": {
                "organizations": True,
                "allocations": True,
                "organization_allocations": True,
                "matter_allocations": True,
                "formula_rates": True,
            },
            "pay_period_schedule": {"interval": "twice_monthly_standard", "start_date": "2026-01-01"},
        },
    )
    for lookup, key, label in (
        ("contractor_fee_unit_type", "page", "Page"),
        ("contractor_product_service_category", "legal", "Legal work"),
        ("contractor_expense_reimbursement_type", "mileage", "Mileage"),
        ("contractor_payment_method", "check", "Check"),
    ):
        version = call("GET", f"/contractor/lookups/{lookup}")["version"]
        call("POST", f"/contractor/lookups/{lookup}/values", {"version": version, "key": key, "label": label})
    client = call("POST", "/clients", {"name": "Tenant Union"})
    matter = call(
        "POST",
        "/matters",
        {"number": "2026-001", "name": "Eviction defence", "client_id": client["client_id"]},
    )
    user = seeded.people[Role.CONTRACTOR]
    contractor = call(
        "POST",
        "/contractor/contractors",
        {
            "kind": "user",
            "user_id": user.user_id,
            "name": "Casey Contractor",
            "doing_business_as": "Casey Legal Services",
            "assignments": [{"assignment_type": "contract_attorney", "values": ["housing"]}],
        },
    )
    research = call(
        "POST",
        "/contractor/products",
        {"name": "Legal research", "default_rate": "150.00", "unit_type": "hour", "category": "legal"},
    )
    copies = call(
        "POST", "/contractor/products", {"name": "Copies", "default_rate": "0.10", "unit_type": "each"}
    )
    words = call(
        "POST",
        "/contractor/products",
        {
            "name": "Certified translation",
            "formula": {
                "expression": "max(words * 0.12, 25)",
                "primary_name": "words",
                "secondary_name": "pages",
            },
        },
    )
    work_order = call(
        "POST",
        "/contractor/work-orders",
        {
            "assignee": {"kind": "user", "contractor_id": user.user_id},
            "title": "Representation at eviction hearing",
            "matter_ids": [matter["matter_id"]],
            "items": [
                {"product_id": copies["product_id"]},
                {"product_id": research["product_id"]},
                {"product_id": words["product_id"]},
            ],
            "expense_types": ["mileage"],
        },
        token=staff,
    )
    return ContractorWorld(
        api=api,
        seeded=seeded,
        admin=admin,
        staff=staff,
        casey=casey,
        contractor={"kind": "user", "contractor_id": contractor["contractor_id"]},
        matter_id=matter["matter_id"],
        work_order_id=work_order["work_order_id"],
        products={
            "research": research["product_id"],
            "copies": copies["product_id"],
            "words": words["product_id"],
        },
    )


@dataclass
class ContractorWorld:
    """What ``seed_contractor_world`` made: tokens, ids, and helpers to log BTs and drive invoices."""

    api: Any
    seeded: Any
    admin: str
    staff: str
    casey: str
    contractor: dict[str, str]
    matter_id: str
    work_order_id: str
    products: dict[str, str]

    def call(self, method: str, path: str, body: Any = None, *, token: str | None = None) -> Any:
        """A call that must succeed; returns the parsed reply."""
        reply = self.api.call(method, path, token=token or self.casey, body=body)
        assert reply.status < 300, f"{method} {path}: {reply.status} {reply.text}"
        return reply.body

    def copies(self, units: str, token: str | None = None) -> dict[str, Any]:
        """A product/service BT on the copies PSR (psr-1, 0.10 each)."""
        result: dict[str, Any] = self.call(
            "POST",
            f"/contractor/work-orders/{self.work_order_id}/billing-transactions",
            {"bt_type": "product_service", "psr_id": "psr-1", "units": units, "work_date": "2026-03-09"},
            token=token,
        )
        return result

    def timeslip(self, minutes: int) -> dict[str, Any]:
        """A timeslip on the hourly research PSR (psr-2, 150.00 an hour)."""
        result: dict[str, Any] = self.call(
            "POST",
            f"/contractor/work-orders/{self.work_order_id}/billing-transactions",
            {
                "bt_type": "timeslip",
                "psr_id": "psr-2",
                "minutes": minutes,
                "description": "Researched the tenancy statute",
                "work_date": "2026-03-09",
            },
        )
        return result

    def invoice(self, bt_ids: Sequence[str]) -> dict[str, Any]:
        """A draft invoice of these BTs, made by the contractor."""
        result: dict[str, Any] = self.call(
            "POST", "/contractor/invoices", {"contractor": self.contractor, "bt_ids": list(bt_ids)}
        )
        return result

    def act(
        self, invoice: dict[str, Any], action: str, token: str | None = None, **params: Any
    ) -> dict[str, Any]:
        """Take an action on an invoice at the version given."""
        result: dict[str, Any] = self.call(
            "POST",
            f"/contractor/invoices/{invoice['invoice_id']}/actions",
            {"action": action, "version": invoice["version"], **params},
            token=token,
        )
        return result


class MemoryFiles:
    """``FileStore`` in memory (service-level tests)."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}

    def put(self, key: str, path: str, content_type: str) -> None:
        with open(path, "rb") as source:
            self.files[key] = source.read()

    def get(self, key: str) -> bytes:
        return self.files[key]

    def link(self, key: str, file_name: str, seconds: int = 3600) -> str:
        return f"memory://{key}"


@dataclass
class ServiceWorld:
    """A firm seeded through ``ContractorService`` on a given table: Casey (contractor), a case, a copies
    PSR (psr-1, 0.10 each) on an open work order, matter allocations on, twice-monthly pay periods."""

    table: Any
    clock: Any
    service: Any
    events: Any
    firm_id: str
    admin: Any
    staff: Any
    casey: Any
    casey_ref: Any
    matter_id: str
    work_order_id: str

    def with_permissions(self, role_permissions: Any) -> Any:
        """Another service on the same table whose roles hold ``role_permissions``."""
        from chalicelib.adapters.persistence.contractors import TableContractorRepository
        from chalicelib.adapters.persistence.matters import TableMatterRepository
        from chalicelib.adapters.persistence.repositories import TableFirmRepository, TableUserRepository
        from chalicelib.services.contractors import ContractorService

        return ContractorService(
            repository=TableContractorRepository(self.table, self.clock),
            matters=TableMatterRepository(self.table, self.clock),
            users=TableUserRepository(self.table, self.clock),
            files=MemoryFiles(),
            events=self.events,
            firms=TableFirmRepository(self.table, self.clock),
            clock=self.clock,
            role_permissions=role_permissions,
        )

    def log_copies(self, count: int, units: str = "10") -> list[str]:
        """``count`` copies BTs of ``units`` each (``units`` x 0.10); their ids."""
        from chalicelib.domain.contractors.lookups import BtType

        ids = []
        for _ in range(count):
            bt = self.service.log_bt(
                self.casey,
                self.work_order_id,
                bt_type=BtType.PRODUCT_SERVICE,
                work_date=date(2026, 3, 9),
                psr_id="psr-1",
                units=Decimal(units),
                formula_inputs=None,
                minutes=None,
                amount=None,
                expense_type=None,
                receipt_ids=(),
                description="",
                matter_id=None,
            )
            ids.append(bt.bt_id)
        return ids

    def invoice_of(self, bt_ids: Sequence[str]) -> Any:
        """A draft invoice of these BTs; its view."""
        return self.service.create_invoice(
            self.casey, contractor=self.casey_ref, bt_ids=bt_ids, invoice_date=None, due_date=None, note=""
        )

    def act(self, view: Any, action: str, principal: Any = None, **params: Any) -> Any:
        """An action at the view's version, by staff unless told."""
        from chalicelib.domain.contractors.permissions import InvoiceAction

        return self.service.act(
            principal or self.staff,
            view.invoice.invoice_id,
            InvoiceAction(action),
            view.invoice.version,
            params,
        )


def seed_service_world(table: Any, clock: Any, firm_id: str = "f-ctr") -> ServiceWorld:
    """Seed a firm for service-level contractor tests (see ``ServiceWorld``)."""
    from dataclasses import replace as changed

    from chalicelib.adapters.persistence.contractors import TableContractorRepository
    from chalicelib.adapters.persistence.matters import TableMatterRepository
    from chalicelib.adapters.persistence.repositories import TableFirmRepository, TableUserRepository
    from chalicelib.domain.contractors.contractors import ContractorRef
    from chalicelib.domain.identity import Principal, Role
    from chalicelib.domain.matters import Client
    from chalicelib.domain.roster import User, UserStatus
    from chalicelib.services.contractors import ContractorService, RecordingContractorEventSink

    events = RecordingContractorEventSink()
    matters = TableMatterRepository(table, clock)
    users = TableUserRepository(table, clock)
    service = ContractorService(
        repository=TableContractorRepository(table, clock),
        matters=matters,
        users=users,
        files=MemoryFiles(),
        events=events,
        firms=TableFirmRepository(table, clock),
        clock=clock,
    )
    users.add(
        User(
            firm_id=firm_id,
            user_id="casey",
            email="casey@contractors.example",
            display_name="Casey Contractor",
            roles=frozenset({Role.CONTRACTOR}),
            status=UserStatus.ACTIVE,
        ),
        "system",
    )
    matters.clients.add(Client(firm_id, "c1", "Tenant Union"), "system")
    matters.matters.add(Matter(firm_id, "m1", "2026-001", "Eviction defence", "c1"), "system")
    admin = Principal(firm_id, "fiona", "user", frozenset({Role.FIRM_ADMIN}))
    staff = Principal(firm_id, "drew", "user", frozenset({Role.CONTRACTOR_STAFF}))
    casey = Principal(firm_id, "casey", "user", frozenset({Role.CONTRACTOR}))
    current = service.settings(admin)
    service.save_settings(
        admin,
        current.version,
        {
            "add_ons": changed(ALL_ADD_ONS),
            "pay_period_schedule": PAY_PERIODS,
        },
    )
    table_version = service.lookup(admin, LookupKind.PAYMENT_METHOD)[1]
    service.add_lookup_value(admin, LookupKind.PAYMENT_METHOD, table_version, key="check", label="Check")
    service.create_contractor(
        admin,
        kind=ContractorKind.USER,
        user_id="casey",
        name="Casey Contractor",
        email=None,
        doing_business_as="",
        assignments=(),
    )
    copies = service.create_product(
        admin,
        name="Copies",
        default_rate=Decimal("0.10"),
        unit_type=EACH_UNIT,
        category=None,
        override_fee_structures=False,
        assignment_type=None,
        formula=None,
    )
    casey_ref = ContractorRef(ContractorKind.USER, "casey")
    work_order = service.create_work_order(
        staff,
        assignee=casey_ref,
        title="Copies for the hearing",
        description="",
        matter_ids=["m1"],
        start_date=None,
        end_date=None,
        items=[PsrRequest(copies.product_id)],
        expense_types=(),
        template_id=None,
    )
    return ServiceWorld(
        table, clock, service, events, firm_id, admin, staff, casey, casey_ref, "m1", work_order.work_order_id
    )


def seed_guard_records(container: Any, seeded: Any) -> dict[str, str]:
    """Firm A's contractor records, made through the service (quick), for the route guard: every id a
    contractor route takes in its path, naming a real record of firm A."""
    from chalicelib.domain.contractors.contractors import ContractorRef
    from chalicelib.domain.contractors.lookups import BtType
    from chalicelib.domain.identity import Principal, Role

    firm_id = seeded.firm.firm_id
    service = container.contractors

    def principal(role: Role) -> Principal:
        return Principal(firm_id, seeded.people[role].user_id, "user", frozenset({role}))

    admin, staff, casey = (
        principal(Role.FIRM_ADMIN),
        principal(Role.CONTRACTOR_STAFF),
        principal(Role.CONTRACTOR),
    )
    version = service.lookup(admin, LookupKind.PAYMENT_METHOD)[1]
    service.add_lookup_value(admin, LookupKind.PAYMENT_METHOD, version, key="a_secret_wire", label="A's wire")
    client = container.matters.create_client(admin, name="A's contractor client")
    matter = container.matters.create_matter(
        admin, number="A-CTR-1", name="A's contractor case", client_id=client.client_id
    )
    contractor = service.create_contractor(
        admin,
        kind=ContractorKind.USER,
        user_id=seeded.people[Role.CONTRACTOR].user_id,
        name="A's Secret Contractor",
        email=None,
        doing_business_as="",
        assignments=(),
    )
    product = service.create_product(
        admin,
        name="A's secret service",
        default_rate=Decimal("99.00"),
        unit_type=EACH_UNIT,
        category=None,
        override_fee_structures=False,
        assignment_type=None,
        formula=None,
    )
    who = ContractorRef(ContractorKind.USER, contractor.contractor_id)
    work_order = service.create_work_order(
        staff,
        assignee=who,
        title="A's secret work order",
        description="",
        matter_ids=[matter.matter_id],
        start_date=None,
        end_date=None,
        items=[PsrRequest(product.product_id)],
        expense_types=(),
        template_id=None,
    )
    receipt = service.upload_receipt(
        casey, work_order.work_order_id, "a-secret.pdf", "application/pdf", b"%PDF a"
    )
    logged = [
        service.log_bt(
            casey,
            work_order.work_order_id,
            bt_type=BtType.PRODUCT_SERVICE,
            work_date=date(2026, 3, 9),
            psr_id="psr-1",
            units=Decimal("1"),
            formula_inputs=None,
            minutes=None,
            amount=None,
            expense_type=None,
            receipt_ids=(),
            description="A's secret work",
            matter_id=None,
        )
        for _ in range(2)
    ]
    invoice = service.create_invoice(
        casey, contractor=who, bt_ids=[logged[0].bt_id], invoice_date=None, due_date=None, note=""
    )
    template = service.create_template(
        admin,
        name="A's secret template",
        items=[PsrRequest(product.product_id)],
        expense_types=(),
        start_offset_days=0,
        duration_days=None,
    )
    service.set_fee_structure(admin, who, product.product_id, Decimal("88.00"), 0)
    return {
        "template_id": template.template_id,
        "assignment_type": "contract_attorney",
        "expense_type": "mileage",
        "lookup": LookupKind.PAYMENT_METHOD.value,
        "key": "a_secret_wire",
        "contractor_kind": "user",
        "contractor_id": contractor.contractor_id,
        "product_id": product.product_id,
        "work_order_id": work_order.work_order_id,
        "psr_id": "psr-1",
        "bt_id": logged[1].bt_id,
        "document_id": receipt.document_id,
        "invoice_id": invoice.invoice.invoice_id,
        "contractor_matter_id": matter.matter_id,
    }


def add_problem_codes(world: ContractorWorld, *codes: tuple[str, str | None]) -> None:
    """Legal problem codes with their base matter allocations (None: no base)."""
    for key, base in codes:
        version = world.call("GET", "/contractor/lookups/legal_problem_code", token=world.admin)["version"]
        body: dict[str, Any] = {"version": version, "key": key, "label": key.replace("_", " ").title()}
        if base is not None:
            body["base_matter_allocation"] = base
        world.call("POST", "/contractor/lookups/legal_problem_code/values", body, token=world.admin)


def open_case(world: ContractorWorld, number: str, problem_code: str | None = None) -> dict[str, Any]:
    """A new matter (and its own client), with the problem code if given."""
    client = world.call("POST", "/clients", {"name": f"Client of {number}"}, token=world.admin)
    body: dict[str, Any] = {"number": number, "name": f"Case {number}", "client_id": client["client_id"]}
    if problem_code is not None:
        body["problem_code"] = problem_code
    result: dict[str, Any] = world.call("POST", "/matters", body, token=world.admin)
    return result


def case_block(world: ContractorWorld, matter_id: str) -> dict[str, Any]:
    """The case's contractor block (budget, allocation log, assignments) as staff read it."""
    result: dict[str, Any] = world.call("GET", f"/contractor/cases/{matter_id}", token=world.staff)
    return result


def firm_items(memory_table: Any, firm_id: str) -> list[dict[str, Any]]:
    """Every stored item of the firm, in key order: compare before and after to prove nothing changed."""
    return sorted(
        (item for item in memory_table.all_items() if item.get("firm_id") == firm_id),
        key=lambda item: (item["PK"], item["SK"]),
    )
