"""``WorkflowSignals`` on Step Functions: answer a waiting task token."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

logger = logging.getLogger(__name__)

# A token that timed out (the step moved on to a reminder) or was answered already is not an error
# for the sender: the workflow is no longer waiting on it.
_GONE = {"TaskTimedOut", "InvalidToken", "TaskDoesNotExist"}


class StepFunctionsSignals:
    """``SendTaskSuccess`` / ``SendTaskFailure``; a token nobody waits on any more is ignored."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def succeed(self, token: str, output: Mapping[str, Any]) -> bool:
        try:
            self._client.send_task_success(taskToken=token, output=json.dumps(dict(output), sort_keys=True))
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") not in _GONE:
                raise
            logger.info("task token no longer waited on: %s", error.response["Error"]["Code"])
            return False
        return True

    def fail(self, token: str, error: str, cause: str) -> None:
        try:
            self._client.send_task_failure(taskToken=token, error=error, cause=cause)
        except ClientError as problem:
            if problem.response.get("Error", {}).get("Code") not in _GONE:
                raise
