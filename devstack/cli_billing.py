"""``matterline connect | sync | post | export``: billing connections and exports from the command line."""

from __future__ import annotations

import argparse
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

SYSTEMS = ("clio", "actionstep")
FORMATS = ("tabs3", "pclaw", "timeslips", "abacus", "csv", "ledes")


def _admin(args: argparse.Namespace) -> str:
    from devstack.cli import _email_for_role

    return str(args.as_email or _email_for_role("firm_admin"))


def _fail(reply: dict) -> None:
    sys.exit(f"matterline: {reply.get('detail', reply)}")


def cmd_connect(args: argparse.Namespace) -> int:
    """Start the OAuth flow; a simulator's consent page is approved here, a real one waits for a person."""
    from devstack.cli import _call_api
    from devstack.demo_billing import approve_consent

    if args.user:
        return _connect_user(args)
    admin = _admin(args)
    status, started = _call_api(args, "POST", f"/connections/billing/{args.system}/authorize", admin)
    if status != 200:
        _fail(started)
    url = started["authorize_url"]
    if urlsplit(url).hostname in ("127.0.0.1", "localhost") and not args.browser:
        callback = approve_consent(url)
        try:
            urllib.request.urlopen(callback, timeout=60).close()
        except urllib.error.HTTPError as error:
            sys.exit(f"matterline: the callback failed (HTTP {error.code}): {error.read().decode()[:300]}")
    else:
        print(f"Open this link in a browser and allow access:\n\n  {url}\n", flush=True)
    deadline = time.monotonic() + args.wait
    while time.monotonic() < deadline:
        status, connection = _call_api(args, "GET", f"/connections/billing/{args.system}", admin)
        if status == 200 and connection["status"] == "connected" and connection["connected_at"]:
            print(f"{args.system}: connected by {connection['connected_by']} at {connection['connected_at']}")
            print(f"next: matterline sync {args.system}")
            return 0
        time.sleep(2)
    sys.exit(f"matterline: {args.system} is not connected yet; open the link above, then run this again")


def _connect_user(args: argparse.Namespace) -> int:
    """``connect actionstep --user EMAIL``: that person authorizes their own login; a simulator's consent
    page is approved here as the account's user with the same email."""
    from devstack.cli import _call_api

    if args.system != "actionstep":
        sys.exit(f"matterline: {args.system} is connected once for the whole firm; --user is for actionstep")
    path = f"/me/billing-authorizations/{args.system}"
    status, started = _call_api(args, "POST", f"{path}/authorize", args.user)
    if status != 200:
        _fail(started)
    url = started["authorize_url"]
    if urlsplit(url).hostname in ("127.0.0.1", "localhost") and not args.browser:
        _finish_user_callback(approve_consent_as(url, args.user), args.system)
    else:
        print(f"{args.user}: open this link in a browser, sign in as yourself and allow access:\n\n  {url}\n")
    deadline = time.monotonic() + args.wait
    while time.monotonic() < deadline:
        status, mine = _call_api(args, "GET", "/me/billing-authorizations", args.user)
        found: list[dict] = [a for a in mine if a["system"] == args.system] if isinstance(mine, list) else []
        if status == 200 and found and found[0]["status"] == "connected":
            print(f"{args.system}: {args.user} connected as {found[0]['connected_as']}")
            return 0
        time.sleep(2)
    sys.exit(
        f"matterline: {args.user} has not connected {args.system} yet; open the link, then run this again"
    )


class _Stay(urllib.request.HTTPRedirectHandler):
    """Hand a redirect back instead of following it: it names where the flow ends."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def _finish_user_callback(callback: str, system: str) -> None:
    """Call the callback as the browser would; it answers with the Preferences page's link, whose
    ``<system>=<outcome>`` and ``message`` say how the sign-in went: anything but connected ends here."""
    from urllib.parse import parse_qs

    try:
        urllib.request.build_opener(_Stay).open(callback, timeout=60).close()
        return
    except urllib.error.HTTPError as error:
        location = error.headers.get("Location") if error.code in (302, 303) else None
        if location is None:
            sys.exit(f"matterline: the callback failed (HTTP {error.code}): {error.read().decode()[:300]}")
    landing = parse_qs(urlsplit(location).fragment.partition("?")[2])
    outcome = landing.get(system, [""])[0]
    if outcome != "connected":
        message = landing.get("message", [f"the sign-in ended with '{outcome or 'no outcome'}'"])[0]
        sys.exit(f"matterline: {system} was not connected: {message}")


def approve_consent_as(authorize_url: str, email: str) -> str:
    """Allow access on a simulated consent page as the account user whose label names ``email``."""
    import html
    import re
    from urllib.parse import parse_qs, urlencode

    with urllib.request.urlopen(authorize_url, timeout=10) as response:
        page = response.read().decode()
    options = {
        html.unescape(label): value
        for value, label in re.findall(r'<option value="(\d+)"[^>]*>([^<]*)</option>', page)
    }
    chosen = [value for label, value in options.items() if f"<{email.lower()}>" in label.lower()]
    if not chosen:
        sys.exit(f"matterline: the simulated account has no user {email}; users: {', '.join(options)}")
    parts = urlsplit(authorize_url)
    fields = {name: values[0] for name, values in parse_qs(parts.query).items()}
    form = urlencode({**fields, "user_id": chosen[0], "decision": "allow"}).encode()

    opener = urllib.request.build_opener(_Stay)
    try:
        opener.open(f"{parts.scheme}://{parts.netloc}{parts.path}", data=form, timeout=10).close()
    except urllib.error.HTTPError as error:
        if error.code in (302, 303) and error.headers.get("Location"):
            return str(error.headers["Location"])
        sys.exit(f"matterline: the simulated consent page answered HTTP {error.code}")
    sys.exit("matterline: the simulated consent page did not redirect")


def cmd_sync(args: argparse.Namespace) -> int:
    from devstack.cli import _call_api

    print(f"syncing {args.system} (users, matters, clients, contacts, activity types) ...", file=sys.stderr)
    status, reply = _call_api(args, "POST", f"/connections/billing/{args.system}/sync", _admin(args))
    if status != 200:
        _fail(reply)
    counts = reply["counts"]
    for kind in ("clients", "matters", "contacts", "activity_types"):
        print(f"{kind:<15} {counts[f'{kind}_created']:>5} new {counts[f'{kind}_updated']:>5} updated")
    print(
        f"{'users':<15} {counts['users_linked']:>5} linked {counts['users_unmatched']:>4} not in the roster"
    )
    for email in reply["unmatched_users"]:
        print(f"  not in the roster: {email} (invite them, or set their {args.system} id)")
    for reason in reply["skipped"]:
        print(f"  skipped: {reason}")
    return 0


def cmd_post(args: argparse.Namespace) -> int:
    """Post in batches until nothing released is left, printing each entry's outcome."""
    from devstack.cli import _call_api

    body = {"first_day": args.first_day, "last_day": args.last_day, "limit": args.batch}
    totals = dict.fromkeys(("posted", "already_posted", "failed", "skipped", "stopped"), 0)
    seen: set[str] = set()
    while True:
        print(f"posting to {args.system}: {totals['posted']} posted so far ...", file=sys.stderr)
        path = f"/connections/billing/{args.system}/post"
        status, reply = _call_api(args, "POST", path, _admin(args), {k: v for k, v in body.items() if v})
        if status != 200:
            _fail(reply)
        fresh = [r for r in reply["results"] if r["entry_id"] not in seen]
        for result in fresh:
            seen.add(result["entry_id"])
            external = result["external_id"] or "-"
            print(f"{result['entry_id']:<26} {result['outcome']:<15} {external:<12} {result['message']}")
            totals[result["outcome"]] = totals.get(result["outcome"], 0) + 1
        # Another batch only while the last one was full and moved something forward.
        moved = any(r["outcome"] in ("posted", "already_posted") for r in fresh)
        if reply["stopped"] or len(reply["results"]) < args.batch or not moved:
            break
    print(
        f"{totals['posted']} posted, {totals['already_posted']} already there, {totals['failed']} failed, "
        f"{totals['skipped']} skipped" + (", stopped: reconnect and run again" if totals["stopped"] else "")
    )
    if totals["failed"]:
        print("failed entries stay released: fix what the message says and run `matterline post` again")
    return 1 if totals["failed"] or totals["stopped"] else 0


def cmd_export(args: argparse.Namespace) -> int:
    from devstack.cli import _call_api

    body = {"format": args.format, "first_day": args.first_day, "last_day": args.last_day}
    print(f"exporting {args.first_day} to {args.last_day} as {args.format} ...", file=sys.stderr)
    status, reply = _call_api(args, "POST", "/exports", _admin(args), body)
    if status != 201:
        _fail(reply)
    print(
        f"{reply['export_id']}: {reply['entries']} entries, {reply['lines']} lines, "
        f"{reply['total_hours']} h, {reply['total_amount']} (sha256 {reply['sha256'][:12]}...)"
    )
    if args.out:
        _download(args, reply["export_id"], args.out)
        print(f"written to {args.out}")
    else:
        print(f"download: {reply['download_url']}")
    return 0


def _download(args: argparse.Namespace, export_id: str, out: Path) -> None:
    from devstack.cli import _mint, _state

    base = args.api or _state(args.var)["api"]
    token = args.token or _mint(args.var, _admin(args))
    request = urllib.request.Request(
        f"{base}/exports/{export_id}/file", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(request, timeout=300) as response:
        out.write_bytes(response.read())


def register(commands: argparse._SubParsersAction) -> None:
    """Add the billing subcommands to the ``matterline`` parser."""
    connect = commands.add_parser("connect", help="connect the firm to Clio or Actionstep (OAuth)")
    connect.add_argument("system", choices=SYSTEMS)
    connect.add_argument("--browser", action="store_true", help="print the consent link even for a simulator")
    connect.add_argument(
        "--wait", type=int, default=300, help="seconds to wait for the consent (default 300)"
    )
    connect.add_argument(
        "--user", metavar="EMAIL", help="that person connects their own Actionstep login (not the firm's)"
    )
    connect.set_defaults(handler=cmd_connect)

    sync = commands.add_parser(
        "sync", help="sync users, matters, clients and activity types from a billing system"
    )
    sync.add_argument("system", choices=SYSTEMS)
    sync.set_defaults(handler=cmd_sync)

    post = commands.add_parser("post", help="post released entries to a billing system (each exactly once)")
    post.add_argument("system", choices=SYSTEMS)
    post.add_argument("--from", dest="first_day", help="first day, YYYY-MM-DD (default: everything released)")
    post.add_argument("--to", dest="last_day", help="last day, YYYY-MM-DD")
    post.add_argument("--batch", type=int, default=200, help="entries per request (default 200, at most 500)")
    post.set_defaults(handler=cmd_post)

    export = commands.add_parser("export", help="export a period's released time as a file")
    export.add_argument("--format", required=True, choices=FORMATS)
    export.add_argument("--from", dest="first_day", required=True, help="first day, YYYY-MM-DD")
    export.add_argument("--to", dest="last_day", required=True, help="last day, YYYY-MM-DD")
    export.add_argument("--out", type=Path, help="write the file here")
    export.set_defaults(handler=cmd_export)

    for parser in (connect, sync, post, export):
        parser.add_argument("--as-email", help="the admin to act as (default: the demo firm admin)")
