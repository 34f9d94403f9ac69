"""The firm's global contractor settings (the seed's "Contractor Settings" page) and who gets told what.

Public API:

- ``ContractorAddOns``: the opt-in add-ons (organizations, allocations, matter allocations, formula rates).
- ``InvoiceActionNotifications``: the invoice action email list and whether the contractor is told too.
- ``ApprovedInvoicePdfSettings``: the approved-invoice PDF email (list, subject, body, logo).
- ``AnnualAllocationSettings``: default annual allocations for users and organizations, fiscal year start.
- ``ContractorSettings``: the whole page, one per firm; ``recommended_list`` holds the recommended-contractors
  list's custom default filters (``None``: inherit them from each case).
- ``NotifiedAction``: the invoice actions that send notifications.
- ``validate_settings(settings, *, allowed_values=None) -> None``
- ``invoice_action_recipients(settings, action, *, contractor_email, by_contractor) -> tuple[str, ...]``
- ``approved_pdf_recipients(settings, *, contractor_email) -> tuple[str, ...]``
- ``render_pdf_email(settings, values) -> tuple[str, str]``: subject and body with ``{placeholders}`` filled.
- ``name_on_invoice(settings, name, doing_business_as) -> str``
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from chalicelib.domain.contractors.contractors import (
    DEFAULT_ASSIGNMENT_TYPES,
    AssignmentAttribute,
    RecommendedListConfig,
    filter_problems,
)
from chalicelib.domain.contractors.money import parse_amount
from chalicelib.domain.contractors.pay_periods import PayPeriodSchedule, validate_schedule
from chalicelib.domain.errors import DomainError, FieldError, InvalidInput

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PLACEHOLDER = re.compile(r"{(\w+)}")
MAX_RECIPIENTS = 50
MAX_SUBJECT = 200
MAX_BODY = 10_000

# What the approved-invoice email may mention. Unknown placeholders render empty: admins write these.
PDF_PLACEHOLDERS = frozenset({"invoice_number", "contractor_name", "total", "approved_on", "firm_name"})


class NotifiedAction(StrEnum):
    """The invoice actions the seed sends notifications for."""

    SUBMITTED = "submitted"
    RETURNED_TO_DRAFT = "returned_to_draft"
    APPROVED = "approved"
    NOTE_ADDED = "note_added"
    BT_DENIED = "bt_denied"
    BT_DISPUTED = "bt_disputed"


@dataclass(frozen=True)
class ContractorAddOns:
    """The add-ons a firm opts into (the seed's "Contractor Add Ons")."""

    organizations: bool = False
    allocations: bool = False
    organization_allocations: bool = False
    matter_allocations: bool = False
    formula_rates: bool = False


@dataclass(frozen=True)
class InvoiceActionNotifications:
    """Email ``recipients`` (and the contractor, when ``notify_contractor``) about invoice actions."""

    enabled: bool = False
    recipients: tuple[str, ...] = ()
    notify_contractor: bool = True


@dataclass(frozen=True)
class ApprovedInvoicePdfSettings:
    """Email the approved invoice as a PDF; the logo is a stored document's key."""

    enabled: bool = False
    recipients: tuple[str, ...] = ()
    notify_contractor: bool = True
    email_subject: str = "Invoice {invoice_number} approved for payment"
    email_body: str = (
        "Invoice {invoice_number} from {contractor_name} for {total} was approved on {approved_on}."
    )
    logo_document_key: str | None = None


@dataclass(frozen=True)
class AnnualAllocationSettings:
    """Default annual allocations ("Contractor Annual Allocation Settings"); ``None`` means no limit.

    Per-contractor overrides come from the Contractor Allocation Structure block (``allocations``)."""

    user_allocation: Decimal | None = None
    organization_allocation: Decimal | None = None
    fiscal_year_start_month: int = 1


@dataclass(frozen=True)
class ContractorSettings:
    """The firm's contractor settings page."""

    firm_id: str
    replace_name_with_dba_on_invoices: bool = False
    invoice_action_notifications: InvoiceActionNotifications = field(
        default_factory=InvoiceActionNotifications
    )
    approved_invoice_pdf: ApprovedInvoicePdfSettings = field(default_factory=ApprovedInvoicePdfSettings)
    annual_allocations: AnnualAllocationSettings = field(default_factory=AnnualAllocationSettings)
    add_ons: ContractorAddOns = field(default_factory=ContractorAddOns)
    pay_period_schedule: PayPeriodSchedule | None = None
    recommended_list: RecommendedListConfig = field(default_factory=RecommendedListConfig)
    version: int = 0


def validate_settings(
    settings: ContractorSettings,
    *,
    allowed_values: Mapping[AssignmentAttribute, frozenset[str]] | None = None,
) -> None:
    """Every problem on the page at once, by field. ``allowed_values`` are the values of the assignment
    attributes that have a lookup (as for contractors); without them only the shape of the recommended
    list's custom default filters is checked."""
    problems: list[FieldError] = []
    custom = settings.recommended_list.custom_default_filters
    if custom is not None:
        problems.extend(
            filter_problems(
                custom,
                {t.key: t for t in DEFAULT_ASSIGNMENT_TYPES},
                allowed_values or {},
                where="recommended_list.custom_default_filters.",
            )
        )
        if custom.name_contains:
            problems.append(
                FieldError("recommended_list.custom_default_filters.name", "a default filter names no one")
            )
    _check_recipients(
        "invoice_action_notifications.recipients",
        settings.invoice_action_notifications.recipients,
        settings.invoice_action_notifications.enabled,
        problems,
    )
    pdf = settings.approved_invoice_pdf
    _check_recipients("approved_invoice_pdf.recipients", pdf.recipients, False, problems)
    if pdf.enabled and not pdf.recipients and not pdf.notify_contractor:
        problems.append(
            FieldError("approved_invoice_pdf.recipients", "nobody would receive the PDF: add a recipient")
        )
    if not pdf.email_subject.strip() or len(pdf.email_subject) > MAX_SUBJECT:
        problems.append(FieldError("approved_invoice_pdf.email_subject", f"1 to {MAX_SUBJECT} characters"))
    if len(pdf.email_body) > MAX_BODY:
        problems.append(FieldError("approved_invoice_pdf.email_body", f"at most {MAX_BODY} characters"))
    for name in sorted(set(_PLACEHOLDER.findall(pdf.email_subject + pdf.email_body)) - PDF_PLACEHOLDERS):
        problems.append(
            FieldError(
                "approved_invoice_pdf",
                f"'{{{name}}}' is not a placeholder; use {', '.join(sorted(PDF_PLACEHOLDERS))}",
            )
        )
    allocations = settings.annual_allocations
    for name, amount in (
        ("user_allocation", allocations.user_allocation),
        ("organization_allocation", allocations.organization_allocation),
    ):
        if amount is not None:
            try:
                parse_amount(amount, f"annual_allocations.{name}")
            except DomainError as error:
                problems.extend(error.field_errors)
    if not 1 <= allocations.fiscal_year_start_month <= 12:
        problems.append(FieldError("annual_allocations.fiscal_year_start_month", "a month from 1 to 12"))
    if settings.add_ons.organization_allocations and not settings.add_ons.organizations:
        problems.append(
            FieldError(
                "add_ons.organization_allocations", "organization allocations need contractor organizations"
            )
        )
    if settings.pay_period_schedule is not None:
        try:
            validate_schedule(settings.pay_period_schedule)
        except DomainError as error:
            problems.extend(
                FieldError(f"pay_period_schedule.{e.field}", e.message) for e in error.field_errors
            )
    if problems:
        raise InvalidInput("the contractor settings are not valid", field_errors=problems)


def invoice_action_recipients(
    settings: ContractorSettings,
    action: NotifiedAction,
    *,
    contractor_email: str | None,
    by_contractor: bool,
) -> tuple[str, ...]:
    """Who is emailed about an invoice action: the list, plus the contractor when someone else acted."""
    notifications = settings.invoice_action_notifications
    if not notifications.enabled:
        return ()
    recipients = list(notifications.recipients)
    # "Along with the contractor as appropriate": a contractor is not told what they just did themselves.
    if notifications.notify_contractor and contractor_email and not by_contractor:
        recipients.append(contractor_email)
    return _unique(recipients)


def approved_pdf_recipients(settings: ContractorSettings, *, contractor_email: str | None) -> tuple[str, ...]:
    """Who receives the approved invoice PDF (nobody when the setting is off)."""
    pdf = settings.approved_invoice_pdf
    if not pdf.enabled:
        return ()
    recipients = list(pdf.recipients)
    if pdf.notify_contractor and contractor_email:
        recipients.append(contractor_email)
    return _unique(recipients)


def render_pdf_email(settings: ContractorSettings, values: dict[str, str]) -> tuple[str, str]:
    """The approved-invoice email's subject and body, placeholders filled; nothing but names is looked up."""
    pdf = settings.approved_invoice_pdf

    def fill(template: str) -> str:
        return _PLACEHOLDER.sub(lambda match: values.get(match.group(1), ""), template)

    return fill(pdf.email_subject).strip(), fill(pdf.email_body)


def name_on_invoice(settings: ContractorSettings, name: str, doing_business_as: str) -> str:
    """The contractor's name as an invoice shows it: the DBA name when the firm says so and one is set."""
    if settings.replace_name_with_dba_on_invoices and doing_business_as.strip():
        return doing_business_as.strip()
    return name


def _check_recipients(
    name: str, recipients: tuple[str, ...], required: bool, problems: list[FieldError]
) -> None:
    if required and not recipients:
        problems.append(FieldError(name, "notifications are on: add at least one recipient"))
    if len(recipients) > MAX_RECIPIENTS:
        problems.append(FieldError(name, f"at most {MAX_RECIPIENTS} recipients"))
    for address in recipients:
        if not _EMAIL.match(address):
            problems.append(FieldError(name, f"'{address}' is not an email address"))


def _unique(addresses: list[str]) -> tuple[str, ...]:
    seen: dict[str, str] = {}
    for address in addresses:
        seen.setdefault(address.lower(), address)
    return tuple(seen.values())
