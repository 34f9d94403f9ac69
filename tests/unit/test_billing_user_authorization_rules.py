"""Whose token posts an entry, and the ``USER_AUTHORIZATION`` property: the pure rules."""

from __future__ import annotations

import pytest

from chalicelib.domain.billing import BillingSystem, ConnectionProperties, parse_properties
from chalicelib.domain.billing_users import (
    BillingUserAuthorization,
    PosterKind,
    UserAuthorizationMode,
    UserAuthorizationStatus,
    choose_poster,
    mode_of,
)
from chalicelib.domain.errors import InvalidInput

EMAIL = "priya@halemercer.example"


def authorization(status: UserAuthorizationStatus, sealed: str | None = "sealed") -> BillingUserAuthorization:
    return BillingUserAuthorization(
        firm_id="f", system=BillingSystem.ACTIONSTEP, user_id="u", status=status, sealed_tokens=sealed
    )


@pytest.mark.parametrize("mode", list(UserAuthorizationMode))
def test_a_connected_authorization_always_posts_as_the_person(mode: UserAuthorizationMode) -> None:
    chosen = choose_poster(
        BillingSystem.ACTIONSTEP, mode, authorization(UserAuthorizationStatus.CONNECTED), EMAIL
    )
    assert chosen.kind is PosterKind.USER


@pytest.mark.parametrize(
    "mine",
    [
        None,
        authorization(UserAuthorizationStatus.REAUTHORIZE),
        authorization(UserAuthorizationStatus.DISCONNECTED, sealed=None),
        authorization(UserAuthorizationStatus.CONNECTED, sealed=None),
    ],
)
def test_without_a_usable_authorization_optional_falls_back_and_required_refuses(
    mine: BillingUserAuthorization | None,
) -> None:
    optional = choose_poster(BillingSystem.ACTIONSTEP, UserAuthorizationMode.OPTIONAL, mine, EMAIL)
    assert optional.kind is PosterKind.FIRM
    required = choose_poster(BillingSystem.ACTIONSTEP, UserAuthorizationMode.REQUIRED, mine, EMAIL)
    assert required.kind is PosterKind.REFUSE
    assert required.message == (
        "priya@halemercer.example has not connected their Actionstep account: "
        "they sign in to the console and choose Connect to Actionstep"
    )


def test_clio_always_posts_through_the_firm_connection() -> None:
    chosen = choose_poster(
        BillingSystem.CLIO,
        UserAuthorizationMode.REQUIRED,
        authorization(UserAuthorizationStatus.CONNECTED),
        EMAIL,
    )
    assert chosen.kind is PosterKind.FIRM


def test_the_property_defaults_to_optional_and_takes_either_value_in_any_case() -> None:
    assert ConnectionProperties().as_named()["USER_AUTHORIZATION"] == "OPTIONAL"
    assert parse_properties({"USER_AUTHORIZATION": " required "}).user_authorization == "REQUIRED"
    assert parse_properties({"USER_AUTHORIZATION": "Optional"}).user_authorization == "OPTIONAL"
    assert parse_properties({"USER_AUTHORIZATION": ""}).user_authorization == "OPTIONAL"
    assert mode_of("REQUIRED") is UserAuthorizationMode.REQUIRED
    assert mode_of("nonsense") is UserAuthorizationMode.OPTIONAL


def test_a_bad_value_names_the_property() -> None:
    with pytest.raises(InvalidInput) as raised:
        parse_properties({"USER_AUTHORIZATION": "sometimes"})
    assert [(e.field, e.message) for e in raised.value.field_errors] == [
        ("USER_AUTHORIZATION", "must be OPTIONAL or REQUIRED")
    ]
