"""The contractor settings page: DBA on invoices, invoice action notifications, the approved invoice PDF,
allocation defaults, add-ons and the pay period schedule."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from chalicelib.domain.contractors.contractors import (
    AssignmentAttribute,
    RecommendationFilters,
    RecommendedListConfig,
)
from chalicelib.domain.contractors.pay_periods import PayPeriodInterval, PayPeriodSchedule
from chalicelib.domain.contractors.settings import (
    AnnualAllocationSettings,
    ApprovedInvoicePdfSettings,
    ContractorAddOns,
    ContractorSettings,
    InvoiceActionNotifications,
    NotifiedAction,
    approved_pdf_recipients,
    invoice_action_recipients,
    name_on_invoice,
    render_pdf_email,
    validate_settings,
)
from chalicelib.domain.errors import InvalidInput

FIRM = "f1"
NOTIFYING = ContractorSettings(
    FIRM,
    invoice_action_notifications=InvoiceActionNotifications(
        True, ("ap@firm.example", "AP@firm.example", "gc@firm.example")
    ),
    approved_invoice_pdf=ApprovedInvoicePdfSettings(True, ("ap@firm.example",)),
)


def test_the_default_page_is_valid_and_quiet() -> None:
    settings = ContractorSettings(FIRM)
    validate_settings(settings)
    assert (
        invoice_action_recipients(
            settings, NotifiedAction.SUBMITTED, contractor_email="a@b.example", by_contractor=False
        )
        == ()
    )
    assert approved_pdf_recipients(settings, contractor_email="a@b.example") == ()


def test_invoice_action_notifications_go_to_the_list_and_to_the_contractor_when_someone_else_acted() -> None:
    staff_acted = invoice_action_recipients(
        NOTIFYING, NotifiedAction.BT_DISPUTED, contractor_email="alice@avery.law", by_contractor=False
    )
    assert staff_acted == ("ap@firm.example", "gc@firm.example", "alice@avery.law")
    contractor_acted = invoice_action_recipients(
        NOTIFYING, NotifiedAction.SUBMITTED, contractor_email="alice@avery.law", by_contractor=True
    )
    assert contractor_acted == ("ap@firm.example", "gc@firm.example")


def test_the_contractor_can_be_left_out_of_notifications() -> None:
    quiet = replace(
        NOTIFYING,
        invoice_action_notifications=replace(NOTIFYING.invoice_action_notifications, notify_contractor=False),
    )
    assert "alice@avery.law" not in invoice_action_recipients(
        quiet, NotifiedAction.APPROVED, contractor_email="alice@avery.law", by_contractor=False
    )


def test_the_approved_invoice_pdf_goes_to_its_list_and_the_contractor() -> None:
    assert approved_pdf_recipients(NOTIFYING, contractor_email="alice@avery.law") == (
        "ap@firm.example",
        "alice@avery.law",
    )


def test_the_pdf_email_fills_known_placeholders_only() -> None:
    subject, body = render_pdf_email(
        NOTIFYING,
        {
            "invoice_number": "INV-7",
            "contractor_name": "Avery Legal",
            "total": "43.50",
            "approved_on": "2026-03-09",
        },
    )
    assert subject == "Invoice INV-7 approved for payment"
    assert body == "Invoice INV-7 from Avery Legal for 43.50 was approved on 2026-03-09."


def test_the_name_on_invoices_is_the_dba_name_when_the_firm_chooses_it() -> None:
    on = ContractorSettings(FIRM, replace_name_with_dba_on_invoices=True)
    assert name_on_invoice(on, "Alice Avery", "Avery Legal") == "Avery Legal"
    assert name_on_invoice(on, "Alice Avery", "  ") == "Alice Avery"
    assert name_on_invoice(ContractorSettings(FIRM), "Alice Avery", "Avery Legal") == "Alice Avery"


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        (
            ContractorSettings(FIRM, invoice_action_notifications=InvoiceActionNotifications(True, ())),
            "invoice_action_notifications.recipients",
        ),
        (
            ContractorSettings(
                FIRM, invoice_action_notifications=InvoiceActionNotifications(True, ("not-an-email",))
            ),
            "invoice_action_notifications.recipients",
        ),
        (
            ContractorSettings(
                FIRM, approved_invoice_pdf=ApprovedInvoicePdfSettings(True, (), notify_contractor=False)
            ),
            "approved_invoice_pdf.recipients",
        ),
        (
            ContractorSettings(FIRM, approved_invoice_pdf=ApprovedInvoicePdfSettings(email_subject=" ")),
            "approved_invoice_pdf.email_subject",
        ),
        (
            ContractorSettings(
                FIRM, approved_invoice_pdf=ApprovedInvoicePdfSettings(email_body="{secret_key}")
            ),
            "approved_invoice_pdf",
        ),
        (
            ContractorSettings(
                FIRM, annual_allocations=AnnualAllocationSettings(user_allocation=Decimal("-1"))
            ),
            "annual_allocations.user_allocation",
        ),
        (
            ContractorSettings(FIRM, annual_allocations=AnnualAllocationSettings(fiscal_year_start_month=13)),
            "annual_allocations.fiscal_year_start_month",
        ),
        (
            ContractorSettings(FIRM, add_ons=ContractorAddOns(organization_allocations=True)),
            "add_ons.organization_allocations",
        ),
        (
            ContractorSettings(
                FIRM, pay_period_schedule=PayPeriodSchedule(PayPeriodInterval.TWICE_MONTHLY, date(2026, 1, 5))
            ),
            "pay_period_schedule.start_date",
        ),
        (
            ContractorSettings(
                FIRM,
                recommended_list=RecommendedListConfig(
                    RecommendationFilters(assignment_types=frozenset({"paralegal"}))
                ),
            ),
            "recommended_list.custom_default_filters.assignment_types",
        ),
        (
            ContractorSettings(
                FIRM,
                recommended_list=RecommendedListConfig(RecommendationFilters(name_contains="casey")),
            ),
            "recommended_list.custom_default_filters.name",
        ),
    ],
)
def test_a_bad_setting_is_refused_naming_its_field(settings: ContractorSettings, field: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        validate_settings(settings)
    assert field in [e.field for e in refused.value.field_errors]


def test_custom_default_filters_are_checked_against_the_lookups_when_the_service_names_their_values() -> None:
    expert_filters = RecommendedListConfig(
        RecommendationFilters(
            values={AssignmentAttribute.SUBJECT_MATTER_EXPERTISE: frozenset({"toxicology"})},
        )
    )
    settings = ContractorSettings(FIRM, recommended_list=expert_filters)
    validate_settings(settings)  # the shape alone is fine
    allowed = {AssignmentAttribute.SUBJECT_MATTER_EXPERTISE: frozenset({"forensic_accounting"})}
    with pytest.raises(InvalidInput) as refused:
        validate_settings(settings, allowed_values=allowed)
    assert [e.field for e in refused.value.field_errors] == [
        "recommended_list.custom_default_filters.subject_matter_expertise"
    ]
