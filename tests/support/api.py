"""The API under test: the real Chalice app through Chalice's local gateway (authorizer included),
wired to an in-memory table, a manual clock and a token mint serving real JWKS over HTTP."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from chalice.test import Client

from chalicelib.bootstrap import Container, build_container, use_container
from chalicelib.domain.identity import Role
from chalicelib.domain.roster import Firm, User, UserStatus
from chalicelib.settings import Settings
from devstack.gateway import install_unauthorized_translation
from tests.support.tokens import AUDIENCE, TokenMint


class RecordingWorkflows:
    """Remembers the workflows started, one per run name, like Step Functions."""

    def __init__(self) -> None:
        self.started: dict[str, tuple[str, dict[str, Any]]] = {}

    def start(self, workflow: str, run_name: str, payload: Any) -> str:
        self.started.setdefault(run_name, (workflow, dict(payload)))
        return f"arn:aws:states:us-east-1:123456789012:execution:{workflow}:{run_name}"


@dataclass
class SeededFirm:
    """A firm with one person per role, each already bound to an Entra identity."""

    firm: Firm
    tenant: str
    people: dict[Role, User] = field(default_factory=dict)


@dataclass
class Reply:
    status: int
    body: Any
    text: str
    headers: dict[str, str]


class ApiHarness:
    """Calls the API as a given person, or with a raw Authorization header."""

    def __init__(
        self, client: Client, mint: TokenMint, container: Container, workflows: RecordingWorkflows
    ) -> None:
        self.client = client
        self.mint = mint
        self.container = container
        self.workflows = workflows

    def token_for(self, seeded: SeededFirm, role: Role) -> str:
        user = seeded.people[role]
        assert user.identity_oid
        return self.mint.token(tenant=seeded.tenant, oid=user.identity_oid, email=user.email)

    def call(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        body: Any = None,
        raw_body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        sent = {"Content-Type": "application/json", **(headers or {})}
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        payload = (
            raw_body if raw_body is not None else (json.dumps(body).encode() if body is not None else b"")
        )
        response = self.client.http.request(method, path, headers=sent, body=payload)
        text = response.body.decode() if isinstance(response.body, bytes) else str(response.body or "")
        try:
            parsed = json.loads(text) if text else None
        except ValueError:
            parsed = None
        return Reply(response.status_code, parsed, text, dict(response.headers))


def build_api(table: Any, clock: Any, mint: TokenMint) -> ApiHarness:
    """Wire the real app to test adapters and return a harness for it."""
    from app import app

    install_unauthorized_translation()
    settings = Settings(
        stage="test",
        identity_jwks_url=mint.jwks_url,
        identity_issuer_template=mint.issuer_template,
        identity_audience=AUDIENCE,
    )
    workflows = RecordingWorkflows()
    container = build_container(settings, table=table, clock=clock, workflows=workflows)
    use_container(container)
    return ApiHarness(Client(app), mint, container, workflows)


def seed_firm(container: Container, name: str, tenant: str, domain: str) -> SeededFirm:
    """A firm and one active, identity-bound person for each role."""
    firm = container.roster.create_firm(
        name=name, tenant_id=tenant, time_zone="America/Chicago", actor="system"
    )
    seeded = SeededFirm(firm=firm, tenant=tenant)
    for role in Role:
        handle = role.value.replace("_", ".")
        user = User(
            firm_id=firm.firm_id,
            user_id=f"{firm.firm_id[:6]}-{handle}",
            email=f"{handle}@{domain}",
            display_name=f"{role.value.title()} of {name}",
            roles=frozenset({role}),
            status=UserStatus.ACTIVE,
            identity_oid=f"oid-{tenant}-{handle}",
            created_at=container.clock.now(),
        )
        seeded.people[role] = container.roster.add_member(firm.firm_id, user, "system")
    return seeded
