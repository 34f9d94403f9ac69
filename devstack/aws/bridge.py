"""The Lambda bridge: moto's Lambda functions run the real handlers, in this process.

Without Docker, moto 5.2.5 funnels every Lambda invocation through one private method,
``moto.awslambda.models.LambdaFunction._invoke_lambda(self, event) -> (payload, errored, logs)``:

* a direct ``lambda.invoke`` (``LambdaFunction.invoke`` parses the JSON body, then calls it);
* a Step Functions ``Task`` state whose ``Resource`` is a function ARN (moto's interpreter calls
  ``lambda.invoke`` over HTTP against the embedded server, which lands in the same method);
* SQS and DynamoDB-stream event source mappings (moto calls ``invoke`` synchronously, inside the
  ``SendMessage`` / ``PutItem`` request that produced the record).

Patching that one method is therefore the whole bridge: it imports the function's ``Handler``
(``module.attr``, e.g. ``lambdas.housekeeping.handler`` or chalice's ``app.app``) and calls it
with the event and a ``LambdaContext``-like object. moto is pinned exactly (pyproject.toml) because
this is a private method; ``install`` checks its signature and refuses to patch anything else.

What differs from real Lambda, on purpose or by necessity:

* one process, one interpreter: module state survives between invocations (like a warm Lambda
  container that is never recycled) and handlers of different functions share ``sys.modules``;
* the function's ``Timeout`` is not enforced (a thread cannot be killed); an invocation that
  overruns it is logged as a warning, and ``get_remaining_time_in_millis`` goes negative;
* ``InvocationType=Event`` still runs synchronously (moto itself does that);
* the ``AWS_LAMBDA_*`` runtime variables are not set (see ``_EnvironmentOverlay``);
* the tail log returned to callers (``LogType=Tail``) holds the START/END/REPORT lines and what
  the handler logged through ``logging`` *in the invoking thread* (records of loggers that do not
  propagate to the root logger are not captured).
"""

from __future__ import annotations

import importlib
import inspect
import json
import logging
import os
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "LambdaContext",
    "install",
    "installed",
    "invoke_handler",
    "is_installed",
    "resolve_handler",
    "uninstall",
]

logger = logging.getLogger(__name__)

_patch_lock = threading.Lock()
_original_invoke_lambda: Callable[..., tuple[str, bool, str]] | None = None


# --------------------------------------------------------------------------------------------
# The context object
# --------------------------------------------------------------------------------------------


@dataclass
class LambdaContext:
    """What a handler gets as ``context``: the attributes of AWS Lambda's Python context object.

    Powertools (``Logger.inject_lambda_context``) and chalice read ``function_name``,
    ``memory_limit_in_mb``, ``invoked_function_arn`` and ``aws_request_id`` from it.
    """

    function_name: str
    function_version: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    aws_request_id: str
    log_group_name: str
    log_stream_name: str
    timeout_seconds: float
    identity: Any = None
    client_context: Any = None
    _deadline: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        if not self._deadline:
            self._deadline = time.monotonic() + self.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the function's configured timeout (negative once overrun)."""
        return int((self._deadline - time.monotonic()) * 1000)


# --------------------------------------------------------------------------------------------
# The function's environment variables
# --------------------------------------------------------------------------------------------


class _EnvironmentOverlay:
    """Makes a function's ``Environment.Variables`` visible in ``os.environ`` during its call.

    ``os.environ`` belongs to the whole process, and invocations run concurrently (moto's server
    handles each request in its own thread). The simple answer, one lock held for the whole call,
    deadlocks as soon as a handler waits on another invocation - and they do, synchronously:

        handler A (holds the lock)        moto server thread
        ─────────────────────────         ──────────────────────────────────────────
        sqs.send_message(WorkQueue) ───▶  SendMessage → event source mapping
              (waits for the reply)       → _invoke_lambda(worker B) → wants the lock ✗ forever

    So the lock only guards *changes* to ``os.environ``, never the call itself: a variable is set
    when the first invocation that needs it starts, reference-counted while invocations that
    need it run, and restored to its previous value (or removed) when the last one ends.

    The trade-off: two functions that run *at the same time* with *different* values for the same
    variable see the later value (a warning is logged). Matterline's functions share one
    environment (the template's ``Globals``), so in practice values never differ. The Lambda
    runtime variables (``AWS_LAMBDA_FUNCTION_NAME``, ...) are not set for the same reason: they
    always differ between functions. A handler that needs its own name reads ``context``.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # variable -> [value we set, users, value before the first user (None = was unset)]
        self._active: dict[str, list[Any]] = {}

    @contextmanager
    def applied(self, variables: Mapping[str, str], function_name: str) -> Iterator[None]:
        names = [str(name) for name in variables]
        self._enter(variables, function_name)
        try:
            yield
        finally:
            self._leave(names)

    def _enter(self, variables: Mapping[str, str], function_name: str) -> None:
        with self._lock:
            for name, raw in variables.items():
                value = str(raw)
                entry = self._active.get(name)
                if entry is None:
                    self._active[name] = [value, 1, os.environ.get(name)]
                else:
                    if entry[0] != value:
                        logger.warning(
                            "Lambda %s sets %s while a concurrent invocation uses another value; "
                            "the later value wins until both finish",
                            function_name,
                            name,
                        )
                        entry[0] = value
                    entry[1] += 1
                os.environ[name] = value

    def _leave(self, names: list[str]) -> None:
        with self._lock:
            for name in names:
                entry = self._active[name]
                entry[1] -= 1
                if entry[1] == 0:
                    del self._active[name]
                    if entry[2] is None:
                        os.environ.pop(name, None)
                    else:
                        os.environ[name] = entry[2]


_environment = _EnvironmentOverlay()


# --------------------------------------------------------------------------------------------
# Log capture (the tail log of an invocation)
# --------------------------------------------------------------------------------------------


class _ThreadLogCapture(logging.Handler):
    """Collects the log records emitted by one thread while an invocation runs."""

    def __init__(self) -> None:
        super().__init__(level=logging.NOTSET)
        self._thread_id = threading.get_ident()
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("[%(levelname)s] %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self._thread_id:
            try:
                self.lines.append(self.format(record))
            except Exception:  # pragma: no cover - a broken record must not break the call
                self.handleError(record)


@contextmanager
def _captured_logs() -> Iterator[_ThreadLogCapture]:
    capture = _ThreadLogCapture()
    root = logging.getLogger()
    root.addHandler(capture)
    try:
        yield capture
    finally:
        root.removeHandler(capture)


# --------------------------------------------------------------------------------------------
# Handlers
# --------------------------------------------------------------------------------------------


class _HandlerError(Exception):
    """The handler could not be loaded; ``error_type`` is Lambda's name for why."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type


def resolve_handler(handler: str) -> Callable[[Any, Any], Any]:
    """Import ``module.attr`` (a Lambda ``Handler`` setting) and return the callable.

    Raises ``ValueError`` for a malformed name, ``ImportError`` / ``AttributeError`` otherwise.
    Modules are imported once (``sys.modules``), like a warm Lambda container.
    """
    module_name, dot, attribute = handler.rpartition(".")
    if not dot or not module_name or not attribute:
        raise ValueError(f"Bad handler {handler!r}: expected 'module.function'")
    module = importlib.import_module(module_name)
    target = getattr(module, attribute)
    if not callable(target):
        raise TypeError(f"Handler {handler!r} is not callable")
    return target


def _load(handler: str) -> Callable[[Any, Any], Any]:
    try:
        return resolve_handler(handler)
    except ImportError as exc:
        raise _HandlerError(
            "Runtime.ImportModuleError", f"Unable to import module {handler!r}: {exc}"
        ) from exc
    except (AttributeError, TypeError, ValueError) as exc:
        raise _HandlerError(
            "Runtime.HandlerNotFound", f"Handler {handler!r} missing or invalid: {exc}"
        ) from exc


def _event_from_moto(event: Any) -> Any:
    """The event as the handler should see it.

    ``LambdaFunction.invoke`` has already parsed the request body as JSON, except that an empty
    body arrives as the *string* ``"{}"``; bytes are decoded defensively. Any other string is a
    legitimate JSON-string payload and is passed on as it is.
    """
    if event is None or event == "{}":
        return {}
    if isinstance(event, bytes | bytearray):
        text = bytes(event).decode("utf-8")
        return json.loads(text) if text.strip() else {}
    return event


def _error_payload(error_type: str, message: str, request_id: str, tb: Any = None) -> dict[str, Any]:
    """Lambda's error shape for the Python runtime."""
    stack = traceback.format_list(traceback.extract_tb(tb)) if tb is not None else []
    return {"errorMessage": message, "errorType": error_type, "requestId": request_id, "stackTrace": stack}


def invoke_handler(
    *,
    handler: str,
    event: Any,
    function_name: str,
    function_arn: str = "",
    environment: Mapping[str, str] | None = None,
    memory_mb: int = 128,
    timeout_seconds: float = 3.0,
    version: str = "$LATEST",
) -> tuple[str, bool, str]:
    """Run one handler in-process and return ``(payload JSON, errored, tail log)``.

    This is the body of the patched ``_invoke_lambda``; it is public so the devstack can run a
    handler the same way without going through moto (e.g. a schedule fired by hand).
    """
    request_id = str(uuid.uuid4())
    started = time.monotonic()
    now = datetime.now(UTC)
    context = LambdaContext(
        function_name=function_name,
        function_version=version,
        invoked_function_arn=function_arn,
        memory_limit_in_mb=int(memory_mb),
        aws_request_id=request_id,
        log_group_name=f"/aws/lambda/{function_name}",
        log_stream_name=f"{now:%Y/%m/%d}/[{version}]{request_id.replace('-', '')}",
        timeout_seconds=float(timeout_seconds),
    )
    errored = False
    with _captured_logs() as capture:
        try:
            target = _load(handler)
            with _environment.applied(environment or {}, function_name):
                result = target(_event_from_moto(event), context)
            try:
                payload = json.dumps(result)
            except (TypeError, ValueError) as exc:
                errored = True
                payload = json.dumps(
                    _error_payload("Runtime.MarshalError", f"Unable to marshal response: {exc}", request_id)
                )
        except _HandlerError as exc:
            errored = True
            payload = json.dumps(_error_payload(exc.error_type, str(exc), request_id))
            logger.error("Lambda %s (%s): %s", function_name, handler, exc)
        except Exception as exc:
            errored = True
            payload = json.dumps(_error_payload(type(exc).__name__, str(exc), request_id, exc.__traceback__))
            logger.error(
                "Lambda %s (%s) raised %s: %s", function_name, handler, type(exc).__name__, exc, exc_info=True
            )

    elapsed_ms = (time.monotonic() - started) * 1000
    if elapsed_ms > timeout_seconds * 1000:
        logger.warning(
            "Lambda %s ran %.0f ms, over its %s s timeout (not enforced in the devstack)",
            function_name,
            elapsed_ms,
            timeout_seconds,
        )
    log_lines = [
        f"START RequestId: {request_id} Version: {version}",
        *capture.lines,
        f"END RequestId: {request_id}",
        f"REPORT RequestId: {request_id}\tDuration: {elapsed_ms:.2f} ms\tMemory Size: {int(memory_mb)} MB",
    ]
    return payload, errored, "\n".join(log_lines)


# --------------------------------------------------------------------------------------------
# The patch
# --------------------------------------------------------------------------------------------


def _bridged_invoke_lambda(self: Any, event: Any = None) -> tuple[str, bool, str]:
    """Replacement for ``LambdaFunction._invoke_lambda``: run the function's handler here."""
    payload, errored, logs = invoke_handler(
        handler=str(self.handler or ""),
        event=event,
        function_name=str(self.function_name),
        function_arn=str(self.function_arn),
        environment=dict(self.environment_vars or {}),
        memory_mb=int(self.memory_size or 128),
        timeout_seconds=float(self.timeout or 3),
        version=str(self.version),
    )
    # Like moto's Docker path: the output goes to the function's CloudWatch log group too.
    try:
        self.logs_backend.ensure_log_group(self.logs_group_name)
        self.save_logs(logs)
    except Exception:  # pragma: no cover - logs are a convenience, the invocation stands
        logger.debug("could not store the logs of %s", self.function_name, exc_info=True)
    return payload, errored, logs


def install() -> None:
    """Patch moto so that Lambda invocations run handlers in-process. Idempotent."""
    global _original_invoke_lambda
    from moto.awslambda.models import LambdaFunction

    with _patch_lock:
        if _original_invoke_lambda is not None:
            return
        original = LambdaFunction.__dict__.get("_invoke_lambda")
        if original is None or list(inspect.signature(original).parameters) != ["self", "event"]:
            raise RuntimeError(
                "moto's LambdaFunction._invoke_lambda(self, event) is not what the bridge expects; "
                "moto must stay pinned to the version the bridge was written for (5.2.5)"
            )
        _original_invoke_lambda = original
        LambdaFunction._invoke_lambda = _bridged_invoke_lambda  # type: ignore[method-assign]


def uninstall() -> None:
    """Put moto's own ``_invoke_lambda`` back. Idempotent."""
    global _original_invoke_lambda
    from moto.awslambda.models import LambdaFunction

    with _patch_lock:
        if _original_invoke_lambda is None:
            return
        LambdaFunction._invoke_lambda = _original_invoke_lambda  # type: ignore[method-assign]
        _original_invoke_lambda = None


def is_installed() -> bool:
    """Whether the bridge is currently patched into moto."""
    return _original_invoke_lambda is not None


@contextmanager
def installed() -> Iterator[None]:
    """The bridge for the duration of a ``with`` block (uninstalled after, unless it was already)."""
    already = is_installed()
    install()
    try:
        yield
    finally:
        if not already:
            uninstall()
