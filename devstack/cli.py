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
        ports=Ports(api=args.api_port, web=args.web_port, aws=args.aws_port, m365=args.m365_port),
    ).run_forever()
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    from devstack.demo import API_SCOPE, DEMO_PEOPLE, email_of
    from devstack.m365 import Directory, IdentityProvider

    state = _state(args.var)
    directory = Directory.from_dict(json.loads((args.var / "m365" / "directory.json").read_text()))
    if args.role:
        person = next((p for p in DEMO_PEOPLE if any(r.value == args.role for r in p.roles)), None)
        if person is None:
            roles = sorted({r.value for p in DEMO_PEOPLE for r in p.roles})
            sys.exit(f"matterline: no demo user has the role '{args.role}'; roles: {', '.join(roles)}")
        email = email_of(person)
    elif args.email:
        email = args.email
    else:
        sys.exit("matterline token: give an EMAIL or --role ROLE")
    found = directory.find_user_by_email(email)
    if found is None:
        sys.exit(f"matterline: {email} is not a user of the simulated tenant")
    tenant, user = found
    # Tokens are signed with the devstack's own key (var/m365/identity), exactly as its sign-in page does.
    identity = IdentityProvider(directory, args.var / "m365" / "identity", base_url=state["m365"])
    print(
        identity.issue_access_token(
            tenant.tenant_id,
            user.oid,
            state["audience"],
            client_id=state["client_id"],
            scopes=(API_SCOPE,),
            lifetime_seconds=args.lifetime,
        )
    )
    return 0


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="matterline", description="Matterline's admin command line.")
    parser.add_argument("--var", type=Path, default=VAR, help="the devstack's state folder (default: var/)")
    commands = parser.add_subparsers(dest="command", required=True)

    devstack = commands.add_parser("devstack", help="run everything on this machine (what `make run` does)")
    devstack.add_argument("--api-port", type=int, default=8000)
    devstack.add_argument("--web-port", type=int, default=8001)
    devstack.add_argument("--aws-port", type=int, default=5055)
    devstack.add_argument("--m365-port", type=int, default=8443)
    devstack.set_defaults(handler=cmd_devstack)

    token = commands.add_parser("token", help="print a bearer token for a demo user of the running devstack")
    token.add_argument("email", nargs="?")
    token.add_argument("--role", help="the first demo user with this role (e.g. attorney, firm_admin)")
    token.add_argument("--lifetime", type=int, default=3600, help="seconds the token is valid")
    token.set_defaults(handler=cmd_token)

    schedule = commands.add_parser("schedule", help="fire one of the app's schedules now")
    schedule.add_argument("name")
    schedule.set_defaults(handler=cmd_schedule)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``matterline`` console script."""
    args = build_parser().parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    raise SystemExit(main())
