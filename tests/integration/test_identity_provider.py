"""The simulated Entra ID, exercised over HTTPS by real clients (msal, requests) as Matterline uses it."""

from __future__ import annotations

import base64
import hashlib
import html
import re
import secrets
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import msal
import pytest
import requests

from devstack.m365 import (
    GRAPH_RESOURCE,
    AppRegistration,
    Directory,
    EntraError,
    IdentityProvider,
    M365Server,
    Request,
    Response,
    Tenant,
    TlsMaterial,
    User,
    ensure_ca_and_server_cert,
)

TENANT_ID = "7c5d1f0e-4a3b-4b8e-9d2a-0f1e2d3c4b5a"
API_CLIENT_ID = "9a1b2c3d-0000-4000-8000-00000000a001"
API_SECRET = "api-secret-value"
CONSOLE_CLIENT_ID = "9a1b2c3d-0000-4000-8000-00000000c002"
CONSOLE_REDIRECT = "https://localhost:8001/console/"
API_REDIRECT = "https://localhost:8000/auth/callback"
ALEX = User(
    oid="0b6f1a52-1111-4c1e-9a6e-000000000001", email="alex@contoso.example", display_name="Alex Wilber"
)
MEGAN = User(
    oid="0b6f1a52-2222-4c1e-9a6e-000000000002",
    email="megan@contoso.example",
    display_name="Megan Bowen",
    app_role_assignments={"api://matterline": ["firm_admin"]},
)
TIMEOUT = 10


def contoso() -> Tenant:
    """A firm with two lawyers, the Matterline API (confidential) and its console (public SPA)."""
    return Tenant(
        tenant_id=TENANT_ID,
        display_name="Contoso Legal",
        domain="contoso.onmicrosoft.com",
        users=(ALEX, MEGAN),
        apps=(
            AppRegistration(
                client_id=API_CLIENT_ID,
                display_name="Matterline API",
                client_secret=API_SECRET,
                app_id_uri="api://matterline",
                redirect_uris=(API_REDIRECT,),
                scopes=("access_as_user",),
                app_roles=("Matters.Read.All", "firm_admin"),
                api_permissions={
                    "api://matterline": ("Matters.Read.All",),
                    GRAPH_RESOURCE: ("Mail.Read", "Calendars.Read", "User.Read", "Mail.ReadBasic.All"),
                },
            ),
            AppRegistration(
                client_id=CONSOLE_CLIENT_ID,
                display_name="Matterline console",
                redirect_uris=(CONSOLE_REDIRECT,),
                api_permissions={"api://matterline": ("access_as_user",)},
            ),
        ),
    )


@dataclass
class Simulator:
    server: M365Server
    identity: IdentityProvider
    tls: TlsMaterial
    state_dir: Path

    @property
    def base(self) -> str:
        return self.server.base_url

    @property
    def ca(self) -> str:
        return self.tls.ca_bundle

    def url(self, path: str) -> str:
        return f"{self.base}{path}"

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return requests.get(self.url(path), verify=self.ca, timeout=TIMEOUT, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return requests.post(self.url(path), verify=self.ca, timeout=TIMEOUT, **kwargs)

    def jwks(self) -> dict[str, Any]:
        response = self.get("/common/discovery/v2.0/keys")
        response.raise_for_status()
        keys: dict[str, Any] = response.json()
        return keys

    def verify(self, token: str, audience: str) -> dict[str, Any]:
        """What an API does with a bearer token: JWKS fetched over HTTPS, signature, aud and iss."""
        return verify_with_jwks(token, self.jwks(), audience=audience, issuer=f"{self.base}/{TENANT_ID}/v2.0")

    def confidential_client(self) -> msal.ConfidentialClientApplication:
        return msal.ConfidentialClientApplication(
            API_CLIENT_ID,
            client_credential=API_SECRET,
            authority=f"{self.base}/{TENANT_ID}",
            verify=self.ca,
            instance_discovery=False,
        )


def verify_with_jwks(token: str, jwks: dict[str, Any], *, audience: str, issuer: str) -> dict[str, Any]:
    kid = jwt.get_unverified_header(token)["kid"]
    key = next(k for k in jwks["keys"] if k["kid"] == kid)
    claims: dict[str, Any] = jwt.decode(
        token,
        jwt.PyJWK(key).key,
        algorithms=["RS256"],
        audience=audience,
        issuer=issuer,
        options={"require": ["exp", "iat", "nbf", "aud", "iss", "tid", "oid", "sub"]},
    )
    return claims


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Simulator]:
    state_dir = tmp_path_factory.mktemp("m365")
    tls = ensure_ca_and_server_cert(state_dir / "tls")
    identity = IdentityProvider(Directory([contoso()]), state_dir / "identity")
    server = M365Server(identity, port=0, tls=tls)
    server.start()
    try:
        yield Simulator(server=server, identity=identity, tls=tls, state_dir=state_dir)
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def _honour_verify(monkeypatch: pytest.MonkeyPatch) -> None:
    # requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override a Session's own ``verify``
    # (psf/requests#3829), which is where msal puts ``verify=``. Machines that set them (CI images,
    # corporate laptops) would otherwise reject the simulator's CA.
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def hidden_fields(page: str) -> dict[str, str]:
    """The hidden inputs a browser would post back from the sign-in page."""
    pairs = re.findall(r'<input type="hidden" name="([^"]*)" value="([^"]*)">', page)
    return {html.unescape(name): html.unescape(value) for name, value in pairs}


def sign_in(
    sim: Simulator, email: str, *, challenge: str, state: str = "st-1", nonce: str = "n-1"
) -> requests.Response:
    """Open the console's sign-in page and pick ``email``, as a browser would; returns the 302."""
    page = sim.get(
        f"/{TENANT_ID}/oauth2/v2.0/authorize",
        params={
            "client_id": CONSOLE_CLIENT_ID,
            "response_type": "code",
            "redirect_uri": CONSOLE_REDIRECT,
            "scope": "api://matterline/access_as_user openid profile offline_access",
            "state": state,
            "nonce": nonce,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        },
    )
    assert page.status_code == 200
    form = {**hidden_fields(page.text), "login": email}
    return sim.post(f"/{TENANT_ID}/oauth2/v2.0/authorize", data=form, allow_redirects=False)


def code_from(redirect: requests.Response) -> str:
    assert redirect.status_code == 302
    location = redirect.headers["Location"]
    assert location.startswith(CONSOLE_REDIRECT)
    return parse_qs(urlsplit(location).query)["code"][0]


def redeem(sim: Simulator, code: str, verifier: str) -> requests.Response:
    return sim.post(
        f"/{TENANT_ID}/oauth2/v2.0/token",
        data={
            "client_id": CONSOLE_CLIENT_ID,
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": CONSOLE_REDIRECT,
            "code_verifier": verifier,
            "scope": "api://matterline/access_as_user openid profile offline_access",
        },
        headers={"Origin": "https://localhost:8001"},
    )


def assert_entra_error(response: requests.Response, status: int, error: str, code: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["error"] == error
    assert body["error_codes"] == [code]
    assert body["error_description"].startswith(f"AADSTS{code}: ")
    assert {"timestamp", "trace_id", "correlation_id"} <= body.keys()
    return body


# --- discovery ---------------------------------------------------------------------------------------


def test_the_discovery_document_names_the_tenants_issuer_and_endpoints(sim: Simulator) -> None:
    response = sim.get(f"/{TENANT_ID}/v2.0/.well-known/openid-configuration")

    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    doc = response.json()
    root = f"{sim.base}/{TENANT_ID}"
    assert doc["issuer"] == f"{root}/v2.0"
    assert doc["authorization_endpoint"] == f"{root}/oauth2/v2.0/authorize"
    assert doc["token_endpoint"] == f"{root}/oauth2/v2.0/token"
    assert doc["jwks_uri"] == f"{root}/discovery/v2.0/keys"
    assert "code" in doc["response_types_supported"]
    assert doc["subject_types_supported"] == ["pairwise"]
    assert doc["id_token_signing_alg_values_supported"] == ["RS256"]
    assert {"openid", "profile", "email", "offline_access"} <= set(doc["scopes_supported"])
    assert doc["tenant_region_scope"]


def test_discovery_by_domain_uses_the_tenant_guid_and_common_uses_the_placeholder_issuer(
    sim: Simulator,
) -> None:
    by_domain = sim.get("/contoso.onmicrosoft.com/v2.0/.well-known/openid-configuration").json()
    common = sim.get("/common/v2.0/.well-known/openid-configuration").json()

    assert by_domain["token_endpoint"] == f"{sim.base}/{TENANT_ID}/oauth2/v2.0/token"
    assert common["issuer"] == f"{sim.base}/{{tenantid}}/v2.0"
    assert common["token_endpoint"] == f"{sim.base}/common/oauth2/v2.0/token"


def test_discovery_for_an_unknown_tenant_is_entras_invalid_tenant_error(sim: Simulator) -> None:
    response = sim.get("/00000000-0000-0000-0000-00000000dead/v2.0/.well-known/openid-configuration")

    assert_entra_error(response, 400, "invalid_tenant", 90002)


def test_the_keys_endpoint_publishes_the_rs256_signing_key_with_its_certificate(sim: Simulator) -> None:
    response = sim.get(f"/{TENANT_ID}/discovery/v2.0/keys")

    assert response.headers["Access-Control-Allow-Origin"] == "*"
    (key,) = response.json()["keys"]
    assert key["kid"] == sim.identity.kid
    assert (key["kty"], key["use"], key["alg"]) == ("RSA", "sig", "RS256")
    assert key["n"] and key["e"] and key["x5c"]


# --- client credentials ------------------------------------------------------------------------------


def test_msal_acquires_a_client_credentials_token_from_the_simulator(sim: Simulator) -> None:
    result = sim.confidential_client().acquire_token_for_client(["api://matterline/.default"])

    assert "access_token" in result, result
    claims = sim.verify(result["access_token"], audience="api://matterline")
    assert claims["tid"] == TENANT_ID
    assert claims["azp"] == API_CLIENT_ID
    assert claims["roles"] == ["Matters.Read.All"]
    assert claims["idtyp"] == "app"
    assert claims["ver"] == "2.0"
    assert "scp" not in claims


def test_an_app_only_graph_token_carries_the_graph_application_permissions(sim: Simulator) -> None:
    result = sim.confidential_client().acquire_token_for_client([f"{GRAPH_RESOURCE}/.default"])

    claims = sim.verify(result["access_token"], audience=GRAPH_RESOURCE)
    # Only configured permissions that Graph defines as application permissions become roles.
    assert sorted(claims["roles"]) == ["Calendars.Read", "Mail.Read", "Mail.ReadBasic.All"]


def test_client_credentials_without_a_default_scope_is_an_invalid_scope(sim: Simulator) -> None:
    response = sim.post(
        f"/{TENANT_ID}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": API_CLIENT_ID,
            "client_secret": API_SECRET,
            "scope": "api://matterline/access_as_user",
        },
    )

    assert_entra_error(response, 400, "invalid_scope", 1002012)


def test_a_bad_client_secret_is_an_invalid_client_401(sim: Simulator) -> None:
    response = sim.post(
        f"/{TENANT_ID}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": API_CLIENT_ID,
            "client_secret": "not-the-secret",
            "scope": "api://matterline/.default",
        },
        headers={"client-request-id": "5f0c8d8e-1111-2222-3333-444455556666"},
    )

    body = assert_entra_error(response, 401, "invalid_client", 7000215)
    assert body["correlation_id"] == "5f0c8d8e-1111-2222-3333-444455556666"


def test_msal_reports_a_bad_client_secret_as_invalid_client(sim: Simulator) -> None:
    app = msal.ConfidentialClientApplication(
        API_CLIENT_ID,
        client_credential="wrong",
        authority=f"{sim.base}/{TENANT_ID}",
        verify=sim.ca,
        instance_discovery=False,
    )

    result = app.acquire_token_for_client(["api://matterline/.default"])

    assert result["error"] == "invalid_client"
    assert 7000215 in result["error_codes"]


def test_an_unknown_client_is_an_invalid_client_401(sim: Simulator) -> None:
    response = sim.post(
        f"/{TENANT_ID}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": "11111111-2222-3333-4444-555555555555",
            "client_secret": "x",
            "scope": "api://matterline/.default",
        },
    )

    assert_entra_error(response, 401, "invalid_client", 700016)


def test_client_secret_basic_authentication_is_accepted(sim: Simulator) -> None:
    response = sim.post(
        f"/{TENANT_ID}/oauth2/v2.0/token",
        data={"grant_type": "client_credentials", "scope": "api://matterline/.default"},
        auth=(API_CLIENT_ID, API_SECRET),
    )

    assert response.status_code == 200, response.text
    assert response.json()["token_type"] == "Bearer"


# --- on-behalf-of ------------------------------------------------------------------------------------


def test_msal_exchanges_a_users_token_on_behalf_of_the_user(sim: Simulator) -> None:
    incoming = sim.identity.issue_access_token(
        TENANT_ID, ALEX.oid, "api://matterline", client_id=CONSOLE_CLIENT_ID, scopes=["access_as_user"]
    )

    result = sim.confidential_client().acquire_token_on_behalf_of(incoming, [f"{GRAPH_RESOURCE}/Mail.Read"])

    assert "access_token" in result, result
    claims = sim.verify(result["access_token"], audience=GRAPH_RESOURCE)
    assert claims["oid"] == ALEX.oid
    assert claims["tid"] == TENANT_ID
    assert claims["scp"] == "Mail.Read"
    assert claims["azp"] == API_CLIENT_ID
    assert claims["preferred_username"] == ALEX.email
    assert "idtyp" not in claims


def test_on_behalf_of_with_default_scope_grants_the_configured_delegated_permissions(sim: Simulator) -> None:
    incoming = sim.identity.issue_access_token(
        TENANT_ID, ALEX.oid, "api://matterline", client_id=CONSOLE_CLIENT_ID, scopes=["access_as_user"]
    )

    result = sim.confidential_client().acquire_token_on_behalf_of(incoming, [f"{GRAPH_RESOURCE}/.default"])

    claims = sim.verify(result["access_token"], audience=GRAPH_RESOURCE)
    assert set(claims["scp"].split()) == {"Mail.Read", "Calendars.Read", "User.Read"}


def test_on_behalf_of_rejects_an_assertion_issued_for_another_api(sim: Simulator) -> None:
    for_graph = sim.identity.issue_access_token(
        TENANT_ID, ALEX.oid, GRAPH_RESOURCE, client_id=CONSOLE_CLIENT_ID, scopes=["User.Read"]
    )

    result = sim.confidential_client().acquire_token_on_behalf_of(for_graph, [f"{GRAPH_RESOURCE}/Mail.Read"])

    assert result["error"] == "invalid_grant"
    assert 50013 in result["error_codes"]


def test_on_behalf_of_rejects_a_token_signed_by_someone_else(sim: Simulator, tmp_path: Path) -> None:
    impostor = IdentityProvider(Directory([contoso()]), tmp_path, base_url=sim.base)
    forged = impostor.issue_access_token(
        TENANT_ID, ALEX.oid, "api://matterline", client_id=CONSOLE_CLIENT_ID, scopes=["access_as_user"]
    )

    result = sim.confidential_client().acquire_token_on_behalf_of(forged, [f"{GRAPH_RESOURCE}/Mail.Read"])

    assert result["error"] == "invalid_grant"


def test_on_behalf_of_refuses_permissions_that_were_never_consented(sim: Simulator) -> None:
    incoming = sim.identity.issue_access_token(
        TENANT_ID, ALEX.oid, "api://matterline", client_id=CONSOLE_CLIENT_ID, scopes=["access_as_user"]
    )

    result = sim.confidential_client().acquire_token_on_behalf_of(
        incoming, [f"{GRAPH_RESOURCE}/MailboxSettings.Read"]
    )

    assert result["error"] == "invalid_grant"
    assert result["suberror"] == "consent_required"


# --- authorization code + PKCE -----------------------------------------------------------------------


def test_the_sign_in_page_lists_the_tenants_users(sim: Simulator) -> None:
    _, challenge = pkce_pair()
    response = sim.get(
        f"/{TENANT_ID}/oauth2/v2.0/authorize",
        params={
            "client_id": CONSOLE_CLIENT_ID,
            "response_type": "code",
            "redirect_uri": CONSOLE_REDIRECT,
            "scope": "api://matterline/access_as_user openid",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "login_hint": MEGAN.email,
        },
    )

    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    assert "<title>Sign in — Matterline devstack (simulated Microsoft Entra ID)</title>" in response.text
    assert ALEX.email in response.text and ALEX.display_name in response.text
    assert MEGAN.email in response.text
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_a_user_signs_in_with_auth_code_and_pkce_and_gets_tokens(sim: Simulator) -> None:
    verifier, challenge = pkce_pair()

    redirect = sign_in(sim, MEGAN.email, challenge=challenge, state="abc", nonce="nonce-42")
    assert parse_qs(urlsplit(redirect.headers["Location"]).query)["state"] == ["abc"]
    assert "msim_session=" in redirect.headers["Set-Cookie"]
    response = redeem(sim, code_from(redirect), verifier)

    assert response.status_code == 200, response.text
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.headers["Cache-Control"].startswith("no-store")
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["scope"].split()[0] == "api://matterline/access_as_user"
    assert body["refresh_token"]
    access = sim.verify(body["access_token"], audience="api://matterline")
    assert access["oid"] == MEGAN.oid
    assert access["scp"] == "access_as_user"
    assert access["name"] == MEGAN.display_name
    assert access["roles"] == ["firm_admin"]
    assert access["azp"] == CONSOLE_CLIENT_ID
    id_token = sim.verify(body["id_token"], audience=CONSOLE_CLIENT_ID)
    assert id_token["nonce"] == "nonce-42"
    assert id_token["preferred_username"] == MEGAN.email
    assert id_token["sub"] != access["sub"]  # pairwise, as in Entra


def test_a_wrong_code_verifier_is_an_invalid_grant(sim: Simulator) -> None:
    _, challenge = pkce_pair()
    other_verifier, _ = pkce_pair()
    code = code_from(sign_in(sim, ALEX.email, challenge=challenge))

    response = redeem(sim, code, other_verifier)

    assert_entra_error(response, 400, "invalid_grant", 50148)


def test_an_authorization_code_can_be_redeemed_only_once(sim: Simulator) -> None:
    verifier, challenge = pkce_pair()
    code = code_from(sign_in(sim, ALEX.email, challenge=challenge))
    assert redeem(sim, code, verifier).status_code == 200

    second = redeem(sim, code, verifier)

    assert_entra_error(second, 400, "invalid_grant", 54005)


def test_a_refresh_token_gets_a_fresh_access_token_for_the_same_user(sim: Simulator) -> None:
    verifier, challenge = pkce_pair()
    tokens = redeem(sim, code_from(sign_in(sim, ALEX.email, challenge=challenge)), verifier).json()

    response = sim.post(
        f"/{TENANT_ID}/oauth2/v2.0/token",
        data={
            "client_id": CONSOLE_CLIENT_ID,
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "scope": "api://matterline/access_as_user openid offline_access",
        },
    )

    assert response.status_code == 200, response.text
    claims = sim.verify(response.json()["access_token"], audience="api://matterline")
    assert claims["oid"] == ALEX.oid
    assert response.json()["refresh_token"]


def test_a_refresh_token_is_not_accepted_as_an_access_token(sim: Simulator) -> None:
    verifier, challenge = pkce_pair()
    tokens = redeem(sim, code_from(sign_in(sim, ALEX.email, challenge=challenge)), verifier).json()

    with pytest.raises(Exception, match="not an access or id token"):
        sim.identity.validate_token(tokens["refresh_token"])


def test_authorize_with_an_unregistered_redirect_uri_shows_an_error_page(sim: Simulator) -> None:
    response = sim.get(
        f"/{TENANT_ID}/oauth2/v2.0/authorize",
        params={
            "client_id": CONSOLE_CLIENT_ID,
            "response_type": "code",
            "redirect_uri": "https://evil.example/steal",
            "scope": "openid",
        },
        allow_redirects=False,
    )

    assert response.status_code == 400
    assert "Location" not in response.headers
    assert "AADSTS50011" in response.text
    assert "https://evil.example/steal" in response.text


def test_an_unknown_email_shows_the_sign_in_page_again_naming_it(sim: Simulator) -> None:
    _, challenge = pkce_pair()

    response = sign_in(sim, "nobody@contoso.example", challenge=challenge)

    assert response.status_code == 200
    assert "nobody@contoso.example" in response.text
    assert "Contoso Legal" in response.text
    assert 'role="alert"' in response.text


def test_a_bad_scope_is_reported_back_to_the_app_by_redirect(sim: Simulator) -> None:
    response = sim.get(
        f"/{TENANT_ID}/oauth2/v2.0/authorize",
        params={
            "client_id": CONSOLE_CLIENT_ID,
            "response_type": "code",
            "redirect_uri": CONSOLE_REDIRECT,
            "scope": "api://no-such-api/read",
            "state": "s",
        },
        allow_redirects=False,
    )

    assert response.status_code == 302
    query = parse_qs(urlsplit(response.headers["Location"]).query)
    assert query["error"] == ["invalid_resource"]
    assert query["state"] == ["s"]


def test_prompt_none_succeeds_only_with_a_sign_in_session(sim: Simulator) -> None:
    _, challenge = pkce_pair()
    params = {
        "client_id": CONSOLE_CLIENT_ID,
        "response_type": "code",
        "redirect_uri": CONSOLE_REDIRECT,
        "scope": "api://matterline/access_as_user openid",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "prompt": "none",
    }
    session = requests.Session()
    session.verify = sim.ca
    url = sim.url(f"/{TENANT_ID}/oauth2/v2.0/authorize")

    before = session.get(url, params=params, allow_redirects=False, timeout=TIMEOUT)
    first = sign_in(sim, ALEX.email, challenge=challenge)
    cookie = first.headers["Set-Cookie"].split(";", 1)[0]
    after = session.get(
        url, params=params, headers={"Cookie": cookie}, allow_redirects=False, timeout=TIMEOUT
    )

    assert parse_qs(urlsplit(before.headers["Location"]).query)["error"] == ["login_required"]
    assert "code" in parse_qs(urlsplit(after.headers["Location"]).query)


def test_msal_completes_the_auth_code_flow_with_form_post_against_the_simulator(sim: Simulator) -> None:
    app = sim.confidential_client()
    flow = app.initiate_auth_code_flow(
        [f"{GRAPH_RESOURCE}/User.Read"], redirect_uri=API_REDIRECT, response_mode="form_post"
    )
    page = requests.get(flow["auth_uri"], verify=sim.ca, timeout=TIMEOUT)
    posted_back = sim.post(
        f"/{TENANT_ID}/oauth2/v2.0/authorize",
        data={**hidden_fields(page.text), "login": ALEX.email},
        allow_redirects=False,
    )
    assert posted_back.status_code == 200
    assert f'action="{API_REDIRECT}"' in posted_back.text
    auth_response = hidden_fields(posted_back.text)  # what the browser would post to the app

    result = app.acquire_token_by_auth_code_flow(flow, auth_response)

    assert "access_token" in result, result
    assert result["id_token_claims"]["oid"] == ALEX.oid
    # msal sends the SHA-256 of its nonce; the id token must echo what was sent.
    assert result["id_token_claims"]["nonce"] == hashlib.sha256(flow["nonce"].encode()).hexdigest()
    assert app.get_accounts()[0]["username"] == ALEX.email
    claims = sim.verify(result["access_token"], audience=GRAPH_RESOURCE)
    assert claims["scp"] == "User.Read"


def test_an_expired_authorization_code_is_an_invalid_grant(tmp_path: Path) -> None:
    now = [1_700_000_000.0]
    identity = IdentityProvider(
        Directory([contoso()]), tmp_path, base_url="https://localhost:1", clock=lambda: now[0]
    )
    verifier, challenge = pkce_pair()
    request = identity.begin_authorization(
        TENANT_ID,
        {
            "client_id": CONSOLE_CLIENT_ID,
            "response_type": "code",
            "redirect_uri": CONSOLE_REDIRECT,
            "scope": "api://matterline/access_as_user",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        },
    )
    _, _, code = identity.complete_authorization(request, ALEX.email)
    now[0] += 601

    with pytest.raises(EntraError) as raised:
        identity.token_endpoint(
            TENANT_ID,
            {
                "grant_type": "authorization_code",
                "client_id": CONSOLE_CLIENT_ID,
                "code": code,
                "redirect_uri": CONSOLE_REDIRECT,
                "code_verifier": verifier,
            },
        )

    assert (raised.value.error, raised.value.code) == ("invalid_grant", 70008)


# --- HTTP plumbing -----------------------------------------------------------------------------------


def test_the_token_endpoint_answers_a_cors_preflight(sim: Simulator) -> None:
    response = requests.options(
        sim.url(f"/{TENANT_ID}/oauth2/v2.0/token"),
        headers={
            "Origin": "https://localhost:8001",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, client-request-id",
        },
        verify=sim.ca,
        timeout=TIMEOUT,
    )

    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    assert "client-request-id" in response.headers["Access-Control-Allow-Headers"]


def test_an_unknown_path_is_a_json_not_found(sim: Simulator) -> None:
    response = sim.get("/no/such/endpoint")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NotFound"


def test_routes_added_by_other_modules_are_served_with_their_path_parameters(sim: Simulator) -> None:
    def user_handler(request: Request) -> Response:
        return Response.json({"id": request.params["user"], "top": request.arg("$top")})

    sim.server.add_route("GET", r"^/v1\.0/users/(?P<user>[^/]+)$", user_handler)

    response = sim.get("/v1.0/users/alex@contoso.example", params={"$top": "5"})

    assert response.json() == {"id": "alex@contoso.example", "top": "5"}


def test_the_admin_api_creates_and_lists_tenants(sim: Simulator) -> None:
    created = sim.post(
        "/_sim/tenants",
        json={
            "display_name": "Fabrikam Partners",
            "users": [{"email": "pat@fabrikam.example", "display_name": "Pat Lee"}],
            "apps": [{"display_name": "Fabrikam tool", "client_secret": "s", "app_id_uri": "api://fabrikam"}],
        },
    )
    listed = sim.get("/_sim/tenants").json()["value"]

    assert created.status_code == 201, created.text
    tenant = created.json()
    assert tenant["domain"] == "fabrikampartners.onmicrosoft.com"
    assert tenant["users"][0]["oid"]
    assert "client_secret" not in tenant["apps"][0]
    assert {t["display_name"] for t in listed} >= {"Contoso Legal", "Fabrikam Partners"}
    duplicate = sim.post("/_sim/tenants", json={**tenant, "display_name": "Again"})
    assert duplicate.status_code == 409


def test_the_directory_survives_a_round_trip_through_a_dict() -> None:
    directory = Directory([contoso()])

    restored = Directory.from_dict(directory.to_dict())

    assert restored.to_dict() == directory.to_dict()
    assert restored.tenant("contoso.onmicrosoft.com") == contoso()


# --- persistence and safety --------------------------------------------------------------------------


def test_signing_keys_persist_across_identity_provider_instances(tmp_path: Path) -> None:
    base = "https://localhost:8443"
    first = IdentityProvider(Directory([contoso()]), tmp_path, base_url=base)
    token = first.issue_access_token(
        TENANT_ID, ALEX.oid, "api://matterline", client_id=CONSOLE_CLIENT_ID, scopes=["access_as_user"]
    )

    second = IdentityProvider(Directory([contoso()]), tmp_path, base_url=base)

    assert second.kid == first.kid
    claims = verify_with_jwks(
        token, second.jwks(), audience="api://matterline", issuer=f"{base}/{TENANT_ID}/v2.0"
    )
    assert claims["oid"] == ALEX.oid
    assert second.validate_token(token, audience="api://matterline")["oid"] == ALEX.oid


def test_tls_material_is_reused_on_a_later_start(sim: Simulator) -> None:
    before = sim.tls.ca_cert_path.read_bytes()

    again = ensure_ca_and_server_cert(sim.state_dir / "tls")

    assert again.ca_cert_path.read_bytes() == before
    assert oct(again.key_path.stat().st_mode & 0o777) == "0o600"


def test_the_server_binds_to_127_0_0_1_only(sim: Simulator, tmp_path: Path) -> None:
    assert sim.server.host == "127.0.0.1"
    with pytest.raises(ValueError, match="loopback"):
        M365Server(sim.identity, host="0.0.0.0", port=0, tls=sim.tls)

    other_address = _non_loopback_address()
    if other_address is None:
        pytest.skip("this machine has no non-loopback IPv4 address to probe")
    with pytest.raises(OSError), socket.create_connection((other_address, sim.server.port), timeout=2):
        pass


def _non_loopback_address() -> str | None:
    """This machine's outward-facing IPv4 address, if it has one (no packet is sent)."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("10.255.255.255", 1))
        address = str(probe.getsockname()[0])
    except OSError:
        return None
    finally:
        probe.close()
    return None if address.startswith("127.") else address
