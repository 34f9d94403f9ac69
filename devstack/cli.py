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

    schedule = commands.add_parser("schedule", help="fire one of the app's schedules now")
    schedule.add_argument("name")
    schedule.set_defaults(handler=cmd_schedule)

    from devstack.cli_billing import register as register_billing

    register_billing(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``matterline`` console script."""
    args = build_parser().parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    raise SystemExit(main())
