"""A whole stack for the workflow tests: the embedded AWS with every resource of infra/template.yaml,
the real Lambda handlers run by the bridge, and the API harness wired to the same DynamoDB table.

The state machines execute for real (moto's interpreter); emails go through the embedded SES and are
read back from its outbox, exactly as the devstack's console shows them.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from devstack.aws.embedded import EmbeddedAws
from devstack.aws.outbox import sent_emails
from devstack.aws.resources import CreatedResources, create_resources
from tests.support.api import ApiHarness, build_api
from tests.support.clock import ManualClock

TEMPLATE = Path(__file__).resolve().parents[2] / "infra" / "template.yaml"


class WorkflowStack:
    """The embedded AWS, the created stack and an API harness over the stack's table."""

    def __init__(
        self, aws: EmbeddedAws, created: CreatedResources, api: ApiHarness, clock: ManualClock
    ) -> None:
        self.aws = aws
        self.created = created
        self.api = api
        self.clock = clock
        self._seen = len(sent_emails(aws.region))

    def start(self, state_machine: str, payload: dict[str, Any], name: str | None = None) -> str:
        """Start an execution of the state machine with logical id ``state_machine``."""
        response = self.aws.client("stepfunctions").start_execution(
            stateMachineArn=self.created.ref(state_machine),
            name=name or f"test-{uuid.uuid4().hex[:12]}",
            input=json.dumps(payload),
        )
        return str(response["executionArn"])

    def run(self, state_machine: str, payload: dict[str, Any], name: str | None = None) -> dict[str, Any]:
        """Start an execution and wait until it has finished."""
        return self.wait(self.start(state_machine, payload, name))

    def wait(self, execution_arn: str, timeout: float = 60.0) -> dict[str, Any]:
        """Poll until the execution leaves RUNNING."""
        sfn = self.aws.client("stepfunctions")
        deadline = time.monotonic() + timeout
        while True:
            description: dict[str, Any] = sfn.describe_execution(executionArn=execution_arn)
            if description["status"] != "RUNNING":
                return description
            if time.monotonic() > deadline:
                raise AssertionError(f"execution still RUNNING after {timeout} s")
            time.sleep(0.05)

    def history(self, execution_arn: str) -> list[dict[str, Any]]:
        """The execution's events, oldest first."""
        sfn = self.aws.client("stepfunctions")
        events: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"executionArn": execution_arn, "maxResults": 1000}
        while True:
            page = sfn.get_execution_history(**kwargs)
            events += page["events"]
            if not page.get("nextToken"):
                return events
            kwargs["nextToken"] = page["nextToken"]

    def transitions(self, execution_arn: str) -> int:
        """State transitions, as Step Functions bills them: every state entered."""
        return sum(1 for event in self.history(execution_arn) if event["type"].endswith("StateEntered"))

    def new_emails(self) -> list[dict[str, Any]]:
        """Emails sent since the last call, oldest first."""
        every = sent_emails(self.aws.region)
        fresh = every[: len(every) - self._seen]
        self._seen = len(every)
        return list(reversed(fresh))


@contextmanager
def workflow_stack(token_mint: Any, stage: str) -> Iterator[WorkflowStack]:
    """Start an embedded AWS with the template's stack under ``stage`` and wire the app to its table."""
    import boto3

    from chalicelib.adapters.persistence.dynamodb_table import DynamoTable
    from chalicelib.bootstrap import use_container

    with EmbeddedAws(port=0) as aws:
        created = create_resources(aws, TEMPLATE, stage=stage)
        client = boto3.client("dynamodb", region_name=aws.region, endpoint_url=aws.endpoint_url)
        table = DynamoTable(client, created.ref("Table"))
        clock = ManualClock()
        api = build_api(table, clock, token_mint, aws.endpoint_url)
        try:
            yield WorkflowStack(aws, created, api, clock)
        finally:
            use_container(None)
