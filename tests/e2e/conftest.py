"""The whole devstack as a newcomer runs it (`matterline devstack`), in its own process and folder."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
MATTERLINE = [sys.executable, "-m", "devstack.cli"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class RunningDevstack:
    var: Path
    ports: dict[str, int]
    process: subprocess.Popen[str] | None = None
    output: Path | None = None

    @property
    def api(self) -> str:
        return f"http://localhost:{self.ports['api']}"

    @property
    def web(self) -> str:
        return f"http://localhost:{self.ports['web']}"

    def cli(self, *args: str) -> str:
        result = subprocess.run(
            [*MATTERLINE, "--var", str(self.var), *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            env=_clean_env(),
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    def start(self) -> None:
        self.output = self.var / "devstack.log"
        log = self.output.open("a")
        self.process = subprocess.Popen(
            [
                *MATTERLINE,
                "--var",
                str(self.var),
                "devstack",
                "--api-port",
                str(self.ports["api"]),
                "--web-port",
                str(self.ports["web"]),
                "--aws-port",
                str(self.ports["aws"]),
                "--m365-port",
                str(self.ports["m365"]),
                "--clio-port",
                str(self.ports["clio"]),
                "--actionstep-port",
                str(self.ports["actionstep"]),
            ],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
            env=_clean_env(),
        )
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.output.read_text()
            try:
                with urllib.request.urlopen(f"{self.api}/health", timeout=2) as response:
                    if response.status == 200 and "running" in self.output.read_text():
                        return
            except OSError:
                pass
            time.sleep(0.5)
        raise AssertionError(f"the devstack did not start:\n{self.output.read_text()}")

    def stop(self) -> str:
        """Ctrl-C, as a person would; returns what the devstack printed."""
        assert self.process is not None and self.output is not None
        self.process.send_signal(signal.SIGINT)
        self.process.wait(timeout=60)
        return self.output.read_text()

    def aws_client(self, service: str):  # type: ignore[no-untyped-def]
        import boto3

        return boto3.client(
            service,
            endpoint_url=f"http://127.0.0.1:{self.ports['aws']}",
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )


def _clean_env() -> dict[str, str]:
    # The devstack sets its own AWS endpoint; nothing from the test process may leak in.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MATTERLINE_", "MOTO_"))}
    env["PYTHONUNBUFFERED"] = "1"
    return env


@pytest.fixture(scope="session")
def devstack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningDevstack]:
    running = RunningDevstack(
        var=tmp_path_factory.mktemp("var"),
        ports={name: free_port() for name in ("api", "web", "aws", "m365", "clio", "actionstep")},
    )
    running.start()
    yield running
    if running.process and running.process.poll() is None:
        running.stop()


SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-results"


@pytest.fixture
def browser_page() -> Iterator[Any]:
    """A fresh Chromium page for one console test; any script error in any of its tabs fails the test."""
    from tests.e2e.browser import chromium_page

    SCREENSHOTS.mkdir(exist_ok=True)
    with chromium_page(width=1360, height=900) as page:
        problems: list[str] = []
        # On the context, so a second tab of the same test is watched too.
        page.context.on("weberror", lambda error: problems.append(str(error.error)))
        yield page
        assert not problems, f"the console threw: {problems}"
