"""CSV imports of clients, matters, contacts and the roster: previewed, all or nothing, every error listed."""

from __future__ import annotations

import csv
import functools
import io
import itertools
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.domain import imports
from chalicelib.domain.identity import Role
from chalicelib.domain.imports import (
    COLUMNS,
    MAX_BYTES,
    ExistingRecords,
    ImportPlan,
    RowError,
    plan_clients,
    plan_contacts,
    plan_matters,
    plan_roster,
)
from chalicelib.domain.matters import BillingMethod, Client, Contact, Matter, MatterStatus
from chalicelib.domain.roster import User, UserStatus

FIXTURES = Path(__file__).parent.parent / "fixtures" / "imports"
FIRM = "firm-1"
NOW = datetime(2026, 3, 9, 12, 0, tzinfo=UTC)
PROPERTY = settings(max_examples=200, deadline=None)
PLANNERS: dict[str, Callable[..., ImportPlan[Any]]] = {
    "clients": plan_clients,
    "matters": plan_matters,
    "contacts": plan_contacts,
    "roster": plan_roster,
}
FILES = {
    "clients": "clients.csv",
    "matters": "matters.csv",
    "contacts": "contacts.csv",
    "roster": "roster.csv",
}


def fixture(name: str) -> str:
    """A fixture file's text exactly as stored: byte order mark and CRLF kept."""
    return (FIXTURES / name).read_bytes().decode("utf-8")


def ids(prefix: str) -> Callable[[], str]:
    counter = itertools.count(1)
    return lambda: f"{prefix}-{next(counter)}"


def plan(kind: str, text: str, existing: ExistingRecords | None = None, **options: Any) -> ImportPlan[Any]:
    return PLANNERS[kind](
        text,
        firm_id=FIRM,
        existing=existing or ExistingRecords(),
        new_id=ids(kind),
        now=NOW,
        **options,
    )


def stored(entities: list[Any]) -> list[Any]:
    """What a repository hands back after writing: version 1."""
    return [replace(entity, version=1) for entity in entities]


def firm(
    *, with_matters: bool = False, with_contacts: bool = False, extra: dict[str, list[Any]] | None = None
) -> ExistingRecords:
    """A firm whose roster and clients (and optionally matters and contacts) came from the clean fixtures."""
    users = stored(plan("roster", fixture("roster.csv")).creates)
    clients = stored(plan("clients", fixture("clients.csv")).creates)
    base = ExistingRecords.of(users=users, clients=clients)
    matters = stored(plan("matters", fixture("matters.csv"), base).creates) if with_matters else []
    contacts = stored(plan("contacts", fixture("contacts.csv"), base).creates) if with_contacts else []
    extra = extra or {}
    return ExistingRecords.of(
        users=users + extra.get("users", []),
        clients=clients + extra.get("clients", []),
        matters=matters + extra.get("matters", []),
        contacts=contacts + extra.get("contacts", []),
    )


def clean(result: ImportPlan[Any]) -> ImportPlan[Any]:
    assert result.errors == [], result.errors
    assert result.ok
    return result


def failed(result: ImportPlan[Any]) -> list[RowError]:
    assert not result.ok
    assert result.creates == [] and result.updates == [] and result.unchanged == 0
    return result.errors


def where(errors: list[RowError]) -> list[tuple[int, str]]:
    return [(error.line, error.field) for error in errors]


MATTER_HEADER = "external_id,number,name,client"


# --- clean files -------------------------------------------------------------------------------------------


def test_a_clean_clients_file_plans_one_new_client_per_row() -> None:
    result = clean(plan("clients", fixture("clients.csv")))
    assert (result.kind, result.rows, result.updates, result.unchanged) == ("clients", 3, [], 0)
    assert result.creates == [
        Client(
            firm_id=FIRM,
            client_id="clients-1",
            name="Acme Holdings LLC",
            domains=("acme.com", "acme-holdings.com"),
            external_ids={"import": "C-100"},
            rounding_increment_seconds=360,
            created_at=NOW,
        ),
        Client(
            firm_id=FIRM,
            client_id="clients-2",
            name="Brightwater Partners",
            domains=("brightwater.example",),
            external_ids={"import": "C-200"},
            created_at=NOW,
        ),
        Client(
            firm_id=FIRM,
            client_id="clients-3",
            name="Carter, Diaz & Lee",
            external_ids={"import": "C-300"},
            rounding_increment_seconds=900,
            created_at=NOW,
        ),
    ]


def test_a_clean_roster_with_a_byte_order_mark_and_crlf_plans_invited_users() -> None:
    text = fixture("roster.csv")
    assert text.startswith("\ufeff") and "\r\n" in text
    jane, mark, pat = clean(plan("roster", text)).creates
    assert jane == User(
        firm_id=FIRM,
        user_id="roster-1",
        email="jane.doe@firm.example",
        display_name="Jane Doe",
        roles=frozenset({Role.ATTORNEY, Role.FIRM_ADMIN}),
        status=UserStatus.INVITED,
        time_zone="America/New_York",
        external_ids={"import": "E-1001"},
        phone_extensions=("204",),
        created_at=NOW,
    )
    assert (mark.phone_extensions, mark.time_zone) == (("205", "206"), None)
    assert (pat.roles, pat.external_ids, pat.time_zone) == (
        frozenset({Role.BILLING_MANAGER}),
        {},
        "Europe/London",
    )


def test_a_clean_matters_file_resolves_clients_and_responsible_users_by_external_id_or_name() -> None:
    existing = firm()
    acme = existing.clients_by_external_id["C-100"]
    brightwater = existing.clients_by_external_id["C-200"]
    carter = existing.clients_by_external_id["C-300"]
    jane = existing.users_by_external_id["E-1001"]
    result = clean(plan("matters", fixture("matters.csv"), existing))
    first, second, third, fourth = result.creates
    assert first == Matter(
        firm_id=FIRM,
        matter_id="matters-1",
        number="2026-0001",
        name="Acme v. Widgetco",
        client_id=acme.client_id,
        status=MatterStatus.OPEN,
        responsible_user_id=jane.user_id,  # by email, written with other capitals in the roster
        billing_method=BillingMethod.HOURLY,
        utbms_required=True,
        rounding_increment_seconds=360,
        opened_on=date(2026, 1, 5),
        external_ids={"import": "M-1"},
        created_at=NOW,
    )
    assert (second.status, second.billing_method, second.utbms_required, second.responsible_user_id) == (
        MatterStatus.PENDING,
        BillingMethod.FLAT_FEE,
        False,
        None,
    )
    assert (third.client_id, third.responsible_user_id, third.closed_on) == (
        brightwater.client_id,  # by exact name
        jane.user_id,  # by external id
        date(2025, 12, 19),
    )
    assert (fourth.client_id, fourth.billing_method, fourth.opened_on) == (
        carter.client_id,
        BillingMethod.PRO_BONO,
        None,
    )


def test_a_clean_contacts_file_normalises_emails_and_phones() -> None:
    existing = firm()
    rita, sam, tomas = clean(plan("contacts", fixture("contacts.csv"), existing)).creates
    assert rita == Contact(
        firm_id=FIRM,
        contact_id="contacts-1",
        name="Rita Moreno",
        emails=("rita@acme.com",),
        phones=("+12125550100",),
        company="Acme Holdings LLC",
        client_id=existing.clients_by_external_id["C-100"].client_id,
        external_ids={"import": "K-1"},
        created_at=NOW,
    )
    assert sam.phones == ("+442079460000", "+442079460001")
    assert sam.emails == ("sam@brightwater.example", "s.okafor@gmail.com")
    assert sam.client_id == existing.clients_by_external_id["C-200"].client_id
    assert (tomas.emails, tomas.phones, tomas.client_id) == ((), ("2125550199",), None)


# --- re-import ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(PLANNERS))
def test_importing_the_same_file_again_changes_nothing(kind: str) -> None:
    existing = firm(with_matters=True, with_contacts=True)
    result = clean(plan(kind, fixture(FILES[kind]), existing))
    assert (result.creates, result.updates, result.unchanged) == ([], [], result.rows)
    assert result.rows > 0


def test_an_edited_client_becomes_one_update_carrying_the_existing_id_and_version() -> None:
    existing = firm()
    before = existing.clients_by_external_id["C-200"]
    text = fixture("clients.csv").replace("Brightwater Partners,", "Brightwater Partners LLP,")
    result = clean(plan("clients", text, existing))
    assert (result.creates, result.unchanged) == ([], 2)
    assert result.updates == [replace(before, name="Brightwater Partners LLP")]
    assert (result.updates[0].client_id, result.updates[0].version) == (before.client_id, 1)


def test_an_edited_matter_keeps_what_the_file_does_not_mention() -> None:
    existing = firm(with_matters=True)
    before = replace(existing.matters_by_external_id["M-1"], contact_ids=("k-9",))
    existing = replace(existing, matters_by_external_id={**existing.matters_by_external_id, "M-1": before})
    text = f"{MATTER_HEADER},status\nM-1,2026-0001,Acme v. Widgetco Inc.,C-100,closed\n"
    (update,) = clean(plan("matters", text, existing)).updates
    assert update == replace(before, name="Acme v. Widgetco Inc.", status=MatterStatus.CLOSED)
    assert (update.responsible_user_id, update.rounding_increment_seconds, update.contact_ids) == (
        before.responsible_user_id,
        360,
        ("k-9",),
    )


def test_an_empty_optional_cell_clears_the_value_but_an_empty_status_keeps_it() -> None:
    existing = firm(with_matters=True)
    before = existing.matters_by_external_id["M-1"]
    text = f"{MATTER_HEADER},status,responsible,opened_on\nM-1,2026-0001,Acme v. Widgetco,C-100,,,\n"
    (update,) = clean(plan("matters", text, existing)).updates
    assert update == replace(before, responsible_user_id=None, opened_on=None)


def test_an_edited_roster_row_updates_the_user_and_never_their_status() -> None:
    existing = firm()
    jane = replace(existing.users_by_email["jane.doe@firm.example"], status=UserStatus.ACTIVE)
    existing = ExistingRecords.of(users=[jane])
    text = "email,display_name,roles\njane.doe@firm.example,Jane Doe-Smith,attorney\n"
    (update,) = clean(plan("roster", text, existing)).updates
    assert update == replace(jane, display_name="Jane Doe-Smith", roles=frozenset({Role.ATTORNEY}))
    assert (update.status, update.time_zone, update.external_ids) == (
        UserStatus.ACTIVE,
        "America/New_York",
        {"import": "E-1001"},
    )


def test_a_user_found_by_external_id_may_change_email() -> None:
    existing = firm()
    jane = existing.users_by_external_id["E-1001"]
    text = (
        "email,display_name,roles,external_id\njane.smith@firm.example,Jane Doe,attorney;firm_admin,E-1001\n"
    )
    (update,) = clean(plan("roster", text, existing)).updates
    assert update == replace(jane, email="jane.smith@firm.example")


def test_records_typed_in_by_hand_are_linked_by_their_natural_key_instead_of_duplicated() -> None:
    acme = Client(FIRM, "c-hand", "Acme Holdings LLC", version=3)
    matter = Matter(FIRM, "m-hand", "2026-0001", "Acme v. Widgetco", "c-hand", version=2)
    contact = Contact(FIRM, "k-hand", "Rita Moreno", emails=("rita@acme.com",), version=5)
    existing = ExistingRecords.of(clients=[acme], matters=[matter], contacts=[contact])

    clients = clean(plan("clients", "external_id,name\nC-100,Acme Holdings LLC\n", existing))
    assert (clients.creates, clients.updates) == ([], [replace(acme, external_ids={"import": "C-100"})])
    text = f"{MATTER_HEADER}\nM-1,2026-0001,Acme v. Widgetco,Acme Holdings LLC\n"
    matters = clean(plan("matters", text, existing))
    assert (matters.creates, matters.updates) == ([], [replace(matter, external_ids={"import": "M-1"})])
    contacts = clean(plan("contacts", "external_id,name,emails\nK-1,Rita Moreno,Rita@Acme.com\n", existing))
    assert (contacts.creates, contacts.updates) == ([], [replace(contact, external_ids={"import": "K-1"})])


def test_a_record_with_another_external_id_is_not_claimed_by_name() -> None:
    acme = Client(FIRM, "c-1", "Acme", external_ids={"import": "C-1"}, version=1)
    result = clean(plan("clients", "external_id,name\nC-2,Acme\n", ExistingRecords.of(clients=[acme])))
    assert [c.external_ids for c in result.creates] == [{"import": "C-2"}]


def test_another_source_keeps_its_own_external_ids() -> None:
    acme = Client(FIRM, "c-1", "Acme", external_ids={"import": "C-1"}, version=1)
    existing = ExistingRecords.of(clients=[acme], source="clio")
    (update,) = clean(plan("clients", "id,name\n77,Acme\n", existing)).updates
    assert update.external_ids == {"import": "C-1", "clio": "77"}
    assert clean(plan("clients", "id,name\n77,Acme\n", ExistingRecords.of(clients=[update], source="clio")))


# --- the bad file ----------------------------------------------------------------------------------


def test_the_bad_matters_file_is_rejected_with_every_error_listed_and_nothing_imported() -> None:
    errors = failed(plan("matters", fixture("matters_bad.csv"), firm()))
    assert where(errors) == [
        (1, "file"),  # wrong columns: "practice area"
        (3, "opened_on"),  # 03/09/2026
        (4, "number"),  # 2026-0100 again
        (5, "client"),  # C-999
        (5, "opened_on"),  # 2026-02-30
        (6, "closed_on"),  # closes before it opened
    ]
    messages = [error.message for error in errors]
    assert "unknown column 'practice area'" in messages[0]
    assert "external_id, number, name, client, status" in messages[0]
    assert messages[1] == "opened_on '03/09/2026' is not a date; expected YYYY-MM-DD"
    assert messages[2] == "matter number '2026-0100' already appears on line 2"
    assert messages[3] == "unknown client 'C-999'; import clients first"
    assert "'2026-02-30' is not a real date" in messages[4] and "expected YYYY-MM-DD" in messages[4]
    assert messages[5] == "a matter cannot close before it opened"


def test_one_bad_row_means_no_good_row_is_imported_either() -> None:
    text = f"{MATTER_HEADER}\nM-1,2026-1,One,C-100\nM-2,2026-2,Two,C-100\nM-3,2026-3,Three,C-nope\n"
    assert where(failed(plan("matters", text, firm()))) == [(4, "client")]


def test_every_wrong_field_of_a_row_is_reported_not_just_the_first() -> None:
    header = f"{MATTER_HEADER},status,responsible,billing_method,utbms_required,rounding_increment,opened_on"
    row = ",bad number!,,,shut,nobody@x.example,barter,maybe,7.5,2026-1-5"
    errors = failed(plan("matters", f"{header}\n{row}\n", firm()))
    assert where(errors) == [
        (2, "external_id"),
        (2, "number"),
        (2, "name"),
        (2, "client"),
        (2, "status"),
        (2, "responsible"),
        (2, "billing_method"),
        (2, "utbms_required"),
        (2, "rounding_increment"),
        (2, "opened_on"),
    ]
    assert "'shut' is not open, pending or closed" in errors[4].message
    assert "import the roster first" in errors[5].message
    assert "'bad number!' is not a matter number" in errors[1].message


# --- columns -----------------------------------------------------------------------------------------------


def test_a_missing_required_column_is_one_error_on_the_header_and_no_row_is_read() -> None:
    errors = failed(plan("matters", "external_id,name,client\nM-1,,C-nope\n", firm()))
    assert errors == [
        RowError(
            1,
            "number",
            "the header has no number column; accepted names: number, matter_number, matter_no, file_number "
            "(case does not matter)",
        )
    ]


@pytest.mark.parametrize("kind", list(PLANNERS))
def test_a_file_of_the_wrong_kind_is_caught_by_its_header(kind: str) -> None:
    other = {"clients": "roster", "matters": "contacts", "contacts": "roster", "roster": "matters"}[kind]
    errors = failed(plan(kind, fixture(FILES[other]), firm()))
    assert {error.line for error in errors} == {1}
    required = {spec.name for spec in COLUMNS[kind] if spec.required}  # type: ignore[index]
    assert {error.field for error in errors} - {"file"} <= required


def test_unknown_columns_are_one_error_listing_them_all_and_the_rows_are_still_checked() -> None:
    text = f"{MATTER_HEADER},Partner,Notes,\nM-1,2026-1,One,C-404,Ann,hi,\n"
    errors = failed(plan("matters", text, firm()))
    assert where(errors) == [(1, "file"), (2, "client")]
    assert errors[0].message.startswith("unknown columns 'Partner', 'Notes'; a matters file has the columns")


def test_headers_match_ignoring_case_spaces_and_underscores() -> None:
    text = "EXTERNAL ID;Client-Name;E-mail Domains\nC-1;Acme;acme.com\n"
    (client,) = clean(plan("clients", text)).creates
    assert (client.name, client.domains) == ("Acme", ("acme.com",))


def test_two_columns_for_the_same_thing_are_refused() -> None:
    errors = failed(plan("clients", "external_id,name,client_name\nC-1,Acme,Acme Inc\n"))
    assert errors == [RowError(1, "name", "columns 'name' and 'client_name' both give the name; keep one")]


@pytest.mark.parametrize(
    "text",
    [
        "sep=;\nexternal_id;name;domains\nC-1;Acme;acme.com\n",
        "external_id\tname\tdomains\nC-1\tAcme\tacme.com\n",
        'external_id;name;domains\nC-1;Acme;"acme.com"\n',
        "\n\nexternal_id,name,domains\r\n\r\nC-1,Acme,acme.com\r\n,,\r\n",
    ],
)
def test_delimiters_and_line_endings_are_recognised(text: str) -> None:
    (client,) = clean(plan("clients", text)).creates
    assert (client.name, client.domains) == ("Acme", ("acme.com",))


def test_line_numbers_are_physical_lines() -> None:
    text = 'external_id,name\n\nC-1,"Acme\nHoldings"\nC-2,\n'
    assert where(failed(plan("clients", text))) == [(5, "name")]


def test_values_beyond_the_header_are_an_error_on_the_row() -> None:
    errors = failed(plan("clients", "external_id,name\nC-1,Acme,Holdings\n"))
    assert where(errors) == [(2, "row")]
    assert "quote values that contain ','" in errors[0].message


def test_an_empty_file_and_a_header_without_rows_are_refused() -> None:
    assert where(failed(plan("clients", ""))) == [(1, "file")]
    assert where(failed(plan("clients", "\ufeff\r\n  \r\n"))) == [(1, "file")]
    errors = failed(plan("clients", "external_id,name\n"))
    assert errors == [RowError(1, "file", "the file has a header but no rows; expected one row per client")]


# --- duplicates and references ----------------------------------------------------------------------------


def test_a_repeated_external_id_or_matter_number_is_an_error_on_the_later_line() -> None:
    text = (
        f"{MATTER_HEADER}\nM-1,2026-1,One,C-100\nM-2,2026-2,Two,C-100\n"
        "M-1,2026-3,Three,C-100\nM-4, 2026-2 ,Four,C-100\n"
    )
    errors = failed(plan("matters", text, firm()))
    assert errors == [
        RowError(4, "external_id", "external id 'M-1' already appears on line 2"),
        RowError(5, "number", "matter number '2026-2' already appears on line 3"),
    ]


def test_matter_numbers_compare_without_case() -> None:
    text = f"{MATTER_HEADER}\nM-1,ab-1,One,C-100\nM-2,AB-1,Two,C-100\n"
    assert where(failed(plan("matters", text, firm()))) == [(3, "number")]


def test_a_matter_number_held_by_a_different_existing_matter_is_refused() -> None:
    existing = firm(with_matters=True)
    text = f"{MATTER_HEADER}\nM-9,2026-0002,Another,C-100\nM-1,2026-0002,Renumbered,C-100\n"
    errors = failed(plan("matters", text, existing))
    assert where(errors) == [(2, "number"), (3, "number")]
    assert errors[0].message == (
        "matter number '2026-0002' already belongs to matter 'Acme trademark portfolio' (external id 'M-2'); "
        "each matter needs its own number"
    )


def test_a_matter_may_be_renumbered_to_a_free_number() -> None:
    existing = firm(with_matters=True)
    before = existing.matters_by_external_id["M-1"]
    text = f"{MATTER_HEADER}\nM-1,2026-0099,Acme v. Widgetco,C-100\n"
    assert clean(plan("matters", text, existing)).updates == [replace(before, number="2026-0099")]


def test_a_client_named_by_more_than_one_client_must_be_given_by_external_id() -> None:
    one = Client(FIRM, "c-1", "Acme", external_ids={"import": "C-1"}, version=1)
    two = Client(FIRM, "c-2", "Acme", external_ids={"import": "C-2"}, version=1)
    existing = ExistingRecords.of(clients=[one, two])
    errors = failed(plan("matters", f"{MATTER_HEADER}\nM-1,1,One,Acme\n", existing))
    assert errors == [
        RowError(2, "client", "more than one client is named 'Acme'; use the client's external id")
    ]
    (matter,) = clean(plan("matters", f"{MATTER_HEADER}\nM-1,1,One,C-2\n", existing)).creates
    assert matter.client_id == "c-2"


def test_a_contact_email_belongs_to_one_contact_only() -> None:
    existing = firm(with_contacts=True)
    text = "external_id,name,emails\nK-9,Rita Again,RITA@acme.com\nK-10,X,x@y.example\nK-11,Y,x@y.example\n"
    errors = failed(plan("contacts", text, existing))
    assert where(errors) == [(2, "emails"), (4, "emails")]
    assert "already belongs to contact 'Rita Moreno' (external id 'K-1')" in errors[0].message
    assert errors[1].message == "email 'x@y.example' already appears on line 3"


def test_contact_rules_are_reported_per_field() -> None:
    text = "external_id,name,emails,phones,client\nK-1,,not-an-email;ok@ok.example,+0 12;1.5e10,C-404\n"
    errors = failed(plan("contacts", text, firm()))
    assert where(errors) == [(2, "name"), (2, "emails"), (2, "phones"), (2, "phones"), (2, "client")]
    assert errors[1].message == "'not-an-email' is not an email address"
    assert "has no country code" in errors[2].message
    assert "scientific notation" in errors[3].message


def test_client_rules_are_reported_per_field() -> None:
    text = "external_id,name,domains,rounding_increment\nC-1,Acme,acme;@ok.example,90\nC-2,B,,0\nC-3,C,,six\n"
    errors = failed(plan("clients", text))
    assert where(errors) == [
        (2, "domains"),
        (2, "rounding_increment"),
        (3, "rounding_increment"),
        (4, "rounding_increment"),
    ]
    assert errors[0].message == "'acme' is not a domain like example.com"
    assert "'90' is out of range; expected whole minutes from 1 to 60" in errors[1].message
    assert "'six' is not a number of minutes" in errors[3].message


# --- the roster --------------------------------------------------------------------------------------------

ROSTER_HEADER = "email,display_name,roles,external_id,phone_extensions,time_zone"


@pytest.mark.parametrize(
    ("row", "field", "message"),
    [
        (
            "a@firm.example,Ann,partner,,,",
            "roles",
            "roles 'partner' is not a role; expected attorney, assistant, firm_admin, billing_manager, "
            "contractor, contractor_staff",
        ),
        ("a@firm.example,Ann,,,,", "roles", "a user needs at least one role"),
        ("not-an-email,Ann,attorney,,,", "email", "'not-an-email' is not an email address"),
        (",Ann,attorney,,,", "email", "email is empty; expected the person's email address"),
        ("a@firm.example,,attorney,,,", "display_name", "display_name is empty; expected the person's name"),
        (
            "a@firm.example,Ann,attorney,,,Mars/Olympus",
            "time_zone",
            "'Mars/Olympus' is not an IANA time zone",
        ),
        ("a@firm.example,Ann,attorney,,,EST5", "time_zone", "'EST5' is not an IANA time zone"),
        ("a@firm.example,Ann,attorney,,1,", "phone_extensions", "'1' is not a 2-8 digit extension"),
        ("a@firm.example,Ann,attorney,,20x,", "phone_extensions", "'20x' is not a 2-8 digit extension"),
    ],
)
def test_every_roster_rule(row: str, field: str, message: str) -> None:
    errors = failed(plan("roster", f"{ROSTER_HEADER}\n{row}\n"))
    assert errors == [RowError(2, field, message)]


def test_a_roster_row_reports_every_broken_rule_at_once() -> None:
    errors = failed(plan("roster", f"{ROSTER_HEADER}\nnope,,boss;attorney,,1;22,Nowhere/Land\n"))
    assert where(errors) == [
        (2, "email"),
        (2, "display_name"),
        (2, "roles"),
        (2, "phone_extensions"),
        (2, "time_zone"),
    ]


def test_roster_duplicates_and_conflicts() -> None:
    existing = firm()
    text = (
        f"{ROSTER_HEADER}\n"
        "new@firm.example,New,attorney,E-9,,\n"
        "NEW@firm.example,New Again,attorney,,,\n"  # same email, other capitals
        "other@firm.example,Other,attorney,E-9,,\n"  # same external id
        "mark.lee@firm.example,Mark,assistant,E-1001,,\n"  # Mark's email with Jane's external id
        "mark.lee@firm.example,Mark,assistant,E-7,,\n"  # repeat, and not Mark's external id
    )
    errors = failed(plan("roster", text, existing))
    assert where(errors) == [(3, "email"), (4, "external_id"), (5, "email"), (6, "email"), (6, "external_id")]
    assert errors[0].message == "email 'new@firm.example' already appears on line 2"
    assert errors[1].message == "external id 'E-9' already appears on line 2"
    assert "already belongs to 'Mark Lee', not to the person with external id 'E-1001'" in errors[2].message
    assert "has external id 'E-1002', not 'E-7'" in errors[4].message


def test_two_rows_cannot_update_the_same_person() -> None:
    existing = firm()
    text = (
        f"{ROSTER_HEADER}\n"
        "pat@firm.example,Pat,billing_manager,E-1001,,\n"  # Jane, by external id, renamed to pat@
        "jane.doe@firm.example,Jane,attorney,,,\n"  # Jane again, by email
    )
    errors = failed(plan("roster", text, existing))
    assert errors == [
        RowError(3, "email", "line 2 already updates 'jane.doe@firm.example'; one row per person")
    ]


# --- limits and progress -----------------------------------------------------------------------------------


def test_a_file_over_the_size_limit_is_one_error() -> None:
    text = "external_id,name\n" + "C-1," + "x" * MAX_BYTES + "\n"
    errors = failed(plan("clients", text))
    assert errors == [
        RowError(1, "file", "the file is 10.0 MB; the limit is 10 MB: split it into smaller files")
    ]


def test_a_file_over_the_row_limit_is_one_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(imports, "MAX_ROWS", 3)
    rows = "".join(f"C-{n},Client {n}\n" for n in range(4))
    errors = failed(plan("clients", "external_id,name\n" + rows))
    assert errors == [
        RowError(5, "file", "the file has more than 3 rows; the limit is 3: split it into smaller files")
    ]
    assert clean(plan("clients", "external_id,name\n" + rows[: rows.index("C-3")]))


def a_generated_clients_file(rows: int) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["external_id", "name", "domains", "rounding_increment"])
    writer.writerows([f"C-{n:06d}", f"Client {n}, Inc.", f"client{n}.example", "6"] for n in range(rows))
    return out.getvalue()


def test_progress_is_reported_every_thousand_rows_of_a_large_file() -> None:
    calls: list[tuple[int, int]] = []
    result = clean(plan("clients", a_generated_clients_file(5_000), on_progress=lambda *c: calls.append(c)))
    assert len(result.creates) == result.rows == 5_000
    assert calls == [(1_000, 5_000), (2_000, 5_000), (3_000, 5_000), (4_000, 5_000), (5_000, 5_000)]


def test_progress_ends_at_the_last_row_even_when_that_is_not_a_round_thousand() -> None:
    calls: list[tuple[int, int]] = []
    plan("clients", a_generated_clients_file(2_500), on_progress=lambda *c: calls.append(c))
    assert calls == [(1_000, 2_500), (2_000, 2_500), (2_500, 2_500)]


def test_re_importing_a_large_file_is_all_unchanged() -> None:
    text = a_generated_clients_file(5_000)
    existing = ExistingRecords.of(clients=stored(clean(plan("clients", text)).creates))
    result = clean(plan("clients", text, existing))
    assert (len(result.creates), len(result.updates), result.unchanged) == (0, 0, 5_000)


# --- whatever the text -------------------------------------------------------------------------------------


@functools.cache
def full_firm() -> ExistingRecords:
    return firm(with_matters=True, with_contacts=True)


@PROPERTY
@given(kind=st.sampled_from(list(PLANNERS)), text=st.text())
def test_planning_never_raises_on_arbitrary_text(kind: str, text: str) -> None:
    result = plan(kind, text, full_firm())
    assert result.ok or (result.creates == [] and result.updates == [])


CELL = st.one_of(
    st.text(max_size=12),
    st.sampled_from(
        ["", "C-100", "Acme Holdings LLC", "2026-01-05", "2026-02-30", "attorney;x", "yes", "6", "E-1001"]
    ),
)


@PROPERTY
@given(
    kind=st.sampled_from(list(PLANNERS)),
    delimiter=st.sampled_from([",", ";", "\t"]),
    rows=st.lists(st.lists(CELL, max_size=12), max_size=8),
)
def test_planning_never_raises_on_rows_under_a_real_header(
    kind: str, delimiter: str, rows: list[list[str]]
) -> None:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter)
    writer.writerow(spec.name for spec in COLUMNS[kind])  # type: ignore[index]
    writer.writerows(rows)
    result = plan(kind, out.getvalue(), full_firm())
    assert result.ok or (result.creates == [] and result.updates == [])
    assert all(error.line >= 1 and error.message for error in result.errors)


def test_a_matter_row_may_name_one_of_the_firms_active_problem_codes_in_any_case() -> None:
    existing = replace(firm(), problem_codes=frozenset({"eviction"}))
    text = "external_id,number,name,client,problem_code\nM-9,PC-9,Case,C-100,Eviction\nM-8,PC-8,Case,C-100,\n"

    first, second = clean(plan("matters", text, existing)).creates

    assert (first.problem_code, second.problem_code) == ("eviction", None)


def test_a_matter_row_naming_an_unknown_problem_code_is_an_error_on_that_column() -> None:
    existing = replace(firm(), problem_codes=frozenset({"eviction"}))
    text = "external_id,number,name,legal_problem_code,client\nM-9,PC-9,Case,burglary,C-100\n"

    errors = failed(plan("matters", text, existing))

    assert [(e.line, e.field) for e in errors] == [(2, "problem_code")]
    assert "'burglary'" in errors[0].message


def test_a_matter_rows_languages_are_listed_with_semicolons_and_kept_when_the_column_is_missing() -> None:
    text = "external_id,number,name,client,languages\nM-9,PC-9,Case,C-100, Spanish ; spanish;Mixtec\n"
    created = clean(plan("matters", text, firm())).creates[0]
    assert created.languages == ("Spanish", "Mixtec")

    existing = replace(firm(), matters_by_external_id={"M-9": replace(created, version=1)})
    renamed = "external_id,number,name,client\nM-9,PC-9,Case renamed,C-100\n"
    (updated,) = clean(plan("matters", renamed, existing)).updates
    assert updated.languages == ("Spanish", "Mixtec")


def test_a_matter_row_with_an_overlong_language_is_an_error_on_that_column() -> None:
    text = f"external_id,number,name,client,language\nM-9,PC-9,Case,C-100,{'x' * 41}\n"

    errors = failed(plan("matters", text, firm()))

    assert [(e.line, e.field) for e in errors] == [(2, "languages")]


def test_a_re_imported_matter_keeps_a_problem_code_the_firm_has_since_switched_off() -> None:
    stored_matter = replace(
        clean(plan("matters", "external_id,number,name,client\nM-9,PC-9,Case,C-100\n", firm())).creates[0],
        problem_code="retired",
        version=1,
    )
    existing = replace(firm(), problem_codes=frozenset(), matters_by_external_id={"M-9": stored_matter})
    text = "external_id,number,name,client,problem_code\nM-9,PC-9,Case renamed,C-100,retired\n"

    (updated,) = clean(plan("matters", text, existing)).updates

    assert updated.problem_code == "retired" and updated.name == "Case renamed"
