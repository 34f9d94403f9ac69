"""The devstack's embedded AWS: moto's server, in this process, on loopback.

``EmbeddedAws`` starts moto's ``ThreadedMotoServer`` bound to 127.0.0.1 (moto binds every
interface unless told), turns on real Step Functions execution, installs the Lambda bridge
(``devstack.aws.bridge``) and exports the environment the rest of the process needs to talk to it.

Because the server runs *in this process*, moto's backends are shared with anything else here:
the Lambda bridge runs handlers in-process, ``devstack.aws.outbox`` reads SES's sent mail
directly, and - the flip side - there can be only one ``EmbeddedAws`` running per process, and
``moto.mock_aws`` must not be active at the same time.

Typical use::

    aws = EmbeddedAws(port=5055).start()
    try:
        ddb = aws.client("dynamodb")
        ...
    finally:
        aws.stop()
"""

from __future__ import annotations

import copy
import ipaddress
import json
import logging
import os
import threading
import urllib.request
from collections.abc import Mapping
from typing import Any

import boto3
from botocore.config import Config

from devstack.aws import bridge

__all__ = ["DEFAULT_ACCOUNT_ID", "EmbeddedAws"]

logger = logging.getLogger(__name__)
requests_logger = logging.getLogger("devstack.aws.requests")

# moto's default account: what any access key it does not know maps to.
DEFAULT_ACCOUNT_ID = "123456789012"

_FAKE_ACCESS_KEY = "testing"
_FAKE_SECRET_KEY = "testing"

_HIDDEN_VARIABLES = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE")

_running_lock = threading.Lock()
_running: EmbeddedAws | None = None


def _moto_server_class() -> type[Any]:
    """ThreadedMotoServer, reporting bind errors and logging requests quietly.

    moto's ``start()`` waits on an event the server thread sets *after* binding; when the bind
    fails (port taken), werkzeug prints and calls ``sys.exit`` in that thread, the event is never
    set and ``start()`` waits forever. Catching the failure in the thread and setting the event
    lets ``start()`` return so we can raise it in the caller.

    ``_server_entry`` is moto's own (moto is pinned), with a request handler that logs each
    request at DEBUG instead of printing a werkzeug access line for every AWS call.
    """
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from moto.server import ThreadedMotoServer
    from werkzeug.serving import make_server

    class _QuietRequestHandler(MotoRequestHandler):
        def log_request(self, code: Any = "-", size: Any = "-") -> None:
            requests_logger.debug("%s %s", self.requestline, code)

    class _LoopbackMotoServer(ThreadedMotoServer):
        startup_error: BaseException | None = None

        def _server_entry(self) -> None:
            try:
                app = DomainDispatcherApplication(create_backend_app)
                self._server = make_server(
                    self._ip_address, self._port, app, True, request_handler=_QuietRequestHandler
                )
            except BaseException as exc:  # SystemExit from werkzeug included
                self.startup_error = exc
                self._server_ready_event.set()
                return
            self._server_ready_event.set()
            self._server.serve_forever()

    return _LoopbackMotoServer


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class EmbeddedAws:
    """moto's server on loopback, with Step Functions execution and the Lambda bridge.

    ``port=0`` picks a free port (``port`` tells which once started). ``export_environment``
    sets, for the whole process, what code that builds its own boto3 clients needs (see
    ``environment()``); ``stop()`` puts every variable back as it was.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 5055,
        region: str = "us-east-1",
        *,
        export_environment: bool = True,
        install_bridge: bool = True,
        reset: bool = True,
    ) -> None:
        if not _is_loopback(host):
            raise ValueError(f"the embedded AWS binds loopback only, not {host!r}")
        self.host = host
        self.region = region
        self.account_id = DEFAULT_ACCOUNT_ID
        self._requested_port = port
        self._port: int | None = None
        self._export_environment = export_environment
        self._install_bridge = install_bridge
        self._reset = reset
        self._server: Any = None
        self._saved_environ: dict[str, str | None] = {}
        self._saved_moto_config: dict[str, Any] = {}
        self._installed_bridge = False  # True only when this instance patched moto

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> EmbeddedAws:
        """Start the server and configure it; returns ``self``. Raises if already running."""
        global _running
        with _running_lock:
            if _running is not None:
                raise RuntimeError(
                    "an EmbeddedAws is already running in this process (moto's state is per process)"
                )
            _running = self
        try:
            self._start()
        except BaseException:
            self._teardown()
            raise
        return self

    def _start(self) -> None:
        from devstack.aws.moto_fixes import back_up_each_table_once

        back_up_each_table_once()
        server_class = _moto_server_class()
        server = server_class(ip_address=self.host, port=self._requested_port, verbose=False)
        self._server = server
        server.start()
        if server.startup_error is not None:
            self._server = None
            raise OSError(
                f"the embedded AWS could not listen on {self.host}:{self._requested_port} "
                f"(port in use?): {server.startup_error!r}"
            )
        self._port = int(server.get_host_and_port()[1])

        # moto's Lambda and Step Functions code reads MOTO_PORT at call time to reach this server
        # (without it, Lambda tasks of state machines fail): export it before anything runs.
        self._export({"MOTO_PORT": str(self._port)})
        if self._export_environment:
            self._export(self.environment())
            # Environment credentials win over a profile, but botocore still fails when
            # AWS_PROFILE names a profile that does not exist here: hide it while we run.
            self._unset(_HIDDEN_VARIABLES)

        if self._reset:
            # A new devstack starts empty, as a new process would: the backends are module-level
            # and may hold a previous run's (or a previous test's) resources.
            self._post("/moto-api/reset", None)

        self._saved_moto_config = _current_moto_config()
        # Real executions of state machines instead of moto's canned SUCCEEDED; and moto's
        # "Docker" Lambda backend, whose _invoke_lambda the bridge replaces (the "simple" backend
        # would never call it).
        self._post(
            "/moto-api/config",
            {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": True}},
        )
        if self._install_bridge and not bridge.is_installed():
            bridge.install()
            self._installed_bridge = True
        logger.info("embedded AWS listening on %s", self.endpoint_url)

    def stop(self) -> None:
        """Stop the server and put the process back as it was (environment, moto config, bridge)."""
        if _running is not self:
            return
        self._teardown()

    def _teardown(self) -> None:
        global _running
        try:
            if self._server is not None:
                self._server.stop()
        finally:
            self._server = None
            if self._saved_moto_config:
                # In-process: the config is module state shared with later moto.mock_aws users.
                from moto.core.config import default_user_config

                for key, value in self._saved_moto_config.items():
                    default_user_config[key] = value  # type: ignore[literal-required]
                self._saved_moto_config = {}
            if self._installed_bridge:
                bridge.uninstall()
                self._installed_bridge = False
            self._restore_environ()
            with _running_lock:
                if _running is self:
                    _running = None

    def __enter__(self) -> EmbeddedAws:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- addresses -----------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The port the server listens on (the picked one when constructed with ``port=0``)."""
        if self._port is None:
            raise RuntimeError("EmbeddedAws is not started")
        return self._port

    @property
    def endpoint_url(self) -> str:
        """``http://127.0.0.1:<port>``: the endpoint for every service."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def running(self) -> bool:
        """Whether the server is up."""
        return self._server is not None

    def environment(self) -> dict[str, str]:
        """The variables a process (or a child process) needs to use this embedded AWS.

        ``AWS_ENDPOINT_URL`` makes every boto3 client without an explicit endpoint (Powertools'
        idempotency layer, for one) talk to moto; ``MATTERLINE_AWS_ENDPOINT_URL`` is the same for
        chalicelib's settings; the fake credentials make sure nothing can reach real AWS.
        """
        no_proxy = [h for h in os.environ.get("NO_PROXY", os.environ.get("no_proxy", "")).split(",") if h]
        no_proxy += [h for h in ("127.0.0.1", "localhost") if h not in no_proxy]
        return {
            "MOTO_PORT": str(self.port),
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "MATTERLINE_AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
            "AWS_ACCESS_KEY_ID": _FAKE_ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": _FAKE_SECRET_KEY,
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            "MATTERLINE_REGION": self.region,
            # botocore honours proxies from the environment; the embedded AWS must never be proxied.
            "NO_PROXY": ",".join(no_proxy),
            "no_proxy": ",".join(no_proxy),
        }

    # -- clients -------------------------------------------------------------------------------

    def client(self, service: str, **kwargs: Any) -> Any:
        """A boto3 client for ``service`` pointed at this server (independent of os.environ)."""
        return boto3.session.Session().client(service, **self._client_kwargs(kwargs))

    def resource(self, service: str, **kwargs: Any) -> Any:
        """A boto3 resource for ``service`` pointed at this server."""
        return boto3.session.Session().resource(service, **self._client_kwargs(kwargs))

    def _client_kwargs(self, extra: Mapping[str, Any]) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "endpoint_url": self.endpoint_url,
            "region_name": self.region,
            "aws_access_key_id": _FAKE_ACCESS_KEY,
            "aws_secret_access_key": _FAKE_SECRET_KEY,
            "config": Config(account_id_endpoint_mode="disabled", retries={"max_attempts": 2}),
        }
        kwargs.update(extra)
        return kwargs

    # -- internals -----------------------------------------------------------------------------

    def _post(self, path: str, body: Any) -> None:
        data = json.dumps(body).encode("utf-8") if body is not None else b""
        request = urllib.request.Request(self.endpoint_url + path, data=data, method="POST")
        request.add_header("Content-Type", "application/json")
        # No proxy: the server is on loopback, and a proxy from the environment must not see it.
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(request, timeout=30) as response:
            response.read()

    def _export(self, variables: Mapping[str, str]) -> None:
        for name, value in variables.items():
            if name not in self._saved_environ:
                self._saved_environ[name] = os.environ.get(name)
            os.environ[name] = value

    def _unset(self, names: tuple[str, ...]) -> None:
        for name in names:
            if name in os.environ:
                self._saved_environ.setdefault(name, os.environ[name])
                del os.environ[name]

    def _restore_environ(self) -> None:
        for name, value in self._saved_environ.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_environ = {}


def _current_moto_config() -> dict[str, Any]:
    from moto.core.config import default_user_config

    return {key: copy.deepcopy(default_user_config[key]) for key in ("stepfunctions", "lambda")}
