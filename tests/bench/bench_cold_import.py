"""Cold import of app.py (a Lambda cold start) against importing boto3 and chalice alone.

Each figure is the median of fresh interpreter runs, measured inside the child with perf_counter so
interpreter start-up is excluded. Target: ratio ≤ 1.5.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RUNS = 9

_PROBE = """
import time, sys
start = time.perf_counter()
{statement}
sys.stdout.write(str(time.perf_counter() - start))
"""


def cold_import_seconds(statement: str) -> float:
    """Median seconds to run ``statement`` in a fresh interpreter."""
    samples = []
    for _ in range(RUNS):
        output = subprocess.run(
            [sys.executable, "-c", _PROBE.format(statement=statement)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        samples.append(float(output))
    return statistics.median(samples)


def main() -> None:
    # Warm the file cache once so the first measured run is not a disk read.
    cold_import_seconds("import app")
    baseline = cold_import_seconds("import boto3, chalice")
    app = cold_import_seconds("import app")
    print(f"bench: cold import boto3+chalice = {baseline * 1000:.1f} ms")
    print(f"bench: cold import app = {app * 1000:.1f} ms")
    print(f"bench: cold import ratio = {app / baseline:.2f}")


if __name__ == "__main__":
    main()
