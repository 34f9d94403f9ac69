"""Clients, matters, contacts, activity types and the UTBMS code set."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from chalice import Blueprint, Response

from chalicelib.api.matter_schemas import (
    ActivityTypeIn,
    ActivityTypeOut,
    ClientIn,
    ClientOut,
    ClientPage,
    ClientSearch,
    ClientUpdate,
    CloseMatter,
    CodeOut,
    ContactIn,
    ContactOut,
    ContactPage,
    ContactSearch,
    ContactUpdate,
    ImportIn,
    ImportOut,
    ImportRowError,
    JobOut,
    MatterIn,
    MatterOut,
    MatterPage,
    MatterSearch,
    MatterUpdate,
    UtbmsOut,
)
from chalicelib.api.routing import Api, Call, services

if TYPE_CHECKING:
    from chalicelib.domain.imports import ImportKind

matters = Blueprint(__name__)
api = Api(matters, "matters")


@api.route(
    "/clients",
    "GET",
    summary="The firm's clients, or those whose name starts with `name`",
    query=ClientSearch,
    response=ClientPage,
)
def list_clients(call: Call) -> ClientPage:
    query: ClientSearch = call.query
    page = services().matters.clients(call.principal, query.name, query.cursor, query.limit)
    return ClientPage(items=[ClientOut.of(c) for c in page.items], next_cursor=page.next_cursor)


@api.route("/clients", "POST", summary="Add a client", body=ClientIn, response=ClientOut, status=201)
def create_client(call: Call) -> ClientOut:
    return ClientOut.of(services().matters.create_client(call.principal, **call.body.fields()))


@api.route("/clients/{client_id}", "GET", summary="One client", response=ClientOut)
def get_client(call: Call, client_id: str) -> ClientOut:
    return ClientOut.of(services().matters.client(call.principal, client_id))


@api.route("/clients/{client_id}", "PUT", summary="Change a client", body=ClientUpdate, response=ClientOut)
def update_client(call: Call, client_id: str) -> ClientOut:
    body: ClientUpdate = call.body
    return ClientOut.of(
        services().matters.update_client(call.principal, client_id, body.version, **body.fields())
    )


@api.route(
    "/matters",
    "GET",
    summary="Search matters by number, name or client",
    query=MatterSearch,
    response=MatterPage,
)
def search_matters(call: Call) -> MatterPage:
    query: MatterSearch = call.query
    page = services().matters.search_matters(
        call.principal,
        number=query.number,
        name=query.name,
        client_id=query.client_id,
        include_closed=query.include_closed,
        cursor=query.cursor,
        limit=query.limit,
    )
    return MatterPage(items=[MatterOut.of(m) for m in page.items], next_cursor=page.next_cursor)


@api.route("/matters", "POST", summary="Open a matter", body=MatterIn, response=MatterOut, status=201)
def create_matter(call: Call) -> MatterOut:
    return MatterOut.of(services().matters.create_matter(call.principal, **call.body.fields()))


@api.route("/matters/{matter_id}", "GET", summary="One matter", response=MatterOut)
def get_matter(call: Call, matter_id: str) -> MatterOut:
    return MatterOut.of(services().matters.matter(call.principal, matter_id))


@api.route("/matters/{matter_id}", "PATCH", summary="Change a matter", body=MatterUpdate, response=MatterOut)
def update_matter(call: Call, matter_id: str) -> MatterOut:
    body: MatterUpdate = call.body
    return MatterOut.of(
        services().matters.update_matter(call.principal, matter_id, body.version, **body.changes())
    )


@api.route(
    "/matters/{matter_id}/close", "POST", summary="Close a matter", body=CloseMatter, response=MatterOut
)
def close_matter(call: Call, matter_id: str) -> MatterOut:
    body: CloseMatter = call.body
    return MatterOut.of(
        services().matters.close_matter(call.principal, matter_id, body.version, body.closed_on)
    )


@api.route(
    "/contacts",
    "GET",
    summary="The firm's contacts, by name prefix or email",
    query=ContactSearch,
    response=ContactPage,
)
def list_contacts(call: Call) -> ContactPage:
    query: ContactSearch = call.query
    page = services().matters.contacts(call.principal, query.name, query.email, query.cursor, query.limit)
    return ContactPage(items=[ContactOut.of(c) for c in page.items], next_cursor=page.next_cursor)


@api.route("/contacts", "POST", summary="Add a contact", body=ContactIn, response=ContactOut, status=201)
def create_contact(call: Call) -> ContactOut:
    return ContactOut.of(services().matters.create_contact(call.principal, **call.body.fields()))


@api.route("/contacts/{contact_id}", "GET", summary="One contact", response=ContactOut)
def get_contact(call: Call, contact_id: str) -> ContactOut:
    return ContactOut.of(services().matters.contact(call.principal, contact_id))


@api.route(
    "/contacts/{contact_id}", "PUT", summary="Change a contact", body=ContactUpdate, response=ContactOut
)
def update_contact(call: Call, contact_id: str) -> ContactOut:
    body: ContactUpdate = call.body
    return ContactOut.of(
        services().matters.update_contact(call.principal, contact_id, body.version, **body.fields())
    )


@api.route(
    "/activity-types",
    "GET",
    summary="The firm's activity types",
    response=ActivityTypeOut,
    response_is_list=True,
)
def list_activity_types(call: Call) -> list[ActivityTypeOut]:
    return [ActivityTypeOut.of(a) for a in services().matters.activity_types(call.principal)]


@api.route(
    "/activity-types/{code}",
    "PUT",
    summary="Create or change an activity type",
    body=ActivityTypeIn,
    response=ActivityTypeOut,
)
def put_activity_type(call: Call, code: str) -> ActivityTypeOut:
    from chalicelib.domain.matters import ActivityType

    body: ActivityTypeIn = call.body
    activity = ActivityType(firm_id=call.principal.firm_id, code=code, **body.model_dump())
    return ActivityTypeOut.of(services().matters.put_activity_type(call.principal, activity))


@api.route("/utbms", "GET", summary="The ABA litigation code set (UTBMS)", response=UtbmsOut)
def utbms(call: Call) -> UtbmsOut:
    from chalicelib.domain.utbms import ACTIVITY_CODES, TASK_CODES

    return UtbmsOut(
        tasks=[CodeOut(code=c, name=n) for c, n in TASK_CODES.items()],
        activities=[CodeOut(code=c, name=n) for c, n in ACTIVITY_CODES.items()],
    )


# A file full of mistakes can have hundreds of thousands; the first thousand say what is wrong.
MAX_SHOWN_ERRORS = 1000
IMPORT_KINDS = ("clients", "matters", "contacts", "roster")


@api.route(
    "/imports/{kind}",
    "POST",
    summary="Import clients, matters, contacts or the roster from CSV",
    body=ImportIn,
    response=ImportOut,
)
def import_csv(call: Call, kind: str) -> ImportOut | Response:
    from chalicelib.domain.errors import FieldError, InvalidInput

    if kind not in IMPORT_KINDS:
        raise InvalidInput(
            f"cannot import '{kind}'", field_errors=[FieldError("kind", f"one of {', '.join(IMPORT_KINDS)}")]
        )
    body: ImportIn = call.body
    report = services().imports.run_tracked(
        call.principal, cast("ImportKind", kind), body.csv, commit=body.commit, job_id=body.job_id
    )
    out = ImportOut(
        kind=report.kind,
        rows=report.rows,
        creates=report.creates,
        updates=report.updates,
        unchanged=report.unchanged,
        committed=report.committed,
        error_count=len(report.errors),
        errors=[
            ImportRowError(line=e.line, field=e.field, message=e.message)
            for e in report.errors[:MAX_SHOWN_ERRORS]
        ],
    )
    # A commit refused for bad rows is a 422 carrying the whole row report, so scripts notice.
    return Response(out.model_dump(mode="json"), status_code=422 if body.commit and report.errors else 200)


@api.route("/imports/jobs/{job_id}", "GET", summary="How far one of my imports is", response=JobOut)
def import_progress(call: Call, job_id: str) -> JobOut:
    job = services().imports.progress(call.principal, job_id)
    return JobOut(**{k: job[k] for k in JobOut.model_fields})
