"""Schemathesis against the live API: every operation in ``/openapi.json``, as the firm admin.

The real app is served over real HTTP by Chalice's local gateway (authorizer included), wired the way
``build_api`` wires it (in-memory table, manual clock, token mint, KMS and S3 on the session's moto
server). The schema is loaded from the running server, so what is fuzzed is what clients download.

    schemathesis engine ──HTTP──▶ LocalDevServer (127.0.0.1:0) ──▶ app.py ──▶ services ──▶ memory table
            ▲                                                        │                     moto (KMS, S3)
            └──────────────── GET /openapi.json ◀────────────────────┘

This is what ``schemathesis run`` does (the same engine, phases and checks), driven from pytest: the
examples, coverage and fuzzing phases, positive and negative inputs. Every response must not be a 5xx,
must use a status code the spec declares, and must match the declared media type and schema. Generation
is seeded and derandomized: every run sends the same requests, but for the ids the app mints for the
seeded records.

Why the engine and not ``schemathesis.pytest.from_fixture``: with pytest 9.2 that integration fails
before sending a request (it rewrites ``request.node._nodeid``, which pytest 9.2 no longer has).
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import schemathesis
from schemathesis.engine import Status, events
from schemathesis.engine import from_schema as schemathesis_engine

from chalicelib.domain.identity import Role
from devstack.gateway import NoDelayRequestHandler

if TYPE_CHECKING:
    from tests.support.api import ApiHarness, SeededFirm

ROOT = Path(__file__).resolve().parents[2]

# Fixed so CI replays the same requests; change it locally to explore other inputs.
FUZZ_SEED = 20260309
# Per operation, for the fuzzing phase; the examples and coverage phases add their own finite sets.
MAX_EXAMPLES = 25
# Body fields that name a record (or its version): drawn half the time from records that exist.
BODY_FIELDS_WITH_KNOWN_VALUES = ("client_id", "matter_id", "event_id", "version")
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
)


@dataclass(frozen=True)
class ServedApi:
    """The app on a loopback port, a bearer token for the seeded firm's admin, and ids that exist."""

    base_url: str
    admin_token: str
    known_values: dict[str, list[str | int]]


@dataclass
class FuzzReport:
    """What one schemathesis run saw: requests per operation, and every distinct failure."""

    requests: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    phases: Counter[str] = field(default_factory=Counter)
    failures: dict[tuple[str, str, str], str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def record(self, recorder: Any) -> None:
        """Count a finished scenario's requests and keep the first example of each failure."""
        self.requests[recorder.label] += len(recorder.interactions)
        self.statuses.update(
            interaction.response.status_code
            for interaction in recorder.interactions.values()
            if interaction.response is not None
        )
        for checks in recorder.checks.values():
            for check in checks:
                if check.status != Status.FAILURE or check.failure_info is None:
                    continue
                failure = check.failure_info.failure
                status = getattr(failure, "status_code", "")
                key = (recorder.label, check.name, f"{failure.title} {status}".strip())
                self.failures.setdefault(
                    key, f"{failure.message}\n    reproduce: {check.failure_info.code_sample}"
                )

    def describe(self) -> str:
        """Readable enough to fix from: operation, check, what broke, and a curl line."""
        lines = [f"{len(self.failures)} failures, {len(self.errors)} errors"]
        for (label, check, title), detail in sorted(self.failures.items()):
            lines.append(f"- {label} [{check}] {title}\n    {detail}")
        lines.extend(f"- error: {error}" for error in self.errors)
        return "\n".join(lines)


@pytest.fixture(scope="module")
def served_api(token_mint: Any, aws_endpoint: str) -> Iterator[ServedApi]:
    from chalice.config import Config
    from chalice.local import LocalDevServer

    from app import app
    from chalicelib.adapters.persistence.memory_table import MemoryTable
    from chalicelib.bootstrap import use_container
    from tests.support.api import build_api, seed_firm
    from tests.support.clock import ManualClock

    # build_api wires the container and installs the API Gateway 401 translation; its in-process client
    # is not used: the app is served over HTTP below, as the devstack serves it.
    harness = build_api(MemoryTable(), ManualClock(), token_mint, aws_endpoint)
    seeded = seed_firm(harness.container, "Lovelace & Babbage LLP", "tenant-fuzz", "lovelace.law")
    admin_token = harness.token_for(seeded, Role.FIRM_ADMIN)
    known_values = seed_records(harness, seeded, admin_token)
    config = Config.create(
        chalice_stage="local",
        app_name="matterline",
        project_dir=str(ROOT),
        config_from_disk=json.loads((ROOT / ".chalice" / "config.json").read_text()),
    )
    server = LocalDevServer(app, config, "127.0.0.1", 0, handler_cls=NoDelayRequestHandler)
    port = server.server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, name="fuzzed-api", daemon=True)
    thread.start()
    try:
        yield ServedApi(f"http://127.0.0.1:{port}", admin_token, known_values)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        use_container(None)


def seed_records(harness: ApiHarness, seeded: SeededFirm, admin_token: str) -> dict[str, list[str | int]]:
    """Records for the fuzzer to find, so that not every id it sends is a 404: a client, a matter, a
    contact, an activity type, the admin's captured items (one entry released), an export, an API
    token and an import job. Returns, per parameter name, values that exist."""

    def call(method: str, path: str, body: Any) -> Any:
        reply = harness.call(method, path, token=admin_token, body=body)
        assert reply.status < 300, f"{method} {path}: {reply.text}"
        return reply.body

    for number, subject in enumerate(("Disclosure schedule", "Board minutes"), start=1):
        capture = {
            "id": f"seed-{number}",
            "type": "read",
            "at": f"2026-03-09T1{number}:00:00Z",
            "internet_message_id": f"<seed-{number}@lovelace.law>",
            "subject": subject,
        }
        call("POST", "/capture", capture)
    client = call("POST", "/clients", {"name": "Analytical Engines Ltd", "domains": ["engines.example"]})
    matter = call(
        "POST",
        "/matters",
        {"number": "2026-0001", "name": "Engines v Mill", "client_id": client["client_id"]},
    )
    contact = call(
        "POST",
        "/contacts",
        {"name": "Ada Byron", "emails": ["ada@engines.example"], "client_id": client["client_id"]},
    )
    activity = call("PUT", "/activity-types/REVIEW", {"name": "Review", "utbms_task": "L120"})
    entries = call("GET", "/timeline?date=2026-03-09", None)["entries"]
    first = entries[0]
    assigned = call(
        "PATCH",
        f"/entries/{first['entry_id']}",
        {"version": first["version"], "matter_id": matter["matter_id"]},
    )
    call("POST", f"/entries/{first['entry_id']}/release", {"version": assigned["version"]})
    export = call("POST", "/exports", {"format": "csv", "first_day": "2026-03-09", "last_day": "2026-03-09"})
    token = call("POST", "/api-tokens", {"name": "Billing system", "scopes": ["billing:export"]})
    call("POST", "/imports/clients", {"csv": "external_id,name\nX-1,Difference Co\n", "job_id": "seed-job-1"})
    users = [user.user_id for user in seeded.people.values()]
    return {
        "user_id": users,
        "client_id": [client["client_id"]],
        "matter_id": [matter["matter_id"]],
        "contact_id": [contact["contact_id"]],
        "code": [activity["code"]],
        "entry_id": [entry["entry_id"] for entry in entries],
        "event_id": [event_id for entry in entries for event_id in entry["event_ids"]],
        "export_id": [export["export_id"]],
        "token_id": [token["token"]["token_id"]],
        "job_id": ["seed-job-1"],
        "kind": ["clients", "matters", "contacts", "roster"],
        "system": ["clio", "actionstep"],
        "entity_type": ["user", "client", "matter", "contact", "entry"],
        "entity_id": [*users, client["client_id"], matter["matter_id"], contact["contact_id"]],
        # Records are young: small versions are the ones that are current.
        "version": [0, 1, 2, 3],
    }


def load_schema(served: ServedApi) -> Any:
    """The spec as the running server serves it, with the run's configuration."""
    config = schemathesis.Config.from_dict(
        {
            "seed": FUZZ_SEED,
            "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none"},
            # Stateful sequences follow links between operations; the spec declares none.
            "phases": {
                "stateful": {"enabled": False},
                # TRACE and QUERY never reach the app: API Gateway does not route them, and the local
                # gateway's http.server answers 501 itself. Every method the gateway routes is tried.
                "coverage": {"unexpected-methods": ["GET", "PUT", "POST", "DELETE", "OPTIONS", "PATCH"]},
            },
            "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
            # Half the time a path parameter (or a body's id or version) is one that exists, so requests
            # reach past the lookup into the handler and replies carry real records to check.
            "dictionaries": {name: {"values": values} for name, values in served.known_values.items()},
            "parameters": {
                **{
                    f"path.{name}": {"dictionary": name, "probability": 0.5}
                    for name in served.known_values
                    if name != "version"
                },
                **{
                    f"body.{name}": {"dictionary": name, "probability": 0.5}
                    for name in BODY_FIELDS_WITH_KNOWN_VALUES
                },
            },
            "auth": {"openapi": {"bearer": {"bearer": served.admin_token}}},
        }
    )
    return schemathesis.openapi.from_url(f"{served.base_url}/openapi.json", config=config)


def run_schemathesis(schema: Any) -> FuzzReport:
    """Run every phase over every operation and collect what it found."""
    report = FuzzReport()
    for event in schemathesis_engine(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            report.record(event.recorder)
            report.phases[event.phase.value] += len(event.recorder.interactions)
        elif isinstance(event, events.NonFatalError):
            report.errors.append(f"{event.label}: {event.info.title}: {event.info.message}")
        elif isinstance(event, events.FatalError):
            report.errors.append(f"fatal: {event.exception!r}")
    return report


def test_no_operation_answers_a_server_error_or_breaks_its_documented_contract(served_api: ServedApi) -> None:
    schema = load_schema(served_api)
    documented = {operation.ok().label for operation in schema.get_all_operations()}

    report = run_schemathesis(schema)

    print(
        f"\nschemathesis: {len(report.requests)} of {len(documented)} operations, "
        f"{sum(report.requests.values())} requests, {len(report.failures)} failures; "
        f"statuses {dict(sorted(report.statuses.items()))}, phases {dict(report.phases)}",
        flush=True,
    )
    assert not report.failures and not report.errors, report.describe()
    assert set(report.requests) == documented


def test_a_matter_change_that_sends_null_for_a_kept_field_is_refused_naming_the_field(
    served_api: ServedApi,
) -> None:
    # Found by this run: {"contact_ids": null} reached the matter and answered 500.
    import requests

    headers = {"Authorization": f"Bearer {served_api.admin_token}"}
    matter = requests.post(
        f"{served_api.base_url}/matters",
        headers=headers,
        json={
            "number": "2026-0042",
            "name": "Babbage v Lardner",
            "client_id": served_api.known_values["client_id"][0],
        },
        timeout=10,
    ).json()
    url = f"{served_api.base_url}/matters/{matter['matter_id']}"

    refused = requests.patch(
        url,
        headers=headers,
        json={"version": matter["version"], "contact_ids": None, "name": None},
        timeout=10,
    )
    cleared = requests.patch(
        url, headers=headers, json={"version": matter["version"], "responsible_user_id": None}, timeout=10
    )

    assert refused.status_code == 422
    assert refused.headers["Content-Type"] == "application/problem+json"
    assert {error["field"] for error in refused.json()["errors"]} == {"body.contact_ids", "body.name"}
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["name"] == matter["name"] and cleared.json()["contact_ids"] == matter["contact_ids"]


def test_a_request_whose_content_length_is_not_a_number_gets_an_answer_not_a_dropped_connection(
    served_api: ServedApi,
) -> None:
    # Found by this run: Chalice's local gateway raised on the header and dropped the connection.
    import http.client
    from urllib.parse import urlsplit

    where = urlsplit(served_api.base_url)
    headers = {"Authorization": f"Bearer {served_api.admin_token}", "Content-Length": "Z$:oKl"}
    contact_id = served_api.known_values["contact_id"][0]
    answers = []
    for method, path in (("GET", f"/contacts/{contact_id}"), ("POST", "/clients")):
        connection = http.client.HTTPConnection(where.hostname or "127.0.0.1", where.port, timeout=10)
        connection.putrequest(method, path)
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.endheaders()
        answers.append(connection.getresponse().status)
        connection.close()

    assert answers == [200, 400], "the read is answered; the write is told it has no body"
