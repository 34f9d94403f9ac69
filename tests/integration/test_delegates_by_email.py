"""An attorney names a delegate by email: attorneys cannot read the roster, so they know no user ids."""

from __future__ import annotations

import pytest

from chalicelib.domain.identity import Role


def put(api, firm_a, delegates: list[dict[str, str]]):  # type: ignore[no-untyped-def]
    token = api.token_for(firm_a, Role.ATTORNEY)
    return api.call("PUT", "/me/delegates", token=token, body={"version": 0, "delegates": delegates})


def test_an_attorney_makes_a_delegate_by_their_email_in_any_case(api, firm_a) -> None:
    assistant = firm_a.people[Role.ASSISTANT]
    saved = put(api, firm_a, [{"email": assistant.email.upper(), "access": "view"}])
    assert saved.status == 200, saved.text
    assert [(d["user_id"], d["email"], d["access"]) for d in saved.body["delegates"]] == [
        (assistant.user_id, assistant.email, "view")
    ]
    mine = api.call("GET", "/me/delegates", token=api.token_for(firm_a, Role.ASSISTANT)).body
    assert [p["user_id"] for p in mine["acting_for"]] == [firm_a.people[Role.ATTORNEY].user_id]


@pytest.mark.parametrize(
    ("delegate", "field", "says"),
    [
        (
            {"email": "nobody@lovelace.law"},
            "delegates[0].email",
            "nobody@lovelace.law is not an active person",
        ),
        ({"email": "assistant-at-lovelace"}, "body.delegates.0.email", "pattern"),
        ({"access": "act"}, "body.delegates.0", "user_id or by email"),
        ({"user_id": "x", "email": "x@lovelace.law"}, "body.delegates.0", "user_id or by email"),
    ],
    ids=["unknown email", "not an email", "nobody named", "named twice"],
)
def test_a_delegate_email_that_names_nobody_is_refused_on_that_field_and_changes_nothing(
    api, firm_a, memory_table, delegate, field, says
) -> None:
    before = memory_table.all_items()
    reply = put(api, firm_a, [delegate])
    assert reply.status == 422, reply.text
    assert any(e["field"] == field and says in e["message"] for e in reply.body["errors"]), reply.body
    assert memory_table.all_items() == before


def test_the_same_person_by_id_and_by_email_is_listed_twice(api, firm_a) -> None:
    assistant = firm_a.people[Role.ASSISTANT]
    reply = put(api, firm_a, [{"user_id": assistant.user_id}, {"email": assistant.email}])
    assert reply.status == 422
    assert [e["field"] for e in reply.body["errors"]] == ["delegates[1].email"]
