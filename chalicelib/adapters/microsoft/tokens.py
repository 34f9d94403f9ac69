"""Tokens for Microsoft Graph through msal: app-only (client credentials) and on-behalf-of.

* App-only tokens read the firm's mailboxes with the application permissions its admin consented to
  (Mail.Read, Calendars.Read). msal keeps them in a ``SerializableTokenCache`` that this module loads
  from and saves to a ``TokenCacheStore`` (one per firm, tenant and app), so a cold worker reuses the
  token a warm one got instead of asking Entra ID again. The cache is sealed by the secret box when
  one is given: an app-only Graph token reads every captured mailbox of the firm.
* On-behalf-of exchanges the add-in user's token (audience: Matterline's API) for a Graph token of
  that user, for what the add-in asks on the user's behalf.

TLS: msal puts ``verify=`` on its session, but requests lets ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE``
override a session's ``verify`` (psf/requests#3829). ``PinnedCaSession`` passes its CA on every
request, so the CA in the settings is the one used, whatever the environment says.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import msal
import requests

from chalicelib.domain.m365 import MailServerError
from chalicelib.ports import SecretBox, TokenCacheStore

GRAPH_DEFAULT_SCOPE = "https://graph.microsoft.com/.default"
USER_AGENT = "Matterline/1.0 (time capture for law firms)"

# Entra ID errors worth retrying later; anything else needs an admin (consent, secret, tenant).
_TRANSIENT_ERRORS = frozenset({"temporarily_unavailable", "server_error", "request_timeout"})


class PinnedCaSession(requests.Session):
    """A session whose own ``verify`` (a CA bundle path, or True) wins over the environment."""

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        if kwargs.get("verify") is None:
            kwargs["verify"] = self.verify
        return super().request(method, url, *args, **kwargs)


def http_session(ca_bundle: str | None) -> requests.Session:
    """A session for Graph and Entra ID that trusts ``ca_bundle`` (None: the system's CAs)."""
    session = PinnedCaSession()
    session.verify = ca_bundle or True
    session.headers["User-Agent"] = USER_AGENT
    return session


class AppTokens:
    """Tokens of one app registration in one tenant (msal ``ConfidentialClientApplication``).

    Thread-safe: the sync of several folders may ask at once; msal itself is not guaranteed to be.
    """

    def __init__(
        self,
        *,
        authority_base: str,
        tenant_id: str,
        client_id: str,
        client_secret: str,
        firm_id: str,
        cache_store: TokenCacheStore,
        session: requests.Session,
        secret_box: SecretBox | None = None,
    ) -> None:
        self._authority = f"{authority_base.rstrip('/')}/{tenant_id}"
        self._tenant_id = tenant_id
        self._client_id = client_id
        self._client_secret = client_secret
        self._firm_id = firm_id
        self._store = cache_store
        self._session = session
        self._box = secret_box
        self._cache = msal.SerializableTokenCache()
        self._app: msal.ConfidentialClientApplication | None = None
        self._lock = threading.Lock()

    def uses_secret(self, client_secret: str) -> bool:
        """Whether this provider signs in with ``client_secret`` (an admin may have rotated it)."""
        return self._client_secret == client_secret

    def _application(self) -> msal.ConfidentialClientApplication:
        # Built on first use: the constructor fetches the tenant's OpenID configuration over the network.
        if self._app is None:
            self._load_cache()
            try:
                self._app = msal.ConfidentialClientApplication(
                    self._client_id,
                    client_credential=self._client_secret,
                    authority=self._authority,
                    # Our authority may be a sovereign cloud or the devstack's Entra ID stand-in: never
                    # ask login.microsoftonline.com whether it is a known one.
                    instance_discovery=False,
                    http_client=self._session,
                    token_cache=self._cache,
                )
            except (ValueError, requests.RequestException) as error:
                raise MailServerError(
                    f"the identity provider at {self._authority} cannot be reached or is not one: {error}",
                    retryable=isinstance(error, requests.RequestException),
                ) from error
        return self._app

    def app_token(self, scope: str = GRAPH_DEFAULT_SCOPE) -> str:
        """An app-only access token for ``scope`` (Graph unless told; EWS asks for Exchange's), from
        the cache while it is valid."""
        with self._lock:
            result = self._application().acquire_token_for_client(scopes=[scope])
            self._save_cache()
        return _access_token(result, "an app-only token")

    def on_behalf_of(self, user_assertion: str, scopes: Sequence[str] = (GRAPH_DEFAULT_SCOPE,)) -> str:
        """A Graph token for the user whose token (for Matterline's API) is ``user_assertion``."""
        with self._lock:
            result = self._application().acquire_token_on_behalf_of(user_assertion, list(scopes))
            self._save_cache()
        return _access_token(result, "an on-behalf-of token")

    def forget_access_tokens(self) -> None:
        """Drop cached access tokens (Graph refused one: revoked, or the clock lies)."""
        with self._lock:
            for item in list(self._cache.search(msal.TokenCache.CredentialType.ACCESS_TOKEN)):
                self._cache.remove_at(item)
            self._save_cache()

    def _load_cache(self) -> None:
        blob = self._store.load(self._firm_id, self._tenant_id, self._client_id)
        if not blob:
            return
        try:
            text = self._box.open(blob, self._firm_id).decode() if self._box else blob
            self._cache.deserialize(text)
        except Exception:  # a damaged or foreign cache is only a cache: start empty
            self._cache = msal.SerializableTokenCache()

    def _save_cache(self) -> None:
        if not self._cache.has_state_changed:
            return
        text = self._cache.serialize()
        blob = self._box.seal(text.encode(), self._firm_id) if self._box else text
        self._store.save(self._firm_id, self._tenant_id, self._client_id, blob)
        self._cache.has_state_changed = False


def _access_token(result: dict[str, Any] | None, what: str) -> str:
    if result and "access_token" in result:
        return str(result["access_token"])
    error = (result or {}).get("error", "no_response")
    description = str((result or {}).get("error_description", "")).splitlines()[0:1]
    raise MailServerError(
        f"Entra ID refused {what}: {error} {' '.join(description)}".strip(),
        retryable=error in _TRANSIENT_ERRORS,
    )


class TokenProviders:
    """One ``AppTokens`` per (firm, tenant, app), kept for the life of the process (a warm Lambda)."""

    def __init__(
        self,
        *,
        authority_base: str,
        cache_store: TokenCacheStore,
        session: requests.Session,
        secret_box: SecretBox | None = None,
    ) -> None:
        self._authority_base = authority_base
        self._store = cache_store
        self._session = session
        self._box = secret_box
        self._providers: dict[tuple[str, str, str], AppTokens] = {}
        self._lock = threading.Lock()

    def for_app(self, *, firm_id: str, tenant_id: str, client_id: str, client_secret: str) -> AppTokens:
        """The token provider of an app registration in a tenant."""
        key = (firm_id, tenant_id, client_id)
        with self._lock:
            provider = self._providers.get(key)
            if provider is None or not provider.uses_secret(client_secret):
                provider = AppTokens(
                    authority_base=self._authority_base,
                    tenant_id=tenant_id,
                    client_id=client_id,
                    client_secret=client_secret,
                    firm_id=firm_id,
                    cache_store=self._store,
                    session=self._session,
                    secret_box=self._box,
                )
                self._providers[key] = provider
            return provider
