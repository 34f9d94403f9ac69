"""The devstack's contractor module demo: settings, lookups, a catalog, Casey Contractor with fee structures,
an organization, a work order on a demo case with PSRs, a few billing transactions and one submitted
invoice, so the console's contractor screens and the invoice workflow have something to show.

Everything goes through ``ContractorService`` as the demo people (Fiona Admin sets the module up, Drew
Staff writes the work order, Casey logs and invoices), so the demo data is exactly what the API makes.
Run once, when the demo firm is first seeded; a firm whose contractor settings were already saved is
left alone.
"""

from __future__ import annotations

import logging
from datetime import date
from decimal import Decimal
from typing import Any

logger = logging.getLogger(__name__)


def seed_demo_contractors(container: Any, firm_id: str, people: dict[str, str]) -> bool:
    """Seed the contractor module of ``firm_id``; ``people`` maps the demo roles (admin, staff,
    contractor) to user ids. Returns whether it seeded."""
    from chalicelib.domain.contractors.contractors import (
        CONTRACT_ATTORNEY,
        INTERPRETER,
        INVESTIGATOR,
        TRANSLATOR,
        ContractorAssignment,
        ContractorKind,
        ContractorRef,
    )
    from chalicelib.domain.contractors.formula import FormulaDefinition
    from chalicelib.domain.contractors.lookups import BtType, LookupKind
    from chalicelib.domain.contractors.pay_periods import PayPeriodInterval, PayPeriodSchedule
    from chalicelib.domain.contractors.permissions import InvoiceAction
    from chalicelib.domain.contractors.settings import ContractorAddOns, InvoiceActionNotifications
    from chalicelib.domain.contractors.work_orders import PsrRequest
    from chalicelib.domain.identity import Principal, Role

    service = container.contractors

    def principal(user_id: str, role: Role) -> Principal:
        return Principal(firm_id, user_id, "user", frozenset({role}))

    admin = principal(people["admin"], Role.FIRM_ADMIN)
    staff = principal(people["staff"], Role.CONTRACTOR_STAFF)
    casey = principal(people["contractor"], Role.CONTRACTOR)
    settings = service.settings(admin)
    if settings.version:
        return False
    staff_email = container.roster.member(firm_id, people["staff"]).email
    today = container.clock.now().date()
    service.save_settings(
        admin,
        settings.version,
        {
            "replace_name_with_dba_on_invoices": True,
            "add_ons": ContractorAddOns(
                organizations=True, allocations=True, matter_allocations=True, formula_rates=True
            ),
            "invoice_action_notifications": InvoiceActionNotifications(True, (staff_email,), True),
            "pay_period_schedule": PayPeriodSchedule(PayPeriodInterval.TWICE_MONTHLY, date(today.year, 1, 1)),
        },
    )
    for kind, key, label, minutes in (
        (LookupKind.FEE_UNIT_TYPE, "page", "Page", None),
        (LookupKind.FEE_UNIT_TYPE, "mile", "Mile", None),
        (LookupKind.PRODUCT_SERVICE_CATEGORY, "legal", "Legal work", None),
        (LookupKind.PRODUCT_SERVICE_CATEGORY, "language", "Language services", None),
        (LookupKind.PRODUCT_SERVICE_CATEGORY, "travel", "Travel", None),
        (LookupKind.EXPENSE_REIMBURSEMENT_TYPE, "parking", "Parking", None),
        (LookupKind.EXPENSE_REIMBURSEMENT_TYPE, "court_fees", "Court fees", None),
        (LookupKind.PAYMENT_METHOD, "check", "Check", None),
        (LookupKind.PAYMENT_METHOD, "ach", "ACH transfer", None),
        (LookupKind.INVESTIGATION_TYPE, "surveillance", "Surveillance", None),
        (LookupKind.INVESTIGATION_TYPE, "background", "Background check", None),
        (LookupKind.SUBJECT_MATTER_EXPERTISE, "forensic_accounting", "Forensic accounting", None),
        (LookupKind.LEGAL_PROBLEM_CODE, "housing", "Housing", None),
    ):
        version = service.lookup(admin, kind)[1]
        service.add_lookup_value(admin, kind, version, key=key, label=label, minutes_per_unit=minutes)

    def product(name: str, **fields: Any) -> Any:
        defaults: dict[str, Any] = {
            "default_rate": None,
            "unit_type": None,
            "category": None,
            "override_fee_structures": False,
            "assignment_type": None,
            "formula": None,
        }
        return service.create_product(admin, name=name, **{**defaults, **fields})

    research = product("Legal research", default_rate=Decimal("150.00"), unit_type="hour", category="legal")
    translation = product(
        "Document translation", default_rate=Decimal("12.50"), unit_type="page", category="language"
    )
    mileage = product("Mileage", default_rate=Decimal("0.67"), unit_type="mile", category="travel")
    certified = product(
        "Certified translation by words",
        category="language",
        formula=FormulaDefinition(
            "max(words * 0.12, 25) + pages * 2",
            primary_name="words",
            secondary_name="pages",
            primary_label="Words",
            secondary_label="Pages",
        ),
    )
    casey_record = service.create_contractor(
        admin,
        kind=ContractorKind.USER,
        user_id=people["contractor"],
        name="Casey Contractor",
        email=None,
        doing_business_as="Casey Legal & Investigations LLC",
        assignments=(
            ContractorAssignment(CONTRACT_ATTORNEY, ("housing", "family")),
            ContractorAssignment(INVESTIGATOR, ("surveillance",)),
        ),
    )
    # Interpreters and translators for the demo case's Spanish-speaking client, and one who would not do:
    # the recommended list opens filtered by the case, and "Show everyone" brings Lotus back.
    service.create_contractor(
        admin,
        kind=ContractorKind.ORGANIZATION,
        user_id=None,
        name="Northside Interpreters Co-op",
        email="billing@northside-interpreters.example",
        doing_business_as="",
        assignments=(
            ContractorAssignment(INTERPRETER, ("Spanish", "Vietnamese")),
            ContractorAssignment(TRANSLATOR, ("Spanish",)),
        ),
    )
    service.create_contractor(
        admin,
        kind=ContractorKind.ORGANIZATION,
        user_id=None,
        name="Lotus Translation",
        email="office@lotus-translation.example",
        doing_business_as="",
        assignments=(ContractorAssignment(TRANSLATOR, ("Vietnamese",)),),
    )
    who = ContractorRef(ContractorKind.USER, casey_record.contractor_id)
    service.set_fee_structure(admin, who, research.product_id, Decimal("140.00"), 0)
    service.set_fee_structure(admin, who, translation.product_id, Decimal("11.00"), 0)
    matter_id = _demo_matter(container, admin)
    service.adjust_allocation(admin, matter_id, Decimal("5000.00"), "Legal aid grant for contractor work", 0)
    # After the manual allocation, so the problem code no longer moves it: the case's data is what the
    # recommended contractors inherit their default filters from.
    matter = container.matters.matter(admin, matter_id)
    container.matters.update_matter(
        admin, matter_id, matter.version, problem_code="housing", languages=("Spanish",)
    )
    work_order = service.create_work_order(
        staff,
        assignee=who,
        title="Research and translation for the hearing",
        description="Research the tenancy statute; translate the landlord's notices.",
        matter_ids=[matter_id],
        start_date=today,
        end_date=None,
        items=[
            PsrRequest(research.product_id),
            PsrRequest(translation.product_id),
            PsrRequest(mileage.product_id),
            PsrRequest(certified.product_id),
        ],
        expense_types=["parking"],
        template_id=None,
    )
    logged = []
    for bt_type, fields in (
        (
            BtType.TIMESLIP,
            {"psr_id": "psr-1", "minutes": 90, "description": "Researched the tenancy statute"},
        ),
        (BtType.PRODUCT_SERVICE, {"psr_id": "psr-2", "units": Decimal("12")}),
        (BtType.PRODUCT_SERVICE, {"psr_id": "psr-3", "units": Decimal("38")}),
        (BtType.PRODUCT_SERVICE, {"psr_id": "psr-4", "formula_inputs": (Decimal("1500"), Decimal("3"))}),
        (BtType.EXPENSE_REIMBURSEMENT, {"amount": Decimal("18.00"), "expense_type": "parking"}),
    ):
        request: dict[str, Any] = {
            "psr_id": None,
            "units": None,
            "formula_inputs": None,
            "minutes": None,
            "amount": None,
            "expense_type": None,
            "receipt_ids": (),
            "description": "",
            "matter_id": None,
            **fields,
        }
        logged.append(
            service.log_bt(casey, work_order.work_order_id, bt_type=bt_type, work_date=today, **request)
        )
    invoice = service.create_invoice(
        casey,
        contractor=who,
        bt_ids=[bt.bt_id for bt in logged[:4]],
        invoice_date=today,
        due_date=None,
        note="First invoice for the hearing preparation.",
    )
    service.act(casey, invoice.invoice.invoice_id, InvoiceAction.SUBMIT, invoice.invoice.version, {})
    logger.info(
        "demo contractor module seeded: work order %s, invoice %s",
        work_order.work_order_id,
        invoice.invoice.invoice_id,
    )
    return True


def _demo_matter(container: Any, admin: Any) -> str:
    """A demo case: the first open matter the firm has (synced from the simulated Clio), or a new one."""
    page = container.matters.search_matters(
        admin, number=None, name=None, client_id=None, include_closed=False, cursor=None, limit=10
    )
    if page.items:
        return str(page.items[0].matter_id)
    client = container.matters.create_client(admin, name="Riverside Tenants Association")
    matter = container.matters.create_matter(
        admin, number="LA-2026-0042", name="Riverside tenants: eviction defence", client_id=client.client_id
    )
    return str(matter.matter_id)
