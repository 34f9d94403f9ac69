"""Lambda handlers used only by test_embedded_aws.py.

The bridge imports them by name inside the test process, so module-level state here is the
proof that a handler ran in-process: the test reads what the handler recorded.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import boto3

FIRMS = ["firm-alpha", "firm-beta", "firm-gamma"]

calls: list[dict[str, Any]] = []
sqs_bodies: list[str] = []
stream_records: list[dict[str, Any]] = []
failures: list[str] = []
_lock = threading.Lock()


def reset() -> None:
    """Forget everything recorded so far."""
    with _lock:
        calls.clear()
        sqs_bodies.clear()
        stream_records.clear()
        failures.clear()


def housekeeping(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """A stand-in for lambdas.housekeeping.handler with the same event contract.

    One more action, ``describe_invocation``, answers with what only code running in the test
    process can know (its pid, the context object, the function's environment variables).
    """
    with _lock:
        calls.append({"handler": "housekeeping", "event": event})
    if event["action"] == "describe_invocation":
        return {
            "pid": os.getpid(),
            "function_name": context.function_name,
            "invoked_function_arn": context.invoked_function_arn,
            "request_id": context.aws_request_id,
            "memory_limit_in_mb": context.memory_limit_in_mb,
            "remaining_ms": context.get_remaining_time_in_millis(),
            "table_name": os.environ.get("MATTERLINE_TABLE_NAME"),
            "stage": os.environ.get("MATTERLINE_STAGE"),
        }
    if event["action"] == "list_firms":
        return {"firms": [{"firm_id": firm} for firm in FIRMS]}
    if event["action"] == "expire_api_tokens":
        return {"firm_id": event["firm_id"], "expired": len(event["firm_id"])}
    raise ValueError(f"unknown action {event['action']!r}")


class FirmListingUnavailable(RuntimeError):
    """What the failing handler raises."""


def failing(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Always fails, recording each attempt."""
    with _lock:
        failures.append(context.aws_request_id)
    raise FirmListingUnavailable(f"no firms today ({event.get('action')})")


def sqs_consumer(event: dict[str, Any], context: Any) -> None:
    """Record the bodies of an SQS batch."""
    with _lock:
        sqs_bodies.extend(record["body"] for record in event["Records"])


def stream_consumer(event: dict[str, Any], context: Any) -> None:
    """Record the DynamoDB stream records of a batch (event name and keys)."""
    with _lock:
        stream_records.extend(
            {"eventName": record["eventName"], "Keys": record["dynamodb"]["Keys"]}
            for record in event["Records"]
        )


def forwarder(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Send the event's body to the queue named by FORWARD_TO, and wait for SendMessage's answer.

    boto3 finds the embedded AWS through the environment EmbeddedAws exported (AWS_ENDPOINT_URL).
    """
    sqs = boto3.client("sqs")
    response = sqs.send_message(QueueUrl=os.environ["FORWARD_TO"], MessageBody=event["body"])
    return {"message_id": response["MessageId"]}
