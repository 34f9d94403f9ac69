"""``matterline``: the admin command line. ``matterline devstack`` is what ``make run`` starts."""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from pathlib import Path

from devstack.main import ROOT

VAR = ROOT / "var"


def _state(var: Path) -> dict[str, str]:
    path = var / "devstack.json"
    if not path.exists():
        sys.exit("matterline: no devstack has run here yet; start one with `make run`")
    return json.loads(path.read_text())


def cmd_devstack(args: argparse.Namespace) -> int:
    import logging

    from devstack.main import Devstack, Ports

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    Devstack(
        var=args.var,
        ports=Ports(
            api=args.api_port,
            web=args.web_port,
            aws=args.aws_port,
            m365=args.m365_port,
            clio=args.clio_port,
            actionstep=args.actionstep_port,
        ),
    ).run_forever()
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    if args.role:
        email = _email_for_role(args.role)
    elif args.email:
        email = args.email
    else:
        sys.exit("matterline token: give an EMAIL or --role ROLE")
    print(_mint(args.var, email, args.lifetime))
    return 0


def _email_for_role(role: str) -> str:
    from devstack.demo import DEMO_PEOPLE, email_of

    person = next((p for p in DEMO_PEOPLE if any(r.value == role for r in p.roles)), None)
    if person is None:
        roles = sorted({r.value for p in DEMO_PEOPLE for r in p.roles})
        sys.exit(f"matterline: no demo user has the role '{role}'; roles: {', '.join(roles)}")
    return email_of(person)


def _mint(var: Path, email: str, lifetime: int = 3600) -> str:
    """A token for a user of the running devstack, signed with its own key (var/m365/identity)."""
    from devstack.demo import API_SCOPE
    from devstack.m365 import Directory, IdentityProvider

    state = _state(var)
    directory = Directory.from_dict(json.loads((var / "m365" / "directory.json").read_text()))
    found = directory.find_user_by_email(email)
    if found is None:
        sys.exit(f"matterline: {email} is not a user of the simulated tenant")
    tenant, user = found
    identity = IdentityProvider(directory, var / "m365" / "identity", base_url=state["m365"])
    return identity.issue_access_token(
        tenant.tenant_id,
        user.oid,
        state["audience"],
        client_id=state["client_id"],
        scopes=(API_SCOPE,),
        lifetime_seconds=lifetime,
    )


def _call_api(
    args: argparse.Namespace, method: str, path: str, email: str, body: object = None
) -> tuple[int, dict]:
    """Call the API as ``email`` (devstack) or with --token against any deployment (--api)."""
    base = args.api or _state(args.var)["api"]
    token = args.token or _mint(args.var, email)
    request = urllib.request.Request(
        f"{base}{path}",
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=300) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")
    except urllib.error.URLError:
        sys.exit(f"matterline: the API at {base} cannot be reached; is the devstack running (`make run`)?")


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:5.2f} h"


def cmd_day(args: argparse.Namespace) -> int:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    query = f"week_of={args.date}" if args.week else (f"date={args.date}" if args.date else "")
    status, view = _call_api(args, "GET", f"/timeline?{query}", args.email)
    if status != 200:
        sys.exit(f"matterline: {view.get('detail', view)}")
    zone = ZoneInfo(view["time_zone"])
    print(f"{args.email} · {view['start']} to {view['end']} ({view['time_zone']})\n")
    print(f"{'start':<6} {'status':<11} {'matter':<12} {'raw':>8} {'billed':>8}  narrative")
    for entry in view["entries"]:
        start = ""
        if entry["start"]:
            started = datetime.fromisoformat(entry["start"].replace("Z", "+00:00"))
            start = started.astimezone(zone).strftime("%H:%M")
        matter = entry["matter_id"] or "-"
        print(
            f"{start:<6} {entry['status']:<11} {matter:<12} {_hours(entry['raw_seconds'])} "
            f"{_hours(entry['billed_seconds'])}  {entry['narrative'][:70]}"
        )
    totals = view["totals"]
    buckets = ["captured", "unassigned", "assigned", "released", "exported", "personal"]
    print("\n" + " · ".join(f"{name} {_hours(totals[f'{name}_seconds'] or 0)}" for name in buckets))
    return 0


def cmd_calls_import(args: argparse.Namespace) -> int:
    text = args.file.read_text(encoding="utf-8-sig")
    admin = args.as_email or _email_for_role("firm_admin")
    print(f"reading {args.file} ({len(text.splitlines())} lines) ...", file=sys.stderr)
    status, report = _call_api(args, "POST", "/calls/import", admin, {"csv": text, "commit": args.commit})
    if status not in (200, 422) or "calls" not in report:
        sys.exit(f"matterline: {report.get('detail', report)}")
    for error in report["errors"]:
        print(f"line {error['line']:>6}  {error['field']:<12} {error['message']}")
    outcome = f"imported {report['new_calls']} new calls" if report["committed"] else "nothing imported"
    print(
        f"{report['calls']} calls, {report['skipped_missed']} missed calls skipped, "
        f"{len(report['errors'])} problems; {outcome}"
    )
    if not args.commit and not report["errors"]:
        print("preview only: run again with --commit to import")
    return 1 if report["errors"] else 0


def cmd_schedule(args: argparse.Namespace) -> int:
    state = _state(args.var)
    request = urllib.request.Request(
        f"{state['web']}/devstack/schedules/{args.name}/fire", method="POST", data=b""
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            print(json.dumps(json.loads(response.read()), indent=2))
    except urllib.error.HTTPError as error:
        sys.exit(f"matterline: {json.loads(error.read()).get('error', error)}")
    except urllib.error.URLError:
        sys.exit("matterline: the devstack is not running; start it with `make run`")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    """Send a CSV, showing the server's progress while it checks and writes."""
    import threading
    import uuid

    text = args.file.read_text(encoding="utf-8-sig")
    admin = args.as_email or _email_for_role("firm_admin")
    job_id = f"cli-{uuid.uuid4().hex[:12]}"
    outcome: dict[str, tuple[int, dict]] = {}

    def send() -> None:
        body = {"csv": text, "commit": args.commit, "job_id": job_id}
        outcome["reply"] = _call_api(args, "POST", f"/imports/{args.kind}", admin, body)

    worker = threading.Thread(target=send)
    worker.start()
    while worker.is_alive():
        worker.join(0.5)
        status, job = _call_api(args, "GET", f"/imports/jobs/{job_id}", admin)
        if status == 200 and job.get("total"):
            share = job["done"] / job["total"]
            bar = "#" * int(share * 30)
            print(f"\r{job['phase']:<9} [{bar:<30}] {job['done']}/{job['total']}", end="", file=sys.stderr)
    print(file=sys.stderr)
    status, report = outcome["reply"]
    if "rows" not in report:
        sys.exit(f"matterline: {report.get('detail', report)}")
    for error in report["errors"]:
        print(f"line {error['line']:>6}  {error['field']:<16} {error['message']}")
    if report["error_count"] > len(report["errors"]):
        print(f"... and {report['error_count'] - len(report['errors'])} more problems")
    verb = "imported" if report["committed"] else "would import"
    print(
        f"{report['rows']} rows: {verb} {report['creates']} new, {report['updates']} updated, "
        f"{report['unchanged']} unchanged; {report['error_count']} problems"
    )
    if report["error_count"]:
        print("nothing was imported: fix the rows above and run again")
    elif not args.commit:
        print("preview only: run again with --commit to import")
    return 1 if report["error_count"] else 0


def cmd_suggest_evaluate(args: argparse.Namespace) -> int:
    from devstack.suggestion_eval import main as evaluate

    return int(evaluate(args.rest) or 0)


def _user_ids_by_email(args: argparse.Namespace, admin: str) -> dict[str, str]:
    """The firm's roster as email -> user id (every page)."""
    found: dict[str, str] = {}
    cursor = ""
    while True:
        status, page = _call_api(
            args, "GET", f"/users?limit=200{'&cursor=' + cursor if cursor else ''}", admin
        )
        if status != 200:
            sys.exit(f"matterline: {page.get('detail', page)}")
        found.update({user["email"].lower(): user["user_id"] for user in page["items"]})
        if not page.get("next_cursor"):
            return found
        cursor = page["next_cursor"]


def _print_connection(connection: dict) -> None:
    print(
        f"tenant {connection['tenant_id']} · app {connection['client_id']} · {connection['protocol']}"
        + (f" ({connection['ews_endpoint']})" if connection.get("ews_endpoint") else "")
    )
    for user in connection["users"]:
        state = "on " if user["enabled"] else "off"
        folders = " ".join(
            f"{f['folder']}:{(f['last_synced_at'] or 'never')[:19]}{'!' if f['last_error'] else ''}"
            for f in user["folders"]
        )
        print(f"  {state} {user['mailbox']:<40} {folders}")
    for error in connection["errors"]:
        print(f"  error {error['user_id']}/{error['folder']}: {error['error']}")


def cmd_m365_connect(args: argparse.Namespace) -> int:
    """Connect the firm's tenant (Graph by default, EWS with --ews ENDPOINT)."""
    admin = args.as_email or _email_for_role("firm_admin")
    body: dict[str, object] = {"protocol": "ews" if args.ews else "graph"}
    for name, value in (
        ("tenant_id", args.tenant),
        ("client_id", args.client_id),
        ("client_secret", args.client_secret),
        ("ews_endpoint", args.ews),
    ):
        if value:
            body[name] = value
    if args.user:
        roster = _user_ids_by_email(args, admin)
        missing = [email for email in args.user if email.lower() not in roster]
        if missing:
            sys.exit(f"matterline: not in the firm's roster: {', '.join(missing)}")
        body["users"] = [{"user_id": roster[email.lower()]} for email in args.user]
    status, connection = _call_api(args, "PUT", "/connections/microsoft", admin, body)
    if status != 200:
        sys.exit(f"matterline: {connection.get('detail', connection)}")
    print("connected; subscriptions and first syncs run in the background")
    _print_connection(connection)
    return 0


def cmd_m365_subscriptions(args: argparse.Namespace) -> int:
    """List the firm's Graph subscriptions and when each is renewed."""
    admin = args.as_email or _email_for_role("firm_admin")
    status, subscriptions = _call_api(args, "GET", "/connections/microsoft/subscriptions", admin)
    if status != 200:
        sys.exit(f"matterline: {subscriptions.get('detail', subscriptions)}")
    print(f"{'user':<16} {'folder':<10} {'expires':<20} {'renew from':<20} subscription")
    for item in subscriptions:
        print(
            f"{item['user_id']:<16} {item['folder']:<10} {item['expires_at'][:19]:<20} "
            f"{item['renewal_due_at'][:19]:<20} {item['subscription_id']}"
        )
    return 0


def cmd_m365_sync(args: argparse.Namespace) -> int:
    """Queue a sync now, of everyone or of one person (--user EMAIL)."""
    admin = args.as_email or _email_for_role("firm_admin")
    query = ""
    if args.user:
        roster = _user_ids_by_email(args, admin)
        if args.user.lower() not in roster:
            sys.exit(f"matterline: {args.user} is not in the firm's roster")
        query = f"?user_id={roster[args.user.lower()]}"
    status, queued = _call_api(args, "POST", f"/connections/microsoft/sync{query}", admin)
    if status != 202:
        sys.exit(f"matterline: {queued.get('detail', queued)}")
    print(f"queued {queued['queued']} folder syncs")
    status, connection = _call_api(args, "GET", "/connections/microsoft", admin)
    if status == 200:
        _print_connection(connection)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="matterline", description="Matterline's admin command line.")
    parser.add_argument("--var", type=Path, default=VAR, help="the devstack's state folder (default: var/)")
    parser.add_argument("--api", help="API base URL (default: the running devstack's)")
    parser.add_argument("--token", help="bearer token to use instead of a devstack-minted one")
    commands = parser.add_subparsers(dest="command", required=True)

    devstack = commands.add_parser("devstack", help="run everything on this machine (what `make run` does)")
    devstack.add_argument("--api-port", type=int, default=8000)
    devstack.add_argument("--web-port", type=int, default=8001)
    devstack.add_argument("--aws-port", type=int, default=5055)
    devstack.add_argument("--m365-port", type=int, default=8443)
    devstack.add_argument("--clio-port", type=int, default=8010)
    devstack.add_argument("--actionstep-port", type=int, default=8011)
    devstack.set_defaults(handler=cmd_devstack)

    token = commands.add_parser("token", help="print a bearer token for a demo user of the running devstack")
    token.add_argument("email", nargs="?")
    token.add_argument("--role", help="the first demo user with this role (e.g. attorney, firm_admin)")
    token.add_argument("--lifetime", type=int, default=3600, help="seconds the token is valid")
    token.set_defaults(handler=cmd_token)

    day = commands.add_parser("day", help="print a user's day (or week) of time entries")
    day.add_argument("email")
    day.add_argument("--date", help="YYYY-MM-DD (default: today in the user's time zone)")
    day.add_argument("--week", action="store_true", help="the Monday-to-Sunday week of --date")
    day.set_defaults(handler=cmd_day)

    calls = commands.add_parser("calls", help="phone calls")
    calls_commands = calls.add_subparsers(dest="calls_command", required=True)
    calls_import = calls_commands.add_parser("import", help="import a CSV of call-detail records")
    calls_import.add_argument("file", type=Path)
    calls_import.add_argument("--commit", action="store_true", help="import (default: preview only)")
    calls_import.add_argument("--as-email", help="the admin to act as (default: the demo firm admin)")
    calls_import.set_defaults(handler=cmd_calls_import)

    importer = commands.add_parser("import", help="import clients, matters, contacts or the roster from CSV")
    importer.add_argument("kind", choices=["clients", "matters", "contacts", "roster"])
    importer.add_argument("file", type=Path)
    importer.add_argument("--commit", action="store_true", help="import (default: preview only)")
    importer.add_argument("--as-email", help="the admin to act as (default: the demo firm admin)")
    importer.set_defaults(handler=cmd_import)

    suggest = commands.add_parser("suggest", help="matter suggestions")
    suggest_commands = suggest.add_subparsers(dest="suggest_command", required=True)
    evaluate = suggest_commands.add_parser(
        "evaluate", help="evaluate the engine on a generated labelled set (--help for its options)"
    )
    evaluate.add_argument("rest", nargs=argparse.REMAINDER, help="options for the evaluation")
    evaluate.set_defaults(handler=cmd_suggest_evaluate)

    m365 = commands.add_parser("m365", help="Microsoft 365 capture: connect the tenant, subscriptions, sync")
    m365_commands = m365.add_subparsers(dest="m365_command", required=True)
    connect = m365_commands.add_parser(
        "connect", help="connect the firm's tenant (or change who is captured)"
    )
    connect.add_argument("--tenant", help="directory (tenant) id or domain (default: the firm's)")
    connect.add_argument("--client-id", help="the app registration's client id (default: Matterline's)")
    connect.add_argument("--client-secret", help="the app's secret, when the firm registered its own app")
    connect.add_argument(
        "--ews", metavar="ENDPOINT", help="on-premises Exchange: the EWS URL (default: Graph)"
    )
    connect.add_argument("--user", action="append", metavar="EMAIL", help="capture this person (repeat)")
    connect.add_argument("--as-email", help="the admin to act as (default: the demo firm admin)")
    connect.set_defaults(handler=cmd_m365_connect)
    subscriptions = m365_commands.add_parser("subscriptions", help="list the Graph subscriptions")
    subscriptions.add_argument("--as-email", help="the admin to act as (default: the demo firm admin)")
    subscriptions.set_defaults(handler=cmd_m365_subscriptions)
    sync = m365_commands.add_parser("sync", help="sync captured mailboxes now")
    sync.add_argument("--user", metavar="EMAIL", help="only this person's mailbox")
    sync.add_argument("--as-email", help="the admin to act as (default: the demo firm admin)")
    sync.set_defaults(handler=cmd_m365_sync)

    schedule = commands.add_parser("schedule", help="fire one of the app's schedules now")
    schedule.add_argument("name")
    schedule.set_defaults(handler=cmd_schedule)

    from devstack.cli_billing import register as register_billing

    register_billing(commands)
    from devstack.addin_manifest import register as register_manifest

    register_manifest(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``matterline`` console script."""
    args = build_parser().parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    raise SystemExit(main())
