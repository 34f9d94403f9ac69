"""Tasks of the reports state machine (``infra/statemachines/reports.asl.json``).

    ListDue(at) ──▶ Map(reports) ──▶ SendUserReport        (each user at their hour, in their zone)
               └──▶ Map(activity) ──▶ SendActivityReport   (each firm's admins, Mondays)

The sending tasks are idempotent (``lambdas.workflow_tasks.once`` and the delivery ledger): a retry
sends no second email.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import AwareDatetime, BaseModel, Field

from chalicelib.bootstrap import container
from chalicelib.domain.reports import ReportFrequency
from lambdas.workflow_tasks import once

logger = Logger(service="reports")
metrics = Metrics(namespace="Matterline", service="reports")


class ListDue(BaseModel):
    action: Literal["list_due"]
    at: AwareDatetime


class SendUserReport(BaseModel):
    action: Literal["send_user_report"]
    firm_id: str = Field(min_length=1)
    user_id: str = Field(min_length=1)
    frequency: Literal["daily", "weekly", "monthly"]
    first_day: date
    last_day: date


class SendActivityReport(BaseModel):
    action: Literal["send_activity_report"]
    firm_id: str = Field(min_length=1)
    first_day: date
    last_day: date


class ReportsTask(BaseModel):
    task: ListDue | SendUserReport | SendActivityReport = Field(discriminator="action")


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Run one reports task."""
    task = _parse({"task": event}, context)
    services = container()
    if isinstance(task, ListDue):
        at: datetime = task.at
        reports = [due.as_task() for due in services.reports.due_reports(at)]
        activity = services.reports.due_activity_reports(at)
        metrics.add_metric(name="ReportsDue", unit=MetricUnit.Count, value=len(reports))
        logger.info("reports due", extra={"reports": len(reports), "activity_reports": len(activity)})
        return {"reports": reports, "activity": activity}
    if isinstance(task, SendUserReport):
        user_task = task

        def send_user_report() -> dict[str, Any]:
            delivery = services.reports.send_user_report(
                user_task.firm_id,
                user_task.user_id,
                ReportFrequency(user_task.frequency),
                user_task.first_day,
                user_task.last_day,
            )
            return {"outcome": delivery.outcome, "message_id": delivery.message_id}

        result = once("send_user_report", task.model_dump(mode="json"), context, send_user_report)
        metrics.add_metric(
            name="UserReportsSent", unit=MetricUnit.Count, value=int(result["outcome"] == "sent")
        )
        logger.info("user report", extra={"firm_id": task.firm_id, "outcome": result["outcome"]})
        return result
    activity_task = task

    def send_activity_report() -> dict[str, Any]:
        delivery = services.reports.send_activity_report(
            activity_task.firm_id, activity_task.first_day, activity_task.last_day
        )
        return {"outcome": delivery.outcome, "message_id": delivery.message_id}

    result = once("send_activity_report", task.model_dump(mode="json"), context, send_activity_report)
    metrics.add_metric(
        name="ActivityReportsSent", unit=MetricUnit.Count, value=int(result["outcome"] == "sent")
    )
    logger.info("activity report", extra={"firm_id": task.firm_id, "outcome": result["outcome"]})
    return result


@event_parser(model=ReportsTask, envelope=None)
def _parse(task: ReportsTask, context: LambdaContext) -> ListDue | SendUserReport | SendActivityReport:
    return task.task
