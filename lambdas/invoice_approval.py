"""Tasks of the invoice approval state machine (``infra/statemachines/invoice_approval.asl.json``).

``await_decision`` is invoked with a task token (``lambda:invoke.waitForTaskToken``) and only stores
it; the emailing tasks run through ``once`` and carry a delivery key made of the execution and the
state's entry time, so a retried task sends no second email.
"""

from __future__ import annotations

from typing import Any, Literal

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, Field

from chalicelib.bootstrap import container
from lambdas.workflow_tasks import once

logger = Logger(service="invoice-approval")
metrics = Metrics(namespace="Matterline", service="invoice-approval")

Step = Literal["verify", "resubmit", "approve", "schedule", "pay"]


class _Invoice(BaseModel):
    firm_id: str = Field(min_length=1)
    invoice_id: str = Field(min_length=1)


class AwaitDecision(_Invoice):
    action: Literal["await_decision"]
    step: Step
    execution: str = Field(min_length=1)
    token: str = Field(min_length=1)
    after: int = Field(ge=0, description="the execution's cursor into the decision log")


class Notify(_Invoice):
    action: Literal["notify"]
    event: Literal["submitted", "disputed", "returned_to_draft"]
    key: str = Field(min_length=1)
    by_contractor: bool = False


class Remind(_Invoice):
    action: Literal["remind"]
    step: Step
    reminder: int = Field(ge=1)
    escalate_after: int = Field(ge=1)
    key: str = Field(min_length=1)


class SendApproved(_Invoice):
    action: Literal["send_approved"]
    key: str = Field(min_length=1)


class InvoiceTask(BaseModel):
    task: AwaitDecision | Notify | Remind | SendApproved = Field(discriminator="action")


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Run one invoice approval task."""
    task = _parse({"task": event}, context)
    service = container().invoice_approval
    logger.append_keys(firm_id=task.firm_id, invoice_id=task.invoice_id, action=task.action)
    if isinstance(task, AwaitDecision):
        state = service.await_decision(
            task.firm_id, task.invoice_id, task.execution, task.step, task.token, task.after
        )
        metrics.add_metric(name="DecisionsAwaited", unit=MetricUnit.Count, value=1)
        return {"state": state}
    payload = task.model_dump(mode="json")
    if isinstance(task, Notify):
        notify_task = task

        def notify() -> dict[str, Any]:
            delivery = service.notify(
                notify_task.firm_id,
                notify_task.invoice_id,
                notify_task.event,
                notify_task.key,
                notify_task.by_contractor,
            )
            return {"outcome": delivery.outcome}

        result = once("invoice_notify", payload, context, notify)
    elif isinstance(task, Remind):
        remind_task = task

        def remind() -> dict[str, Any]:
            return service.remind(
                remind_task.firm_id,
                remind_task.invoice_id,
                remind_task.step,
                remind_task.reminder,
                remind_task.escalate_after,
                remind_task.key,
            )

        result = once("invoice_remind", payload, context, remind)
        metrics.add_metric(name="InvoiceReminders", unit=MetricUnit.Count, value=1)
    else:
        approved_task = task

        def send_approved() -> dict[str, Any]:
            return service.send_approved(approved_task.firm_id, approved_task.invoice_id, approved_task.key)

        result = once("invoice_send_approved", payload, context, send_approved)
    metrics.add_metric(name="InvoiceEmails", unit=MetricUnit.Count, value=1)
    logger.info("invoice task done", extra={"result": result})
    return result


@event_parser(model=InvoiceTask, envelope=None)
def _parse(task: InvoiceTask, context: LambdaContext) -> AwaitDecision | Notify | Remind | SendApproved:
    return task.task
