"""The devstack's billing side: the simulated Clio and Actionstep accounts and the demo firm's links to them.

On the first start the demo firm connects to the simulated Clio through the real OAuth flow (consent
page, code, callback, sealed tokens) and syncs, so its matters, clients, contacts and activity types
arrive with their Clio ids, exactly as a firm's would.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

logger = logging.getLogger(__name__)

CLIO_CLIENT_ID = "matterline-devstack"
CLIO_CLIENT_SECRET = "devstack-clio-secret"
ACTIONSTEP_CLIENT_ID = "matterline-devstack"
ACTIONSTEP_CLIENT_SECRET = "devstack-actionstep-secret"


def approve_consent(authorize_url: str, *, session: requests.Session | None = None) -> str:
    """Click "Allow access" on a simulated consent page; returns where it redirects (our callback).

    Only for the simulators: a real Clio or Actionstep consent page needs a person in a browser.
    """
    http = session or requests.Session()
    page = http.get(authorize_url, timeout=10)
    page.raise_for_status()
    parts = urlsplit(authorize_url)
    fields = {name: values[0] for name, values in parse_qs(parts.query).items()}
    answer = http.post(
        f"{parts.scheme}://{parts.netloc}{parts.path}",
        data={**fields, "decision": "allow"},
        allow_redirects=False,
        timeout=10,
    )
    location = answer.headers.get("Location")
    if answer.status_code not in (302, 303) or not location:
        raise RuntimeError(f"the simulated consent page did not redirect (HTTP {answer.status_code})")
    return location


def start_simulators(var: Path, clio_port: int, actionstep_port: int) -> tuple[Any, Any]:
    """Start both billing simulators with their saved accounts (or freshly seeded ones)."""
    from devstack.billing.actionstep import ActionstepSimulator
    from devstack.billing.clio import ClioSimulator

    state = var / "billing"
    state.mkdir(parents=True, exist_ok=True)
    simulators = []
    for cls, port, name, client_id, secret in (
        (ClioSimulator, clio_port, "clio", CLIO_CLIENT_ID, CLIO_CLIENT_SECRET),
        (ActionstepSimulator, actionstep_port, "actionstep", ACTIONSTEP_CLIENT_ID, ACTIONSTEP_CLIENT_SECRET),
    ):
        saved = state / f"{name}.json"
        options: dict[str, Any] = {"port": port, "client_id": client_id, "client_secret": secret}
        if saved.exists():
            simulator = cls.from_dict(json.loads(saved.read_text()), **options)
        else:
            simulator = cls(**options)
        simulator.start()
        simulators.append(simulator)
    return simulators[0], simulators[1]


def save_simulators(var: Path, clio: Any, actionstep: Any) -> None:
    """Keep the simulated accounts (what was posted, tokens) across devstack restarts."""
    state = var / "billing"
    state.mkdir(parents=True, exist_ok=True)
    for name, simulator in (("clio", clio), ("actionstep", actionstep)):
        target = state / f"{name}.json"
        partial = target.with_suffix(".json.partial")
        partial.write_text(json.dumps(simulator.to_dict()))
        partial.replace(target)


def environment(clio: Any, actionstep: Any) -> dict[str, str]:
    """Settings that point the app's billing adapters at the simulators."""
    return {
        "MATTERLINE_CLIO_AUTHORIZE_URL": f"{clio.base_url}{clio.AUTHORIZE_PATH}",
        "MATTERLINE_CLIO_TOKEN_URL": f"{clio.base_url}{clio.TOKEN_PATH}",
        "MATTERLINE_CLIO_API_BASE": f"{clio.base_url}/api/v4",
        "MATTERLINE_CLIO_CLIENT_ID": CLIO_CLIENT_ID,
        "MATTERLINE_CLIO_CLIENT_SECRET": CLIO_CLIENT_SECRET,
        "MATTERLINE_ACTIONSTEP_AUTHORIZE_URL": f"{actionstep.base_url}{actionstep.AUTHORIZE_PATH}",
        "MATTERLINE_ACTIONSTEP_TOKEN_URL": f"{actionstep.base_url}{actionstep.TOKEN_PATH}",
        "MATTERLINE_ACTIONSTEP_CLIENT_ID": ACTIONSTEP_CLIENT_ID,
        "MATTERLINE_ACTIONSTEP_CLIENT_SECRET": ACTIONSTEP_CLIENT_SECRET,
    }


def connect_demo_firm(container: Any, firm_id: str, admin: Any, system: str = "clio") -> dict[str, Any]:
    """Connect the demo firm to a simulated system through the real OAuth flow, then sync it."""
    from chalicelib.domain.identity import Principal

    principal = Principal(
        kind="user",
        firm_id=firm_id,
        subject_id=admin.user_id,
        roles=admin.roles,
        email=admin.email,
    )
    service = container.billing
    callback = approve_consent(service.begin_connect(principal, system))
    query = {name: values[0] for name, values in parse_qs(urlsplit(callback).query).items()}
    service.complete_connect(system, query["code"], query["state"])
    summary: dict[str, Any] = service.sync(principal, system)
    logger.info("demo firm connected to the simulated %s: %s", system, summary)
    return summary
