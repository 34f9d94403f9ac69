"""A day view is one Query whatever the history: a day with a year of history ÷ the same day alone.

Two attorneys of one firm (America/New_York) capture the same working day (40 events: mails read in
add-in heartbeats, newsletters and automatic mail, mails written, meetings, a call, a manual item) through
``TimelineService.ingest``. The second one also has a year of history before it: more than 50,000 events
over the 365 days before (about 185 a working day, fewer at weekends), folded from captures and written as
the repository writes them (``save_event``: events on the timeline partition and on GSI1 by start time),
and each day's entries planned from them (``plan_day``) and written with ``entry_item`` on the same GSI1
partition: posted and exported entries in the older weeks, released, assigned and unassigned ones lately.

Timed: ``TimelineService.view`` of the measured day for each attorney on a ``MemoryTable`` (which keeps
every partition and index partition in sort-key order, as DynamoDB does), alternating the two, the median
of many runs after a warm-up. Counted: the table calls one view makes, which must be one Query; then the
same view of the attorney with history against moto's DynamoDB through ``DynamoTable``.
Target: ratio ≤ 1.3.
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

# moto must never reach a real account, nor an endpoint the devstack left in the shell.
for _variable in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "MATTERLINE_AWS_ENDPOINT_URL"):
    os.environ.pop(_variable, None)
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
    }
)

from chalicelib.adapters.persistence.dynamodb_table import to_dynamo  # noqa: E402
from chalicelib.adapters.persistence.memory_table import MemoryTable  # noqa: E402
from chalicelib.adapters.persistence.repositories import TableFirmRepository  # noqa: E402
from chalicelib.adapters.persistence.table import Item, Table  # noqa: E402
from chalicelib.adapters.persistence.timeline import (  # noqa: E402
    TablePolicyRepository,
    entry_item,
    event_item,
)
from chalicelib.bootstrap import Container, build_container  # noqa: E402
from chalicelib.domain.capture import (  # noqa: E402
    Capture,
    Category,
    EventKind,
    Source,
    call_key,
    compose_key,
    fold,
    manual_key,
    meeting_key,
    read_key,
)
from chalicelib.domain.classification import ClassificationRule, RuleScope, classify  # noqa: E402
from chalicelib.domain.entries import EntryStatus, plan_day  # noqa: E402
from chalicelib.domain.identity import Principal, Role  # noqa: E402
from chalicelib.domain.policy import CapturePolicy  # noqa: E402
from chalicelib.domain.roster import Firm, User, UserStatus  # noqa: E402
from chalicelib.settings import Settings  # noqa: E402
from tests.support.clock import ManualClock  # noqa: E402

WARMUP = 30
RUNS = 200
SEED = 20260310
TARGET_RATIO = 1.3

ZONE = "America/New_York"
FIRM_ID = "lovelace-bench"
FIRM_DOMAIN = "lovelace.law"
DAY = date(2026, 3, 10)  # the measured day, a Tuesday
HISTORY_DAYS = 365
MIN_HISTORY_EVENTS = 50_000
# Loading moto costs about 1 ms an item (a year is 92,000 items: 100 s) and its Query reads the whole
# table, so moto gets the last 90 days: the point there is the number of Queries, not the time.
MOTO_HISTORY_DAYS = 90

DAY_ONLY = "u-ada"  # one day of history
WITH_YEAR = "u-grace"  # the same day, after a year of history

CLIENTS = [
    ("acme.com", ["wile.e@acme.com", "legal@acme.com", "cfo@acme.com"]),
    ("globex.com", ["hank.scorpio@globex.com", "counsel@globex.com"]),
    ("initech.com", ["bill.lumbergh@initech.com", "legal@initech.com"]),
    ("stark.com", ["pepper.potts@stark.com", "gc@stark.com"]),
]
COLLEAGUES = [f"{name}@{FIRM_DOMAIN}" for name in ("babbage", "hopper", "turing", "paralegal.ny")]
NEWSLETTERS = ["news@law360.com", "alerts@westlaw.com"]
AUTOMATIC = ["no-reply@docusign.net", "notifications@clio.com"]
MATTERS = [
    "Acme Corp. v. Road Runner LLC (2025-0113)",
    "Globex: acquisition of Cypress Creek (2025-0241)",
    "Initech: lease of 4120 Freidrich Lane (2026-0007)",
    "Stark Industries: supply agreement (2024-0388)",
]
WORK = ["draft settlement agreement", "disclosure schedules", "deposition outline", "closing checklist"]


class _Unused:
    """Neither a token verifier nor a workflow starter is needed to view a timeline."""

    def verify(self, token: str) -> Any:
        raise NotImplementedError

    def start(self, workflow: str, run_name: str, payload: Any) -> str:
        raise NotImplementedError


# ---------------------------------------------------------------- captures


class Day:
    """Captures of one attorney's working day, from a seeded generator."""

    def __init__(self, rng: random.Random, day: date, me: str) -> None:
        self.rng = rng
        self.day = day
        self.me = me
        self.local_start = datetime.combine(day, clock_time(), tzinfo=ZoneInfo(ZONE))
        self.captures: list[Capture] = []

    def at(self, hours: float) -> datetime:
        moment = (self.local_start + timedelta(hours=hours)).astimezone(UTC)
        return moment.replace(microsecond=moment.microsecond // 1000 * 1000)

    def tag(self, n: int) -> str:
        return f"{self.day:%Y%m%d}-{n:03d}"

    def read(self, n: int, start: datetime, beats: int) -> datetime:
        """Heartbeats every 15-30 s while the mail is open; returns when the reading stopped."""
        kind = self.rng.choices(("client", "internal", "newsletter", "automatic"), (60, 20, 12, 8))[0]
        domain, contacts = self.rng.choice(CLIENTS)
        sender = {
            "client": self.rng.choice(contacts),
            "internal": self.rng.choice(COLLEAGUES),
            "newsletter": self.rng.choice(NEWSLETTERS),
            "automatic": self.rng.choice(AUTOMATIC),
        }[kind]
        subject = (
            f"RE: {self.rng.choice(MATTERS)}: {self.rng.choice(WORK)}"
            if kind in ("client", "internal")
            else "Today's headlines"
            if kind == "newsletter"
            else "Please DocuSign: engagement letter"
        )
        message_id = f"<{self.tag(n)}@{sender.split('@')[1]}>"
        beat = Capture(
            kind=EventKind.READ,
            source=Source.ADDIN,
            key=read_key(message_id),
            at=start,
            subject=subject,
            participants=(sender, self.me),
            sender=sender,
            conversation_id=f"conv-{domain}-{self.rng.randint(1, 40)}",
            internet_message_id=message_id,
            list_unsubscribe=kind == "newsletter",
            auto_submitted=kind == "automatic",
        )
        at = start
        for _ in range(beats):
            self.captures.append(replace(beat, at=at))
            at += timedelta(milliseconds=self.rng.randint(15_000, 30_000))
        return at

    def compose(self, n: int, start: datetime) -> datetime:
        """The launch event opens the span, the send closes it."""
        _, contacts = self.rng.choice(CLIENTS)
        seconds = self.rng.randint(120, 900)
        launch = Capture(
            kind=EventKind.COMPOSE,
            source=Source.ADDIN,
            key=compose_key(f"corr-{self.tag(n)}"),
            at=start,
            subject=f"{self.rng.choice(MATTERS)}: {self.rng.choice(WORK)}",
            participants=(self.me, self.rng.choice(contacts)),
            sender=self.me,
        )
        self.captures += [launch, replace(launch, duration_seconds=seconds, sent=True)]
        return start + timedelta(seconds=seconds)

    def meeting(self, n: int, start: datetime) -> datetime:
        _, contacts = self.rng.choice(CLIENTS)
        seconds = self.rng.choice((1_800, 2_700, 3_600))
        self.captures.append(
            Capture(
                kind=EventKind.MEETING,
                source=Source.GRAPH,
                key=meeting_key(f"ical-{self.tag(n)}", start),
                at=start,
                duration_seconds=seconds,
                subject=f"{self.rng.choice(MATTERS)}: status call",
                participants=(self.me, self.rng.choice(contacts), self.rng.choice(COLLEAGUES)),
            )
        )
        return start + timedelta(seconds=seconds)

    def call(self, n: int, start: datetime) -> datetime:
        _, contacts = self.rng.choice(CLIENTS)
        seconds = self.rng.randint(120, 1_200)
        self.captures.append(
            Capture(
                kind=EventKind.CALL,
                source=Source.CDR,
                key=call_key(f"cdr-{self.tag(n)}"),
                at=start,
                duration_seconds=seconds,
                participants=(self.rng.choice(contacts),),
            )
        )
        return start + timedelta(seconds=seconds)

    def manual(self, n: int, start: datetime) -> datetime:
        seconds = self.rng.choice((900, 1_800))
        self.captures.append(
            Capture(
                kind=EventKind.MANUAL,
                source=Source.MANUAL,
                key=manual_key(f"manual-{self.tag(n)}"),
                at=start,
                duration_seconds=seconds,
                note=f"Reviewing the file: {self.rng.choice(MATTERS)}",
            )
        )
        return start + timedelta(seconds=seconds)


def measured_day(me: str) -> list[Capture]:
    """40 events one after another from 8:30: 32 mails read, 4 written, 2 meetings, a call, a manual item."""
    day = Day(random.Random(SEED), DAY, me)
    plan = ["read"] * 32 + ["compose"] * 4 + ["meeting"] * 2 + ["call", "manual"]
    day.rng.shuffle(plan)
    at = day.at(8.5)
    for n, what in enumerate(plan):
        at = day.read(n, at, day.rng.randint(3, 8)) if what == "read" else getattr(day, what)(n, at)
        at += timedelta(seconds=day.rng.randint(60, 300))
    return day.captures


def history_day(rng: random.Random, day: date, me: str) -> list[Capture]:
    """A day of the past year at random times: about 185 events on a working day, 25 at a weekend."""
    past = Day(rng, day, me)
    weekday = day.weekday() < 5
    counts = {
        "read": rng.randint(140, 170) if weekday else rng.randint(15, 25),
        "compose": rng.randint(14, 24) if weekday else rng.randint(1, 4),
        "meeting": rng.randint(1, 5) if weekday else 0,
        "call": rng.randint(2, 7) if weekday else rng.randint(0, 1),
        "manual": rng.randint(0, 3),
    }
    n = 0
    for what, count in counts.items():
        for _ in range(count):
            start = past.at(rng.uniform(7.0, 20.0))
            if what == "read":
                past.read(n, start, rng.randint(2, 6))
            else:
                getattr(past, what)(n, start)
            n += 1
    return past.captures


def firm_policy() -> CapturePolicy:
    return CapturePolicy(
        firm_id=FIRM_ID,
        firm_domains=frozenset({FIRM_DOMAIN}),
        rules=(ClassificationRule(RuleScope.DOMAIN, "home.net", Category.PERSONAL),),
    )


def history_items(days: int) -> Iterator[tuple[str, Item]]:
    """("event" | "entry", item) for the ``days`` days before the measured day, oldest first."""
    rng = random.Random(SEED + 1)
    policy = firm_policy()
    for back in range(days, 0, -1):
        day = DAY - timedelta(days=back)
        captures = history_day(rng, day, f"grace@{FIRM_DOMAIN}")
        events = fold({}, captures, firm_id=FIRM_ID, user_id=WITH_YEAR, settings=policy.settings)
        saved = [replace(event, version=1) for event in events.values()]
        for event in saved:
            yield "event", event_item(event)
        categories = {
            event.event_id: classify(
                event, firm_domains=policy.firm_domains, firm_rules=policy.rules
            ).category
            for event in saved
        }
        plan = plan_day(
            firm_id=FIRM_ID,
            user_id=WITH_YEAR,
            day=day,
            zone_name=ZONE,
            events=saved,
            categories=categories,
            existing=[],
            policy=policy.grouping,
            templates=policy.templates,
            rounding_for=policy.rounding_for,
        )
        for entry in plan.put:
            # Older weeks are billed; the last days are still being reviewed.
            draw = rng.random()
            if back > 14:
                status = EntryStatus.POSTED if draw < 0.85 else EntryStatus.EXPORTED
            elif back > 3:
                status = EntryStatus.RELEASED if draw < 0.5 else EntryStatus.ASSIGNED
            else:
                status = EntryStatus.ASSIGNED if draw < 0.4 else EntryStatus.UNASSIGNED
            matter = None if status is EntryStatus.UNASSIGNED else f"m-{rng.randint(1, 400):04d}"
            billed = replace(
                entry,
                status=status,
                matter_id=matter,
                external_id=f"clio-{rng.randint(10**6, 10**7)}" if status is EntryStatus.POSTED else None,
                version=1,
            )
            yield "entry", entry_item(billed)


# ---------------------------------------------------------------- the firm


def seed(table: Table, clock: ManualClock) -> tuple[Container, dict[str, Principal]]:
    """The firm, its capture policy and two attorneys in New York, with the same measured day."""
    container = build_container(
        Settings(stage="test"), table=table, clock=clock, verifier=_Unused(), workflows=_Unused()
    )
    firm = Firm(
        firm_id=FIRM_ID,
        name="Lovelace & Babbage LLP",
        tenant_id="tenant-bench",
        time_zone=ZONE,
        created_at=clock.now(),
    )
    TableFirmRepository(table, clock).add(firm, "system")
    TablePolicyRepository(table, clock).save(firm_policy(), "system")
    principals = {}
    for user_id in (DAY_ONLY, WITH_YEAR):
        handle = user_id.removeprefix("u-")
        user = User(
            firm_id=FIRM_ID,
            user_id=user_id,
            email=f"{handle}@{FIRM_DOMAIN}",
            display_name=handle.title(),
            roles=frozenset({Role.ATTORNEY}),
            status=UserStatus.ACTIVE,
            time_zone=ZONE,
            identity_oid=f"oid-{handle}",
            created_at=clock.now(),
        )
        container.roster.add_member(FIRM_ID, user, "system")
        container.timeline.ingest(FIRM_ID, user_id, measured_day(user.email), actor=f"user:{user_id}")
        principals[user_id] = Principal(
            firm_id=FIRM_ID, subject_id=user_id, kind="user", roles=user.roles, email=user.email
        )
    return container, principals


def queries_of_one_view(container: Container, principal: Principal) -> tuple[int, int, int, int]:
    """(queries, gets, events shown, entries shown) of one view of the measured day."""
    stats = container.table.stats  # type: ignore[attr-defined]
    queries, gets = stats.queries, stats.gets
    view = container.timeline.view(principal, DAY, DAY)
    return stats.queries - queries, stats.gets - gets, len(view.events), len(view.entries)


def median_view_ms(container: Container, principals: list[Principal]) -> list[float]:
    """Median milliseconds of one view per principal, measured alternately so drift hits both alike."""
    view = container.timeline.view
    for _ in range(WARMUP):
        for principal in principals:
            view(principal, DAY, DAY)
    samples: list[list[float]] = [[] for _ in principals]
    for _ in range(RUNS):
        for index, principal in enumerate(principals):
            start = time.perf_counter()
            view(principal, DAY, DAY)
            samples[index].append((time.perf_counter() - start) * 1000)
    return [statistics.median(runs) for runs in samples]


def memory_bench() -> None:
    clock = ManualClock(datetime(2026, 3, 10, 23, 30, tzinfo=UTC))
    table = MemoryTable()
    container, principals = seed(table, clock)
    started = time.perf_counter()
    counts = {"event": 0, "entry": 0}
    for kind, item in history_items(HISTORY_DAYS):
        table.put(item)
        counts[kind] += 1
    loaded = time.perf_counter() - started
    if counts["event"] < MIN_HISTORY_EVENTS:
        raise SystemExit(f"the history has {counts['event']} events, fewer than {MIN_HISTORY_EVENTS}")
    print(
        f"# history: {counts['event']} events and {counts['entry']} entries over {HISTORY_DAYS} days,"
        f" built and written in {loaded:.1f} s"
    )

    day_only, with_year = principals[DAY_ONLY], principals[WITH_YEAR]
    shapes = [queries_of_one_view(container, p) for p in (day_only, with_year)]
    for (queries, gets, events, entries), who in zip(shapes, ("one day", "one year"), strict=True):
        print(
            f"# view with {who} of history: {events} events, {entries} entries, {queries} query, {gets} gets"
        )
    if shapes[0][2:] != shapes[1][2:]:
        raise SystemExit("the two attorneys do not see the same day: the comparison would be meaningless")
    one_day_ms, one_year_ms = median_view_ms(container, [day_only, with_year])
    print(f"# median of {RUNS} views each after {WARMUP} warm-up views, the two attorneys alternating")
    print(f"# target: ratio ≤ {TARGET_RATIO}")
    print(f"bench: day view history events = {counts['event']} events")
    print(f"bench: day view one day of history = {one_day_ms:.3f} ms")
    print(f"bench: day view one year of history = {one_year_ms:.3f} ms")
    print(f"bench: day view queries = {shapes[1][0]}")
    print(f"bench: day view ratio = {one_year_ms / one_day_ms:.2f}")


def dynamodb_bench() -> None:
    import boto3
    from moto import mock_aws

    from chalicelib.adapters.persistence.dynamodb_table import DynamoTable
    from tests.support.aws import create_table

    if MOTO_HISTORY_DAYS < HISTORY_DAYS:
        print(
            f"# moto: a smaller history, the last {MOTO_HISTORY_DAYS} days, because loading a year of it"
            " into moto takes about 100 s"
        )
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_table(client, "matterline-bench")
        table = DynamoTable(client, "matterline-bench")
        container, principals = seed(table, ManualClock(datetime(2026, 3, 10, 23, 30, tzinfo=UTC)))
        started = time.perf_counter()
        events = written = 0
        batch: list[dict[str, Any]] = []
        # Loading is set-up, so it goes 25 items a request straight through the client; the view below
        # goes through DynamoTable like every read in the application.
        for kind, item in history_items(MOTO_HISTORY_DAYS):
            events += kind == "event"
            batch.append({"PutRequest": {"Item": to_dynamo(item)}})
            if len(batch) == 25:
                written += _batch_write(client, batch)
                batch = []
        written += _batch_write(client, batch)
        loaded = time.perf_counter() - started
        print(f"# moto: {events} history events, {written} items loaded in {loaded:.1f} s")
        started = time.perf_counter()
        queries, gets, shown, entries = queries_of_one_view(container, principals[WITH_YEAR])
        print(
            f"# moto: the view showed {shown} events and {entries} entries with {gets} gets in"
            f" {time.perf_counter() - started:.1f} s (moto's Query reads the whole table; DynamoDB does not)"
        )
        print(f"bench: day view dynamodb queries = {queries}")


def _batch_write(client: Any, requests: list[dict[str, Any]]) -> int:
    pending = {"matterline-bench": requests}
    while pending.get("matterline-bench"):
        pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems", {})
    return len(requests)


def main() -> None:
    memory_bench()
    dynamodb_bench()


if __name__ == "__main__":
    main()
