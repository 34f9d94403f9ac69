"""Billing file exports: the CSV layouts and LEDES 1998B, checked against an independent LEDES checker."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.domain.exports import (
    LAYOUTS,
    ExportError,
    ExportLine,
    ExportSummary,
    UnsortedLines,
    export_sort_key,
    write_abacus,
    write_generic_csv,
    write_ledes,
    write_pclaw,
    write_tabs3,
    write_timeslips,
)
from chalicelib.domain.exports.lines import fee_amount, fold_text, hours_of
from chalicelib.domain.utbms import ACTIVITY_CODES, TASK_CODES
from tests.support.ledes_check import FIELD_NAMES, check_ledes

D = Decimal
PERIOD_START = date(2026, 3, 1)
PERIOD_END = date(2026, 3, 31)
FIRM_TAX_ID = "24-6437381"


def make_line(**overrides: Any) -> ExportLine:
    values: dict[str, Any] = {
        "entry_id": "e-0001",
        "day": date(2026, 3, 2),
        "client_number": "1001",
        "client_name": "Acme Corporation",
        "matter_number": "1001-02",
        "matter_name": "Acme v. Roadrunner",
        "timekeeper_id": "ADA",
        "timekeeper_name": "Lovelace, Ada",
        "timekeeper_classification": "PT",
        "billed_seconds": 1800,
        "rate": D("400.00"),
        "task_code": "L120",
        "activity_code": "A106",
        "activity_name": "Email",
        "description": "Email to client re: strategy",
        "billable": True,
    }
    values.update(overrides)
    return ExportLine(**values)


def invoice_number_for(client: str, matter: str) -> str:
    return f"INV-{matter}"


LEDES_OPTIONS: dict[str, Any] = {
    "law_firm_id": FIRM_TAX_ID,
    "invoice_date": date(2026, 4, 2),
    "billing_start": PERIOD_START,
    "billing_end": PERIOD_END,
    "invoice_number_for": invoice_number_for,
    "description": "Professional services, March 2026",
}


def ledes(lines: list[ExportLine], **overrides: Any) -> tuple[str, ExportSummary]:
    out = io.StringIO(newline="")
    summary = write_ledes(lines, out, **{**LEDES_OPTIONS, **overrides})
    return out.getvalue(), summary


def run(
    writer: Callable[..., ExportSummary], lines: list[ExportLine], **options: Any
) -> tuple[str, ExportSummary]:
    out = io.StringIO(newline="")
    summary = writer(lines, out, **options)
    return out.getvalue(), summary


def rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def ledes_records(text: str) -> list[dict[str, str]]:
    lines = text.split("\r\n")
    assert lines[-1] == ""
    return [dict(zip(FIELD_NAMES, line[:-2].split("|"), strict=True)) for line in lines[2:-1]]


def realistic_sample() -> list[ExportLine]:
    """Three clients, five matters, four timekeepers, a discount, no-charge time, awkward text."""
    raw = [
        make_line(entry_id="e-01", description="Review complaint; outline defenses", billed_seconds=5400),
        make_line(
            entry_id="e-02",
            day=date(2026, 3, 3),
            timekeeper_id="GH",
            timekeeper_name="Hopper, Grace",
            timekeeper_classification="AS",
            rate=D("275.00"),
            task_code="L210",
            activity_code="A103",
            activity_name="Draft",
            description="Draft answer | affirmative defenses [section 3]\nsecond paragraph",
            billed_seconds=9360,
        ),
        make_line(
            entry_id="e-03",
            day=date(2026, 3, 3),
            timekeeper_id="PAR",
            timekeeper_name="Nu\u00f1ez, Mar\u00eda",
            timekeeper_classification="LA",
            rate=D("150.00"),
            task_code="L140",
            activity_code="A110",
            activity_name="File management",
            description="Organise exhibits \u2013 \u00a7 4 \u201cA\u201d through \u201cF\u201d",
            billed_seconds=2160,
            adjustment=D("-10.00"),
        ),
        make_line(
            entry_id="e-04",
            day=date(2026, 3, 9),
            billable=False,
            description="Internal conflicts check",
            task_code=None,
            activity_code=None,
            activity_name="Administration",
            billed_seconds=720,
        ),
        make_line(
            entry_id="e-05",
            matter_number="1001-07",
            matter_name="Acme lease",
            day=date(2026, 3, 4),
            task_code="L110",
            activity_code="A102",
            description="Research on commercial lease renewal options",
            billed_seconds=7200,
            client_matter_id="ACME-LGL-2291",
        ),
        make_line(
            entry_id="e-06",
            client_number="2044",
            client_name="Globex",
            matter_number="2044-01",
            matter_name="Globex acquisition",
            timekeeper_id="OC1",
            timekeeper_name="Turing, Alan",
            timekeeper_classification="OC",
            rate=D("525.00"),
            day=date(2026, 3, 5),
            task_code=None,
            activity_code="A104",
            description="Review disclosure schedules",
            billed_seconds=10800,
            adjustment=D("-262.50"),
        ),
        make_line(
            entry_id="e-07",
            client_number="2044",
            client_name="Globex",
            matter_number="2044-01",
            matter_name="Globex acquisition",
            timekeeper_id="OT9",
            timekeeper_name="Babbage, Charles",
            timekeeper_classification="OT",
            rate=D("95.00"),
            day=date(2026, 3, 31),
            task_code=None,
            activity_code=None,
            description="",
            activity_name="Data room upload",
            billed_seconds=60,
        ),
        make_line(
            entry_id="e-08",
            client_number="3100",
            client_name="Initech",
            matter_number="3100-11",
            matter_name="Initech v. Lumbergh",
            day=date(2026, 3, 1),
            task_code="L330",
            activity_code="A109",
            description="Attend deposition of B. Lumbergh",
            billed_seconds=23400,
        ),
        make_line(
            entry_id="e-09",
            client_number="3100",
            client_name="Initech",
            matter_number="3100-11",
            matter_name="Initech v. Lumbergh",
            day=date(2026, 3, 1),
            timekeeper_id="GH",
            timekeeper_name="Hopper, Grace",
            timekeeper_classification="AS",
            rate=D("275.00"),
            task_code="L330",
            activity_code="A101",
            description="Prepare deposition outline",
            billed_seconds=10800,
        ),
        make_line(
            entry_id="e-10",
            client_number="3100",
            client_name="Initech",
            matter_number="3100-12",
            matter_name="Initech employment advice",
            day=date(2026, 3, 20),
            task_code=None,
            activity_code="A106",
            description="Call with HR re: policy",
            billed_seconds=1200,
        ),
    ]
    return sorted(raw, key=export_sort_key)


# ------------------------------------------------------------------ shared rules


@pytest.mark.parametrize(
    ("seconds", "places", "hours"),
    [
        (1800, 2, "0.50"),
        (360, 2, "0.10"),
        (1200, 2, "0.33"),
        (1200, 4, "0.3333"),
        (2400, 2, "0.67"),
        (18, 2, "0.01"),  # exactly half a hundredth rounds up
        (17, 2, "0.00"),
        (60, 4, "0.0167"),
        (0, 2, "0.00"),
        (36_000_000, 2, "10000.00"),
    ],
)
def test_hours_are_billed_seconds_over_3600_rounded_half_up_to_the_format_precision(
    seconds: int, places: int, hours: str
) -> None:
    assert str(hours_of(seconds, places)) == hours


@pytest.mark.parametrize(
    ("hours", "rate", "amount"),
    [
        ("0.10", "123.45", "12.35"),  # 12.345: half up, where banker's rounding would give 12.34
        ("1.25", "333.33", "416.66"),
        ("0.3333", "300.00", "99.99"),
        ("2.00", "0.00", "0.00"),
    ],
)
def test_an_amount_is_hours_times_rate_rounded_half_up_to_the_cent(
    hours: str, rate: str, amount: str
) -> None:
    assert str(fee_amount(D(hours), D(rate))) == amount


@pytest.mark.parametrize(
    ("overrides", "complaint"),
    [
        ({"rate": 400.0}, "rate must be a Decimal"),
        ({"rate": D("400.005")}, "whole number of cents"),
        ({"rate": D("-1.00")}, "rate cannot be negative"),
        ({"adjustment": 5}, "adjustment must be a Decimal"),
        ({"adjustment": D("NaN")}, "finite"),
        ({"billed_seconds": -1}, "cannot be negative"),
        ({"billed_seconds": 1.5}, "whole number of seconds"),
        ({"timekeeper_classification": "PARTNR"}, "timekeeper_classification"),
        ({"task_code": "A101"}, "not a UTBMS task code"),
        ({"activity_code": "L120"}, "not a UTBMS activity code"),
        ({"matter_number": " "}, "matter_number is required"),
    ],
)
def test_an_export_line_refuses_values_no_format_could_bill(
    overrides: dict[str, Any], complaint: str
) -> None:
    with pytest.raises(ExportError, match=complaint):
        make_line(**overrides)


def test_text_folds_to_plain_ascii_and_keeps_what_cp1252_can_carry() -> None:
    text = "Caf\u00e9 \u2013 \u201cdraft\u201d \u00a7 2 \u00bd Stra\u00dfe \u6771\u4eac"
    assert fold_text(text, "ascii") == 'Cafe - "draft" Sec. 2 1/2 Strasse ??'
    assert fold_text(text, "cp1252") == "Caf\u00e9 \u2013 \u201cdraft\u201d \u00a7 2 \u00bd Stra\u00dfe ??"


ALL_WRITERS: dict[str, dict[str, Any]] = {
    "tabs3": {"default_tcode": 1},
    "pclaw": {},
    "timeslips": {},
    "abacus": {},
    "csv": {},
    "ledes": LEDES_OPTIONS,
}


@pytest.mark.parametrize("name", sorted(ALL_WRITERS))
def test_every_writer_refuses_lines_out_of_order(name: str) -> None:
    later = make_line(entry_id="e-2", day=date(2026, 3, 5))
    earlier = make_line(entry_id="e-1", day=date(2026, 3, 4))
    with pytest.raises(UnsortedLines, match="'e-1' comes after entry 'e-2'"):
        run(LAYOUTS[name].write, [later, earlier], **ALL_WRITERS[name])


@pytest.mark.parametrize("name", sorted(ALL_WRITERS))
def test_every_writer_refuses_the_same_entry_twice(name: str) -> None:
    line = make_line()
    with pytest.raises(UnsortedLines, match="appears twice"):
        run(LAYOUTS[name].write, [line, line], **ALL_WRITERS[name])


@pytest.mark.parametrize("name", sorted(ALL_WRITERS))
def test_every_writer_gives_byte_identical_output_for_the_same_lines(name: str) -> None:
    first, _ = run(LAYOUTS[name].write, realistic_sample(), **ALL_WRITERS[name])
    second, _ = run(LAYOUTS[name].write, realistic_sample(), **ALL_WRITERS[name])
    assert first == second
    first.encode(LAYOUTS[name].encoding)  # the file fits the encoding the layout names


@pytest.mark.parametrize("name", sorted(ALL_WRITERS))
def test_every_writer_ends_every_record_with_crlf(name: str) -> None:
    text, _ = run(LAYOUTS[name].write, realistic_sample(), **ALL_WRITERS[name])
    assert text.endswith("\r\n")
    if name == "csv":
        # The generic CSV keeps a description's own line break, inside its quoted cell (RFC 4180).
        text = text.replace("answer | affirmative defenses [section 3]\nsecond", "")
    assert "\n" not in text.replace("\r\n", "")


# ------------------------------------------------------------------ Tabs3


def test_a_tabs3_row_is_the_ten_ascii_variable_fields_all_quoted_with_no_header() -> None:
    line = make_line(billed_seconds=4500, adjustment=D("-25.00"))
    text, summary = run(write_tabs3, [line], tcodes={"Email": 12})
    assert text == (
        '"1001-02","ADA","12","L120","A106","03/02/2026","1.25","400.00","475.00",'
        '"Email to client re: strategy"\r\n'
    )
    assert summary == ExportSummary(count=1, total_hours=D("1.25"), total_amount=D("475.00"))


def test_tabs3_descriptions_keep_commas_use_single_quotes_and_transliterate_to_ascii() -> None:
    line = make_line(description='Call re: "Smith, J." \u2013 d\u00e9j\u00e0 vu, \u6771\u4eac office\nnext')
    text, _ = run(write_tabs3, [line], default_tcode=1)
    (row,) = rows(text)
    assert len(row) == 10
    assert row[9] == "Call re: 'Smith, J.' - deja vu, ?? office next"
    text.encode("ascii")


def test_tabs3_looks_up_the_tcode_by_activity_name_then_utbms_code_then_default() -> None:
    by_name = make_line(entry_id="e-1", activity_name="Draft", activity_code="A103")
    by_code = make_line(entry_id="e-2", activity_name="Unmapped", activity_code="A104")
    by_default = make_line(entry_id="e-3", activity_name="Other", activity_code=None)
    text, _ = run(
        write_tabs3, [by_name, by_code, by_default], tcodes={"Draft": 5, "A104": 7}, default_tcode=99
    )
    assert [row[2] for row in rows(text)] == ["5", "7", "99"]


def test_tabs3_refuses_an_activity_without_a_tcode() -> None:
    with pytest.raises(ExportError, match="no Tabs3 tcode for activity 'Email'"):
        run(write_tabs3, [make_line()], tcodes={"Draft": 5})


@pytest.mark.parametrize(
    ("line", "options", "complaint"),
    [
        (make_line(matter_number="1001-0002-LIT"), {}, "longer than this format's 12"),
        (make_line(timekeeper_id="ADAL"), {}, "longer than this format's 3"),
        (make_line(description="x" * 5001), {}, "at most 5000"),
        (make_line(rate=D("10000.00")), {}, "rate 10000.00 is outside"),
        (make_line(adjustment=D("-1000.00")), {}, "amount -800.00 is outside"),
        (make_line(), {"client_id_for": lambda line: "1001,02"}, "reserves"),
    ],
)
def test_tabs3_refuses_what_its_layout_cannot_hold_rather_than_cutting_it(
    line: ExportLine, options: dict[str, Any], complaint: str
) -> None:
    with pytest.raises(ExportError, match=complaint):
        run(write_tabs3, [line], default_tcode=1, **options)


def test_tabs3_leaves_non_billable_time_out_and_counts_it() -> None:
    billable = make_line(entry_id="e-1")
    internal = make_line(entry_id="e-2", billable=False)
    text, summary = run(write_tabs3, [billable, internal], default_tcode=1)
    assert len(rows(text)) == 1
    assert (summary.count, summary.skipped, summary.total_amount) == (1, 1, D("200.00"))


def test_tabs3_uses_the_client_id_the_firm_maps_a_matter_to() -> None:
    text, _ = run(write_tabs3, [make_line()], default_tcode=1, client_id_for=lambda line: "850.01")
    assert rows(text)[0][0] == "850.01"


# ------------------------------------------------------------------ PCLaw


def test_pclaw_has_a_header_and_one_row_per_entry_with_us_dates() -> None:
    text, _ = run(write_pclaw, [make_line(billed_seconds=1260)])
    header, row = rows(text)
    assert header == [
        "Date",
        "Lawyer",
        "Matter",
        "Task Code",
        "Activity Code",
        "Activity",
        "Hours",
        "Rate",
        "Amount",
        "Billable",
        "Explanation",
    ]
    assert row == [
        "03/02/2026",
        "ADA",
        "1001-02",
        "L120",
        "A106",
        "Email",
        "0.35",
        "400.00",
        "140.00",
        "Y",
        "Email to client re: strategy",
    ]


def test_pclaw_writes_non_billable_time_with_a_zero_rate_and_amount() -> None:
    text, summary = run(write_pclaw, [make_line(billable=False, billed_seconds=720)])
    row = rows(text)[1]
    assert (row[6], row[7], row[8], row[9]) == ("0.20", "0.00", "0.00", "N")
    assert (summary.total_hours, summary.total_amount) == (D("0.20"), D("0.00"))


def test_pclaw_quotes_commas_and_double_quotes_and_keeps_windows_1252_text() -> None:
    line = make_line(description='Letter to M\u00fcller, re: "Schedule A" \u2013 \u0141\u00f3d\u017a office')
    text, _ = run(write_pclaw, [line])
    assert '"Letter to M\u00fcller, re: ""Schedule A"" \u2013 L\u00f3dz office"' in text
    assert rows(text)[1][10] == 'Letter to M\u00fcller, re: "Schedule A" \u2013 L\u00f3dz office'
    text.encode("cp1252")


# ------------------------------------------------------------------ TimeSlips


def test_timeslips_columns_are_named_after_tsimport_slip_fields() -> None:
    text, _ = run(write_timeslips, [make_line()])
    header, row = rows(text)
    record = dict(zip(header, row, strict=True))
    assert record == {
        "Transaction Type": "Time",
        "Transaction Date": "03/02/2026",
        "Timekeeper Nickname 1": "ADA",
        "Client Nickname 1": "1001-02",
        "Activity Nickname 1": "A106",
        "Task Code": "L120",
        "Time Spent": "0.50",
        "Rate Type": "Hourly",
        "Rate Value": "400.00",
        "Slip Value": "200.00",
        "Billing Status": "Billable",
        "Description": "Email to client re: strategy",
    }


@pytest.mark.parametrize("status", ["Do Not Bill", "No Charge"])
def test_timeslips_gives_non_billable_time_the_chosen_billing_status(status: str) -> None:
    line = make_line(billable=False, activity_code=None, activity_name="Admin")
    text, _ = run(write_timeslips, [line], non_billable_status=status)
    record = dict(zip(*rows(text), strict=True))
    assert (record["Billing Status"], record["Rate Value"], record["Slip Value"]) == (status, "0.00", "0.00")
    assert record["Activity Nickname 1"] == "Admin"


def test_timeslips_writes_embedded_double_quotes_as_single_quotes() -> None:
    text, _ = run(write_timeslips, [make_line(description='Review "Exhibit 4", then call')])
    assert "\"Review 'Exhibit 4', then call\"" in text


def test_timeslips_refuses_an_unknown_billing_status() -> None:
    with pytest.raises(ExportError, match="Do Not Bill or No Charge"):
        run(write_timeslips, [make_line()], non_billable_status="Hold")


# ------------------------------------------------------------------ AbacusLaw


def test_abacus_has_the_documented_header_and_every_element_quoted() -> None:
    text, _ = run(write_abacus, [make_line(entry_id="e-1"), make_line(entry_id="e-2", billable=False)])
    assert text.split("\r\n") == [
        "date,timekeeper,hours,matter_number,acivity_code,task_code,ticket_type,amount,text",
        '"03/02/2026","ADA","0.50","1001-02","A106","L120","BL","200.00","Email to client re: strategy"',
        '"03/02/2026","ADA","0.50","1001-02","A106","L120","NB","0.00","Email to client re: strategy"',
        "",
    ]


# ------------------------------------------------------------------ generic CSV


def test_the_generic_csv_round_trips_every_field() -> None:
    line = make_line(
        billed_seconds=1234,
        adjustment=D("-3.50"),
        client_name="Acme, Inc.",
        description='Two lines,\nwith "quotes" and \u00e9\u6771',
    )
    text, summary = run(write_generic_csv, [line])
    (record,) = list(csv.DictReader(io.StringIO(text, newline="")))
    assert record == {
        "entry_id": "e-0001",
        "date": "2026-03-02",
        "client_number": "1001",
        "client_name": "Acme, Inc.",
        "matter_number": "1001-02",
        "matter_name": "Acme v. Roadrunner",
        "timekeeper_id": "ADA",
        "timekeeper_name": "Lovelace, Ada",
        "timekeeper_classification": "PT",
        "task_code": "L120",
        "activity_code": "A106",
        "activity_name": "Email",
        "billable": "true",
        "billed_seconds": "1234",
        "hours": "0.3428",
        "rate": "400.00",
        "adjustment": "-3.50",
        "amount": "133.62",  # 0.3428 x 400 = 137.12, less 3.50
        "description": 'Two lines,\nwith "quotes" and \u00e9\u6771',
    }
    assert summary.total_amount == D("133.62")


def test_the_generic_csv_defuses_text_a_spreadsheet_would_run_as_a_formula() -> None:
    line = make_line(description='=HYPERLINK("http://example.test")', matter_name="+1 matter")
    (record,) = list(csv.DictReader(io.StringIO(run(write_generic_csv, [line])[0], newline="")))
    assert record["description"] == '\'=HYPERLINK("http://example.test")'
    assert record["matter_name"] == "'+1 matter"
    assert record["adjustment"] == "0.00"


# ------------------------------------------------------------------ LEDES 1998B


def test_a_realistic_multi_client_ledes_file_passes_the_independent_checker() -> None:
    text, summary = ledes(realistic_sample())
    assert check_ledes(text) == []
    assert summary.count == 10
    assert summary.invoices == 5


def test_ledes_starts_with_the_signature_and_the_24_field_names() -> None:
    text, _ = ledes([make_line()])
    first, second = text.split("\r\n")[:2]
    assert first == "LEDES1998B[]"
    assert second == "|".join(FIELD_NAMES) + "[]"
    assert len(FIELD_NAMES) == 24


def test_ledes_writes_one_invoice_per_client_matter_with_line_numbers_restarting() -> None:
    records = ledes_records(ledes(realistic_sample())[0])
    by_invoice: dict[str, list[dict[str, str]]] = {}
    for record in records:
        by_invoice.setdefault(record["INVOICE_NUMBER"], []).append(record)
    assert sorted(by_invoice) == ["INV-1001-02", "INV-1001-07", "INV-2044-01", "INV-3100-11", "INV-3100-12"]
    for invoice in by_invoice.values():
        assert [record["LINE_ITEM_NUMBER"] for record in invoice] == [
            str(n) for n in range(1, len(invoice) + 1)
        ]
        assert len({(record["CLIENT_ID"], record["LAW_FIRM_MATTER_ID"]) for record in invoice}) == 1
        total = sum(D(record["LINE_ITEM_TOTAL"]) for record in invoice)
        assert {record["INVOICE_TOTAL"] for record in invoice} == {f"{total:.2f}"}


def test_ledes_line_arithmetic_holds_for_a_discounted_fee() -> None:
    line = make_line(billed_seconds=2160, rate=D("150.00"), adjustment=D("-10.00"))
    (record,) = ledes_records(ledes([line])[0])
    assert (record["EXP/FEE/INV_ADJ_TYPE"], record["LINE_ITEM_NUMBER_OF_UNITS"]) == ("F", "0.60")
    assert (record["LINE_ITEM_UNIT_COST"], record["LINE_ITEM_ADJUSTMENT_AMOUNT"]) == ("150.00", "-10.00")
    assert (record["LINE_ITEM_TOTAL"], record["INVOICE_TOTAL"]) == ("80.00", "80.00")
    assert (record["LINE_ITEM_DATE"], record["INVOICE_DATE"]) == ("20260302", "20260402")
    assert (record["BILLING_START_DATE"], record["BILLING_END_DATE"]) == ("20260301", "20260331")


def test_ledes_writes_units_with_up_to_four_decimals_and_the_total_from_them() -> None:
    (record,) = ledes_records(ledes([make_line(billed_seconds=1200, rate=D("300.00"))])[0])
    assert (record["LINE_ITEM_NUMBER_OF_UNITS"], record["LINE_ITEM_TOTAL"]) == ("0.3333", "99.99")


def test_ledes_shows_non_billable_time_at_no_charge_by_writing_the_fee_off() -> None:
    line = make_line(billable=False, billed_seconds=720, description="Conflicts check")
    text, summary = ledes([line])
    (record,) = ledes_records(text)
    assert (record["LINE_ITEM_NUMBER_OF_UNITS"], record["LINE_ITEM_UNIT_COST"]) == ("0.20", "400.00")
    assert (record["LINE_ITEM_ADJUSTMENT_AMOUNT"], record["LINE_ITEM_TOTAL"]) == ("-80.00", "0.00")
    assert record["LINE_ITEM_DESCRIPTION"] == "No charge: Conflicts check"
    assert check_ledes(text) == []
    assert summary.total_amount == D("0.00")


def test_ledes_can_leave_non_billable_time_out() -> None:
    lines = [make_line(entry_id="e-1"), make_line(entry_id="e-2", billable=False)]
    text, summary = ledes(lines, include_non_billable=False)
    assert len(ledes_records(text)) == 1
    assert (summary.count, summary.skipped) == (1, 1)


def test_ledes_sanitises_free_text_but_never_changes_identifiers() -> None:
    line = make_line(
        description="Draft | revise [] motion\r\nsee \u00a7 1983 \u2014 \u201cqualified\u201d",
        timekeeper_name="O\u2019Brien | Jos\u00e9",
    )
    text, _ = ledes([line], description="Services [March] | final")
    (record,) = ledes_records(text)
    assert record["LINE_ITEM_DESCRIPTION"] == 'Draft / revise () motion see Sec. 1983 - "qualified"'
    assert record["TIMEKEEPER_NAME"] == "O'Brien / Jose"
    assert record["INVOICE_DESCRIPTION"] == "Services (March) / final"
    assert check_ledes(text) == []


@pytest.mark.parametrize(
    ("line", "options", "complaint"),
    [
        (make_line(client_number="C|1"), {}, "CLIENT_ID 'C|1' contains '|'"),
        (make_line(matter_number="M" * 21), {}, "LAW_FIRM_MATTER_ID .* longer than this format's 20"),
        (make_line(timekeeper_id="T\u00f6"), {}, "characters this format cannot carry"),
        (make_line(), {"invoice_number_for": lambda c, m: "INVOICE-2026-03-000001"}, "INVOICE_NUMBER"),
        (make_line(day=date(2026, 4, 1)), {}, "outside the billing period"),
        (make_line(), {"billing_start": date(2026, 4, 1)}, "starts 2026-04-01 after it ends"),
        (make_line(), {"law_firm_id": ""}, "LAW_FIRM_ID"),
    ],
)
def test_ledes_refuses_what_it_cannot_write_faithfully(
    line: ExportLine, options: dict[str, Any], complaint: str
) -> None:
    with pytest.raises(ExportError, match=complaint):
        ledes([line], **options)


def test_ledes_refuses_an_invoice_number_used_for_two_matters() -> None:
    lines = [make_line(entry_id="e-1"), make_line(entry_id="e-2", matter_number="1001-03")]
    with pytest.raises(ExportError, match=r"'INV-1001' .* already used"):
        ledes(lines, invoice_number_for=lambda client, matter: f"INV-{client}")


def test_ledes_writes_each_invoice_before_reading_the_next_matter() -> None:
    out = io.StringIO(newline="")
    seen_when_second_matter_started: list[str] = []

    def lines() -> Iterator[ExportLine]:
        yield make_line(entry_id="e-1")
        yield make_line(entry_id="e-2")
        yield make_line(entry_id="e-3", matter_number="1001-03")
        seen_when_second_matter_started.append(out.getvalue())
        yield make_line(entry_id="e-4", matter_number="1001-03")

    write_ledes(lines(), out, **LEDES_OPTIONS)
    (written,) = seen_when_second_matter_started
    assert written.count("|INV-1001-02|") == 2
    assert "INV-1001-03" not in written


def test_an_empty_ledes_export_is_just_the_two_heading_lines() -> None:
    text, summary = ledes([])
    assert text == "LEDES1998B[]\r\n" + "|".join(FIELD_NAMES) + "[]\r\n"
    assert summary == ExportSummary(count=0, total_hours=D(0), total_amount=D("0.00"))


def test_ledes_output_is_byte_identical_when_written_to_a_file_twice(tmp_path: Any) -> None:
    digests = []
    for name in ("one.txt", "two.txt"):
        path = tmp_path / name
        with path.open("w", encoding="ascii", newline="") as out:
            write_ledes(realistic_sample(), out, **LEDES_OPTIONS)
        digests.append(path.read_bytes())
    assert digests[0] == digests[1]
    assert digests[0].count(b"[]\r\n") == 12


# ------------------------------------------------------------------ the checker catches each violation


def _valid_file() -> str:
    return ledes(realistic_sample())[0]


def _replace_field(text: str, line_index: int, field: str, value: str) -> str:
    lines = text.split("\r\n")
    values = lines[line_index][:-2].split("|")
    values[FIELD_NAMES.index(field)] = value
    lines[line_index] = "|".join(values) + "[]"
    return "\r\n".join(lines)


def _bump_first_invoice_total(text: str) -> str:
    """Add a cent to the first invoice's total on every one of its lines (consistently, so only the sum
    is wrong)."""
    first = ledes_records(text)[0]
    stated = first["INVOICE_TOTAL"]
    bumped = f"{D(stated) + D('0.01'):.2f}"
    head = f"|{first['INVOICE_NUMBER']}|{first['CLIENT_ID']}|{first['LAW_FIRM_MATTER_ID']}|"
    return text.replace(f"{head}{stated}|", f"{head}{bumped}|")


BREAKAGES: list[tuple[str, Callable[[str], str], str]] = [
    ("wrong signature", lambda text: text.replace("LEDES1998B[]", "LEDES98BI[]", 1), "line 1: expected"),
    (
        "fields out of order",
        lambda text: text.replace("CLIENT_ID|LAW_FIRM_MATTER_ID", "LAW_FIRM_MATTER_ID|CLIENT_ID", 1),
        "line 2: field names",
    ),
    ("a line without []", lambda text: text.replace("[]\r\n", "\r\n", 3), "line 3: does not end with []"),
    ("23 fields", lambda text: text.replace("|ADA|", "|", 1), "23 fields, expected 24"),
    (
        "an impossible date",
        lambda text: _replace_field(text, 2, "LINE_ITEM_DATE", "20260230"),
        "not a YYYYMMDD",
    ),
    (
        "a malformed amount",
        lambda text: _replace_field(text, 2, "LINE_ITEM_UNIT_COST", "4,00.0"),
        "not a number",
    ),
    (
        "money in tenths of cents",
        lambda text: _replace_field(text, 2, "LINE_ITEM_TOTAL", "1.005"),
        "not an amount",
    ),
    (
        "a wrong line total",
        lambda text: _replace_field(text, 2, "LINE_ITEM_ADJUSTMENT_AMOUNT", "-1.00"),
        "is not units",
    ),
    (
        "a wrong invoice total",
        lambda text: _bump_first_invoice_total(text),
        "is not the sum of its line totals",
    ),
    (
        "an invoice field that changes",
        lambda text: _replace_field(text, 3, "INVOICE_DATE", "20260403"),
        "INVOICE_DATE '20260403' differs",
    ),
    (
        "a repeated line number",
        lambda text: _replace_field(text, 3, "LINE_ITEM_NUMBER", "1"),
        "repeats in invoice",
    ),
    ("mixed line endings", lambda text: text.replace("[]\r\n", "[]\n", 2), "line endings are mixed"),
    ("non-ASCII text", lambda text: text.replace("Review complaint", "R\u00e9view complaint"), "non-ASCII"),
    (
        "a [] inside a value",
        lambda text: text.replace("Review complaint", "Review [] complaint"),
        "[] inside",
    ),
    (
        "a line dated outside the period",
        lambda text: _replace_field(text, 2, "LINE_ITEM_DATE", "20260401"),
        "outside the billing period",
    ),
    (
        "an unknown line type",
        lambda text: _replace_field(text, 2, "EXP/FEE/INV_ADJ_TYPE", "X"),
        "is not F, E, IF or IE",
    ),
    (
        "an unknown classification",
        lambda text: _replace_field(text, 2, "TIMEKEEPER_CLASSIFICATION", "PARTNR"),
        "not a known code",
    ),
    (
        "a missing timekeeper",
        lambda text: _replace_field(text, 2, "TIMEKEEPER_ID", ""),
        "TIMEKEEPER_ID is required",
    ),
    ("a long client id", lambda text: _replace_field(text, 2, "CLIENT_ID", "C" * 21), "longer than 20"),
    (
        "a bad task code",
        lambda text: _replace_field(text, 2, "LINE_ITEM_TASK_CODE", "L12"),
        "not a UTBMS code",
    ),
    ("a blank line", lambda text: text.replace("[]\r\n", "[]\r\n\r\n", 3), "blank line"),
]


def test_the_checker_passes_the_valid_file_the_breakages_start_from() -> None:
    assert check_ledes(_valid_file()) == []


@pytest.mark.parametrize(("name", "break_file", "complaint"), BREAKAGES, ids=[b[0] for b in BREAKAGES])
def test_the_checker_catches_each_kind_of_violation(
    name: str, break_file: Callable[[str], str], complaint: str
) -> None:
    broken = break_file(_valid_file())
    assert broken != _valid_file()
    problems = check_ledes(broken)
    assert any(complaint in problem for problem in problems), problems


def test_the_checker_catches_an_invoice_whose_lines_are_split_up() -> None:
    lines = _valid_file().split("\r\n")
    lines[3], lines[6] = lines[6], lines[3]  # a line of invoice 1 swapped with one of invoice 2
    assert any("resumes after other invoices" in problem for problem in check_ledes("\r\n".join(lines)))


def test_the_checker_reports_an_empty_file() -> None:
    assert check_ledes("") == ["the file is empty"]


# ------------------------------------------------------------------ property: any lines, a valid file

_text = st.text(st.characters(codec="utf-8"), max_size=60)
_line_values = st.fixed_dictionaries(
    {
        "client": st.sampled_from(["1001", "2044", "3100"]),
        "matter": st.sampled_from(["01", "02", "11"]),
        "day": st.integers(0, 30).map(lambda offset: PERIOD_START + timedelta(days=offset)),
        "seconds": st.integers(0, 12 * 3600),
        "rate": st.integers(0, 150_000).map(lambda cents: Decimal(cents).scaleb(-2)),
        "adjustment": st.integers(-50_000, 50_000).map(lambda cents: Decimal(cents).scaleb(-2)),
        "billable": st.booleans(),
        "task": st.none() | st.sampled_from(sorted(TASK_CODES)),
        "activity": st.none() | st.sampled_from(sorted(ACTIVITY_CODES)),
        "classification": st.sampled_from(["PT", "AS", "OC", "LA", "OT"]),
        "description": _text,
        "timekeeper_name": _text,
    }
)


@settings(max_examples=150, deadline=None)
@given(st.lists(_line_values, max_size=40), _text, st.booleans())
def test_any_sorted_lines_give_a_ledes_file_that_passes_the_checker_and_adds_up(
    drawn: list[dict[str, Any]], invoice_description: str, include_non_billable: bool
) -> None:
    lines = sorted(
        (
            make_line(
                entry_id=f"e-{index:04d}",
                client_number=values["client"],
                matter_number=f"{values['client']}-{values['matter']}",
                day=values["day"],
                billed_seconds=values["seconds"],
                rate=values["rate"],
                adjustment=values["adjustment"],
                billable=values["billable"],
                task_code=values["task"],
                activity_code=values["activity"],
                timekeeper_classification=values["classification"],
                description=values["description"],
                timekeeper_name=values["timekeeper_name"],
            )
            for index, values in enumerate(drawn)
        ),
        key=export_sort_key,
    )
    text, summary = ledes(lines, description=invoice_description, include_non_billable=include_non_billable)
    text.encode("ascii")
    problems = check_ledes(text)
    if lines and (include_non_billable or any(line.billable for line in lines)):
        assert problems == []
    else:
        assert problems == ["the file has no line items"]
    records = ledes_records(text)
    invoice_totals = {record["INVOICE_NUMBER"]: D(record["INVOICE_TOTAL"]) for record in records}
    assert summary.total_amount == sum(D(record["LINE_ITEM_TOTAL"]) for record in records)
    assert summary.total_amount == sum(invoice_totals.values(), D(0))
    assert summary.invoices == len(invoice_totals)
    assert summary.count + summary.skipped == len(lines)


def test_a_replace_keeps_lines_valid() -> None:
    # ExportLine is frozen: a changed copy is validated like a new one.
    with pytest.raises(ExportError):
        replace(make_line(), rate=D("1.001"))
