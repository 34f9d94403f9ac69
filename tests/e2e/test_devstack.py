"""A newcomer's first minutes: the devstack starts, answers, signs people in, and keeps its data."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-results"


def get(url: str, token: str | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def test_health_answers_and_me_needs_the_token_the_cli_prints(devstack) -> None:
    assert get(f"{devstack.api}/health") == (200, {"status": "ok"})
    assert get(f"{devstack.api}/me")[0] == 401
    token = devstack.cli("token", "alex.attorney@halemercer.example")
    status, me = get(f"{devstack.api}/me", token)
    assert status == 200 and me["user"]["display_name"] == "Alex Attorney"
    status, me = get(f"{devstack.api}/me", devstack.cli("token", "--role", "firm_admin"))
    assert me["user"]["roles"] == ["firm_admin"]


def test_a_schedule_fired_on_demand_runs_its_state_machine_through_the_lambda_bridge(devstack) -> None:
    fired = json.loads(devstack.cli("schedule", "housekeeping"))
    execution = fired["result"]["execution_arn"]
    stepfunctions = devstack.aws_client("stepfunctions")
    deadline = time.monotonic() + 30
    while (described := stepfunctions.describe_execution(executionArn=execution))["status"] == "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.3)
    assert described["status"] == "SUCCEEDED", described.get("cause")
    output = json.loads(described["output"])
    assert len(output["firms"]) == 1 and output["expired"][0]["expired"] == 0


def test_the_console_signs_a_person_in_through_the_simulated_entra_id(devstack, tmp_path) -> None:
    from tests.e2e.browser import chromium_page

    SCREENSHOTS.mkdir(exist_ok=True)
    with chromium_page() as page:
        page.goto(f"{devstack.web}/console/")
        page.screenshot(path=str(SCREENSHOTS / "console-signed-out.png"))
        page.get_by_role("button", name="Sign in with Microsoft").click()
        page.wait_for_selector("text=Fiona Admin")
        page.screenshot(path=str(SCREENSHOTS / "entra-sign-in.png"))
        page.go_back()
        page.get_by_role("button", name="Sign in with Microsoft").click()
        page.get_by_role("button", name="Fiona Admin").click()
        page.wait_for_selector("#roster-rows tr")
        assert "Fiona Admin · Hale & Mercer LLP" in page.locator("#who").inner_text()
        # The six demo people; someone another test invited and then disabled does not count.
        assert page.locator("#roster-rows tr:not(:has(td.status-disabled))").count() == 6
        page.screenshot(path=str(SCREENSHOTS / "console-signed-in.png"), full_page=True)


def test_data_survives_a_restart(devstack) -> None:
    admin = devstack.cli("token", "--role", "firm_admin")
    body = json.dumps(
        {"email": "new.hire@halemercer.example", "display_name": "New Hire", "roles": ["attorney"]}
    )
    request = urllib.request.Request(
        f"{devstack.api}/users",
        data=body.encode(),
        method="POST",
        headers={"Authorization": f"Bearer {admin}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 201
    firm_before = get(f"{devstack.api}/me", admin)[1]["firm"]["firm_id"]

    printed = devstack.stop()
    assert "stopped." in printed
    devstack.start()

    admin = devstack.cli("token", "--role", "firm_admin")
    status, me = get(f"{devstack.api}/me", admin)
    assert status == 200 and me["firm"]["firm_id"] == firm_before
    people = get(f"{devstack.api}/users?limit=200", admin)[1]["items"]
    # The demo six and the new hire; people other tests invited and then disabled do not count.
    emails = [user["email"] for user in people if user["status"] != "disabled"]
    assert "new.hire@halemercer.example" in emails and len(emails) == 7


def test_calls_imported_from_the_command_line_show_in_the_printed_day(devstack, tmp_path) -> None:
    export = tmp_path / "calls.csv"
    export.write_text(
        "call_id,start,duration,direction,extension,number,name\n"
        "e2e-1,2026-03-09T14:00:00Z,600,inbound,202,+1 212 555 0100,Acme Holdings\n"
        "e2e-2,2026-03-09T15:00:00Z,95,outbound,202,+1 212 555 0101,\n"
    )
    preview = devstack.cli("calls", "import", str(export))
    assert "2 calls" in preview and "nothing imported" in preview
    committed = devstack.cli("calls", "import", str(export), "--commit")
    assert "imported 2 new calls" in committed
    again = devstack.cli("calls", "import", str(export), "--commit")
    assert "imported 0 new calls" in again
    printed = devstack.cli("day", "alex.attorney@halemercer.example", "--date", "2026-03-09")
    assert "Telephone call with +12125550100" in printed and " 0.20 h" in printed


def test_the_demo_attorney_starts_with_a_believable_day(devstack) -> None:
    printed = devstack.cli("day", "alex.attorney@halemercer.example")
    assert "Reviewed Contoso's document production (box 3)" in printed
    assert "Email to dana.reyes@northwind-logistics.example re: RE: Northwind" in printed


def test_an_admin_imports_clients_and_matters_from_the_command_line_with_a_bad_file_refused(devstack) -> None:
    fixtures = Path(__file__).resolve().parents[1] / "fixtures" / "imports"
    preview = devstack.cli("import", "clients", str(fixtures / "clients.csv"))
    assert "would import" in preview and "preview only" in preview
    assert "imported" in devstack.cli("import", "clients", str(fixtures / "clients.csv"), "--commit")
    refused = subprocess_cli(devstack, "import", "matters", str(fixtures / "matters_bad.csv"), "--commit")
    assert refused.returncode == 1
    assert "unknown client 'C-999'" in refused.stdout and "nothing was imported" in refused.stdout


def subprocess_cli(devstack, *args: str):  # type: ignore[no-untyped-def]
    import subprocess

    from tests.e2e.conftest import MATTERLINE, ROOT, _clean_env

    return subprocess.run(
        [*MATTERLINE, "--var", str(devstack.var), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env=_clean_env(),
    )
