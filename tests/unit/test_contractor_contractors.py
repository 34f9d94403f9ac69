"""Contractors are users or organizations with assignment types and their attributes; they are assigned to
cases for work they do; the recommended list filters them for a case, by default from the case's data."""

from __future__ import annotations

from dataclasses import replace

import pytest

from chalicelib.domain.contractors.contractors import (
    CONTRACT_ATTORNEY,
    EXPERT,
    INTERPRETER,
    INVESTIGATOR,
    TRANSLATOR,
    AssignmentAttribute,
    AssignmentType,
    CaseAssignment,
    CaseFacts,
    Contractor,
    ContractorAssignment,
    ContractorKind,
    FilterSource,
    RecommendationFilters,
    RecommendedListConfig,
    allowed_values_from,
    assign_to_case,
    case_facts,
    choose_filters,
    default_filters,
    filter_problems,
    recommend,
    set_assignments,
    unassign_from_case,
    validate_contractor,
)
from chalicelib.domain.contractors.lookups import LookupKind, LookupTable, new_user_value
from chalicelib.domain.errors import Conflict, Duplicate, InvalidInput, NotFound
from chalicelib.domain.matters import MatterStatus
from tests.support.contractors import ACME, ALICE, AT, BOB, CASE_ONE, FIRM, TYPES

ALLOWED = {
    AssignmentAttribute.SUBJECTS: frozenset({"housing", "family", "benefits"}),
    AssignmentAttribute.SUBJECT_MATTER_EXPERTISE: frozenset({"forensic accounting", "toxicology"}),
    AssignmentAttribute.INVESTIGATION_TYPES: frozenset({"surveillance", "skip tracing"}),
}
CARLA = Contractor(
    FIRM,
    "u-carla",
    ContractorKind.USER,
    "Carla Cruz",
    assignments=(
        ContractorAssignment(INTERPRETER, ("Spanish", "Mixtec")),
        ContractorAssignment(TRANSLATOR, ("Spanish",)),
    ),
)
DEV = Contractor(
    FIRM,
    "u-dev",
    ContractorKind.USER,
    "Dev Patel",
    assignments=(ContractorAssignment(CONTRACT_ATTORNEY, ("benefits",)),),
)
ERIN = Contractor(
    FIRM,
    "u-erin",
    ContractorKind.USER,
    "Erin Ortiz",
    assignments=(ContractorAssignment(EXPERT, ("toxicology",)),),
)
EVERYONE = [ALICE, BOB, ACME, CARLA, DEV, ERIN]


def test_the_five_named_contractor_assignment_types_each_carry_their_attribute() -> None:
    assert {k: t.attribute for k, t in TYPES.items()} == {
        CONTRACT_ATTORNEY: AssignmentAttribute.SUBJECTS,
        EXPERT: AssignmentAttribute.SUBJECT_MATTER_EXPERTISE,
        INTERPRETER: AssignmentAttribute.LANGUAGES_SPOKEN,
        INVESTIGATOR: AssignmentAttribute.INVESTIGATION_TYPES,
        TRANSLATOR: AssignmentAttribute.LANGUAGES_WRITTEN,
    }


def test_a_valid_contractor_may_have_several_assignment_types() -> None:
    validate_contractor(ALICE, TYPES, ALLOWED, organizations_enabled=False)
    assert ALICE.assignment(INTERPRETER) is not None and ALICE.assignment(EXPERT) is None


@pytest.mark.parametrize(
    ("contractor", "field"),
    [
        (replace(ALICE, name=" "), "name"),
        (replace(ALICE, email="alice"), "email"),
        (replace(ALICE, doing_business_as="x" * 201), "doing_business_as"),
        (ACME, "kind"),
        (replace(ALICE, assignments=(ContractorAssignment("paralegal"),)), "assignments[0]"),
        (replace(ALICE, assignments=(ContractorAssignment(CONTRACT_ATTORNEY, ("tax",)),)), "assignments[0]"),
        (replace(ALICE, assignments=(ContractorAssignment(EXPERT, ("toxicology",)),) * 2), "assignments[1]"),
    ],
)
def test_a_contractor_with_bad_details_is_refused_naming_the_field(
    contractor: Contractor, field: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        validate_contractor(contractor, TYPES, ALLOWED, organizations_enabled=False)
    assert field in [e.field for e in refused.value.field_errors]


def test_attributes_without_a_configured_list_accept_any_value_and_types_without_attributes_take_none() -> (
    None
):
    courier = AssignmentType("courier", "Courier")
    types = {**TYPES, "courier": courier}
    updated = set_assignments(
        ALICE,
        [ContractorAssignment(INTERPRETER, (" Tagalog ", "Tagalog", "")), ContractorAssignment("courier")],
        types,
        ALLOWED,
    )
    assert updated.assignments == (
        ContractorAssignment(INTERPRETER, ("Tagalog",)),
        ContractorAssignment("courier", ()),
    )
    with pytest.raises(InvalidInput, match="not valid"):
        set_assignments(ALICE, [ContractorAssignment("courier", ("x",))], types, ALLOWED)
    not_for_contractors = {**TYPES, "intake": AssignmentType("intake", "Intake", is_contractor_type=False)}
    with pytest.raises(InvalidInput):
        set_assignments(ALICE, [ContractorAssignment("intake")], not_for_contractors, ALLOWED)


def test_the_allowed_values_come_from_the_firms_subjects_lookups_and_languages() -> None:
    expertise = LookupTable(LookupKind.SUBJECT_MATTER_EXPERTISE).add(
        new_user_value(LookupKind.SUBJECT_MATTER_EXPERTISE, "toxicology", "Toxicology")
    )
    retired = replace(new_user_value(LookupKind.INVESTIGATION_TYPE, "wiretap", "Wiretap"), active=False)
    investigations = LookupTable(LookupKind.INVESTIGATION_TYPE).add(retired)
    allowed = allowed_values_from(
        subjects=["housing"], expertise=expertise, investigation_types=investigations, languages=["Spanish"]
    )
    assert allowed[AssignmentAttribute.SUBJECT_MATTER_EXPERTISE] == {"toxicology"}
    assert allowed[AssignmentAttribute.INVESTIGATION_TYPES] == frozenset()
    assert allowed[AssignmentAttribute.LANGUAGES_WRITTEN] == {"Spanish"}
    free_languages = allowed_values_from(subjects=[], expertise=expertise, investigation_types=investigations)
    assert AssignmentAttribute.LANGUAGES_SPOKEN not in free_languages
    with pytest.raises(InvalidInput):
        allowed_values_from(subjects=[], expertise=investigations, investigation_types=investigations)


# ------------------------------------------------------------------ assigning to a case


def test_a_contractor_is_assigned_to_a_case_for_work_they_do() -> None:
    assignment = assign_to_case(ALICE, CASE_ONE, INTERPRETER, [], at=AT, actor="user:s-sam")
    assert (assignment.matter_id, assignment.contractor, assignment.assignment_type) == (
        "m1",
        ALICE.ref,
        INTERPRETER,
    )


def test_assignment_is_refused_for_work_they_do_not_do_twice_to_a_closed_case_or_when_inactive() -> None:
    with pytest.raises(InvalidInput, match="does not do"):
        assign_to_case(ALICE, CASE_ONE, INVESTIGATOR, [], at=AT, actor="a")
    existing = [CaseAssignment(FIRM, "m1", ALICE.ref, INTERPRETER)]
    with pytest.raises(Duplicate):
        assign_to_case(ALICE, CASE_ONE, INTERPRETER, existing, at=AT, actor="a")
    with pytest.raises(Conflict, match="closed"):
        assign_to_case(
            ALICE, replace(CASE_ONE, status=MatterStatus.CLOSED), INTERPRETER, [], at=AT, actor="a"
        )
    with pytest.raises(Conflict, match="not an active"):
        assign_to_case(replace(ALICE, active=False), CASE_ONE, INTERPRETER, [], at=AT, actor="a")


def test_unassigning_finds_the_assignment_or_says_there_is_none() -> None:
    existing = [CaseAssignment(FIRM, "m1", ALICE.ref, INTERPRETER)]
    assert unassign_from_case(existing, ALICE.ref, "m1", INTERPRETER) == existing[0]
    with pytest.raises(NotFound):
        unassign_from_case(existing, ALICE.ref, "m1", TRANSLATOR)


# ------------------------------------------------------------------ recommended list


def names(filters: RecommendationFilters, **extra: object) -> list[str]:
    found = recommend(EVERYONE, filters, assignment_types=TYPES, matter_id="m1", **extra)  # type: ignore[arg-type]
    return [r.contractor.name for r in found]


def test_without_filters_every_active_contractor_is_recommended_least_busy_first() -> None:
    busy = {ALICE.ref: 3, BOB.ref: 1}
    assert names(RecommendationFilters(), open_work_orders=busy) == [
        "Acme Translation Co",
        "Carla Cruz",
        "Dev Patel",
        "Erin Ortiz",
        "Bob Barnes",
        "Alice Avery",
    ]


def test_filters_apply_per_kind_of_work() -> None:
    spanish_or_housing = RecommendationFilters(
        values={
            AssignmentAttribute.LANGUAGES_SPOKEN: frozenset({"Spanish"}),
            AssignmentAttribute.SUBJECTS: frozenset({"housing"}),
        },
        assignment_types=frozenset({INTERPRETER, CONTRACT_ATTORNEY}),
    )
    assert names(spanish_or_housing) == ["Alice Avery", "Carla Cruz"]


def test_every_requested_value_of_an_attribute_must_be_covered() -> None:
    both_languages = RecommendationFilters(
        assignment_types=frozenset({INTERPRETER}),
        values={AssignmentAttribute.LANGUAGES_SPOKEN: frozenset({"Spanish", "Mixtec"})},
    )
    assert names(both_languages) == ["Carla Cruz"]


def test_the_name_filter_searches_names_and_dba_names() -> None:
    assert names(RecommendationFilters(name_contains="avery legal")) == ["Alice Avery"]


def test_contractors_already_on_the_case_or_over_allocation_are_left_out_unless_asked_for() -> None:
    on_case = [
        CaseAssignment(FIRM, "m1", DEV.ref, CONTRACT_ATTORNEY),
        CaseAssignment(FIRM, "m2", ERIN.ref, EXPERT),
    ]
    found = names(RecommendationFilters(), case_assignments=on_case, over_allocation=frozenset({BOB.ref}))
    assert "Dev Patel" not in found and "Bob Barnes" not in found and "Erin Ortiz" in found
    everyone = recommend(
        EVERYONE,
        RecommendationFilters(include_already_assigned=True, include_over_allocation=True),
        assignment_types=TYPES,
        matter_id="m1",
        case_assignments=on_case,
        over_allocation=frozenset({BOB.ref}),
    )
    assert [r.already_assigned for r in everyone if r.contractor == DEV] == [True]


def test_inactive_contractors_and_inactive_assignment_types_are_not_recommended() -> None:
    retired_types = {**TYPES, EXPERT: replace(TYPES[EXPERT], active=False)}
    found = recommend(
        [replace(ALICE, active=False), ERIN, BOB],
        RecommendationFilters(),
        assignment_types=retired_types,
        matter_id="m1",
    )
    assert [r.contractor.name for r in found] == ["Bob Barnes"]


def test_default_filters_come_from_the_case_unless_an_admin_configured_custom_ones() -> None:
    case = CaseFacts("m1", subjects=("housing",), languages=("Spanish",))
    inherited = default_filters(RecommendedListConfig(), case)
    assert inherited.values == {
        AssignmentAttribute.SUBJECTS: frozenset({"housing"}),
        AssignmentAttribute.LANGUAGES_SPOKEN: frozenset({"Spanish"}),
        AssignmentAttribute.LANGUAGES_WRITTEN: frozenset({"Spanish"}),
    }
    # Housing attorneys, Spanish interpreters and translators; experts and investigators are not constrained.
    assert names(inherited) == [
        "Acme Translation Co",
        "Alice Avery",
        "Bob Barnes",
        "Carla Cruz",
        "Erin Ortiz",
    ]
    custom = RecommendationFilters(assignment_types=frozenset({INVESTIGATOR}))
    assert default_filters(RecommendedListConfig(custom), case) is custom
    assert default_filters(RecommendedListConfig(), CaseFacts("m1")) == RecommendationFilters()


def test_a_recommendation_says_which_of_the_contractors_assignment_types_matched() -> None:
    (alice,) = recommend(
        [ALICE],
        RecommendationFilters(assignment_types=frozenset({INTERPRETER})),
        assignment_types=TYPES,
        matter_id="m1",
    )
    assert alice.matched_types == (INTERPRETER,)


# ------------------------------------------------------------------ default filters


HOUSING_SPANISH = CaseFacts("m1", subjects=("housing",), languages=("Spanish",))


def test_a_cases_facts_are_the_subject_of_its_problem_code_and_its_clients_languages() -> None:
    case = replace(CASE_ONE, problem_code="housing", languages=("Spanish", "Mixtec"))
    assert case_facts(case) == CaseFacts("m1", subjects=("housing",), languages=("Spanish", "Mixtec"))
    assert case_facts(CASE_ONE) == CaseFacts("m1")


def test_languages_match_whatever_their_case() -> None:
    lower = RecommendationFilters(
        assignment_types=frozenset({INTERPRETER}),
        values={AssignmentAttribute.LANGUAGES_SPOKEN: frozenset({"spanish"})},
    )
    assert names(lower) == ["Alice Avery", "Carla Cruz"]


def test_inherited_defaults_ask_languages_of_interpreters_and_translators_without_narrowing_types() -> None:
    inherited = default_filters(RecommendedListConfig(), CaseFacts("m1", languages=("Mixtec",)))
    # Carla interprets Mixtec; Alice (Spanish only) still comes as a contract attorney, Bob and Erin
    # because the case asks nothing of investigators and experts; Acme translates no Mixtec.
    assert names(inherited) == ["Alice Avery", "Bob Barnes", "Carla Cruz", "Dev Patel", "Erin Ortiz"]
    (alice,) = [
        r
        for r in recommend(EVERYONE, inherited, assignment_types=TYPES, matter_id="m1")
        if r.contractor == ALICE
    ]
    assert alice.matched_types == (CONTRACT_ATTORNEY,)


def test_the_list_opens_with_the_filters_inherited_from_the_case() -> None:
    chosen = choose_filters(RecommendedListConfig(), HOUSING_SPANISH, None)
    assert chosen.source is FilterSource.CASE
    assert chosen.filters == default_filters(RecommendedListConfig(), HOUSING_SPANISH)


def test_an_admins_custom_default_filters_replace_those_of_the_case() -> None:
    custom = RecommendationFilters(assignment_types=frozenset({INVESTIGATOR}), include_already_assigned=True)
    chosen = choose_filters(RecommendedListConfig(custom), HOUSING_SPANISH, None)
    assert (chosen.filters, chosen.source) == (custom, FilterSource.CUSTOM)


def test_filters_named_in_a_request_replace_any_defaults_whole() -> None:
    asked = RecommendationFilters(name_contains="carla")
    custom = RecommendedListConfig(RecommendationFilters(assignment_types=frozenset({INVESTIGATOR})))
    for config in (RecommendedListConfig(), custom):
        chosen = choose_filters(config, HOUSING_SPANISH, asked)
        assert (chosen.filters, chosen.source) == (asked, FilterSource.REQUEST)


def test_asking_for_no_defaults_or_a_case_without_data_gives_the_unfiltered_list() -> None:
    custom = RecommendedListConfig(RecommendationFilters(assignment_types=frozenset({INVESTIGATOR})))
    no_defaults = choose_filters(custom, HOUSING_SPANISH, None, use_defaults=False)
    assert (no_defaults.filters, no_defaults.source) == (RecommendationFilters(), FilterSource.NONE)
    bare_case = choose_filters(RecommendedListConfig(), CaseFacts("m1"), None)
    assert (bare_case.filters, bare_case.source) == (RecommendationFilters(), FilterSource.NONE)


def test_filters_are_checked_like_assignments_naming_each_wrong_field() -> None:
    bad = RecommendationFilters(
        assignment_types=frozenset({"paralegal", INTERPRETER}),
        values={
            AssignmentAttribute.INVESTIGATION_TYPES: frozenset({"mind reading"}),
            AssignmentAttribute.LANGUAGES_SPOKEN: frozenset({"x" * 65}),
            AssignmentAttribute.SUBJECTS: frozenset({"housing"}),
        },
    )
    problems = filter_problems(bad, TYPES, ALLOWED, where="custom.")
    assert [(p.field, p.message) for p in problems] == [
        ("custom.assignment_types", "'paralegal' is not an active contractor assignment type"),
        ("custom.investigation_types", "'mind reading' is not one of the investigation_types values"),
        ("custom.languages_spoken", "values are 1 to 64 characters"),
    ]
    good = RecommendationFilters(
        assignment_types=frozenset({EXPERT}),
        values={AssignmentAttribute.SUBJECT_MATTER_EXPERTISE: frozenset({"toxicology"})},
    )
    assert filter_problems(good, TYPES, ALLOWED) == []
