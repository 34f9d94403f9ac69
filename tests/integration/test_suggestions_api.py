"""Matter suggestions through the API: reasons, learning from assignments, automatic assignment."""

from __future__ import annotations

from chalicelib.domain.identity import Role


def firm_with_matters(api, firm_a) -> dict[str, dict]:
    admin = api.token_for(firm_a, Role.FIRM_ADMIN)
    policy = api.call("GET", "/capture/policy", token=admin).body
    policy.update(firm_domains=["lovelace.law"])
    api.call("PUT", "/capture/policy", token=admin, body=policy)
    northwind = api.call(
        "POST", "/clients", token=admin, body={"name": "Northwind", "domains": ["northwind.example"]}
    ).body
    contoso = api.call(
        "POST", "/clients", token=admin, body={"name": "Contoso", "domains": ["contoso.example"]}
    ).body
    matters = {}
    for key, client, number, name in (
        ("dispute", northwind, "2026-0142", "Northwind v. Fabrikam"),
        ("lease", northwind, "2026-0150", "Northwind lease renewal"),
        ("merger", contoso, "2026-0200", "Contoso merger"),
    ):
        matters[key] = api.call(
            "POST",
            "/matters",
            token=admin,
            body={"number": number, "name": name, "client_id": client["client_id"]},
        ).body
    api.call(
        "POST",
        "/contacts",
        token=admin,
        body={"name": "Ann Contoso", "emails": ["ann@contoso.example"], "client_id": contoso["client_id"]},
    )
    api.container.suggestions.forget_index(firm_a.firm.firm_id)
    return matters


def capture(api, token: str, n: int, subject: str, sender: str, conversation: str) -> str:
    body = {
        "id": f"s{n}",
        "type": "read",
        "at": f"2026-03-09T15:{n:02d}:00Z",
        "internet_message_id": f"<s{n}@x>",
        "subject": subject,
        "sender": sender,
        "participants": [sender, "attorney@lovelace.law"],
        "conversation_id": conversation,
    }
    assert api.call("POST", "/capture", token=token, body=body).status == 200
    events = api.call("GET", "/timeline?date=2026-03-09", token=token).body["events"]
    return next(e for e in events if e["subject"] == subject)["event_id"]


def test_a_matter_number_in_the_subject_is_assigned_automatically_and_says_so(api, firm_a) -> None:
    matters = firm_with_matters(api, firm_a)
    attorney = api.token_for(firm_a, Role.ATTORNEY)
    capture(api, attorney, 1, "Re: 2026-0142 deposition schedule", "counsel@fabrikam.example", "c1")
    events = api.call("GET", "/timeline?date=2026-03-09", token=attorney).body
    (event,) = events["events"]
    assert event["matter_id"] == matters["dispute"]["matter_id"]
    assert event["assignment"].startswith("assigned automatically")
    assert events["entries"][0]["status"] == "assigned"


def test_a_known_contact_of_a_client_with_one_open_matter_is_suggested_with_reasons(api, firm_a) -> None:
    matters = firm_with_matters(api, firm_a)
    attorney = api.token_for(firm_a, Role.ATTORNEY)
    event_id = capture(api, attorney, 2, "Closing checklist", "ann@contoso.example", "c2")
    result = api.call("POST", "/suggestions", token=attorney, body={"event_id": event_id}).body
    top = result["suggestions"][0]
    assert top["matter_id"] == matters["merger"]["matter_id"] and top["reasons"]


def test_a_client_with_several_open_matters_is_not_assigned_without_asking_until_the_user_teaches_it(
    api, firm_a
) -> None:
    matters = firm_with_matters(api, firm_a)
    attorney = api.token_for(firm_a, Role.ATTORNEY)
    first = capture(api, attorney, 3, "Lease questions", "bob@northwind.example", "c3")
    result = api.call("POST", "/suggestions", token=attorney, body={"event_id": first}).body
    assert result["decision"] != "auto_assign"
    lease = matters["lease"]["matter_id"]
    assert (
        api.call(
            "POST", "/suggestions/feedback", token=attorney, body={"event_id": first, "matter_id": lease}
        ).status
        == 204
    )
    later = api.call(
        "POST",
        "/suggestions",
        token=attorney,
        body={
            "item": {
                "subject": "More lease questions",
                "sender": "bob@northwind.example",
                "participants": ["bob@northwind.example"],
                "conversation_id": "c3",
            }
        },
    ).body
    assert later["suggestions"][0]["matter_id"] == lease


def test_internal_mail_with_no_other_evidence_abstains(api, firm_a) -> None:
    firm_with_matters(api, firm_a)
    attorney = api.token_for(firm_a, Role.ATTORNEY)
    result = api.call(
        "POST",
        "/suggestions",
        token=attorney,
        body={
            "item": {
                "subject": "Lunch?",
                "sender": "partner@lovelace.law",
                "participants": ["partner@lovelace.law"],
            }
        },
    ).body
    assert result["decision"] == "abstain"


def test_feedback_for_a_matter_of_another_firm_or_an_unknown_item_is_a_404(api, firm_a) -> None:
    matters = firm_with_matters(api, firm_a)
    attorney = api.token_for(firm_a, Role.ATTORNEY)
    event_id = capture(api, attorney, 4, "Hello", "x@y.example", "c4")
    assert (
        api.call(
            "POST", "/suggestions/feedback", token=attorney, body={"event_id": event_id, "matter_id": "nope"}
        ).status
        == 404
    )
    assert (
        api.call(
            "POST",
            "/suggestions/feedback",
            token=attorney,
            body={"event_id": "nope", "matter_id": matters["lease"]["matter_id"]},
        ).status
        == 404
    )
    assert api.call("POST", "/suggestions", token=attorney, body={}).status == 422


def test_assigning_an_entry_in_the_timeline_teaches_the_engine_too(api, firm_a) -> None:
    matters = firm_with_matters(api, firm_a)
    attorney = api.token_for(firm_a, Role.ATTORNEY)
    capture(api, attorney, 5, "Parking at the premises", "carl@northwind.example", "c5")
    entry = api.call("GET", "/timeline?date=2026-03-09", token=attorney).body["entries"][0]
    lease = matters["lease"]["matter_id"]
    api.call(
        "PATCH",
        f"/entries/{entry['entry_id']}",
        token=attorney,
        body={"version": entry["version"], "matter_id": lease},
    )
    later = api.call(
        "POST",
        "/suggestions",
        token=attorney,
        body={
            "item": {
                "subject": "Keys",
                "sender": "carl@northwind.example",
                "participants": ["carl@northwind.example"],
            }
        },
    ).body
    assert later["suggestions"][0]["matter_id"] == lease
    assert any(
        "before" in reason or "chose" in reason or "earlier" in reason
        for reason in later["suggestions"][0]["reasons"]
    )


def test_the_firm_sets_what_its_matter_numbers_look_like_and_a_bad_pattern_is_refused(api, firm_a) -> None:
    admin = api.token_for(firm_a, Role.FIRM_ADMIN)
    policy = api.call("GET", "/capture/policy", token=admin).body
    bad = api.call(
        "PUT", "/capture/policy", token=admin, body={**policy, "matter_number_patterns": ["([0-9"]}
    )
    assert bad.status == 422
    client = api.call("POST", "/clients", token=admin, body={"name": "Tailspin"}).body
    matter = api.call(
        "POST",
        "/matters",
        token=admin,
        body={"number": "TS12345", "name": "Tailspin audit", "client_id": client["client_id"]},
    ).body
    good = api.call(
        "PUT", "/capture/policy", token=admin, body={**policy, "matter_number_patterns": [r"TS\d{5}"]}
    )
    assert good.status == 200 and good.body["matter_number_patterns"] == [r"TS\d{5}"]
    api.container.suggestions.forget_index(firm_a.firm.firm_id)
    attorney = api.token_for(firm_a, Role.ATTORNEY)
    result = api.call(
        "POST", "/suggestions", token=attorney, body={"item": {"subject": "Audit notes ts12345"}}
    ).body
    assert result["suggestions"][0]["matter_id"] == matter["matter_id"]
