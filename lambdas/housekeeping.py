"""Tasks of the housekeeping state machine (``infra/statemachines/housekeeping.asl.json``).

    ListFirms ──▶ Map(firms) ──▶ ExpireApiTokens(firm)

Each task is idempotent: expiring an already expired token changes nothing.
"""

from __future__ import annotations

from typing import Any, Literal

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, Field

from chalicelib.bootstrap import container

logger = Logger(service="housekeeping")
metrics = Metrics(namespace="Matterline", service="housekeeping")


class ListFirms(BaseModel):
    action: Literal["list_firms"]


class ExpireApiTokens(BaseModel):
    action: Literal["expire_api_tokens"]
    firm_id: str = Field(min_length=1)


class HousekeepingTask(BaseModel):
    task: ListFirms | ExpireApiTokens = Field(discriminator="action")


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Run one housekeeping task."""
    return _run(event, context)


@event_parser(model=HousekeepingTask, envelope=None)
def _parse(task: HousekeepingTask, context: LambdaContext) -> ListFirms | ExpireApiTokens:
    return task.task


def _run(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    task = _parse({"task": event}, context)
    service = container().housekeeping
    if isinstance(task, ListFirms):
        firms = [{"firm_id": firm_id} for firm_id in service.firm_ids()]
        metrics.add_metric(name="FirmsVisited", unit=MetricUnit.Count, value=len(firms))
        logger.info("housekeeping fan-out", extra={"firms": len(firms)})
        return {"firms": firms}
    expired = service.expire_api_tokens(task.firm_id)
    metrics.add_metric(name="ApiTokensExpired", unit=MetricUnit.Count, value=expired)
    logger.info("expired api tokens", extra={"firm_id": task.firm_id, "expired": expired})
    return {"firm_id": task.firm_id, "expired": expired}
