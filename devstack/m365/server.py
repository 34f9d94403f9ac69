"""The Microsoft 365 simulator's HTTPS server, and the Entra ID (identity) endpoints on it.

One server on one port carries the identity provider, and later Graph and EWS, as real Microsoft 365
clients expect to find them under one authority. Other modules add their endpoints with
``M365Server.add_route(method, regex, handler)``; a handler takes a ``Request`` and returns a
``Response``.

Standard library only (``http.server`` + ``ssl``): the simulator must start in well under a second and
must not pull a web framework into the devstack.
"""

from __future__ import annotations

import hashlib
import html
import ipaddress
import json
import logging
import re
import secrets
import ssl
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from email.message import Message
from http.cookies import CookieError, SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socket import socket
from string import Template
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

from devstack.m365.identity import (
    GRAPH_RESOURCE,
    MULTI_TENANT_SEGMENTS,
    AuthorizationPageError,
    AuthorizationRequest,
    EntraError,
    IdentityProvider,
    Tenant,
    TenantExistsError,
    TokenValidationError,
    UserNotFoundError,
)
from devstack.m365.tls import TlsMaterial

logger = logging.getLogger(__name__)

SESSION_COOKIE = "msim_session"
MAX_BODY_BYTES = 10 * 1024 * 1024
_SIGNIN_TITLE = "Sign in — Matterline devstack (simulated Microsoft Entra ID)"


# --- Requests, responses, routing --------------------------------------------------------------------


@dataclass
class Request:
    """An HTTP request as a route handler sees it."""

    method: str
    path: str  # percent-decoded, without the query string
    query: dict[str, list[str]]
    headers: Message
    body: bytes
    client_address: tuple[str, int]
    params: dict[str, str] = field(default_factory=dict)  # named groups of the route's regex

    def arg(self, name: str, default: str | None = None) -> str | None:
        """The first value of query parameter ``name``."""
        values = self.query.get(name)
        return values[0] if values else default

    def form(self) -> dict[str, str]:
        """The body as ``application/x-www-form-urlencoded`` fields (first value of each)."""
        fields = parse_qs(self.body.decode("utf-8", errors="replace"), keep_blank_values=True)
        return {key: values[0] for key, values in fields.items()}

    def json(self) -> Any:
        """The body parsed as JSON. Raises ``ValueError`` if it is not."""
        return json.loads(self.body.decode("utf-8"))

    def header(self, name: str) -> str | None:
        """A request header (case-insensitive)."""
        return self.headers.get(name)

    def cookie(self, name: str) -> str | None:
        """A cookie sent by the browser."""
        raw = self.headers.get("Cookie")
        if not raw:
            return None
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(raw)
        except CookieError:
            return None
        morsel = jar.get(name)
        return morsel.value if morsel else None


@dataclass
class Response:
    """What a route handler returns."""

    status: int = 200
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def json(cls, data: Any, status: int = 200, headers: Sequence[tuple[str, str]] = ()) -> Response:
        """A JSON response (``application/json; charset=utf-8``)."""
        body = json.dumps(data, ensure_ascii=False).encode("utf-8")
        return cls(status, body, [("Content-Type", "application/json; charset=utf-8"), *headers])

    @classmethod
    def html(cls, markup: str, status: int = 200, headers: Sequence[tuple[str, str]] = ()) -> Response:
        """An HTML page that may not be framed or cached."""
        return cls(
            status,
            markup.encode("utf-8"),
            [
                ("Content-Type", "text/html; charset=utf-8"),
                ("X-Frame-Options", "DENY"),
                ("Cache-Control", "no-store"),
                *headers,
            ],
        )

    @classmethod
    def text(cls, text: str, status: int = 200, content_type: str = "text/plain; charset=utf-8") -> Response:
        """A plain-text (or other textual) response."""
        return cls(status, text.encode("utf-8"), [("Content-Type", content_type)])

    @classmethod
    def redirect(cls, location: str, headers: Sequence[tuple[str, str]] = ()) -> Response:
        """A 302 to ``location``."""
        return cls(302, b"", [("Location", location), ("Cache-Control", "no-store"), *headers])

    def header(self, name: str) -> str | None:
        """The first value of a response header."""
        wanted = name.lower()
        return next((v for k, v in self.headers if k.lower() == wanted), None)


Handler = Callable[[Request], Response]


def graph_error(status: int, code: str, message: str) -> Response:
    """Microsoft Graph's error shape: ``{"error": {"code", "message"}}`` (used for 404/405 too)."""
    return Response.json({"error": {"code": code, "message": message}}, status=status)


@dataclass(frozen=True)
class _Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    cors: bool


_CORS_HEADERS = (
    ("Access-Control-Allow-Origin", "*"),
    ("Access-Control-Expose-Headers", "client-request-id, x-ms-request-id, Retry-After"),
)


class Router:
    """Method + regular-expression routing; the first matching route wins."""

    def __init__(self) -> None:
        self._routes: list[_Route] = []
        self._lock = threading.Lock()

    def add(self, method: str, pattern: str, handler: Handler, *, cors: bool = False) -> None:
        """Route ``method`` requests whose decoded path matches ``pattern`` (use ``^...$``) to ``handler``.

        Named groups in ``pattern`` arrive as ``request.params``. With ``cors`` the responses carry
        ``Access-Control-Allow-Origin: *`` and preflight ``OPTIONS`` requests are answered, for
        endpoints a browser app calls directly.
        """
        route = _Route(method.upper(), re.compile(pattern), handler, cors)
        with self._lock:
            self._routes.append(route)

    def dispatch(self, request: Request) -> Response:
        """Find the handler for ``request`` and run it (404/405 in Graph's error shape otherwise)."""
        with self._lock:
            routes = list(self._routes)
        matching = [(route, match) for route in routes if (match := route.pattern.match(request.path))]
        if not matching:
            return graph_error(404, "NotFound", f"No endpoint matches {request.method} {request.path}.")
        cors = any(route.cors for route, _ in matching)
        route_match = next(((r, m) for r, m in matching if r.method == request.method), None)
        if route_match is not None:
            route, match = route_match
            request.params = {k: v for k, v in match.groupdict().items() if v is not None}
            response = route.handler(request)
        elif request.method == "OPTIONS" and cors:
            response = _preflight(request, sorted({r.method for r, _ in matching} | {"OPTIONS"}))
        else:
            response = graph_error(
                405, "MethodNotAllowed", f"{request.method} is not supported on {request.path}."
            )
            response.headers.append(("Allow", ", ".join(sorted({r.method for r, _ in matching}))))
        if cors:
            response.headers.extend(_CORS_HEADERS)
        return response


def _preflight(request: Request, allowed: Sequence[str]) -> Response:
    requested = request.header("Access-Control-Request-Headers") or "Content-Type"
    return Response(
        204,
        b"",
        [
            ("Access-Control-Allow-Methods", ", ".join(allowed)),
            ("Access-Control-Allow-Headers", requested),
            ("Access-Control-Max-Age", "86400"),
        ],
    )


# --- The HTTP server ---------------------------------------------------------------------------------


class _RequestHandler(BaseHTTPRequestHandler):
    """Turns ``http.server``'s callbacks into ``Request`` → ``Router`` → ``Response``."""

    server: _TlsHttpServer
    protocol_version = "HTTP/1.1"  # keep-alive: msal and requests reuse connections
    server_version = "Matterline-M365-Simulator"
    sys_version = ""
    timeout = 60  # an idle keep-alive connection must not hold a thread forever

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

    def do_OPTIONS(self) -> None:
        self._handle()

    def do_HEAD(self) -> None:
        self._handle()

    def _handle(self) -> None:
        try:
            body = self._read_body()
        except _BodyError as error:
            self._send(graph_error(error.status, "BadRequest", str(error)))
            self.close_connection = True
            return
        split = urlsplit(self.path)
        request = Request(
            method=self.command,
            path=unquote(split.path),
            query=parse_qs(split.query, keep_blank_values=True),
            headers=self.headers,
            body=body,
            client_address=(str(self.client_address[0]), int(self.client_address[1])),
        )
        try:
            response = self.server.router.dispatch(request)
        except Exception:
            # A bug in one handler must show up as a 500 for that request, not kill the connection thread.
            logger.exception("simulator handler failed: %s %s", self.command, split.path)
            response = graph_error(500, "InternalServerError", "The simulator failed to handle the request.")
        self._send(response)

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks: list[bytes] = []
            total = 0
            while True:
                size_line = self.rfile.readline(1024).split(b";", 1)[0].strip()
                size = int(size_line or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                total += size
                if total > MAX_BODY_BYTES:
                    raise _BodyError(413, "The request body is too large.")
                chunks.append(self.rfile.read(size))
                self.rfile.readline(1024)
        length_header = self.headers.get("Content-Length")
        if not length_header:
            return b""
        try:
            length = int(length_header)
        except ValueError as error:
            raise _BodyError(400, "Content-Length is not a number.") from error
        if length < 0 or length > MAX_BODY_BYTES:
            raise _BodyError(413, "The request body is too large.")
        return self.rfile.read(length)

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        for name, value in response.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD" and response.body:
            self.wfile.write(response.body)

    def log_message(self, format: str, *args: Any) -> None:
        # Debug level and path only: query strings can carry codes and hints we should not log.
        logger.debug("%s %s", self.address_string(), format % args)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        logger.debug("%s %s -> %s", self.command, urlsplit(self.path).path, code)


class _BodyError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class _TlsHttpServer(ThreadingHTTPServer):
    """A threading HTTP server that does the TLS handshake in the request's own thread.

    Wrapping the listening socket instead would run every handshake inside ``accept()`` on the single
    serving thread, so one slow or stalled client would block all others.
    """

    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], context: ssl.SSLContext, router: Router):
        self.ssl_context = context
        self.router = router
        super().__init__(address, _RequestHandler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        raw: socket = request
        raw.settimeout(30)
        try:
            tls = self.ssl_context.wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError) as error:
            # Typically a client that does not trust our CA: worth a debug line, not a traceback.
            logger.debug("TLS handshake with %s failed: %s", client_address, error)
            return
        try:
            _RequestHandler(tls, client_address, self)
        finally:
            tls.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        logger.debug("connection from %s ended with an error", client_address, exc_info=True)


class M365Server:
    """The simulated Microsoft 365 endpoints over HTTPS on a loopback address.

    The socket is bound when the object is created, so ``port`` and ``base_url`` are known at once
    (pass ``port=0`` for a free port); ``start()`` begins serving on a background thread. The
    identity provider's ``base_url`` is set to this server's, since it is part of every token's issuer.
    """

    def __init__(
        self,
        identity: IdentityProvider,
        host: str = "127.0.0.1",
        port: int = 8443,
        *,
        tls: TlsMaterial,
    ) -> None:
        if host == "localhost":
            host = "127.0.0.1"
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            # DESIGN.md, devstack: every server binds 127.0.0.1 only. The sign-in page hands out
            # tokens for any user without a password, so it must never be reachable from the network.
            raise ValueError(f"the Microsoft 365 simulator binds loopback addresses only, not {host!r}")
        self.identity = identity
        self.tls = tls
        self.router = Router()
        self._httpd = _TlsHttpServer((host, port), tls.server_context(), self.router)
        self._thread: threading.Thread | None = None
        identity.base_url = self.base_url
        register_identity_routes(self, identity)

    @property
    def host(self) -> str:
        """The address the socket is bound to (``127.0.0.1``)."""
        return str(self._httpd.server_address[0])

    @property
    def port(self) -> int:
        """The bound port (the real one when constructed with ``port=0``)."""
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        """``https://localhost:{port}``: the certificate is for ``localhost`` (and ``127.0.0.1``)."""
        return f"https://localhost:{self.port}"

    def add_route(self, method: str, pattern: str, handler: Handler, *, cors: bool = False) -> None:
        """Serve ``method`` requests whose path matches ``pattern`` with ``handler``; see ``Router.add``."""
        self.router.add(method, pattern, handler, cors=cors)

    def start(self) -> None:
        """Serve requests on a daemon thread until ``stop()``."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.2},
            name=f"m365-simulator-{self.port}",
            daemon=True,
        )
        self._thread.start()
        logger.info("Microsoft 365 simulator listening on %s", self.base_url)

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> M365Server:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --- Identity endpoints ------------------------------------------------------------------------------

_TENANT = r"(?P<tenant>[^/]+)"


def register_identity_routes(server: M365Server, identity: IdentityProvider) -> None:
    """Add the Entra ID v2.0 endpoints, the userinfo endpoint and the ``/_sim`` admin API."""
    routes = _IdentityRoutes(identity)
    add = server.add_route
    add("GET", rf"^/{_TENANT}/v2\.0/\.well-known/openid-configuration$", routes.discovery, cors=True)
    add("GET", rf"^(?:/{_TENANT})?/discovery(?:/v2\.0)?/keys$", routes.keys, cors=True)
    add("POST", rf"^/{_TENANT}/oauth2/v2\.0/token$", routes.token, cors=True)
    add("GET", rf"^/{_TENANT}/oauth2/v2\.0/token$", routes.token_get, cors=True)
    add("GET", rf"^/{_TENANT}/oauth2/v2\.0/authorize$", routes.authorize)
    add("POST", rf"^/{_TENANT}/oauth2/v2\.0/authorize$", routes.authorize_post)
    add("GET", rf"^/{_TENANT}/oauth2/v2\.0/logout$", routes.logout)
    add("POST", rf"^/{_TENANT}/oauth2/v2\.0/logout$", routes.logout)
    add("GET", r"^/oidc/userinfo$", routes.userinfo, cors=True)
    add("POST", r"^/oidc/userinfo$", routes.userinfo, cors=True)
    add("GET", r"^/_sim/tenants$", routes.list_tenants)
    add("POST", r"^/_sim/tenants$", routes.create_tenant)
    add("GET", rf"^/_sim/tenants/{_TENANT}$", routes.get_tenant)
    add("DELETE", rf"^/_sim/tenants/{_TENANT}$", routes.delete_tenant)


class _IdentityRoutes:
    def __init__(self, identity: IdentityProvider):
        self.identity = identity

    # -- discovery and keys ------------------------------------------------------------------------

    def discovery(self, request: Request) -> Response:
        try:
            return Response.json(self.identity.openid_configuration(request.params["tenant"]))
        except EntraError as error:
            return self._entra_error(request, error)

    def keys(self, request: Request) -> Response:
        tenant = request.params.get("tenant")
        if (
            tenant
            and tenant.lower() not in MULTI_TENANT_SEGMENTS
            and self.identity.directory.tenant(tenant) is None
        ):
            return self._entra_error(request, self._unknown_tenant(tenant))
        return Response.json(self.identity.jwks())

    # -- token -------------------------------------------------------------------------------------

    def token(self, request: Request) -> Response:
        content_type = (request.header("Content-Type") or "").split(";", 1)[0].strip().lower()
        if content_type != "application/x-www-form-urlencoded":
            # Entra reads the grant from a form body only; anything else looks like a missing grant_type.
            return self._entra_error(
                request,
                EntraError(
                    "invalid_request",
                    900144,
                    "The request body must contain the following parameter: 'grant_type'.",
                ),
            )
        try:
            body = self.identity.token_endpoint(
                request.params["tenant"], request.form(), authorization=request.header("Authorization")
            )
        except EntraError as error:
            return self._entra_error(request, error)
        return Response.json(body, headers=[*_NO_STORE, *self._request_id_headers(request)])

    def token_get(self, request: Request) -> Response:
        return self._entra_error(
            request,
            EntraError(
                "invalid_request",
                900561,
                "The endpoint only accepts POST, OPTIONS requests. Received a GET request.",
            ),
        )

    # -- authorize ---------------------------------------------------------------------------------

    def authorize(self, request: Request) -> Response:
        params = {key: values[0] for key, values in request.query.items()}
        return self._authorize(request, params, email=None)

    def authorize_post(self, request: Request) -> Response:
        # The sign-in page posts the original authorize parameters back as hidden fields.
        params = {key: values[0] for key, values in request.query.items()}
        params.update(request.form())
        email = params.pop("login", "")
        return self._authorize(request, params, email=email.strip())

    def _authorize(self, request: Request, params: dict[str, str], *, email: str | None) -> Response:
        tenant_segment = request.params["tenant"]
        try:
            auth = self.identity.begin_authorization(tenant_segment, params)
        except AuthorizationPageError as error:
            return _error_page(error.error)
        except EntraError as error:
            # begin_authorization verified client and redirect URI before raising this.
            target = self.identity.redirect_target(tenant_segment, params)
            return _redirect_with(
                target,
                params.get("response_mode") or "query",
                {"error": error.error, "error_description": error.description, "state": params.get("state")},
            )

        if email is None:
            if auth.prompt == "none":
                return self._silent(request, auth)
            return _page(_signin_page(auth, params, tenant_segment, error=None))
        if not email:
            message = "Enter the email address of a user in this directory, or choose one above."
            return _page(_signin_page(auth, params, tenant_segment, error=message))
        try:
            tenant, user, code = self.identity.complete_authorization(auth, email)
        except UserNotFoundError as error:
            return _page(_signin_page(auth, params, tenant_segment, error=str(error), email=email))
        session = self.identity.issue_session(tenant.tenant_id, user.oid)
        return _redirect_with(
            auth.redirect_uri,
            auth.response_mode,
            {"code": code, "state": auth.state, "session_state": _session_state(session)},
            cookie=_session_cookie(session),
        )

    def _silent(self, request: Request, auth: AuthorizationRequest) -> Response:
        """``prompt=none``: succeed only from an existing sign-in session, as Entra does."""
        signed_in = self.identity.read_session(request.cookie(SESSION_COOKIE))
        hint = (auth.login_hint or "").lower()
        if signed_in is not None and (not hint or signed_in[1].email.lower() == hint):
            tenant, user = signed_in
            try:
                code = self.identity.complete_authorization_for(auth, tenant, user)
            except UserNotFoundError:
                code = None
            if code is not None:
                return _redirect_with(
                    auth.redirect_uri,
                    auth.response_mode,
                    {"code": code, "state": auth.state},
                )
        error = EntraError(
            "login_required", 50058, "A silent sign-in request was sent but no user is signed in."
        )
        return _redirect_with(
            auth.redirect_uri,
            auth.response_mode,
            {"error": error.error, "error_description": error.description, "state": auth.state},
        )

    def logout(self, request: Request) -> Response:
        params = {key: values[0] for key, values in request.query.items()}
        if request.method == "POST":
            params.update(request.form())
        clear = f"{SESSION_COOKIE}=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=None"
        target = params.get("post_logout_redirect_uri", "")
        registered = {
            uri for t in self.identity.directory.tenants() for a in t.apps for uri in a.redirect_uris
        }
        if target and target in registered:
            # Only registered addresses: otherwise the logout endpoint would be an open redirector.
            location = target
            if params.get("state"):
                location = _append_query(target, {"state": params["state"]})
            return Response.redirect(location, headers=[("Set-Cookie", clear)])
        markup = _SIGNIN_TEMPLATE.substitute(
            title=html.escape(_SIGNIN_TITLE),
            heading="You signed out",
            subtitle="You have been signed out of the simulated Microsoft Entra ID. "
            "You can close this window.",
            alert="",
            body="",
        )
        return _page(markup, headers=[("Set-Cookie", clear)])

    # -- userinfo ----------------------------------------------------------------------------------

    def userinfo(self, request: Request) -> Response:
        authorization = request.header("Authorization") or ""
        token = authorization[7:].strip() if authorization.lower().startswith("bearer ") else ""
        try:
            claims = self.identity.validate_token(token, audience=[GRAPH_RESOURCE, f"{GRAPH_RESOURCE}/"])
        except TokenValidationError as error:
            response = graph_error(401, "InvalidAuthenticationToken", str(error))
            response.headers.append(("WWW-Authenticate", 'Bearer error="invalid_token"'))
            return response
        tenant = self.identity.directory.tenant(str(claims["tid"]))
        user = tenant.user(str(claims.get("oid", ""))) if tenant else None
        if tenant is None or user is None:
            return graph_error(401, "InvalidAuthenticationToken", "The token is not for a user.")
        given, _, family = user.display_name.partition(" ")
        return Response.json(
            {
                "sub": claims["sub"],
                "name": user.display_name,
                "family_name": family,
                "given_name": given,
                "picture": f"{self.identity.base_url}/v1.0/me/photo/$value",
                "email": user.email,
            }
        )

    # -- test-only admin API -----------------------------------------------------------------------

    def list_tenants(self, request: Request) -> Response:
        directory = self.identity.directory.to_dict(include_secrets=False)
        return Response.json({"value": directory["tenants"]})

    def get_tenant(self, request: Request) -> Response:
        tenant = self.identity.directory.tenant(request.params["tenant"])
        if tenant is None:
            return graph_error(404, "NotFound", f"No tenant {request.params['tenant']}.")
        return Response.json(tenant.to_dict(include_secrets=False))

    def create_tenant(self, request: Request) -> Response:
        try:
            tenant = Tenant.from_dict(request.json())
            self.identity.directory.add_tenant(tenant)
        except TenantExistsError as error:
            return graph_error(409, "Conflict", str(error))
        except (ValueError, TypeError) as error:
            return graph_error(400, "BadRequest", str(error))
        return Response.json(
            tenant.to_dict(include_secrets=False),
            status=201,
            headers=[("Location", f"/_sim/tenants/{tenant.tenant_id}")],
        )

    def delete_tenant(self, request: Request) -> Response:
        tenant = self.identity.directory.tenant(request.params["tenant"])
        if tenant is None:
            return graph_error(404, "NotFound", f"No tenant {request.params['tenant']}.")
        self.identity.directory.remove_tenant(tenant.tenant_id)
        return Response(204)

    # -- helpers -----------------------------------------------------------------------------------

    def _entra_error(self, request: Request, error: EntraError) -> Response:
        body = error.to_json(correlation_id=request.header("client-request-id"), now=self.identity.now())
        return Response.json(
            body,
            status=error.status,
            headers=[*_NO_STORE, *self._request_id_headers(request, body.get("trace_id"))],
        )

    @staticmethod
    def _request_id_headers(request: Request, trace_id: str | None = None) -> list[tuple[str, str]]:
        headers = [("x-ms-request-id", trace_id or secrets.token_hex(16))]
        client_request_id = request.header("client-request-id")
        if client_request_id:
            # Entra echoes the caller's correlation id, which msal logs to tie requests together.
            headers.append(("client-request-id", client_request_id))
        return headers

    @staticmethod
    def _unknown_tenant(segment: str) -> EntraError:
        return EntraError(
            "invalid_tenant",
            90002,
            f"Tenant '{segment}' not found. Check to make sure you have the correct tenant ID and are "
            "signing into the correct cloud.",
        )


_NO_STORE = (("Cache-Control", "no-store, no-cache"), ("Pragma", "no-cache"))


def _session_cookie(value: str) -> str:
    # SameSite=None so that a prompt=none request from a hidden iframe in the console still sends it;
    # that requires Secure, which we are.
    return f"{SESSION_COOKIE}={value}; Path=/; Max-Age=86400; Secure; HttpOnly; SameSite=None"


def _session_state(session: str) -> str:
    # Entra returns an opaque session_state GUID-like value; derive one that does not reveal the session.
    return str(uuid.UUID(bytes=hashlib.sha256(session.encode()).digest()[:16]))


def _append_query(uri: str, params: Mapping[str, str | None]) -> str:
    query = urlencode({k: v for k, v in params.items() if v is not None})
    return f"{uri}{'&' if '?' in uri else '?'}{query}"


def _redirect_with(
    redirect_uri: str, response_mode: str, params: Mapping[str, str | None], *, cookie: str | None = None
) -> Response:
    """Send the authorize result to the app the way ``response_mode`` asks."""
    extra = [("Set-Cookie", cookie)] if cookie else []
    values = {k: v for k, v in params.items() if v is not None}
    if response_mode == "form_post":
        nonce = secrets.token_urlsafe(16)
        inputs = "\n".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
            for k, v in values.items()
        )
        markup = (
            '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Working…</title></head>'
            f'<body><form method="post" action="{html.escape(redirect_uri)}">{inputs}'
            "<noscript><p>Script is disabled. Press Continue to finish signing in.</p>"
            '<button type="submit">Continue</button></noscript></form>'
            f'<script nonce="{nonce}">document.forms[0].submit();</script></body></html>'
        )
        csp = f"default-src 'none'; script-src 'nonce-{nonce}'; base-uri 'none'"
        return Response.html(markup, headers=[("Content-Security-Policy", csp), *extra])
    if response_mode == "fragment":
        return Response.redirect(f"{redirect_uri}#{urlencode(values)}", headers=extra)
    return Response.redirect(_append_query(redirect_uri, values), headers=extra)


# --- Pages -------------------------------------------------------------------------------------------

_PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'"


def _page(markup: str, status: int = 200, headers: Sequence[tuple[str, str]] = ()) -> Response:
    """One of our own HTML pages: no script at all, no framing (as Entra's sign-in page)."""
    return Response.html(markup, status=status, headers=[("Content-Security-Policy", _PAGE_CSP), *headers])


def _error_page(error: EntraError) -> Response:
    """Entra's own error page, for requests it must not redirect back (unknown app, bad redirect URI)."""
    alert = (
        '<div class="alert" role="alert"><p class="alert-title">'
        "Sorry, but we&rsquo;re having trouble signing you in.</p>"
        f"<p>{html.escape(error.description)}</p></div>"
    )
    markup = _SIGNIN_TEMPLATE.substitute(
        title=html.escape(_SIGNIN_TITLE),
        heading="Sign in",
        subtitle="The application&rsquo;s sign-in request is not valid.",
        alert=alert,
        body="",
    )
    return _page(markup, status=400)


def _signin_page(
    auth: AuthorizationRequest,
    params: Mapping[str, str],
    tenant_segment: str,
    *,
    error: str | None,
    email: str | None = None,
) -> str:
    """The account picker: the tenant's users as buttons, plus a field to type an email."""
    hidden = "\n".join(
        f'      <input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
        for k, v in params.items()
        if k != "login"
    )
    hint = (auth.login_hint or "").lower()
    users = sorted(
        ((t, u) for t in auth.tenants for u in t.users),
        key=lambda pair: (pair[1].display_name.lower(), pair[1].email),
    )
    many_tenants = len(auth.tenants) > 1
    items = []
    for tenant, user in users:
        initials = "".join(part[0] for part in user.display_name.split()[:2]).upper() or "?"
        suggested = ' aria-describedby="hint-note"' if user.email.lower() == hint else ""
        css = "account suggested" if user.email.lower() == hint else "account"
        where = (
            f'<span class="account-tenant">{html.escape(tenant.display_name)}</span>' if many_tenants else ""
        )
        items.append(
            f'        <li><button type="submit" name="login" value="{html.escape(user.email)}"'
            f' class="{css}"{suggested}>'
            f'<span class="avatar" aria-hidden="true">{html.escape(initials)}</span>'
            f'<span class="account-text"><span class="account-name">{html.escape(user.display_name)}</span>'
            f'<span class="account-email">{html.escape(user.email)}</span>{where}</span></button></li>'
        )
    action = html.escape(f"/{tenant_segment}/oauth2/v2.0/authorize")
    tenant_names = ", ".join(t.display_name for t in auth.tenants)
    permissions = auth.requested_permissions()
    permission_items = "".join(f"<li><code>{html.escape(p)}</code></li>" for p in permissions)
    alert = (
        f'<div class="alert" role="alert" id="signin-error"><p>{html.escape(error)}</p></div>'
        if error
        else ""
    )
    accounts = (
        f"""    <form method="post" action="{action}" class="accounts-form">
{hidden}
      <h2 id="pick-heading">Pick an account</h2>
      <ul class="accounts" aria-labelledby="pick-heading">
{chr(10).join(items)}
      </ul>
    </form>"""
        if items
        else '    <p class="muted">This tenant has no users yet.</p>'
    )
    hint_note = (
        '<p class="muted" id="hint-note">The application suggested this account.</p>'
        if hint and any(u.email.lower() == hint for _, u in users)
        else ""
    )
    typed = html.escape(email if email is not None else auth.login_hint or "")
    invalid = ' aria-invalid="true" aria-describedby="signin-error"' if error else ""
    body = f"""{accounts}
    {hint_note}
    <form method="post" action="{action}" class="email-form">
{hidden}
      <label for="login">Or sign in with an email address</label>
      <input id="login" name="login" type="email" autocomplete="username" inputmode="email"
             placeholder="someone@{html.escape(auth.tenants[0].domain)}" value="{typed}"{invalid} autofocus>
      <button type="submit" class="primary">Next</button>
    </form>
    <details class="permissions">
      <summary>What {html.escape(auth.client.display_name)} is asking for</summary>
      <ul>{permission_items or "<li>Sign you in and read your profile</li>"}</ul>
    </details>"""
    return _SIGNIN_TEMPLATE.substitute(
        title=html.escape(_SIGNIN_TITLE),
        heading="Sign in",
        subtitle=(
            f"to continue to <strong>{html.escape(auth.client.display_name)}</strong>"
            f" · {html.escape(tenant_names)}"
        ),
        alert=alert,
        body=body,
    )


# No JavaScript: the page works with the keyboard and a screen reader as plain HTML forms, and an
# e2e test can drive it with two clicks. Styled after a Microsoft sign-in card, but clearly labelled as
# a simulator so nobody mistakes it for the real thing.
_SIGNIN_TEMPLATE = Template(
    """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <meta name="robots" content="noindex">
  <title>${title}</title>
  <style>
    :root { color-scheme: light; }
    * { box-sizing: border-box; }
    body {
      margin: 0; min-height: 100vh; display: flex; flex-direction: column; align-items: center;
      justify-content: center; padding: 24px 12px;
      font-family: "Segoe UI", "Segoe UI Web (West European)", -apple-system, BlinkMacSystemFont, Roboto,
        "Helvetica Neue", Arial, sans-serif;
      font-size: 15px; line-height: 1.4; color: #1b1b1b; background: #f2f2f2;
    }
    .banner {
      width: 100%; max-width: 440px; margin: 0 0 12px; padding: 8px 12px; border-radius: 4px;
      background: #fff4ce; color: #3b2f00; font-size: 13px; border: 1px solid #e0c96a;
    }
    main {
      width: 100%; max-width: 440px; background: #fff; padding: 44px;
      box-shadow: 0 2px 6px rgba(0, 0, 0, 0.2);
    }
    .brand { display: flex; align-items: center; gap: 8px; font-weight: 600; color: #5e5e5e; }
    .brand-mark { display: grid; grid-template-columns: 9px 9px; gap: 2px; }
    .brand-mark span { width: 9px; height: 9px; display: block; }
    h1 { font-size: 24px; font-weight: 600; margin: 16px 0 4px; }
    h2 { font-size: 15px; font-weight: 600; margin: 20px 0 8px; }
    .subtitle { margin: 0 0 8px; color: #404040; }
    .muted { color: #5e5e5e; font-size: 13px; }
    .accounts { list-style: none; margin: 0; padding: 0; border-top: 1px solid #e1e1e1; }
    .accounts li { border-bottom: 1px solid #e1e1e1; }
    .account {
      display: flex; align-items: center; gap: 12px; width: 100%; padding: 10px 8px;
      border: 0; background: transparent; text-align: left; font: inherit; color: inherit; cursor: pointer;
    }
    .account:hover { background: #f2f2f2; }
    .account:focus-visible, button.primary:focus-visible, input:focus-visible, summary:focus-visible {
      outline: 2px solid #0067b8; outline-offset: 2px;
    }
    .account.suggested { background: #eff6fc; }
    .avatar {
      flex: none; width: 40px; height: 40px; border-radius: 50%; display: grid; place-items: center;
      background: #0067b8; color: #fff; font-weight: 600;
    }
    .account-text { display: flex; flex-direction: column; min-width: 0; }
    .account-name { font-weight: 600; }
    .account-email, .account-tenant { color: #404040; font-size: 13px; overflow-wrap: anywhere; }
    .email-form { margin-top: 20px; display: grid; gap: 8px; }
    label { font-weight: 600; }
    input[type="email"] {
      width: 100%; padding: 6px 2px; font: inherit; border: 0; border-bottom: 1px solid #666;
      background: transparent;
    }
    input[aria-invalid="true"] { border-bottom-color: #a4262c; }
    button.primary {
      justify-self: end; min-width: 108px; padding: 6px 12px; font: inherit; font-weight: 600;
      color: #fff; background: #0067b8; border: 1px solid #0067b8; cursor: pointer;
    }
    button.primary:hover { background: #005da6; }
    .alert {
      margin: 12px 0; padding: 10px 12px; border-left: 4px solid #a4262c; background: #fde7e9;
      color: #3b0509;
    }
    .alert p { margin: 0; }
    .alert-title { font-weight: 600; margin-bottom: 4px !important; }
    .permissions { margin-top: 20px; font-size: 13px; color: #404040; }
    .permissions ul { margin: 8px 0 0; padding-left: 20px; }
    code { font-family: Consolas, "Courier New", monospace; }
    @media (max-width: 480px) { main { padding: 24px; box-shadow: none; } }
  </style>
</head>
<body>
  <p class="banner" role="note"><strong>Simulated Microsoft Entra ID.</strong> Matterline devstack, for
    local development only: no password is asked and no real account is used.</p>
  <main>
    <div class="brand" aria-hidden="true">
      <span class="brand-mark"><span style="background:#f25022"></span><span style="background:#7fba00"></span
      ><span style="background:#00a4ef"></span><span style="background:#ffb900"></span></span>
      <span>Microsoft (simulated)</span>
    </div>
    <h1>${heading}</h1>
    <p class="subtitle">${subtitle}</p>
    ${alert}
${body}
  </main>
</body>
</html>
"""
)
