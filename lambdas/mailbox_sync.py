"""The work queue's worker (SQS event source): Microsoft 365 mailbox jobs, and invoice notifications.

    mailbox_sync          one user's folder: delta from the stored state into the timeline
    mailbox_maintain      one firm: subscriptions (renewed at half life, recreated), ended meetings
    mailbox_subscription  one lifecycle event's work: renew, recreate then resync, or resync
    invoice_notification  the email of a note or a disputed/denied line on a contractor invoice

Each record is parsed by Powertools' Parser and processed on its own; a record that fails (a bad body,
Graph still throttling after its retries) is reported in ``batchItemFailures`` so SQS redelivers only
that one, and after maxReceiveCount it lands in the dead-letter queue. Every job is idempotent: a
redelivered sync resumes from the stored state and replays merge by stable key.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, Field, Json

from chalicelib.bootstrap import container
from chalicelib.domain.m365 import SyncTarget
from chalicelib.domain.mailbox import Folder

logger = Logger(service="mailbox-sync")
metrics = Metrics(namespace="Matterline", service="mailbox-sync")

Id = Annotated[str, Field(min_length=1, max_length=200)]


class SyncFolderJob(BaseModel):
    kind: Literal["mailbox_sync"]
    firm_id: Id
    user_id: Id
    folder: Folder
    attempt: int = Field(default=0, ge=0, le=100)


class MaintainJob(BaseModel):
    kind: Literal["mailbox_maintain"]
    firm_id: Id


class SubscriptionJob(BaseModel):
    kind: Literal["mailbox_subscription"]
    firm_id: Id
    user_id: Id
    folder: Folder
    action: Literal["renew", "recreate", "resync"]


class InvoiceNotificationJob(BaseModel):
    kind: Literal["invoice_notification"]
    firm_id: Id
    invoice_id: Id
    event: Literal["note_added", "bt_disputed", "bt_denied"]
    key: Id
    by_contractor: bool
    detail: str = Field(default="", max_length=4000)


MailboxJob = Annotated[
    SyncFolderJob | MaintainJob | SubscriptionJob | InvoiceNotificationJob, Field(discriminator="kind")
]


class MailboxJobRecord(SqsRecordModel):
    """An SQS record whose body is one mailbox job (JSON)."""

    body: Json[MailboxJob]


processor = BatchProcessor(event_type=EventType.SQS, model=MailboxJobRecord)


def record_handler(record: MailboxJobRecord) -> dict[str, Any]:
    """Run one job; raising marks only this record as failed."""
    job = record.body
    if isinstance(job, InvoiceNotificationJob):
        delivery = container().invoice_approval.notify(
            job.firm_id, job.invoice_id, job.event, job.key, job.by_contractor, job.detail
        )
        metrics.add_metric(name="InvoiceNotifications", unit=MetricUnit.Count, value=1)
        return {"outcome": delivery.outcome}
    service = container().mailbox_sync
    metrics.add_metric(name="Jobs", unit=MetricUnit.Count, value=1)
    if isinstance(job, SyncFolderJob):
        target = SyncTarget(job.firm_id, job.user_id, job.folder)
        outcome = service.run_sync_job(target, job.attempt, worker=f"sqs:{record.messageId}")
        metrics.add_metric(name="FolderSyncs", unit=MetricUnit.Count, value=1)
        metrics.add_metric(name="Captures", unit=MetricUnit.Count, value=outcome.captures)
        if outcome.full_resync:
            metrics.add_metric(name="FullResyncs", unit=MetricUnit.Count, value=1)
        if outcome.status != "synced":
            metrics.add_metric(name=f"Sync{outcome.status.title()}", unit=MetricUnit.Count, value=1)
        logger.info(
            "folder synced",
            extra={
                "firm_id": job.firm_id,
                "user_id": job.user_id,
                "folder": job.folder.value,
                "status": outcome.status,
                "pages": outcome.pages,
                "captures": outcome.captures,
                "events_changed": outcome.events_changed,
                "full_resync": outcome.full_resync,
            },
        )
        return {"status": outcome.status, "captures": outcome.captures}
    if isinstance(job, MaintainJob):
        counts = service.maintain(job.firm_id)
        for name, value in counts.items():
            if value:
                metrics.add_metric(name=f"Subscriptions{name.title()}", unit=MetricUnit.Count, value=value)
        # LogRecord owns names like "created": the counts travel under their own key.
        logger.info("firm maintained", extra={"firm_id": job.firm_id, "subscriptions": counts})
        return counts
    target = SyncTarget(job.firm_id, job.user_id, job.folder)
    done = service.handle_subscription_job(target, job.action, worker=f"sqs:{record.messageId}")
    logger.info(
        "lifecycle handled",
        extra={"firm_id": job.firm_id, "user_id": job.user_id, "action": job.action, "done": done},
    )
    return {"done": done}


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """The SQS batch: every record processed, failures reported one by one (ReportBatchItemFailures)."""
    return dict(
        process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )
    )
