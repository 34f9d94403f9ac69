"""The devstack's embedded AWS: moto's server in-process, the Lambda bridge, the stack from infra/.

These tests start a real moto server on a free loopback port, create the stack of
``infra/template.yaml`` in it with the Lambda handler swapped for fixture handlers
(``aws_fixture_handlers``), and drive it through boto3 exactly as the devstack does.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from devstack.aws import bridge
from devstack.aws.embedded import EmbeddedAws
from devstack.aws.outbox import sent_emails
from devstack.aws.resources import CreatedResources, create_resources
from devstack.aws.snapshot import load_tables, save_tables, snapshot_path

try:  # the handlers must be the very module the bridge imports, whatever name pytest gave it
    from tests.integration import aws_fixture_handlers as handlers
except ImportError:
    import aws_fixture_handlers as handlers  # type: ignore[no-redef]

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "infra" / "template.yaml"
HOUSEKEEPING = f"{handlers.__name__}.housekeeping"
FAILING = f"{handlers.__name__}.failing"

# What the template's Retry asks for: IntervalSeconds 2, BackoffRate 2.0, MaxAttempts 3.
EXPECTED_RETRY_SLEEPS = [2, 4, 8]


def wait_for_execution(aws: EmbeddedAws, execution_arn: str, timeout: float = 30.0) -> dict[str, Any]:
    """Poll describe_execution until the execution leaves RUNNING."""
    sfn = aws.client("stepfunctions")
    deadline = time.monotonic() + timeout
    while True:
        description: dict[str, Any] = sfn.describe_execution(executionArn=execution_arn)
        if description["status"] != "RUNNING":
            return description
        if time.monotonic() > deadline:
            raise AssertionError(f"execution still RUNNING after {timeout} s")
        time.sleep(0.05)


def listening_addresses(port: int) -> set[str]:
    """Local addresses with a socket listening on ``port`` (Linux /proc), as hex strings."""
    found: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            address, port_hex = fields[1].split(":")
            if fields[3] == "0A" and int(port_hex, 16) == port:  # 0A = LISTEN
                found.add(address)
    return found


def env_changes(before: dict[str, str]) -> set[str]:
    """Names of variables added, changed or removed since ``before`` (pytest's own excepted)."""
    now = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    then = {k: v for k, v in before.items() if k != "PYTEST_CURRENT_TEST"}
    return {k for k in now.keys() | then.keys() if now.get(k) != then.get(k)}


def scan_all(table: Any) -> list[dict[str, Any]]:
    """Every item of a boto3 Table, following LastEvaluatedKey."""
    kwargs: dict[str, Any] = {"ConsistentRead": True}
    items: list[dict[str, Any]] = []
    while True:
        page = table.scan(**kwargs)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


@pytest.fixture(autouse=True)
def fresh_handler_records() -> Iterator[None]:
    handlers.reset()
    yield
    handlers.reset()


# ----------------------------------------------------------------------------------------------
# One server for the tests that only read and invoke
# ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="class")
def stack() -> Iterator[SimpleNamespace]:
    """One embedded AWS with two stacks: ``local`` (works) and ``broken`` (its handler raises)."""
    environ_before = dict(os.environ)
    aws = EmbeddedAws(port=0)
    try:
        aws.start()
        local = create_resources(aws, TEMPLATE, handler_overrides={"HousekeepingFunction": HOUSEKEEPING})
        broken = create_resources(
            aws, TEMPLATE, stage="broken", handler_overrides={"HousekeepingFunction": FAILING}
        )
        yield SimpleNamespace(aws=aws, local=local, broken=broken)
    finally:
        aws.stop()
        leaked = env_changes(environ_before)
        for name in leaked:
            if environ_before.get(name) is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = environ_before[name]
    assert not leaked, f"the embedded AWS left variables behind: {sorted(leaked)}"


class TestARunningStack:
    """Tests sharing one embedded AWS (the class-scoped ``stack`` fixture)."""

    def test_a_direct_invoke_runs_the_handler_in_this_process(self, stack: SimpleNamespace) -> None:
        created: CreatedResources = stack.local
        response = stack.aws.client("lambda").invoke(
            FunctionName=created.ref("HousekeepingFunction"),
            Payload=json.dumps({"action": "describe_invocation"}),
            LogType="Tail",
        )

        assert "FunctionError" not in response
        tail = base64.b64decode(response["LogResult"]).decode()
        assert tail.startswith("START RequestId: ") and "REPORT RequestId: " in tail
        answer = json.loads(response["Payload"].read())
        assert answer["pid"] == os.getpid()
        assert answer["function_name"] == "matterline-local-housekeeping"
        assert answer["invoked_function_arn"] == created.arn("HousekeepingFunction")
        assert answer["memory_limit_in_mb"] == 256
        assert 0 < answer["remaining_ms"] <= 120_000
        assert handlers.calls == [{"handler": "housekeeping", "event": {"action": "describe_invocation"}}]

    def test_a_function_sees_its_environment_only_while_it_runs(self, stack: SimpleNamespace) -> None:
        response = stack.aws.client("lambda").invoke(
            FunctionName=stack.local.ref("HousekeepingFunction"),
            Payload=json.dumps({"action": "describe_invocation"}),
        )

        answer = json.loads(response["Payload"].read())
        assert (answer["table_name"], answer["stage"]) == ("matterline-local", "local")
        assert "MATTERLINE_TABLE_NAME" not in os.environ

    def test_a_handler_that_raises_answers_with_a_lambda_error_payload(self, stack: SimpleNamespace) -> None:
        response = stack.aws.client("lambda").invoke(
            FunctionName=stack.broken.ref("HousekeepingFunction"),
            Payload=json.dumps({"action": "list_firms"}),
        )

        assert response["FunctionError"]
        error = json.loads(response["Payload"].read())
        assert error["errorType"] == "FirmListingUnavailable"
        assert error["errorMessage"] == "no firms today (list_firms)"
        assert any("aws_fixture_handlers.py" in frame for frame in error["stackTrace"])

    def test_the_housekeeping_state_machine_lists_firms_then_maps_over_them(
        self, stack: SimpleNamespace
    ) -> None:
        sfn = stack.aws.client("stepfunctions")
        execution = sfn.start_execution(
            stateMachineArn=stack.local.ref("HousekeepingStateMachine"), name="housekeeping-ok", input="{}"
        )

        result = wait_for_execution(stack.aws, execution["executionArn"])

        assert result["status"] == "SUCCEEDED", result.get("cause")
        firms = [{"firm_id": firm} for firm in handlers.FIRMS]
        assert json.loads(result["output"]) == {
            "firms": firms,
            "expired": [{"firm_id": firm, "expired": len(firm)} for firm in handlers.FIRMS],
        }
        events = [call["event"] for call in handlers.calls]
        assert events[0] == {"action": "list_firms"}
        assert sorted(events[1:], key=lambda e: e["firm_id"]) == [
            {"action": "expire_api_tokens", "firm_id": firm} for firm in handlers.FIRMS
        ]

    def test_a_failing_task_is_retried_with_backoff_then_fails_the_execution(
        self, stack: SimpleNamespace, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # moto really sleeps between retries (2 + 4 + 8 s here): record the sleeps instead.
        from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl

        sleeps: list[float] = []
        monkeypatch.setattr(retrier_decl, "time", SimpleNamespace(sleep=sleeps.append))
        sfn = stack.aws.client("stepfunctions")
        execution = sfn.start_execution(
            stateMachineArn=stack.broken.ref("HousekeepingStateMachine"),
            name="housekeeping-broken",
            input="{}",
        )

        result = wait_for_execution(stack.aws, execution["executionArn"])

        assert result["status"] == "FAILED"
        assert result["error"] == "FirmListingUnavailable"
        assert len(handlers.failures) == 1 + len(EXPECTED_RETRY_SLEEPS)
        assert sleeps == EXPECTED_RETRY_SLEEPS

    def test_the_work_queue_redrives_to_its_dead_letter_queue(self, stack: SimpleNamespace) -> None:
        attributes = stack.aws.client("sqs").get_queue_attributes(
            QueueUrl=stack.local.ref("WorkQueue"), AttributeNames=["All"]
        )["Attributes"]

        assert json.loads(attributes["RedrivePolicy"]) == {
            "deadLetterTargetArn": stack.local.arn("WorkDeadLetterQueue"),
            "maxReceiveCount": 5,
        }
        assert attributes["VisibilityTimeout"] == "900"

    def test_the_table_is_created_as_the_template_declares(self, stack: SimpleNamespace) -> None:
        ddb = stack.aws.client("dynamodb")
        table = ddb.describe_table(TableName="matterline-local")["Table"]

        assert {k["AttributeName"]: k["KeyType"] for k in table["KeySchema"]} == {"PK": "HASH", "SK": "RANGE"}
        assert sorted(index["IndexName"] for index in table["GlobalSecondaryIndexes"]) == ["GSI1", "GSI2"]
        assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
        assert table["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
        ttl = ddb.describe_time_to_live(TableName="matterline-local")["TimeToLiveDescription"]
        assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at_epoch"}
        assert stack.local.table_names == ["matterline-local", "matterline-local-idempotency"]

    def test_the_functions_get_the_settings_of_the_template_globals(self, stack: SimpleNamespace) -> None:
        environment = stack.local.environment

        assert environment["MATTERLINE_TABLE_NAME"] == "matterline-local"
        assert environment["MATTERLINE_SENDER_ADDRESS"] == "noreply@matterline.test"
        assert json.loads(environment["MATTERLINE_STATE_MACHINES"]) == {
            "housekeeping": stack.local.ref("HousekeepingStateMachine"),
            "reports": stack.local.ref("ReportsStateMachine"),
            "exports": stack.local.ref("ExportsStateMachine"),
            "invoices": stack.local.ref("InvoicesStateMachine"),
        }
        configuration = stack.aws.client("lambda").get_function_configuration(
            FunctionName=stack.local.ref("HousekeepingFunction")
        )
        assert configuration["Environment"]["Variables"]["MATTERLINE_WORK_QUEUE_URL"] == stack.local.ref(
            "WorkQueue"
        )

    def test_creating_the_resources_again_changes_nothing_and_fails_nothing(
        self, stack: SimpleNamespace
    ) -> None:
        again = create_resources(
            stack.aws, TEMPLATE, handler_overrides={"HousekeepingFunction": HOUSEKEEPING}
        )

        assert {lid: res.ref for lid, res in again.resources.items()} == {
            lid: res.ref for lid, res in stack.local.resources.items()
        }
        assert again.environment == stack.local.environment

    def test_the_server_listens_on_loopback_only(self, stack: SimpleNamespace) -> None:
        aws: EmbeddedAws = stack.aws

        assert aws.endpoint_url == f"http://127.0.0.1:{aws.port}"
        addresses = listening_addresses(aws.port)
        if not addresses:
            pytest.skip("no /proc/net/tcp here to see listening sockets")
        assert addresses == {"0100007F"}  # 127.0.0.1, and no 0.0.0.0 / :: socket
        with socket.create_connection(("127.0.0.1", aws.port), timeout=2):
            pass

    def test_an_email_sent_through_ses_shows_up_in_the_outbox(self, stack: SimpleNamespace) -> None:
        sender = stack.local.environment["MATTERLINE_SENDER_ADDRESS"]
        stack.aws.client("sesv2").send_email(
            FromEmailAddress=sender,
            Destination={"ToAddresses": ["ada@firm.test"]},
            Content={
                "Simple": {
                    "Subject": {"Data": "Your day: 6.4 h"},
                    "Body": {"Html": {"Data": "<p>6.4 hours captured</p>"}},
                }
            },
        )
        raw = (
            f"From: {sender}\r\nTo: grace@firm.test\r\nSubject: Invoice 42 approved\r\n"
            "Date: Fri, 31 Jan 2025 17:02:03 +0000\r\nMIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n\r\nInvoice 42 was approved.\r\n"
        )
        stack.aws.client("ses").send_raw_email(RawMessage={"Data": raw.encode()})

        newest, previous = sent_emails(stack.aws.region)[:2]

        assert newest["subject"] == "Invoice 42 approved"
        assert newest["to"] == ["grace@firm.test"]
        assert newest["text"].strip() == "Invoice 42 was approved."
        assert newest["sent_at"] == "2025-01-31T17:02:03+00:00"
        assert previous["from"] == sender
        assert previous["to"] == ["ada@firm.test"]
        assert previous["subject"] == "Your day: 6.4 h"
        assert previous["html"] == "<p>6.4 hours captured</p>"


# ----------------------------------------------------------------------------------------------
# Event source mappings, from a small template of their own
# ----------------------------------------------------------------------------------------------

EVENT_SOURCES_TEMPLATE = """
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Stage: {Type: String, Default: dev}
Resources:
  Inbox:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: !Sub "events-${Stage}-inbox"
  Items:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: !Sub "events-${Stage}-items"
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{AttributeName: PK, AttributeType: S}]
      KeySchema: [{AttributeName: PK, KeyType: HASH}]
      StreamSpecification: {StreamViewType: NEW_AND_OLD_IMAGES}
  InboxConsumer:
    Type: AWS::Serverless::Function
    Properties:
      Handler: replaced.by.override
      Runtime: python3.11
      CodeUri: ./deployment.zip
      Events:
        Work:
          Type: SQS
          Properties: {Queue: !GetAtt Inbox.Arn, BatchSize: 1}
  Forwarder:
    Type: AWS::Serverless::Function
    Properties:
      Handler: replaced.by.override
      Runtime: python3.11
      CodeUri: ./deployment.zip
      Environment:
        Variables:
          FORWARD_TO: !Ref Inbox
  ItemsConsumer:
    Type: AWS::Serverless::Function
    Properties:
      Handler: replaced.by.override
      Runtime: python3.11
      CodeUri: ./deployment.zip
      Events:
        Changes:
          Type: DynamoDB
          Properties: {Stream: !GetAtt Items.StreamArn, StartingPosition: LATEST}
"""


@pytest.fixture(scope="class")
def event_sources(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    """One embedded AWS with the stack of EVENT_SOURCES_TEMPLATE."""
    template = tmp_path_factory.mktemp("event-sources") / "template.yaml"
    template.write_text(EVENT_SOURCES_TEMPLATE)
    overrides = {
        "InboxConsumer": f"{handlers.__name__}.sqs_consumer",
        "ItemsConsumer": f"{handlers.__name__}.stream_consumer",
        "Forwarder": f"{handlers.__name__}.forwarder",
    }
    with EmbeddedAws(port=0) as aws:
        create_resources(aws, template, stage="esm", handler_overrides=overrides)
        # Twice: the mappings must not be duplicated (a message would be delivered twice).
        created = create_resources(aws, template, stage="esm", handler_overrides=overrides)
        yield SimpleNamespace(aws=aws, created=created)


class TestEventSources:
    """Lambda functions wired to a queue and a table stream by SAM ``Events``."""

    def test_a_message_sent_to_a_queue_reaches_the_function_mapped_to_it(
        self, event_sources: SimpleNamespace
    ) -> None:
        sqs = event_sources.aws.client("sqs")
        queue_url = event_sources.created.ref("Inbox")

        sqs.send_message(QueueUrl=queue_url, MessageBody='{"sync": "mailbox-7"}')

        # moto delivers inside SendMessage: the handler has run by the time the call returns.
        assert handlers.sqs_bodies == ['{"sync": "mailbox-7"}']
        attributes = sqs.get_queue_attributes(
            QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"]
        )
        assert attributes["Attributes"]["ApproximateNumberOfMessages"] == "0"

    def test_a_handler_can_wait_on_an_invocation_it_caused_without_deadlock(
        self,
        event_sources: SimpleNamespace,
    ) -> None:
        # Forwarder (one server thread) calls SendMessage and waits; that request (another thread)
        # runs InboxConsumer before answering. Both need the bridge: it must not serialize them.
        from botocore.config import Config

        lam = event_sources.aws.client("lambda", config=Config(read_timeout=15, retries={"max_attempts": 0}))

        response = lam.invoke(
            FunctionName=event_sources.created.ref("Forwarder"), Payload=json.dumps({"body": "nested"})
        )

        assert "FunctionError" not in response, response["Payload"].read()
        assert json.loads(response["Payload"].read())["message_id"]
        assert handlers.sqs_bodies == ["nested"]

    def test_a_table_change_reaches_the_function_mapped_to_its_stream(
        self, event_sources: SimpleNamespace
    ) -> None:
        ddb = event_sources.aws.client("dynamodb")

        ddb.put_item(TableName="events-esm-items", Item={"PK": {"S": "FIRM#1"}, "name": {"S": "Acme"}})

        assert handlers.stream_records == [{"eventName": "INSERT", "Keys": {"PK": {"S": "FIRM#1"}}}]


# ----------------------------------------------------------------------------------------------
# Restarts
# ----------------------------------------------------------------------------------------------

ITEMS: list[dict[str, Any]] = [
    {
        "PK": "FIRM#acme",
        "SK": "INVOICE#42",
        "firm_id": "acme",
        "total": Decimal("1234.5678"),
        "lines": [{"code": "L110", "hours": Decimal("0.1")}, {"code": "L120", "hours": Decimal("2.5")}],
        "approval": {"by": {"user": "u-1", "role": "billing_manager"}, "at": "2025-01-31T17:02:03.123Z"},
        "tags": {"urgent", "q1"},
        "rates": {Decimal("250"), Decimal("99.99")},
        "signature": b"\x00\xffsigned",
        "paid": False,
        "note": None,
    },
    *(
        {"PK": "FIRM#acme", "SK": f"EVENT#{n:04d}", "firm_id": "acme", "padding": "x" * 20_000}
        for n in range(60)  # 1.2 MB: more than one page of Scan, more than one BatchWriteItem
    ),
]


def test_items_saved_before_a_restart_are_all_there_after_it(tmp_path: Path) -> None:
    environ_before = dict(os.environ)
    with EmbeddedAws(port=0) as first:
        created = create_resources(first, TEMPLATE)
        table = first.resource("dynamodb").Table("matterline-local")
        with table.batch_writer() as batch:
            for item in ITEMS:
                batch.put_item(Item=item)
        counts = save_tables(first, created.table_names, tmp_path / "var")
    assert counts == {"matterline-local": len(ITEMS), "matterline-local-idempotency": 0}
    saved = json.loads(snapshot_path(tmp_path / "var", "matterline-local").read_text())
    assert not list((tmp_path / "var").glob(".*.tmp")), "the temporary file was renamed away"

    with EmbeddedAws(port=0) as second:
        created = create_resources(second, TEMPLATE)
        table = second.resource("dynamodb").Table("matterline-local")
        assert table.scan()["Count"] == 0, "a new embedded AWS starts empty"
        loaded = load_tables(second, created.table_names, tmp_path / "var")
        items = scan_all(table)

    assert loaded == {"matterline-local": len(ITEMS), "matterline-local-idempotency": 0}
    by_key = {(item["PK"], item["SK"]): item for item in items}
    invoice = by_key[("FIRM#acme", "INVOICE#42")]
    assert invoice["signature"].value == b"\x00\xffsigned"
    invoice["signature"] = invoice["signature"].value
    assert invoice == ITEMS[0]
    assert len(by_key) == len(ITEMS)
    raw_invoice = next(item for item in saved["items"] if item["SK"] == {"S": "INVOICE#42"})
    assert raw_invoice["total"] == {"N": "1234.5678"}
    assert base64.b64decode(raw_invoice["signature"]["B"]) == b"\x00\xffsigned"
    assert not env_changes(environ_before)


def test_stopping_puts_the_process_back_as_it_was() -> None:
    from moto.core.config import default_user_config

    environ_before = dict(os.environ)
    config_before = dict(default_user_config["stepfunctions"])

    with EmbeddedAws(port=0) as aws:
        assert os.environ["AWS_ENDPOINT_URL"] == aws.endpoint_url
        assert os.environ["MOTO_PORT"] == str(aws.port)
        assert default_user_config["stepfunctions"] == {"execute_state_machine": True}
        assert bridge.is_installed()

    assert not env_changes(environ_before)
    assert default_user_config["stepfunctions"] == config_before
    assert not bridge.is_installed()


def test_only_loopback_addresses_are_accepted() -> None:
    with pytest.raises(ValueError, match="loopback"):
        EmbeddedAws(host="0.0.0.0")


def test_a_taken_port_is_an_error_not_a_hang() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(OSError, match="could not listen"):
            EmbeddedAws(port=port).start()

    with EmbeddedAws(port=0) as aws:  # and nothing was left half-started
        assert aws.running
