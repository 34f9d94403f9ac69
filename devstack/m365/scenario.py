"""Realistic working days in the simulated mailboxes, deterministic from a seed and the date.

The demo firm's people (``devstack/demo.py``) correspond with the clients and contacts of the firm's
book (``devstack/demo_book.py``) about their matters, write to each other, go to meetings (accepted,
declined, cancelled, and a weekly team meeting with a moved and a cancelled occurrence), and receive the
mail every lawyer gets: newsletters (``List-Unsubscribe``), automatic replies (``Auto-Submitted``) and
personal mail. Times fall in working hours in each person's own time zone.

``plan_day`` is pure: the same mailboxes, day and seed always give the same items (same subjects,
times, ``Message-ID``s and ``iCalUId``s). A ``Scenario`` holds the planned days and ``tick(now)``
releases the items whose time has come into the ``MailboxStore`` through ``MailTransport``, so the
devstack's demo mailboxes keep producing mail through the day; ``generate_day(store, day, seed)`` is
the one-call form.

``register_routes(server)`` adds ``/_sim/scenario`` (status), ``/_sim/scenario/days`` (plan a day) and
``/_sim/scenario/tick`` (release what is due) for the CLI and browser tests.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from random import Random
from typing import Any
from zoneinfo import ZoneInfo

from devstack.demo import DEMO_PEOPLE, FIRM_TIME_ZONE, TENANT_ID, DemoPerson, email_of
from devstack.demo_book import CLIENTS, CONTACTS, MATTERS, DemoContact, DemoMatter
from devstack.m365.mailbox import (
    ItemNotFoundError,
    Mailbox,
    MailboxStore,
    MailTransport,
    Recipient,
    Recurrence,
    WellKnownFolder,
    conversation_id_for,
    windows_zone_name,
)
from devstack.m365.server import M365Server, Request, Response

logger = logging.getLogger(__name__)

DEFAULT_SEED = 20261123
CORRELATION_HEADER = "x-matterline-correlation"
# How long released state is kept: older days are forgotten so a long-running devstack stays small.
KEEP_DAYS = 14

_MAILBOX_ROLES = frozenset({"attorney", "assistant", "firm_admin", "billing_manager"})


# --- The demo mailboxes ------------------------------------------------------------------------------


def has_mailbox(person: DemoPerson) -> bool:
    """Whether a demo person has an Exchange mailbox: the firm's lawyers and staff do; contractors
    (outside counsel, investigators) and contractor staff work from the console only."""
    return any(str(role) in _MAILBOX_ROLES for role in person.roles)


def demo_mailboxes(tenant_id: str = TENANT_ID) -> list[Mailbox]:
    """The demo firm's mailboxes. People in the firm's zone report a Windows zone name in their
    mailbox settings ("Eastern Standard Time"); the others an IANA name, as Exchange allows both."""
    boxes = []
    for person in DEMO_PEOPLE:
        if not has_mailbox(person):
            continue
        windows = windows_zone_name(person.time_zone)
        settings_zone = windows if person.time_zone == FIRM_TIME_ZONE and windows else person.time_zone
        boxes.append(
            Mailbox(
                user_id=person.oid,
                address=email_of(person),
                display_name=person.name,
                tenant_id=tenant_id,
                time_zone=person.time_zone,
                settings_time_zone=settings_zone,
            )
        )
    return boxes


def install_demo_mailboxes(store: MailboxStore, tenant_id: str = TENANT_ID) -> list[Mailbox]:
    """Add the demo mailboxes to a store (existing ones keep their content)."""
    return [store.add_mailbox(box) for box in demo_mailboxes(tenant_id)]


# --- Planned items -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScenarioItem:
    """One thing that happens in a mailbox at a given time.

    ``action`` is ``deliver`` (inbound mail), ``send``, ``read``, ``delete``, ``meeting``, ``respond``,
    ``cancel`` or ``series``; ``data`` holds its JSON-ready parameters. Items refer to each other by
    ``Message-ID`` and ``iCalUId``, which the plan chooses, so nothing depends on store ids.
    """

    at: datetime
    key: str
    action: str
    mailbox: str
    data: Mapping[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        """A one-line summary for logs and the devstack page."""
        what = self.data.get("subject") or self.data.get("response") or self.data.get("icalUid", "")
        return f"{self.at.strftime('%Y-%m-%dT%H:%MZ')} {self.mailbox} {self.action} {what}".rstrip()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "at": self.at.isoformat(),
            "key": self.key,
            "action": self.action,
            "mailbox": self.mailbox,
            "data": dict(self.data),
        }


_TOPICS = (
    "deposition schedule",
    "draft complaint comments",
    "document production",
    "settlement proposal",
    "question about the invoice",
    "engagement letter",
    "closing checklist",
    "term sheet markup",
    "board resolution",
    "expert report",
    "hearing preparation",
    "discovery responses",
    "lease amendment",
    "signing logistics",
    "license agreement redline",
    "due diligence request list",
)
_INTERNAL_TOPICS = (
    "Can you cover the call tomorrow?",
    "Research memo for {number}",
    "Staffing on {client}",
    "Conflict check: new matter for {client}",
    "Billing review for {number}",
    "Lunch on Thursday?",
    "Updated calendar for next week",
)
_NEWSLETTERS = (
    ("Legal Tech Weekly", "newsletter@legaltechweekly.example", "This week: e-discovery, AI and the courts"),
    ("State Bar Journal", "journal@statebar-news.example", "Ethics opinion roundup"),
    ("Court Rules Alert", "alerts@courtrules-digest.example", "Amendments to the local rules"),
    ("Litigation Daily", "daily@litigation-daily.example", "Verdicts and settlements"),
)
_PERSONAL = (
    ("Jordan Lee", "jordan.lee@homemail.example", "Dinner on Saturday?"),
    ("Dr. Patel's office", "appointments@dentalcare.example", "Appointment reminder"),
    ("Riverside Running Club", "captain@riversiderunners.example", "Sunday long run route"),
)
_MEETING_KINDS = ("strategy call", "status meeting", "prep session", "client update call", "negotiation call")


def plan_day(mailboxes: Sequence[Mailbox], day: date, seed: int) -> list[ScenarioItem]:
    """Everything that happens in ``mailboxes`` on ``day`` (each person's own local day), in time
    order. Pure and deterministic: the same arguments always give the same items."""
    items: list[ScenarioItem] = []
    ordered = sorted(mailboxes, key=lambda box: box.address.lower())
    for box in ordered:
        planner = _DayPlanner(box, ordered, day, seed)
        items.extend(planner.plan())
    series = _weekly_series(ordered, day, seed)
    if series is not None:
        items.append(series)
    items.sort(key=lambda item: (item.at, item.key))
    return items


class _DayPlanner:
    """One person's day: client threads, internal mail, meetings, newsletters, personal mail."""

    def __init__(self, box: Mailbox, everyone: Sequence[Mailbox], day: date, seed: int) -> None:
        self.box = box
        self.day = day
        self.seed = seed
        self.zone = ZoneInfo(box.time_zone)
        self.rng = Random(f"{seed}|{day.isoformat()}|{box.address.lower()}")
        self.colleagues = [other for other in everyone if other.user_id != box.user_id]
        self.person = next((p for p in DEMO_PEOPLE if email_of(p).lower() == box.address.lower()), None)
        self.items: list[ScenarioItem] = []
        self._count = 0

    @property
    def roles(self) -> frozenset[str]:
        if self.person is None:
            return frozenset({"attorney"})
        return frozenset(str(role) for role in self.person.roles)

    def plan(self) -> list[ScenarioItem]:
        weekend = self.day.weekday() >= 5
        count = self.rng.randint(1, 3) if not weekend else self.rng.randint(0, 1)
        for source in self.rng.sample(_NEWSLETTERS, count):
            self.newsletter(source)
        if self.rng.random() < (0.35 if not weekend else 0.6):
            self.personal_mail()
        if weekend:
            return self.items
        lawyer = "attorney" in self.roles
        threads = self.rng.randint(3, 5) if lawyer else self.rng.randint(0, 2)
        for _ in range(threads):
            self.client_thread()
        for _ in range(self.rng.randint(1, 2) if lawyer else self.rng.randint(2, 3)):
            self.internal_mail()
        if self.colleagues:
            for _ in range(self.rng.randint(1, 2) if lawyer else self.rng.randint(0, 1)):
                self.meeting()
        if lawyer and self.rng.random() < 0.4:
            self.client_invitation()
        return self.items

    # -- helpers -----------------------------------------------------------------------------------

    def at(self, hour: int, minute: int = 0) -> datetime:
        """A local wall time on the planned day, as UTC."""
        return datetime.combine(self.day, time(hour, minute), tzinfo=self.zone).astimezone(UTC)

    def between(self, first: tuple[int, int], last: tuple[int, int]) -> datetime:
        """A random moment in working hours between two local times."""
        start, end = self.at(*first), self.at(*last)
        return start + timedelta(seconds=self.rng.randint(0, int((end - start).total_seconds())))

    def later(self, moment: datetime, low: int, high: int) -> datetime:
        """``low``..``high`` minutes after ``moment``, with seconds, not past 20:00 local."""
        result = moment + timedelta(minutes=self.rng.randint(low, high), seconds=self.rng.randint(0, 59))
        return min(result, self.at(20, 0))

    def add(self, at: datetime, action: str, mailbox: str, data: Mapping[str, Any]) -> None:
        self._count += 1
        key = f"{self.day.isoformat()}|{self.box.address.lower()}|{self._count:03d}"
        self.items.append(ScenarioItem(at, key, action, mailbox, dict(data)))

    def message_id(self, domain: str) -> str:
        return f"<{self.rng.getrandbits(96):024X}@{domain}>"

    def thread_id(self) -> str:
        return conversation_id_for(f"{self.seed}|{self.day.isoformat()}|{self.box.address}|{self._count}")

    def my_matters(self) -> list[DemoMatter]:
        local_part = self.box.address.split("@", 1)[0].lower()
        live = [m for m in MATTERS if m.status != "closed"]
        mine = [m for m in live if m.responsible == local_part]
        return mine or live

    def contact_for(self, matter: DemoMatter) -> DemoContact:
        candidates = [c for c in CONTACTS if c.client_key == matter.client_key]
        return self.rng.choice(candidates) if candidates else self.rng.choice(CONTACTS)

    def subject_for(self, matter: DemoMatter, topic: str) -> str:
        """About half the subjects name the matter number, as real mail does (or does not)."""
        client_name = next(c.name for c in CLIENTS if c.key == matter.client_key)
        return self.rng.choice(
            (
                f"{matter.name} ({matter.number}): {topic}",
                f"Matter {matter.number} - {topic}",
                f"{client_name}: {topic}",
                topic[0].upper() + topic[1:],
            )
        )

    # -- the kinds of mail -------------------------------------------------------------------------

    def client_thread(self) -> None:
        """A client writes, the lawyer reads and answers; sometimes an automatic reply or a follow-up."""
        matter = self.rng.choice(self.my_matters())
        contact = self.contact_for(matter)
        client_address = Recipient(contact.email, contact.name).to_dict()
        subject = self.subject_for(matter, self.rng.choice(_TOPICS))
        thread = self.thread_id()
        received = self.between((8, 5), (16, 40))
        inbound_id = self.message_id(contact.email.split("@", 1)[1])
        body = (
            f"Hi {self.box.display_name.split()[0]},\n\nFollowing up on {matter.name}"
            + (f" (our ref. {matter.number})" if self.rng.random() < 0.3 else "")
            + ". Could you take a look and let me know your thoughts by end of day?\n\n"
            f"Thanks,\n{contact.name}"
        )
        self.add(
            received,
            "deliver",
            self.box.address,
            {
                "sender": client_address,
                "subject": subject,
                "body": body,
                "internetMessageId": inbound_id,
                "conversationId": thread,
            },
        )
        read = self.later(received, 3, 50)
        self.add(read, "read", self.box.address, {"internetMessageId": inbound_id, "subject": subject})
        if self.rng.random() < 0.85:
            replied = self.later(read, 5, 60)
            headers = []
            if self.rng.random() < 0.6:
                # Written in Outlook with the add-in, which stamps the draft with a correlation header.
                headers.append([CORRELATION_HEADER, f"{self.rng.getrandbits(64):016x}"])
            reply_subject = f"RE: {subject}"
            self.add(
                replied,
                "send",
                self.box.address,
                {
                    "to": [client_address],
                    "subject": reply_subject,
                    "body": f"Dear {contact.name.split()[0]},\n\nThank you. Comments below; happy to "
                    f"discuss.\n\nBest regards,\n{self.box.display_name}",
                    "headers": headers,
                    "internetMessageId": self.message_id(self.box.address.split("@", 1)[1]),
                    "conversationId": thread,
                },
            )
            if self.rng.random() < 0.15:
                self.add(
                    self.later(replied, 1, 2),
                    "deliver",
                    self.box.address,
                    {
                        "sender": client_address,
                        "subject": f"Automatic reply: {reply_subject}",
                        "body": "I am out of the office with limited access to email and will respond "
                        "on my return.",
                        "headers": [["Auto-Submitted", "auto-replied"], ["X-Auto-Response-Suppress", "All"]],
                        "internetMessageId": self.message_id(contact.email.split("@", 1)[1]),
                        "conversationId": thread,
                    },
                )
            elif self.rng.random() < 0.4:
                follow_up = self.later(replied, 30, 120)
                follow_id = self.message_id(contact.email.split("@", 1)[1])
                self.add(
                    follow_up,
                    "deliver",
                    self.box.address,
                    {
                        "sender": client_address,
                        "subject": f"RE: {reply_subject}",
                        "body": "Thanks, that works for us.",
                        "internetMessageId": follow_id,
                        "conversationId": thread,
                    },
                )
                if self.rng.random() < 0.7:
                    self.add(
                        self.later(follow_up, 2, 40),
                        "read",
                        self.box.address,
                        {"internetMessageId": follow_id, "subject": f"RE: {reply_subject}"},
                    )

    def internal_mail(self) -> None:
        """A note to a colleague, who reads it and sometimes answers."""
        if not self.colleagues:
            return
        colleague = self.rng.choice(self.colleagues)
        matter = self.rng.choice(self.my_matters())
        client_name = next(c.name for c in CLIENTS if c.key == matter.client_key)
        subject = self.rng.choice(_INTERNAL_TOPICS).format(number=matter.number, client=client_name)
        sent = self.between((8, 30), (17, 0))
        message_id = self.message_id(self.box.address.split("@", 1)[1])
        thread = self.thread_id()
        self.add(
            sent,
            "send",
            self.box.address,
            {
                "to": [colleague.owner().to_dict()],
                "subject": subject,
                "body": f"{colleague.display_name.split()[0]}, do you have a minute for this today?",
                "internetMessageId": message_id,
                "conversationId": thread,
            },
        )
        read = self.later(sent, 5, 90)
        self.add(read, "read", colleague.address, {"internetMessageId": message_id, "subject": subject})
        if self.rng.random() < 0.5:
            self.add(
                self.later(read, 2, 30),
                "send",
                colleague.address,
                {
                    "to": [self.box.owner().to_dict()],
                    "subject": f"RE: {subject}",
                    "body": "Sure, I can do that.",
                    "internetMessageId": self.message_id(colleague.address.split("@", 1)[1]),
                    "conversationId": thread,
                },
            )

    def newsletter(self, source: tuple[str, str, str]) -> None:
        """Bulk mail with List-Unsubscribe: read now and then, often deleted."""
        name, address, title = source
        domain = address.split("@", 1)[1]
        arrived = self.between((6, 0), (9, 0))
        message_id = self.message_id(domain)
        subject = f"{name}: {title} ({self.day.strftime('%b %d')})"
        self.add(
            arrived,
            "deliver",
            self.box.address,
            {
                "sender": {"name": name, "address": address},
                "subject": subject,
                "body": f"{title}. Read the full issue online. You receive this because you subscribed.",
                "headers": [
                    ["List-Unsubscribe", f"<mailto:unsubscribe@{domain}>, <https://{domain}/unsubscribe>"],
                    ["List-Unsubscribe-Post", "List-Unsubscribe=One-Click"],
                    ["List-Id", f"{name} <news.{domain}>"],
                    ["Precedence", "bulk"],
                ],
                "internetMessageId": message_id,
            },
        )
        if self.rng.random() < 0.3:
            self.add(
                self.later(arrived, 60, 240),
                "read",
                self.box.address,
                {"internetMessageId": message_id, "subject": subject},
            )
        if self.rng.random() < 0.4:
            self.add(
                self.later(arrived, 250, 420),
                "delete",
                self.box.address,
                {"internetMessageId": message_id, "subject": subject},
            )

    def personal_mail(self) -> None:
        """A personal message the user reads: it must never reach anyone else's view in Matterline."""
        name, address, subject = self.rng.choice(_PERSONAL)
        arrived = self.between((7, 30), (18, 0))
        message_id = self.message_id(address.split("@", 1)[1])
        self.add(
            arrived,
            "deliver",
            self.box.address,
            {
                "sender": {"name": name, "address": address},
                "subject": subject,
                "body": "Let me know what works for you.",
                "internetMessageId": message_id,
            },
        )
        self.add(
            self.later(arrived, 10, 120),
            "read",
            self.box.address,
            {"internetMessageId": message_id, "subject": subject},
        )

    def meeting(self) -> None:
        """A meeting this person organizes with a colleague and a client contact: answered by the
        colleague, sometimes cancelled before it starts."""
        matter = self.rng.choice(self.my_matters())
        contact = self.contact_for(matter)
        colleague = self.rng.choice(self.colleagues)
        hour, minute = self.rng.choice(((10, 0), (11, 0), (13, 30), (14, 0), (15, 0), (16, 0)))
        start = self.at(hour, minute)
        end = start + timedelta(minutes=self.rng.choice((30, 45, 60)))
        scheduled = self.between((7, 45), (9, 15))
        subject = self.subject_for(matter, self.rng.choice(_MEETING_KINDS))
        ical_uid = self.ical_uid()
        self.add(
            scheduled,
            "meeting",
            self.box.address,
            {
                "organizer": self.box.owner().to_dict(),
                "attendees": [colleague.owner().to_dict(), Recipient(contact.email, contact.name).to_dict()],
                "subject": subject,
                "start": start.isoformat(),
                "end": end.isoformat(),
                "location": self.rng.choice(
                    ("Conference room 4B", "Microsoft Teams meeting", "Client's offices")
                ),
                "icalUid": ical_uid,
            },
        )
        answer = min(self.later(scheduled, 10, 60), start - timedelta(minutes=5))
        roll = self.rng.random()
        response = "accepted" if roll < 0.75 else ("declined" if roll < 0.9 else "tentativelyAccepted")
        self.add(answer, "respond", colleague.address, {"icalUid": ical_uid, "response": response})
        if self.rng.random() < 0.12:
            cancel_at = min(self.later(answer, 20, 120), start - timedelta(minutes=2))
            self.add(cancel_at, "cancel", self.box.address, {"icalUid": ical_uid, "subject": subject})

    def client_invitation(self) -> None:
        """A client invites the lawyer; accepted or declined."""
        matter = self.rng.choice(self.my_matters())
        contact = self.contact_for(matter)
        start = self.at(self.rng.choice((9, 12, 15, 17)), 0)
        invited = self.between((7, 30), (8, 45))
        ical_uid = self.ical_uid()
        subject = f"{next(c.name for c in CLIENTS if c.key == matter.client_key)} / Hale & Mercer: catch-up"
        self.add(
            invited,
            "meeting",
            self.box.address,
            {
                "organizer": Recipient(contact.email, contact.name).to_dict(),
                "attendees": [self.box.owner().to_dict()],
                "subject": subject,
                "start": start.isoformat(),
                "end": (start + timedelta(minutes=30)).isoformat(),
                "location": "Phone",
                "icalUid": ical_uid,
            },
        )
        response = "accepted" if self.rng.random() < 0.7 else "declined"
        self.add(
            self.later(invited, 5, 45),
            "respond",
            self.box.address,
            {"icalUid": ical_uid, "response": response},
        )

    def ical_uid(self) -> str:
        return "040000008200E00074C5B7101A82E00800000000" + f"{self.rng.getrandbits(224):056X}"


def _weekly_series(mailboxes: Sequence[Mailbox], day: date, seed: int) -> ScenarioItem | None:
    """The firm's weekly litigation team meeting, organized by the billing partner (or the first
    lawyer): Mondays 9:30 in the organizer's zone, with one occurrence moved and one cancelled.
    Planned every day but created only once (``series`` is idempotent by ``iCalUId``)."""
    lawyers = [
        box
        for box in mailboxes
        for person in DEMO_PEOPLE
        if email_of(person).lower() == box.address.lower() and "attorney" in {str(r) for r in person.roles}
    ]
    if not lawyers:
        lawyers = list(mailboxes)
    if len(mailboxes) < 2 or not lawyers:
        return None
    billing = [
        box
        for box in lawyers
        for person in DEMO_PEOPLE
        if email_of(person).lower() == box.address.lower()
        and "billing_manager" in {str(r) for r in person.roles}
    ]
    organizer = (billing or lawyers)[0]
    zone = ZoneInfo(organizer.time_zone)
    monday = day - timedelta(days=day.weekday())
    first = datetime.combine(monday, time(9, 30), tzinfo=zone)
    digest = hashlib.sha256(f"series|{seed}".encode()).hexdigest().upper()
    moved_original = first + timedelta(weeks=2)
    cancelled = first + timedelta(weeks=3)
    return ScenarioItem(
        at=datetime.combine(day, time(6, 0), tzinfo=zone).astimezone(UTC),
        key=f"series|{seed}",
        action="series",
        mailbox=organizer.address,
        data={
            "organizer": organizer.owner().to_dict(),
            "attendees": [box.owner().to_dict() for box in mailboxes if box.user_id != organizer.user_id],
            "subject": "Litigation team weekly",
            "start": first.astimezone(UTC).isoformat(),
            "end": (first + timedelta(minutes=45)).astimezone(UTC).isoformat(),
            "location": "Conference room 2A / Teams",
            "icalUid": "040000008200E00074C5B7101A82E00800000000" + digest[:56],
            "recurrence": {"pattern": "weekly", "startDate": monday.isoformat(), "daysOfWeek": ["monday"]},
            "moved": {
                "originalStart": moved_original.astimezone(UTC).isoformat(),
                "start": (moved_original + timedelta(hours=1)).astimezone(UTC).isoformat(),
                "end": (moved_original + timedelta(hours=1, minutes=45)).astimezone(UTC).isoformat(),
                "subject": "Litigation team weekly (moved: hearing at 9:30)",
            },
            "cancelled": cancelled.astimezone(UTC).isoformat(),
        },
    )


# --- Releasing planned items -------------------------------------------------------------------------


class Scenario:
    """Planned days for a store, released as their time comes (``tick``).

    With ``auto_generate`` each ``tick`` plans the current day (in the firm's zone) if needed, so a
    long-running devstack produces a new day of mail every day. Planning happens for every mailbox in
    the store at the time; demo people get role-specific days, other mailboxes a lawyer's day.
    """

    def __init__(
        self,
        store: MailboxStore,
        *,
        seed: int = DEFAULT_SEED,
        clock: Callable[[], datetime] | None = None,
        auto_generate: bool = False,
        zone: str = FIRM_TIME_ZONE,
    ) -> None:
        self.store = store
        self.seed = seed
        self.transport = MailTransport(store)
        self._clock = clock or store.now
        self._auto_generate = auto_generate
        self._zone = ZoneInfo(zone)
        self._lock = threading.RLock()
        self._plans: dict[date, list[ScenarioItem]] = {}
        self._released: set[str] = set()

    def generate_day(self, day: date) -> list[ScenarioItem]:
        """Plan ``day`` for the store's mailboxes (once; planning again returns the same plan)."""
        with self._lock:
            if day not in self._plans:
                self._plans[day] = plan_day(self.store.mailboxes(), day, self.seed)
                self._forget_before(day - timedelta(days=KEEP_DAYS))
            return list(self._plans[day])

    def pending(self) -> list[ScenarioItem]:
        """Planned items not released yet, in time order."""
        with self._lock:
            return sorted(
                (i for plan in self._plans.values() for i in plan if i.key not in self._released),
                key=lambda i: (i.at, i.key),
            )

    def tick(self, now: datetime | None = None) -> list[ScenarioItem]:
        """Release every planned item whose time is at or before ``now`` (default: the clock)."""
        moment = now or self._clock()
        with self._lock:
            if self._auto_generate:
                self.generate_day(moment.astimezone(self._zone).date())
            due = [i for i in self.pending() if i.at <= moment]
            for item in due:
                self._released.add(item.key)
                try:
                    self._apply(item)
                except (LookupError, ValueError) as error:
                    # A reference the store no longer has (deleted meanwhile, or state lost): skip it.
                    logger.debug("scenario item %s skipped: %s", item.key, error)
            return due

    def to_dict(self) -> dict[str, Any]:
        """What to save under ``var/``: the seed, the planned days and what was released."""
        with self._lock:
            return {
                "version": 1,
                "seed": self.seed,
                "days": sorted(d.isoformat() for d in self._plans),
                "released": sorted(self._released),
            }

    def load_dict(self, data: Mapping[str, Any]) -> None:
        """Restore a state saved with ``to_dict`` (plans are recomputed; they are deterministic)."""
        with self._lock:
            self.seed = int(data.get("seed") or self.seed)
            self._released = {str(k) for k in data.get("released") or ()}
            for text in data.get("days") or ():
                self.generate_day(date.fromisoformat(str(text)))

    # -- scripting routes ---------------------------------------------------------------------------

    def register_routes(self, server: M365Server) -> None:
        """``GET /_sim/scenario``, ``POST /_sim/scenario/days`` and ``POST /_sim/scenario/tick``."""
        server.add_route("GET", r"^/_sim/scenario$", self._route_status)
        server.add_route("POST", r"^/_sim/scenario/days$", self._route_generate)
        server.add_route("POST", r"^/_sim/scenario/tick$", self._route_tick)

    def _route_status(self, request: Request) -> Response:
        pending = self.pending()
        with self._lock:
            days = sorted(d.isoformat() for d in self._plans)
            released = len(self._released)
        return Response.json(
            {
                "seed": self.seed,
                "days": days,
                "released": released,
                "pending": len(pending),
                "next": [item.describe() for item in pending[:10]],
            }
        )

    def _route_generate(self, request: Request) -> Response:
        try:
            body = request.json() if request.body.strip() else {}
            day = (
                date.fromisoformat(str(body["date"]))
                if body.get("date")
                else self._clock().astimezone(self._zone).date()
            )
        except (ValueError, TypeError, KeyError, AttributeError) as error:
            return Response.json(
                {"error": {"code": "BadRequest", "message": f"bad request: {error}"}}, status=400
            )
        items = self.generate_day(day)
        return Response.json({"date": day.isoformat(), "items": len(items)}, status=201)

    def _route_tick(self, request: Request) -> Response:
        try:
            body = request.json() if request.body.strip() else {}
            raw = body.get("now")
            now = datetime.fromisoformat(str(raw).replace("Z", "+00:00")) if raw else None
            if now is not None and now.tzinfo is None:
                raise ValueError("'now' needs an offset")
        except (ValueError, TypeError, AttributeError) as error:
            return Response.json(
                {"error": {"code": "BadRequest", "message": f"bad request: {error}"}}, status=400
            )
        released = self.tick(now)
        return Response.json({"released": [item.describe() for item in released]})

    # -- internals ---------------------------------------------------------------------------------

    def _forget_before(self, cutoff: date) -> None:
        for day in [d for d in self._plans if d < cutoff]:
            keys = {item.key for item in self._plans.pop(day)}
            self._released -= keys

    def _apply(self, item: ScenarioItem) -> None:
        data = item.data
        transport = self.transport
        if item.action == "deliver":
            transport.deliver(
                item.mailbox,
                sender=Recipient.from_dict(data["sender"]),
                subject=data["subject"],
                body=data.get("body", ""),
                headers=[(k, v) for k, v in data.get("headers") or ()],
                received_at=item.at,
                internet_message_id=data.get("internetMessageId"),
                conversation_id=data.get("conversationId"),
            )
        elif item.action == "send":
            transport.send(
                item.mailbox,
                to=[Recipient.from_dict(r) for r in data["to"]],
                subject=data["subject"],
                body=data.get("body", ""),
                headers=[(k, v) for k, v in data.get("headers") or ()],
                sent_at=item.at,
                internet_message_id=data.get("internetMessageId"),
                conversation_id=data.get("conversationId"),
            )
        elif item.action in ("read", "delete"):
            message = transport.find_message(item.mailbox, data["internetMessageId"], WellKnownFolder.INBOX)
            if message is None:
                raise ItemNotFoundError(data["internetMessageId"])
            owner = transport.mailbox(item.mailbox)
            if item.action == "read":
                self.store.mark_read(owner.user_id, message.item_key)
            else:
                self.store.delete_message(owner.user_id, message.item_key)
        elif item.action in ("meeting", "series"):
            self._apply_meeting(item)
        elif item.action == "respond":
            copy = self._copy(item.mailbox, data["icalUid"])
            transport.respond(item.mailbox, copy, data["response"])
        elif item.action == "cancel":
            transport.cancel_meeting(item.mailbox, self._copy(item.mailbox, data["icalUid"]))
        else:
            raise ValueError(f"unknown scenario action {item.action!r}")

    def _apply_meeting(self, item: ScenarioItem) -> None:
        data = item.data
        organizer = Recipient.from_dict(data["organizer"])
        known = item.action == "series" and self.store.mailbox(organizer.address) is not None
        if known and self.transport.copies(organizer.address, data["icalUid"]):
            return  # created on an earlier day
        recurrence = None
        if data.get("recurrence"):
            raw = data["recurrence"]
            recurrence = Recurrence(
                pattern=raw["pattern"],
                start_date=date.fromisoformat(raw["startDate"]),
                days_of_week=tuple(raw.get("daysOfWeek") or ()),
            )
        self.transport.create_meeting(
            organizer,
            subject=data["subject"],
            start=_moment(data["start"]),
            end=_moment(data["end"]),
            attendees=[Recipient.from_dict(a) for a in data.get("attendees") or ()],
            location=data.get("location", ""),
            recurrence=recurrence,
            ical_uid=data["icalUid"],
        )
        if item.action == "series":
            master = self._copy(organizer.address, data["icalUid"])
            moved = data["moved"]
            self.transport.move_occurrence(
                organizer.address,
                master,
                _moment(moved["originalStart"]),
                start=_moment(moved["start"]),
                end=_moment(moved["end"]),
                subject=moved.get("subject"),
            )
            self.transport.cancel_meeting(
                organizer.address, master, occurrence_start=_moment(data["cancelled"])
            )
            # The team accepts its weekly meeting; the third attendee only tentatively.
            for position, attendee in enumerate(data.get("attendees") or ()):
                address = Recipient.from_dict(attendee).address
                if self.store.mailbox(address) is not None:
                    answer = "tentativelyAccepted" if position == 2 else "accepted"
                    self.transport.respond(address, self._copy(address, data["icalUid"]), answer)

    def _copy(self, mailbox: str, ical_uid: str) -> str:
        copies = self.transport.copies(mailbox, ical_uid)
        if not copies:
            raise ItemNotFoundError(ical_uid)
        return copies[0].item_key


def generate_day(store: MailboxStore, day: date, seed: int = DEFAULT_SEED) -> Scenario:
    """Plan ``day`` for every mailbox of ``store``; ``tick(now)`` on the result releases the items."""
    scenario = Scenario(store, seed=seed)
    scenario.generate_day(day)
    return scenario


def _moment(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


__all__ = [
    "DEFAULT_SEED",
    "Scenario",
    "ScenarioItem",
    "demo_mailboxes",
    "generate_day",
    "has_mailbox",
    "install_demo_mailboxes",
    "plan_day",
]
