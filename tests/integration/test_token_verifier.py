"""The Entra ID token verifier against keys published over HTTP."""

from __future__ import annotations

import pytest

from chalicelib.adapters.identity.entra import JwksTokenVerifier
from chalicelib.domain.errors import NotAuthenticated
from tests.support.tokens import AUDIENCE

CLIENT_ID = "3c6e1b2a-9f4d-4e8b-a1c2-5d6e7f8a9b0c"


def verifier_for(mint) -> JwksTokenVerifier:  # type: ignore[no-untyped-def]
    return JwksTokenVerifier(
        jwks_url=mint.jwks_url, issuer_template=mint.issuer_template, audiences=[AUDIENCE, CLIENT_ID]
    )


def test_a_v2_token_addressed_to_the_api_client_id_is_accepted(token_mint) -> None:
    verified = verifier_for(token_mint).verify(
        token_mint.token(tenant="t1", oid="o1", email="a@b.law", audience=CLIENT_ID)
    )
    assert (verified.tenant_id, verified.object_id, verified.email) == ("t1", "o1", "a@b.law")
    assert list(verified.scopes) == ["access_as_user"]


def test_keys_are_fetched_once_and_reused_for_later_tokens(token_mint) -> None:
    verifier = verifier_for(token_mint)
    before = token_mint.jwks_fetches
    for _ in range(5):
        verifier.verify(token_mint.token(tenant="t1", oid="o1"))
    assert token_mint.jwks_fetches - before == 1


def test_an_unknown_key_id_is_refused_without_hammering_the_identity_provider(token_mint) -> None:
    import jwt
    from cryptography.hazmat.primitives.asymmetric import rsa

    verifier = verifier_for(token_mint)
    verifier.verify(token_mint.token(tenant="t1", oid="o1"))
    before = token_mint.jwks_fetches
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode({"tid": "t1"}, other_key, algorithm="RS256", headers={"kid": "nope"})
    for _ in range(3):
        with pytest.raises(NotAuthenticated):
            verifier.verify(forged)
    assert token_mint.jwks_fetches == before
