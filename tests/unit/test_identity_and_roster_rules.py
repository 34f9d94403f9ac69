from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain.api_tokens import ApiToken, TokenStatus, hash_secret, looks_like_api_token, new_secret
from chalicelib.domain.errors import Forbidden, InvalidInput
from chalicelib.domain.identity import Permission, Principal, Role, permissions_for
from chalicelib.domain.roster import User, normalize_email, validate_user


def a_user(**changes: object) -> User:
    base = User(
        firm_id="f1",
        user_id="u1",
        email="ada@lovelace.law",
        display_name="Ada Lovelace",
        roles=frozenset({Role.ATTORNEY}),
    )
    return base.with_changes(**changes) if changes else base


def test_an_attorney_may_work_on_their_own_time_but_not_administer_the_roster() -> None:
    attorney = Principal(firm_id="f1", subject_id="u1", kind="user", roles=frozenset({Role.ATTORNEY}))
    assert attorney.can(Permission.TIME_WRITE_OWN)
    with pytest.raises(Forbidden, match="roster:write"):
        attorney.require(Permission.ROSTER_WRITE)


def test_a_firm_admin_holds_every_firm_permission() -> None:
    assert permissions_for(frozenset({Role.FIRM_ADMIN})) == frozenset(Permission)


def test_an_api_token_holds_exactly_its_scopes_whatever_roles_it_claims() -> None:
    token = Principal(
        firm_id="f1",
        subject_id="t1",
        kind="api_token",
        roles=frozenset({Role.FIRM_ADMIN}),
        scopes=frozenset({Permission.MATTERS_READ}),
    )
    assert token.permissions == frozenset({Permission.MATTERS_READ})


def test_emails_compare_without_case_or_surrounding_spaces() -> None:
    assert normalize_email("  Ada@Lovelace.LAW ") == "ada@lovelace.law"


def test_a_user_record_names_every_field_that_is_wrong() -> None:
    with pytest.raises(InvalidInput) as raised:
        validate_user(
            User(
                firm_id="f1",
                user_id="u1",
                email="not-an-email",
                display_name=" ",
                roles=frozenset(),
                time_zone="Mars/Olympus",
                phone_extensions=("12a",),
            )
        )
    assert {error.field for error in raised.value.field_errors} == {
        "email",
        "display_name",
        "roles",
        "time_zone",
        "phone_extensions",
    }


def test_a_valid_user_passes_validation() -> None:
    validate_user(a_user(time_zone="Europe/London", phone_extensions=("204",)))


def test_api_token_secrets_are_random_prefixed_and_stored_only_as_a_hash() -> None:
    first, second = new_secret(), new_secret()
    assert first != second
    assert looks_like_api_token(first)
    assert not looks_like_api_token("eyJhbGciOiJSUzI1NiJ9.e30.sig")
    assert hash_secret(first) != first and len(hash_secret(first)) == 64


def test_a_token_is_usable_only_while_active_and_before_its_expiry() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    token = ApiToken(
        firm_id="f1",
        token_id="t1",
        name="Clio sync",
        scopes=frozenset({Permission.MATTERS_READ}),
        token_hash="h",
        created_by="user:u1",
        created_at=now,
        expires_at=now + timedelta(days=1),
    )
    assert token.usable_at(now)
    assert not token.usable_at(now + timedelta(days=1))
    from dataclasses import replace

    assert not replace(token, status=TokenStatus.REVOKED).usable_at(now)
