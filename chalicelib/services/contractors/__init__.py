"""The contractor module's use cases (``service``) and the in-process event sink (``events``)."""

from chalicelib.services.contractors.events import LoggingContractorEventSink, RecordingContractorEventSink
from chalicelib.services.contractors.service import BulkResult, CaseView, ContractorService, InvoiceView

__all__ = [
    "BulkResult",
    "CaseView",
    "ContractorService",
    "InvoiceView",
    "LoggingContractorEventSink",
    "RecordingContractorEventSink",
]
