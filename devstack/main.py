"""``matterline devstack``: everything on one machine, bound to 127.0.0.1.

    embedded AWS (moto, :5055) ◀── tables, queues, state machines from infra/template.yaml
         ▲  Lambda bridge: Step Functions / SQS / invoke run lambdas/ and app.py in this process
    Microsoft 365 simulator (:8443, TLS) ── Entra ID sign-in, JWKS, tokens; Graph and EWS over the demo
        mailboxes, which the scenario engine fills with a working day; Graph notifies the API's webhook
    API (chalice local, :8000) ── the real app.py
    web (:8001) ── addin/ (console, task pane), /config.json, /devstack/ (outbox, schedules)
    scheduler ── fires app.py's schedules on their cron
    Clio simulator (:8010), Actionstep simulator (:8011) ── OAuth, API, rate limits, faults

State is saved under var/ on stop (and every 30 s) and loaded on start.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
logger = logging.getLogger("devstack")

SNAPSHOT_SECONDS = 30
# How often the scenario engine releases the demo mailboxes' due mail and meetings.
SCENARIO_TICK_SECONDS = 20


@dataclass
class Ports:
    """Where each server listens; 0 picks a free port (tests)."""

    api: int = 8000
    web: int = 8001
    aws: int = 5055
    m365: int = 8443
    clio: int = 8010
    actionstep: int = 8011


@dataclass
class Devstack:
    """Starts and stops every part; ``run_forever`` is what ``make run`` does."""

    var: Path = field(default_factory=lambda: ROOT / "var")
    ports: Ports = field(default_factory=Ports)
    servers: list[Any] = field(default_factory=list)

    def start(self) -> None:
        """Bring everything up, restore saved state, seed the demo firm on first start."""
        from chalicelib.bootstrap import use_container
        from chalicelib.settings import reset_settings
        from devstack.aws.embedded import EmbeddedAws
        from devstack.aws.resources import create_resources
        from devstack.aws.snapshot import load_tables
        from devstack.gateway import install_unauthorized_translation

        self.var.mkdir(parents=True, exist_ok=True)
        self.aws = EmbeddedAws(port=self.ports.aws).start()
        self.resources = create_resources(self.aws, ROOT / "infra" / "template.yaml", stage="local")
        restored = load_tables(self.aws, self.resources.table_names, self.var / "aws")

        identity, m365 = self._start_m365()
        from devstack import demo_billing

        self.clio, self.actionstep = demo_billing.start_simulators(
            self.var, self.ports.clio, self.ports.actionstep
        )
        web_base = f"http://localhost:{self.ports.web}" if self.ports.web else None
        environment = {
            **self.resources.environment,
            "MATTERLINE_IDENTITY_ISSUER_TEMPLATE": f"{m365.base_url}/{{tenant}}/v2.0",
            "MATTERLINE_IDENTITY_JWKS_URL": identity.jwks_uri(),
            "MATTERLINE_IDENTITY_AUDIENCE": self._demo.API_APP_ID_URI,
            "MATTERLINE_IDENTITY_CA_BUNDLE": self.tls.ca_bundle,
            "MATTERLINE_STATE_MACHINES": json.dumps(self._state_machines()),
            # Microsoft 365 capture talks to the simulated tenant exactly as it would to Microsoft's.
            "MATTERLINE_IDENTITY_AUTHORITY": m365.base_url,
            "MATTERLINE_GRAPH_BASE_URL": m365.base_url,
            "MATTERLINE_GRAPH_CA_BUNDLE": self.tls.ca_bundle,
            "MATTERLINE_GRAPH_CLIENT_ID": self._demo.CAPTURE_CLIENT_ID,
            "MATTERLINE_GRAPH_CLIENT_SECRET": self._demo.CAPTURE_CLIENT_SECRET,
            **demo_billing.environment(self.clio, self.actionstep),
        }
        os.environ.update(environment)
        if web_base:
            # Billing consent pages send the browser back to the console on this devstack's own web port.
            os.environ["MATTERLINE_WEB_BASE_URL"] = web_base
        reset_settings()
        use_container(None)
        from chalicelib.bootstrap import container

        seeded = self._demo.ensure_demo_firm(container())
        install_unauthorized_translation()
        self._start_api()
        # OAuth callbacks come back to the API, whose port is known only now.
        os.environ["MATTERLINE_API_BASE_URL"] = f"http://localhost:{self.api_port}"
        reset_settings()
        use_container(None)
        if seeded:
            self._connect_demo_billing()
            self._seed_demo_contractors()
        self._connect_demo_mailboxes()
        self._start_web(web_base)
        self._snapshots = threading.Event()
        threading.Thread(target=self._snapshot_loop, name="devstack-snapshots", daemon=True).start()
        self._write_state()
        self.summary = {"restored_items": sum(restored.values()), "seeded_demo_firm": seeded}

    # -- parts -------------------------------------------------------------------------------------

    def _start_m365(self) -> tuple[Any, Any]:
        from devstack import demo
        from devstack.m365 import Directory, IdentityProvider, M365Server, ensure_ca_and_server_cert

        self._demo = demo
        state = self.var / "m365"
        self.tls = ensure_ca_and_server_cert(state / "tls")
        saved = state / "directory.json"
        redirect_uris = demo.sign_in_redirect_uris(f"http://localhost:{self.ports.web}")
        directory = (
            Directory.from_dict(json.loads(saved.read_text()))
            if saved.exists()
            else demo.demo_directory(redirect_uris)
        )
        demo.upgrade_saved_directory(directory, redirect_uris)
        self.directory = directory
        self.identity = IdentityProvider(directory, state / "identity")
        self.m365 = M365Server(self.identity, port=self.ports.m365, tls=self.tls)
        self._start_mailboxes(state)
        self.m365.start()
        self.servers.append(self.m365)
        return self.identity, self.m365

    def _start_mailboxes(self, state: Path) -> None:
        """Graph and EWS over the demo mailboxes (restored from var/), and the scenario engine that
        keeps producing their working day."""
        from devstack.m365 import GraphSimulator, MailboxStore, NotificationSettings, SimulatorClock
        from devstack.m365.ews import register_ews_routes
        from devstack.m365.scenario import Scenario, install_demo_mailboxes

        self.m365_clock = SimulatorClock()
        saved = {name: state / f"{name}.json" for name in ("mailboxes", "subscriptions", "scenario")}
        self.mail_store = (
            MailboxStore.from_dict(json.loads(saved["mailboxes"].read_text()), self.m365_clock.now)
            if saved["mailboxes"].exists()
            else MailboxStore(self.m365_clock.now)
        )
        install_demo_mailboxes(self.mail_store)
        self.graph = GraphSimulator(
            self.m365,
            self.mail_store,
            clock=self.m365_clock,
            notification_settings=NotificationSettings(verify=self.tls.ca_bundle),
        )
        if saved["subscriptions"].exists():
            self.graph.notifications.load_dict(json.loads(saved["subscriptions"].read_text()))
        register_ews_routes(self.m365, self.mail_store)
        self.scenario = Scenario(self.mail_store, auto_generate=True, clock=self.m365_clock.now)
        if saved["scenario"].exists():
            self.scenario.load_dict(json.loads(saved["scenario"].read_text()))
        self.scenario.register_routes(self.m365)
        self._scenario_stop = threading.Event()
        threading.Thread(target=self._scenario_loop, name="devstack-scenario", daemon=True).start()

    def _scenario_loop(self) -> None:
        # The first tick waits for the API: what it releases is notified to the API's webhook.
        while not self._scenario_stop.wait(SCENARIO_TICK_SECONDS):
            try:
                self.scenario.tick()
            except Exception:
                logger.exception("scenario tick failed; will try again")

    def _connect_demo_mailboxes(self) -> None:
        """Connect the demo tenant for capture on first start (subscriptions and first syncs follow)."""
        from chalicelib.bootstrap import container

        try:
            self._demo.connect_demo_mailboxes(container())
        except Exception:
            logger.exception("could not connect the demo tenant for capture; run `matterline m365 connect`")

    def _connect_demo_billing(self) -> None:
        from chalicelib.bootstrap import container
        from chalicelib.domain.identity import Role
        from devstack import demo_billing

        services = container()
        firm = services.roster.firm_for_tenant(self._demo.TENANT_ID)
        person = next(p for p in self._demo.DEMO_PEOPLE if Role.FIRM_ADMIN in p.roles)
        admin = services.roster.member(firm.firm_id, self._demo.demo_user_id(person)) if firm else None
        if firm is None or admin is None:
            return
        try:
            demo_billing.connect_demo_firm(services, firm.firm_id, admin, "clio")
        except Exception:
            logger.exception(
                "could not connect the demo firm to the simulated Clio; connect it in the console"
            )

    def _seed_demo_contractors(self) -> None:
        """The contractor module's demo (after billing, so the demo case can be a synced matter)."""
        from chalicelib.bootstrap import container
        from chalicelib.domain.identity import Role
        from devstack.demo_contractors import seed_demo_contractors

        services = container()
        firm = services.roster.firm_for_tenant(self._demo.TENANT_ID)
        ids = {
            name: next(self._demo.demo_user_id(p) for p in self._demo.DEMO_PEOPLE if role in p.roles)
            for name, role in (
                ("admin", Role.FIRM_ADMIN),
                ("staff", Role.CONTRACTOR_STAFF),
                ("contractor", Role.CONTRACTOR),
            )
        }
        try:
            if firm is not None:
                seed_demo_contractors(services, firm.firm_id, ids)
        except Exception:
            logger.exception("could not seed the contractor module's demo data")

    def _state_machines(self) -> dict[str, str]:
        # Logical ids are "HousekeepingStateMachine"; workflows are named "housekeeping".
        return {
            logical_id.removesuffix("StateMachine").lower(): arn
            for logical_id, arn in self.resources.state_machine_arns.items()
        }

    def _start_api(self) -> None:
        from chalice.config import Config
        from chalice.local import LocalDevServer

        from app import app

        config = Config.create(
            chalice_stage="local",
            app_name="matterline",
            project_dir=str(ROOT),
            config_from_disk=json.loads((ROOT / ".chalice" / "config.json").read_text()),
        )
        from devstack.gateway import NoDelayRequestHandler

        self.api = LocalDevServer(app, config, "127.0.0.1", self.ports.api, handler_cls=NoDelayRequestHandler)
        self.api_port = self.api.server.server_address[1]
        threading.Thread(target=self.api.serve_forever, name="devstack-api", daemon=True).start()

    def _start_web(self, web_base: str | None) -> None:
        from app import app
        from devstack.outbox import OutboxArchive
        from devstack.schedules import Scheduler
        from devstack.web import WebServer

        self.scheduler = Scheduler(app)
        self.scheduler.start()
        self.outbox = OutboxArchive(self.var / "outbox", self.aws.region)
        self.web = WebServer(
            ROOT / "addin",
            port=self.ports.web,
            config={},
            scheduler=self.scheduler,
            # Every email is saved as .eml under var/outbox/ (it survives a restart) and listed from there.
            outbox=self.outbox.sync,
            outbox_file=self.outbox.path_of,
        )
        self.web.config.update(
            {
                "apiBaseUrl": f"http://localhost:{self.api_port}",
                "authority": self.identity.authority(self._demo.TENANT_ID),
                "clientId": self._demo.API_CLIENT_ID,
                "apiScope": f"{self._demo.API_APP_ID_URI}/{self._demo.API_SCOPE}",
                "redirectUri": f"{self.web.base_url}/console/",
            }
        )
        self.web.start()

    # -- state -------------------------------------------------------------------------------------

    def save(self) -> None:
        """Write every table and the simulated directory under var/."""
        from devstack.aws.snapshot import save_tables

        save_tables(self.aws, self.resources.table_names, self.var / "aws")
        if getattr(self, "outbox", None) is not None:
            self.outbox.sync()
        from devstack.demo_billing import save_simulators

        save_simulators(self.var, self.clio, self.actionstep)
        directory_file = self.var / "m365" / "directory.json"
        temporary = directory_file.with_suffix(".tmp")
        temporary.write_text(json.dumps(self.directory.to_dict(), indent=2))
        temporary.replace(directory_file)
        for name, data in (
            ("mailboxes", self.mail_store.to_dict()),
            ("subscriptions", self.graph.notifications.to_dict()),
            ("scenario", self.scenario.to_dict()),
        ):
            target = self.var / "m365" / f"{name}.json"
            temporary = target.with_suffix(".tmp")
            temporary.write_text(json.dumps(data, default=str))
            temporary.replace(target)

    def _snapshot_loop(self) -> None:
        while not self._snapshots.wait(SNAPSHOT_SECONDS):
            try:
                self.save()
            except Exception:
                logger.exception("periodic save failed; will try again")

    def _write_state(self) -> None:
        """What `matterline token` and `matterline schedule` need to find this devstack."""
        state = {
            "api": f"http://localhost:{self.api_port}",
            "web": self.web.base_url,
            "m365": self.m365.base_url,
            "aws": self.aws.endpoint_url,
            "clio": self.clio.base_url,
            "actionstep": self.actionstep.base_url,
            "tenant_id": self._demo.TENANT_ID,
            "client_id": self._demo.API_CLIENT_ID,
            "audience": self._demo.API_APP_ID_URI,
            "scope": self._demo.API_SCOPE,
        }
        (self.var / "devstack.json").write_text(json.dumps(state, indent=2))
        self.save()

    def stop(self) -> None:
        """Save, then stop every server."""
        self._snapshots.set()
        self.save()
        self.scheduler.stop()
        self.web.stop()
        self.api.shutdown()
        self._scenario_stop.set()
        self.graph.stop()
        self.m365.stop()
        self.clio.stop()
        self.actionstep.stop()
        self.aws.stop()

    # -- the command -------------------------------------------------------------------------------

    def banner(self) -> str:
        from devstack.demo import DEMO_PEOPLE, email_of

        people = "\n".join(
            f"    {email_of(p):<40} {', '.join(sorted(r.value for r in p.roles))}" for p in DEMO_PEOPLE
        )
        return f"""
Matterline devstack is running (Ctrl-C to stop; data is kept in {self.var}).

  API                   http://localhost:{self.api_port}        (/health, /openapi.json, /me)
  console               {self.web.base_url}/console/
  devstack pages        {self.web.base_url}/devstack/   (outbox, schedules)
  Microsoft 365 (sim)   {self.m365.base_url}       (CA: {self.tls.ca_bundle})
                        Graph + EWS; the demo mailboxes' day reaches the timelines by itself
  embedded AWS          {self.aws.endpoint_url}
  Clio (simulated)      {self.clio.base_url}       (the demo firm is connected and synced)
  Actionstep (sim)      {self.actionstep.base_url}

  Demo firm "{self._demo.FIRM_NAME}" — sign in as (no password):
{people}

  A token for the command line:  .venv/bin/matterline token alex.attorney@{self._demo.TENANT_DOMAIN}
"""

    def run_forever(self) -> None:
        """Start, print the URLs, wait for Ctrl-C or SIGTERM, stop cleanly."""
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        self.start()
        print(self.banner(), flush=True)
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
        print("stopping: saving state under var/ ...", flush=True)
        self.stop()
        print("stopped.", flush=True)
