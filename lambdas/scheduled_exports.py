"""Tasks of the scheduled-export state machine (``infra/statemachines/scheduled_export.asl.json``).

    ListDue(at) ──▶ Map(runs) ──▶ RunExport(firm, target, period) ──▶ NotifyAdmins(summary)

``RunExport`` posts to the billing system (exactly once per entry: the posting ledger) or builds the
period's file (the same file again for the same period); ``NotifyAdmins`` emails once per run.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import AwareDatetime, BaseModel, Field

from chalicelib.bootstrap import container
from lambdas.workflow_tasks import once

logger = Logger(service="scheduled-exports")
metrics = Metrics(namespace="Matterline", service="scheduled-exports")

Target = Literal["clio", "actionstep", "tabs3", "pclaw", "timeslips", "abacus", "csv", "ledes"]


class ListDue(BaseModel):
    action: Literal["list_due"]
    at: AwareDatetime


class RunExport(BaseModel):
    action: Literal["run_export"]
    firm_id: str = Field(min_length=1)
    target: Target
    first_day: date
    last_day: date


class NotifyAdmins(BaseModel):
    action: Literal["notify_admins"]
    firm_id: str = Field(min_length=1)
    target: Target
    first_day: date
    last_day: date
    summary: dict[str, Any]


class ExportTask(BaseModel):
    task: ListDue | RunExport | NotifyAdmins = Field(discriminator="action")


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Run one scheduled-export task."""
    task = _parse({"task": event}, context)
    service = container().scheduled_exports
    if isinstance(task, ListDue):
        runs = service.due_runs(task.at)
        metrics.add_metric(name="ExportsDue", unit=MetricUnit.Count, value=len(runs))
        return {"runs": runs}
    if isinstance(task, RunExport):
        run_task = task

        def run_export() -> dict[str, Any]:
            return service.run(run_task.firm_id, run_task.target, run_task.first_day, run_task.last_day)

        summary = once("run_export", task.model_dump(mode="json"), context, run_export)
        metrics.add_metric(
            name="EntriesExported", unit=MetricUnit.Count, value=int(summary.get("entries") or 0)
        )
        logger.info("scheduled export ran", extra={"firm_id": task.firm_id, "target": task.target})
        return summary
    notify_task = task

    def notify_admins() -> dict[str, Any]:
        delivery = service.notify(
            notify_task.firm_id,
            notify_task.target,
            notify_task.first_day,
            notify_task.last_day,
            notify_task.summary,
        )
        return {"outcome": delivery.outcome, "message_id": delivery.message_id}

    result = once("notify_admins", task.model_dump(mode="json"), context, notify_admins)
    metrics.add_metric(name="ExportEmailsSent", unit=MetricUnit.Count, value=int(result["outcome"] == "sent"))
    return result


@event_parser(model=ExportTask, envelope=None)
def _parse(task: ExportTask, context: LambdaContext) -> ListDue | RunExport | NotifyAdmins:
    return task.task
