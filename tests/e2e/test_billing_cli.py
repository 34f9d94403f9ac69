"""An admin's billing day on the devstack: the demo firm is already connected to the simulated Clio; released
time is posted from the command line once, and exported to LEDES with the file written to disk."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest

from tests.support.ledes_check import check_ledes

pytestmark = pytest.mark.e2e


def call(devstack, method: str, path: str, token: str, body: object = None) -> dict:  # type: ignore[no-untyped-def]
    request = urllib.request.Request(
        f"{devstack.api}{path}",
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return dict(json.loads(response.read() or b"{}")) if response.status != 204 else {}


def release_alexs_morning(devstack) -> tuple[str, list[str]]:  # type: ignore[no-untyped-def]
    """Alex puts the demo morning's entries on a Clio-linked matter and releases them."""
    alex = devstack.cli("token", "alex.attorney@halemercer.example")
    view = call(devstack, "GET", "/timeline", alex)
    matter = call(devstack, "GET", "/matters?number=2026-0101", alex)["items"][0]
    released = []
    for entry in view["entries"]:
        if entry["status"] not in ("unassigned", "assigned"):
            continue
        changed = call(
            devstack,
            "PATCH",
            f"/entries/{entry['entry_id']}",
            alex,
            {"version": entry["version"], "matter_id": matter["matter_id"]},
        )
        call(devstack, "POST", f"/entries/{entry['entry_id']}/release", alex, {"version": changed["version"]})
        released.append(entry["entry_id"])
    return str(view["start"])[:10], released


def test_released_time_is_posted_to_the_simulated_clio_once_from_the_command_line(devstack) -> None:
    admin = devstack.cli("token", "--role", "firm_admin")
    clio = call(devstack, "GET", "/connections/billing/clio", admin)
    assert clio["status"] == "connected" and clio["last_sync"]["matters_created"] >= 8
    day, released = release_alexs_morning(devstack)
    assert released
    printed = devstack.cli("post", "clio", "--from", day, "--to", day)
    assert f"{len(released)} posted, 0 already there, 0 failed" in printed
    again = devstack.cli("post", "clio", "--from", day, "--to", day)
    assert "0 posted, 0 already there, 0 failed" in again
    clio_url = json.loads((devstack.var / "devstack.json").read_text())["clio"]
    with urllib.request.urlopen(f"{clio_url}/_sim/state") as reply:
        notes = [activity["note"] for activity in json.loads(reply.read())["activities"]]
    assert sorted(sum(f"[ML-{e}]" in note for note in notes) for e in released) == [1] * len(released)


def test_an_export_to_ledes_is_written_where_asked_and_passes_the_strict_check(
    devstack, tmp_path: Path
) -> None:
    admin = devstack.cli("token", "--role", "firm_admin")
    alex = devstack.cli("token", "alex.attorney@halemercer.example")
    capture = {
        "id": "e2e-ledes-1",
        "type": "manual",
        "at": "2026-03-10T15:00:00Z",
        "duration_seconds": 1800,
        "note": "Reviewed Northwind's supply schedule",
    }
    call(devstack, "POST", "/capture", alex, capture)
    release_day = call(devstack, "GET", "/timeline?date=2026-03-10", alex)
    matter = call(devstack, "GET", "/matters?number=2026-0101", alex)["items"][0]
    for entry in release_day["entries"]:
        changed = call(
            devstack,
            "PATCH",
            f"/entries/{entry['entry_id']}",
            alex,
            {"version": entry["version"], "matter_id": matter["matter_id"]},
        )
        call(devstack, "POST", f"/entries/{entry['entry_id']}/release", alex, {"version": changed["version"]})
    out = tmp_path / "march-10.txt"
    printed = devstack.cli(
        "export", "--format", "ledes", "--from", "2026-03-10", "--to", "2026-03-10", "--out", str(out)
    )
    assert "written to" in printed
    text = out.read_text()
    assert check_ledes(text) == [] and "Reviewed Northwind" in text
    assert call(devstack, "GET", "/exports", admin)["items"][0]["format"] == "ledes"
