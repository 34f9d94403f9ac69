"""Billing connections (Clio, Actionstep), posting, file exports, and the API billing systems pull from."""

from __future__ import annotations

from collections.abc import Mapping

from chalice import Blueprint, Response

from chalicelib.api.billing_schemas import (
    AuthorizationOverviewOut,
    AuthorizeOut,
    CallbackQuery,
    ConnectionOut,
    ExportIn,
    ExportOut,
    ExportPage,
    MarkedOut,
    MarkExportedIn,
    PostIn,
    PostingPage,
    PostingRecordOut,
    PostingReportOut,
    PropertiesIn,
    ReleasedEntryOut,
    ReleasedPage,
    ReleasedQuery,
    SyncOut,
    UserAuthorizationOut,
    UserAuthorizeOut,
    VersionIn,
)
from chalicelib.api.routing import Api, Call, services
from chalicelib.api.schemas import PageQuery
from chalicelib.api.timeline_schemas import EntryOut

billing = Blueprint(__name__)
api = Api(billing, "billing")


@api.route(
    "/connections/billing",
    "GET",
    summary="The firm's billing connections",
    response=ConnectionOut,
    response_is_list=True,
)
def list_connections(call: Call) -> list[ConnectionOut]:
    return [ConnectionOut.of(c) for c in services().billing.connections(call.principal)]


@api.route("/connections/billing/{system}", "GET", summary="One billing connection", response=ConnectionOut)
def get_connection(call: Call, system: str) -> ConnectionOut:
    return ConnectionOut.of(services().billing.connection(call.principal, system))


@api.route(
    "/connections/billing/{system}/authorize",
    "POST",
    summary="Start connecting: the consent page to send the admin's browser to",
    response=AuthorizeOut,
)
def authorize(call: Call, system: str) -> AuthorizeOut:
    from chalicelib.services.billing import system_named

    service = services().billing
    url = service.begin_connect(call.principal, system)
    return AuthorizeOut(authorize_url=url, redirect_uri=service.redirect_uri(system_named(system)))


@api.route(
    "/connections/billing/{system}/callback",
    "GET",
    summary="Where the billing system returns the browser (OAuth redirect): the admin's to Connections, "
    "a person's to their Preferences (303 there with an outcome and message when their sign-in was refused)",
    query=CallbackQuery,
    status=302,
    public=True,
)
def callback(call: Call, system: str) -> Response:
    query: CallbackQuery = call.query
    # The state says which flow this finishes: the firm's connection, or one person's own login.
    landing = services().billing.finish_callback(
        system,
        query.code,
        query.state,
        query.error,
        navigation=_browser_navigation(billing.current_request.headers),
    )
    return _redirect(landing.location, 303 if landing.refused else 302)


def _browser_navigation(headers: Mapping[str, str]) -> bool:
    """Whether a person's browser navigated here (rather than a script calling): Fetch Metadata, or for
    a browser without it, asking for a page."""
    mode = headers.get("sec-fetch-mode")
    if mode:
        return mode == "navigate"
    return "text/html" in headers.get("accept", "")


@api.route(
    "/connections/billing/{system}/user-authorizations",
    "GET",
    summary="Who of the firm's people has connected their own login (Actionstep), and N of M connected",
    response=AuthorizationOverviewOut,
)
def user_authorizations(call: Call, system: str) -> AuthorizationOverviewOut:
    return AuthorizationOverviewOut.of(services().billing.authorization_overview(call.principal, system))


@api.route(
    "/me/billing-authorizations",
    "GET",
    summary="My own logins with the billing systems my firm connected whose people authorize themselves",
    response=UserAuthorizationOut,
    response_is_list=True,
)
def my_authorizations(call: Call) -> list[UserAuthorizationOut]:
    return [
        UserAuthorizationOut.of(c, mine) for c, mine in services().billing.my_authorizations(call.principal)
    ]


@api.route(
    "/me/billing-authorizations/{system}/authorize",
    "POST",
    summary="Start authorizing my own login: the consent page to send my browser to",
    response=UserAuthorizeOut,
)
def authorize_mine(call: Call, system: str) -> UserAuthorizeOut:
    return UserAuthorizeOut(authorize_url=services().billing.begin_user_authorization(call.principal, system))


@api.route(
    "/me/billing-authorizations/{system}",
    "DELETE",
    summary="Disconnect my own login (my time goes through the firm connection, or waits)",
    status=204,
)
def disconnect_mine(call: Call, system: str) -> Response:
    services().billing.disconnect_my_authorization(call.principal, system)
    return Response(body="", status_code=204)


def _redirect(location: str, status: int = 302) -> Response:
    return Response(body="", status_code=status, headers={"Location": location, "Cache-Control": "no-store"})


@api.route(
    "/connections/billing/{system}/properties",
    "PUT",
    summary="Change the connection's properties",
    body=PropertiesIn,
    response=ConnectionOut,
)
def set_properties(call: Call, system: str) -> ConnectionOut:
    body: PropertiesIn = call.body
    named = {str(name): value for name, value in body.properties.items()}
    return ConnectionOut.of(services().billing.set_properties(call.principal, system, named, body.version))


@api.route(
    "/connections/billing/{system}/disconnect",
    "POST",
    summary="Forget the connection's tokens (history and links stay)",
    body=VersionIn,
    response=ConnectionOut,
)
def disconnect(call: Call, system: str) -> ConnectionOut:
    body: VersionIn = call.body
    return ConnectionOut.of(services().billing.disconnect(call.principal, system, body.version))


@api.route(
    "/connections/billing/{system}/sync",
    "POST",
    summary="Sync users, matters, clients, contacts and activity types now",
    response=SyncOut,
)
def sync(call: Call, system: str) -> SyncOut:
    summary = services().billing.sync(call.principal, system)
    counts = {k: v for k, v in summary.items() if isinstance(v, int)}
    return SyncOut(
        counts=counts, unmatched_users=summary["unmatched_users"], skipped=summary["skipped_details"]
    )


@api.route(
    "/connections/billing/{system}/post",
    "POST",
    summary="Post released entries now; each entry's outcome is reported",
    body=PostIn,
    response=PostingReportOut,
)
def post(call: Call, system: str) -> PostingReportOut:
    body: PostIn = call.body
    report = services().posting.post(call.principal, system, body.first_day, body.last_day, body.limit)
    return PostingReportOut.of(report)


@api.route(
    "/connections/billing/{system}/postings",
    "GET",
    summary="Each entry's latest posting outcome, newest first",
    query=PageQuery,
    response=PostingPage,
)
def postings(call: Call, system: str) -> PostingPage:
    query: PageQuery = call.query
    page = services().posting.results(call.principal, system, query.cursor, query.limit)
    return PostingPage(items=[PostingRecordOut.of(r) for r in page.items], next_cursor=page.next_cursor)


@api.route(
    "/exports",
    "POST",
    summary="Export a period's released time as a file",
    body=ExportIn,
    response=ExportOut,
    status=201,
)
def create_export(call: Call) -> ExportOut:
    body: ExportIn = call.body
    service = services().exports
    record = service.export(call.principal, body.format, body.first_day, body.last_day)
    _, link = service.download(call.principal, record.export_id)
    return ExportOut.of(record, link)


@api.route("/exports", "GET", summary="Export history, newest first", query=PageQuery, response=ExportPage)
def list_exports(call: Call) -> ExportPage:
    query: PageQuery = call.query
    page = services().exports.exports(call.principal, query.cursor, query.limit)
    return ExportPage(items=[ExportOut.of(r) for r in page.items], next_cursor=page.next_cursor)


@api.route("/exports/{export_id}", "GET", summary="One export with a download link", response=ExportOut)
def get_export(call: Call, export_id: str) -> ExportOut:
    record, link = services().exports.download(call.principal, export_id)
    return ExportOut.of(record, link)


@api.route("/exports/{export_id}/file", "GET", summary="The export's file")
def export_file(call: Call, export_id: str) -> Response:
    record, content = services().exports.content(call.principal, export_id)
    return Response(
        body=content.decode("utf-8", errors="replace"),
        status_code=200,
        headers={
            "Content-Type": "text/plain; charset=utf-8" if record.format.value == "ledes" else "text/csv",
            "Content-Disposition": f'attachment; filename="{record.file_name}"',
        },
    )


@api.route(
    "/billing/entries",
    "GET",
    summary="Released entries waiting for billing, by period (cursor paging)",
    query=ReleasedQuery,
    response=ReleasedPage,
)
def released_entries(call: Call) -> ReleasedPage:
    query: ReleasedQuery = call.query
    page = services().exports.released(
        call.principal,
        query.first_day,
        query.last_day,
        user_id=query.user_id,
        matter_id=query.matter_id,
        cursor=query.cursor,
        limit=query.limit,
    )
    items = [ReleasedEntryOut(**EntryOut.of(e).model_dump(), user_id=e.user_id) for e in page.items]
    return ReleasedPage(items=items, next_cursor=page.next_cursor)


@api.route(
    "/billing/entries/exported",
    "POST",
    summary="Mark entries your system took as exported (each reported; repeating is harmless)",
    body=MarkExportedIn,
    response=MarkedOut,
    response_is_list=True,
)
def mark_exported(call: Call) -> list[MarkedOut]:
    from chalicelib.services.exports import ExportedMark

    body: MarkExportedIn = call.body
    marks = [ExportedMark(e.user_id, e.day, e.entry_id, e.version) for e in body.entries]
    return [MarkedOut(**r) for r in services().exports.mark_exported(call.principal, marks, body.reference)]
