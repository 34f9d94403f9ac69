"""Delegates: who may view or work on my timeline (``GET``/``PUT /me/delegates``)."""

from __future__ import annotations

from chalice import Blueprint
from pydantic import Field, model_validator

from chalicelib.api.routing import Api, Call, services
from chalicelib.api.schemas import ApiModel, Input
from chalicelib.domain.delegation import MAX_DELEGATES, Access, Grant
from chalicelib.services.delegates import DelegateChoice, DelegationView

delegation = Blueprint(__name__)
api = Api(delegation, "delegates")

USER_ID_PATTERN = r"^[A-Za-z0-9._:-]+$"


class DelegateIn(Input):
    """One person, by ``user_id`` or by ``email``: an attorney cannot read the roster to learn user ids."""

    user_id: str | None = Field(default=None, min_length=1, max_length=64, pattern=USER_ID_PATTERN)
    email: str | None = Field(
        default=None,
        min_length=3,
        max_length=254,
        pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
        description="instead of user_id: the person's email in the firm's roster",
    )
    access: Access = Field(
        default=Access.ACT, description="view: see the timeline; act: also change and release entries"
    )

    @model_validator(mode="after")
    def _one_person(self) -> DelegateIn:
        if (self.user_id is None) == (self.email is None):
            raise ValueError("name the person by user_id or by email (one of them)")
        return self


class DelegatesIn(Input):
    """The whole list (an empty list removes everyone). Send ``version`` as read; 409 if it changed."""

    version: int = Field(ge=0)
    delegates: list[DelegateIn] = Field(max_length=MAX_DELEGATES)


class PersonGrantOut(ApiModel):
    user_id: str
    display_name: str
    email: str
    access: Access


class DelegatesOut(ApiModel):
    version: int
    delegates: list[PersonGrantOut]
    acting_for: list[PersonGrantOut] = Field(
        description="people who made me their delegate: open their timeline with ?user_id="
    )


def _person(view: DelegationView, user_id: str, grant: Grant) -> PersonGrantOut:
    user = view.people.get(user_id)
    return PersonGrantOut(
        user_id=user_id,
        display_name=user.display_name if user else user_id,
        email=user.email if user else "",
        access=grant.access,
    )


def _out(view: DelegationView) -> DelegatesOut:
    return DelegatesOut(
        version=view.delegates.version,
        delegates=[_person(view, g.delegate_id, g) for g in view.delegates.grants],
        acting_for=sorted(
            (_person(view, g.owner_id, g) for g in view.acting_for), key=lambda p: p.display_name.lower()
        ),
    )


@api.route("/me/delegates", "GET", summary="My delegates, and whom I act for", response=DelegatesOut)
def my_delegates(call: Call) -> DelegatesOut:
    return _out(services().delegates.mine(call.principal))


@api.route(
    "/me/delegates",
    "PUT",
    summary="Set who may view or work on my timeline (never my personal items)",
    body=DelegatesIn,
    response=DelegatesOut,
)
def set_my_delegates(call: Call) -> DelegatesOut:
    body: DelegatesIn = call.body
    wanted = [DelegateChoice(d.access, user_id=d.user_id, email=d.email) for d in body.delegates]
    return _out(services().delegates.set_mine(call.principal, wanted, body.version))
