"""The approved invoice as a PDF (reportlab): firm logo, the payee's name (the doing-business-as name
when the firm's settings say so), the invoice's lines and its totals by category.

reportlab's built-in fonts (Helvetica) render typographic punctuation, so contractor and matter names
print as typed. Amounts are exact decimals formatted here, never floats.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import LETTER
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import inch
from reportlab.lib.utils import ImageReader
from reportlab.platypus import Image, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from chalicelib.domain.contractors.invoices import Invoice, invoice_totals, payee_name
from chalicelib.domain.contractors.settings import ContractorSettings
from chalicelib.domain.contractors.transactions import BillingTransaction

_NAVY = colors.HexColor("#1f3a5f")
_RULE = colors.HexColor("#dfe3ea")


def money(amount: Decimal) -> str:
    """$1,234.50: two decimals, thousands separated, exact."""
    return f"${amount.quantize(Decimal('0.01')):,}"


def _day(value: date | None) -> str:
    return value.strftime("%d %b %Y") if value else ""


def render_invoice_pdf(
    invoice: Invoice,
    bts: Sequence[BillingTransaction],
    settings: ContractorSettings,
    *,
    firm_name: str,
    logo_png: bytes | None = None,
    matter_labels: Mapping[str, str] | None = None,
) -> bytes:
    """The PDF of ``invoice`` with its ``bts`` (the lines that stayed on it: approval returned the
    disputed and denied ones to the pool, and the caller passes the rest)."""
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=LETTER,
        leftMargin=0.75 * inch,
        rightMargin=0.75 * inch,
        topMargin=0.7 * inch,
        bottomMargin=0.7 * inch,
        title=f"Invoice {invoice.invoice_id}",
        author=firm_name,
        subject=f"Approved invoice {invoice.invoice_id}",
    )
    styles = getSampleStyleSheet()
    body = styles["BodyText"]
    small = ParagraphStyle("small", parent=body, fontSize=8, leading=10)
    right = ParagraphStyle("right", parent=body, alignment=TA_RIGHT)
    heading = ParagraphStyle("heading", parent=styles["Heading1"], textColor=_NAVY, spaceAfter=4)
    labels = dict(matter_labels or {})
    story: list[object] = []

    header_left: list[object] = []
    if logo_png:
        reader = ImageReader(io.BytesIO(logo_png))
        width, height = reader.getSize()
        scale = min(1.6 * inch / width, 0.8 * inch / height)
        header_left.append(Image(io.BytesIO(logo_png), width=width * scale, height=height * scale))
    header_left.append(Paragraph(f"<b>{escape(firm_name)}</b>", body))
    header_right = [
        Paragraph("<b>INVOICE</b>", ParagraphStyle("title", parent=right, fontSize=18, leading=22)),
        Paragraph(f"Invoice {escape(invoice.invoice_id)}", right),
        Paragraph(f"Status: {escape(invoice.status.value.replace('_', ' '))}", right),
    ]
    header = Table([[header_left, header_right]], colWidths=[3.5 * inch, 3.5 * inch])
    header.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP")]))
    story += [header, Spacer(1, 0.25 * inch)]

    payee = payee_name(invoice, settings)
    facts = [
        ["Payee", payee],
        ["Invoice date", _day(invoice.invoice_date)],
        ["Due date", _day(invoice.due_date)],
        ["Approved", f"{_day(invoice.approved_at.date()) if invoice.approved_at else ''}"],
    ]
    if invoice.pay_period is not None:
        facts.append(["Pay period", f"{_day(invoice.pay_period.start)} to {_day(invoice.pay_period.end)}"])
    facts_table = Table(
        [[Paragraph(f"<b>{escape(k)}</b>", body), Paragraph(escape(v), body)] for k, v in facts],
        colWidths=[1.4 * inch, 5.6 * inch],
    )
    facts_table.setStyle(
        TableStyle([("BOTTOMPADDING", (0, 0), (-1, -1), 1), ("TOPPADDING", (0, 0), (-1, -1), 1)])
    )
    story += [Paragraph("Payee", heading), facts_table, Spacer(1, 0.2 * inch)]

    rows: list[list[object]] = [["Date", "Description", "Matter", "Category", "Qty", "Rate", "Amount"]]
    for bt in sorted(bts, key=lambda b: (b.work_date, b.bt_id)):
        quantity = ""
        if bt.minutes is not None:
            quantity = f"{Decimal(bt.minutes) / 60:.2f} h"
        elif bt.units is not None:
            quantity = f"{bt.units.normalize():f}"
        rows.append(
            [
                _day(bt.work_date),
                Paragraph(escape(bt.description or bt.bt_type.value.replace("_", " ")), small),
                Paragraph(escape(labels.get(bt.matter_id or "", bt.matter_id or "")), small),
                Paragraph(escape(bt.category), small),
                quantity,
                money(bt.rate) if bt.rate is not None else "",
                money(bt.amount),
            ]
        )
    lines = Table(
        rows,
        colWidths=[0.8 * inch, 2.2 * inch, 1.1 * inch, 0.9 * inch, 0.6 * inch, 0.7 * inch, 0.7 * inch],
        repeatRows=1,
    )
    lines.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, 0), "Helvetica-Bold", 8),
                ("FONT", (0, 1), (-1, -1), "Helvetica", 8),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eef1f6")),
                ("LINEBELOW", (0, 0), (-1, -1), 0.5, _RULE),
                ("ALIGN", (4, 0), (-1, -1), "RIGHT"),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    story += [Paragraph("Lines", heading), lines, Spacer(1, 0.2 * inch)]

    totals = invoice_totals(bts)
    total_rows: list[list[object]] = [["Category", "Lines", "Amount"]]
    total_rows += [[c.category, str(c.count), money(c.amount)] for c in totals.by_category]
    total_rows.append(["Total", str(totals.count), money(totals.total)])
    totals_table = Table(total_rows, colWidths=[3.0 * inch, 1.0 * inch, 1.4 * inch], hAlign="RIGHT")
    totals_table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, 0), "Helvetica-Bold", 9),
                ("FONT", (0, -1), (-1, -1), "Helvetica-Bold", 10),
                ("LINEABOVE", (0, -1), (-1, -1), 1, _NAVY),
                ("LINEBELOW", (0, 0), (-1, 0), 0.5, _RULE),
                ("ALIGN", (1, 0), (-1, -1), "RIGHT"),
            ]
        )
    )
    story += [Paragraph("Totals by category", heading), totals_table]
    document.build(story)
    return buffer.getvalue()
