"""LEDES 1998B export of 100,000 lines: time, peak memory, and the cost over a bare csv.writer.

The lines are generated lazily from a fixed seed, already in export order: 40 clients with 25 matters
each (1,000 invoices of 100 lines at 100k), five timekeepers, UTBMS codes on most lines, a discount on
some, no-charge time on a few, and descriptions that need sanitising now and then (a ``|``, brackets, a
line break, accents, typographic dashes). Nothing is held in a list: the writer pulls each line as it
goes, which is how the billing service feeds it.

Figures (one line each, ``bench: NAME = VALUE UNIT``):

    ledes 100k seconds      ``write_ledes`` of 100k lines to a file, median of three runs
    ledes 100k peak MB      tracemalloc peak during one such export (a separate run: tracing is slow)
    ledes 10k peak MB       the same at 10k lines; the two should match, because the writer holds one
                            invoice at a time and the invoices are the same size
    ledes 100k ratio        our seconds / the baseline's: the same generated lines written as 24
                            pipe-separated fields by a bare ``csv.writer``, with no validation, no
                            sanitising, no invoice totals. Generating the lines is in both figures.

The exported file is then read back by the independent checker (``tests/support/ledes_check.py``) so
the timed output is known to be valid.
"""

from __future__ import annotations

import csv
import gc
import random
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from chalicelib.domain.exports import ExportLine, write_ledes  # noqa: E402
from tests.support.ledes_check import check_ledes  # noqa: E402

SEED = 20260331
RUNS = 3
LINES = 100_000
SMALL = 10_000
LINES_PER_MATTER = 100
MATTERS_PER_CLIENT = 25
PERIOD_START = date(2026, 3, 1)
PERIOD_END = date(2026, 3, 31)

TIMEKEEPERS = [
    ("ADA", "Lovelace, Ada", "PT", Decimal("650.00")),
    ("GH", "Hopper, Grace", "AS", Decimal("395.00")),
    ("AT", "Turing, Alan", "OC", Decimal("550.00")),
    ("MN", "Nunez, Maria", "LA", Decimal("185.00")),
    ("CB", "Babbage, Charles", "OT", Decimal("120.00")),
]
WORK = [
    ("L110", "A102", "Research", "Research case law on {topic}"),
    ("L120", "A104", "Review", "Review and analyze {topic}"),
    ("L210", "A103", "Draft", "Draft motion re: {topic}"),
    ("L310", "A103", "Draft", "Draft responses to interrogatories | set {n}"),
    ("L330", "A109", "Attend", "Attend deposition [witness {n}]"),
    ("L160", "A106", "Email", "Email to client re: settlement \u2013 {topic}"),
    (None, "A105", "Conference", "Conference with team re: {topic}\nfollow-up items"),
    (None, None, "Administration", "Update matter file for r\u00e9sum\u00e9 of {topic}"),
]
TOPICS = ["indemnity clause", "expert report", "summary judgment", "privilege log", "damages model"]
LEDES_OPTIONS = {
    "law_firm_id": "24-6437381",
    "invoice_date": date(2026, 4, 2),
    "billing_start": PERIOD_START,
    "billing_end": PERIOD_END,
    "invoice_number_for": lambda client, matter: f"MAR26-{matter}",
    "description": "Professional services, March 2026",
}


def generate(count: int, seed: int = SEED) -> Iterator[ExportLine]:
    """``count`` export lines in (client, matter, day, entry id) order, made one at a time."""
    rng = random.Random(seed)
    made = 0
    client = 0
    while made < count:
        client += 1
        client_number = f"{1000 + client}"
        for matter in range(1, MATTERS_PER_CLIENT + 1):
            matter_number = f"{client_number}-{matter:03d}"
            for index in range(LINES_PER_MATTER):
                if made == count:
                    return
                made += 1
                timekeeper, name, classification, rate = rng.choice(TIMEKEEPERS)
                task, activity, activity_name, template = rng.choice(WORK)
                roll = rng.random()
                yield ExportLine(
                    entry_id=f"e{made:08d}",
                    day=PERIOD_START + timedelta(days=index * 31 // LINES_PER_MATTER),
                    client_number=client_number,
                    client_name=f"Client {client_number}",
                    matter_number=matter_number,
                    matter_name=f"Matter {matter_number}",
                    timekeeper_id=timekeeper,
                    timekeeper_name=name,
                    timekeeper_classification=classification,
                    billed_seconds=360 * rng.randint(1, 40),
                    rate=rate,
                    task_code=task,
                    activity_code=activity,
                    activity_name=activity_name,
                    description=template.format(topic=rng.choice(TOPICS), n=rng.randint(1, 9)),
                    billable=roll > 0.03,
                    adjustment=Decimal("-25.00") if roll > 0.95 else Decimal("0.00"),
                )


def export_ours(lines: Iterator[ExportLine], path: Path) -> None:
    with path.open("w", encoding="ascii", newline="") as out:
        write_ledes(lines, out, **LEDES_OPTIONS)  # type: ignore[arg-type]


def export_baseline(lines: Iterator[ExportLine], path: Path) -> None:
    """The same lines as 24 pipe-separated fields through a bare csv.writer: no rules at all."""
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("LEDES1998B[]\r\n")
        writer = csv.writer(out, delimiter="|", lineterminator="[]\r\n")
        for line in lines:
            writer.writerow(
                [
                    "20260402",
                    f"MAR26-{line.matter_number}",
                    line.client_number,
                    line.matter_number,
                    "",
                    "20260301",
                    "20260331",
                    "Professional services, March 2026",
                    line.entry_id,
                    "F",
                    line.billed_seconds / 3600,
                    line.adjustment,
                    line.rate,
                    line.day.strftime("%Y%m%d"),
                    line.task_code or "",
                    "",
                    line.activity_code or "",
                    line.timekeeper_id,
                    line.description,
                    "24-6437381",
                    line.rate,
                    line.timekeeper_name,
                    line.timekeeper_classification,
                    "",
                ]
            )


def seconds_for(export: Callable[[Iterator[ExportLine], Path], None], count: int, path: Path) -> float:
    gc.collect()
    start = time.perf_counter()
    export(generate(count), path)
    return time.perf_counter() - start


def peak_mb(count: int, path: Path) -> float:
    """Peak traced memory above what was in use before the export started."""
    gc.collect()
    tracemalloc.start()
    tracemalloc.reset_peak()
    before = tracemalloc.get_traced_memory()[0]
    export_ours(generate(count), path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return (peak - before) / 1_000_000


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        ours_path = Path(folder) / "ledes.txt"
        baseline_path = Path(folder) / "baseline.txt"
        ours: list[float] = []
        baseline: list[float] = []
        for _ in range(RUNS):  # alternate, so drift on a shared machine hits both alike
            ours.append(seconds_for(export_ours, LINES, ours_path))
            baseline.append(seconds_for(export_baseline, LINES, baseline_path))
        ours_seconds = statistics.median(ours)
        baseline_seconds = statistics.median(baseline)

        problems = check_ledes(ours_path.read_text(encoding="ascii"))
        if problems:
            raise SystemExit(f"the exported file is not valid LEDES: {problems[:5]}")

        small_peak = peak_mb(SMALL, ours_path)
        large_peak = peak_mb(LINES, ours_path)

    print(f"bench: ledes 100k seconds = {ours_seconds:.2f} s")
    print(f"bench: ledes 100k baseline seconds = {baseline_seconds:.2f} s")
    print(f"bench: ledes 10k peak MB = {small_peak:.2f} MB")
    print(f"bench: ledes 100k peak MB = {large_peak:.2f} MB")
    print(f"bench: ledes 100k ratio = {ours_seconds / baseline_seconds:.2f}")


if __name__ == "__main__":
    main()
