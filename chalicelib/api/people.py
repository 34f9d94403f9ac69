"""Who am I, and the firm's roster."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.api.routing import Api, Call, services
from chalicelib.api.schemas import InviteUser, MeOut, PageQuery, UpdateUser, UserOut, UserPage

people = Blueprint(__name__)
api = Api(people, "people")


@api.route("/me", "GET", summary="The signed-in user, their firm and permissions", response=MeOut)
def me(call: Call) -> MeOut:
    roster = services().roster
    # The contractor module's own permissions, from the firm's mapping of the caller's roles, so the
    # console shows each contractor page from what the API will allow rather than guessing from roles.
    access = services().contractors.access(call.principal)
    return MeOut.of(
        roster.me(call.principal),
        roster.firm_of(call.principal),
        call.principal,
        contractor_permissions=[p.value for p in access.permissions],
        contractor=(access.own.kind.value, access.own.contractor_id) if access.own else None,
    )


@api.route("/users", "GET", summary="The firm's roster, a page at a time", query=PageQuery, response=UserPage)
def list_users(call: Call) -> UserPage:
    page = services().roster.list(call.principal, call.query.cursor, call.query.limit)
    return UserPage(items=[UserOut.of(user) for user in page.items], next_cursor=page.next_cursor)


@api.route(
    "/users", "POST", summary="Invite a person to the firm", body=InviteUser, response=UserOut, status=201
)
def invite_user(call: Call) -> UserOut:
    body: InviteUser = call.body
    user = services().roster.invite(
        call.principal,
        email=body.email,
        display_name=body.display_name,
        roles=frozenset(body.roles),
        time_zone=body.time_zone,
        external_ids=body.external_ids,
        phone_extensions=tuple(body.phone_extensions),
        timekeeper_class=body.timekeeper_class,
        hourly_rate=body.hourly_rate,
    )
    return UserOut.of(user)


@api.route("/users/{user_id}", "GET", summary="One person in the roster", response=UserOut)
def get_user(call: Call, user_id: str) -> UserOut:
    return UserOut.of(services().roster.get(call.principal, user_id))


@api.route(
    "/users/{user_id}",
    "PATCH",
    summary="Change roles, status, external ids",
    body=UpdateUser,
    response=UserOut,
)
def update_user(call: Call, user_id: str) -> UserOut:
    from chalicelib.services.roster import UserChanges

    body: UpdateUser = call.body
    changes = UserChanges(
        display_name=body.display_name,
        roles=frozenset(body.roles) if body.roles is not None else None,
        status=body.status,
        time_zone=body.time_zone,
        external_ids=body.external_ids,
        phone_extensions=tuple(body.phone_extensions) if body.phone_extensions is not None else None,
        timekeeper_class=body.timekeeper_class,
        hourly_rate=body.hourly_rate,
    )
    return UserOut.of(services().roster.update(call.principal, user_id, body.version, changes))
