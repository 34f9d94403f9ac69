"""What the Clio and Actionstep clients share: one careful HTTP conversation with a billing system.

``BillingHttp`` wraps a ``requests.Session`` for one connected account and decides, per response,
whether to go on, wait, renew the token or give up:

    request ──▶ 2xx ─────────────────────────────────────────────▶ return (pace on X-RateLimit-*)
       │
       ├──▶ 401 (first time) ── TokenSource.refresh(rejected) ──▶ same request again
       │    401 (after renewal) ──────────────────────────────────▶ ReauthorizationRequired
       ├──▶ 429 ── wait Retry-After (or until X-RateLimit-Reset) ─▶ same request again, a bounded
       │                                                            number of times, then a
       │                                                            retryable BillingError
       ├──▶ 5xx / no answer, GET ── back off ───────────────────▶ same request again (bounded)
       ├──▶ 5xx / no answer, POST ──────────────────────────────▶ retryable BillingError: the
       │                                                            record may exist, so the caller
       │                                                            looks for it before posting again
       └──▶ other 4xx ──────────────────────────────────────────▶ BillingError with the system's own
                                                                    message, not retryable

A 401 or 429 means the system refused the request without acting on it, so repeating even a POST
is safe; any other failure of a POST may have created the record, and only the caller (who can ask
``find_posted``) may decide what happens next. ``sleep``, the monotonic clock and the wall clock are
injectable so that tests never wait for real.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

import requests

from chalicelib.adapters.clock import SystemClock
from chalicelib.domain.billing import BillingError, OAuthTokens, ReauthorizationRequired
from chalicelib.ports import Clock, TokenSource

logger = logging.getLogger("matterline.billing")

# HTTP methods a server must treat as idempotent (RFC 9110, 9.2.2): only these are retried after a
# failure that may have reached the server.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
# Statuses after which trying the same thing later may succeed.
RETRYABLE_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
# Failures of the connection itself (refused, reset, timed out, cut off mid-body).
TRANSIENT_ERRORS: tuple[type[Exception], ...] = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
)
# X-RateLimit-Reset is documented as a unix timestamp; values below this are read as "seconds from now",
# which some gateways send instead.
_EPOCH_THRESHOLD = 1_000_000_000


@dataclass(frozen=True)
class RetryPolicy:
    """How patient one call is before it gives up with a retryable ``BillingError``."""

    # 429s waited out per call.
    throttle_retries: int = 6
    # Retries of an idempotent request after a 5xx or a lost connection.
    transient_retries: int = 3
    # First back-off after a transient failure (doubled each time) and after a 429 without Retry-After.
    backoff_seconds: float = 0.5
    # The longest single wait we accept; a system asking for more gets a retryable error instead, so a
    # worker is never parked for minutes.
    max_wait_seconds: float = 120.0
    # Connect and read timeout of each request.
    timeout_seconds: float = 30.0


BaseUrl = str | Callable[[OAuthTokens], str]


class BillingHttp:
    """One billing account's HTTP conversation: bearer token, renewal, pacing, bounded retries.

    ``base_url`` is either fixed (Clio: settings name the region) or read from the current tokens
    (Actionstep: the token response names the account's API base). A target passed to ``request`` is a
    path below the base, or an absolute URL the system gave us (a next-page link), which must have the
    base's origin: our bearer token is never sent anywhere else.
    """

    def __init__(
        self,
        system: str,
        tokens: TokenSource,
        base_url: BaseUrl,
        *,
        session: requests.Session | None = None,
        headers: Mapping[str, str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        policy: RetryPolicy | None = None,
    ) -> None:
        self.system = system
        self._tokens = tokens
        self._base_url = base_url
        self._session = session or requests.Session()
        self._headers = dict(headers or {})
        self._sleep = sleep
        self._monotonic = monotonic
        self._wall_clock = wall_clock
        self.policy = policy or RetryPolicy()
        # Monotonic instant before which no request may start (the system said its window is used up).
        self._hold_until = 0.0
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ JSON helpers

    def get_json(self, target: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET ``target`` and decode the JSON body; None for an empty answer (204)."""
        return self._decode(self.request("GET", target, params=params))

    def post_json(self, target: str, body: Any, params: Mapping[str, Any] | None = None) -> Any:
        """POST ``body`` as JSON and decode the answer. Never repeated after a failure that may have
        created the record: such a failure is a retryable ``BillingError``."""
        return self._decode(self.request("POST", target, params=params, body=body))

    # ------------------------------------------------------------------ the conversation

    def request(
        self,
        method: str,
        target: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
    ) -> requests.Response:
        """Send one request, handling renewal, throttling and retries as the module docstring shows."""
        method = method.upper()
        idempotent = method in IDEMPOTENT_METHODS
        payload = None if body is None else json.dumps(body, separators=(",", ":"))
        renewed = False
        throttled = 0
        transient = 0
        while True:
            self._wait_for_window()
            tokens = self._tokens.current()
            url = self._url(target, tokens)
            headers = {**self._headers, "Authorization": f"Bearer {tokens.access_token}"}
            try:
                response = self._session.request(
                    method,
                    url,
                    params=params,
                    data=payload,
                    headers=headers,
                    timeout=self.policy.timeout_seconds,
                )
            except TRANSIENT_ERRORS as error:
                if idempotent and transient < self.policy.transient_retries:
                    transient += 1
                    self._back_off(transient, f"{type(error).__name__} on {method} {_path(url)}")
                    continue
                lost = self._lost_answer(method, url, type(error).__name__)
                raise BillingError(lost, retryable=True) from error
            except requests.RequestException as error:
                unsent = f"{self.system}: {method} {_path(url)} could not be sent: {error}"
                raise BillingError(unsent) from error

            status = response.status_code
            if status != 429:
                # A refusal's Retry-After is the one wait that counts; the X-RateLimit-* headers pace
                # the traffic that got through (a throttled answer reports 0 remaining until the window
                # ends even when the system wants us back sooner).
                self._note_rate_limit(response)
            if status == 401:
                if renewed:
                    raise ReauthorizationRequired(
                        f"{self.system} refused the renewed access token too; connect the account again"
                    )
                renewed = True
                logger.info("%s answered 401; renewing the access token once", self.system)
                self._tokens.refresh(tokens)
                continue
            if status == 429:
                throttled += 1
                if throttled > self.policy.throttle_retries:
                    raise BillingError(
                        f"{self.system} is still throttling after {self.policy.throttle_retries} waits; "
                        "try again later",
                        status=429,
                        retryable=True,
                    )
                self._wait_out_throttle(response, throttled)
                continue
            if status >= 500 and idempotent and transient < self.policy.transient_retries:
                transient += 1
                self._back_off(transient, f"HTTP {status} on {method} {_path(url)}")
                continue
            if status >= 400:
                raise self._refusal(method, url, response)
            return response

    # ------------------------------------------------------------------ pacing and waiting

    def _wait_for_window(self) -> None:
        with self._lock:
            delay = self._hold_until - self._monotonic()
        if delay > 0:
            logger.info("%s rate window used up; waiting %.2f s for it to reset", self.system, delay)
            self._sleep(delay)

    def _note_rate_limit(self, response: requests.Response) -> None:
        """When the system says no requests remain in its window, hold the next one until it resets."""
        remaining = _number(response.headers.get("X-RateLimit-Remaining"))
        if remaining is None or remaining > 0:
            return
        wait = self._seconds_until_reset(response)
        if wait is None or wait <= 0:
            return
        wait = min(wait, self.policy.max_wait_seconds)
        with self._lock:
            self._hold_until = max(self._hold_until, self._monotonic() + wait)

    def _seconds_until_reset(self, response: requests.Response) -> float | None:
        reset = _number(response.headers.get("X-RateLimit-Reset"))
        if reset is None:
            return None
        return max(0.0, reset - self._wall_clock()) if reset > _EPOCH_THRESHOLD else max(0.0, reset)

    def _wait_out_throttle(self, response: requests.Response, attempt: int) -> None:
        wait = self._retry_after(response)
        if wait is None:
            wait = self._seconds_until_reset(response)
        if wait is None:
            wait = self.policy.backoff_seconds * 2 ** (attempt - 1)
        if wait > self.policy.max_wait_seconds:
            raise BillingError(
                f"{self.system} asks us to wait {wait:.0f} s before the next request; try again later",
                status=429,
                retryable=True,
            )
        logger.info("%s answered 429; waiting %.2f s (attempt %d)", self.system, wait, attempt)
        self._sleep(wait)

    def _retry_after(self, response: requests.Response) -> float | None:
        """``Retry-After`` as seconds (possibly fractional) or as an HTTP date."""
        value = response.headers.get("Retry-After")
        if value is None:
            return None
        seconds = _number(value)
        if seconds is not None:
            return max(0.0, seconds)
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, when.timestamp() - self._wall_clock())

    def _back_off(self, attempt: int, reason: str) -> None:
        wait = min(self.policy.backoff_seconds * 2 ** (attempt - 1), self.policy.max_wait_seconds)
        logger.info("%s: %s; retrying in %.2f s (attempt %d)", self.system, reason, wait, attempt)
        self._sleep(wait)

    # ------------------------------------------------------------------ URLs, answers, errors

    def _url(self, target: str, tokens: OAuthTokens) -> str:
        base = self._base_url(tokens) if callable(self._base_url) else self._base_url
        if not target.startswith(("http://", "https://")):
            return f"{base.rstrip('/')}/{target.lstrip('/')}"
        if _origin(target) != _origin(base):
            raise BillingError(f"{self.system} sent a link to another host ({_origin(target)}); not followed")
        return target

    def _decode(self, response: requests.Response) -> Any:
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError as error:
            # For a POST this may hide a created record, so it is worth retrying (after a lookup).
            raise BillingError(
                f"{self.system} answered HTTP {response.status_code} with a body that is not JSON",
                status=response.status_code,
                retryable=True,
            ) from error

    def _lost_answer(self, method: str, url: str, what: str) -> str:
        if method in IDEMPOTENT_METHODS:
            return f"{self.system} did not answer {method} {_path(url)} ({what}); try again later"
        return (
            f"{self.system} did not answer {method} {_path(url)} ({what}); the record may have been "
            "created, so look for it before sending it again"
        )

    def _refusal(self, method: str, url: str, response: requests.Response) -> BillingError:
        status = response.status_code
        message = system_message(response) or response.reason or "no reason given"
        text = f"{self.system} refused {method} {_path(url)} (HTTP {status}): {message}"
        if status >= 500 and method not in IDEMPOTENT_METHODS:
            text += "; the record may have been created, so look for it before sending it again"
        return BillingError(text, status=status, retryable=status in RETRYABLE_STATUSES)


def system_message(response: requests.Response) -> str | None:
    """The system's own words from an error body: Clio ``{"error": {"type", "message"}}``, OAuth
    ``{"error", "error_description"}``, JSON:API style ``{"errors": [{"title", "detail"}]}``, or a
    bare ``{"message"}``."""
    try:
        payload = response.json()
    except ValueError:
        text = response.text.strip()
        return text[:300] or None
    return describe_error(payload)


def describe_error(payload: Any) -> str | None:
    """See ``system_message``; pure, for bodies already decoded."""
    if not isinstance(payload, dict):
        return None
    error = payload.get("error")
    if isinstance(error, dict):
        message = error.get("message") or error.get("detail")
        kind = error.get("type")
        if message and kind:
            return f"{message} ({kind})"
        return str(message or kind) if (message or kind) else None
    if isinstance(error, str):
        description = payload.get("error_description")
        return f"{error}: {description}" if description else error
    errors = payload.get("errors")
    if isinstance(errors, list):
        parts = [
            str(item.get("detail") or item.get("title") or item.get("message"))
            for item in errors
            if isinstance(item, dict) and (item.get("detail") or item.get("title") or item.get("message"))
        ]
        if parts:
            return "; ".join(parts)
    for key in ("message", "detail", "title"):
        if payload.get(key):
            return str(payload[key])
    return None


# ------------------------------------------------------------------ OAuth2 authorization code flow


class OAuthCodeFlow:
    """The OAuth2 authorization-code flow both systems use (client secret in the form body).

    Subclasses name what differs: extra authorize parameters (Actionstep's scopes) and where the API
    of the connected account lives (Actionstep's ``api_endpoint``). A refused refresh token
    (400/401/403, typically ``invalid_grant``) raises ``ReauthorizationRequired``.
    """

    system = "billing system"

    def __init__(
        self,
        authorize_url: str,
        token_url: str,
        client_id: str,
        client_secret: str,
        *,
        session: requests.Session | None = None,
        clock: Clock | None = None,
        timeout_seconds: float = 30.0,
    ) -> None:
        self._authorize_url = authorize_url
        self._token_url = token_url
        self._client_id = client_id
        self._client_secret = client_secret
        self._session = session or requests.Session()
        self._clock = clock or SystemClock()
        self._timeout = timeout_seconds

    def authorize_url(self, state: str, redirect_uri: str) -> str:
        """Where to send the admin who connects the account; ``state`` comes back with the code."""
        query = {
            "response_type": "code",
            "client_id": self._client_id,
            "redirect_uri": redirect_uri,
            "state": state,
            **self._extra_authorize_params(),
        }
        separator = "&" if "?" in self._authorize_url else "?"
        return f"{self._authorize_url}{separator}{urlencode(query)}"

    def exchange_code(self, code: str, redirect_uri: str) -> OAuthTokens:
        """Trade the authorization code for the account's first tokens."""
        payload = self._token_request(
            {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri},
            refreshing=False,
        )
        return self._tokens_from(payload, previous=None)

    def refresh(self, tokens: OAuthTokens) -> OAuthTokens:
        """New tokens from the refresh token; keeps what the answer leaves out (Clio keeps its refresh
        token, Actionstep sends a new one each time)."""
        payload = self._token_request(
            {"grant_type": "refresh_token", "refresh_token": tokens.refresh_token}, refreshing=True
        )
        return self._tokens_from(payload, previous=tokens)

    def _extra_authorize_params(self) -> dict[str, str]:
        return {}

    def _api_base(self, payload: Mapping[str, Any], previous: OAuthTokens | None) -> str | None:
        return previous.api_base if previous else None

    def _token_request(self, form: dict[str, str], *, refreshing: bool) -> dict[str, Any]:
        body = {**form, "client_id": self._client_id, "client_secret": self._client_secret}
        try:
            response = self._session.post(
                self._token_url, data=body, headers={"Accept": "application/json"}, timeout=self._timeout
            )
        except TRANSIENT_ERRORS as error:
            raise BillingError(
                f"{self.system}'s token endpoint did not answer ({type(error).__name__}); try again later",
                retryable=True,
            ) from error
        status = response.status_code
        if refreshing and status in (400, 401, 403):
            reason = system_message(response) or f"HTTP {status}"
            raise ReauthorizationRequired(
                f"{self.system} refused our refresh token ({reason}); connect the account again"
            )
        if status >= 400:
            reason = system_message(response) or f"HTTP {status}"
            raise BillingError(
                f"{self.system}'s token endpoint refused the request (HTTP {status}): {reason}",
                status=status,
                retryable=status in RETRYABLE_STATUSES,
            )
        try:
            payload = response.json()
        except ValueError as error:
            raise BillingError(f"{self.system}'s token endpoint answered with a body not in JSON") from error
        if not isinstance(payload, dict) or not payload.get("access_token"):
            raise BillingError(f"{self.system}'s token endpoint answered without an access token")
        return payload

    def _tokens_from(self, payload: Mapping[str, Any], previous: OAuthTokens | None) -> OAuthTokens:
        refresh_token = payload.get("refresh_token") or (previous.refresh_token if previous else None)
        if not refresh_token:
            raise BillingError(f"{self.system}'s token endpoint answered without a refresh token")
        lifetime = _number(payload.get("expires_in"))
        expires_at: datetime = self._clock.now() + timedelta(seconds=lifetime if lifetime else 3600)
        return OAuthTokens(
            access_token=str(payload["access_token"]),
            refresh_token=str(refresh_token),
            expires_at=expires_at,
            api_base=self._api_base(payload, previous),
        )


# ------------------------------------------------------------------ small helpers


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number == number and number not in (float("inf"), float("-inf")) else None


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _path(url: str) -> str:
    # Messages name the path only: query strings may carry references and filters nobody needs to see.
    return urlsplit(url).path or "/"
