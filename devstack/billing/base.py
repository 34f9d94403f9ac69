"""What the simulated Clio and Actionstep accounts share: an HTTP server on loopback, routing, the OAuth2
authorization-code + refresh store, per-token rate limiting, fault injection and JSON state.

A simulator is a ``BillingSimulator`` subclass that seeds an account, registers its API routes through
``api_route`` (which wraps every handler in the same pipeline) and says how its service spells errors.
The pipeline for an API request, in order:

1. ``negotiate`` (a subclass hook: Actionstep answers 406/415 for the wrong media types);
2. bearer token check: unknown, expired or missing token -> the service's 401;
3. a pending ``throttle_next`` fault -> 429 with the fault's ``Retry-After``;
4. the per-token rate limit (fixed window that starts at the token's first request in it): over the
   limit -> 429 with ``Retry-After`` = seconds until the window ends; a 429 does not use up the window;
5. for time-entry creates, a pending ``fail_next_creates`` fault -> that status, nothing stored;
6. the handler, under the simulator's one lock;
7. for a successful create, a pending ``drop_after_create`` fault -> the entry stays stored but the
   connection is closed without a response (as if the service crashed after its 201).

Every API response (401 and 429 included) carries ``X-RateLimit-Limit``, ``X-RateLimit-Remaining`` and
``X-RateLimit-Reset`` (Unix epoch seconds when the current window ends; on a 401 it describes a fresh
window). Over the limit, ``Retry-After`` is the seconds until the window ends: whole seconds rounded up
when the window is a second or longer, fractional (``0.25``) for shorter test windows. A forced 429
(``throttle_next``) sends the ``retry_after`` it was armed with as written (0.2 -> ``0.2``, 1.0 -> ``1``).

Control API, NOT part of any real service (no authentication; the server binds loopback only):

``GET /_sim/state``
    Everything stored: the account's records (time entries exactly as stored), token counts, the rate
    limit and the pending faults.
``POST /_sim/reset``
    Back to the seeded account; forgets tokens, faults and rate-limit windows. Body (optional JSON)
    ``{"keep_tokens": true}`` keeps issued tokens.
``POST /_sim/faults``
    JSON with any of::

        {"rate_limit": {"limit": 50, "window_seconds": 60}}
        {"throttle_next": {"count": 2, "retry_after": 0.2}}     next 2 API requests answer 429
        {"fail_next_creates": {"count": 1, "status": 500}}      next create fails, nothing stored
        {"drop_after_create": {"count": 1}}                     next create is stored, no response
        {"expire_access_tokens": true}                          every access token expires now
        {"revoke_refresh_tokens": true}                         every refresh token stops working
        {"revoke_refresh_tokens": {"user_id": 12}}              only the tokens user 12 consented to

    Answers 200 with the pending faults, or 400 naming what it did not understand.
``POST /_sim/tokens``
    Issues tokens without the browser, as ``issue_tokens()`` does. Optional JSON ``{"user_id": N}``.

The same operations are Python methods: ``throttle_next``, ``fail_next_creates``, ``drop_after_create``,
``expire_access_tokens``, ``revoke_refresh_tokens``, ``set_rate_limit``/``configure``, ``reset``,
``state``, ``time_entries``, ``issue_tokens``, ``to_dict``/``from_dict``.

Standard library only, like the Microsoft 365 simulator. Nothing secret is logged: tokens are kept as
SHA-256 digests (so ``to_dict`` can be saved to disk) and request logs carry the path only.
"""

from __future__ import annotations

import base64
import hashlib
import html
import ipaddress
import json
import logging
import math
import re
import secrets
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, TypeVar
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

logger = logging.getLogger(__name__)

Clock = Callable[[], float]

MAX_BODY_BYTES = 2 * 1024 * 1024
# Doorkeeper's (and most servers') default lifetime of an authorization code.
AUTHORIZATION_CODE_SECONDS = 600
STATE_FORMAT_VERSION = 1


# --- Requests, responses, routing --------------------------------------------------------------------


@dataclass
class Request:
    """An HTTP request as a route handler sees it."""

    method: str
    path: str  # percent-decoded, without the query string
    query: dict[str, list[str]]
    headers: Message
    body: bytes
    params: dict[str, str] = field(default_factory=dict)  # named groups of the route's regex

    def arg(self, name: str, default: str | None = None) -> str | None:
        """The first value of query parameter ``name``."""
        values = self.query.get(name)
        return values[0] if values else default

    def header(self, name: str) -> str | None:
        """A request header (case-insensitive)."""
        return self.headers.get(name)

    def form(self) -> dict[str, str]:
        """The body as ``application/x-www-form-urlencoded`` fields (first value of each)."""
        fields = parse_qs(self.body.decode("utf-8", errors="replace"), keep_blank_values=True)
        return {key: values[0] for key, values in fields.items()}

    def json(self) -> Any:
        """The body parsed as JSON. Raises ``ValueError`` if it is not."""
        return json.loads(self.body.decode("utf-8"))

    def media_type(self) -> str:
        """The request's ``Content-Type`` without parameters, lower-cased ("" when absent)."""
        return (self.header("Content-Type") or "").split(";", 1)[0].strip().lower()


@dataclass
class Response:
    """What a route handler returns. ``drop_connection`` closes the socket without answering."""

    status: int = 200
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    drop_connection: bool = False

    @classmethod
    def json(
        cls,
        data: Any,
        status: int = 200,
        headers: Sequence[tuple[str, str]] = (),
        content_type: str = "application/json; charset=utf-8",
    ) -> Response:
        """A JSON response."""
        body = json.dumps(data, ensure_ascii=False).encode("utf-8")
        return cls(status, body, [("Content-Type", content_type), *headers])

    @classmethod
    def html(cls, markup: str, status: int = 200) -> Response:
        """An HTML page that may not be framed or cached."""
        return cls(
            status,
            markup.encode("utf-8"),
            [
                ("Content-Type", "text/html; charset=utf-8"),
                ("X-Frame-Options", "DENY"),
                ("Cache-Control", "no-store"),
            ],
        )

    @classmethod
    def redirect(cls, location: str) -> Response:
        """A 302 to ``location``."""
        return cls(302, b"", [("Location", location), ("Cache-Control", "no-store")])

    @classmethod
    def dropped(cls) -> Response:
        """No response at all: the server closes the connection."""
        return cls(0, b"", [], drop_connection=True)

    def header(self, name: str) -> str | None:
        """The first value of a response header."""
        wanted = name.lower()
        return next((value for key, value in self.headers if key.lower() == wanted), None)


Handler = Callable[[Request], Response]


@dataclass(frozen=True)
class _Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler


class Router:
    """Method + regular-expression routing; the first matching route wins."""

    def __init__(self, not_found: Callable[[Request], Response], not_allowed: Callable[[Request], Response]):
        self._routes: list[_Route] = []
        self._not_found = not_found
        self._not_allowed = not_allowed

    def add(self, method: str, pattern: str, handler: Handler) -> None:
        """Route ``method`` requests whose decoded path matches ``pattern`` (anchor it) to ``handler``."""
        self._routes.append(_Route(method.upper(), re.compile(pattern), handler))

    def dispatch(self, request: Request) -> Response:
        """Run the handler for ``request``; the simulator's own 404/405 when none fits."""
        matching = [(route, match) for route in self._routes if (match := route.pattern.match(request.path))]
        if not matching:
            return self._not_found(request)
        for route, match in matching:
            if route.method == request.method:
                request.params = {k: v for k, v in match.groupdict().items() if v is not None}
                return route.handler(request)
        response = self._not_allowed(request)
        response.headers.append(("Allow", ", ".join(sorted({route.method for route, _ in matching}))))
        return response


# --- The HTTP server ---------------------------------------------------------------------------------


class _RequestHandler(BaseHTTPRequestHandler):
    server: _SimulatorHttpServer
    protocol_version = "HTTP/1.1"  # keep-alive: requests sessions reuse connections
    server_version = "Matterline-Billing-Simulator"
    sys_version = ""
    timeout = 60  # an idle keep-alive connection must not hold a thread forever
    # Headers and body leave in one segment (the buffer is flushed per request) and without Nagle's
    # delay, so a keep-alive client is not held up ~40 ms per request by delayed ACKs.
    wbufsize = 64 * 1024
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def do_HEAD(self) -> None:
        self._handle()

    def _handle(self) -> None:
        length_header = self.headers.get("Content-Length") or "0"
        try:
            length = int(length_header)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY_BYTES:
            self._send(Response.json({"error": "request body too large or malformed"}, status=413))
            self.close_connection = True
            return
        body = self.rfile.read(length) if length else b""
        split = urlsplit(self.path)
        request = Request(
            method=self.command,
            path=unquote(split.path),
            query=parse_qs(split.query, keep_blank_values=True),
            headers=self.headers,
            body=body,
        )
        try:
            response = self.server.router.dispatch(request)
        except Exception:
            # A bug in one handler must show up as a 500 for that request, not kill the thread.
            logger.exception("billing simulator handler failed: %s %s", self.command, split.path)
            response = Response.json({"error": "the simulator failed to handle the request"}, status=500)
        if response.drop_connection:
            # Nothing is written: the client sees the connection close before any status line.
            self.close_connection = True
            logger.debug("%s %s -> connection dropped (fault)", self.command, split.path)
            return
        self._send(response)

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        for name, value in response.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD" and response.body:
            self.wfile.write(response.body)

    def log_message(self, format: str, *args: Any) -> None:
        # Query strings can carry authorization codes: never log them.
        pass

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        logger.debug("%s %s -> %s", self.command, urlsplit(self.path).path, code)


class _SimulatorHttpServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], router: Router):
        self.router = router
        super().__init__(address, _RequestHandler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        logger.debug("connection from %s ended with an error", client_address, exc_info=True)


# --- OAuth2: authorization codes, access and refresh tokens ------------------------------------------


class OAuthError(Exception):
    """An RFC 6749 error for the token endpoint: ``error`` code, description and HTTP status."""

    def __init__(self, error: str, description: str, status: int = 400):
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


# The wording Doorkeeper (which both services' token endpoints resemble) uses for each RFC 6749 error.
OAUTH_ERROR_DESCRIPTIONS = {
    "invalid_request": (
        "The request is missing a required parameter, includes an unsupported parameter value, "
        "or is otherwise malformed."
    ),
    "invalid_client": (
        "Client authentication failed due to unknown client, no client authentication included, "
        "or unsupported authentication method."
    ),
    "invalid_grant": (
        "The provided authorization grant is invalid, expired, revoked, does not match the redirection "
        "URI used in the authorization request, or was issued to another client."
    ),
    "unsupported_grant_type": "The authorization grant type is not supported by the authorization server.",
}


def digest(secret: str) -> str:
    """The SHA-256 hex digest a token is stored under, so stored state never holds a usable token."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


@dataclass
class Principal:
    """Who an accepted access token stands for."""

    user_id: int
    token_key: str  # the token's digest: the rate limiter's key


@dataclass
class TokenGrant:
    """What the token endpoint hands out (plain token values, never stored)."""

    access_token: str
    expires_in: int
    refresh_token: str | None
    user_id: int


class OAuthStore:
    """Authorization codes, access tokens and refresh tokens of one simulated account.

    Codes are single-use and last ``AUTHORIZATION_CODE_SECONDS``; access tokens last
    ``access_token_seconds``; refresh tokens last ``refresh_token_seconds`` (None: until revoked).
    With ``rotate_refresh_tokens`` every refresh returns a new refresh token and retires the one used
    (Actionstep); without it the refresh token stays the same (Clio). Not thread safe by itself: the
    simulator calls it under its lock.
    """

    def __init__(
        self,
        *,
        access_token_seconds: int,
        refresh_token_seconds: int | None,
        rotate_refresh_tokens: bool,
    ) -> None:
        self.access_token_seconds = access_token_seconds
        self.refresh_token_seconds = refresh_token_seconds
        self.rotate_refresh_tokens = rotate_refresh_tokens
        self._codes: dict[str, dict[str, Any]] = {}
        self._access: dict[str, dict[str, Any]] = {}
        self._refresh: dict[str, dict[str, Any]] = {}

    def create_code(self, *, client_id: str, redirect_uri: str, user_id: int, now: float) -> str:
        """A new single-use authorization code for ``user_id``."""
        code = secrets.token_urlsafe(24)
        self._codes[digest(code)] = {
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "user_id": user_id,
            "expires_at": now + AUTHORIZATION_CODE_SECONDS,
        }
        return code

    def exchange_code(self, *, code: str, client_id: str, redirect_uri: str, now: float) -> TokenGrant:
        """Redeem ``code``; the code is spent whether or not the rest of the request is right."""
        record = self._codes.pop(digest(code), None)
        if (
            record is None
            or record["expires_at"] <= now
            or record["client_id"] != client_id
            or record["redirect_uri"] != redirect_uri
        ):
            raise OAuthError("invalid_grant", OAUTH_ERROR_DESCRIPTIONS["invalid_grant"])
        return self._grant(int(record["user_id"]), client_id, now, refresh_token=None)

    def refresh(self, *, refresh_token: str, client_id: str, now: float) -> TokenGrant:
        """New access token for a live refresh token (and a new refresh token when rotating)."""
        key = digest(refresh_token)
        record = self._refresh.get(key)
        expired = record is not None and record["expires_at"] is not None and record["expires_at"] <= now
        if record is None or expired or record["client_id"] != client_id:
            raise OAuthError("invalid_grant", OAUTH_ERROR_DESCRIPTIONS["invalid_grant"])
        if self.rotate_refresh_tokens:
            del self._refresh[key]
            return self._grant(int(record["user_id"]), client_id, now, refresh_token=None)
        return self._grant(int(record["user_id"]), client_id, now, refresh_token=refresh_token)

    def issue(self, *, user_id: int, client_id: str, now: float) -> TokenGrant:
        """Tokens for ``user_id`` without a code (tests and the devstack's command line)."""
        return self._grant(user_id, client_id, now, refresh_token=None)

    def authenticate(self, access_token: str | None, now: float) -> Principal | None:
        """Who ``access_token`` stands for, or None when it is missing, unknown or expired."""
        if not access_token:
            return None
        key = digest(access_token)
        record = self._access.get(key)
        if record is None or record["expires_at"] <= now:
            return None
        return Principal(user_id=int(record["user_id"]), token_key=key)

    def expire_access_tokens(self, now: float) -> int:
        """Make every access token expired; returns how many there were."""
        for record in self._access.values():
            record["expires_at"] = min(record["expires_at"], now)
        return len(self._access)

    def revoke_refresh_tokens(self, user_id: int | None = None) -> int:
        """Forget every refresh token (or only ``user_id``'s); returns how many were forgotten."""
        if user_id is None:
            count = len(self._refresh)
            self._refresh.clear()
            return count
        doomed = [key for key, record in self._refresh.items() if int(record["user_id"]) == int(user_id)]
        for key in doomed:
            del self._refresh[key]
        return len(doomed)

    def clear(self) -> None:
        """Forget every code and token."""
        self._codes.clear()
        self._access.clear()
        self._refresh.clear()

    def counts(self, now: float) -> dict[str, int]:
        """How many live codes, access tokens and refresh tokens there are."""
        return {
            "authorization_codes": sum(1 for r in self._codes.values() if r["expires_at"] > now),
            "access_tokens": sum(1 for r in self._access.values() if r["expires_at"] > now),
            "refresh_tokens": sum(
                1 for r in self._refresh.values() if r["expires_at"] is None or r["expires_at"] > now
            ),
        }

    def to_dict(self) -> dict[str, Any]:
        """Tokens by digest with their expiry (codes are not kept: they last minutes)."""
        return {"access_tokens": dict(self._access), "refresh_tokens": dict(self._refresh)}

    def load(self, data: Mapping[str, Any]) -> None:
        """Restore what ``to_dict`` saved."""
        self._access = {k: dict(v) for k, v in (data.get("access_tokens") or {}).items()}
        self._refresh = {k: dict(v) for k, v in (data.get("refresh_tokens") or {}).items()}

    def _grant(self, user_id: int, client_id: str, now: float, *, refresh_token: str | None) -> TokenGrant:
        access_token = secrets.token_urlsafe(32)
        self._access[digest(access_token)] = {
            "user_id": user_id,
            "client_id": client_id,
            "expires_at": now + self.access_token_seconds,
        }
        if refresh_token is None:
            refresh_token = secrets.token_urlsafe(32)
            expires_at = None if self.refresh_token_seconds is None else now + self.refresh_token_seconds
            self._refresh[digest(refresh_token)] = {
                "user_id": user_id,
                "client_id": client_id,
                "expires_at": expires_at,
            }
        return TokenGrant(access_token, self.access_token_seconds, refresh_token, user_id)


# --- Rate limiting ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RateDecision:
    """The outcome of one request against a token's window."""

    allowed: bool
    limit: int
    remaining: int
    reset_at: float  # epoch seconds when the window ends
    retry_after: float  # seconds until then (0 when allowed)


class RateLimiter:
    """A fixed window per key: it opens at the key's first request and lasts ``window_seconds``.

    Rejected requests do not count. Not thread safe by itself: the simulator calls it under its lock.
    """

    def __init__(self, limit: int, window_seconds: float):
        self.configure(limit, window_seconds)
        self._windows: dict[str, tuple[float, int]] = {}

    def configure(self, limit: int, window_seconds: float) -> None:
        """Change the limit; windows already open keep their start but count against the new limit."""
        if limit < 1 or window_seconds <= 0:
            raise ValueError("the rate limit needs limit >= 1 and window_seconds > 0")
        self.limit = int(limit)
        self.window_seconds = float(window_seconds)

    def hit(self, key: str, now: float) -> RateDecision:
        """Count one request for ``key`` if the window allows it."""
        start, used = self._current(key, now)
        reset_at = start + self.window_seconds
        if used >= self.limit:
            return RateDecision(False, self.limit, 0, reset_at, max(reset_at - now, 0.0))
        self._windows[key] = (start, used + 1)
        return RateDecision(True, self.limit, self.limit - used - 1, reset_at, 0.0)

    def peek(self, key: str, now: float) -> RateDecision:
        """The window's state for ``key`` without counting a request."""
        start, used = self._current(key, now)
        reset_at = start + self.window_seconds
        remaining = max(self.limit - used, 0)
        return RateDecision(remaining > 0, self.limit, remaining, reset_at, 0.0)

    def reset(self) -> None:
        """Close every window."""
        self._windows.clear()

    def _current(self, key: str, now: float) -> tuple[float, int]:
        window = self._windows.get(key)
        if window is None or now >= window[0] + self.window_seconds:
            return now, 0
        return window


def format_seconds(seconds: float, *, whole: bool) -> str:
    """``Retry-After``'s value: whole seconds rounded up, or fractional seconds for short test windows."""
    if whole:
        return str(max(1, math.ceil(seconds - 1e-9)))
    text = f"{max(seconds, 0.0):.3f}".rstrip("0").rstrip(".")
    return text or "0"


# --- Faults -------------------------------------------------------------------------------------------


@dataclass
class Faults:
    """Failures armed through the control API, each used up as it fires."""

    throttle_count: int = 0
    throttle_retry_after: float = 1.0
    fail_creates_count: int = 0
    fail_creates_status: int = 500
    drop_after_create_count: int = 0

    def take_throttle(self) -> float | None:
        """The ``Retry-After`` of a pending forced 429, using it up; None when none is armed."""
        if self.throttle_count <= 0:
            return None
        self.throttle_count -= 1
        return self.throttle_retry_after

    def take_create_failure(self) -> int | None:
        """The status of a pending create failure, using it up; None when none is armed."""
        if self.fail_creates_count <= 0:
            return None
        self.fail_creates_count -= 1
        return self.fail_creates_status

    def take_drop(self) -> bool:
        """Whether the create that just succeeded must go unanswered, using the fault up."""
        if self.drop_after_create_count <= 0:
            return False
        self.drop_after_create_count -= 1
        return True

    def pending(self) -> dict[str, Any]:
        """What is still armed."""
        return {
            "throttle_next": {"count": self.throttle_count, "retry_after": self.throttle_retry_after},
            "fail_next_creates": {"count": self.fail_creates_count, "status": self.fail_creates_status},
            "drop_after_create": {"count": self.drop_after_create_count},
        }


# --- Small shared helpers ----------------------------------------------------------------------------


def iso_timestamp(epoch: float) -> str:
    """``2026-03-02T14:05:09+00:00``: the ISO-8601 form both services use for timestamps."""
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(epoch))


def parse_iso_timestamp(text: str) -> float | None:
    """Epoch seconds of an ISO-8601 timestamp or date (``Z`` accepted); None if it is not one."""
    from datetime import UTC, datetime

    candidate = text.strip().replace("Z", "+00:00").replace(" ", "+")
    try:
        parsed = datetime.fromisoformat(candidate)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def encode_cursor(data: Mapping[str, Any]) -> str:
    """An opaque paging token."""
    raw = json.dumps(dict(data), separators=(",", ":")).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(token: str) -> dict[str, Any] | None:
    """What ``encode_cursor`` wrapped, or None for a token we did not make."""
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, UnicodeError):
        return None
    return data if isinstance(data, dict) else None


def url_with(base_url: str, path: str, query: Mapping[str, list[str]], **changes: str | None) -> str:
    """``base_url + path`` with ``query`` after applying ``changes`` (None removes a parameter)."""
    merged = {key: list(values) for key, values in query.items()}
    for key, value in changes.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = [value]
    encoded = urlencode([(key, value) for key, values in merged.items() for value in values], safe=",{}[]")
    return f"{base_url}{path}?{encoded}" if encoded else f"{base_url}{path}"


def bearer_token(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer ...`` header."""
    header = request.header("Authorization") or ""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# --- The simulator base class ------------------------------------------------------------------------

ApiHandler = Callable[[Request, Principal], Response]
SimulatorT = TypeVar("SimulatorT", bound="BillingSimulator")


class BillingSimulator(ABC):
    """One simulated billing-system account served over HTTP on a loopback address.

    The socket is bound when the object is created, so ``port`` and ``base_url`` are known at once
    (``port=0`` picks a free port); ``start()`` serves on a daemon thread until ``stop()``. All state
    sits behind one lock. ``clock`` (epoch seconds) is injectable so tests can move time.
    """

    KIND: ClassVar[str]
    AUTHORIZE_PATH: ClassVar[str]
    TOKEN_PATH: ClassVar[str]
    ROTATE_REFRESH_TOKENS: ClassVar[bool]
    SERVICE_TITLE: ClassVar[str]

    def __init__(
        self,
        *,
        port: int,
        client_id: str,
        client_secret: str,
        access_token_seconds: int,
        refresh_token_seconds: int | None,
        rate_limit: int,
        rate_window_seconds: float,
        host: str = "127.0.0.1",
        clock: Clock = time.time,
    ) -> None:
        if host == "localhost":
            host = "127.0.0.1"
        if not _is_loopback(host):
            # DESIGN.md, devstack: every server binds 127.0.0.1 only. The consent page hands out tokens
            # without a password, so it must never be reachable from the network.
            raise ValueError(f"the billing simulators bind loopback addresses only, not {host!r}")
        self._host = host
        self.client_id = client_id
        self._client_secret = client_secret
        self._clock = clock
        self._lock = threading.RLock()
        self._initial_rate = (rate_limit, rate_window_seconds)
        self._oauth = OAuthStore(
            access_token_seconds=access_token_seconds,
            refresh_token_seconds=refresh_token_seconds,
            rotate_refresh_tokens=self.ROTATE_REFRESH_TOKENS,
        )
        self._limiter = RateLimiter(rate_limit, rate_window_seconds)
        self._faults = Faults()
        self._seed()
        self.router = Router(self._not_found, self._not_allowed)
        self._httpd = _SimulatorHttpServer((host, port), self.router)
        self._thread: threading.Thread | None = None
        self._register_common_routes()
        self._register_api_routes()

    # -- lifecycle ---------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The bound port (the real one when constructed with ``port=0``)."""
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:{port}``."""
        return f"http://{self._host}:{self.port}"

    def start(self) -> None:
        """Serve requests on a daemon thread until ``stop()``."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},  # stop() waits for one poll
            name=f"{self.KIND}-simulator-{self.port}",
            daemon=True,
        )
        self._thread.start()
        logger.info("%s simulator listening on %s", self.SERVICE_TITLE, self.base_url)

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()

    def __enter__(self: SimulatorT) -> SimulatorT:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- control API (Python) ---------------------------------------------------------------------

    def configure(
        self,
        *,
        rate_limit: int | None = None,
        rate_window_seconds: float | None = None,
        access_token_seconds: int | None = None,
    ) -> None:
        """Change the rate limit and/or the lifetime of access tokens issued from now on."""
        with self._lock:
            self._limiter.configure(
                rate_limit if rate_limit is not None else self._limiter.limit,
                rate_window_seconds if rate_window_seconds is not None else self._limiter.window_seconds,
            )
            if access_token_seconds is not None:
                self._oauth.access_token_seconds = int(access_token_seconds)

    def set_rate_limit(self, limit: int, window_seconds: float) -> None:
        """``limit`` requests per token per ``window_seconds``."""
        self.configure(rate_limit=limit, rate_window_seconds=window_seconds)

    def throttle_next(self, count: int, retry_after: float = 1.0) -> None:
        """The next ``count`` API requests answer 429 with ``Retry-After: retry_after``."""
        with self._lock:
            self._faults.throttle_count = max(int(count), 0)
            self._faults.throttle_retry_after = float(retry_after)

    def fail_next_creates(self, count: int, status: int = 500) -> None:
        """The next ``count`` time-entry creates answer ``status`` and store nothing."""
        if not 400 <= int(status) <= 599:
            raise ValueError("fail_next_creates needs an HTTP error status (400-599)")
        with self._lock:
            self._faults.fail_creates_count = max(int(count), 0)
            self._faults.fail_creates_status = int(status)

    def drop_after_create(self, count: int = 1) -> None:
        """The next ``count`` successful creates are stored, then the connection closes unanswered."""
        with self._lock:
            self._faults.drop_after_create_count = max(int(count), 0)

    def expire_access_tokens(self) -> None:
        """Every access token issued so far expires now (refresh tokens still work)."""
        with self._lock:
            self._oauth.expire_access_tokens(self._clock())

    def revoke_refresh_tokens(self, user_id: int | None = None) -> None:
        """Every refresh token (or only those ``user_id`` consented to) stops working: that
        connection must be authorized again."""
        with self._lock:
            self._oauth.revoke_refresh_tokens(user_id)

    def reset(self, *, keep_tokens: bool = False) -> None:
        """Back to the seeded account, no faults, fresh rate-limit windows and the initial limit."""
        with self._lock:
            self._seed()
            self._faults = Faults()
            self._limiter.reset()
            self._limiter.configure(*self._initial_rate)
            if not keep_tokens:
                self._oauth.clear()

    def issue_tokens(self, user_id: int | None = None) -> dict[str, Any]:
        """Tokens for ``user_id`` (default: the account's admin) without the browser, shaped exactly as
        the token endpoint answers an authorization-code grant."""
        with self._lock:
            user = self._default_user_id() if user_id is None else int(user_id)
            if not self._is_user(user):
                raise ValueError(f"user {user} is not a user of the simulated {self.SERVICE_TITLE} account")
            grant = self._oauth.issue(user_id=user, client_id=self.client_id, now=self._clock())
            return self._token_body(grant, include_refresh_token=True)

    def state(self) -> dict[str, Any]:
        """Everything stored (``GET /_sim/state``)."""
        with self._lock:
            return {
                "simulator": self.KIND,
                **self._account_state(),
                "tokens": self._oauth.counts(self._clock()),
                "rate_limit": {"limit": self._limiter.limit, "window_seconds": self._limiter.window_seconds},
                "faults": self._faults.pending(),
            }

    def to_dict(self) -> dict[str, Any]:
        """The account, tokens (as digests) and rate limit, for saving across devstack restarts."""
        with self._lock:
            return {
                "format": STATE_FORMAT_VERSION,
                "simulator": self.KIND,
                "account": self._account_to_dict(),
                "oauth": self._oauth.to_dict(),
                "rate_limit": {"limit": self._limiter.limit, "window_seconds": self._limiter.window_seconds},
            }

    @classmethod
    def from_dict(cls: type[SimulatorT], data: Mapping[str, Any], **kwargs: Any) -> SimulatorT:
        """A simulator (``kwargs`` as for the constructor, e.g. ``port=``) holding what ``to_dict`` saved."""
        if data.get("simulator") != cls.KIND:
            raise ValueError(f"saved state is for {data.get('simulator')!r}, not {cls.KIND!r}")
        simulator = cls(**kwargs)
        with simulator._lock:
            simulator._account_from_dict(data["account"])
            simulator._oauth.load(data.get("oauth") or {})
            rate = data.get("rate_limit") or {}
            if rate:
                simulator._limiter.configure(int(rate["limit"]), float(rate["window_seconds"]))
        return simulator

    # -- what a service defines ------------------------------------------------------------------

    @abstractmethod
    def _seed(self) -> None:
        """(Re)create the seeded account."""

    @abstractmethod
    def _register_api_routes(self) -> None:
        """Add the service's API routes (through ``api_route``)."""

    @abstractmethod
    def _account_state(self) -> dict[str, Any]:
        """The account's records for ``/_sim/state``."""

    @abstractmethod
    def _account_to_dict(self) -> dict[str, Any]:
        """The account's records for ``to_dict``."""

    @abstractmethod
    def _account_from_dict(self, data: Mapping[str, Any]) -> None:
        """Restore what ``_account_to_dict`` produced."""

    @abstractmethod
    def time_entries(self) -> list[dict[str, Any]]:
        """The time entries created through the API, as stored."""

    @abstractmethod
    def _users_for_consent(self) -> list[tuple[int, str]]:
        """(user id, label) of everyone who may authorize the application."""

    @abstractmethod
    def _default_user_id(self) -> int:
        """Whoever authorizes when nobody is chosen (the account's admin)."""

    @abstractmethod
    def _is_user(self, user_id: int) -> bool:
        """Whether ``user_id`` may sign in."""

    @abstractmethod
    def _unauthorized(self, request: Request) -> Response:
        """The service's 401 for a missing, unknown or expired token."""

    @abstractmethod
    def _throttled(self, retry_after: float) -> Response:
        """The service's 429 body (the base adds ``Retry-After`` and the rate headers)."""

    @abstractmethod
    def _create_failed(self, status: int) -> Response:
        """The service's error body for an injected create failure."""

    @abstractmethod
    def _not_found(self, request: Request) -> Response:
        """The service's 404 for a path nothing serves."""

    @abstractmethod
    def _not_allowed(self, request: Request) -> Response:
        """The service's 405."""

    def _token_body(self, grant: TokenGrant, *, include_refresh_token: bool) -> dict[str, Any]:
        """The token endpoint's JSON for ``grant``; services add their own members."""
        body: dict[str, Any] = {
            "access_token": grant.access_token,
            "token_type": "bearer",
            "expires_in": grant.expires_in,
        }
        if include_refresh_token and grant.refresh_token is not None:
            body["refresh_token"] = grant.refresh_token
        return body

    def _refresh_response_has_refresh_token(self) -> bool:
        """Whether a refresh grant's answer repeats or replaces the refresh token."""
        return True

    def negotiate(self, request: Request, *, has_body: bool) -> Response | None:
        """A chance to refuse a request's media types before anything else (None: fine)."""
        return None

    def decorate(self, response: Response) -> Response:
        """A chance to add service headers to every API response."""
        return response

    # -- the API pipeline -------------------------------------------------------------------------

    def api_route(
        self, method: str, pattern: str, handler: ApiHandler, *, creates_time_entry: bool = False
    ) -> None:
        """Serve ``method`` + ``pattern`` with ``handler`` behind auth, faults and the rate limit."""

        def pipeline(request: Request) -> Response:
            refused = self.negotiate(request, has_body=method in ("POST", "PUT", "PATCH"))
            if refused is not None:
                return self.decorate(refused)
            with self._lock:
                now = self._clock()
                principal = self._oauth.authenticate(bearer_token(request), now)
                if principal is None:
                    response = self._unauthorized(request)
                    return self.decorate(self._with_rate_headers(response, self._anonymous_window(now)))
                forced = self._faults.take_throttle()
                if forced is not None:
                    decision = self._limiter.peek(principal.token_key, now)
                    response = self._too_many(forced, decision, whole=False)
                    return self.decorate(response)
                decision = self._limiter.hit(principal.token_key, now)
                if not decision.allowed:
                    whole = self._limiter.window_seconds >= 1
                    return self.decorate(self._too_many(decision.retry_after, decision, whole=whole))
                if creates_time_entry:
                    failure = self._faults.take_create_failure()
                    if failure is not None:
                        return self.decorate(self._with_rate_headers(self._create_failed(failure), decision))
                response = handler(request, principal)
                if creates_time_entry and 200 <= response.status < 300 and self._faults.take_drop():
                    logger.info("%s simulator: dropping the response to a stored create (fault)", self.KIND)
                    return Response.dropped()
                return self.decorate(self._with_rate_headers(response, decision))

        self.router.add(method, pattern, pipeline)

    def _anonymous_window(self, now: float) -> RateDecision:
        return RateDecision(
            True, self._limiter.limit, self._limiter.limit, now + self._limiter.window_seconds, 0
        )

    def _too_many(self, retry_after: float, decision: RateDecision, *, whole: bool) -> Response:
        response = self._throttled(retry_after)
        response.headers.append(("Retry-After", format_seconds(retry_after, whole=whole)))
        blocked = RateDecision(False, decision.limit, 0, decision.reset_at, retry_after)
        return self._with_rate_headers(response, blocked)

    @staticmethod
    def _with_rate_headers(response: Response, decision: RateDecision) -> Response:
        response.headers.extend(
            [
                ("X-RateLimit-Limit", str(decision.limit)),
                ("X-RateLimit-Remaining", str(decision.remaining)),
                ("X-RateLimit-Reset", str(math.ceil(decision.reset_at))),
            ]
        )
        return response

    # -- OAuth endpoints --------------------------------------------------------------------------

    def _register_common_routes(self) -> None:
        add = self.router.add
        add("GET", rf"^{re.escape(self.AUTHORIZE_PATH)}$", self._authorize_page)
        add("POST", rf"^{re.escape(self.AUTHORIZE_PATH)}$", self._authorize_decision)
        add("POST", rf"^{re.escape(self.TOKEN_PATH)}$", self._token)
        add("GET", r"^/_sim/state$", self._sim_state)
        add("POST", r"^/_sim/reset$", self._sim_reset)
        add("POST", r"^/_sim/faults$", self._sim_faults)
        add("POST", r"^/_sim/tokens$", self._sim_tokens)

    def _authorize_page(self, request: Request) -> Response:
        fields = {name: request.arg(name) or "" for name in ("response_type", "client_id", "redirect_uri")}
        fields["state"] = request.arg("state") or ""
        problem = self._authorize_problem(fields)
        if problem:
            return self._consent_error(problem)
        with self._lock:
            default_user, users = self._default_user_id(), self._users_for_consent()
        options = "\n".join(
            f'<option value="{user_id}"{" selected" if user_id == default_user else ""}>'
            f"{html.escape(label)}</option>"
            for user_id, label in users
        )
        hidden = "\n".join(
            f'<input type="hidden" name="{name}" value="{html.escape(value, quote=True)}">'
            for name, value in fields.items()
        )
        title = f"Authorize application - simulated {self.SERVICE_TITLE}"
        markup = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;}}
button{{padding:.5rem 1rem;margin-right:.5rem;}}</style></head>
<body>
<h1>{html.escape(title)}</h1>
<p>The application <strong>{html.escape(fields["client_id"])}</strong> asks to read your users, matters
and contacts and to record time entries in this simulated {html.escape(self.SERVICE_TITLE)} account.</p>
<form method="post" action="{html.escape(self.AUTHORIZE_PATH)}">
{hidden}
<label>Signed in as <select name="user_id">
{options}
</select></label>
<p><button type="submit" name="decision" value="allow">Allow access</button>
<button type="submit" name="decision" value="deny">Deny</button></p>
</form>
</body></html>"""
        return Response.html(markup)

    def _authorize_decision(self, request: Request) -> Response:
        form = request.form()
        fields = {
            name: form.get(name, "") for name in ("response_type", "client_id", "redirect_uri", "state")
        }
        problem = self._authorize_problem(fields)
        if problem:
            return self._consent_error(problem)
        redirect_uri = fields["redirect_uri"]
        extra = {"state": fields["state"]} if fields["state"] else {}
        separator = "&" if urlsplit(redirect_uri).query else "?"
        if form.get("decision") != "allow":
            query = urlencode({"error": "access_denied", **extra})
            return Response.redirect(f"{redirect_uri}{separator}{query}")
        with self._lock:
            try:
                user_id = int(form.get("user_id") or self._default_user_id())
            except ValueError:
                return self._consent_error("The chosen user is not a number.")
            if not self._is_user(user_id):
                return self._consent_error("The chosen user cannot sign in to this account.")
            code = self._oauth.create_code(
                client_id=fields["client_id"], redirect_uri=redirect_uri, user_id=user_id, now=self._clock()
            )
        return Response.redirect(f"{redirect_uri}{separator}{urlencode({'code': code, **extra})}")

    def _authorize_problem(self, fields: Mapping[str, str]) -> str | None:
        # Errors about the client or the redirect URI are shown, never redirected (RFC 6749, 4.1.2.1).
        if fields["client_id"] != self.client_id:
            return "Unknown client_id: this application is not registered with the simulated account."
        parts = urlsplit(fields["redirect_uri"])
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.fragment:
            return "redirect_uri must be an absolute http(s) URL without a fragment."
        if fields["response_type"] != "code":
            return "response_type must be 'code'."
        return None

    def _consent_error(self, message: str) -> Response:
        markup = (
            "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Authorization error</title>"
            f"</head><body><h1>Authorization error</h1><p>{html.escape(message)}</p></body></html>"
        )
        return Response.html(markup, status=400)

    def _token(self, request: Request) -> Response:
        try:
            body = self._token_grant(request)
        except OAuthError as error:
            headers = [("Cache-Control", "no-store"), ("Pragma", "no-cache")]
            if error.status == 401:
                headers.append(("WWW-Authenticate", 'Basic realm="oauth"'))
            return Response.json(
                {"error": error.error, "error_description": error.description},
                status=error.status,
                headers=headers,
            )
        return Response.json(body, headers=[("Cache-Control", "no-store"), ("Pragma", "no-cache")])

    def _token_grant(self, request: Request) -> dict[str, Any]:
        if request.media_type() != "application/x-www-form-urlencoded":
            raise OAuthError("invalid_request", OAUTH_ERROR_DESCRIPTIONS["invalid_request"])
        form = request.form()
        client_id, client_secret = self._client_credentials(request, form)
        grant_type = form.get("grant_type", "")
        if grant_type not in ("authorization_code", "refresh_token"):
            if not grant_type:
                raise OAuthError("invalid_request", OAUTH_ERROR_DESCRIPTIONS["invalid_request"])
            raise OAuthError("unsupported_grant_type", OAUTH_ERROR_DESCRIPTIONS["unsupported_grant_type"])
        if client_id != self.client_id or not secrets.compare_digest(client_secret, self._client_secret):
            raise OAuthError("invalid_client", OAUTH_ERROR_DESCRIPTIONS["invalid_client"], status=401)
        with self._lock:
            now = self._clock()
            if grant_type == "authorization_code":
                code, redirect_uri = form.get("code", ""), form.get("redirect_uri", "")
                if not code or not redirect_uri:
                    raise OAuthError("invalid_request", OAUTH_ERROR_DESCRIPTIONS["invalid_request"])
                grant = self._oauth.exchange_code(
                    code=code, client_id=client_id, redirect_uri=redirect_uri, now=now
                )
                return self._token_body(grant, include_refresh_token=True)
            refresh_token = form.get("refresh_token", "")
            if not refresh_token:
                raise OAuthError("invalid_request", OAUTH_ERROR_DESCRIPTIONS["invalid_request"])
            grant = self._oauth.refresh(refresh_token=refresh_token, client_id=client_id, now=now)
            return self._token_body(grant, include_refresh_token=self._refresh_response_has_refresh_token())

    @staticmethod
    def _client_credentials(request: Request, form: Mapping[str, str]) -> tuple[str, str]:
        header = request.header("Authorization") or ""
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "basic" and value:
            try:
                decoded = base64.b64decode(value.strip()).decode("utf-8")
            except (ValueError, UnicodeError) as error:
                raise OAuthError(
                    "invalid_client", OAUTH_ERROR_DESCRIPTIONS["invalid_client"], status=401
                ) from error
            user, _, password = decoded.partition(":")
            return unquote(user), unquote(password)
        return form.get("client_id", ""), form.get("client_secret", "")

    # -- control endpoints ------------------------------------------------------------------------

    def _sim_state(self, request: Request) -> Response:
        return Response.json(self.state())

    def _sim_reset(self, request: Request) -> Response:
        options: Any = {}
        if request.body.strip():
            try:
                options = request.json()
            except ValueError:
                return Response.json({"error": "the body must be JSON"}, status=400)
        keep = bool(options.get("keep_tokens")) if isinstance(options, dict) else False
        self.reset(keep_tokens=keep)
        return Response.json({"reset": True, "kept_tokens": keep})

    def _sim_tokens(self, request: Request) -> Response:
        options: Any = {}
        if request.body.strip():
            try:
                options = request.json()
            except ValueError:
                return Response.json({"error": "the body must be JSON"}, status=400)
        user_id = options.get("user_id") if isinstance(options, dict) else None
        try:
            return Response.json(self.issue_tokens(None if user_id is None else int(user_id)))
        except ValueError as error:
            return Response.json({"error": str(error)}, status=400)

    def _sim_faults(self, request: Request) -> Response:
        try:
            spec = request.json()
        except ValueError:
            return Response.json({"error": "the body must be a JSON object"}, status=400)
        if not isinstance(spec, dict) or not spec:
            return Response.json({"error": "the body must be a non-empty JSON object"}, status=400)
        unknown = sorted(set(spec) - _FAULT_NAMES)
        if unknown:
            return Response.json({"error": f"unknown faults: {', '.join(unknown)}"}, status=400)
        try:
            self._apply_faults(spec)
        except (TypeError, ValueError, KeyError) as error:
            return Response.json({"error": f"bad fault specification: {error}"}, status=400)
        with self._lock:
            return Response.json({"faults": self._faults.pending()})

    def _apply_faults(self, spec: Mapping[str, Any]) -> None:
        if "rate_limit" in spec:
            rate = spec["rate_limit"]
            self.set_rate_limit(int(rate["limit"]), float(rate["window_seconds"]))
        if "throttle_next" in spec:
            throttle = spec["throttle_next"]
            self.throttle_next(int(throttle["count"]), float(throttle.get("retry_after", 1.0)))
        if "fail_next_creates" in spec:
            failing = spec["fail_next_creates"]
            self.fail_next_creates(int(failing["count"]), int(failing.get("status", 500)))
        if "drop_after_create" in spec:
            self.drop_after_create(int(spec["drop_after_create"]["count"]))
        if spec.get("expire_access_tokens"):
            self.expire_access_tokens()
        revoke = spec.get("revoke_refresh_tokens")
        if isinstance(revoke, dict):
            self.revoke_refresh_tokens(int(revoke["user_id"]))
        elif revoke:
            self.revoke_refresh_tokens()


_FAULT_NAMES = frozenset(
    {
        "rate_limit",
        "throttle_next",
        "fail_next_creates",
        "drop_after_create",
        "expire_access_tokens",
        "revoke_refresh_tokens",
    }
)
