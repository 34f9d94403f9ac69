"""The devstack's web server: the add-in and console as static files, their config, and the devstack's
own pages (sent-email outbox, schedules fired on demand)."""

from __future__ import annotations

import html
import json
import mimetypes
import threading
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from devstack.schedules import Scheduler


class WebServer:
    """Serves ``addin/`` and the devstack pages on loopback."""

    def __init__(
        self,
        root: Path,
        *,
        port: int,
        config: dict[str, Any],
        scheduler: Scheduler,
        outbox: Callable[[], list[dict[str, Any]]],
        host: str = "127.0.0.1",
        outbox_file: Callable[[str], Path | None] | None = None,
    ) -> None:
        self.root = root.resolve()
        self.config = config
        self.scheduler = scheduler
        self.outbox = outbox
        # Finds a saved .eml by file name (devstack.outbox.OutboxArchive.path_of).
        self.outbox_file = outbox_file
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server._get(self)

            def do_POST(self) -> None:
                server._post(self)

            def log_message(self, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer((host, port), Handler)
        self.port = self._httpd.server_address[1]
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://localhost:{self.port}"

    def start(self) -> None:
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="devstack-web", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    # -- routes ------------------------------------------------------------------------------------

    def _get(self, request: BaseHTTPRequestHandler) -> None:
        path = urlsplit(request.path).path
        if path == "/":
            return _redirect(request, "/console/")
        if path == "/config.json":
            return _json(request, self.config)
        if path == "/devstack/outbox.json":
            return _json(request, self.outbox())
        if path.startswith("/devstack/outbox/") and path.endswith(".eml") and self.outbox_file:
            found = self.outbox_file(path.rsplit("/", 1)[-1])
            if found is None:
                return _send(request, HTTPStatus.NOT_FOUND, b"not found", "text/plain")
            return _send(request, HTTPStatus.OK, found.read_bytes(), "message/rfc822")
        if path == "/devstack/schedules.json":
            return _json(request, self._schedules())
        if path in {"/devstack", "/devstack/"}:
            return _send(request, HTTPStatus.OK, self._devstack_page().encode(), "text/html; charset=utf-8")
        if path in {"/manifest.xml", "/manifest.json"}:
            return self._manifest(request, path)
        if path in {"/devstack/outlook", "/devstack/outlook/"}:
            # The Office stand-in: a fake Outlook that frames the task pane beside a reading pane.
            return self._static(request, "/officejs-standin/outlook.html")
        return self._static(request, path)

    def _manifest(self, request: BaseHTTPRequestHandler, path: str) -> None:
        from devstack.addin_manifest import DEFAULT_CLIENT_ID, AddinHost, manifest_json, manifest_xml

        scope = str(self.config.get("apiScope", ""))
        host = AddinHost(
            base_url=self.base_url,
            client_id=str(self.config.get("clientId") or DEFAULT_CLIENT_ID),
            # The API's Application ID URI is the scope without its last segment (api://matterline).
            api_resource=scope.rsplit("/", 1)[0] if "/" in scope.removeprefix("api://") else "",
        )
        if path.endswith(".xml"):
            return _send(
                request, HTTPStatus.OK, manifest_xml(host).encode(), "application/xml; charset=utf-8"
            )
        return _json(request, manifest_json(host))

    def _post(self, request: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(request.path).path.strip("/").split("/")
        if len(parts) == 4 and parts[:2] == ["devstack", "schedules"] and parts[3] == "fire":
            name = parts[2]
            if name not in self.scheduler.schedules:
                return _json(request, {"error": f"no schedule named '{name}'"}, HTTPStatus.NOT_FOUND)
            # The page's "Run now" form comes back to the page, which shows the outcome in its table.
            from_page = "text/html" in request.headers.get("Accept", "")
            try:
                result = self.scheduler.fire(name)
            except Exception as error:  # reported to whoever fired it by hand
                if from_page:
                    return _redirect(request, "/devstack/")
                return _json(request, {"error": f"{type(error).__name__}: {error}"}, HTTPStatus.BAD_GATEWAY)
            if from_page:
                return _redirect(request, "/devstack/")
            return _json(request, {"schedule": name, "result": result})
        return _json(request, {"error": "not found"}, HTTPStatus.NOT_FOUND)

    def _schedules(self) -> list[dict[str, Any]]:
        return [
            {
                "name": s.name,
                "cron": s.expression,
                "last_run": s.last_run.isoformat() if s.last_run else None,
                "last_result": s.last_result,
                "last_error": s.last_error,
            }
            for s in self.scheduler.schedules.values()
        ]

    def _static(self, request: BaseHTTPRequestHandler, path: str) -> None:
        target = (self.root / path.lstrip("/")).resolve()
        if self.root not in target.parents and target != self.root:
            return _send(request, HTTPStatus.NOT_FOUND, b"not found", "text/plain")
        if target.is_dir():
            if not path.endswith("/"):
                return _redirect(request, path + "/")
            target = target / "index.html"
        if not target.is_file():
            return _send(request, HTTPStatus.NOT_FOUND, b"not found", "text/plain")
        content_type = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        if target.suffix == ".js":
            content_type = "text/javascript"
        return _send(request, HTTPStatus.OK, target.read_bytes(), content_type)

    def _devstack_page(self) -> str:
        schedules = "".join(
            f"<tr><td>{html.escape(s['name'])}</td><td><code>{html.escape(s['cron'])}</code></td>"
            f"<td>{html.escape(s['last_run'] or 'never')}</td><td>{html.escape(s['last_error'] or '')}</td>"
            f"<td><form method='post' action='/devstack/schedules/{html.escape(s['name'])}/fire'>"
            "<button>Run now</button></form></td></tr>"
            for s in self._schedules()
        )
        mails = (
            "".join(
                f"<tr><td>{html.escape(m.get('sent_at') or '')}</td>"
                f"<td>{html.escape(', '.join(m.get('to') or []))}</td>"
                f"<td>{html.escape(m.get('subject') or '')}</td>"
                + (
                    f"<td><a href='{html.escape(m['eml'])}'>.eml</a></td></tr>"
                    if m.get("eml")
                    else "<td></td></tr>"
                )
                for m in self.outbox()
            )
            or "<tr><td colspan='4' class='muted'>No email sent yet.</td></tr>"
        )
        return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Matterline devstack</title><link rel="stylesheet" href="/shared/styles.css"></head>
<body><header class="bar"><h1>Matterline devstack</h1></header><main>
<section class="card"><h2>Schedules</h2><table><thead><tr><th>Name</th><th>Cron (UTC)</th><th>Last run</th>
<th>Last error</th><th></th></tr></thead><tbody>{schedules}</tbody></table></section>
<section class="card"><h2>Outbox (email sent through SES; JSON at /devstack/outbox.json)</h2><table><thead>
<tr><th>Sent</th><th>To</th><th>Subject</th><th></th></tr></thead><tbody>{mails}</tbody></table></section></main></body></html>"""


def _send(request: BaseHTTPRequestHandler, status: HTTPStatus, body: bytes, content_type: str) -> None:
    request.send_response(status)
    request.send_header("Content-Type", content_type)
    request.send_header("Content-Length", str(len(body)))
    request.send_header("Cache-Control", "no-store")
    request.end_headers()
    request.wfile.write(body)


def _json(request: BaseHTTPRequestHandler, value: Any, status: HTTPStatus = HTTPStatus.OK) -> None:
    _send(request, status, json.dumps(value, default=str).encode(), "application/json")


def _redirect(request: BaseHTTPRequestHandler, location: str) -> None:
    request.send_response(HTTPStatus.FOUND)
    request.send_header("Location", location)
    request.send_header("Content-Length", "0")
    request.end_headers()
