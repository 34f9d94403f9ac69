"""Microsoft 365 capture under test: the simulated tenant (Entra ID + Graph over TLS), the real app
served over HTTP (Graph's webhooks must reach it), and the real worker draining the work queue.

    GraphSimulator ──notifications (HTTP)──▶ LocalDevServer: app.py /webhooks/graph ──▶ MemoryWorkQueue
          ▲                                                                                  │ drain()
          └──── msal (client credentials) + requests: delta, $batch, subscriptions ◀── lambdas.mailbox_sync
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from pydantic import SecretStr

from chalicelib.adapters.microsoft.ews import EwsMailboxSource
from chalicelib.adapters.microsoft.gateway import GraphSettings, MicrosoftGateway
from chalicelib.adapters.persistence.mailboxes import TableMailboxRepository
from chalicelib.adapters.persistence.memory_table import MemoryTable
from chalicelib.adapters.persistence.timeline import TableTimelineRepository
from chalicelib.adapters.queues.memory import MemoryWorkQueue
from chalicelib.bootstrap import Container, build_container, use_container
from chalicelib.domain.capture import ActivityEvent, event_id_for
from chalicelib.domain.identity import Principal, Role
from chalicelib.domain.roster import User, UserStatus
from chalicelib.settings import Settings
from devstack.m365 import (
    EXCHANGE_RESOURCE,
    GRAPH_RESOURCE,
    AppRegistration,
    Directory,
    IdentityProvider,
    M365Server,
    Tenant,
    TlsMaterial,
    ensure_ca_and_server_cert,
)
from devstack.m365 import User as DirectoryUser
from devstack.m365.ews import register_ews_routes
from devstack.m365.graph import GraphSimulator
from devstack.m365.mailbox import Mailbox, MailboxStore, SimulatorClock
from devstack.m365.notifications import NotificationSettings
from tests.support.clock import ManualClock
from tests.support.tokens import AUDIENCE, TokenMint

ROOT = Path(__file__).resolve().parents[2]
TENANT_ID = "2f6c1e7a-5b3d-4c2e-9a1f-7d8e9f0a1b2c"
TENANT_DOMAIN = "lovelace.law"
APP_ID = "5e0c8a1d-2b3f-4e6a-8c7d-9e0f1a2b3c4d"
APP_SECRET = "graph-app-secret-for-tests"
APP_ID_URI = "api://matterline-capture"
CLIENT = "dana.reyes@northwind.example"


@dataclass(frozen=True)
class Person:
    user_id: str
    oid: str
    email: str
    name: str
    roles: frozenset[Role]


ALEX = Person(
    "alex",
    "9c1d2e3f-0001-4a5b-8c6d-000000000001",
    "alex@lovelace.law",
    "Alex Attorney",
    frozenset({Role.ATTORNEY}),
)
BLAKE = Person(
    "blake",
    "9c1d2e3f-0002-4a5b-8c6d-000000000002",
    "blake@lovelace.law",
    "Blake Barrister",
    frozenset({Role.ATTORNEY}),
)
FIONA = Person(
    "fiona",
    "9c1d2e3f-0003-4a5b-8c6d-000000000003",
    "fiona@lovelace.law",
    "Fiona Admin",
    frozenset({Role.FIRM_ADMIN}),
)
PEOPLE = (ALEX, BLAKE, FIONA)


@dataclass
class GraphTenant:
    """The simulated tenant: Entra ID, Graph, the mailboxes and the simulator's clock."""

    server: M365Server
    identity: IdentityProvider
    graph: GraphSimulator
    store: MailboxStore
    clock: SimulatorClock
    tls: TlsMaterial

    @property
    def base_url(self) -> str:
        return self.server.base_url

    @property
    def ca(self) -> str:
        return self.tls.ca_bundle

    def stop(self) -> None:
        self.graph.stop()
        self.server.stop()


def start_graph_tenant(state_dir: Path, *, delivery_backoff: float = 0.05) -> GraphTenant:
    """A tenant with the firm's people (each with a mailbox) and Matterline's confidential app, which
    holds the application permissions an admin consents to: Mail.Read and Calendars.Read."""
    tls = ensure_ca_and_server_cert(state_dir / "tls")
    app = AppRegistration(
        client_id=APP_ID,
        display_name="Matterline mailbox capture",
        client_secret=APP_SECRET,
        # Also an API, so the add-in's user token (audience: this app) can be exchanged on-behalf-of.
        app_id_uri=APP_ID_URI,
        scopes=("access_as_user",),
        api_permissions={
            GRAPH_RESOURCE: ("Mail.Read", "Calendars.Read"),
            EXCHANGE_RESOURCE: ("full_access_as_app",),
        },
    )
    users = [DirectoryUser(oid=p.oid, email=p.email, display_name=p.name) for p in PEOPLE]
    directory = Directory(
        [Tenant(TENANT_ID, "Lovelace & Babbage LLP", TENANT_DOMAIN, users=users, apps=[app])]
    )
    identity = IdentityProvider(directory, state_dir / "identity")
    server = M365Server(identity, port=0, tls=tls)
    clock = SimulatorClock()
    store = MailboxStore(clock.now)
    for person in PEOPLE:
        store.add_mailbox(
            Mailbox(
                user_id=person.oid,
                address=person.email,
                display_name=person.name,
                tenant_id=TENANT_ID,
                time_zone="America/New_York",
                settings_time_zone="Eastern Standard Time",
            )
        )
    graph = GraphSimulator(
        server,
        store,
        clock=clock,
        notification_settings=NotificationSettings(verify=tls.ca_bundle, retry_backoff=delivery_backoff),
    )
    register_ews_routes(server, store)  # the same mailboxes, for an on-premises (EWS) connection
    server.start()
    return GraphTenant(server=server, identity=identity, graph=graph, store=store, clock=clock, tls=tls)


class PlainSecretBox:
    """A ``SecretBox`` for tests: reversible, bound to the firm like the KMS one, not secret at all."""

    def seal(self, plaintext: bytes, firm_id: str) -> str:
        return base64.b64encode(firm_id.encode() + b"\0" + plaintext).decode()

    def open(self, sealed: str, firm_id: str) -> bytes:
        owner, _, plaintext = base64.b64decode(sealed).partition(b"\0")
        if owner.decode() != firm_id:
            raise ValueError("sealed for another firm")
        return plaintext


@dataclass
class FakeSleep:
    """Records the waits Graph asked for instead of waiting."""

    waits: list[float] = field(default_factory=list)

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@dataclass
class LambdaContextStub:
    function_name: str = "matterline-test-mailbox-sync"
    function_version: str = "$LATEST"
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:matterline-test-mailbox-sync"
    memory_limit_in_mb: int = 512
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "/aws/lambda/matterline-test-mailbox-sync"
    log_stream_name: str = "test"

    def get_remaining_time_in_millis(self) -> int:
        return 300_000


def sqs_event(bodies: list[dict[str, Any]]) -> dict[str, Any]:
    """An SQS event as Lambda delivers it to an event source mapping's function."""
    now_ms = str(int(time.time() * 1000))
    records = []
    for body in bodies:
        text = json.dumps(body)
        records.append(
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": uuid.uuid4().hex,
                "body": text,
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": now_ms,
                    "SenderId": "AIDAEXAMPLE",
                    "ApproximateFirstReceiveTimestamp": now_ms,
                },
                "messageAttributes": {},
                "md5OfBody": hashlib.md5(text.encode()).hexdigest(),  # SQS's own checksum, not security
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:matterline-test-work",
                "awsRegion": "us-east-1",
            }
        )
    return {"Records": records}


@dataclass
class CaptureHarness:
    """The product side: container, served API, work queue, and what the worker did."""

    tenant: GraphTenant
    container: Container
    table: MemoryTable
    clock: ManualClock
    queue: MemoryWorkQueue
    gateway: MicrosoftGateway
    sleep: FakeSleep
    api_base_url: str
    firm_id: str
    users: dict[str, User]
    failures: list[dict[str, Any]] = field(default_factory=list)
    jobs_run: list[dict[str, Any]] = field(default_factory=list)

    @property
    def service(self) -> Any:
        return self.container.mailbox_sync

    def advance(self, delta: timedelta) -> None:
        """Time passes for Matterline and for Microsoft 365 alike."""
        self.clock.advance(seconds=delta.total_seconds())
        self.tenant.graph.advance_clock(delta)

    def admin(self) -> Principal:
        return Principal(self.firm_id, FIONA.user_id, "user", frozenset({Role.FIRM_ADMIN}), email=FIONA.email)

    def drain(self, *, max_rounds: int = 50) -> list[dict[str, Any]]:
        """Run the worker over everything queued (and what it queues) until the queue is empty.
        A failed record goes back on the queue, as SQS redelivers it, at most three times."""
        from lambdas.mailbox_sync import handler

        ran: list[dict[str, Any]] = []
        attempts: dict[str, int] = {}
        for _ in range(max_rounds):
            messages = self.queue.take()
            if not messages:
                self.jobs_run.extend(ran)
                return ran
            for offset in range(0, len(messages), 10):
                chunk = messages[offset : offset + 10]
                event = sqs_event(chunk)
                try:
                    reply = handler(event, LambdaContextStub())
                    failed_ids = {item["itemIdentifier"] for item in reply.get("batchItemFailures", [])}
                except BatchProcessingError:
                    # Every record failed: Powertools raises, and SQS redelivers the whole batch.
                    failed_ids = {record["messageId"] for record in event["Records"]}
                for record, message in zip(event["Records"], chunk, strict=True):
                    if record["messageId"] in failed_ids:
                        key = json.dumps(message, sort_keys=True)
                        attempts[key] = attempts.get(key, 0) + 1
                        self.failures.append(message)
                        if attempts[key] < 3:
                            self.queue.send([message])
                    else:
                        ran.append(message)
        raise AssertionError("the work queue never drained")

    def deliver(self, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Let the simulator deliver its pending notifications, then run the worker."""
        assert self.tenant.graph.notifications.wait_until_idle(timeout), "notifications still pending"
        return self.drain()

    def connect(self, *users: Person) -> None:
        """Connect the tenant for ``users`` and run the worker (subscriptions, first syncs)."""
        from chalicelib.services.mailbox_sync import ConnectRequest

        self.service.connect(
            self.admin(),
            ConnectRequest(tenant_id=TENANT_ID, users=[(u.user_id, True, None) for u in users]),
        )
        self.deliver()

    def event(self, user: Person, key: str) -> ActivityEvent | None:
        return TableTimelineRepository(self.table, self.clock).get_event(
            self.firm_id, user.user_id, event_id_for(key)
        )

    def events(self, user: Person) -> list[ActivityEvent]:
        start = self.clock.now() - timedelta(days=60)
        end = self.clock.now() + timedelta(days=60)
        events, _ = TableTimelineRepository(self.table, self.clock).between(
            self.firm_id, user.user_id, start, end
        )
        return events

    def mailboxes(self) -> TableMailboxRepository:
        return TableMailboxRepository(self.table, self.clock)


@contextmanager
def capture_harness(
    tenant: GraphTenant, token_mint: TokenMint, *, page_size: int = 5, queue: Any = None
) -> Iterator[CaptureHarness]:
    """The real app served on a loopback port and wired to the simulated tenant."""
    from chalice.config import Config
    from chalice.local import LocalDevServer

    from app import app
    from devstack.gateway import install_unauthorized_translation
    from tests.support.api import RecordingWorkflows

    install_unauthorized_translation()
    config = Config.create(
        chalice_stage="local",
        app_name="matterline",
        project_dir=str(ROOT),
        config_from_disk=json.loads((ROOT / ".chalice" / "config.json").read_text()),
    )
    served = LocalDevServer(app, config, "127.0.0.1", 0)
    api_base_url = f"http://127.0.0.1:{served.server.server_address[1]}"
    settings = Settings(
        stage="test",
        identity_jwks_url=token_mint.jwks_url,
        identity_issuer_template=token_mint.issuer_template,
        identity_audience=AUDIENCE,
        identity_authority=tenant.base_url,
        graph_base_url=tenant.base_url,
        graph_ca_bundle=tenant.ca,
        graph_client_id=APP_ID,
        graph_client_secret=SecretStr(APP_SECRET),
        graph_page_size=page_size,
        api_base_url=api_base_url,
        subscription_lifetime_minutes=4200,
    )
    table = MemoryTable()
    clock = ManualClock(datetime.now(UTC).replace(microsecond=0))
    queue = queue if queue is not None else MemoryWorkQueue()
    sleep = FakeSleep()
    box = PlainSecretBox()
    mailboxes = TableMailboxRepository(table, clock)
    gateway = MicrosoftGateway(
        GraphSettings(
            graph_base_url=tenant.base_url,
            authority_base=tenant.base_url,
            default_client_id=APP_ID,
            default_client_secret=APP_SECRET,
            ca_bundle=tenant.ca,
            page_size=page_size,
        ),
        token_caches=mailboxes,
        secret_box=box,
        sleep=sleep,
        ews_factory=lambda connection, tokens, ca: EwsMailboxSource(
            connection.ews_endpoint or "",
            lambda: tokens.app_token(f"{EXCHANGE_RESOURCE}/.default"),
            ca_bundle=ca,
            forget_token=tokens.forget_access_tokens,
            sleep=sleep,
        ),
    )
    container = build_container(
        settings,
        table=table,
        clock=clock,
        workflows=RecordingWorkflows(),
        secrets=box,
        work_queue=queue,
        mailbox_gateway=gateway,
    )
    use_container(container)
    firm = container.roster.create_firm(
        name="Lovelace & Babbage LLP", tenant_id=TENANT_ID, time_zone="America/New_York", actor="system"
    )
    users = {}
    for person in PEOPLE:
        users[person.user_id] = container.roster.add_member(
            firm.firm_id,
            User(
                firm_id=firm.firm_id,
                user_id=person.user_id,
                email=person.email,
                display_name=person.name,
                roles=person.roles,
                status=UserStatus.ACTIVE,
                time_zone="America/New_York",
                identity_oid=person.oid,
                created_at=clock.now(),
            ),
            "system",
        )
    thread = threading.Thread(target=served.serve_forever, name="capture-api", daemon=True)
    thread.start()
    try:
        yield CaptureHarness(
            tenant=tenant,
            container=container,
            table=table,
            clock=clock,
            queue=queue,
            gateway=gateway,
            sleep=sleep,
            api_base_url=api_base_url,
            firm_id=firm.firm_id,
            users=users,
        )
    finally:
        served.shutdown()
        thread.join(timeout=10)
        use_container(None)
