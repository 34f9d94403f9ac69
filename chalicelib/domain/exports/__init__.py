"""Billing file exports: CSV layouts for desktop billing systems and LEDES 1998B e-billing invoices.

Pure: writers take sorted :class:`ExportLine` rows and a text stream and return an
:class:`ExportSummary`. Which entries to export, where the file goes and marking the entries exported
belong to the billing service. ``LAYOUTS`` describes each format under the names
``chalicelib.domain.billing.ExportFormat`` uses.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from chalicelib.domain.exports.csv_layouts import (
    ENCODINGS,
    tabs3_exports,
    write_abacus,
    write_generic_csv,
    write_pclaw,
    write_tabs3,
    write_timeslips,
)
from chalicelib.domain.exports.ledes import ENCODING as LEDES_ENCODING
from chalicelib.domain.exports.ledes import write_ledes
from chalicelib.domain.exports.lines import (
    ExportError,
    ExportLine,
    ExportSummary,
    TimekeeperClassification,
    UnsortedLines,
    export_sort_key,
)


@dataclass(frozen=True)
class ExportLayout:
    """A file format: its writer and how the file should be stored and served.

    Open the output with ``encoding`` and ``newline=""`` (writers emit CRLF themselves).
    """

    name: str
    title: str
    write: Callable[..., ExportSummary]
    extension: str
    media_type: str
    encoding: str


LAYOUTS: dict[str, ExportLayout] = {
    layout.name: layout
    for layout in (
        ExportLayout("tabs3", "Tabs3 (ASCII Variable)", write_tabs3, "txt", "text/plain", ENCODINGS["tabs3"]),
        ExportLayout("pclaw", "PCLaw time entries", write_pclaw, "csv", "text/csv", ENCODINGS["pclaw"]),
        ExportLayout(
            "timeslips",
            "TimeSlips slips (TSImport)",
            write_timeslips,
            "csv",
            "text/csv",
            ENCODINGS["timeslips"],
        ),
        ExportLayout(
            "abacus", "AbacusLaw time tickets", write_abacus, "csv", "text/csv", ENCODINGS["abacus"]
        ),
        ExportLayout("csv", "Generic CSV", write_generic_csv, "csv", "text/csv", ENCODINGS["csv"]),
        ExportLayout("ledes", "LEDES 1998B", write_ledes, "txt", "text/plain", LEDES_ENCODING),
    )
}

__all__ = [
    "LAYOUTS",
    "ExportError",
    "ExportLayout",
    "ExportLine",
    "ExportSummary",
    "TimekeeperClassification",
    "UnsortedLines",
    "export_sort_key",
    "tabs3_exports",
    "write_abacus",
    "write_generic_csv",
    "write_ledes",
    "write_pclaw",
    "write_tabs3",
    "write_timeslips",
]
