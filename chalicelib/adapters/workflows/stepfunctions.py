"""``WorkflowStarter`` on Step Functions: one execution per run name."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError


class StepFunctionsWorkflows:
    """Starts state machines by logical name (``settings.state_machines``)."""

    def __init__(self, client: Any, state_machines: Mapping[str, str]) -> None:
        self._client = client
        self._arns = dict(state_machines)

    def start(self, workflow: str, run_name: str, payload: Mapping[str, Any]) -> str:
        """Start ``workflow`` as execution ``run_name``; a second start with the same name is a no-op.

        Step Functions keeps execution names unique per state machine (90 days), which makes the
        name our idempotency key: a schedule that fires twice, or a retried request, starts one run.
        """
        arn = self._arns.get(workflow)
        if arn is None:
            raise LookupError(f"no state machine is configured for workflow '{workflow}'")
        try:
            response = self._client.start_execution(
                stateMachineArn=arn, name=run_name, input=json.dumps(dict(payload), sort_keys=True)
            )
            return str(response["executionArn"])
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ExecutionAlreadyExists":
                raise
            return arn.replace(":stateMachine:", ":execution:") + f":{run_name}"
