"""Contractors: users with the contractor role, or (an add-on) contractor organizations; what work they do;
who is assigned to which case; the recommended-contractors list for a case.

An assignment type ("Is this a Contractor Assignment Type?") says what kind of work a contractor does and
which one attribute describes it:

| assignment type | attribute | values from |
| --- | --- | --- |
| Contract Attorney | subjects | the firm's combined list of subjects |
| Expert | subject matter expertise | Contractor Subject Matter Expertise lookup |
| Interpreter | languages spoken | the firm's languages |
| Investigator | investigation types | Contractor Investigation Type lookup |
| Translator | languages written | the firm's languages |

Firms may mark further assignment types as contractor types; those carry no attribute.

The recommended list filters contractors for a case. Filters apply per kind of work: a contractor matches
when ANY of their assignments matches, and an assignment matches when its type is among the wanted types (if
any are named) and it covers EVERY value the filter asks for its attribute. So "subjects: housing; languages
spoken: Spanish" recommends housing contract attorneys and Spanish interpreters, not only people who are
both. Values compare without case ("spanish" finds a "Spanish" interpreter): languages are free text.

The list opens with default filters: the admin's custom defaults (``RecommendedListConfig``, kept on the
contractor settings page) when set, else filters inherited from the case (``CaseFacts``: the subject of its
legal problem code and the languages its client speaks). Inherited defaults ask something of contract
attorneys (the subject), interpreters (speak the language) and translators (write it) only; they do NOT
narrow the list to those types, so experts and investigators, whose attributes the case says nothing about,
are still offered: a case about housing for a Spanish speaker may well need an investigator. Explicit filters
in a request replace the defaults whole (``choose_filters``), and the caller is told which filters applied and
where they came from (``FilterSource``).

Public API:

- ``ContractorKind``, ``ContractorRef``, ``Contractor``, ``AssignmentAttribute``, ``AssignmentType``,
  ``ContractorAssignment``, ``DEFAULT_ASSIGNMENT_TYPES``.
- ``allowed_values_from(*, subjects, expertise, investigation_types, languages=None)``: the values each
  attribute accepts, from the firm's subjects, its two contractor lookups and (optionally) its languages.
- ``validate_contractor(contractor, assignment_types, allowed_values, *, organizations_enabled) -> None``
- ``set_assignments(contractor, assignments, assignment_types, allowed_values) -> Contractor``
- ``CaseAssignment``; ``assign_to_case(contractor, matter, assignment_type, existing, *, at, actor)``;
  ``unassign_from_case(existing, contractor, matter_id, assignment_type) -> CaseAssignment``
- ``CaseFacts``, ``RecommendationFilters``, ``RecommendedListConfig``, ``Recommendation``;
  ``case_facts(matter) -> CaseFacts``; ``default_filters(config, case) -> RecommendationFilters``;
  ``FilterSource``, ``ChosenFilters``, ``RecommendedList``;
  ``choose_filters(config, case, requested, *, use_defaults=True) -> ChosenFilters``;
  ``filter_problems(filters, assignment_types, allowed_values, *, where) -> list[FieldError]``;
  ``validate_filters(filters, assignment_types, allowed_values) -> None``;
  ``recommend(contractors, filters, *, assignment_types, matter_id, case_assignments, open_work_orders,
  over_allocation) -> tuple[Recommendation, ...]``
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

from chalicelib.domain.contractors.lookups import LookupKind, LookupTable
from chalicelib.domain.errors import Conflict, Duplicate, FieldError, InvalidInput, NotFound
from chalicelib.domain.matters import Matter, MatterStatus

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAX_NAME = 200


class ContractorKind(StrEnum):
    USER = "user"
    ORGANIZATION = "organization"


@dataclass(frozen=True, order=True)
class ContractorRef:
    """Who a work order, fee structure or invoice belongs to: a contractor user or organization."""

    kind: ContractorKind
    contractor_id: str

    @property
    def key(self) -> str:
        """``user#u1`` or ``organization#o1``: stable text for keys and logs."""
        return f"{self.kind.value}#{self.contractor_id}"


class AssignmentAttribute(StrEnum):
    SUBJECTS = "subjects"
    SUBJECT_MATTER_EXPERTISE = "subject_matter_expertise"
    LANGUAGES_SPOKEN = "languages_spoken"
    LANGUAGES_WRITTEN = "languages_written"
    INVESTIGATION_TYPES = "investigation_types"


@dataclass(frozen=True)
class AssignmentType:
    """An Assignment Type lookup value; only contractor assignment types can be given to contractors."""

    key: str
    label: str
    is_contractor_type: bool = True
    attribute: AssignmentAttribute | None = None
    active: bool = True


CONTRACT_ATTORNEY = "contract_attorney"
EXPERT = "expert"
INTERPRETER = "interpreter"
INVESTIGATOR = "investigator"
TRANSLATOR = "translator"

DEFAULT_ASSIGNMENT_TYPES: tuple[AssignmentType, ...] = (
    AssignmentType(CONTRACT_ATTORNEY, "Contract Attorney", attribute=AssignmentAttribute.SUBJECTS),
    AssignmentType(EXPERT, "Expert", attribute=AssignmentAttribute.SUBJECT_MATTER_EXPERTISE),
    AssignmentType(INTERPRETER, "Interpreter", attribute=AssignmentAttribute.LANGUAGES_SPOKEN),
    AssignmentType(INVESTIGATOR, "Investigator", attribute=AssignmentAttribute.INVESTIGATION_TYPES),
    AssignmentType(TRANSLATOR, "Translator", attribute=AssignmentAttribute.LANGUAGES_WRITTEN),
)


@dataclass(frozen=True)
class ContractorAssignment:
    """One kind of work a contractor does, with the values of its attribute (languages, subjects...)."""

    assignment_type: str
    values: tuple[str, ...] = ()


@dataclass(frozen=True)
class Contractor:
    """A contractor user (holds the contractor role) or a contractor organization."""

    firm_id: str
    contractor_id: str
    kind: ContractorKind
    name: str
    email: str | None = None
    doing_business_as: str = ""
    assignments: tuple[ContractorAssignment, ...] = ()
    active: bool = True
    version: int = 0

    @property
    def ref(self) -> ContractorRef:
        return ContractorRef(self.kind, self.contractor_id)

    def assignment(self, assignment_type: str) -> ContractorAssignment | None:
        return next((a for a in self.assignments if a.assignment_type == assignment_type), None)


def allowed_values_from(
    *,
    subjects: Iterable[str],
    expertise: LookupTable,
    investigation_types: LookupTable,
    languages: Iterable[str] | None = None,
) -> dict[AssignmentAttribute, frozenset[str]]:
    """What each attribute accepts: the firm's combined subjects, the active values of the Subject Matter
    Expertise and Investigation Type lookups, and its languages (any language, when none are listed)."""
    if expertise.kind is not LookupKind.SUBJECT_MATTER_EXPERTISE:
        raise InvalidInput("expertise values come from the Contractor Subject Matter Expertise lookup")
    if investigation_types.kind is not LookupKind.INVESTIGATION_TYPE:
        raise InvalidInput("investigation types come from the Contractor Investigation Type lookup")
    allowed = {
        AssignmentAttribute.SUBJECTS: frozenset(subjects),
        AssignmentAttribute.SUBJECT_MATTER_EXPERTISE: frozenset(v.key for v in expertise.active_values()),
        AssignmentAttribute.INVESTIGATION_TYPES: frozenset(
            v.key for v in investigation_types.active_values()
        ),
    }
    if languages is not None:
        allowed[AssignmentAttribute.LANGUAGES_SPOKEN] = frozenset(languages)
        allowed[AssignmentAttribute.LANGUAGES_WRITTEN] = frozenset(languages)
    return allowed


def validate_contractor(
    contractor: Contractor,
    assignment_types: Mapping[str, AssignmentType],
    allowed_values: Mapping[AssignmentAttribute, frozenset[str]],
    *,
    organizations_enabled: bool,
) -> None:
    """Every problem with a contractor at once. ``allowed_values`` lists the valid values per attribute;
    an attribute missing from it accepts any non-empty value (languages are free text in some firms)."""
    problems: list[FieldError] = []
    if contractor.kind is ContractorKind.ORGANIZATION and not organizations_enabled:
        problems.append(
            FieldError("kind", "contractor organizations are an add-on this firm has not enabled")
        )
    if not contractor.name.strip():
        problems.append(FieldError("name", "a contractor needs a name"))
    elif len(contractor.name) > MAX_NAME:
        problems.append(FieldError("name", f"at most {MAX_NAME} characters"))
    if contractor.email is not None and not _EMAIL.match(contractor.email):
        problems.append(FieldError("email", f"'{contractor.email}' is not an email address"))
    if len(contractor.doing_business_as) > MAX_NAME:
        problems.append(FieldError("doing_business_as", f"at most {MAX_NAME} characters"))
    problems.extend(_assignment_problems(contractor.assignments, assignment_types, allowed_values))
    if problems:
        raise InvalidInput("the contractor is not valid", field_errors=problems)


def set_assignments(
    contractor: Contractor,
    assignments: Iterable[ContractorAssignment],
    assignment_types: Mapping[str, AssignmentType],
    allowed_values: Mapping[AssignmentAttribute, frozenset[str]],
) -> Contractor:
    """The contractor with a new set of assignment types (a contractor may have several)."""
    cleaned = tuple(
        ContractorAssignment(a.assignment_type, tuple(sorted({v.strip() for v in a.values if v.strip()})))
        for a in assignments
    )
    problems = _assignment_problems(cleaned, assignment_types, allowed_values)
    if problems:
        raise InvalidInput("the assignment types are not valid", field_errors=problems)
    return replace(contractor, assignments=cleaned)


def _assignment_problems(
    assignments: tuple[ContractorAssignment, ...],
    assignment_types: Mapping[str, AssignmentType],
    allowed_values: Mapping[AssignmentAttribute, frozenset[str]],
) -> list[FieldError]:
    problems: list[FieldError] = []
    seen: set[str] = set()
    for index, assignment in enumerate(assignments):
        where = f"assignments[{index}]"
        kind = assignment_types.get(assignment.assignment_type)
        if kind is None or not kind.is_contractor_type or not kind.active:
            problems.append(
                FieldError(
                    where, f"'{assignment.assignment_type}' is not an active contractor assignment type"
                )
            )
            continue
        if assignment.assignment_type in seen:
            problems.append(FieldError(where, f"'{kind.label}' is listed twice"))
        seen.add(assignment.assignment_type)
        if kind.attribute is None:
            if assignment.values:
                problems.append(FieldError(where, f"'{kind.label}' takes no values"))
            continue
        allowed = allowed_values.get(kind.attribute)
        for value in assignment.values:
            if not value.strip():
                problems.append(FieldError(where, "values must not be empty"))
            elif allowed is not None and value not in allowed:
                problems.append(
                    FieldError(where, f"'{value}' is not one of the {kind.attribute.value} values")
                )
    return problems


@dataclass(frozen=True)
class CaseAssignment:
    """A contractor assigned to a case for one kind of work."""

    firm_id: str
    matter_id: str
    contractor: ContractorRef
    assignment_type: str
    assigned_at: datetime | None = None
    assigned_by: str = ""


def assign_to_case(
    contractor: Contractor,
    matter: Matter,
    assignment_type: str,
    existing: Iterable[CaseAssignment],
    *,
    at: datetime,
    actor: str,
) -> CaseAssignment:
    """Assign a contractor to a case for a kind of work they do."""
    if not contractor.active:
        raise Conflict(f"{contractor.name} is not an active contractor; reactivate them first")
    if matter.status is MatterStatus.CLOSED:
        raise Conflict(f"case {matter.number} is closed; reopen it before assigning contractors")
    if contractor.assignment(assignment_type) is None:
        raise InvalidInput(
            f"{contractor.name} does not do '{assignment_type}' work; add that assignment type to them first",
            field_errors=[FieldError("assignment_type", "not one of the contractor's assignment types")],
        )
    for assignment in existing:
        if (
            assignment.matter_id == matter.matter_id
            and assignment.contractor == contractor.ref
            and assignment.assignment_type == assignment_type
        ):
            raise Duplicate(
                f"{contractor.name} is already assigned to case {matter.number} as {assignment_type}"
            )
    return CaseAssignment(matter.firm_id, matter.matter_id, contractor.ref, assignment_type, at, actor)


def unassign_from_case(
    existing: Iterable[CaseAssignment], contractor: ContractorRef, matter_id: str, assignment_type: str
) -> CaseAssignment:
    """The assignment to remove; refused when there is none."""
    for assignment in existing:
        if (
            assignment.matter_id == matter_id
            and assignment.contractor == contractor
            and assignment.assignment_type == assignment_type
        ):
            return assignment
    raise NotFound(f"{contractor.key} is not assigned to this case as {assignment_type}")


@dataclass(frozen=True)
class CaseFacts:
    """What the recommended list's default filters read from a case."""

    matter_id: str
    subjects: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()


@dataclass(frozen=True)
class RecommendationFilters:
    """Filters of the recommended-contractors list; empty means "any"."""

    assignment_types: frozenset[str] = frozenset()
    values: Mapping[AssignmentAttribute, frozenset[str]] = field(default_factory=dict)
    name_contains: str = ""
    include_already_assigned: bool = False
    include_over_allocation: bool = False


@dataclass(frozen=True)
class RecommendedListConfig:
    """The list view's configuration: an admin's custom default filters replace those from the case."""

    custom_default_filters: RecommendationFilters | None = None


@dataclass(frozen=True)
class Recommendation:
    contractor: Contractor
    matched_types: tuple[str, ...]
    open_work_orders: int
    already_assigned: bool


class FilterSource(StrEnum):
    """Where the filters a recommended list applied came from."""

    CUSTOM = "custom"  # the admin's custom default filters
    CASE = "case"  # inherited from the case's problem code and languages
    REQUEST = "request"  # the caller named them
    NONE = "none"  # no filter: the caller asked for none, or the case gave nothing to inherit


@dataclass(frozen=True)
class ChosenFilters:
    """The filters a recommended list applies and where they came from."""

    filters: RecommendationFilters
    source: FilterSource


@dataclass(frozen=True)
class RecommendedList:
    """A case's recommended contractors with the filters that chose them."""

    recommendations: tuple[Recommendation, ...]
    filters: RecommendationFilters
    source: FilterSource


MAX_FILTER_TYPES = 10
MAX_FILTER_VALUES = 20
MAX_FILTER_VALUE = 64
MAX_FILTER_NAME = 100


def case_facts(matter: Matter) -> CaseFacts:
    """What a case offers the default filters: its problem code (contract attorneys' subjects are the
    firm's legal problem codes) and the languages its client speaks."""
    subjects = (matter.problem_code,) if matter.problem_code else ()
    return CaseFacts(matter.matter_id, subjects=subjects, languages=matter.languages)


def default_filters(config: RecommendedListConfig, case: CaseFacts) -> RecommendationFilters:
    """The filters the list opens with: the admin's custom defaults, or ones inherited from the case."""
    if config.custom_default_filters is not None:
        return config.custom_default_filters
    values: dict[AssignmentAttribute, frozenset[str]] = {}
    if case.subjects:
        values[AssignmentAttribute.SUBJECTS] = frozenset(case.subjects)
    if case.languages:
        # A client's language is what an interpreter must speak and a translator must write.
        values[AssignmentAttribute.LANGUAGES_SPOKEN] = frozenset(case.languages)
        values[AssignmentAttribute.LANGUAGES_WRITTEN] = frozenset(case.languages)
    return RecommendationFilters(values=values)


def choose_filters(
    config: RecommendedListConfig,
    case: CaseFacts,
    requested: RecommendationFilters | None,
    *,
    use_defaults: bool = True,
) -> ChosenFilters:
    """The filters to apply: the request's when it names any (they replace the defaults whole, so a user
    who changed one filter sees exactly what they asked for), else none when the caller asked for no
    defaults, else the default filters (``default_filters``)."""
    if requested is not None:
        return ChosenFilters(requested, FilterSource.REQUEST)
    if not use_defaults:
        return ChosenFilters(RecommendationFilters(), FilterSource.NONE)
    if config.custom_default_filters is not None:
        return ChosenFilters(config.custom_default_filters, FilterSource.CUSTOM)
    inherited = default_filters(config, case)
    # A case without a problem code or languages filters nothing: say so rather than "from the case".
    return ChosenFilters(inherited, FilterSource.CASE if inherited.values else FilterSource.NONE)


def filter_problems(
    filters: RecommendationFilters,
    assignment_types: Mapping[str, AssignmentType],
    allowed_values: Mapping[AssignmentAttribute, frozenset[str]],
    *,
    where: str = "",
) -> list[FieldError]:
    """What is wrong with recommended-list filters, checked like contractors' assignments: types must be
    active contractor assignment types, and values of an attribute with a lookup (``allowed_values``)
    must be among its values; others are free text of 1 to ``MAX_FILTER_VALUE`` characters. ``where``
    prefixes each field name (``recommended_list.custom_default_filters.``)."""
    problems: list[FieldError] = []
    if len(filters.assignment_types) > MAX_FILTER_TYPES:
        problems.append(FieldError(f"{where}assignment_types", f"at most {MAX_FILTER_TYPES} types"))
    for key in sorted(filters.assignment_types):
        kind = assignment_types.get(key)
        if kind is None or not kind.is_contractor_type or not kind.active:
            problems.append(
                FieldError(f"{where}assignment_types", f"'{key}' is not an active contractor assignment type")
            )
    for attribute, values in sorted(filters.values.items()):
        name = f"{where}{attribute.value}"
        if len(values) > MAX_FILTER_VALUES:
            problems.append(FieldError(name, f"at most {MAX_FILTER_VALUES} values"))
        allowed = allowed_values.get(attribute)
        for value in sorted(values):
            if not value.strip() or len(value) > MAX_FILTER_VALUE:
                problems.append(FieldError(name, f"values are 1 to {MAX_FILTER_VALUE} characters"))
            elif allowed is not None and value not in allowed:
                problems.append(FieldError(name, f"'{value}' is not one of the {attribute.value} values"))
    if len(filters.name_contains) > MAX_FILTER_NAME:
        problems.append(FieldError(f"{where}name", f"at most {MAX_FILTER_NAME} characters"))
    return problems


def validate_filters(
    filters: RecommendationFilters,
    assignment_types: Mapping[str, AssignmentType],
    allowed_values: Mapping[AssignmentAttribute, frozenset[str]],
) -> None:
    """Refuse filters with any problem (``filter_problems``), every problem at once."""
    problems = filter_problems(filters, assignment_types, allowed_values)
    if problems:
        raise InvalidInput("the filters are not valid", field_errors=problems)


def recommend(
    contractors: Iterable[Contractor],
    filters: RecommendationFilters,
    *,
    assignment_types: Mapping[str, AssignmentType],
    matter_id: str,
    case_assignments: Iterable[CaseAssignment] = (),
    open_work_orders: Mapping[ContractorRef, int] | None = None,
    over_allocation: frozenset[ContractorRef] = frozenset(),
) -> tuple[Recommendation, ...]:
    """Active contractors matching the filters, the least busy first (open work orders), then by name."""
    open_counts = open_work_orders or {}
    assigned = {a.contractor for a in case_assignments if a.matter_id == matter_id}
    needle = filters.name_contains.strip().casefold()
    found: list[Recommendation] = []
    for contractor in contractors:
        if not contractor.active:
            continue
        if contractor.ref in over_allocation and not filters.include_over_allocation:
            continue
        already = contractor.ref in assigned
        if already and not filters.include_already_assigned:
            continue
        if (
            needle
            and needle not in contractor.name.casefold()
            and needle not in contractor.doing_business_as.casefold()
        ):
            continue
        matched = tuple(
            a.assignment_type
            for a in contractor.assignments
            if _assignment_matches(a, filters, assignment_types)
        )
        if not matched:
            continue
        found.append(Recommendation(contractor, matched, open_counts.get(contractor.ref, 0), already))
    found.sort(key=lambda r: (r.open_work_orders, r.contractor.name.casefold(), r.contractor.contractor_id))
    return tuple(found)


def _assignment_matches(
    assignment: ContractorAssignment,
    filters: RecommendationFilters,
    assignment_types: Mapping[str, AssignmentType],
) -> bool:
    kind = assignment_types.get(assignment.assignment_type)
    if kind is None or not kind.is_contractor_type or not kind.active:
        return False
    if filters.assignment_types and assignment.assignment_type not in filters.assignment_types:
        return False
    if kind.attribute is None:
        return True
    wanted = {v.casefold() for v in filters.values.get(kind.attribute, frozenset())}
    return wanted <= {v.casefold() for v in assignment.values}
