"""Matter suggestion: rank the matters an item (an event, or the add-in's current item) may belong to.

Pure: items, matters, clients, contacts and what the user chose before go in; ranked suggestions with a
confidence and the reasons come out. Nothing here touches AWS, HTTP or the clock.

The index (``MatterIndex.build``, once per firm and matter list)
    - matter numbers: the text of an item is scanned **once** with the firm's few number *patterns* (one
      combined regular expression); every token found is normalised (upper case, any run of ``- . / _``
      read as ``-``) and looked up in one dict of every offered matter's number. A token that is not a
      number itself is tried by its separator-bounded pieces, longest first, so ``00123-0004_draft.docx``
      and ``see 00123-0004.`` both find ``00123-0004``. The cost does not grow with the number of matters
      (the per-matter alternative, one regex per matter, is what ``tests/bench/bench_suggestions.py``
      measures against). A matter number the patterns cannot see (``ACME`` under the default pattern, which
      wants separated parts) is listed in ``MatterIndex.unscannable`` for the admin, not guessed at.
    - addresses: email → contact(s), phone (its last ten digits) → contact(s), contact → its client and the
      matters that name it (``Matter.contact_ids``), domain → client(s) (from ``Client.domains`` and the
      domains of the client's contacts; free-mail domains and the firm's own are never a client's; a domain
      shared by more than ``MAX_CLIENTS_PER_DOMAIN`` clients says nothing and is dropped), client → its
      offered matters, most recently opened first.
    - closed matters are not offered unless the firm asks (``include_closed``); pending ones are.
    - compact: parallel lists and ``array``s of ints, no object per matter or contact.

Three layers of evidence, combined into one probability per matter and one for "none of these"

    1. who is on it — a prior from the index, log-weights per matter (each kind counted once, at its
       strongest, so three people from one client are not three times the evidence):
           client            contact 3.0 · domain 2.5   a participant is a contact of the matter's client,
                                                        or writes from its domain: every offered matter of
                                                        the client gets it (a client with four open matters
                                                        spreads it four ways)
           contact on matter 1.5                        a participant is named on the matter
           closed            -1.0                       (only when closed matters are offered)
           none of these     NONE_WEIGHT 1.0
       Q0(m) = e^w(m) / (e^NONE + Σ e^w) — every other matter of those clients counts in the sum.
    2. what this user chose before, for these addresses (and, at a quarter of the weight, their domains):
       decayed counts L(m) — every choice weighs 1 and halves every ``half_life_days`` (30), a correction
       also halves the replaced matter's weight, "no matter" is a choice too — blended with the prior as
       pseudo-counts: Q(m) = (L(m) + A·Q0(m)) / (L + A), A = LEARNING_PRIOR_COUNT (2). With little
       history the prior speaks; with a lot, the user's own frequencies do (and they are calibrated by
       construction); a recent correction soon outweighs an old habit.
    3. what names it — likelihood ratios on top: P(m) ∝ Q(m) · e^t(m), P(none) ∝ Q(none):
           matter number     subject 6.0 · attachment 5.5 · meeting text 5.0 · body preview 4.0
           thread            5.0 the firm assigned this conversation before (or 5.0 · share · trust for
                             this user's own earlier choices in it, trust = mass / (mass + 0.25))
           matter name       3.0 in the subject or meeting text, among the clients' matters in question

The thresholds then mean what they say: at or above ``auto_assign_at`` the top matter is assigned
automatically (and the result says so), unless strong evidence (a number in the subject, an attachment
or the meeting text, or the thread: weight ≥ ``WEIGHT_STRONG``) points to another matter — then a person
decides; below ``abstain_below`` nothing is proposed (the suggestions are still returned, ranked, for a
picker). Mail where everyone is inside the firm gets no client evidence at all, so it abstains unless a
number, the thread or the user's history names a matter. ``devstack/suggestion_eval.py`` measures how
well the confidence is calibrated on a labelled set.
"""

from __future__ import annotations

import math
import re
from array import array
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

from chalicelib.domain.capture import ActivityEvent, EventKind
from chalicelib.domain.matters import Client, Contact, Matter, MatterStatus, normalize_matter_number

# ---------------------------------------------------------------- settings and weights

#: Separated parts of letters and digits, at least two: ``00123-0004``, ``LIT.2024.117``, ``ACME/42``.
GENERIC_NUMBER_PATTERN = r"[A-Z0-9]+(?:[-./_][A-Z0-9]+)+"
#: Plain 4-8 digit numbers; only for firms whose numbers look like that (years and amounts match too).
DIGITS_NUMBER_PATTERN = r"\d{4,8}"
DEFAULT_NUMBER_PATTERNS: tuple[str, ...] = (GENERIC_NUMBER_PATTERN,)

DEFAULT_ABSTAIN_BELOW = 0.5
DEFAULT_AUTO_ASSIGN_AT = 0.95
DEFAULT_HALF_LIFE_DAYS = 30.0

NONE_WEIGHT = 1.0
WEIGHT_NUMBER = {"subject": 6.0, "attachment": 5.5, "meeting text": 5.0, "body": 4.0}
WEIGHT_THREAD = 5.0
WEIGHT_CONTACT_ON_MATTER = 1.5
WEIGHT_CLIENT_CONTACT = 3.0
WEIGHT_CLIENT_DOMAIN = 2.5
WEIGHT_NAME = 3.0
WEIGHT_STRONG = 5.0  # text evidence this strong for another matter blocks an automatic assignment
WEIGHT_CLOSED = -1.0
THREAD_TRUST = 0.25
LEARNING_PRIOR_COUNT = 2.0
DOMAIN_COUNT_FACTOR = 0.25
MIN_NAME_CHARS = 8
MAX_NAME_CHECKS_PER_CLIENT = 200

MAX_CLIENTS_PER_DOMAIN = 4
MAX_SCAN_CHARS = 4_000  # per field: a body preview is 255 characters in Graph; this bounds pasted text
MAX_TOKEN_PARTS = 12  # longer tokens (URLs, paths) are tried by windows of at most four parts
_MIN_PHONE_DIGITS = 7

FREE_MAIL_DOMAINS = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "yahoo.com",
        "yahoo.co.uk",
        "yahoo.fr",
        "ymail.com",
        "hotmail.com",
        "hotmail.co.uk",
        "hotmail.fr",
        "outlook.com",
        "live.com",
        "live.co.uk",
        "msn.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "aol.com",
        "protonmail.com",
        "proton.me",
        "pm.me",
        "gmx.com",
        "gmx.net",
        "gmx.de",
        "web.de",
        "mail.com",
        "zoho.com",
        "fastmail.com",
        "hey.com",
        "yandex.com",
        "yandex.ru",
        "mail.ru",
        "qq.com",
        "163.com",
        "comcast.net",
        "verizon.net",
        "att.net",
        "sbcglobal.net",
        "btinternet.com",
        "orange.fr",
        "free.fr",
        "t-online.de",
    }
)

_SEPARATORS = re.compile(r"[-./_]+")
_BOUNDARY_BEFORE = r"(?<![A-Za-z0-9])"
_BOUNDARY_AFTER = r"(?![A-Za-z0-9])"


class Decision(StrEnum):
    AUTO_ASSIGN = "auto_assign"
    SUGGEST = "suggest"
    ABSTAIN = "abstain"


# ---------------------------------------------------------------- items


@dataclass(frozen=True)
class SuggestionItem:
    """What the engine looks at. ``participants`` are email addresses or phone numbers (any format)."""

    subject: str = ""
    body_preview: str = ""
    attachment_names: tuple[str, ...] = ()
    meeting_text: str = ""
    sender: str = ""
    participants: tuple[str, ...] = ()
    conversation_id: str = ""
    at: datetime = datetime(1970, 1, 1, tzinfo=UTC)
    kind: str = ""  # EventKind value when known: "meeting" words the reasons as attendees

    @classmethod
    def from_event(cls, event: ActivityEvent) -> SuggestionItem:
        """An activity event as an item.

        Text comes from the event's details: ``subject``; ``body_preview``; ``attachment_names`` (one name
        per line); for meetings ``note`` and ``location`` are the meeting text, for other kinds (manual
        items, calls) the ``note`` is read with the body.
        """
        note = event.detail("note")
        meeting = event.kind is EventKind.MEETING
        body = event.detail("body_preview")
        if note and not meeting:
            body = f"{body}\n{note}" if body else note
        meeting_text = " ".join(t for t in (note, event.detail("location")) if t) if meeting else ""
        attachments = tuple(n.strip() for n in event.detail("attachment_names").splitlines() if n.strip())
        return cls(
            subject=event.subject,
            body_preview=body,
            attachment_names=attachments,
            meeting_text=meeting_text,
            sender=event.sender.lower(),
            participants=tuple(p.lower() for p in event.participants),
            conversation_id=event.conversation_id,
            at=event.start,
            kind=str(event.kind),
        )


@dataclass(frozen=True)
class Suggestion:
    matter_id: str
    number: str
    name: str
    confidence: float
    reasons: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "matter_id": self.matter_id,
            "number": self.number,
            "name": self.name,
            "confidence": round(self.confidence, 4),
            "reasons": list(self.reasons),
        }


@dataclass(frozen=True)
class SuggestionResult:
    """Ranked suggestions (best first), what to do with them, and one line saying why."""

    suggestions: tuple[Suggestion, ...]
    decision: Decision
    explanation: str

    @property
    def assigned_matter_id(self) -> str | None:
        """The matter to assign without asking, or None."""
        if self.decision is Decision.AUTO_ASSIGN and self.suggestions:
            return self.suggestions[0].matter_id
        return None

    @property
    def top(self) -> Suggestion | None:
        return self.suggestions[0] if self.suggestions else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "decision": str(self.decision),
            "explanation": self.explanation,
            "suggestions": [s.as_dict() for s in self.suggestions],
        }


# ---------------------------------------------------------------- addresses


def domain_of(address: str) -> str:
    return address.rsplit("@", 1)[1].lower() if "@" in address else ""


def phone_key(raw: str) -> str:
    """A phone number's comparable key: its last ten digits (``+1 212 555 0100`` = ``(212) 555-0100``).

    Empty when it has fewer than seven digits (extensions) or is not a phone number at all.
    """
    if "@" in raw:
        return ""
    digits = "".join(ch for ch in raw if ch.isdigit())
    if len(digits) < _MIN_PHONE_DIGITS or len(digits) > 20:
        return ""
    return digits[-10:]


def _in_domains(domain: str, domains: Collection[str]) -> bool:
    """``domain`` is one of ``domains`` or a subdomain of one."""
    while domain:
        if domain in domains:
            return True
        _, _, domain = domain.partition(".")
        if "." not in domain:
            return False
    return False


@dataclass(frozen=True)
class _Keys:
    """The learning keys of an item: external addresses (and phones), their domains, the thread."""

    contacts: tuple[str, ...]
    domains: tuple[str, ...]
    thread: str
    internal_only: bool


def item_keys(item: SuggestionItem, firm_domains: Collection[str]) -> _Keys:
    seen: set[str] = set()
    contacts: list[str] = []
    domains: list[str] = []
    any_address = False
    external = False
    for raw in (item.sender, *item.participants):
        if not raw:
            continue
        address = raw.strip().lower()
        if address in seen:
            continue
        seen.add(address)
        if "@" in address:
            any_address = True
            domain = domain_of(address)
            if _in_domains(domain, firm_domains):
                continue
            external = True
            contacts.append(address)
            if domain not in FREE_MAIL_DOMAINS and domain not in domains:
                domains.append(domain)
        else:
            key = phone_key(address)
            if key:
                external = True
                contacts.append(key)
    return _Keys(tuple(contacts), tuple(domains), item.conversation_id, any_address and not external)


# ---------------------------------------------------------------- learning


_Entry = list[float]  # [weight at as_of, as_of (epoch seconds), count]
NO_MATTER = ""  # the learning key of "belongs to no matter"


class Learning:
    """What one user chose before, per contact (address or phone), domain and thread.

    Every choice adds 1 to the (key, matter) weight, and weights halve every ``half_life_days``. Keys hold at
    most ``max_matters_per_key`` matters (the lightest go). ``to_dict``/``from_dict`` store it as JSON.
    """

    KINDS = ("contact", "domain", "thread")

    def __init__(
        self, *, half_life_days: float = DEFAULT_HALF_LIFE_DAYS, max_matters_per_key: int = 8
    ) -> None:
        if half_life_days <= 0:
            raise ValueError("half_life_days must be positive")
        self.half_life_days = half_life_days
        self.max_matters_per_key = max_matters_per_key
        self._rate = math.log(2) / (half_life_days * 86_400.0)
        self._keys: dict[str, dict[str, dict[str, _Entry]]] = {kind: {} for kind in self.KINDS}

    def __len__(self) -> int:
        return sum(len(keys) for keys in self._keys.values())

    def observe(
        self,
        item: SuggestionItem,
        matter_id: str | None,
        at: datetime | None = None,
        *,
        firm_domains: Collection[str] = (),
        replaced: str | None = None,
    ) -> None:
        """The user assigned ``item`` to ``matter_id`` (instead of ``replaced``, if they corrected one).

        ``None`` records that it belongs to no matter (a greeting, an invoice query): for those people it
        weighs for "none of these" next time. Recorded for the item's external addresses and phones, their
        domains (free-mail and the firm's own excepted) and its thread. A correction also halves the
        replaced matter's weight for those keys.
        """
        when = _epoch(at or item.at)
        chosen = matter_id or NO_MATTER
        keys = item_keys(item, firm_domains)
        for kind, values in (
            ("contact", keys.contacts),
            ("domain", keys.domains),
            ("thread", (keys.thread,) if keys.thread else ()),
        ):
            table = self._keys[kind]
            for key in values:
                entries = table.setdefault(key, {})
                self._add(entries, chosen, when)
                if replaced and replaced != chosen and replaced in entries:
                    entry = entries[replaced]
                    entry[0] = self._decayed(entry, when) / 2
                    entry[1] = max(entry[1], when)
                if len(entries) > self.max_matters_per_key:
                    lightest = min(entries, key=lambda m: self._decayed(entries[m], when))
                    del entries[lightest]

    def _add(self, entries: dict[str, _Entry], matter_id: str, when: float) -> None:
        entry = entries.get(matter_id)
        if entry is None:
            entries[matter_id] = [1.0, when, 1.0]
        elif when >= entry[1]:
            entry[0] = entry[0] * math.exp(-self._rate * (when - entry[1])) + 1.0
            entry[1] = when
            entry[2] += 1
        else:  # an older choice arriving late counts as old
            entry[0] += math.exp(-self._rate * (entry[1] - when))
            entry[2] += 1

    def _decayed(self, entry: _Entry, when: float) -> float:
        age = when - entry[1]
        return entry[0] * math.exp(-self._rate * age) if age > 0 else entry[0]

    def choices(self, kind: str, key: str, now: datetime) -> list[tuple[str, float, int]]:
        """(matter id, weight now, times chosen) for one key, heaviest first."""
        entries = self._keys[kind].get(key)
        if not entries:
            return []
        when = _epoch(now)
        rows = [(m, self._decayed(e, when), int(e[2])) for m, e in entries.items()]
        rows.sort(key=lambda row: -row[1])
        return rows

    def _entries(self, kind: str, key: str) -> dict[str, _Entry] | None:
        return self._keys[kind].get(key)

    def prune(self, now: datetime, *, below: float = 0.01) -> int:
        """Forget choices whose weight decayed below ``below``; returns how many went."""
        when = _epoch(now)
        gone = 0
        for table in self._keys.values():
            for key in list(table):
                entries = table[key]
                for matter_id in [m for m, e in entries.items() if self._decayed(e, when) < below]:
                    del entries[matter_id]
                    gone += 1
                if not entries:
                    del table[key]
        return gone

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": 1,
            "half_life_days": self.half_life_days,
            "max_matters_per_key": self.max_matters_per_key,
            "keys": {
                kind: {
                    key: [
                        [matter_id, round(e[0], 6), _iso(e[1]), int(e[2])]
                        for matter_id, e in sorted(entries.items())
                    ]
                    for key, entries in sorted(table.items())
                }
                for kind, table in self._keys.items()
            },
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Learning:
        learning = cls(
            half_life_days=float(data.get("half_life_days", DEFAULT_HALF_LIFE_DAYS)),
            max_matters_per_key=int(data.get("max_matters_per_key", 8)),
        )
        for kind, table in dict(data.get("keys", {})).items():
            if kind not in learning._keys:
                continue
            for key, rows in table.items():
                learning._keys[kind][key] = {
                    str(matter_id): [float(weight), _epoch(datetime.fromisoformat(as_of)), float(count)]
                    for matter_id, weight, as_of, count in rows
                }
        return learning


def _epoch(moment: datetime) -> float:
    if moment.tzinfo is None:
        raise ValueError("times must be timezone-aware")
    return moment.timestamp()


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


# ---------------------------------------------------------------- the index


def canonical_number(text: str) -> str:
    """How matter numbers compare: upper case, separators (``- . / _``) as one ``-``, none at the ends."""
    return _SEPARATORS.sub("-", normalize_matter_number(text)).strip("-")


class MatterIndex:
    """Everything ``suggest`` looks up, for one firm. Build it with ``MatterIndex.build``."""

    __slots__ = (
        "_by_id",
        "_by_number",
        "_client_matters",
        "_client_names",
        "_closed",
        "_contact_client",
        "_contact_matters",
        "_contact_names",
        "_domain_clients",
        "_email_contacts",
        "_matter_client",
        "_matter_ids",
        "_names",
        "_numbers",
        "_phone_contacts",
        "_scanner",
        "_single_part_numbers",
        "firm_domains",
        "include_closed",
        "unscannable",
    )

    def __init__(self) -> None:
        self.firm_domains: frozenset[str] = frozenset()
        self.include_closed = False
        self.unscannable: tuple[str, ...] = ()
        self._scanner: re.Pattern[str] = re.compile(GENERIC_NUMBER_PATTERN)
        self._single_part_numbers = False
        self._matter_ids: list[str] = []
        self._numbers: list[str] = []
        self._names: list[str] = []
        self._matter_client = array("i")
        self._closed = bytearray()
        self._by_id: dict[str, int] = {}
        self._by_number: dict[str, int | tuple[int, ...]] = {}
        self._client_names: list[str] = []
        self._client_matters: list[tuple[int, ...]] = []
        self._contact_names: list[str] = []
        self._contact_client = array("i")
        self._contact_matters: dict[int, tuple[int, ...]] = {}
        self._email_contacts: dict[str, int | tuple[int, ...]] = {}
        self._phone_contacts: dict[str, int | tuple[int, ...]] = {}
        self._domain_clients: dict[str, int | tuple[int, ...]] = {}

    # ------------------------------------------------------------ build

    @classmethod
    def build(
        cls,
        matters: Iterable[Matter],
        clients: Iterable[Client],
        contacts: Iterable[Contact],
        *,
        firm_domains: Iterable[str],
        number_patterns: Sequence[str] | None = None,
        include_closed: bool = False,
        free_mail_domains: Collection[str] = FREE_MAIL_DOMAINS,
    ) -> MatterIndex:
        """Index the firm's offered matters (open and pending; closed too when ``include_closed``).

        ``number_patterns`` are regular expressions (matched ignoring case, between non-alphanumerics) for
        what the firm's matter numbers look like; default ``DEFAULT_NUMBER_PATTERNS``. Put longer shapes
        first: at one position the first pattern that matches wins.
        """
        index = cls()
        index.firm_domains = frozenset(d.lower().lstrip("@") for d in firm_domains)
        index.include_closed = include_closed
        patterns = list(number_patterns) if number_patterns else list(DEFAULT_NUMBER_PATTERNS)
        for pattern in patterns:
            re.compile(pattern)  # a bad firm pattern fails here, naming itself
        index._scanner = re.compile(
            _BOUNDARY_BEFORE + "(?:" + "|".join(f"(?:{p})" for p in patterns) + ")" + _BOUNDARY_AFTER,
            re.IGNORECASE,
        )
        ignored_domains = frozenset(free_mail_domains)

        client_ix: dict[str, int] = {}
        domain_sets: dict[str, list[int]] = {}

        def add_domain(domain: str, client: int) -> None:
            domain = domain.lower().lstrip("@")
            if not domain or domain in ignored_domains or _in_domains(domain, index.firm_domains):
                return
            owners = domain_sets.setdefault(domain, [])
            if client not in owners:
                owners.append(client)

        for client in clients:
            if client.client_id in client_ix:
                continue
            client_ix[client.client_id] = len(index._client_names)
            index._client_names.append(client.name)
            for domain in client.domains:
                add_domain(domain, client_ix[client.client_id])

        def client_of(client_id: str) -> int:
            found = client_ix.get(client_id)
            if found is None:  # a matter whose client was not given: still offered, named by its id
                found = client_ix[client_id] = len(index._client_names)
                index._client_names.append(client_id)
            return found

        # matters
        client_lists: dict[int, list[tuple[date, int]]] = {}
        unscannable: list[str] = []
        contact_links: dict[str, list[int]] = {}
        numbers: dict[str, list[int]] = {}
        oldest = date.min
        for matter in matters:
            closed = matter.status is MatterStatus.CLOSED
            if (closed and not include_closed) or matter.matter_id in index._by_id:
                continue
            ix = len(index._matter_ids)
            index._by_id[matter.matter_id] = ix
            index._matter_ids.append(matter.matter_id)
            index._numbers.append(matter.number)
            index._names.append(matter.name)
            owner = client_of(matter.client_id)
            index._matter_client.append(owner)
            index._closed.append(1 if closed else 0)
            client_lists.setdefault(owner, []).append((matter.opened_on or oldest, ix))
            for contact_id in matter.contact_ids:
                contact_links.setdefault(contact_id, []).append(ix)
            key = canonical_number(matter.number)
            if key and index._scanner.fullmatch(key):
                numbers.setdefault(key, []).append(ix)
                if "-" not in key:
                    index._single_part_numbers = True
            else:
                unscannable.append(matter.number)
        index._by_number = {k: v[0] if len(v) == 1 else tuple(v) for k, v in numbers.items()}
        index.unscannable = tuple(unscannable)
        empty: tuple[int, ...] = ()
        index._client_matters = [empty] * len(index._client_names)
        for owner, rows in client_lists.items():
            rows.sort(key=lambda row: (row[0], -row[1]), reverse=True)  # newest first, then input order
            index._client_matters[owner] = tuple(ix for _, ix in rows)

        # contacts
        emails: dict[str, list[int]] = {}
        phones: dict[str, list[int]] = {}
        for contact in contacts:
            if not contact.emails and not contact.phones:
                continue
            cx = len(index._contact_names)
            index._contact_names.append(contact.name)
            owner = client_of(contact.client_id) if contact.client_id else -1
            index._contact_client.append(owner)
            linked = contact_links.get(contact.contact_id)
            if linked:
                index._contact_matters[cx] = tuple(linked)
            for email in contact.emails:
                address = email.strip().lower()
                if "@" not in address:
                    continue
                owners = emails.setdefault(address, [])
                if cx not in owners:
                    owners.append(cx)
                if owner >= 0:
                    add_domain(domain_of(address), owner)
            for phone in contact.phones:
                key = phone_key(phone)
                if key:
                    owners = phones.setdefault(key, [])
                    if cx not in owners:
                        owners.append(cx)
        if len(index._client_matters) < len(index._client_names):  # clients first seen on a contact
            index._client_matters.extend([empty] * (len(index._client_names) - len(index._client_matters)))
        index._email_contacts = {k: v[0] if len(v) == 1 else tuple(v) for k, v in emails.items()}
        index._phone_contacts = {k: v[0] if len(v) == 1 else tuple(v) for k, v in phones.items()}
        index._domain_clients = {
            k: v[0] if len(v) == 1 else tuple(v)
            for k, v in domain_sets.items()
            if len(v) <= MAX_CLIENTS_PER_DOMAIN
        }
        return index

    # ------------------------------------------------------------ look-ups

    @property
    def matter_count(self) -> int:
        return len(self._matter_ids)

    @property
    def contact_count(self) -> int:
        return len(self._contact_names)

    def stats(self) -> dict[str, int]:
        return {
            "matters": len(self._matter_ids),
            "numbers": len(self._by_number),
            "unscannable": len(self.unscannable),
            "clients": len(self._client_names),
            "contacts": len(self._contact_names),
            "emails": len(self._email_contacts),
            "phones": len(self._phone_contacts),
            "domains": len(self._domain_clients),
        }

    def matter_ix(self, matter_id: str) -> int | None:
        return self._by_id.get(matter_id)

    def find_numbers(self, text: str) -> list[tuple[str, int]]:
        """(number as written in the text, matter index) for every offered matter number in ``text``."""
        found: list[tuple[str, int]] = []
        if not text:
            return found
        if len(text) > MAX_SCAN_CHARS:
            text = text[:MAX_SCAN_CHARS]
        by_number = self._by_number
        for match in self._scanner.finditer(text):
            token = match.group()
            key = _SEPARATORS.sub("-", token.upper())
            hit = by_number.get(key)
            if hit is not None:
                _extend(found, token, hit)
            elif "-" in key:
                self._pieces(key, token, found)
        return found

    def _pieces(self, key: str, token: str, found: list[tuple[str, int]]) -> None:
        """Separator-bounded runs of a token, longest first; runs inside a found one are not tried."""
        by_number = self._by_number
        parts = key.split("-")
        count = len(parts)
        smallest = 1 if self._single_part_numbers else 2
        largest = count - 1 if count <= MAX_TOKEN_PARTS else min(4, count - 1)
        taken: list[tuple[int, int]] = []
        for size in range(largest, smallest - 1, -1):
            for start in range(count - size + 1):
                end = start + size
                if any(start < t_end and t_start < end for t_start, t_end in taken):
                    continue
                hit = by_number.get("-".join(parts[start:end]))
                if hit is not None:
                    taken.append((start, end))
                    _extend(found, "-".join(parts[start:end]), hit)

    def contacts_for(self, address: str) -> tuple[int, ...]:
        if "@" in address:
            hit = self._email_contacts.get(address)
        else:
            key = phone_key(address)
            hit = self._phone_contacts.get(key) if key else None
        if hit is None:
            return ()
        return hit if isinstance(hit, tuple) else (hit,)

    def clients_for_domain(self, domain: str) -> tuple[tuple[int, ...], str]:
        """The clients of ``domain`` (or of the nearest parent domain that has some) and that domain."""
        while domain:
            hit = self._domain_clients.get(domain)
            if hit is not None:
                return (hit if isinstance(hit, tuple) else (hit,)), domain
            _, _, domain = domain.partition(".")
            if "." not in domain:
                break
        return (), ""

    def matter_label(self, ix: int) -> str:
        return f"{self._numbers[ix]} {self._names[ix]}"


def _extend(found: list[tuple[str, int]], written: str, hit: int | tuple[int, ...]) -> None:
    if isinstance(hit, tuple):
        found.extend((written, ix) for ix in hit)
    else:
        found.append((written, hit))


# ---------------------------------------------------------------- suggest


_Reasons = dict[int, dict[str, tuple[float, str]]]


def _put(table: _Reasons, ix: int, kind: str, weight: float, reason: str) -> None:
    """Keep the strongest evidence of each kind per matter."""
    kinds = table.get(ix)
    if kinds is None:
        table[ix] = {kind: (weight, reason)}
        return
    current = kinds.get(kind)
    if current is None or weight > current[0]:
        kinds[kind] = (weight, reason)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _ago(seconds: float) -> str:
    days = seconds / 86_400
    if days < 1:
        return "today"
    if days < 2:
        return "yesterday"
    return f"{days:.0f} days ago"


def suggest(
    index: MatterIndex,
    item: SuggestionItem,
    *,
    learning: Learning | None = None,
    thread_matter: str | None = None,
    now: datetime | None = None,
    limit: int = 3,
    abstain_below: float = DEFAULT_ABSTAIN_BELOW,
    auto_assign_at: float = DEFAULT_AUTO_ASSIGN_AT,
) -> SuggestionResult:
    """Rank the offered matters for ``item``, best first, at most ``limit``; decide and explain.

    ``thread_matter`` is the firm's earlier assignment of the item's conversation (by any user);
    ``learning`` is this user's own history; ``now`` (default: the item's time) ages the learning.
    """
    moment = now or item.at
    who = "attendee" if item.kind == EventKind.MEETING else "participant"
    keys = item_keys(item, index.firm_domains)
    text: _Reasons = {}  # what names the matter: numbers, names, the thread
    people: _Reasons = {}  # who is on it: contacts named on the matter
    client_weight: dict[int, tuple[float, str]] = {}

    # 1. matter numbers: one scan per field over every offered matter at once
    for field_name, texts in (
        ("subject", (item.subject,)),
        ("attachment", item.attachment_names),
        ("meeting text", (item.meeting_text,)),
        ("body", (item.body_preview,)),
    ):
        weight = WEIGHT_NUMBER[field_name]
        for value in texts:
            for written, ix in index.find_numbers(value):
                where = f"attachment '{value}'" if field_name == "attachment" else f"the {field_name}"
                _put(text, ix, "number", weight, f"matter number {written} in {where}")

    # 2. the thread: the firm's earlier assignment
    if thread_matter is not None:
        thread_ix = index.matter_ix(thread_matter)
        if thread_ix is not None:
            _put(text, thread_ix, "thread", WEIGHT_THREAD, "this conversation was assigned to it before")

    # 3. participants → contacts → their client and the matters naming them; unknown address → domain
    if not keys.internal_only:
        for address in keys.contacts:
            contacts = index.contacts_for(address)
            for cx in contacts:
                name = index._contact_names[cx]
                for ix in index._contact_matters.get(cx, ()):
                    reason = f"{who} {address} ({name}) is a contact on this matter"
                    _put(people, ix, "contact on matter", WEIGHT_CONTACT_ON_MATTER, reason)
                owner = index._contact_client[cx]
                if owner >= 0:
                    current = client_weight.get(owner)
                    if current is None or current[0] < WEIGHT_CLIENT_CONTACT:
                        client = index._client_names[owner]
                        reason = f"{who} {address} ({name}) is a contact of {client}"
                        client_weight[owner] = (WEIGHT_CLIENT_CONTACT, reason)
            if not contacts and "@" in address:
                owners, domain = index.clients_for_domain(domain_of(address))
                for owner in owners:
                    current = client_weight.get(owner)
                    if current is None or current[0] < WEIGHT_CLIENT_DOMAIN:
                        client = index._client_names[owner]
                        reason = f"{who} {address} writes from {domain}, a domain of {client}"
                        client_weight[owner] = (WEIGHT_CLIENT_DOMAIN, reason)

    # 4. matter names in the subject or meeting text, among the matters of the clients in question
    if client_weight and (item.subject or item.meeting_text):
        places = [
            (t.casefold(), where)
            for t, where in ((item.subject, "subject"), (item.meeting_text, "meeting text"))
            if t
        ]
        for owner in client_weight:
            for ix in index._client_matters[owner][:MAX_NAME_CHECKS_PER_CLIENT]:
                name = index._names[ix]
                if len(name) < MIN_NAME_CHARS:
                    continue
                folded_name = name.casefold()
                where = next((where for folded, where in places if folded_name in folded), "")
                if where:
                    _put(text, ix, "name", WEIGHT_NAME, f"the matter's name '{name}' is in the {where}")

    # 5. what this user chose before: the thread (as text evidence), contacts and domains (as counts)
    learned: dict[int, float] = {}
    learned_reasons: _Reasons = {}
    none_mass = none_strongest = 0.0
    none_reason = ""
    if learning is not None:
        when = _epoch(moment)
        if keys.thread:
            entries = learning._entries("thread", keys.thread)
            if entries:
                weights = {m: learning._decayed(e, when) for m, e in entries.items()}
                mass = sum(weights.values())
                trust = mass / (mass + THREAD_TRUST)
                for matter_id, weight in weights.items():
                    learned_ix = index.matter_ix(matter_id) if matter_id else None
                    if learned_ix is not None and weight > 0:
                        last = _ago(when - entries[matter_id][1])
                        reason = f"you assigned this conversation to it before (last {last})"
                        _put(text, learned_ix, "thread", WEIGHT_THREAD * weight / mass * trust, reason)
        for kind, values, factor in (
            ("contact", keys.contacts, 1.0),
            ("domain", keys.domains, DOMAIN_COUNT_FACTOR),
        ):
            for key in values:
                entries = learning._entries(kind, key)
                if not entries:
                    continue
                for matter_id, entry in entries.items():
                    weight = learning._decayed(entry, when) * factor
                    if weight <= 0:
                        continue
                    times = int(entry[2])
                    last = _ago(when - entry[1])
                    whose = key if kind == "contact" else f"mail from {key}"
                    reason = f"you chose it for {whose} {_plural(times, 'time')} (last {last})"
                    if not matter_id:
                        none_mass += weight
                        if weight > none_strongest:
                            none_strongest = weight
                            none_reason = f"you marked {whose} as no matter {_plural(times, 'time')}"
                            none_reason += f" (last {last})"
                        continue
                    learned_ix = index.matter_ix(matter_id)
                    if learned_ix is None:  # closed since, or not offered
                        continue
                    learned[learned_ix] = learned.get(learned_ix, 0.0) + weight
                    _put(learned_reasons, learned_ix, kind, weight, reason)

    return _rank(
        index,
        text=text,
        people=people,
        client_weight=client_weight,
        learned=learned,
        learned_reasons=learned_reasons,
        none_mass=none_mass,
        none_reason=none_reason,
        keys=keys,
        limit=limit,
        abstain_below=abstain_below,
        auto_assign_at=auto_assign_at,
    )


def _rank(
    index: MatterIndex,
    *,
    text: _Reasons,
    people: _Reasons,
    client_weight: dict[int, tuple[float, str]],
    learned: dict[int, float],
    learned_reasons: _Reasons,
    none_mass: float,
    none_reason: str,
    keys: _Keys,
    limit: int,
    abstain_below: float,
    auto_assign_at: float,
) -> SuggestionResult:
    """Combine the evidence into one probability per matter (and for "none of these"), rank, decide.

    prior     Q₀(m) ∝ e^(people(m) + client(m)),  Q₀(none) ∝ e^NONE_WEIGHT
    learned   Q(m) = (L(m) + A·Q₀(m)) / (L + A)   L: this user's decayed choices for these people,
                                                A = LEARNING_PRIOR_COUNT
    text      P(m) ∝ Q(m) · e^(text(m)),  P(none) ∝ Q(none)
    """
    exp = math.exp
    matter_client = index._matter_client
    closed = index._closed
    candidates = set(text) | set(people) | set(learned)
    # Structural prior over the candidates, the unlisted rest of each client in question, and "none".
    structural: dict[int, float] = {}
    per_client_listed: dict[int, int] = {}
    for ix in candidates:
        owner = matter_client[ix]
        score = sum(w for w, _ in people.get(ix, {}).values())
        if owner in client_weight:
            score += client_weight[owner][0]
            per_client_listed[owner] = per_client_listed.get(owner, 0) + 1
        if closed[ix]:
            score += WEIGHT_CLOSED
        structural[ix] = exp(score)
    rest: dict[int, float] = {}  # client → the prior mass of its matters not listed individually
    for owner, (weight, _) in client_weight.items():
        members = index._client_matters[owner]
        unlisted = len(members) - per_client_listed.get(owner, 0)
        listed = 0
        for ix in members:
            if unlisted <= 0 or listed >= limit:
                break
            if ix in structural:
                continue
            structural[ix] = exp(weight + (WEIGHT_CLOSED if closed[ix] else 0.0))
            unlisted -= 1
            listed += 1
        if unlisted > 0:
            rest[owner] = unlisted * exp(weight)
    none_prior = exp(NONE_WEIGHT)
    z = none_prior + sum(structural.values()) + sum(rest.values())

    # Blend with what the user chose (pseudo-count A for the prior), then weigh the text evidence.
    total_learned = sum(learned.values()) + none_mass
    scale = 1.0 / (total_learned + LEARNING_PRIOR_COUNT)
    alpha_z = LEARNING_PRIOR_COUNT / z
    mass: dict[int, float] = {}
    for ix, prior in structural.items():
        q = (learned.get(ix, 0.0) + alpha_z * prior) * scale
        kinds = text.get(ix)
        if kinds:
            q *= exp(sum(w for w, _ in kinds.values()))
        mass[ix] = q
    none_q = (none_mass + alpha_z * none_prior) * scale
    rest_q = alpha_z * sum(rest.values()) * scale
    total = none_q + rest_q + sum(mass.values())

    ranked = sorted(mass.items(), key=lambda row: (-row[1], row[0]))[:limit]
    conflict = ""
    if ranked:
        top_ix = ranked[0][0]
        for ix, kinds in text.items():
            strong = [reason for weight, reason in kinds.values() if weight >= WEIGHT_STRONG]
            if ix != top_ix and strong:
                conflict = f"but {strong[0]} points to {index._numbers[ix]}"
                break
    suggestions = []
    for ix, q in ranked:
        reasons = [r for _, r in sorted(text.get(ix, {}).values(), key=lambda wr: -wr[0])]
        reasons += [r for _, r in sorted(learned_reasons.get(ix, {}).values(), key=lambda wr: -wr[0])]
        reasons += [r for _, r in people.get(ix, {}).values()]
        owner = matter_client[ix]
        if owner in client_weight:
            count = len(index._client_matters[owner])
            reasons.append(f"{client_weight[owner][1]} ({_plural(count, 'offered matter')})")
        if closed[ix]:
            reasons.append("the matter is closed")
        suggestions.append(
            Suggestion(
                matter_id=index._matter_ids[ix],
                number=index._numbers[ix],
                name=index._names[ix],
                confidence=q / total,
                reasons=tuple(reasons),
            )
        )
    return _verdict(
        tuple(suggestions),
        conflict=conflict,
        keys=keys,
        text=text,
        client_weight=client_weight,
        none_share=none_q / total,
        none_reason=none_reason,
        index=index,
        abstain_below=abstain_below,
        auto_assign_at=auto_assign_at,
    )


def _verdict(
    suggestions: tuple[Suggestion, ...],
    *,
    conflict: str,
    keys: _Keys,
    text: _Reasons,
    client_weight: dict[int, tuple[float, str]],
    none_share: float,
    none_reason: str,
    index: MatterIndex,
    abstain_below: float,
    auto_assign_at: float,
) -> SuggestionResult:
    if not suggestions:
        if keys.internal_only:
            why = "everyone is inside the firm and nothing names a matter"
        elif keys.contacts:
            why = "no participant is a known contact or at a client's domain, and nothing names a matter"
        else:
            why = "nothing in it points to a matter"
        return SuggestionResult((), Decision.ABSTAIN, f"no suggestion: {why}")
    top = suggestions[0]
    label = f"{top.number} {top.name}"
    because = top.reasons[0] if top.reasons else "no particular reason"
    percent = f"{top.confidence:.0%}"
    if top.confidence >= auto_assign_at and not conflict:
        explanation = f"assigned automatically to {label} ({percent}): {because}"
        return SuggestionResult(suggestions, Decision.AUTO_ASSIGN, explanation)
    if top.confidence >= abstain_below or (conflict and top.confidence >= auto_assign_at):
        runner = ""
        if conflict:
            runner = f"; {conflict}"
        elif len(suggestions) > 1:
            runner = f"; next {suggestions[1].number} ({suggestions[1].confidence:.0%})"
        explanation = f"suggesting {label} ({percent}): {because}{runner}"
        return SuggestionResult(suggestions, Decision.SUGGEST, explanation)
    if none_reason and none_share > top.confidence:
        why = none_reason
    elif not text and len(client_weight) == 1:
        owner = next(iter(client_weight))
        count = len(index._client_matters[owner])
        why = f"{index._client_names[owner]} has {_plural(count, 'offered matter')} and nothing points to one"
    elif not text and len(client_weight) > 1:
        why = f"the participants belong to {len(client_weight)} clients and nothing points to one matter"
    else:
        why = f"the best match, {label}, is only {percent} likely"
    return SuggestionResult(suggestions, Decision.ABSTAIN, f"not sure: {why}")
