"""Fixtures every suite shares: isolated AWS credentials, tables, a manual clock."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.support.clock import ManualClock

# Tests that use moto's in-process mock must never reach a real account or an endpoint set by the
# devstack in the developer's shell.
for _variable in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "MATTERLINE_AWS_ENDPOINT_URL"):
    os.environ.pop(_variable, None)
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
    }
)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def memory_table():  # type: ignore[no-untyped-def]
    from chalicelib.adapters.persistence.memory_table import MemoryTable

    return MemoryTable()


@pytest.fixture
def dynamodb_table() -> Iterator[object]:
    import boto3
    from moto import mock_aws

    from chalicelib.adapters.persistence.dynamodb_table import DynamoTable
    from tests.support.aws import create_table

    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_table(client, "matterline-test")
        yield DynamoTable(client, "matterline-test")


@pytest.fixture(params=["memory", "dynamodb"])
def table(request: pytest.FixtureRequest) -> object:
    """Both table implementations: the contract suite runs once against each."""
    return request.getfixturevalue(f"{request.param}_table")


@pytest.fixture(scope="session")
def token_mint():  # type: ignore[no-untyped-def]
    from tests.support.tokens import TokenMint

    mint = TokenMint()
    yield mint
    mint.close()


@pytest.fixture(scope="session")
def aws_endpoint() -> Iterator[str]:
    """A moto server for the session (KMS, S3, ...): real HTTP, real client libraries."""
    import socket

    from moto.server import ThreadedMotoServer

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def api(memory_table, clock, token_mint, aws_endpoint):  # type: ignore[no-untyped-def]
    from chalicelib.bootstrap import use_container
    from tests.support.api import build_api

    harness = build_api(memory_table, clock, token_mint, aws_endpoint)
    yield harness
    use_container(None)


@pytest.fixture
def firm_a(api):  # type: ignore[no-untyped-def]
    from tests.support.api import seed_firm

    return seed_firm(api.container, "Lovelace & Babbage LLP", "tenant-a", "lovelace.law")


@pytest.fixture
def firm_b(api):  # type: ignore[no-untyped-def]
    from tests.support.api import seed_firm

    return seed_firm(api.container, "Hopper Grace PC", "tenant-b", "hopper.law")


def pytest_configure(config: pytest.Config) -> None:
    """moto as every test uses it: with the devstack's fix to transaction backups (see the module)."""
    from devstack.aws.moto_fixes import back_up_each_table_once

    back_up_each_table_once()
