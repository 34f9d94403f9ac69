"""The recommended-contractors list of a case opens with default filters: the admin's custom defaults from
the contractor settings page, else filters inherited from the case (the subject of its legal problem code and
the languages its client speaks). A request that names filters replaces the defaults, ``defaults=none`` lists
everyone, and the reply says which filters applied and where they came from."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.contractors import ContractorWorld, seed_contractor_world


@pytest.fixture
def world(api, firm_a) -> ContractorWorld:  # type: ignore[no-untyped-def]
    """Casey (a housing contract attorney), a Spanish and a Vietnamese interpreter, an investigator, and
    the world's case about housing for a client who speaks Spanish."""
    world = seed_contractor_world(api, firm_a)
    version = world.call("GET", "/contractor/lookups/legal_problem_code", token=world.admin)["version"]
    world.call(
        "POST",
        "/contractor/lookups/legal_problem_code/values",
        {"version": version, "key": "housing", "label": "Housing"},
        token=world.admin,
    )
    version = world.call("GET", "/contractor/lookups/contractor_investigation_type", token=world.admin)[
        "version"
    ]
    world.call(
        "POST",
        "/contractor/lookups/contractor_investigation_type/values",
        {"version": version, "key": "surveillance", "label": "Surveillance"},
        token=world.admin,
    )
    for name, kind, values in (
        ("Hablamos Interpreters", "interpreter", ["Spanish"]),
        ("Saigon Language Services", "interpreter", ["Vietnamese"]),
        ("Quiet Eye Investigations", "investigator", ["surveillance"]),
    ):
        world.call(
            "POST",
            "/contractor/contractors",
            {
                "kind": "organization",
                "name": name,
                "assignments": [{"assignment_type": kind, "values": values}],
            },
            token=world.admin,
        )
    matter = world.call("GET", f"/matters/{world.matter_id}", token=world.admin)
    world.call(
        "PATCH",
        f"/matters/{world.matter_id}",
        {"version": matter["version"], "problem_code": "housing", "languages": ["spanish"]},
        token=world.admin,
    )
    return world


def recommended(world: ContractorWorld, query: str = "") -> dict[str, Any]:
    result: dict[str, Any] = world.call(
        "GET", f"/contractor/cases/{world.matter_id}/recommended{query}", token=world.staff
    )
    return result


def names(found: dict[str, Any]) -> list[str]:
    return sorted(r["contractor"]["name"] for r in found["contractors"])


def settings_version(world: ContractorWorld) -> int:
    version: int = world.call("GET", "/contractor/settings", token=world.admin)["version"]
    return version


def save_defaults(world: ContractorWorld, filters: dict[str, Any] | None) -> Any:
    return world.api.call(
        "PUT",
        "/contractor/settings/recommended-list",
        token=world.admin,
        body={"version": settings_version(world), "custom_default_filters": filters},
    )


EVERYONE = [
    "Casey Contractor",
    "Hablamos Interpreters",
    "Quiet Eye Investigations",
    "Saigon Language Services",
]


def test_the_list_opens_with_filters_inherited_from_the_cases_problem_code_and_languages(
    world: ContractorWorld,
) -> None:
    found = recommended(world)

    assert found["source"] == "case"
    assert found["filters"]["values"] == {
        "languages_spoken": ["spanish"],
        "languages_written": ["spanish"],
        "subjects": ["housing"],
    }
    assert found["filters"]["assignment_types"] == []
    # The Vietnamese interpreter is left out; the investigator stays (the case asks nothing of investigators),
    # and "spanish" finds the interpreter who registered "Spanish".
    assert names(found) == ["Casey Contractor", "Hablamos Interpreters", "Quiet Eye Investigations"]


def test_asking_for_no_defaults_lists_everyone(world: ContractorWorld) -> None:
    found = recommended(world, "?defaults=none")

    assert found["source"] == "none"
    assert found["filters"]["values"] == {} and found["filters"]["assignment_types"] == []
    assert names(found) == EVERYONE


def test_filters_named_in_the_request_replace_the_defaults(world: ContractorWorld) -> None:
    found = recommended(world, "?assignment_types=interpreter&languages_spoken=Vietnamese")

    assert found["source"] == "request"
    assert found["filters"]["assignment_types"] == ["interpreter"]
    assert found["filters"]["values"] == {"languages_spoken": ["Vietnamese"]}
    assert names(found) == ["Saigon Language Services"]
    several = recommended(world, "?assignment_types=interpreter,investigator")
    assert names(several) == ["Hablamos Interpreters", "Quiet Eye Investigations", "Saigon Language Services"]
    by_name = recommended(world, "?name=saigon")
    assert (by_name["source"], names(by_name)) == ("request", ["Saigon Language Services"])


def test_a_case_without_a_problem_code_or_languages_has_no_default_filters(world: ContractorWorld) -> None:
    client = world.call("POST", "/clients", {"name": "Plain client"}, token=world.admin)
    bare = world.call(
        "POST",
        "/matters",
        {"number": "2026-777", "name": "Plain", "client_id": client["client_id"]},
        token=world.admin,
    )

    found = world.call("GET", f"/contractor/cases/{bare['matter_id']}/recommended", token=world.staff)

    assert found["source"] == "none"
    assert names(found) == EVERYONE


def test_an_admins_custom_default_filters_replace_the_cases_until_cleared(world: ContractorWorld) -> None:
    saved = save_defaults(
        world,
        {"assignment_types": ["investigator"], "values": {"investigation_types": ["surveillance"]}},
    )
    assert saved.status == 200, saved.text
    assert saved.body["recommended_list"]["custom_default_filters"]["assignment_types"] == ["investigator"]
    settings = world.call("GET", "/contractor/settings", token=world.admin)
    assert settings["recommended_list"]["custom_default_filters"]["values"] == {
        "investigation_types": ["surveillance"]
    }

    found = recommended(world)
    assert found["source"] == "custom"
    assert names(found) == ["Quiet Eye Investigations"]
    # A request still replaces them, and defaults=none still lists everyone.
    assert recommended(world, "?assignment_types=interpreter")["source"] == "request"
    assert names(recommended(world, "?defaults=none")) == EVERYONE

    cleared = save_defaults(world, None)
    assert cleared.status == 200, cleared.text
    assert cleared.body["recommended_list"]["custom_default_filters"] is None
    assert recommended(world)["source"] == "case"


def test_saving_the_rest_of_the_settings_page_keeps_the_custom_default_filters(
    world: ContractorWorld,
) -> None:
    assert save_defaults(world, {"assignment_types": ["translator"]}).status == 200
    world.call(
        "PUT",
        "/contractor/settings",
        {"version": settings_version(world), "replace_name_with_dba_on_invoices": False},
        token=world.admin,
    )

    kept = world.call("GET", "/contractor/settings", token=world.admin)["recommended_list"]
    assert kept["custom_default_filters"]["assignment_types"] == ["translator"]


def test_bad_custom_default_filters_are_refused_by_field_and_change_nothing(world: ContractorWorld) -> None:
    before = world.call("GET", "/contractor/settings", token=world.admin)

    refused = save_defaults(
        world,
        {
            "assignment_types": ["paralegal"],
            "values": {"investigation_types": ["mind_reading"], "languages_spoken": [" "]},
        },
    )

    assert refused.status == 422, refused.text
    prefix = "recommended_list.custom_default_filters."
    assert {e["field"] for e in refused.body["errors"]} == {
        f"{prefix}assignment_types",
        f"{prefix}investigation_types",
        f"{prefix}languages_spoken",
    }
    unknown_attribute = save_defaults(world, {"values": {"shoe_size": ["42"]}})
    assert unknown_attribute.status == 422
    assert world.call("GET", "/contractor/settings", token=world.admin) == before


def test_only_a_contractor_admin_sets_custom_default_filters(world: ContractorWorld) -> None:
    refused = world.api.call(
        "PUT",
        "/contractor/settings/recommended-list",
        token=world.staff,
        body={"version": settings_version(world), "custom_default_filters": {"assignment_types": ["expert"]}},
    )

    assert refused.status == 403
    assert recommended(world)["source"] == "case"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("?assignment_types=paralegal", "assignment_types"),
        ("?investigation_types=mind_reading", "investigation_types"),
        ("?defaults=maybe", "query.defaults"),
        (f"?languages_spoken={'x' * 65}", "languages_spoken"),
    ],
)
def test_bad_request_filters_are_refused_naming_the_parameter(
    world: ContractorWorld, query: str, field: str
) -> None:
    refused = world.api.call(
        "GET", f"/contractor/cases/{world.matter_id}/recommended{query}", token=world.staff
    )

    assert refused.status == 422, refused.text
    assert field in [e["field"] for e in refused.body["errors"]]
