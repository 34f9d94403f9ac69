"""Evaluate matter suggestions on a generated, labelled set: ``matterline suggest evaluate``.

``generate_labelled_set`` builds a synthetic firm and one attorney's time-ordered stream of items, each with
its ground truth (the matter it belongs to, or None when it belongs to none). ``evaluate`` walks the stream
in time order exactly as the product would: suggest, then feed the ground truth back as the lawyer's
confirmation or correction (the user's ``Learning`` observes it, the firm's thread map records it).

The firm (deterministic for a seed)
    - ~300 clients: companies with their own domain and 2-6 contacts; individuals writing from free-mail
      addresses (gmail.com, ...) with a phone number; a few affiliated pairs (a company and its pension trust)
      sharing one domain, whose people are contacts of one or the other.
    - matters numbered ``CCCCC-MMMM`` (client number, matter number): one to a dozen per client, some closed
      (closed matters are not offered, and their numbers still appear in old mail).
    - contacts: the clients' people; some named on a matter (``Matter.contact_ids``); opposing counsel and
      experts at other firms, named on matters of several clients.
    - firm-internal colleagues at ``lovelace.law``.

The stream (``n`` items over about four months), each item labelled with a scenario
    thread              a later message of a conversation (the thread id is what carries it); now and
                        then a conversation drifts to another matter of the same client
    number in subject   a new conversation whose subject names the matter number, written in the ways
                        people write it (``00123-0004``, ``00123.0004``, ``#00123/0004``)
    number in attachment   ... or whose attachment name does (``00123-0004_SPA_v3.docx``)
    known contact, one matter / known contact, several matters
                        a new conversation with a known contact of the client and no number: the
                        contact mostly works on one matter of the client, sometimes another
    shared domain       a contact of one of two affiliated clients that share a domain
    new contact         an address nobody has seen, at a client's domain
    shared contact      opposing counsel or an expert named on matters of several clients
    meeting             a meeting with the client's people and colleagues (the matter's name in the
                        subject half the time, the number in the meeting text now and then)
    call                a phone call with a contact's number
    internal            colleagues only: mostly no matter (lunch, firm news); some about a matter, naming
                        it by number or only by name
    unknown sender      a vendor, a recruiter, a prospective client: no matter
    after correction    from time to time a contact's work moves to another matter of the client; the
                        first items of that contact afterwards are labelled so
    A few per cent of client mail belongs to no matter (greetings, an invoice query) and a few mention a
    second matter's number in passing: the set is not meant to be fully predictable.

The report: top-1 accuracy where the engine did not abstain (an item whose truth is "no matter" counts as
wrong when anything was proposed), top-3 accuracy over items that have a matter (abstentions included:
the ranked list is still shown), abstain rate, auto-assign rate and wrong automatic assignments (among all
items), and the same per scenario. Targets (DESIGN.md): top-1 ≥ 0.90, wrong auto ≤ 0.01.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, date, datetime, timedelta

from chalicelib.domain.matters import Client, Contact, Matter, MatterStatus
from chalicelib.domain.suggestions import (
    DEFAULT_ABSTAIN_BELOW,
    DEFAULT_AUTO_ASSIGN_AT,
    DEFAULT_HALF_LIFE_DAYS,
    Decision,
    Learning,
    MatterIndex,
    SuggestionItem,
    suggest,
)

FIRM_ID = "f-eval"
FIRM_DOMAIN = "lovelace.law"
ME = f"ada.lovelace@{FIRM_DOMAIN}"
START = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
DAYS = 120
DEFAULT_SEED = 20260309

TARGET_TOP1 = 0.90
TARGET_WRONG_AUTO = 0.01


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_WORDS = _words(
    "Acme Globex Initech Umbrella Stark Wayne Tyrell Cyberdyne Soylent Hooli Vandelay Wonka Oscorp "
    "Massive Dynamic Gringotts Monarch Nakatomi Pied Piper Prestige Sterling Cooper Aperture Black "
    "Mesa Blue Sun Buy More Duff Gekko Krusty Lacuna Nimbus Octan Paper Street Quahog Rekall Spacely "
    "Cogswell Strickland Virtucon Weyland Yoyodyne Zorg Abstergo Benthic Compu Dunder Mifflin "
    "Ellingson Fringe Genco Hanso Ingen Jupiter Kwik LexCorp Mooby Northwind Omni Primatech Roxxon "
    "Sirius Trask Union Veridian Wolfram"
)
_SUFFIXES = ("Corp.", "Inc.", "LLC", "plc", "GmbH", "Holdings", "Group", "Partners", "Ltd")
_TLDS = ("com", "com", "com", "co.uk", "de", "io", "net")
_FIRST = _words(
    "Alice Bob Carol Dave Erin Frank Grace Heidi Ivan Judy Mallory Niaj Olivia Peggy Rupert Sybil "
    "Trent Victor Walter Xena Yara Zane Amir Bea Chen Dara Eli Fatima Goran Hana Ines Jonas Kofi "
    "Lena Mateo Noor"
)
_LAST = _words(
    "Smith Jones Garcia Miller Davis Lopez Wilson Taylor Thomas Moore Martin Lee Clark Lewis Walker "
    "Hall Young King Wright Scott Green Baker Adams Nelson Hill Campbell Mitchell Roberts Carter "
    "Phillips Evans"
)
_MATTERS = (
    "Acquisition of {x}",
    "{x} v. {y}",
    "Employment advice",
    "Lease renewal, {n} Main Street",
    "Supply agreement with {x}",
    "Series {s} financing",
    "Trademark portfolio",
    "Regulatory investigation",
    "Data protection review",
    "Pension scheme restructuring",
    "Debt refinancing",
    "Joint venture with {x}",
    "Estate of {p}",
    "Shareholder dispute",
    "IP licence to {x}",
    "General corporate",
)
_TOPICS = (
    "draft agreement",
    "comments on the term sheet",
    "call tomorrow?",
    "next steps",
    "signature pages",
    "board minutes",
    "disclosure letter",
    "updated timeline",
    "documents for review",
    "questions on clause 7",
    "witness statement",
    "invoice query",
    "revised draft attached",
    "hearing date",
    "follow-up from today",
)
_ATTACH = ("SPA_v{v}.docx", "comments.pdf", "Draft_{v}.docx", "schedule.xlsx", "minutes.pdf", "signed.pdf")
_INTERNAL_TOPICS = (
    "Lunch on Thursday?",
    "Knowledge lunch: new disclosure rules",
    "Timesheets reminder",
    "Office move update",
    "Can you cover my call at 3?",
    "Partners' meeting agenda",
    "IT: password reset",
    "Training: negotiation skills",
)
_UNKNOWN = (
    ("events@lawsociety.example.org", "Invitation: annual dinner"),
    ("sales@legaltech-vendor.io", "Demo of our contract AI"),
    ("jobs@recruit-partners.com", "Senior associate roles"),
    ("enquiries@prospect-{n}.com", "New instruction enquiry"),
    ("{first}.{last}@gmail.com", "Question about a possible claim"),
    ("newsletter@bar-journal.example.org", "This week in the courts"),
)
_OTHER_FIRMS = ("bigfirm.com", "otherside-llp.com", "harbour-law.co.uk", "expert-witness.com")
_NON_MATTER_CLIENT_MAIL = ("Season's greetings", "Invoice query", "Our new office address", "Conference?")


@dataclass(frozen=True)
class LabelledItem:
    item: SuggestionItem
    truth: str | None  # the matter it belongs to; None: no matter (the right answer is to abstain)
    scenario: str


@dataclass
class LabelledSet:
    firm_domains: frozenset[str]
    clients: list[Client]
    matters: list[Matter]
    contacts: list[Contact]
    items: list[LabelledItem]
    seed: int


# ---------------------------------------------------------------- the generator


@dataclass
class _Person:
    contact: Contact
    client: int  # index into clients, -1 for outside people
    matters: list[str]  # matters this person works on (open), primary first
    shared_domain: bool = False


@dataclass
class _Thread:
    conversation_id: str
    matter: str | None
    subject: str
    people: tuple[str, ...]
    person: _Person | None
    replies_left: int
    next_at: datetime


@dataclass
class _World:
    rng: random.Random
    clients: list[Client] = field(default_factory=list)
    matters: list[Matter] = field(default_factory=list)
    contacts: list[Contact] = field(default_factory=list)
    open_by_client: dict[int, list[Matter]] = field(default_factory=dict)
    closed_by_client: dict[int, list[Matter]] = field(default_factory=dict)
    people: list[_Person] = field(default_factory=list)
    outsiders: list[_Person] = field(default_factory=list)
    colleagues: list[str] = field(default_factory=list)
    domains: dict[int, str] = field(default_factory=dict)
    serial: int = 0

    def next_id(self, prefix: str) -> str:
        self.serial += 1
        return f"{prefix}-{self.serial:06d}"


def _name(rng: random.Random) -> tuple[str, str]:
    return rng.choice(_FIRST), rng.choice(_LAST)


def _matter_name(rng: random.Random) -> str:
    first, last = _name(rng)
    return rng.choice(_MATTERS).format(
        x=f"{rng.choice(_WORDS)} {rng.choice(_SUFFIXES)}",
        y=f"{rng.choice(_WORDS)} {rng.choice(_SUFFIXES)}",
        n=rng.randint(1, 999),
        s=rng.choice("ABCDE"),
        p=f"{first} {last}",
    )


def _build_firm(world: _World, client_count: int) -> None:
    rng = world.rng
    colleagues = (
        f"{first.lower()}.{last.lower()}@{FIRM_DOMAIN}" for first, last in (_name(rng) for _ in range(14))
    )
    world.colleagues = [address for address in dict.fromkeys(colleagues) if address != ME]
    used_domains: set[str] = set()
    affiliate_of: Client | None = None  # a company whose affiliate comes next, sharing its domain
    for number in range(1, client_count + 1):
        client_id = f"c-{number:05d}"
        individual = affiliate_of is None and rng.random() < 0.15
        domains: tuple[str, ...] = ()
        if individual:
            first, last = _name(rng)
            name = f"{first} {last}"
        elif affiliate_of is not None:  # the affiliate of the previous company: same domain
            name, domains = f"{affiliate_of.name.split()[0]} Pension Trust", affiliate_of.domains
            world.domains[number - 1] = domains[0]
            affiliate_of = None
        else:
            word = rng.choice(_WORDS)
            name = f"{word} {rng.choice(_SUFFIXES)}"
            domain = f"{word.lower()}{'' if rng.random() < 0.5 else '-' + str(number)}.{rng.choice(_TLDS)}"
            while domain in used_domains:
                domain = f"{word.lower()}-{rng.randint(10, 9999)}.{rng.choice(_TLDS)}"
            used_domains.add(domain)
            domains = (domain,)
            world.domains[number - 1] = domain
        client = Client(firm_id=FIRM_ID, client_id=client_id, name=name, domains=domains)
        world.clients.append(client)
        if domains and affiliate_of is None and client.name.split()[-1] != "Trust" and rng.random() < 0.06:
            affiliate_of = client
        ci = number - 1
        count = rng.choices((1, 2, 3, 4, 5, 8, 12), (45, 22, 12, 8, 6, 5, 2))[0]
        closed = rng.choices((0, 1, 2, 4), (50, 25, 15, 10))[0]
        opened = date(2018, 1, 1)
        for seq in range(1, count + closed + 1):
            opened = opened + timedelta(days=rng.randint(20, 300))
            is_closed = seq <= closed  # the oldest ones are closed
            matter = Matter(
                firm_id=FIRM_ID,
                matter_id=f"m-{number:05d}-{seq:04d}",
                number=f"{number:05d}-{seq:04d}",
                name=_matter_name(rng),
                client_id=client_id,
                status=MatterStatus.CLOSED if is_closed else MatterStatus.OPEN,
                opened_on=opened,
            )
            bucket = world.closed_by_client if is_closed else world.open_by_client
            bucket.setdefault(ci, []).append(matter)
        # people: individuals are their own (free-mail) contact
        own_email = ""
        headcount = rng.randint(2, 6)
        if individual:
            first, last = name.split()
            provider = rng.choice(("gmail.com", "outlook.com", "yahoo.com", "icloud.com"))
            own_email = f"{first.lower()}.{last.lower()}{rng.randint(1, 99)}@{provider}"
            headcount = 1
        for n in range(headcount):
            first, last = (name.split() if individual else _name(rng))[:2]
            address = own_email if individual else f"{first.lower()}.{last.lower()}{n}@{world.domains[ci]}"
            contact = Contact(
                firm_id=FIRM_ID,
                contact_id=world.next_id("ct"),
                name=f"{first} {last}",
                emails=(address,),
                phones=(f"+1 212 555 {rng.randint(0, 9999):04d}",) if rng.random() < 0.6 else (),
                client_id=client_id,
            )
            world.contacts.append(contact)
            open_matters = world.open_by_client.get(ci, [])
            works_on = [m.matter_id for m in open_matters]
            rng.shuffle(works_on)
            person = _Person(contact, ci, works_on)
            world.people.append(person)
    # mark shared-domain people precisely: a domain with two clients
    owners: dict[str, set[int]] = {}
    for ci, domain in world.domains.items():
        owners.setdefault(domain, set()).add(ci)
    for person in world.people:
        their_domain = world.domains.get(person.client)
        person.shared_domain = their_domain is not None and len(owners.get(their_domain, ())) > 1
    # matters name some of their client's people (the ones who work on them most)
    linked: dict[str, list[str]] = {}
    for person in world.people:
        if person.matters and rng.random() < 0.5:
            linked.setdefault(person.matters[0], []).append(person.contact.contact_id)
    # outside people: opposing counsel and experts, on matters of several clients
    all_open = [m for ms in world.open_by_client.values() for m in ms]
    for n in range(40):
        first, last = _name(rng)
        on = rng.sample(all_open, rng.randint(2, 4))
        contact = Contact(
            firm_id=FIRM_ID,
            contact_id=world.next_id("ct"),
            name=f"{first} {last}",
            emails=(f"{first[0].lower()}{last.lower()}{n}@{rng.choice(_OTHER_FIRMS)}",),
            company="",
        )
        world.contacts.append(contact)
        for matter in on:
            linked.setdefault(matter.matter_id, []).append(contact.contact_id)
        world.outsiders.append(_Person(contact, -1, [m.matter_id for m in on]))
    for ci in list(world.open_by_client):
        world.open_by_client[ci] = [
            _with_contacts(m, tuple(linked.get(m.matter_id, ()))) for m in world.open_by_client[ci]
        ]
    for ci in range(len(world.clients)):
        world.matters.extend(world.closed_by_client.get(ci, []))
        world.matters.extend(world.open_by_client.get(ci, []))


def _with_contacts(matter: Matter, contact_ids: tuple[str, ...]) -> Matter:
    return replace(matter, contact_ids=contact_ids) if contact_ids else matter


def _written(number: str, rng: random.Random) -> str:
    """A matter number the way people type it."""
    style = rng.random()
    if style < 0.6:
        return number
    if style < 0.75:
        return number.replace("-", ".")
    if style < 0.85:
        return "#" + number.replace("-", "/")
    if style < 0.95:
        return number.replace("-", "_")
    return "Matter " + number


class _Stream:
    def __init__(self, world: _World, n: int) -> None:
        self.world = world
        self.rng = world.rng
        self.n = n
        self.items: list[LabelledItem] = []
        self.threads: list[_Thread] = []
        self.after_correction: dict[str, int] = {}  # contact address → items still labelled so
        # the attorney's book: about 20 clients with open matters, and the people she deals with
        with_open = [ci for ci, ms in world.open_by_client.items() if ms]
        shared = [ci for ci in with_open if any(p.shared_domain for p in world.people if p.client == ci)]
        book = set(self.rng.sample(with_open, 18)) | set(shared[:4])
        self.book_people = [p for p in world.people if p.client in book and p.matters]
        self.book_outsiders = [
            p for p in world.outsiders if any(self._client_of(m) in book for m in p.matters)
        ]
        for person in self.book_outsiders:
            person.matters = [m for m in person.matters if self._client_of(m) in book] or person.matters
        self.book = book

    def _client_of(self, matter_id: str) -> int:
        return int(matter_id.split("-")[1]) - 1

    # ------------------------------------------------------------ helpers

    def matter(self, matter_id: str) -> Matter:
        for m in self.world.open_by_client[self._client_of(matter_id)]:
            if m.matter_id == matter_id:
                return m
        raise KeyError(matter_id)

    def truth_for(self, person: _Person) -> str | None:
        """What a person's new conversation is about: mostly their main matter."""
        if person.client >= 0 and self.rng.random() < 0.03:
            return None
        if len(person.matters) == 1 or self.rng.random() < 0.85:
            return person.matters[0]
        return self.rng.choice(person.matters[1:])

    def cc(self) -> tuple[str, ...]:
        return tuple(self.rng.sample(self.world.colleagues, self.rng.choice((0, 0, 1, 2))))

    def addresses(self, person: _Person, *, sent: bool) -> tuple[str, tuple[str, ...]]:
        address = person.contact.emails[0]
        colleagues_of_client = [
            p.contact.emails[0] for p in self.book_people if p.client == person.client and p is not person
        ]
        others = tuple(
            self.rng.sample(colleagues_of_client, min(len(colleagues_of_client), self.rng.randint(0, 1)))
        )
        participants = (ME, address, *others, *self.cc())
        return (ME if sent else address), participants

    def emit(
        self, at: datetime, scenario: str, truth: str | None, person: _Person | None = None, **fields: object
    ) -> None:
        if person is not None and person.contact.emails[0] in self.after_correction:
            left = self.after_correction[person.contact.emails[0]]
            scenario = "after correction"
            if left <= 1:
                del self.after_correction[person.contact.emails[0]]
            else:
                self.after_correction[person.contact.emails[0]] = left - 1
        item = SuggestionItem(at=at, **fields)  # type: ignore[arg-type]
        self.items.append(LabelledItem(item, truth, scenario))

    def start_thread(
        self, at: datetime, matter: str | None, subject: str, people: tuple[str, ...], person: _Person | None
    ) -> str:
        conversation = self.world.next_id("conv")
        if self.rng.random() < 0.65:
            self.threads.append(
                _Thread(
                    conversation,
                    matter,
                    subject,
                    people,
                    person,
                    self.rng.randint(1, 6),
                    at + timedelta(hours=self.rng.uniform(1, 72)),
                )
            )
        return conversation

    def subject_for(self, matter_id: str | None) -> str:
        topic = self.rng.choice(_TOPICS)
        if matter_id and self.rng.random() < 0.3:
            return f"{self.matter(matter_id).name}: {topic}"
        return topic[0].upper() + topic[1:]

    # ------------------------------------------------------------ scenarios

    def thread_reply(self, at: datetime) -> bool:
        due = [t for t in self.threads if t.next_at <= at]
        if not due:
            return False
        thread = self.rng.choice(due)
        if thread.person is not None and thread.matter and self.rng.random() < 0.02:
            # the conversation drifts to another matter of the same client
            others = [m for m in thread.person.matters if m != thread.matter]
            if others:
                thread.matter = self.rng.choice(others)
        sent = self.rng.random() < 0.45
        sender = ME if sent else (thread.people[1] if len(thread.people) > 1 else ME)
        body = "Thanks, see below." if self.rng.random() < 0.7 else "Please find the revised draft attached."
        self.emit(
            at,
            "thread",
            thread.matter,
            thread.person,
            subject=f"RE: {thread.subject}",
            body_preview=body,
            sender=sender,
            participants=thread.people,
            conversation_id=thread.conversation_id,
        )
        thread.replies_left -= 1
        thread.next_at = at + timedelta(hours=self.rng.uniform(1, 96))
        if thread.replies_left <= 0:
            self.threads.remove(thread)
        return True

    def numbered(self, at: datetime, *, attachment: bool) -> None:
        person = self.rng.choice(self.book_people)
        truth = person.matters[0] if self.rng.random() < 0.85 else self.rng.choice(person.matters)
        number = _written(self.matter(truth).number, self.rng)
        sent = self.rng.random() < 0.5
        sender, participants = self.addresses(person, sent=sent)
        topic = self.rng.choice(_TOPICS)
        attachments: tuple[str, ...] = ()
        if attachment:
            subject = topic[0].upper() + topic[1:]
            name = self.rng.choice(_ATTACH).format(v=self.rng.randint(1, 9))
            attachments = (f"{number.lstrip('#').replace('/', '-')}_{name}",)
        else:
            subject = f"{number}: {topic}" if self.rng.random() < 0.5 else f"{topic} [{number}]"
        body = f"Dear {person.contact.name.split()[0]}, please see the attached."
        if self.rng.random() < 0.04:  # another matter of the client mentioned in passing
            others = [m for m in self.world.open_by_client[person.client] if m.matter_id != truth]
            if others:
                body += f" (This also affects {self.rng.choice(others).number}.)"
        conversation = self.start_thread(at, truth, subject, participants, person)
        scenario = "number in attachment" if attachment else "number in subject"
        self.emit(
            at,
            scenario,
            truth,
            person,
            subject=subject,
            body_preview=body,
            attachment_names=attachments,
            sender=sender,
            participants=participants,
            conversation_id=conversation,
        )

    def known_contact(self, at: datetime) -> None:
        person = self.rng.choice(self.book_people)
        truth = self.truth_for(person)
        sent = self.rng.random() < 0.45
        sender, participants = self.addresses(person, sent=sent)
        subject = self.rng.choice(_NON_MATTER_CLIENT_MAIL) if truth is None else self.subject_for(truth)
        body = f"Hi {person.contact.name.split()[0]}, " + self.rng.choice(_TOPICS)
        if truth and sent and self.rng.random() < 0.25:  # the firm's reference line in the body
            body += f"\nOur ref: {self.matter(truth).number}"
        conversation = self.start_thread(at, truth, subject, participants, person)
        if person.shared_domain:
            scenario = "shared domain"
        elif len(self.world.open_by_client.get(person.client, [])) > 1:
            scenario = "known contact, several matters"
        else:
            scenario = "known contact, one matter"
        self.emit(
            at,
            scenario,
            truth,
            person,
            subject=subject,
            body_preview=body,
            sender=sender,
            participants=participants,
            conversation_id=conversation,
        )

    def new_contact(self, at: datetime) -> None:
        candidates = [p for p in self.book_people if p.client in self.world.domains]
        anchor = self.rng.choice(candidates)
        first, last = _name(self.rng)
        local = f"{first.lower()}.{last.lower()}.new{self.rng.randint(1, 999)}"
        address = f"{local}@{self.world.domains[anchor.client]}"
        # a newcomer works on the matter the client's busiest person works on, mostly
        truth = anchor.matters[0] if self.rng.random() < 0.8 else self.rng.choice(anchor.matters)
        sent = self.rng.random() < 0.3
        participants = (ME, address, *self.cc())
        subject = self.subject_for(truth)
        conversation = self.start_thread(at, truth, subject, participants, None)
        self.emit(
            at,
            "new contact",
            truth,
            None,
            subject=subject,
            body_preview=f"Hello, I have taken over from {anchor.contact.name}.",
            sender=ME if sent else address,
            participants=participants,
            conversation_id=conversation,
        )

    def shared_contact(self, at: datetime) -> None:
        if not self.book_outsiders:
            self.known_contact(at)
            return
        person = self.rng.choice(self.book_outsiders)
        truth = person.matters[0] if self.rng.random() < 0.7 else self.rng.choice(person.matters)
        sent = self.rng.random() < 0.5
        address = person.contact.emails[0]
        participants = (ME, address, *self.cc())
        subject = self.subject_for(truth)
        if self.rng.random() < 0.3:
            subject = f"{self.matter(truth).name} - {self.rng.choice(_TOPICS)}"
        conversation = self.start_thread(at, truth, subject, participants, person)
        self.emit(
            at,
            "shared contact",
            truth,
            person,
            subject=subject,
            body_preview="Dear colleague, on behalf of our client ...",
            sender=ME if sent else address,
            participants=participants,
            conversation_id=conversation,
        )

    def meeting(self, at: datetime) -> None:
        person = self.rng.choice(self.book_people)
        truth = self.truth_for(person) or person.matters[0]
        matter = self.matter(truth)
        others = [p.contact.emails[0] for p in self.book_people if p.client == person.client][:3]
        attendees = (ME, *others, *self.rng.sample(self.world.colleagues, 1))
        client = self.world.clients[person.client].name
        if self.rng.random() < 0.5:
            subject = f"{client} / {matter.name}: status call"
        else:
            subject = (
                f"{client}: {self.rng.choice(('weekly call', 'catch-up', 'workshop', 'strategy session'))}"
            )
        text = f"Dial-in details. Agenda: {self.rng.choice(_TOPICS)}"
        if self.rng.random() < 0.3:
            text += f" (ref {_written(matter.number, self.rng)})"
        self.emit(
            at,
            "meeting",
            truth,
            person,
            subject=subject,
            meeting_text=text,
            sender=ME,
            participants=attendees,
            kind="meeting",
        )

    def call(self, at: datetime) -> None:
        with_phone = [p for p in self.book_people if p.contact.phones]
        person = self.rng.choice(with_phone)
        truth = self.truth_for(person)
        raw = person.contact.phones[0]
        shown = raw if self.rng.random() < 0.5 else raw.replace("+1 ", "").replace(" ", "-")
        self.emit(at, "call", truth, person, participants=(shown,), kind="call")

    def internal(self, at: datetime) -> None:
        sender = self.rng.choice(self.world.colleagues)
        participants = (ME, sender, *self.rng.sample(self.world.colleagues, self.rng.randint(0, 2)))
        roll = self.rng.random()
        truth: str | None = None
        if roll < 0.7:
            subject = self.rng.choice(_INTERNAL_TOPICS)
        else:
            person = self.rng.choice(self.book_people)
            truth = person.matters[0]
            matter = self.matter(truth)
            if roll < 0.85:
                subject = (
                    f"{_written(matter.number, self.rng)} - can you review the {self.rng.choice(_TOPICS)}?"
                )
            else:
                subject = f"{matter.name}: {self.rng.choice(_TOPICS)}"
        conversation = self.start_thread(at, truth, subject, participants, None)
        self.emit(
            at,
            "internal",
            truth,
            None,
            subject=subject,
            body_preview="See below.",
            sender=sender if self.rng.random() < 0.6 else ME,
            participants=participants,
            conversation_id=conversation,
        )

    def unknown(self, at: datetime) -> None:
        template, subject = self.rng.choice(_UNKNOWN)
        first, last = _name(self.rng)
        address = template.format(n=self.rng.randint(1, 500), first=first.lower(), last=last.lower())
        self.emit(
            at,
            "unknown sender",
            None,
            None,
            subject=subject,
            body_preview="Dear Ms Lovelace,",
            sender=address,
            participants=(ME, address),
            conversation_id=self.world.next_id("conv"),
        )

    def shift(self) -> None:
        """A contact's work moves to another of the client's matters (the lawyer will correct)."""
        movers = [p for p in self.book_people if len(p.matters) > 1]
        if not movers:
            return
        person = self.rng.choice(movers)
        new = self.rng.choice(person.matters[1:])
        person.matters.remove(new)
        person.matters.insert(0, new)
        self.after_correction[person.contact.emails[0]] = 5

    # ------------------------------------------------------------ the stream

    def run(self) -> list[LabelledItem]:
        step = timedelta(days=DAYS) / self.n
        scenarios = (
            ("thread", 30),
            ("subject", 9),
            ("attachment", 4),
            ("contact", 22),
            ("new", 5),
            ("shared", 4),
            ("meeting", 7),
            ("call", 5),
            ("internal", 10),
            ("unknown", 4),
        )
        names = [s for s, _ in scenarios]
        weights = [w for _, w in scenarios]
        for i in range(self.n):
            at = START + step * i + timedelta(seconds=self.rng.randint(0, 59))
            if i and i % max(1, self.n // 12) == 0:
                self.shift()
            choice = self.rng.choices(names, weights)[0]
            if choice == "thread" and self.thread_reply(at):
                continue
            if choice in ("thread", "contact"):
                self.known_contact(at)
            elif choice == "subject":
                self.numbered(at, attachment=False)
            elif choice == "attachment":
                self.numbered(at, attachment=True)
            elif choice == "new":
                self.new_contact(at)
            elif choice == "shared":
                self.shared_contact(at)
            elif choice == "meeting":
                self.meeting(at)
            elif choice == "call":
                self.call(at)
            elif choice == "internal":
                self.internal(at)
            else:
                self.unknown(at)
        return self.items


def generate_labelled_set(n: int = 2500, seed: int = DEFAULT_SEED, *, clients: int = 300) -> LabelledSet:
    """A synthetic firm and ``n`` time-ordered items with their ground truth (see the module docstring)."""
    world = _World(random.Random(seed))
    _build_firm(world, clients)
    items = _Stream(world, n).run()
    return LabelledSet(
        firm_domains=frozenset({FIRM_DOMAIN}),
        clients=world.clients,
        matters=world.matters,
        contacts=world.contacts,
        items=items,
        seed=seed,
    )


# ---------------------------------------------------------------- evaluation


@dataclass
class Tally:
    items: int = 0
    with_matter: int = 0
    decided: int = 0  # suggested or auto-assigned (not abstained)
    decided_correct: int = 0
    top3_hits: int = 0
    abstained: int = 0
    auto: int = 0
    wrong_auto: int = 0

    def add(self, *, truth: str | None, ranked: list[str], decision: Decision) -> None:
        self.items += 1
        top = ranked[0] if ranked else None
        if truth is not None:
            self.with_matter += 1
            if truth in ranked[:3]:
                self.top3_hits += 1
        if decision is Decision.ABSTAIN:
            self.abstained += 1
        else:
            self.decided += 1
            if top is not None and top == truth:
                self.decided_correct += 1
        if decision is Decision.AUTO_ASSIGN:
            self.auto += 1
            if top != truth:
                self.wrong_auto += 1

    @property
    def top1(self) -> float:
        return self.decided_correct / self.decided if self.decided else 1.0

    @property
    def top3(self) -> float:
        return self.top3_hits / self.with_matter if self.with_matter else 1.0

    @property
    def abstain_rate(self) -> float:
        return self.abstained / self.items if self.items else 0.0

    @property
    def auto_rate(self) -> float:
        return self.auto / self.items if self.items else 0.0

    @property
    def wrong_auto_rate(self) -> float:
        return self.wrong_auto / self.items if self.items else 0.0


@dataclass(frozen=True)
class EvaluationReport:
    items: int
    top1_accuracy: float  # where the engine did not abstain
    top3_accuracy: float  # over items that belong to a matter
    abstain_rate: float
    auto_rate: float
    wrong_auto_rate: float  # wrong automatic assignments, among all items
    correct_abstentions: int  # abstained where the item belongs to no matter
    no_matter_items: int
    by_scenario: dict[str, Tally]
    calibration: list[tuple[str, int, float]]  # (confidence bin, items, share whose top matter was right)
    seconds: float

    @property
    def meets_targets(self) -> bool:
        return self.top1_accuracy >= TARGET_TOP1 and self.wrong_auto_rate <= TARGET_WRONG_AUTO

    def as_dict(self) -> dict[str, object]:
        return {
            "items": self.items,
            "top1_accuracy": self.top1_accuracy,
            "top3_accuracy": self.top3_accuracy,
            "abstain_rate": self.abstain_rate,
            "auto_rate": self.auto_rate,
            "wrong_auto_rate": self.wrong_auto_rate,
            "correct_abstentions": self.correct_abstentions,
            "no_matter_items": self.no_matter_items,
            "by_scenario": {name: asdict(t) for name, t in self.by_scenario.items()},
            "calibration": [{"confidence": b, "items": n, "top1": a} for b, n, a in self.calibration],
            "meets_targets": self.meets_targets,
        }


def evaluate(
    labelled: LabelledSet,
    *,
    abstain_below: float = DEFAULT_ABSTAIN_BELOW,
    auto_assign_at: float = DEFAULT_AUTO_ASSIGN_AT,
    half_life_days: float = DEFAULT_HALF_LIFE_DAYS,
    include_closed: bool = False,
) -> EvaluationReport:
    """Suggest for every item in time order, then learn its ground truth as the lawyer's decision."""
    started = time.perf_counter()
    index = MatterIndex.build(
        labelled.matters,
        labelled.clients,
        labelled.contacts,
        firm_domains=labelled.firm_domains,
        include_closed=include_closed,
    )
    learning = Learning(half_life_days=half_life_days)
    threads: dict[str, str] = {}
    overall = Tally()
    by_scenario: dict[str, Tally] = {}
    correct_abstentions = no_matter = 0
    bins: dict[int, list[int]] = {}  # tenth of confidence → [items, top right]
    for labelled_item in sorted(labelled.items, key=lambda li: li.item.at):
        item, truth = labelled_item.item, labelled_item.truth
        result = suggest(
            index,
            item,
            learning=learning,
            thread_matter=threads.get(item.conversation_id) if item.conversation_id else None,
            now=item.at,
            abstain_below=abstain_below,
            auto_assign_at=auto_assign_at,
        )
        ranked = [s.matter_id for s in result.suggestions]
        if result.suggestions:
            tally = bins.setdefault(min(9, int(result.suggestions[0].confidence * 10)), [0, 0])
            tally[0] += 1
            tally[1] += ranked[0] == truth
        overall.add(truth=truth, ranked=ranked, decision=result.decision)
        by_scenario.setdefault(labelled_item.scenario, Tally()).add(
            truth=truth, ranked=ranked, decision=result.decision
        )
        if truth is None:
            no_matter += 1
            if result.decision is Decision.ABSTAIN:
                correct_abstentions += 1
        # the lawyer confirms or corrects (or marks it as no matter): the learner and the firm's
        # thread map see the truth
        proposed = ranked[0] if ranked and result.decision is not Decision.ABSTAIN else None
        learning.observe(
            item,
            truth,
            item.at,
            firm_domains=index.firm_domains,
            replaced=proposed if proposed != truth else None,
        )
        if item.conversation_id and truth is not None:
            threads[item.conversation_id] = truth
    return EvaluationReport(
        items=overall.items,
        top1_accuracy=overall.top1,
        top3_accuracy=overall.top3,
        abstain_rate=overall.abstain_rate,
        auto_rate=overall.auto_rate,
        wrong_auto_rate=overall.wrong_auto_rate,
        correct_abstentions=correct_abstentions,
        no_matter_items=no_matter,
        by_scenario=dict(sorted(by_scenario.items())),
        calibration=[
            (f"{b / 10:.1f}-{(b + 1) / 10:.1f}", n, right / n) for b, (n, right) in sorted(bins.items())
        ],
        seconds=time.perf_counter() - started,
    )


def format_report(report: EvaluationReport, labelled: LabelledSet) -> str:
    lines = [
        f"# suggestion evaluation: {report.items} items (seed {labelled.seed}), {len(labelled.matters)} "
        f"matters, {len(labelled.clients)} clients, {len(labelled.contacts)} contacts",
        f"# {report.no_matter_items} items belong to no matter; "
        f"{report.correct_abstentions} of them abstained",
        f"# {report.seconds:.2f} s including the index build",
        "",
        f"{'scenario':34} {'items':>6} {'top-1':>7} {'top-3':>7} {'abstain':>8} {'auto':>7} "
        f"{'wrong auto':>10}",
    ]
    for name, t in report.by_scenario.items():
        lines.append(
            f"{name:34} {t.items:6d} {t.top1:7.1%} {t.top3:7.1%} {t.abstain_rate:8.1%} "
            f"{t.auto_rate:7.1%} {t.wrong_auto:10d}"
        )
    lines += ["", "calibration: top suggestion's confidence → how often it was right"]
    lines += [f"  {label}  {n:6d} items  {right:7.1%}" for label, n, right in report.calibration]
    lines += [
        "",
        f"bench: top-1 accuracy = {report.top1_accuracy:.4f}",
        f"bench: top-3 accuracy = {report.top3_accuracy:.4f}",
        f"bench: abstain rate = {report.abstain_rate:.4f}",
        f"bench: auto rate = {report.auto_rate:.4f}",
        f"bench: wrong auto rate = {report.wrong_auto_rate:.4f}",
        f"# targets: top-1 >= {TARGET_TOP1:.2f} where not abstaining, wrong auto <= {TARGET_WRONG_AUTO:.2f}: "
        + ("met" if report.meets_targets else "NOT MET"),
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """``matterline suggest evaluate``: generate a labelled set, evaluate, print; exit 1 if targets fail."""
    parser = argparse.ArgumentParser(
        prog="matterline suggest evaluate",
        description="Evaluate matter suggestions on a generated labelled set.",
    )
    parser.add_argument("--items", type=int, default=2500, help="labelled items to generate (default 2500)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--clients", type=int, default=300, help="clients in the synthetic firm")
    parser.add_argument("--abstain-below", type=float, default=DEFAULT_ABSTAIN_BELOW)
    parser.add_argument("--auto-assign-at", type=float, default=DEFAULT_AUTO_ASSIGN_AT)
    parser.add_argument("--half-life-days", type=float, default=DEFAULT_HALF_LIFE_DAYS)
    parser.add_argument("--include-closed", action="store_true", help="offer closed matters too")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--out", type=str, default=None, help="also write the JSON report to this file")
    args = parser.parse_args(list(argv) if argv is not None else None)
    if args.items < 1:
        parser.error("--items must be at least 1")
    labelled = generate_labelled_set(args.items, args.seed, clients=args.clients)
    report = evaluate(
        labelled,
        abstain_below=args.abstain_below,
        auto_assign_at=args.auto_assign_at,
        half_life_days=args.half_life_days,
        include_closed=args.include_closed,
    )
    if args.json:
        print(json.dumps(report.as_dict(), indent=2))
    else:
        print(format_report(report, labelled))
    if args.out:
        with open(args.out, "w", encoding="utf-8") as handle:
            json.dump(report.as_dict(), handle, indent=2)
    return 0 if report.meets_targets else 1


if __name__ == "__main__":
    sys.exit(main())
