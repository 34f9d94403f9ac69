"""The simulated Microsoft Entra ID: a directory of tenants, and an identity provider that signs tokens.

This module holds the protocol logic (which grant gives which token, with which claims and which
errors); ``server.py`` only turns HTTP requests into calls here and the results back into HTTP. Keeping
the two apart lets the devstack mint tokens directly (``matterline token EMAIL``) with exactly the
claims the token endpoint would have produced.

Fidelity notes, so nobody has to rediscover them:

* Tokens follow the v2.0 format (``ver: "2.0"``, issuer ``{base}/{tid}/v2.0``). For APIs registered in a
  tenant, ``aud`` is the API's application ID URI (e.g. ``api://matterline``), which is what Matterline
  validates. (Real Entra puts the API's client id in ``aud`` of v2.0 tokens; API code that accepts either
  is portable.)
* ``sub`` is pairwise, as in Entra: the same user has a different ``sub`` for each application, so it
  must never be used to identify a user across applications; ``oid`` + ``tid`` is the identity.
* Error responses carry Entra's ``AADSTS`` codes and shape, so client code that branches on
  ``error``/``error_codes`` (msal does) behaves the same here and in production.
* Refresh tokens and the sign-in session are signed JWTs with audiences no API accepts; real Entra's are
  opaque, and clients must treat ours as opaque too. Being self-contained, they survive a restart.
  Authorization codes live in memory only (they last ten minutes).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import unquote_plus

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from devstack.m365.tls import write_private_file

# --- Well-known identifiers -------------------------------------------------------------------------

GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
GRAPH_RESOURCE = "https://graph.microsoft.com"
EXCHANGE_APP_ID = "00000002-0000-0ff1-ce00-000000000000"
EXCHANGE_RESOURCE = "https://outlook.office365.com"

# Path segments that stand for "whichever tenant the user or app belongs to" rather than one tenant.
MULTI_TENANT_SEGMENTS = frozenset({"common", "organizations"})

# OpenID Connect scopes: they shape the response (id token, refresh token), not the access token.
OIDC_SCOPES = frozenset({"openid", "profile", "email", "offline_access"})

SIGNING_KEY_FILE = "token-signing-key.pem"
SIGNING_CERT_FILE = "token-signing-cert.pem"

AUTHORIZATION_CODE_LIFETIME_SECONDS = 600
ACCESS_TOKEN_LIFETIME_SECONDS = 3600
REFRESH_TOKEN_LIFETIME_SECONDS = 90 * 24 * 3600
SESSION_LIFETIME_SECONDS = 24 * 3600

# Audiences of our internal JWTs. No API is configured with these, so a refresh token or a session
# cookie can never be replayed as an access token.
_REFRESH_AUDIENCE = "urn:matterline:devstack:m365:refresh_token"
_SESSION_AUDIENCE = "urn:matterline:devstack:m365:session"
_REFRESH_TYP = "RT+JWT"
_SESSION_TYP = "SESSION+JWT"

# Used to derive stable service principal object ids from (tenant, client id).
_SERVICE_PRINCIPAL_NAMESPACE = uuid.UUID("5f1f6c50-0c1b-4a4e-9a8e-6d0d3c1b7a11")
_PKCE_VERIFIER = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")


def new_id() -> str:
    """A new random GUID string, the form Entra uses for tenant ids, object ids and client ids."""
    return str(uuid.uuid4())


# --- Directory ---------------------------------------------------------------------------------------


def _strings(values: Iterable[str] | None) -> tuple[str, ...]:
    return tuple(str(value) for value in (values or ()))


def _permission_map(values: Mapping[str, Iterable[str]] | None) -> dict[str, tuple[str, ...]]:
    return {str(key): _strings(items) for key, items in (values or {}).items()}


@dataclass(frozen=True)
class User:
    """A member of a tenant.

    ``app_role_assignments`` maps an API (its application ID URI or client id) to the app roles the user
    is assigned on it; they appear in the ``roles`` claim of delegated tokens for that API.
    """

    oid: str
    email: str
    display_name: str
    app_role_assignments: Mapping[str, Sequence[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "app_role_assignments", _permission_map(self.app_role_assignments))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (inverse of ``from_dict``)."""
        return {
            "oid": self.oid,
            "email": self.email,
            "display_name": self.display_name,
            "app_role_assignments": {k: list(v) for k, v in self.app_role_assignments.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> User:
        """Build from ``to_dict`` output; ``oid`` is generated when absent."""
        email = _required_text(data, "email", "user")
        return cls(
            oid=str(data.get("oid") or new_id()),
            email=email,
            display_name=str(data.get("display_name") or email.split("@")[0]),
            app_role_assignments=_permission_map(
                _mapping(data.get("app_role_assignments"), "app_role_assignments")
            ),
        )


@dataclass(frozen=True)
class AppRegistration:
    """An application registered in a tenant: a client, an API, or both.

    As an API it exposes ``scopes`` (delegated permissions, e.g. ``access_as_user``) and ``app_roles``
    (application permissions, e.g. ``Matter.Read.All``) under ``app_id_uri``. As a client it has
    ``api_permissions``: the permissions configured for it on other APIs (keyed by their application ID
    URI or client id), all treated as admin-consented. An app without a ``client_secret`` is a public
    client (a single-page app or the add-in) and may redeem codes and refresh tokens without one.
    """

    client_id: str
    display_name: str
    client_secret: str | None = None
    app_id_uri: str | None = None
    redirect_uris: Sequence[str] = ()
    app_roles: Sequence[str] = ()
    scopes: Sequence[str] = ()
    api_permissions: Mapping[str, Sequence[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Accept lists from callers but store tuples, so a registration handed out by the Directory
        # cannot be changed behind its lock.
        object.__setattr__(self, "redirect_uris", _strings(self.redirect_uris))
        object.__setattr__(self, "app_roles", _strings(self.app_roles))
        object.__setattr__(self, "scopes", _strings(self.scopes))
        object.__setattr__(self, "api_permissions", _permission_map(self.api_permissions))

    @property
    def is_public_client(self) -> bool:
        """True when the app has no secret, i.e. cannot keep one (SPA, add-in, native)."""
        return self.client_secret is None

    @property
    def resource_identifier(self) -> str:
        """The value put in ``aud`` of tokens for this API."""
        return self.app_id_uri or self.client_id

    def identifiers(self) -> tuple[str, ...]:
        """The names a client may use for this API in a scope: application ID URI or client id."""
        return (self.app_id_uri, self.client_id) if self.app_id_uri else (self.client_id,)

    def configured_permissions(self, resource: AppRegistration) -> tuple[str, ...]:
        """The permissions this client has been granted on ``resource``."""
        wanted = {_normalise_resource(name) for name in resource.identifiers()}
        found: list[str] = []
        for key, permissions in self.api_permissions.items():
            if _normalise_resource(key) in wanted:
                found.extend(p for p in permissions if p not in found)
        return tuple(found)

    def to_dict(self, *, include_secret: bool = True) -> dict[str, Any]:
        """JSON-ready form (inverse of ``from_dict``); the secret is left out unless asked for."""
        data: dict[str, Any] = {
            "client_id": self.client_id,
            "display_name": self.display_name,
            "app_id_uri": self.app_id_uri,
            "redirect_uris": list(self.redirect_uris),
            "app_roles": list(self.app_roles),
            "scopes": list(self.scopes),
            "api_permissions": {k: list(v) for k, v in self.api_permissions.items()},
            "public_client": self.is_public_client,
        }
        if include_secret:
            data["client_secret"] = self.client_secret
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AppRegistration:
        """Build from ``to_dict`` output; ``client_id`` is generated when absent."""
        display_name = _required_text(data, "display_name", "app registration")
        secret = data.get("client_secret")
        app_id_uri = data.get("app_id_uri")
        return cls(
            client_id=str(data.get("client_id") or new_id()),
            display_name=display_name,
            client_secret=str(secret) if secret else None,
            app_id_uri=str(app_id_uri).rstrip("/") if app_id_uri else None,
            redirect_uris=tuple(_string_list(data.get("redirect_uris"), "redirect_uris")),
            app_roles=tuple(_string_list(data.get("app_roles"), "app_roles")),
            scopes=tuple(_string_list(data.get("scopes"), "scopes")),
            api_permissions=_permission_map(_mapping(data.get("api_permissions"), "api_permissions")),
        )


# Microsoft's own APIs exist in every tenant without being registered there. Only the permissions
# Matterline can meaningfully ask for are listed; asking for others fails as it would for a typo.
FIRST_PARTY_APIS: tuple[AppRegistration, ...] = (
    AppRegistration(
        client_id=GRAPH_APP_ID,
        display_name="Microsoft Graph",
        app_id_uri=GRAPH_RESOURCE,
        scopes=(
            "User.Read",
            "User.ReadBasic.All",
            "User.Read.All",
            "Mail.Read",
            "Mail.ReadBasic",
            "Mail.Read.Shared",
            "Calendars.Read",
            "Calendars.Read.Shared",
            "MailboxSettings.Read",
        ),
        app_roles=(
            "User.Read.All",
            "Mail.Read",
            "Mail.ReadBasic",
            "Mail.ReadBasic.All",
            "Calendars.Read",
            "MailboxSettings.Read",
        ),
    ),
    AppRegistration(
        client_id=EXCHANGE_APP_ID,
        display_name="Office 365 Exchange Online",
        app_id_uri=EXCHANGE_RESOURCE,
        scopes=("EWS.AccessAsUser.All",),
        app_roles=("full_access_as_app",),
    ),
)


@dataclass(frozen=True)
class Tenant:
    """A directory tenant (one law firm): its users and its app registrations."""

    tenant_id: str
    display_name: str
    domain: str
    users: Sequence[User] = ()
    apps: Sequence[AppRegistration] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "users", tuple(self.users))
        object.__setattr__(self, "apps", tuple(self.apps))

    def user(self, oid: str) -> User | None:
        """The user with object id ``oid``, if any."""
        return next((u for u in self.users if u.oid == oid), None)

    def user_by_email(self, email: str) -> User | None:
        """The user whose sign-in name is ``email`` (case-insensitive), if any."""
        wanted = email.strip().lower()
        return next((u for u in self.users if u.email.lower() == wanted), None)

    def app(self, client_id: str) -> AppRegistration | None:
        """The app registration with ``client_id``, if any."""
        return next((a for a in self.apps if a.client_id == client_id), None)

    def resource(self, identifier: str) -> AppRegistration | None:
        """The API known as ``identifier`` (application ID URI or client id), here or first-party."""
        wanted = _normalise_resource(identifier)
        for app in (*self.apps, *FIRST_PARTY_APIS):
            if any(_normalise_resource(name) == wanted for name in app.identifiers()):
                return app
        return None

    def service_principal_id(self, client_id: str) -> str:
        """The object id of ``client_id``'s service principal here: stable, distinct per tenant."""
        return str(uuid.uuid5(_SERVICE_PRINCIPAL_NAMESPACE, f"{self.tenant_id}/{client_id}"))

    def to_dict(self, *, include_secrets: bool = True) -> dict[str, Any]:
        """JSON-ready form (inverse of ``from_dict``)."""
        return {
            "tenant_id": self.tenant_id,
            "display_name": self.display_name,
            "domain": self.domain,
            "users": [user.to_dict() for user in self.users],
            "apps": [app.to_dict(include_secret=include_secrets) for app in self.apps],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Tenant:
        """Build from ``to_dict`` output; ids are generated when absent. Raises ``ValueError``."""
        if not isinstance(data, Mapping):
            raise ValueError("a tenant must be a JSON object")
        display_name = _required_text(data, "display_name", "tenant")
        tenant_id = str(data.get("tenant_id") or new_id())
        _require_guid(tenant_id, "tenant_id")
        domain = str(data.get("domain") or f"{_slug(display_name)}.onmicrosoft.com").lower()
        users = tuple(User.from_dict(_object(u, "users[]")) for u in _list(data.get("users"), "users"))
        apps = tuple(AppRegistration.from_dict(_object(a, "apps[]")) for a in _list(data.get("apps"), "apps"))
        tenant = cls(tenant_id=tenant_id, display_name=display_name, domain=domain, users=users, apps=apps)
        _check_unique(tenant)
        return tenant


class TenantExistsError(ValueError):
    """A tenant with that id or domain is already in the directory."""


class Directory:
    """All simulated tenants, safe to read and change from the server's request threads."""

    def __init__(self, tenants: Iterable[Tenant] = ()) -> None:
        self._lock = threading.RLock()
        self._tenants: dict[str, Tenant] = {}
        for tenant in tenants:
            self.add_tenant(tenant)

    def add_tenant(self, tenant: Tenant) -> Tenant:
        """Add a new tenant. Raises ``ValueError`` if its id or domain is already taken."""
        _check_unique(tenant)
        with self._lock:
            for existing in self._tenants.values():
                if existing.tenant_id == tenant.tenant_id:
                    raise TenantExistsError(f"tenant {tenant.tenant_id} already exists")
                if existing.domain.lower() == tenant.domain.lower():
                    raise TenantExistsError(f"the domain {tenant.domain} already belongs to another tenant")
            self._tenants[tenant.tenant_id] = tenant
        return tenant

    def put_tenant(self, tenant: Tenant) -> Tenant:
        """Add ``tenant`` or replace the tenant with the same id."""
        _check_unique(tenant)
        with self._lock:
            self._tenants[tenant.tenant_id] = tenant
        return tenant

    def remove_tenant(self, tenant_id: str) -> None:
        """Remove a tenant (no error if it does not exist)."""
        with self._lock:
            self._tenants.pop(tenant_id, None)

    def add_user(self, tenant_id: str, user: User) -> User:
        """Add ``user`` to a tenant, or replace the user with the same ``oid``."""
        with self._lock:
            tenant = self._require(tenant_id)
            others = tuple(u for u in tenant.users if u.oid != user.oid)
            if any(u.email.lower() == user.email.lower() for u in others):
                raise ValueError(f"{user.email} is already a user of tenant {tenant.display_name}")
            self._tenants[tenant.tenant_id] = replace(tenant, users=(*others, user))
        return user

    def add_app(self, tenant_id: str, app: AppRegistration) -> AppRegistration:
        """Register ``app`` in a tenant, or replace the registration with the same ``client_id``."""
        with self._lock:
            tenant = self._require(tenant_id)
            others = tuple(a for a in tenant.apps if a.client_id != app.client_id)
            updated = replace(tenant, apps=(*others, app))
            _check_unique(updated)
            self._tenants[tenant.tenant_id] = updated
        return app

    def tenant(self, tenant_id_or_domain: str) -> Tenant | None:
        """A tenant by GUID or by domain name (``contoso.onmicrosoft.com``), as Entra accepts both."""
        wanted = tenant_id_or_domain.strip().lower()
        with self._lock:
            for tenant in self._tenants.values():
                if tenant.tenant_id.lower() == wanted or tenant.domain.lower() == wanted:
                    return tenant
        return None

    def tenants(self) -> list[Tenant]:
        """A snapshot of all tenants."""
        with self._lock:
            return list(self._tenants.values())

    def tenants_with_app(self, client_id: str) -> list[Tenant]:
        """Tenants in which ``client_id`` is registered (a multi-tenant app is registered in each)."""
        return [t for t in self.tenants() if t.app(client_id) is not None]

    def find_user_by_email(self, email: str) -> tuple[Tenant, User] | None:
        """The first tenant with a user signing in as ``email``, and that user."""
        for tenant in self.tenants():
            user = tenant.user_by_email(email)
            if user is not None:
                return tenant, user
        return None

    def to_dict(self, *, include_secrets: bool = True) -> dict[str, Any]:
        """Everything in the directory as JSON-ready data (what the devstack saves under ``var/``)."""
        return {
            "version": 1,
            "tenants": [t.to_dict(include_secrets=include_secrets) for t in self.tenants()],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Directory:
        """Rebuild a directory saved with ``to_dict``. Raises ``ValueError`` on malformed data."""
        return cls(Tenant.from_dict(_object(t, "tenants[]")) for t in _list(data.get("tenants"), "tenants"))

    def _require(self, tenant_id: str) -> Tenant:
        tenant = self._tenants.get(tenant_id)
        if tenant is None:
            raise KeyError(f"no tenant {tenant_id}")
        return tenant


# --- Errors ------------------------------------------------------------------------------------------


class EntraError(Exception):
    """An OAuth error as Entra reports it: ``error``, an ``AADSTS`` code and a description."""

    def __init__(self, error: str, code: int, message: str, *, status: int = 400, suberror: str = ""):
        super().__init__(f"AADSTS{code}: {message}")
        self.error = error
        self.code = code
        self.message = message
        self.status = status
        self.suberror = suberror

    @property
    def description(self) -> str:
        """``AADSTS{code}: {message}``, the start of Entra's ``error_description``."""
        return f"AADSTS{self.code}: {self.message}"

    def to_json(self, *, correlation_id: str | None = None, now: float | None = None) -> dict[str, Any]:
        """The token endpoint's error body, field for field as Entra sends it."""
        trace_id = new_id()
        correlation = correlation_id or new_id()
        timestamp = dt.datetime.fromtimestamp(now if now is not None else time.time(), dt.UTC)
        stamp = timestamp.strftime("%Y-%m-%d %H:%M:%SZ")
        body: dict[str, Any] = {
            "error": self.error,
            "error_description": (
                f"{self.description} Trace ID: {trace_id} Correlation ID: {correlation} Timestamp: {stamp}"
            ),
            "error_codes": [self.code],
            "timestamp": stamp,
            "trace_id": trace_id,
            "correlation_id": correlation,
            "error_uri": f"https://login.microsoftonline.com/error?code={self.code}",
        }
        if self.suberror:
            body["suberror"] = self.suberror
        return body


class AuthorizationPageError(Exception):
    """An authorize request that cannot be sent back to the app (bad client or redirect URI).

    Entra shows these on its own error page rather than redirecting, because redirecting to an
    unverified address would make the sign-in page an open redirector.
    """

    def __init__(self, error: EntraError):
        super().__init__(error.description)
        self.error = error


class UserNotFoundError(Exception):
    """The email typed on the sign-in page is not a user of the tenant(s) the app is registered in."""

    def __init__(self, email: str, tenants: Sequence[Tenant]):
        names = " or ".join(f"{t.display_name} ({t.domain})" for t in tenants) or "this directory"
        super().__init__(f"We couldn't find an account for {email} in {names}.")
        self.email = email


class TokenValidationError(Exception):
    """A token presented to us (an OBO assertion, or by an API simulator) is not acceptable."""


class TokenExpiredError(TokenValidationError):
    """The token was fine once but its ``exp`` has passed."""


# --- Authorization requests --------------------------------------------------------------------------


@dataclass(frozen=True)
class ScopeRequest:
    """A parsed ``scope`` parameter: one API, permissions on it, and the OIDC scopes."""

    resource: AppRegistration
    permissions: tuple[str, ...]
    oidc: tuple[str, ...]

    @property
    def is_default(self) -> bool:
        """Whether the request is ``{resource}/.default`` (all configured permissions)."""
        return self.permissions == (".default",)


@dataclass(frozen=True)
class AuthorizationRequest:
    """A validated ``/authorize`` request, waiting for the user to pick an account."""

    client: AppRegistration
    tenants: tuple[Tenant, ...]  # where the user may come from: one, or several for /common
    redirect_uri: str
    scope: str
    state: str | None
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    response_mode: str
    login_hint: str | None
    prompt: str | None

    def requested_permissions(self) -> list[str]:
        """Human-readable list of what the app asks for, for the sign-in page."""
        return [s for s in self.scope.split() if s not in OIDC_SCOPES]


@dataclass
class _PendingCode:
    client_id: str
    tenant_id: str
    oid: str
    redirect_uri: str
    scope: str
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    expires_at: float
    redeemed: bool = False


# --- Signing key -------------------------------------------------------------------------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _load_or_create_signing_key(
    directory: Path,
) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    """The token signing key and its self-signed certificate, created on first use and kept on disk.

    Keeping the key means tokens issued before a devstack restart still verify after it, and an API
    that cached our JWKS does not see an unknown ``kid``.
    """
    key_path = directory / SIGNING_KEY_FILE
    cert_path = directory / SIGNING_CERT_FILE
    directory.mkdir(parents=True, exist_ok=True)
    key: rsa.RSAPrivateKey | None = None
    if key_path.exists():
        loaded = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        if not isinstance(loaded, rsa.RSAPrivateKey):
            raise ValueError(f"{key_path} does not hold an RSA private key")
        key = loaded
    else:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        write_private_file(
            key_path,
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
        )
    certificate: x509.Certificate | None = None
    if cert_path.exists():
        certificate = x509.load_pem_x509_certificate(cert_path.read_bytes())
        if certificate.public_key() != key.public_key():
            certificate = None
    if certificate is None:
        certificate = _self_signed_certificate(key)
        write_private_file(cert_path, certificate.public_bytes(serialization.Encoding.PEM))
    return key, certificate


def _self_signed_certificate(key: rsa.RSAPrivateKey) -> x509.Certificate:
    """Entra publishes each signing key with a self-signed certificate (``x5c``); so do we."""
    name = x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, "Matterline devstack token signing (simulated Entra ID)")]
    )
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )


def jwk_thumbprint(public_jwk: Mapping[str, Any]) -> str:
    """RFC 7638 thumbprint of an RSA JWK: SHA-256 of its required members, canonically serialised."""
    canonical = json.dumps(
        {"e": public_jwk["e"], "kty": public_jwk["kty"], "n": public_jwk["n"]},
        separators=(",", ":"),
        sort_keys=True,
    )
    return _b64url(hashlib.sha256(canonical.encode("utf-8")).digest())


# --- The identity provider ---------------------------------------------------------------------------


class IdentityProvider:
    """Signs and checks tokens for a ``Directory``, and implements the OAuth grants.

    ``base_url`` (``https://localhost:8443``) must be known before tokens are issued, because it is
    part of every issuer; ``M365Server`` sets it when it binds its port.
    """

    ALGORITHM: ClassVar[str] = "RS256"

    def __init__(
        self,
        directory: Directory,
        key_directory: Path,
        *,
        base_url: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.directory = directory
        self._base_url = base_url.rstrip("/") if base_url else None
        self._clock = clock
        self._key, self._certificate = _load_or_create_signing_key(key_directory)
        self._public_jwk: dict[str, Any] = jwt.algorithms.RSAAlgorithm.to_jwk(
            self._key.public_key(), as_dict=True
        )
        self.kid = jwk_thumbprint(self._public_jwk)
        self._codes: dict[str, _PendingCode] = {}
        self._codes_lock = threading.Lock()

    # -- addresses ---------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """The simulator's origin, e.g. ``https://localhost:8443``."""
        if self._base_url is None:
            raise RuntimeError("IdentityProvider.base_url is not set yet (start the M365Server first)")
        return self._base_url

    @base_url.setter
    def base_url(self, value: str) -> None:
        self._base_url = value.rstrip("/")

    def issuer(self, tenant_id: str) -> str:
        """The v2.0 issuer of ``tenant_id``'s tokens: ``{base_url}/{tenant_id}/v2.0``."""
        return f"{self.base_url}/{tenant_id}/v2.0"

    def authority(self, tenant_id: str) -> str:
        """The msal ``authority`` for a tenant: ``{base_url}/{tenant_id}``."""
        return f"{self.base_url}/{tenant_id}"

    def jwks_uri(self, tenant_segment: str = "common") -> str:
        """Where the signing keys are published."""
        return f"{self.base_url}/{tenant_segment}/discovery/v2.0/keys"

    def now(self) -> float:
        """The provider's clock (``time.time`` unless a test injected another)."""
        return self._clock()

    # -- discovery ---------------------------------------------------------------------------------

    def openid_configuration(self, tenant_segment: str) -> dict[str, Any]:
        """The OIDC discovery document for a tenant GUID, domain, ``common`` or ``organizations``.

        For a single tenant the endpoints use its GUID (as Entra does even when asked by domain);
        for the multi-tenant segments the issuer holds the literal ``{tenantid}`` placeholder.
        """
        if tenant_segment.lower() in MULTI_TENANT_SEGMENTS:
            segment = tenant_segment.lower()
            issuer = f"{self.base_url}/{{tenantid}}/v2.0"
        else:
            tenant = self._tenant_or_error(tenant_segment)
            segment = tenant.tenant_id
            issuer = self.issuer(tenant.tenant_id)
        root = f"{self.base_url}/{segment}"
        host = self.base_url.split("://", 1)[-1]
        return {
            "token_endpoint": f"{root}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "jwks_uri": f"{root}/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": [self.ALGORITHM],
            "response_types_supported": ["code"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": issuer,
            "request_uri_parameter_supported": False,
            "userinfo_endpoint": f"{self.base_url}/oidc/userinfo",
            "authorization_endpoint": f"{root}/oauth2/v2.0/authorize",
            "http_logout_supported": True,
            "frontchannel_logout_supported": False,
            "end_session_endpoint": f"{root}/oauth2/v2.0/logout",
            "claims_supported": [
                "sub",
                "iss",
                "aud",
                "exp",
                "iat",
                "nbf",
                "nonce",
                "preferred_username",
                "name",
                "email",
                "tid",
                "oid",
                "ver",
            ],
            "grant_types_supported": [
                "authorization_code",
                "refresh_token",
                "client_credentials",
                "urn:ietf:params:oauth:grant-type:jwt-bearer",
            ],
            "code_challenge_methods_supported": ["S256", "plain"],
            "tenant_region_scope": "NA",
            "cloud_instance_name": "microsoftonline.com",
            "cloud_graph_host_name": "graph.windows.net",
            "msgraph_host": host,
            "rbac_url": "https://pas.windows.net",
        }

    def jwks(self) -> dict[str, Any]:
        """The published signing keys, as ``/discovery/v2.0/keys`` returns them."""
        der = self._certificate.public_bytes(serialization.Encoding.DER)
        return {
            "keys": [
                {
                    "kty": self._public_jwk["kty"],
                    "use": "sig",
                    "alg": self.ALGORITHM,
                    "kid": self.kid,
                    "x5t": _b64url(hashlib.sha1(der).digest()),  # x5t is SHA-1 by definition
                    "n": self._public_jwk["n"],
                    "e": self._public_jwk["e"],
                    "x5c": [base64.b64encode(der).decode("ascii")],
                    "issuer": f"{self.base_url}/{{tenantid}}/v2.0",
                }
            ]
        }

    @property
    def public_key(self) -> rsa.RSAPublicKey:
        """The token signing public key (for in-process verification)."""
        return self._key.public_key()

    # -- minting -----------------------------------------------------------------------------------

    def issue_access_token(
        self,
        tenant_id: str,
        oid: str | None,
        audience: str,
        *,
        client_id: str,
        scopes: Sequence[str] = (),
        roles: Sequence[str] | None = None,
        lifetime_seconds: int = ACCESS_TOKEN_LIFETIME_SECONDS,
    ) -> str:
        """Sign an access token for ``audience``, without checking any permission.

        With ``oid`` it is a delegated (user) token: ``scp`` holds ``scopes`` space-separated and
        ``roles`` defaults to the user's app role assignments on ``audience``. Without ``oid`` it is an
        app-only token for ``client_id``'s service principal with ``roles`` and ``idtyp: app``.
        The grants call this after deciding what is allowed; the devstack calls it directly to hand
        out tokens for demo users.
        """
        tenant = self._tenant_or_error(tenant_id)
        now = int(self.now())
        client = tenant.app(client_id)
        claims: dict[str, Any] = {
            "aud": audience,
            "iss": self.issuer(tenant.tenant_id),
            "iat": now,
            "nbf": now,
            "exp": now + lifetime_seconds,
            "tid": tenant.tenant_id,
            "azp": client_id,
            # 1 = the client authenticated with a secret, 0 = public client (no credential).
            "azpacr": "0" if client is None or client.is_public_client else "1",
            "uti": _b64url(secrets.token_bytes(16)),
            "ver": "2.0",
        }
        if oid is None:
            service_principal = tenant.service_principal_id(client_id)
            claims.update(oid=service_principal, sub=service_principal, idtyp="app")
            if roles:
                # Entra omits the claim rather than sending an empty list.
                claims["roles"] = list(roles)
        else:
            user = tenant.user(oid)
            if user is None:
                raise ValueError(f"no user {oid} in tenant {tenant.display_name}")
            assigned = list(roles) if roles is not None else self._assigned_roles(tenant, user, audience)
            claims.update(
                oid=user.oid,
                sub=_pairwise_subject(tenant.tenant_id, audience, user.oid),
                name=user.display_name,
                preferred_username=user.email,
                scp=" ".join(scopes),
            )
            if assigned:
                claims["roles"] = assigned
        return self._sign(claims, typ="JWT")

    def issue_id_token(
        self,
        tenant_id: str,
        oid: str,
        client_id: str,
        *,
        nonce: str | None = None,
        include_email: bool = False,
        lifetime_seconds: int = ACCESS_TOKEN_LIFETIME_SECONDS,
    ) -> str:
        """Sign an OpenID Connect id token for ``client_id`` about user ``oid`` (``nonce`` echoed)."""
        tenant = self._tenant_or_error(tenant_id)
        user = tenant.user(oid)
        if user is None:
            raise ValueError(f"no user {oid} in tenant {tenant.display_name}")
        now = int(self.now())
        claims: dict[str, Any] = {
            "aud": client_id,
            "iss": self.issuer(tenant.tenant_id),
            "iat": now,
            "nbf": now,
            "exp": now + lifetime_seconds,
            "name": user.display_name,
            "oid": user.oid,
            "preferred_username": user.email,
            "sub": _pairwise_subject(tenant.tenant_id, client_id, user.oid),
            "tid": tenant.tenant_id,
            "uti": _b64url(secrets.token_bytes(16)),
            "ver": "2.0",
        }
        if nonce:
            claims["nonce"] = nonce
        if include_email:
            claims["email"] = user.email
        return self._sign(claims, typ="JWT")

    def issue_session(self, tenant_id: str, oid: str) -> str:
        """The sign-in page's session cookie value: lets ``prompt=none`` succeed after a sign-in."""
        now = int(self.now())
        claims = {
            "aud": _SESSION_AUDIENCE,
            "iss": self.issuer(tenant_id),
            "tid": tenant_id,
            "oid": oid,
            "iat": now,
            "exp": now + SESSION_LIFETIME_SECONDS,
        }
        return self._sign(claims, typ=_SESSION_TYP)

    def read_session(self, value: str | None) -> tuple[Tenant, User] | None:
        """The signed-in user of a session cookie value, if it is ours, current, and the user exists."""
        if not value:
            return None
        try:
            claims = self._decode_internal(value, typ=_SESSION_TYP, audience=_SESSION_AUDIENCE)
        except TokenValidationError:
            return None
        tenant = self.directory.tenant(str(claims.get("tid", "")))
        user = tenant.user(str(claims.get("oid", ""))) if tenant else None
        return (tenant, user) if tenant and user else None

    def _sign(self, claims: Mapping[str, Any], *, typ: str) -> str:
        return jwt.encode(
            dict(claims), self._key, algorithm=self.ALGORITHM, headers={"kid": self.kid, "typ": typ}
        )

    @staticmethod
    def _assigned_roles(tenant: Tenant, user: User, audience: str) -> list[str]:
        resource = tenant.resource(audience)
        names = resource.identifiers() if resource else (audience,)
        wanted = {_normalise_resource(n) for n in names}
        roles: list[str] = []
        for key, values in user.app_role_assignments.items():
            if _normalise_resource(key) in wanted:
                roles.extend(r for r in values if r not in roles)
        return roles

    # -- validation --------------------------------------------------------------------------------

    def validate_token(self, token: str, *, audience: str | Sequence[str] | None = None) -> dict[str, Any]:
        """Verify an access or id token we issued and return its claims.

        Checks the RS256 signature against our key, ``exp``/``nbf``/``iat``, that ``iss`` is the issuer
        of the token's own ``tid``, and ``aud`` when ``audience`` is given. API simulators (Graph,
        EWS) use this to authenticate callers. Raises ``TokenValidationError`` with the reason.
        """
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as error:
            raise TokenValidationError("the token is not a well-formed JWT") from error
        if header.get("typ") != "JWT":
            # Our refresh tokens and session cookies are JWTs too; they must never pass as access tokens.
            raise TokenValidationError("the token is not an access or id token")
        audiences: list[str] | None
        if audience is None:
            audiences = None
        elif isinstance(audience, str):
            audiences = [audience]
        else:
            audiences = list(audience)
        claims = self._decode(token, audiences=audiences)
        tenant_id = claims.get("tid")
        if not isinstance(tenant_id, str) or claims.get("iss") != self.issuer(tenant_id):
            raise TokenValidationError("the token's issuer does not match its tenant")
        return claims

    def _decode(self, token: str, *, audiences: list[str] | None) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
            if header.get("kid") != self.kid:
                raise TokenValidationError("the token was not signed by this identity provider")
            decoded: dict[str, Any] = jwt.decode(
                token,
                self._key.public_key(),
                algorithms=[self.ALGORITHM],
                audience=audiences,
                options={
                    "require": ["exp", "iat", "iss", "aud", "tid"],
                    "verify_aud": audiences is not None,
                    # The clock is injectable, so time checks are done below against it.
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                },
            )
        except jwt.InvalidAudienceError as error:
            raise TokenValidationError("the token was issued for a different audience") from error
        except jwt.InvalidSignatureError as error:
            raise TokenValidationError("the token's signature is not valid") from error
        except jwt.PyJWTError as error:
            raise TokenValidationError(f"the token is not valid: {error}") from error
        now = self.now()
        if float(decoded["exp"]) <= now:
            raise TokenExpiredError("the token has expired")
        if float(decoded.get("nbf", 0)) > now:
            raise TokenValidationError("the token is not valid yet")
        return decoded

    def _decode_internal(self, token: str, *, typ: str, audience: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as error:
            raise TokenValidationError("malformed") from error
        if header.get("typ") != typ:
            raise TokenValidationError("wrong token type")
        try:
            decoded: dict[str, Any] = jwt.decode(
                token,
                self._key.public_key(),
                algorithms=[self.ALGORITHM],
                audience=audience,
                options={
                    "require": ["exp", "tid", "oid"],
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                },
            )
        except jwt.PyJWTError as error:
            raise TokenValidationError(str(error)) from error
        if float(decoded["exp"]) <= self.now():
            raise TokenExpiredError("expired")
        return decoded

    # -- the token endpoint ------------------------------------------------------------------------

    def token_endpoint(
        self,
        tenant_segment: str,
        form: Mapping[str, str],
        *,
        authorization: str | None = None,
    ) -> dict[str, Any]:
        """Handle ``POST /{tenant}/oauth2/v2.0/token`` and return the JSON success body.

        ``form`` is the decoded form body, ``authorization`` the ``Authorization`` header (for
        ``client_secret_basic``). Raises ``EntraError`` for every failure, shaped as Entra's.
        """
        grant_type = form.get("grant_type", "")
        if not grant_type:
            raise _missing_parameter("grant_type")
        if grant_type == "client_credentials":
            return self._client_credentials(tenant_segment, form, authorization)
        if grant_type == "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return self._on_behalf_of(tenant_segment, form, authorization)
        if grant_type == "authorization_code":
            return self._authorization_code(tenant_segment, form, authorization)
        if grant_type == "refresh_token":
            return self._refresh_token(tenant_segment, form, authorization)
        raise EntraError(
            "unsupported_grant_type", 70003, f"The app requested an unsupported grant type '{grant_type}'."
        )

    def _client_credentials(
        self, tenant_segment: str, form: Mapping[str, str], authorization: str | None
    ) -> dict[str, Any]:
        if tenant_segment.lower() in MULTI_TENANT_SEGMENTS:
            # An app-only token belongs to one tenant; Entra refuses to guess which.
            raise EntraError(
                "invalid_request",
                50059,
                "No tenant-identifying information found in either the request or implied by any "
                "provided credentials.",
            )
        tenant = self._tenant_or_error(tenant_segment)
        client = self._authenticate_client(tenant, form, authorization, require_secret=True)
        scope = form.get("scope", "")
        if not scope:
            raise _missing_parameter("scope")
        words = scope.split()
        if len(words) != 1 or not words[0].endswith("/.default"):
            bad = next((w for w in words if not w.endswith("/.default")), scope)
            raise EntraError(
                "invalid_scope",
                1002012,
                f"The provided value for scope {bad} is not valid. Client credential flows must have a "
                "scope value with /.default suffixed to the resource identifier (application ID URI).",
            )
        request = self._parse_scope(tenant, scope)
        resource = request.resource
        roles = [r for r in client.configured_permissions(resource) if r in resource.app_roles]
        token = self.issue_access_token(
            tenant.tenant_id, None, resource.resource_identifier, client_id=client.client_id, roles=roles
        )
        return {
            "token_type": "Bearer",
            "expires_in": ACCESS_TOKEN_LIFETIME_SECONDS,
            "ext_expires_in": ACCESS_TOKEN_LIFETIME_SECONDS,
            "access_token": token,
        }

    def _on_behalf_of(
        self, tenant_segment: str, form: Mapping[str, str], authorization: str | None
    ) -> dict[str, Any]:
        if form.get("requested_token_use") != "on_behalf_of":
            raise EntraError(
                "invalid_request",
                90100,
                "requested_token_use parameter is empty or not valid. Only 'on_behalf_of' is supported.",
            )
        assertion = form.get("assertion", "")
        if not assertion:
            raise _missing_parameter("assertion")
        try:
            unverified = jwt.decode(assertion, options={"verify_signature": False})
        except jwt.PyJWTError as error:
            raise EntraError(
                "invalid_request", 50027, "JWT token is invalid or malformed.", status=400
            ) from error
        assertion_tenant = str(unverified.get("tid", ""))
        if tenant_segment.lower() in MULTI_TENANT_SEGMENTS:
            tenant = self._tenant_or_error(assertion_tenant)
        else:
            tenant = self._tenant_or_error(tenant_segment)
        client = self._authenticate_client(tenant, form, authorization, require_secret=True)
        try:
            claims = self.validate_token(assertion)
        except TokenExpiredError as error:
            raise EntraError(
                "invalid_grant", 500133, "Assertion is not within its valid time range."
            ) from error
        except TokenValidationError as error:
            raise EntraError(
                "invalid_grant", 50013, f"Assertion failed signature validation. ({error})"
            ) from error
        if claims["tid"] != tenant.tenant_id:
            raise EntraError(
                "invalid_grant",
                50013,
                "Assertion contains an invalid tenant: the assertion was issued for tenant "
                f"'{claims['tid']}' but the request is for tenant '{tenant.tenant_id}'.",
            )
        if claims.get("aud") not in client.identifiers():
            raise EntraError(
                "invalid_grant",
                50013,
                "Assertion audience does not match the Client app presenting the assertion. "
                f"The audience in the assertion was '{claims.get('aud')}' and the expected audience is "
                f"'{client.resource_identifier}' or one of the Application Ids of the Client app.",
            )
        if claims.get("idtyp") == "app" or "scp" not in claims:
            raise EntraError(
                "invalid_grant",
                50013,
                "Assertion is an application token; on-behalf-of requires a token issued to a user.",
            )
        user = tenant.user(str(claims.get("oid")))
        if user is None:
            raise EntraError(
                "invalid_grant",
                50034,
                f"The user account {claims.get('oid')} does not exist in the {tenant.domain} directory.",
            )
        scope = form.get("scope", "")
        if not scope:
            raise _missing_parameter("scope")
        request = self._parse_scope(tenant, scope)
        configured = client.configured_permissions(request.resource)
        if request.is_default:
            granted = [p for p in configured if p in request.resource.scopes]
        else:
            # On-behalf-of cannot show a consent prompt, so every permission must already be granted.
            missing = [p for p in request.permissions if p not in configured]
            if missing:
                raise EntraError(
                    "invalid_grant",
                    65001,
                    f"The user or administrator has not consented to use the application with ID "
                    f"'{client.client_id}' named '{client.display_name}'. Send an interactive "
                    f"authorization request for this user and resource. (Missing: {' '.join(missing)})",
                    suberror="consent_required",
                )
            granted = list(request.permissions)
        if not granted:
            raise _no_consent(client)
        return self._user_token_response(tenant, user, client, request, granted, nonce=None, form=form)

    def _authorization_code(
        self, tenant_segment: str, form: Mapping[str, str], authorization: str | None
    ) -> dict[str, Any]:
        code = form.get("code", "")
        if not code:
            raise _missing_parameter("code")
        with self._codes_lock:
            pending = self._codes.get(code)
            # Single use, decided under the lock so that two concurrent redemptions cannot both win.
            already_redeemed = pending.redeemed if pending else False
            if pending:
                pending.redeemed = True
        if pending is None:
            raise EntraError(
                "invalid_grant", 70000, "The provided value for the 'code' parameter is not valid."
            )
        if already_redeemed:
            raise EntraError(
                "invalid_grant",
                54005,
                "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use "
                "an existing refresh token.",
            )
        if pending.expires_at <= self.now():
            raise EntraError(
                "invalid_grant",
                70008,
                "The provided authorization code or refresh token has expired due to inactivity. Send a "
                "new interactive authorization request for this user and resource.",
            )
        tenant = self._tenant_or_error(pending.tenant_id)
        if (
            tenant_segment.lower() not in MULTI_TENANT_SEGMENTS
            and self._tenant_or_error(tenant_segment).tenant_id != tenant.tenant_id
        ):
            raise EntraError(
                "invalid_grant", 70000, "The provided authorization code was issued for another tenant."
            )
        client = self._authenticate_client(tenant, form, authorization, require_secret=False)
        if client.client_id != pending.client_id:
            raise EntraError(
                "invalid_grant", 70000, "The provided authorization code was issued to a different client."
            )
        redirect_uri = form.get("redirect_uri", "")
        if redirect_uri != pending.redirect_uri:
            raise EntraError(
                "invalid_grant",
                50011,
                f"The redirect URI '{redirect_uri}' specified in the request does not match the redirect "
                f"URI used in the authorization request for the application '{client.client_id}'.",
            )
        if pending.code_challenge is not None:
            verifier = form.get("code_verifier", "")
            if not verifier:
                raise EntraError(
                    "invalid_grant",
                    501481,
                    "The Code_Verifier does not match the code_challenge supplied in the authorization "
                    "request.",
                )
            if not _pkce_matches(verifier, pending.code_challenge, pending.code_challenge_method or "plain"):
                raise EntraError(
                    "invalid_grant",
                    50148,
                    "The code_verifier does not match the code_challenge supplied in the authorization "
                    "request for PKCE.",
                )
        user = tenant.user(pending.oid)
        if user is None:
            raise EntraError(
                "invalid_grant", 50034, f"The user account {pending.oid} no longer exists in the directory."
            )
        request = self._parse_scope(tenant, pending.scope)
        granted = self._delegated_grant(client, request)
        return self._user_token_response(
            tenant, user, client, request, granted, nonce=pending.nonce, form=form
        )

    def _refresh_token(
        self, tenant_segment: str, form: Mapping[str, str], authorization: str | None
    ) -> dict[str, Any]:
        refresh_token = form.get("refresh_token", "")
        if not refresh_token:
            raise _missing_parameter("refresh_token")
        try:
            claims = self._decode_internal(refresh_token, typ=_REFRESH_TYP, audience=_REFRESH_AUDIENCE)
        except TokenExpiredError as error:
            raise EntraError(
                "invalid_grant",
                700082,
                "The refresh token has expired due to inactivity. The token was issued long ago and "
                "was inactive for too long.",
            ) from error
        except TokenValidationError as error:
            raise EntraError(
                "invalid_grant", 9002313, "Invalid request. Request is malformed or invalid."
            ) from error
        tenant = self._tenant_or_error(str(claims["tid"]))
        if (
            tenant_segment.lower() not in MULTI_TENANT_SEGMENTS
            and self._tenant_or_error(tenant_segment).tenant_id != tenant.tenant_id
        ):
            raise EntraError("invalid_grant", 9002313, "Invalid request. Request is malformed or invalid.")
        client = self._authenticate_client(tenant, form, authorization, require_secret=False)
        if client.client_id != claims.get("cid"):
            raise EntraError(
                "invalid_grant", 700024, "The refresh token was issued to a different client application."
            )
        user = tenant.user(str(claims["oid"]))
        if user is None:
            raise EntraError(
                "invalid_grant", 50034, f"The user account {claims['oid']} no longer exists in the directory."
            )
        scope = form.get("scope") or str(claims.get("scp", ""))
        request = self._parse_scope(tenant, scope)
        granted = self._delegated_grant(client, request)
        return self._user_token_response(tenant, user, client, request, granted, nonce=None, form=form)

    def _delegated_grant(self, client: AppRegistration, request: ScopeRequest) -> list[str]:
        """Permissions of an interactive (or refreshed) delegated token.

        The user consented on the sign-in page to whatever the app asked for, so explicit scopes are
        granted as long as the API exposes them (checked when parsing); ``.default`` means the
        permissions configured on the registration.
        """
        if request.is_default:
            granted = [
                p for p in client.configured_permissions(request.resource) if p in request.resource.scopes
            ]
            if not granted:
                raise _no_consent(client)
            return granted
        return list(request.permissions)

    def _user_token_response(
        self,
        tenant: Tenant,
        user: User,
        client: AppRegistration,
        request: ScopeRequest,
        granted: Sequence[str],
        *,
        nonce: str | None,
        form: Mapping[str, str],
    ) -> dict[str, Any]:
        resource = request.resource
        access_token = self.issue_access_token(
            tenant.tenant_id,
            user.oid,
            resource.resource_identifier,
            client_id=client.client_id,
            scopes=granted,
        )
        response: dict[str, Any] = {
            "token_type": "Bearer",
            "scope": " ".join(
                [_qualified(resource, p) for p in granted]
                + [s for s in request.oidc if s != "offline_access"]
            ),
            "expires_in": ACCESS_TOKEN_LIFETIME_SECONDS,
            "ext_expires_in": ACCESS_TOKEN_LIFETIME_SECONDS,
            "access_token": access_token,
        }
        if "offline_access" in request.oidc:
            response["refresh_token"] = self._issue_refresh_token(tenant, user, client, request)
        if "openid" in request.oidc:
            response["id_token"] = self.issue_id_token(
                tenant.tenant_id,
                user.oid,
                client.client_id,
                nonce=nonce,
                include_email="email" in request.oidc,
            )
        if form.get("client_info") == "1":
            # msal asks for this to key its token cache by home account (uid.utid).
            info = json.dumps({"uid": user.oid, "utid": tenant.tenant_id}, separators=(",", ":"))
            response["client_info"] = _b64url(info.encode("utf-8"))
        return response

    def _issue_refresh_token(
        self, tenant: Tenant, user: User, client: AppRegistration, request: ScopeRequest
    ) -> str:
        now = int(self.now())
        scope = " ".join(
            [_qualified(request.resource, p, always=True) for p in request.permissions] + list(request.oidc)
        )
        claims = {
            "aud": _REFRESH_AUDIENCE,
            "iss": self.issuer(tenant.tenant_id),
            "tid": tenant.tenant_id,
            "oid": user.oid,
            "cid": client.client_id,
            "scp": scope,
            "iat": now,
            "exp": now + REFRESH_TOKEN_LIFETIME_SECONDS,
            "jti": new_id(),
        }
        return self._sign(claims, typ=_REFRESH_TYP)

    # -- the authorize endpoint --------------------------------------------------------------------

    def begin_authorization(self, tenant_segment: str, params: Mapping[str, str]) -> AuthorizationRequest:
        """Validate an ``/authorize`` request.

        Raises ``AuthorizationPageError`` when the client or redirect URI is wrong (shown on our own
        page), and ``EntraError`` for anything else, which the caller reports back to the verified
        redirect URI as ``?error=...`` (call ``redirect_target`` first to know where that is).
        """
        client, tenants, redirect_uri = self._authorization_target(tenant_segment, params)
        response_type = params.get("response_type", "")
        if response_type != "code":
            raise EntraError(
                "unsupported_response_type",
                700054,
                f"response_type '{response_type}' is not enabled for the application; this simulator "
                "implements the authorization code flow (response_type=code).",
            )
        response_mode = params.get("response_mode") or "query"
        if response_mode not in ("query", "fragment", "form_post"):
            raise EntraError("invalid_request", 90100, "response_mode parameter is empty or not valid.")
        scope = params.get("scope", "")
        if not scope.strip():
            raise _missing_parameter("scope")
        # Validate against the first candidate tenant: APIs named in scopes are registered there.
        self._parse_scope(tenants[0], scope)
        challenge = params.get("code_challenge") or None
        method = params.get("code_challenge_method") or None
        if challenge is not None:
            method = method or "plain"  # RFC 7636 4.3: plain is the default
            if method not in ("S256", "plain"):
                raise EntraError(
                    "invalid_request", 90100, "code_challenge_method parameter is empty or not valid."
                )
        elif method is not None:
            raise _missing_parameter("code_challenge")
        return AuthorizationRequest(
            client=client,
            tenants=tuple(tenants),
            redirect_uri=redirect_uri,
            scope=scope,
            state=params.get("state"),
            nonce=params.get("nonce"),
            code_challenge=challenge,
            code_challenge_method=method,
            response_mode=response_mode,
            login_hint=params.get("login_hint"),
            prompt=params.get("prompt"),
        )

    def redirect_target(self, tenant_segment: str, params: Mapping[str, str]) -> str:
        """The verified redirect URI of an authorize request (raises ``AuthorizationPageError``)."""
        return self._authorization_target(tenant_segment, params)[2]

    def _authorization_target(
        self, tenant_segment: str, params: Mapping[str, str]
    ) -> tuple[AppRegistration, list[Tenant], str]:
        client_id = params.get("client_id", "")
        if not client_id:
            raise AuthorizationPageError(_missing_parameter("client_id"))
        if tenant_segment.lower() in MULTI_TENANT_SEGMENTS:
            tenants = self.directory.tenants_with_app(client_id)
        else:
            try:
                tenants = [self._tenant_or_error(tenant_segment)]
            except EntraError as error:
                raise AuthorizationPageError(error) from error
            if tenants[0].app(client_id) is None:
                tenants = []
        if not tenants:
            raise AuthorizationPageError(_unknown_client(client_id, tenant_segment))
        client = tenants[0].app(client_id)
        assert client is not None  # tenants_with_app and the check above guarantee it
        redirect_uri = params.get("redirect_uri", "")
        if not redirect_uri:
            if len(client.redirect_uris) != 1:
                raise AuthorizationPageError(_missing_parameter("redirect_uri"))
            redirect_uri = client.redirect_uris[0]
        if redirect_uri not in client.redirect_uris:
            raise AuthorizationPageError(
                EntraError(
                    "invalid_request",
                    50011,
                    f"The redirect URI '{redirect_uri}' specified in the request does not match the "
                    f"redirect URIs configured for the application '{client.client_id}' "
                    f"({client.display_name}). Make sure the redirect URI sent in the request matches one "
                    "added to your application in the Azure portal.",
                )
            )
        return client, tenants, redirect_uri

    def complete_authorization(self, request: AuthorizationRequest, email: str) -> tuple[Tenant, User, str]:
        """Sign ``email`` in for ``request`` and return (tenant, user, authorization code).

        Raises ``UserNotFoundError`` if no tenant the app is registered in has that user.
        """
        for tenant in request.tenants:
            user = tenant.user_by_email(email)
            if user is not None:
                return tenant, user, self._issue_code(request, tenant, user)
        raise UserNotFoundError(email.strip(), request.tenants)

    def complete_authorization_for(self, request: AuthorizationRequest, tenant: Tenant, user: User) -> str:
        """Issue a code for an already-known user (``prompt=none`` with a session)."""
        if all(t.tenant_id != tenant.tenant_id for t in request.tenants):
            raise UserNotFoundError(user.email, request.tenants)
        return self._issue_code(request, tenant, user)

    def _issue_code(self, request: AuthorizationRequest, tenant: Tenant, user: User) -> str:
        code = _b64url(secrets.token_bytes(48))
        pending = _PendingCode(
            client_id=request.client.client_id,
            tenant_id=tenant.tenant_id,
            oid=user.oid,
            redirect_uri=request.redirect_uri,
            scope=request.scope,
            nonce=request.nonce,
            code_challenge=request.code_challenge,
            code_challenge_method=request.code_challenge_method,
            expires_at=self.now() + AUTHORIZATION_CODE_LIFETIME_SECONDS,
        )
        with self._codes_lock:
            # Drop expired codes here rather than in a timer thread: there are few, and this is enough
            # to keep the table from growing while the devstack runs for days.
            now = self.now()
            for stale in [c for c, p in self._codes.items() if p.expires_at <= now]:
                del self._codes[stale]
            self._codes[code] = pending
        return code

    # -- helpers -----------------------------------------------------------------------------------

    def _tenant_or_error(self, segment: str) -> Tenant:
        tenant = self.directory.tenant(segment) if segment else None
        if tenant is None:
            raise EntraError(
                "invalid_tenant" if segment.lower() not in MULTI_TENANT_SEGMENTS else "invalid_request",
                90002,
                f"Tenant '{segment}' not found. Check to make sure you have the correct tenant ID and are "
                "signing into the correct cloud.",
            )
        return tenant

    def _authenticate_client(
        self,
        tenant: Tenant,
        form: Mapping[str, str],
        authorization: str | None,
        *,
        require_secret: bool,
    ) -> AppRegistration:
        """Identify the calling client and check its secret (``client_secret_post`` or ``_basic``)."""
        client_id = form.get("client_id", "")
        secret = form.get("client_secret") or None
        if authorization and authorization.lower().startswith("basic "):
            basic_id, basic_secret = _parse_basic(authorization)
            if client_id and client_id != basic_id:
                raise EntraError(
                    "invalid_request", 900144, "client_id in the body and the Authorization header differ."
                )
            client_id, secret = basic_id, basic_secret or None
        if not client_id:
            raise _missing_parameter("client_id")
        client = tenant.app(client_id)
        if client is None:
            raise _unknown_client(client_id, tenant.domain)
        if form.get("client_assertion"):
            raise EntraError(
                "invalid_client",
                7000219,
                "The simulator accepts client secrets only; certificate credentials (client_assertion) "
                "are not implemented.",
                status=401,
            )
        if secret is not None:
            if client.client_secret is None:
                raise EntraError(
                    "invalid_client",
                    700025,
                    "Client is public so neither 'client_assertion' nor 'client_secret' should be presented.",
                    status=401,
                )
            if not hmac.compare_digest(secret.encode("utf-8"), client.client_secret.encode("utf-8")):
                raise EntraError(
                    "invalid_client",
                    7000215,
                    "Invalid client secret provided. Ensure the secret being sent in the request is the "
                    f"client secret value, not the client secret ID, for a secret added to app "
                    f"'{client.client_id}'.",
                    status=401,
                )
        elif require_secret or not client.is_public_client:
            raise EntraError(
                "invalid_client",
                7000218,
                "The request body must contain the following parameter: 'client_assertion' or "
                "'client_secret'.",
                status=401,
            )
        return client

    def _parse_scope(self, tenant: Tenant, scope: str) -> ScopeRequest:
        """Split a ``scope`` parameter into one API plus permissions, as Entra does."""
        words = scope.split()
        oidc = tuple(dict.fromkeys(w for w in words if w in OIDC_SCOPES))
        others = [w for w in words if w not in OIDC_SCOPES]
        if not others:
            # Sign-in only: Entra issues a Graph token with User.Read alongside the id token.
            graph = tenant.resource(GRAPH_RESOURCE)
            assert graph is not None
            return ScopeRequest(resource=graph, permissions=("User.Read",), oidc=oidc)
        resources: dict[str, AppRegistration] = {}
        permissions: list[str] = []
        for word in others:
            if "/" in word:
                name, permission = word.rsplit("/", 1)
            else:
                # Bare permission names (``Mail.Read``) are Microsoft Graph's.
                name, permission = GRAPH_RESOURCE, word
            resource = tenant.resource(name)
            if resource is None:
                raise EntraError(
                    "invalid_resource",
                    500011,
                    f"The resource principal named {name} was not found in the tenant named "
                    f"{tenant.display_name}. This can happen if the application has not been installed by "
                    "the administrator of the tenant or consented to by any user in the tenant. You might "
                    "have sent your authentication request to the wrong tenant.",
                )
            resources[resource.client_id] = resource
            if permission != ".default" and permission not in resource.scopes:
                raise EntraError(
                    "invalid_scope",
                    70011,
                    f"The provided value for the input parameter 'scope' is not valid. The scope '{word}' "
                    f"does not exist on the resource '{resource.resource_identifier}'.",
                )
            if permission not in permissions:
                permissions.append(permission)
        if len(resources) > 1:
            raise EntraError(
                "invalid_scope",
                28000,
                "Provided value for the input parameter scope is not valid because it contains more than "
                "one resource. Scope " + scope + " is not valid.",
            )
        if ".default" in permissions and len(permissions) > 1:
            raise EntraError(
                "invalid_scope",
                70011,
                "The provided value for the input parameter 'scope' is not valid. The scope "
                f"'{scope}' combines '.default' with other permissions of the same resource.",
            )
        return ScopeRequest(
            resource=next(iter(resources.values())), permissions=tuple(permissions), oidc=oidc
        )


# --- Module helpers ----------------------------------------------------------------------------------


def _pkce_matches(verifier: str, challenge: str, method: str) -> bool:
    """RFC 7636 section 4.6."""
    if not _PKCE_VERIFIER.match(verifier):
        return False
    expected = _b64url(hashlib.sha256(verifier.encode("ascii")).digest()) if method == "S256" else verifier
    return hmac.compare_digest(expected, challenge)


def _pairwise_subject(tenant_id: str, application: str, oid: str) -> str:
    """Entra's ``sub``: stable for a (user, application) pair and different across applications."""
    digest = hashlib.sha256(f"{tenant_id}|{application}|{oid}".encode()).digest()
    return _b64url(digest)[:43]


def _qualified(resource: AppRegistration, permission: str, *, always: bool = False) -> str:
    """How Entra writes a permission in ``scope``: bare for Graph, else prefixed by the API's URI."""
    if resource.client_id == GRAPH_APP_ID and not always:
        return permission
    return f"{resource.resource_identifier}/{permission}"


def _normalise_resource(identifier: str) -> str:
    return identifier.strip().rstrip("/").lower()


def _parse_basic(authorization: str) -> tuple[str, str]:
    """``client_secret_basic``: both parts are form-urlencoded before base64 (RFC 6749 2.3.1)."""
    try:
        decoded = base64.b64decode(authorization.split(None, 1)[1], validate=True).decode("utf-8")
        client_id, _, secret = decoded.partition(":")
    except (IndexError, ValueError) as error:
        raise EntraError(
            "invalid_client", 7000215, "The Authorization header is not valid Basic credentials.", status=401
        ) from error
    return unquote_plus(client_id), unquote_plus(secret)


def _missing_parameter(name: str) -> EntraError:
    return EntraError(
        "invalid_request", 900144, f"The request body must contain the following parameter: '{name}'."
    )


def _unknown_client(client_id: str, tenant: str) -> EntraError:
    return EntraError(
        "invalid_client",
        700016,
        f"Application with identifier '{client_id}' was not found in the directory '{tenant}'. This can "
        "happen if the application has not been installed by the administrator of the tenant or consented "
        "to by any user in the tenant. You may have sent your authentication request to the wrong tenant.",
        status=401,
    )


def _no_consent(client: AppRegistration) -> EntraError:
    return EntraError(
        "invalid_grant",
        65001,
        f"The user or administrator has not consented to use the application with ID '{client.client_id}' "
        f"named '{client.display_name}'. Send an interactive authorization request for this user and "
        "resource.",
        suberror="consent_required",
    )


def _check_unique(tenant: Tenant) -> None:
    """Reject a tenant whose users or apps collide (two users with one email, two apps with one URI)."""
    seen: set[str] = set()
    for user in tenant.users:
        for key in (f"oid:{user.oid}", f"email:{user.email.lower()}"):
            if key in seen:
                raise ValueError(f"tenant {tenant.display_name} has two users with {key}")
            seen.add(key)
    for app in tenant.apps:
        keys = [f"client:{app.client_id}"]
        if app.app_id_uri:
            keys.append(f"uri:{_normalise_resource(app.app_id_uri)}")
        for key in keys:
            if key in seen:
                raise ValueError(f"tenant {tenant.display_name} has two app registrations with {key}")
            seen.add(key)


def _required_text(data: Mapping[str, Any], key: str, what: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"a {what} needs a non-empty '{key}'")
    return value.strip()


def _require_guid(value: str, key: str) -> None:
    try:
        uuid.UUID(value)
    except ValueError as error:
        raise ValueError(f"'{key}' must be a GUID, got {value!r}") from error


def _list(value: Any, key: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError(f"'{key}' must be a list")
    return value


def _object(value: Any, key: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError(f"each of '{key}' must be an object")
    return value


def _string_list(value: Any, key: str) -> list[str]:
    items = _list(value, key)
    if not all(isinstance(item, str) for item in items):
        raise ValueError(f"'{key}' must be a list of strings")
    return items


def _mapping(value: Any, key: str) -> dict[str, list[str]]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValueError(f"'{key}' must be an object mapping an API to a list of permissions")
    return {str(k): _string_list(v, f"{key}.{k}") for k, v in value.items()}


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower()) or "tenant"
