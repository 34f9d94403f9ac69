"""The in-process ``ContractorEventSink``: logs each event and keeps nothing.

The Step Functions invoice workflow implements the same port in production; until it is wired, events
are visible in the logs (by name, invoice and actor; never notes' text or amounts of other contractors).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from chalicelib.domain.contractors.events import ContractorEvent, InvoiceEvent

logger = logging.getLogger("matterline.contractors.events")


class LoggingContractorEventSink:
    """``ContractorEventSink`` that logs."""

    def publish(self, events: Sequence[ContractorEvent]) -> None:
        """Log each event's name, firm, actor and invoice."""
        for event in events:
            invoice_id = event.invoice_id if isinstance(event, InvoiceEvent) else None
            logger.info(
                "contractor event %s firm=%s actor=%s invoice=%s",
                event.name,
                event.firm_id,
                event.actor,
                invoice_id,
            )


class RecordingContractorEventSink:
    """``ContractorEventSink`` that remembers what it was given (tests and the devstack console)."""

    def __init__(self) -> None:
        self.published: list[ContractorEvent] = []

    def publish(self, events: Sequence[ContractorEvent]) -> None:
        """Keep the events, in order."""
        self.published.extend(events)
