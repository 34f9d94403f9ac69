"""The deployable bundle: ``make package`` merges chalice's stack with infra/template.yaml, ships the
workers, the email templates and the state machines, and passes cfn-lint; every state machine passes
the ASL linter (``asl-validator`` from npm, installed by ``make test``'s npm ci)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack.aws.cfn_yaml import load_template

ROOT = Path(__file__).resolve().parents[2]
STATE_MACHINES = sorted((ROOT / "infra" / "statemachines").glob("*.asl.json"))


@pytest.fixture(scope="module")
def packaged(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Run the Makefile's package recipe in a copy of the sources, so the working tree stays as it is."""
    work = tmp_path_factory.mktemp("package") / "src"
    ignore = shutil.ignore_patterns(
        ".venv", "node_modules", "build", "var", ".git", "*.egg-info", "__pycache__"
    )
    shutil.copytree(ROOT, work, ignore=ignore)
    (work / ".venv").symlink_to(ROOT / ".venv")
    (work / "node_modules").symlink_to(ROOT / "node_modules")
    # The venv is already installed: the package recipe must not reinstall it from the copy.
    result = subprocess.run(
        ["make", "-s", "package", "-o", ".venv/.installed", "-o", "web-libs"],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    yield work / "build"


def test_the_package_holds_the_workers_templates_and_state_machines(packaged: Path) -> None:
    with zipfile.ZipFile(packaged / "deployment.zip") as bundle:
        names = set(bundle.namelist())

    assert {"app.py", "chalicelib/bootstrap.py", "lambdas/reports.py", "lambdas/invoice_approval.py"} <= names
    assert {"templates/email/_layout.html", "templates/email/attorney_report.txt"} <= names
    assert {"jinja2/__init__.py", "reportlab/__init__.py"} <= names  # vendored runtime dependencies
    assert sorted(p.name for p in (packaged / "statemachines").glob("*.asl.json")) == [
        p.name for p in STATE_MACHINES
    ]


def test_the_packaged_template_passes_cfn_lint(packaged: Path) -> None:
    template = packaged / "sam.yaml"
    resources = load_template(template)["Resources"]

    result = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), str(template)],
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    for logical_id in (
        "ReportsStateMachine",
        "ExportsStateMachine",
        "InvoicesStateMachine",
        "HousekeepingStateMachine",
    ):
        assert resources[logical_id]["Type"] == "AWS::Serverless::StateMachine"
    assert resources["Table"]["Properties"]["PointInTimeRecoverySpecification"] == {
        "PointInTimeRecoveryEnabled": True
    }
    assert resources["WorkQueue"]["Properties"]["RedrivePolicy"]["maxReceiveCount"] == 5
    assert resources["AddinDistribution"]["Type"] == "AWS::CloudFront::Distribution"


@pytest.mark.parametrize("definition", STATE_MACHINES, ids=[p.stem for p in STATE_MACHINES])
def test_every_state_machine_passes_the_asl_linter(definition: Path) -> None:
    linter = ROOT / "node_modules" / ".bin" / "asl-validator"
    if not linter.exists():
        pytest.fail("asl-validator is missing: `make test` installs it (npm ci), or run `npm ci`")
    json.loads(definition.read_text())  # valid JSON first, for a clearer message

    result = subprocess.run(
        [str(linter), "--json-path", str(definition)], capture_output=True, text=True, timeout=120
    )

    assert result.returncode == 0, result.stdout + result.stderr
