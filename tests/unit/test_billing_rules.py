"""Connection properties, billed-time rounding for billing systems, and what a sync changes."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest

from chalicelib.domain.billing import (
    ConnectionProperties,
    RemoteActivityType,
    RemoteContact,
    RemoteMatter,
    RemoteUser,
    billed_seconds_for,
    note_with_reference,
    parse_properties,
    posting_reference,
    summary_suffix,
)
from chalicelib.domain.billing_sync import plan_sync
from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.identity import Role
from chalicelib.domain.imports import ExistingRecords
from chalicelib.domain.matters import ActivityType, Client, Matter, MatterStatus
from chalicelib.domain.roster import User

NOW = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)


def test_properties_are_read_by_their_documented_names_over_the_current_ones() -> None:
    base = ConnectionProperties(billable_time_rounding_sec=360)
    changed = parse_properties(
        {"SHOW_CLOSED_CASES": "true", "ACTIVITY_TYPES_NON_BILLABLE": "ADMIN, ADMIN,TRAVEL"}, base
    )
    assert changed.show_closed_cases is True
    assert changed.activity_types_non_billable == ("ADMIN", "TRAVEL")
    assert changed.billable_time_rounding_sec == 360
    assert parse_properties(changed.as_named()) == changed


def test_every_bad_property_is_named_and_nothing_is_applied() -> None:
    with pytest.raises(InvalidInput) as raised:
        parse_properties({"SHOW_CLOSED_CASES": "maybe", "BILLABLE_TIME_ROUNDING_SEC": "-6", "COLOUR": "red"})
    assert sorted(e.field for e in raised.value.field_errors) == [
        "BILLABLE_TIME_ROUNDING_SEC",
        "COLOUR",
        "SHOW_CLOSED_CASES",
    ]


@pytest.mark.parametrize(
    ("billed", "unit", "expected"),
    [(360, 0, 360), (360, 360, 360), (361, 360, 720), (1, 900, 900), (0, 360, 0)],
)
def test_the_billing_systems_own_rounding_only_ever_rounds_up(billed: int, unit: int, expected: int) -> None:
    assert billed_seconds_for(billed, unit) == expected


def test_the_summary_and_reference_ride_on_the_narrative() -> None:
    assert summary_suffix(1000.4, 1080) == " (worked 0h17m, billed 0h18m)"
    assert note_with_reference("Call with client", posting_reference("e1")) == "Call with client [ML-e1]"


def _existing(**records: object) -> ExistingRecords:
    return ExistingRecords.of(source="clio", **records)  # type: ignore[arg-type]


def _ids() -> itertools.count[int]:
    return itertools.count(1)


def _plan(existing: ExistingRecords, **remote: object):  # type: ignore[no-untyped-def]
    counter = _ids()
    arguments: dict[str, object] = {
        "remote_users": [],
        "remote_matters": [],
        "remote_contacts": [],
        "remote_activities": [],
        "include_closed": False,
        "activity_types": [],
        **remote,
    }
    return plan_sync(
        firm_id="f1",
        system="clio",
        existing=existing,
        new_id=lambda: f"id{next(counter)}",
        now=NOW,
        **arguments,  # type: ignore[arg-type]
    )


def test_a_matter_imported_before_connecting_is_linked_by_number_not_duplicated() -> None:
    client = Client(firm_id="f1", client_id="c1", name="Acme Manufacturing Inc.")
    matter = Matter(
        firm_id="f1", matter_id="m1", number="2026-0101", name="Acme v. Northwind", client_id="c1"
    )
    plan = _plan(
        _existing(clients=[client], matters=[matter]),
        remote_matters=[
            RemoteMatter("9101", "2026-0101", "Acme v. Northwind", "open", "7001", "Acme Manufacturing Inc.")
        ],
    )
    matter_creates, matter_updates = plan.matters
    client_creates, client_updates = plan.clients
    assert matter_creates == [] and client_creates == []
    assert matter_updates[0].matter_id == "m1" and matter_updates[0].external_ids == {"clio": "9101"}
    assert client_updates[0].external_ids == {"clio": "7001"}


def test_closed_matters_are_created_only_when_asked_but_always_close_a_linked_one() -> None:
    linked = Matter(
        firm_id="f1",
        matter_id="m1",
        number="2026-0118",
        name="Lender",
        client_id="c1",
        external_ids={"clio": "9104"},
    )
    client = Client(firm_id="f1", client_id="c1", name="Brightwater", external_ids={"clio": "7002"})
    remote = [
        RemoteMatter("9104", "2026-0118", "Lender", "closed", "7002", "Brightwater"),
        RemoteMatter("9106", "2025-0877", "Bond counsel", "closed", "7002", "Brightwater"),
    ]
    hidden = _plan(_existing(clients=[client], matters=[linked]), remote_matters=remote)
    assert hidden.matters[0] == []
    assert hidden.matters[1][0].status is MatterStatus.CLOSED and hidden.matters[1][0].closed_on == NOW.date()
    shown = _plan(_existing(clients=[client], matters=[linked]), remote_matters=remote, include_closed=True)
    assert [m.number for m in shown.matters[0]] == ["2025-0877"]


def test_users_are_linked_by_email_and_never_created() -> None:
    alex = User(
        firm_id="f1",
        user_id="u1",
        email="alex@halemercer.example",
        display_name="Alex",
        roles=frozenset({Role.ATTORNEY}),
    )
    plan = _plan(
        _existing(users=[alex]),
        remote_users=[
            RemoteUser("344002", "Alex@HaleMercer.example", "Alex"),
            RemoteUser("344099", "stranger@elsewhere.example", "Stranger"),
            RemoteUser("344100", "gone@elsewhere.example", "Gone", enabled=False),
        ],
    )
    assert [(u.user_id, u.external_ids) for u in plan.users] == [("u1", {"clio": "344002"})]
    assert plan.unmatched_users == ["stranger@elsewhere.example"]


def test_client_contacts_become_clients_and_contacts_with_their_address() -> None:
    plan = _plan(
        _existing(),
        remote_contacts=[
            RemoteContact("7005", "Evergreen Biotech Corp.", None, is_client=True),
            RemoteContact("7106", "Ravi Menon", "Ravi.Menon@evergreenbio.example"),
        ],
    )
    assert [c.name for c in plan.clients[0]] == ["Evergreen Biotech Corp."]
    assert [(c.name, c.emails) for c in plan.contacts[0]] == [
        ("Ravi Menon", ("ravi.menon@evergreenbio.example",))
    ]


def test_activity_types_are_matched_by_name_and_new_ones_get_a_unique_code() -> None:
    existing = [ActivityType(firm_id="f1", code="EMAIL", name="Correspondence", rate="300.00")]
    plan = _plan(
        _existing(),
        activity_types=existing,
        remote_activities=[
            RemoteActivityType("8001", "correspondence", "350.00"),
            RemoteActivityType("8005", "Legal research", "325.00"),
            RemoteActivityType("8007", "Legal Research!", "325.00"),
        ],
    )
    creates, updates = plan.activity_types
    assert [(a.code, a.rate, a.external_ids) for a in updates] == [("EMAIL", "350.00", {"clio": "8001"})]
    assert [a.code for a in creates] == ["LEGAL_RESEARCH", "LEGAL_RESEARCH_2"]


def test_a_record_our_rules_refuse_is_skipped_with_the_reason() -> None:
    plan = _plan(
        _existing(),
        remote_matters=[RemoteMatter("1", "no spaces allowed", "Bad number", "open", "7001", "Acme")],
    )
    assert plan.matters[0] == []
    assert plan.skipped and "number" in plan.skipped[0]


def test_a_person_listed_twice_with_one_address_becomes_one_contact() -> None:
    plan = _plan(
        _existing(),
        remote_contacts=[
            RemoteContact("7004", "Maria Delgado", "maria@delgado-family.example", is_client=True),
            RemoteContact("7105", "Maria Delgado", "Maria@delgado-family.example"),
        ],
    )
    assert [(c.name, c.external_ids) for c in plan.contacts[0]] == [("Maria Delgado", {"clio": "7004"})]
