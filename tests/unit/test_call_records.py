"""Call-detail records from a phone system's CSV export become calls, or say exactly which line is wrong."""

import csv
import io
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.domain import calls
from chalicelib.domain.calls import (
    MAX_BYTES,
    MAX_ROWS,
    CallDirection,
    CallImport,
    CallRecord,
    RowError,
    normalize_number,
    parse_call_records,
)
from chalicelib.domain.errors import InvalidInput

FIXTURES = Path(__file__).parent.parent / "fixtures" / "calls"
HEADER = "call_id,start,duration,direction,extension,number,name"
ROW = "c1,2026-03-09T14:30:00Z,125,inbound,204,+12125550100,Acme"
PROPERTY = settings(max_examples=200, deadline=None)
HEADER_NAMES = (  # every accepted name of each required column, in the order the rows below write them
    ("call_id", "id", "cdr_id", "record id"),
    ("start", "start_time", "started_at"),
    ("duration", "duration_seconds", "billsec", "talk time"),
    ("direction",),
    ("extension", "ext", "station"),
    ("number", "other_number", "remote"),
)


def parse(text: str, zone: str = "America/New_York") -> CallImport:
    return parse_call_records(text, default_zone=zone)


def only_record(text: str, zone: str = "America/New_York") -> CallRecord:
    result = parse(text, zone)
    assert result.errors == []
    assert len(result.records) == 1
    return result.records[0]


def only_error(text: str, zone: str = "America/New_York") -> RowError:
    result = parse(text, zone)
    assert result.records == []
    assert len(result.errors) == 1, result.errors
    return result.errors[0]


def one_call(**values: str) -> str:
    """A file with the standard header and one row, some of its values replaced."""
    row = dict(zip(HEADER.split(","), ROW.split(","), strict=True)) | values
    return HEADER + "\n" + ",".join(row.values()) + "\n"


def fixture(name: str) -> str:
    return (FIXTURES / name).read_bytes().decode("utf-8")  # not utf-8-sig: the parser strips the BOM


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


# --- headers -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["call_id", "id", "cdr_id", "record id", "Call ID", "RECORD_ID", "Cdr-Id"])
def test_every_accepted_call_id_header_names_the_call_id(name: str) -> None:
    text = one_call().replace("call_id", name, 1)
    assert only_record(text).call_id == "c1"


@pytest.mark.parametrize("name", ["start", "start_time", "started_at", "Start Time", "STARTED-AT"])
def test_every_accepted_start_header_names_the_start(name: str) -> None:
    text = one_call().replace("start", name, 1)
    assert only_record(text).start == utc(2026, 3, 9, 14, 30)


@pytest.mark.parametrize("name", ["duration", "duration_seconds", "billsec", "talk time", "Talk_Time"])
def test_every_accepted_duration_header_names_the_duration(name: str) -> None:
    text = one_call().replace("duration", name, 1)
    assert only_record(text).duration_seconds == 125


@pytest.mark.parametrize("name", ["extension", "ext", "station", "EXT"])
def test_every_accepted_extension_header_names_the_extension(name: str) -> None:
    text = one_call().replace("extension", name, 1)
    assert only_record(text).extension == "204"


@pytest.mark.parametrize("name", ["number", "other_number", "remote", "Other Number"])
def test_every_accepted_number_header_names_the_other_party(name: str) -> None:
    text = one_call().replace(",number,", f",{name},", 1)
    assert only_record(text).other_number == "+12125550100"


@pytest.mark.parametrize("name", ["name", "caller_name", "Caller Name"])
def test_a_name_or_caller_name_column_names_the_caller_of_an_inbound_call(name: str) -> None:
    text = one_call().replace(",name", f",{name}", 1)
    assert only_record(text).other_name == "Acme"


def test_a_date_column_and_a_time_column_together_give_the_start() -> None:
    text = "id,date,time,billsec,direction,ext,number\nc1,2026-03-09,09:30:15,60,out,204,555 0100\n"
    assert only_record(text).start == utc(2026, 3, 9, 13, 30, 15)


def test_spreadsheet_dates_with_a_midnight_and_times_with_a_1899_date_still_combine() -> None:
    text = (
        "id,date,time,billsec,direction,ext,number\n"
        "c1,2026-03-09 00:00:00,1899-12-30 09:30:15,60,out,204,555 0100\n"
        "c2,2026-03-09,2:05 PM,60,out,204,555 0100\n"
    )
    result = parse(text)
    assert result.errors == []
    assert [r.start for r in result.records] == [utc(2026, 3, 9, 13, 30, 15), utc(2026, 3, 9, 18, 5)]


def test_caller_and_callee_columns_give_the_other_party_by_direction() -> None:
    text = (
        "id,start,duration,direction,ext,caller,callee,caller_name,callee_name\n"
        "in,2026-03-09T10:00:00Z,60,inbound,204,+1 212 555 0100,204,Client,Lawyer\n"
        "out,2026-03-09T11:00:00Z,60,outbound,204,204,+1 212 555 0199,Lawyer,Court\n"
        "int-sent,2026-03-09T12:00:00Z,60,internal,204,204,305,Lawyer,Partner\n"
        "int-received,2026-03-09T13:00:00Z,60,internal,204,305,204,Partner,Lawyer\n"
        "int-neither,2026-03-09T14:00:00Z,60,internal,204,401,402,,\n"
    )
    result = parse(text)
    assert result.errors == []
    assert [(r.call_id, r.other_number, r.other_name) for r in result.records] == [
        ("in", "+12125550100", "Client"),
        ("out", "+12125550199", "Court"),
        ("int-sent", "305", ""),
        ("int-received", "305", ""),
        ("int-neither", "402", ""),
    ]


def test_billsec_is_read_rather_than_duration_when_a_file_has_both_because_ringing_is_not_work() -> None:
    text = (
        "uniqueid,id,start,duration,billsec,direction,ext,number\nu1,c1,2026-03-09T10:00:00Z,75,60,in,204,1\n"
    )
    assert only_record(text).duration_seconds == 60


def test_columns_nobody_asked_for_are_ignored_and_columns_may_come_in_any_order() -> None:
    text = (
        "Disposition,Number,Ext,Direction,Talk Time,Start,Trunk,ID\n"
        "ANSWERED,555 0100,204,out,0:01:00,2026-03-09T10:00:00Z,T1,c9\n"
    )
    record = only_record(text)
    assert (record.call_id, record.duration_seconds, record.other_number) == ("c9", 60, "5550100")


@pytest.mark.parametrize(
    ("column", "field", "accepted"),
    [
        ("call_id", "call_id", "call_id, id, cdr_id, record id"),
        ("start", "start", "start, start_time, started_at, or date and time as two columns"),
        ("duration", "duration", "billsec, talk time, duration_seconds, duration"),
        ("direction", "direction", "direction"),
        ("extension", "extension", "extension, ext, station"),
        ("number", "other_number", "other_number, number, remote, or caller and callee as two columns"),
    ],
)
def test_a_missing_required_column_is_one_error_on_line_1_listing_the_names_accepted(
    column: str, field: str, accepted: str
) -> None:
    text = one_call().replace(column, "something_else", 1)
    error = only_error(text)
    assert (error.line, error.field) == (1, field)
    assert accepted in error.message
    assert "no " in error.message and "column" in error.message


def test_the_name_column_is_optional() -> None:
    text = "id,start,duration,direction,ext,number\nc1,2026-03-09T10:00:00Z,60,in,204,555\n"
    assert only_record(text).other_name == ""


def test_each_missing_column_is_named_once_and_no_row_is_read() -> None:
    text = "id,date,caller,when\nc1,2026-03-09,555,x\n"
    result = parse(text)
    assert result.records == []
    assert [(e.line, e.field) for e in result.errors] == [
        (1, "start"),  # date without time is not a start
        (1, "duration"),
        (1, "direction"),
        (1, "extension"),
        (1, "other_number"),  # caller without callee cannot say who the other party was
    ]


def test_an_empty_file_or_one_of_blank_lines_says_so() -> None:
    for text in ("", "\n\n  \r\n"):
        error = only_error(text)
        assert (error.line, error.field) == (1, "file")
        assert "empty" in error.message


# --- durations ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "seconds"),
    [
        ("125", 125),
        ("0125", 125),
        ("0:02:05", 125),
        ("00:02:05", 125),
        ("2:05", 125),
        ("1:00:00", 3600),
        ("90:00", 5400),
        ("24:00:00", 86_400),
        ("125.4", 125),
        ("125.5", 126),
        ("00:01:02.5", 63),
    ],
)
def test_durations_are_read_as_seconds_or_as_h_mm_ss(written: str, seconds: int) -> None:
    assert only_record(one_call(duration=written)).duration_seconds == seconds


@pytest.mark.parametrize(
    ("written", "complaint"),
    [
        ("1:2:3:4", "duration '1:2:3:4' is not seconds or h:mm:ss"),
        ("two minutes", "is not seconds or h:mm:ss"),
        ("1,234", "is not seconds or h:mm:ss"),
        ("", "duration is empty"),
        ("-5", "duration '-5' is negative"),
        ("1:60", "minutes or seconds of 60 or more"),
        ("1:60:00", "minutes or seconds of 60 or more"),
        ("24:00:01", "longer than 24 hours"),
        ("86401", "longer than 24 hours"),
        ("9" * 5000, "longer than 24 hours"),
    ],
)
def test_a_duration_that_is_not_a_call_length_is_a_row_error_saying_what_is_expected(
    written: str, complaint: str
) -> None:
    error = only_error(one_call(duration=f'"{written}"'))
    assert (error.line, error.field) == (2, "duration")
    assert complaint in error.message
    assert "expected" in error.message


def test_a_decimal_comma_is_read_in_a_semicolon_file() -> None:
    text = one_call(duration="12,5").replace(",", ";").replace("12;5", "12,5")
    assert only_record(text).duration_seconds == 13


def test_missed_calls_of_zero_seconds_are_skipped_without_error_and_counted() -> None:
    text = (
        HEADER + "\n"
        "c1,2026-03-09T10:00:00Z,0,in,204,555,\n"
        "c2,2026-03-09T10:01:00Z,0:00:00,in,204,555,\n"
        "c3,2026-03-09T10:02:00Z,60,in,204,555,\n"
    )
    result = parse(text)
    assert (result.errors, [r.call_id for r in result.records], result.skipped_missed) == ([], ["c3"], 2)


def test_a_missed_call_with_something_else_wrong_is_an_error_not_a_skip() -> None:
    result = parse(one_call(duration="0", direction="sideways"))
    assert result.skipped_missed == 0
    assert [e.field for e in result.errors] == ["direction"]


# --- directions --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "direction"),
    [
        ("inbound", CallDirection.INBOUND),
        ("In", CallDirection.INBOUND),
        ("incoming", CallDirection.INBOUND),
        ("OUTBOUND", CallDirection.OUTBOUND),
        ("out", CallDirection.OUTBOUND),
        ("outgoing", CallDirection.OUTBOUND),
        ("internal", CallDirection.INTERNAL),
    ],
)
def test_directions_are_read_in_any_case_with_in_and_out_as_short_forms(
    written: str, direction: CallDirection
) -> None:
    assert only_record(one_call(direction=written)).direction is direction


# --- times -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "instant"),
    [
        ("2026-03-09T14:30:00Z", utc(2026, 3, 9, 14, 30)),
        ("2026-03-09T14:30:00+01:00", utc(2026, 3, 9, 13, 30)),
        ("2026-03-09 14:30:00 +0530", utc(2026, 3, 9, 9, 0)),
        ("2026-03-09T14:30-05", utc(2026, 3, 9, 19, 30)),
        ("2026-07-01T02:30:00+02:00", utc(2026, 7, 1, 0, 30)),
    ],
)
def test_times_with_an_offset_are_that_instant_in_utc_whatever_the_default_zone(
    written: str, instant: datetime
) -> None:
    record = only_record(one_call(start=written), zone="Asia/Tokyo")
    assert record.start == instant
    assert record.start.tzinfo is UTC


def test_naive_times_are_wall_clock_time_in_the_default_zone_on_either_side_of_dst() -> None:
    winter = only_record(one_call(start="2026-03-07 09:00:00"), zone="America/New_York")
    summer = only_record(one_call(start="2026-03-09 09:00:00"), zone="America/New_York")
    assert (winter.start, summer.start) == (utc(2026, 3, 7, 14), utc(2026, 3, 9, 13))


def test_a_windows_zone_name_means_the_same_as_its_iana_zone() -> None:
    iana = only_record(one_call(start="2026-07-01 09:00:00"), zone="America/New_York")
    windows = only_record(one_call(start="2026-07-01 09:00:00"), zone="Eastern Standard Time")
    assert windows.start == iana.start == utc(2026, 7, 1, 13)


@pytest.mark.parametrize(
    ("zone", "skipped"),
    [("America/New_York", "2026-03-08 02:30:00"), ("Europe/London", "2026-03-29 01:15:00")],
)
def test_a_naive_time_in_the_hour_skipped_when_clocks_go_forward_is_a_row_error(
    zone: str, skipped: str
) -> None:
    error = only_error(one_call(start=skipped), zone=zone)
    assert (error.line, error.field) == (2, "start")
    assert f"'{skipped}' does not exist in {zone}" in error.message


def test_the_hour_either_side_of_the_spring_gap_is_fine() -> None:
    before = only_record(one_call(start="2026-03-08 01:59:59"), zone="America/New_York")
    after = only_record(one_call(start="2026-03-08 03:00:00"), zone="America/New_York")
    assert after.start - before.start == timedelta(seconds=1)


def test_a_naive_time_in_the_hour_repeated_when_clocks_go_back_is_its_first_occurrence() -> None:
    # 01:30 happens at 05:30Z (still EDT, -4) and again at 06:30Z (EST, -5); fold=0 is the first.
    record = only_record(one_call(start="2026-11-01 01:30:00"), zone="America/New_York")
    assert record.start == utc(2026, 11, 1, 5, 30)


def test_times_are_kept_to_the_millisecond_and_no_finer() -> None:
    record = only_record(one_call(start="2026-03-09T14:30:00.123999Z"))
    assert record.start == utc(2026, 3, 9, 14, 30, 0, 123_000)


def test_a_twelve_hour_clock_is_read() -> None:
    record = only_record(one_call(start="2026-03-09 2:30 PM"), zone="UTC")
    assert record.start == utc(2026, 3, 9, 14, 30)


@pytest.mark.parametrize(
    ("written", "complaint"),
    [
        ("03/09/2026 14:30", "is not a date and time; expected an ISO 8601 date and time"),
        ("2026-03-09", "is not a date and time"),
        ("yesterday", "is not a date and time"),
        ("2026-02-30 10:00:00", "is not a real date and time (day is out of range for month)"),
        ("2026-03-09 13:00 PM", "has hour 13 with AM/PM"),
        ("2026-03-09T10:00:00+25:00", "has offset +25:00"),
        ("", "start is empty"),
    ],
)
def test_a_start_that_is_not_an_iso_date_and_time_is_a_row_error(written: str, complaint: str) -> None:
    error = only_error(one_call(start=written))
    assert (error.line, error.field) == (2, "start")
    assert complaint in error.message


def test_an_unknown_default_zone_is_the_callers_mistake_and_raises() -> None:
    with pytest.raises(InvalidInput, match="Mars/Olympus_Mons"):
        parse(one_call(), zone="Mars/Olympus_Mons")


# --- numbers -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("+1 (212) 555-0100", "+12125550100"),
        ("+1.212.555.0100", "+12125550100"),
        ("001 212 555 0100", "+12125550100"),
        ("+44 (0)20 7946 0000", "+442079460000"),
        ("0044 (0)20 7946 0000", "+442079460000"),
        ("(020) 7946-0000", "02079460000"),
        ("  204 ", "204"),
        ("0204", "0204"),
        ("000", "000"),
        ("0012", "0012"),
        ("", ""),
    ],
)
def test_phone_numbers_normalise_to_digits_with_a_plus_only_when_they_had_a_country_code(
    raw: str, normal: str
) -> None:
    assert normalize_number(raw) == normal


def test_the_same_number_written_three_ways_compares_equal() -> None:
    assert (
        len({normalize_number(n) for n in ("+44 20 7946 0000", "0044-20-7946-0000", "+44(0)2079460000")}) == 1
    )


@pytest.mark.parametrize(
    ("raw", "complaint"),
    [
        ("call me", "is not a phone number"),
        ("ext. 204", "is not a phone number"),
        ("+", "is not a phone number"),
        ("++44 20 7946 0000", "is not a phone number"),
        ("4.47911E+11", "scientific notation"),
        ("+020 7946 0000", "no country code"),
        ("+44 20", "too short"),
        ("+44 2079 4600 0000 0000", "more than 15 digits"),
        ("1" * 21, "more than 20 digits"),
        ("٢٠٤", "is not a phone number"),
    ],
)
def test_something_that_is_not_a_phone_number_is_refused_saying_why(raw: str, complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        normalize_number(raw)


def test_the_extension_is_normalised_like_any_number() -> None:
    assert only_record(one_call(extension="+1 212 555 0104")).extension == "+12125550104"


@pytest.mark.parametrize("withheld", ["", "anonymous", "Private Number", "WITHHELD", "unknown"])
def test_an_inbound_call_from_a_withheld_number_is_kept_with_no_number(withheld: str) -> None:
    assert only_record(one_call(number=withheld)).other_number == ""


@pytest.mark.parametrize("direction", ["outbound", "internal"])
def test_an_outbound_or_internal_call_needs_the_other_partys_number(direction: str) -> None:
    error = only_error(one_call(direction=direction, number="anonymous"))
    assert (error.line, error.field) == (2, "other_number")
    assert "withheld" in error.message


# --- files -------------------------------------------------------------------------------------------------


def test_a_clean_export_gives_one_record_per_answered_call() -> None:
    result = parse(fixture("clean.csv"))
    assert result.errors == []
    assert result.skipped_missed == 1
    assert [(r.line, r.call_id, r.start, r.duration_seconds, r.direction) for r in result.records] == [
        (2, "cdr-1001", utc(2026, 3, 9, 13, 15), 125, CallDirection.INBOUND),
        (3, "cdr-1002", utc(2026, 3, 9, 14, 2, 30), 250, CallDirection.OUTBOUND),
        (4, "cdr-1003", utc(2026, 3, 9, 15, 30, 0, 250_000), 125, CallDirection.INTERNAL),
        (6, "cdr-1005", utc(2026, 3, 9, 20, 20), 3600, CallDirection.INBOUND),
        (7, "cdr-1006", utc(2026, 3, 9, 21, 5), 3600, CallDirection.OUTBOUND),
    ]
    assert [(r.extension, r.other_number, r.other_name) for r in result.records] == [
        ("204", "+12125550100", "Acme Holdings"),
        ("204", "+442079460000", "Barnes & Noble LLP"),
        ("204", "305", "Smith, Jane"),
        ("205", "", ""),
        ("205", "2125550142", "Court clerk"),
    ]


def test_every_bad_row_is_reported_with_its_line_and_field_and_only_good_rows_become_records() -> None:
    result = parse(fixture("bad_rows.csv"))
    assert [r.call_id for r in result.records] == ["ok-1"]
    assert [(e.line, e.field) for e in result.errors] == [
        (3, "start"),
        (4, "duration"),
        (5, "direction"),
        (6, "call_id"),
        # line 7 is blank
        (8, "extension"),
        (9, "other_number"),
        (10, "call_id"),
        (11, "start"),
        (12, "row"),
        (13, "start"),
        (13, "duration"),
        (13, "direction"),
        (13, "extension"),
        (13, "other_number"),
    ]
    messages = {(e.line, e.field): e.message for e in result.errors}
    assert "duration '1:2:3:4' is not seconds or h:mm:ss" in messages[4, "duration"]
    assert messages[10, "call_id"] == "call id 'ok-1' already appears on line 2"
    assert "does not exist in America/New_York" in messages[11, "start"]
    assert (
        "the row has 8 values but the header has 7 columns; quote values that contain ','"
        in messages[12, "row"]
    )
    assert "scientific notation" in messages[13, "other_number"]


def test_a_file_with_a_bom_semicolons_and_windows_line_endings_reads_like_any_other() -> None:
    raw = (FIXTURES / "bom_semicolon_crlf.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw, (
        "the fixture lost its BOM or CRLF (.gitattributes?)"
    )
    result = parse(fixture("bom_semicolon_crlf.csv"), zone="W. Europe Standard Time")
    assert result.errors == []
    assert [(r.line, r.call_id, r.start, r.duration_seconds) for r in result.records] == [
        (3, "R-1", utc(2026, 3, 28, 23, 30), 13),  # CET, the night the clocks go forward; 12,5 s
        (4, "R-2", utc(2026, 3, 29, 0, 30), 90),
        (5, "R-3", utc(2026, 3, 29, 8, 0), 90),  # CEST from 02:00
        (6, "R-4", utc(2026, 10, 24, 23, 30), 600),
        (7, "R-5", utc(2026, 10, 25, 0, 15), 45),  # 02:15 happens twice: the first, still CEST
    ]
    assert [(r.other_number, r.other_name) for r in result.records] == [
        ("+49301234567", "Müller GmbH"),
        ("+49897654321", ""),  # outbound: the caller's name is our own
        ("22", ""),
        ("02079460000", ""),
        ("21", ""),
    ]


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_the_delimiter_is_found_from_the_header_with_any_line_ending(delimiter: str, newline: str) -> None:
    text = newline.join([HEADER.replace(",", delimiter), ROW.replace(",", delimiter), ""])
    assert only_record(text).call_id == "c1"


def test_an_excel_sep_line_names_the_delimiter_and_line_numbers_still_count_it() -> None:
    text = "sep=;\n" + one_call(duration="x").replace(",", ";")
    error = only_error(text)
    assert (error.line, error.field) == (3, "duration")


def test_blank_lines_and_rows_of_empty_cells_are_skipped_and_lines_still_count_physically() -> None:
    text = (
        "\n"  # 1
        f"{HEADER}\r\n"  # 2
        "\r\n"  # 3
        ",,,,,,\r\n"  # 4
        f"{ROW}\r\n"  # 5
        'c2,2026-03-09T10:00:00Z,60,in,204,555,"two\r\nlines"\r\n'  # 6 and 7
        "c3,2026-03-09T10:00:00Z,nope,in,204,555,\r\n"  # 8
    )
    result = parse(text)
    assert [(r.line, r.call_id) for r in result.records] == [(5, "c1"), (6, "c2")]
    assert result.records[1].other_name == "two\r\nlines"
    assert [(e.line, e.field) for e in result.errors] == [(8, "duration")]


def test_a_missing_column_is_reported_on_the_header_line_even_after_blank_lines() -> None:
    result = parse("\n\nid,start\n")
    assert [(e.line, e.field) for e in result.errors] == [
        (3, "duration"),
        (3, "direction"),
        (3, "extension"),
        (3, "other_number"),
    ]


def test_a_short_row_reads_its_missing_trailing_values_as_empty() -> None:
    text = HEADER + "\nc1,2026-03-09T10:00:00Z,60,in,204,555\nc2,2026-03-09T10:00:00Z,60\n"
    result = parse(text)
    assert [r.call_id for r in result.records] == ["c1"]
    assert [(e.line, e.field) for e in result.errors] == [(3, "direction"), (3, "extension")]


def test_trailing_empty_values_beyond_the_header_are_harmless() -> None:
    assert only_record(one_call().replace("Acme\n", "Acme,,\n")).other_name == "Acme"


def test_a_row_with_everything_wrong_reports_every_field_not_just_the_first() -> None:
    text = HEADER + "\n ,never,soon,sideways,,letters,\n"
    result = parse(text)
    assert result.records == []
    assert [(e.line, e.field) for e in result.errors] == [
        (2, "call_id"),
        (2, "start"),
        (2, "duration"),
        (2, "direction"),
        (2, "extension"),
        (2, "other_number"),
    ]


def test_a_repeated_call_id_is_an_error_on_the_later_line_naming_the_first() -> None:
    text = (
        HEADER + "\n"
        "c1,2026-03-09T10:00:00Z,60,in,204,555,first\n"
        "c2,2026-03-09T10:05:00Z,0,in,204,555,missed\n"
        "c1,2026-03-09T10:10:00Z,60,in,204,555,again\n"
        "c2,2026-03-09T10:15:00Z,60,in,204,555,again\n"
    )
    result = parse(text)
    assert [(r.line, r.other_name) for r in result.records] == [(2, "first")]
    assert [(e.line, e.message) for e in result.errors] == [
        (4, "call id 'c1' already appears on line 2"),
        (5, "call id 'c2' already appears on line 3"),
    ]


def test_importing_the_same_file_twice_gives_the_same_stable_keys() -> None:
    first, second = parse(fixture("clean.csv")), parse(fixture("clean.csv"))
    assert [r.stable_key for r in first.records] == [r.stable_key for r in second.records]
    assert first.records[0].stable_key == "call:cdr-1001"
    assert first.records[0].end == first.records[0].start + timedelta(seconds=125)


def test_a_file_over_5_mb_is_refused_with_one_error_and_no_records() -> None:
    assert MAX_BYTES == 5 * 1024 * 1024
    padding = (" " * 100_000 + "\n") * 60
    result = parse(one_call() + padding[: MAX_BYTES - len(one_call())])
    assert (len(result.records), result.errors) == (1, [])
    error = only_error(one_call() + padding[: MAX_BYTES - len(one_call()) + 1])
    assert (error.line, error.field) == (1, "file")
    assert "the limit is 5 MB" in error.message


def test_the_size_limit_counts_utf8_bytes_not_characters() -> None:
    error = only_error(HEADER + "\n" + "é" * (MAX_BYTES // 2))
    assert error.field == "file"


def test_a_file_over_the_row_limit_is_refused_with_one_error_on_the_first_row_too_many() -> None:
    assert MAX_ROWS == 100_000
    result = parse(HEADER + "\n" + "x\n" * (MAX_ROWS + 1))
    assert result.records == []
    assert result.errors == [
        RowError(
            MAX_ROWS + 2,
            "file",
            "the file has more than 100,000 rows; the limit is 100,000: split the export into smaller files",
        )
    ]


def test_a_file_at_the_row_limit_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(calls, "MAX_ROWS", 3)
    rows = [f"c{n},2026-03-09T10:00:00Z,60,in,204,555," for n in range(4)]
    assert len(parse("\n".join([HEADER, *rows[:3]])).records) == 3
    assert [(e.line, e.field) for e in parse("\n".join([HEADER, *rows])).errors] == [(5, "file")]


def test_a_field_too_long_for_the_csv_reader_is_an_error_not_a_crash() -> None:
    result = parse(HEADER + "\n" + ROW + "\n" + "c2," + "9" * 200_000 + "\n")
    assert [r.call_id for r in result.records] == ["c1"]
    assert [(e.line, e.field) for e in result.errors] == [(3, "row")]


# --- properties --------------------------------------------------------------------------------------------


@PROPERTY
@given(st.text())
def test_parsing_any_text_returns_errors_instead_of_raising(text: str) -> None:
    result = parse(text)
    assert isinstance(result, CallImport)


CSVISH = st.text(
    alphabet=st.sampled_from(list('0123456789:+-.,;\t\r\n" aAPMTZ/()éx\x00\ufeff')), max_size=300
)


@PROPERTY
@given(
    header=st.sampled_from(
        [HEADER, HEADER.replace(",", ";"), "id\tdate\ttime\tbillsec\tdirection\text\tcaller\tcallee"]
    ),
    body=CSVISH,
)
def test_parsing_any_rows_under_a_good_header_returns_errors_instead_of_raising(
    header: str, body: str
) -> None:
    result = parse(header + "\n" + body)
    record_lines = {r.line for r in result.records}
    assert record_lines.isdisjoint(e.line for e in result.errors)
    assert len({r.call_id for r in result.records}) == len(result.records)
    assert all(r.start.tzinfo is UTC and r.start.microsecond % 1000 == 0 for r in result.records)


@PROPERTY
@given(st.lists(st.lists(st.text(max_size=12), min_size=0, max_size=9), max_size=12))
def test_every_non_blank_row_becomes_exactly_one_record_skip_or_errored_line(rows: list[list[str]]) -> None:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADER.split(","))
    writer.writerows(rows)
    result = parse(out.getvalue())
    non_blank = [row for row in rows if any(cell.strip() for cell in row)]
    errored_lines = {e.line for e in result.errors}
    assert len(result.records) + result.skipped_missed + len(errored_lines) == len(non_blank)


@st.composite
def exports(draw: st.DrawFn) -> tuple[str, str, list[CallRecord]]:
    """Calls, and a CSV export of them in any of the dialects and header names a phone system might use."""
    ids = draw(
        st.lists(st.text("abcXYZ0129-_:", min_size=1, max_size=12), min_size=1, max_size=8, unique=True)
    )
    delimiter = draw(st.sampled_from([",", ";", "\t"]))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    naive = draw(st.booleans())
    names = [draw(st.sampled_from(synonyms)) for synonyms in HEADER_NAMES]
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator=newline)
    writer.writerow([name.upper() if draw(st.booleans()) else name for name in [*names, "name"]])
    expected: list[CallRecord] = []
    for line, call_id in enumerate(ids, start=2):
        start = draw(st.datetimes(datetime(2000, 1, 1), datetime(2040, 1, 1))).replace(tzinfo=UTC)
        start = start.replace(microsecond=start.microsecond // 1000 * 1000)
        offset = timezone(timedelta(minutes=draw(st.sampled_from([0, 60, -300, 330, 765]))))
        written_start = (
            start.replace(tzinfo=None).isoformat(sep=" ")
            if naive
            else start.astimezone(offset).isoformat(timespec="milliseconds")
        )
        seconds = draw(st.integers(1, 86_400))
        written_duration = draw(
            st.sampled_from([str(seconds), f"{seconds // 3600}:{seconds // 60 % 60:02}:{seconds % 60:02}"])
        )
        direction = draw(st.sampled_from(CallDirection))
        written_direction = draw(st.sampled_from([direction.value, direction.value.upper()]))
        extension = draw(st.text("0123456789", min_size=2, max_size=6))
        number = (
            "+"
            + draw(st.text("123456789", min_size=1, max_size=1))
            + draw(st.text("0123456789", min_size=6, max_size=13))
        )
        written_number = draw(
            st.sampled_from([number, "00" + number[1:], f"{number[:3]} {number[3:6]}-{number[6:]}"])
        )
        name = draw(st.text("ab c,;&'\"é", max_size=15)).strip()
        writer.writerow(
            [call_id, written_start, written_duration, written_direction, extension, written_number, name]
        )
        expected.append(CallRecord(call_id, start, seconds, direction, extension, number, name, line))
    return out.getvalue(), "UTC" if naive else "Pacific/Chatham", expected


@PROPERTY
@given(exports())
def test_calls_written_in_any_accepted_dialect_read_back_exactly(
    export: tuple[str, str, list[CallRecord]],
) -> None:
    text, zone, expected = export
    result = parse(text, zone=zone)
    assert (result.errors, result.records) == ([], expected)
