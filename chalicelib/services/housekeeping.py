"""Work a schedule does for every firm: today, expiring API tokens."""

from __future__ import annotations

from datetime import datetime

from chalicelib.ports import FirmRepository, WorkflowStarter
from chalicelib.services.api_tokens import ApiTokenService


class HousekeepingService:
    """The steps of the housekeeping workflow, and the schedule that starts it."""

    WORKFLOW = "housekeeping"

    def __init__(self, firms: FirmRepository, tokens: ApiTokenService, workflows: WorkflowStarter) -> None:
        self._firms = firms
        self._tokens = tokens
        self._workflows = workflows

    def start_daily_run(self, now: datetime) -> str:
        """Start today's run. The run name is the date, so a schedule fired twice starts one run."""
        return self._workflows.start(
            self.WORKFLOW, f"housekeeping-{now:%Y-%m-%d}", {"day": f"{now:%Y-%m-%d}"}
        )

    def firm_ids(self) -> list[str]:
        """Every firm, for the workflow to fan out over."""
        return [firm.firm_id for firm in self._firms.list_all()]

    def expire_api_tokens(self, firm_id: str) -> int:
        """One firm's step: mark its expired tokens."""
        return self._tokens.expire_due(firm_id)
