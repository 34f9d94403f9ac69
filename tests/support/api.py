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


def build_api(
    table: Any, clock: Any, mint: TokenMint, aws_endpoint: str | None = None, **wiring: Any
) -> ApiHarness:
    """Wire the real app to test adapters and return a harness for it.

    With ``aws_endpoint`` (the session's moto server) connection secrets are sealed by a real KMS key
    and export files kept in a real S3 bucket, both made fresh for this harness.
    """
    from app import app

    install_unauthorized_translation()
    settings = Settings(
        stage="test",
        identity_jwks_url=mint.jwks_url,
        identity_issuer_template=mint.issuer_template,
        identity_audience=AUDIENCE,
    )
    workflows = RecordingWorkflows()
    if aws_endpoint is not None:
        wiring = {**fresh_key_and_bucket(aws_endpoint), **wiring}
    container = build_container(settings, table=table, clock=clock, workflows=workflows, **wiring)
    use_container(container)
    return ApiHarness(Client(app), mint, container, workflows)


def fresh_key_and_bucket(endpoint: str) -> dict[str, Any]:
    """A new KMS key and S3 bucket on ``endpoint``, as the container's secret box and file store."""
    import uuid

    import boto3

    from chalicelib.adapters.files.s3 import S3FileStore
    from chalicelib.adapters.secrets.kms import KmsSecretBox

    kms = boto3.client("kms", region_name="us-east-1", endpoint_url=endpoint)
    s3 = boto3.client("s3", region_name="us-east-1", endpoint_url=endpoint)
    key_id = kms.create_key(Description="test connection secrets")["KeyMetadata"]["KeyId"]
    bucket = f"exports-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    return {"secrets": KmsSecretBox(kms, key_id), "files": S3FileStore(s3, bucket)}


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
