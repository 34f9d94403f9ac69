"""Pure event processing: merge captures into events, classify them, build each day's entries; one core.

About 100,000 captures of one attorney over 20 working days (New York), generated from a fixed seed:
add-in heartbeats every 15-30 s while a mail is open (about 3,000 mails: clients, colleagues,
newsletters with List-Unsubscribe, automatic mail, a little personal mail), Graph ``isRead`` changes
(estimated from length, some replayed by the delta), offline-queue replays of heartbeats, compose
launches closed by a send and confirmed by Graph Sent Items, meetings, phone calls and manual items.
The stream is denser than one person's literal day (heartbeats of overlapping reading sessions and every
replay are kept): it is a throughput figure for the ingestion path, not a model of a day.

Only the pure pipeline is timed (no table): ``fold`` every capture, ``classify`` every event, ``plan_day``
for every day with no stored entries. The figure is captures per second, the median of a few runs.
Target: ≥ 20,000 events/s (the ratio is measured against that target, there is no other baseline).

``--profile`` prints where one run spends its time (cProfile, by own time).
"""

from __future__ import annotations

import cProfile
import gc
import os
import pstats
import random
import statistics
import sys
import time
from collections import defaultdict
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from chalicelib.domain.capture import (  # noqa: E402
    ActivityEvent,
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
from chalicelib.domain.entries import plan_day  # noqa: E402
from chalicelib.domain.policy import CapturePolicy  # noqa: E402
from chalicelib.domain.timeutil import local_day  # noqa: E402

TARGET_PER_SECOND = 20_000
RUNS = 5
SEED = 20260309

FIRM_ID = "f-bench"
USER_ID = "u-bench"
ZONE = "America/New_York"
FIRM_DOMAIN = "lovelace.law"
ME = f"ada.lovelace@{FIRM_DOMAIN}"
FIRST_DAY = date(2026, 2, 9)  # a Monday
WORKING_DAYS = 20
MAILS_PER_DAY = 150

CLIENTS = [
    ("Acme Corp.", "acme.com", ["wile.e@acme.com", "legal@acme.com", "cfo@acme.com"]),
    ("Globex", "globex.com", ["hank.scorpio@globex.com", "counsel@globex.com"]),
    ("Initech", "initech.com", ["bill.lumbergh@initech.com", "peter@initech.com", "legal@initech.com"]),
    ("Umbrella plc", "umbrella.co.uk", ["a.wesker@umbrella.co.uk", "legal@umbrella.co.uk"]),
    ("Stark Industries", "stark.com", ["pepper.potts@stark.com", "gc@stark.com"]),
    ("Wayne Enterprises", "wayne.com", ["lucius.fox@wayne.com", "legal@wayne.com"]),
]
OPPOSING = ["jsmith@bigfirm.com", "mjones@otherside-llp.com", "clerk@nysd.uscourts.gov"]
COLLEAGUES = [f"{name}@{FIRM_DOMAIN}" for name in ("babbage", "hopper", "turing", "paralegal.ny", "billing")]
NEWSLETTERS = ["news@law360.com", "alerts@westlaw.com", "digest@abajournal.com", "events@nycbar.org"]
AUTOMATIC = [
    "no-reply@docusign.net",
    "notifications@clio.com",
    "mailer-daemon@lovelace.law",
    "scan@lovelace.law",
]
PERSONAL = ["spouse@home.net", "coach@littleleague.org"]
MATTER_WORK = [
    "draft settlement agreement",
    "share purchase agreement, v{n}",
    "disclosure schedules",
    "deposition outline",
    "motion to dismiss: reply brief",
    "board minutes",
    "engagement letter",
    "comments on term sheet",
    "document production, batch {n}",
    "closing checklist",
]
NEWS_SUBJECTS = ["Today's litigation headlines", "Weekly M&A roundup", "CLE webinar: ethics update"]
AUTO_SUBJECTS = ["Please DocuSign: engagement letter", "Your time entries were posted", "Scanned document"]
PERSONAL_SUBJECTS = ["Dinner on Friday?", "Practice moved to 6pm"]


def firm_policy() -> CapturePolicy:
    return CapturePolicy(
        firm_id=FIRM_ID,
        firm_domains=frozenset({FIRM_DOMAIN}),
        rules=(
            ClassificationRule(RuleScope.SENDER, "scan@lovelace.law", Category.FILTERED),
            ClassificationRule(RuleScope.DOMAIN, "home.net", Category.PERSONAL),
        ),
    )


USER_RULES = (ClassificationRule(RuleScope.SENDER, "coach@littleleague.org", Category.PERSONAL),)


class Generator:
    """Captures of one attorney's working days, deterministic for a seed."""

    def __init__(self, seed: int, zone_name: str = ZONE, me: str = ME) -> None:
        self.rng = random.Random(seed)
        self.zone = ZoneInfo(zone_name)
        self.me = me
        self.threads = [f"conv-{n:05d}" for n in range(1_000)]
        self.matters = [
            f"{client} ({2023 + n % 3}-{n:04d})" for n, (client, _, _) in enumerate(CLIENTS * 6, start=101)
        ]
        self.serial = 0
        # (arrival, capture): the order in which the pipeline receives them.
        self.stream: list[tuple[datetime, int, Capture]] = []

    def _id(self, prefix: str) -> str:
        self.serial += 1
        return f"{prefix}-{self.serial:07d}"

    def _at(self, day: date, earliest: float = 8.0, latest: float = 19.5) -> datetime:
        hours = self.rng.uniform(earliest, latest)
        local = datetime.combine(day, clock_time(), tzinfo=self.zone) + timedelta(hours=hours)
        moment = local.astimezone(UTC)
        return moment.replace(microsecond=moment.microsecond // 1000 * 1000)

    def _emit(self, capture: Capture, delay_seconds: float = 0.0) -> None:
        self.stream.append((capture.at + timedelta(seconds=delay_seconds), len(self.stream), capture))

    def _subject(self) -> tuple[str, str]:
        matter = self.rng.choice(self.matters)
        work = self.rng.choice(MATTER_WORK).format(n=self.rng.randint(2, 9))
        prefix = self.rng.choice(("", "RE: ", "RE: ", "FW: "))
        return f"{prefix}{matter}: {work}", matter

    def mail(self, day: date) -> None:
        """One received mail: read in one to three sessions, seen by Graph (sometimes twice)."""
        kind = self.rng.choices(
            ("client", "internal", "newsletter", "automatic", "personal"), (55, 20, 12, 8, 5)
        )[0]
        list_unsubscribe = auto_submitted = False
        if kind == "client":
            _, _, contacts = self.rng.choice(CLIENTS)
            sender = self.rng.choice(contacts + OPPOSING[:1])
            subject, _ = self._subject()
            others = self.rng.sample(COLLEAGUES[:4] + contacts, self.rng.randint(0, 3))
            sessions, beats = self.rng.randint(1, 3), (4, 38)
        elif kind == "internal":
            sender = self.rng.choice(COLLEAGUES)
            subject, _ = self._subject()
            others = self.rng.sample(COLLEAGUES, self.rng.randint(0, 2))
            sessions, beats = self.rng.randint(1, 2), (2, 30)
        elif kind == "newsletter":
            sender, subject, others = self.rng.choice(NEWSLETTERS), self.rng.choice(NEWS_SUBJECTS), []
            list_unsubscribe, sessions, beats = True, 1, (1, 8)
        elif kind == "automatic":
            sender, subject, others = self.rng.choice(AUTOMATIC), self.rng.choice(AUTO_SUBJECTS), []
            auto_submitted, sessions, beats = self.rng.random() < 0.6, 1, (1, 6)
        else:
            sender, subject, others = self.rng.choice(PERSONAL), self.rng.choice(PERSONAL_SUBJECTS), []
            sessions, beats = 1, (2, 12)
        message_id = f"<{self._id('m')}@{sender.split('@')[1]}>"
        received = self._at(day, 7.0, 18.5)
        seen = Capture(
            kind=EventKind.READ,
            source=Source.ADDIN,
            key=read_key(message_id),
            at=received,
            subject=subject,
            participants=(sender, self.me, *others),
            sender=sender,
            conversation_id=self.rng.choice(self.threads),
            internet_message_id=message_id,
            list_unsubscribe=list_unsubscribe,
            auto_submitted=auto_submitted,
        )
        for _ in range(sessions):
            at = received + timedelta(minutes=self.rng.uniform(1, 240))
            personal = kind == "personal" and self.rng.random() < 0.3
            heartbeats = []
            for _ in range(self.rng.randint(*beats)):
                heartbeats.append(replace(seen, at=at, personal=personal))
                at += timedelta(milliseconds=self.rng.randint(15_000, 30_000))
            for beat in heartbeats:
                self._emit(beat)
            if self.rng.random() < 0.1:  # the add-in's offline queue sends the session again
                replay_delay = self.rng.uniform(600, 7_200)
                for beat in heartbeats:
                    self._emit(beat, replay_delay)
        graph = replace(
            seen,
            source=Source.GRAPH,
            at=received + timedelta(minutes=self.rng.uniform(1, 240)),
            measured=False,
            body_chars=self.rng.randint(200, 12_000),
        )
        self._emit(graph, 30)
        if self.rng.random() < 0.2:  # the delta replays the same change
            self._emit(graph, 31)

    def compose(self, day: date) -> None:
        """A mail written: launch event, send closing the span, Graph Sent Items confirming it."""
        _, _, contacts = self.rng.choice(CLIENTS)
        to = tuple(self.rng.sample(contacts, self.rng.randint(1, len(contacts))))
        subject, _ = self._subject()
        correlation = self._id("corr")
        key = compose_key(correlation)
        start = self._at(day)
        seconds = self.rng.uniform(60, 1_800)
        launch = Capture(
            kind=EventKind.COMPOSE,
            source=Source.ADDIN,
            key=key,
            at=start,
            subject=subject,
            participants=(self.me, *to),
            sender=self.me,
        )
        self._emit(launch)
        send = replace(
            launch,
            duration_seconds=round(seconds, 3),
            sent=True,
            conversation_id=self.rng.choice(self.threads),
        )
        self._emit(send, seconds)
        sent_items = replace(
            launch,
            source=Source.GRAPH,
            at=start + timedelta(seconds=seconds),
            measured=False,
            sent=True,
            body_chars=self.rng.randint(300, 6_000),
            internet_message_id=f"<{correlation}@{FIRM_DOMAIN}>",
        )
        self._emit(sent_items, seconds + 60)

    def meeting(self, day: date) -> None:
        """A meeting that happened, from the calendar delta (replayed once in a while)."""
        _, _, contacts = self.rng.choice(CLIENTS)
        start = self._at(day, 9.0, 17.0).replace(second=0, microsecond=0)
        start = start.replace(minute=start.minute // 30 * 30)
        uid = self._id("ical")
        capture = Capture(
            kind=EventKind.MEETING,
            source=Source.GRAPH,
            key=meeting_key(uid, start),
            at=start,
            duration_seconds=self.rng.choice((1_800, 2_700, 3_600, 5_400)),
            subject=f"{self._subject()[1]}: status call",
            participants=(self.me, *self.rng.sample(contacts, 1), self.rng.choice(COLLEAGUES)),
        )
        self._emit(capture, 3_600)
        if self.rng.random() < 0.3:
            self._emit(capture, 3_700)

    def call(self, day: date) -> None:
        """A phone call from the phone system's call-detail records."""
        start = self._at(day)
        _, _, contacts = self.rng.choice(CLIENTS)
        self._emit(
            Capture(
                kind=EventKind.CALL,
                source=Source.CDR,
                key=call_key(self._id("cdr")),
                at=start,
                duration_seconds=self.rng.randint(45, 2_400),
                participants=(self.rng.choice(contacts),),
                note=f"+1 212 555 {self.rng.randint(1000, 9999)}",
            ),
            86_400,
        )

    def manual(self, day: date) -> None:
        """An item typed in the task pane: 'reading a file'."""
        _, matter = self._subject()
        self._emit(
            Capture(
                kind=EventKind.MANUAL,
                source=Source.MANUAL,
                key=manual_key(self._id("manual")),
                at=self._at(day),
                duration_seconds=self.rng.choice((600, 900, 1_800, 3_600)),
                note=f"Reviewing the file: {matter}",
            )
        )

    def working_day(self, day: date, mails: int) -> None:
        for _ in range(mails):
            self.mail(day)
        for _ in range(self.rng.randint(18, 32)):
            self.compose(day)
        for _ in range(self.rng.randint(2, 6)):
            self.meeting(day)
        for _ in range(self.rng.randint(4, 10)):
            self.call(day)
        for _ in range(self.rng.randint(1, 4)):
            self.manual(day)

    def captures(self) -> list[Capture]:
        """Everything emitted so far, in arrival order."""
        return [capture for _, _, capture in sorted(self.stream, key=lambda row: (row[0], row[1]))]


def working_days(first: date, count: int) -> list[date]:
    days: list[date] = []
    day = first
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


def process(captures: list[Capture], policy: CapturePolicy) -> tuple[int, int]:
    """The pipeline under test: merge, classify, build entries. Returns (events, entries)."""
    events = fold({}, captures, firm_id=FIRM_ID, user_id=USER_ID, settings=policy.settings)
    categories: dict[str, Category] = {}
    by_day: dict[date, list[ActivityEvent]] = defaultdict(list)
    for event in events.values():
        categories[event.event_id] = classify(
            event, firm_domains=policy.firm_domains, firm_rules=policy.rules, user_rules=USER_RULES
        ).category
        by_day[local_day(event.start, ZONE)].append(event)
    entries = 0
    for day, day_events in sorted(by_day.items()):
        plan = plan_day(
            firm_id=FIRM_ID,
            user_id=USER_ID,
            day=day,
            zone_name=ZONE,
            events=day_events,
            categories=categories,
            existing=[],
            policy=policy.grouping,
            templates=policy.templates,
            rounding_for=policy.rounding_for,
        )
        entries += len(plan.put)
    return len(events), entries


def pin_to_one_core() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def main() -> None:
    pin_to_one_core()
    generator = Generator(SEED)
    days = working_days(FIRST_DAY, WORKING_DAYS)
    for day in days:
        generator.working_day(day, MAILS_PER_DAY)
    captures = generator.captures()
    policy = firm_policy()

    if "--profile" in sys.argv:
        profiler = cProfile.Profile()
        profiler.enable()
        process(captures, policy)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
        return

    events = entries = 0
    samples = []
    process(captures, policy)  # warm-up: imports, zone caches, regex compilation
    for _ in range(RUNS):
        gc.collect()
        start = time.perf_counter()
        events, entries = process(captures, policy)
        samples.append(time.perf_counter() - start)
    seconds = statistics.median(samples)
    rate = len(captures) / seconds
    print(f"# {len(captures)} captures over {len(days)} working days; median of {RUNS} runs, one process")
    print("# the ratio's baseline is the target rate, 20,000 events/s")
    print(f"bench: event processing captures = {len(captures)} captures")
    print(f"bench: event processing events = {events} events")
    print(f"bench: event processing entries = {entries} entries")
    print(f"bench: event processing seconds = {seconds:.3f} s")
    print(f"bench: event processing events/s = {rate:.0f} events/s")
    print(f"bench: event processing ratio = {rate / TARGET_PER_SECOND:.2f}")


if __name__ == "__main__":
    main()
