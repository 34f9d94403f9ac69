"""Matter suggestion at firm scale: 100,000 open matters and 200,000 contacts, one core.

A synthetic firm from a fixed seed: 25,000 clients (most with a domain, some individuals on free mail),
100,000 open matters numbered ``CCCCC-MMMM`` (plus 10,000 closed ones, which are not indexed), 200,000
contacts (some named on matters, most with a phone number). Items are what one attorney sees: subjects and
attachments with a matter number, thread replies, mail from known contacts, from new people at client
domains, from free-mail clients, internal mail, calls; body previews of a couple of hundred characters with
dates, amounts, URLs and version numbers in them (tokens the scanner must look at and reject). The user has
a history: 20,000 earlier items were observed by the learner first.

Figures:
    index build seconds   ``MatterIndex.build`` on the lists above (median of three)
    index memory MB       what the index keeps once the input lists are gone (tracemalloc), and the
                          peak while building
    suggestions/s         ``suggest`` over 20,000 items, median of three runs, pinned to one core
    suggest ratio         suggestions/s ÷ items/s of a per-matter regex loop on the same items: one
                          compiled regex per matter number, each searched in each item's text. The loop
                          takes ~0.1 s per item, so it is timed on a sample and extrapolated per item; it
                          finds numbers only, the engine does everything (so the ratio is conservative).
Targets: ≥ 5,000 suggestions/s, memory < 300 MB, ratio ≥ 50.
"""

from __future__ import annotations

import gc
import os
import random
import re
import statistics
import sys
import time
import tracemalloc
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from chalicelib.domain.matters import Client, Contact, Matter, MatterStatus  # noqa: E402
from chalicelib.domain.suggestions import Learning, MatterIndex, SuggestionItem, suggest  # noqa: E402

SEED = 20260309
CLIENTS = 25_000
OPEN_MATTERS = 100_000
CLOSED_MATTERS = 10_000
CONTACTS = 200_000
ITEMS = 20_000
HISTORY = 20_000
NAIVE_SAMPLE = 20
RUNS = 3
FIRM_DOMAIN = "lovelace.law"
ME = f"ada@{FIRM_DOMAIN}"
START = datetime(2026, 3, 9, 9, 0, tzinfo=UTC)


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


FREE_MAIL = ("gmail.com", "outlook.com", "yahoo.com", "icloud.com")
WORDS = _words(
    "agreement draft comments schedule closing review signing board minutes escrow lease deposition "
    "witness hearing motion reply brief filing disclosure consent waiver amendment term sheet "
    "invoice settlement mediation counterpart exhibit annex clause warranty indemnity"
)


@dataclass
class Firm:
    clients: list[Client]
    matters: list[Matter]
    contacts: list[Contact]
    # for the items: per client its open matter ids and numbers, contacts' addresses and phones
    client_matters: list[list[tuple[str, str]]]
    client_people: list[list[tuple[str, str]]]
    domains: list[str]


def make_firm(seed: int = SEED) -> Firm:
    rng = random.Random(seed)
    clients: list[Client] = []
    domains: list[str] = []
    for c in range(CLIENTS):
        individual = rng.random() < 0.12
        domain = "" if individual else f"client{c:05d}-{rng.choice(('law', 'corp', 'group'))}.com"
        domains.append(domain)
        clients.append(
            Client(
                firm_id="f",
                client_id=f"c{c:05d}",
                name=f"Client {c:05d} {'Ltd' if domain else 'Private'}",
                domains=(domain,) if domain else (),
            )
        )
    matters: list[Matter] = []
    client_matters: list[list[tuple[str, str]]] = [[] for _ in range(CLIENTS)]
    seq = [0] * CLIENTS
    for n in range(OPEN_MATTERS + CLOSED_MATTERS):
        c = n % CLIENTS if n < CLIENTS else int(rng.paretovariate(1.2) * 7 + rng.randrange(CLIENTS)) % CLIENTS
        seq[c] += 1
        number = f"{c:05d}-{seq[c]:04d}"
        closed = n >= OPEN_MATTERS
        matter = Matter(
            firm_id="f",
            matter_id=f"m{n:06d}",
            number=number,
            name=f"{rng.choice(WORDS).title()} {rng.choice(WORDS)} for client {c}",
            client_id=f"c{c:05d}",
            status=MatterStatus.CLOSED if closed else MatterStatus.OPEN,
        )
        matters.append(matter)
        if not closed:
            client_matters[c].append((matter.matter_id, number))
    contacts: list[Contact] = []
    client_people: list[list[tuple[str, str]]] = [[] for _ in range(CLIENTS)]
    links: dict[str, list[str]] = {}
    for k in range(CONTACTS):
        c = k % CLIENTS
        domain = domains[c] or rng.choice(FREE_MAIL)
        email = f"person{k:06d}@{domain}"
        phone = f"+1 212 {k // 10_000:03d} {k % 10_000:04d}" if rng.random() < 0.6 else ""
        contact_id = f"p{k:06d}"
        contacts.append(
            Contact(
                firm_id="f",
                contact_id=contact_id,
                name=f"Person {k:06d}",
                emails=(email,),
                phones=(phone,) if phone else (),
                client_id=f"c{c:05d}",
            )
        )
        client_people[c].append((email, phone))
        if client_matters[c] and rng.random() < 0.3:
            links.setdefault(rng.choice(client_matters[c])[0], []).append(contact_id)
    matters = [
        Matter(**{**m.__dict__, "contact_ids": tuple(links[m.matter_id])}) if m.matter_id in links else m
        for m in matters
    ]
    return Firm(clients, matters, contacts, client_matters, client_people, domains)


def make_items(firm: Firm, count: int, seed: int, start: datetime) -> list[tuple[SuggestionItem, str | None]]:
    """(item, thread's earlier matter or None), in time order."""
    rng = random.Random(seed)
    items: list[tuple[SuggestionItem, str | None]] = []
    book = rng.sample([c for c in range(CLIENTS) if firm.client_matters[c]], 400)
    threads: list[tuple[str, str, str]] = []
    colleagues = [f"colleague{n}@{FIRM_DOMAIN}" for n in range(30)]
    for n in range(count):
        at = start + timedelta(minutes=3 * n)
        c = rng.choice(book)
        matter_id, number = rng.choice(firm.client_matters[c])
        email, phone = rng.choice(firm.client_people[c])
        body = (
            f"Dear colleague, following our call on 2026-03-0{rng.randint(1, 9)} please find "
            f"v{rng.randint(1, 9)}.{rng.randint(0, 9)} of the {rng.choice(WORDS)} {rng.choice(WORDS)}. "
            "The amount is USD 1,250,000.00 per clause 4.2(b). Terms at www.example.com/terms-2026. "
            f"Call me on +1 212 555 {rng.randint(0, 9999)}."
        )
        kind = rng.random()
        subject = f"{rng.choice(WORDS).title()} {rng.choice(WORDS)}"
        attachments: tuple[str, ...] = ()
        participants: tuple[str, ...] = (ME, email)
        sender = email
        conversation = f"conv-{n}"
        thread_matter = None
        if kind < 0.2:
            subject = f"RE: {number} - {subject}"
        elif kind < 0.3:
            attachments = (f"{number}_{rng.choice(WORDS)}_v{rng.randint(1, 9)}.docx", "image001.png")
        elif kind < 0.55 and threads:
            conversation, thread_matter, subject = rng.choice(threads[-200:])
            subject = f"RE: {subject}"
        elif kind < 0.65:
            sender = f"newperson{n}@{firm.domains[c] or 'gmail.com'}"
            participants = (ME, sender)
        elif kind < 0.75:
            sender, participants = rng.choice(colleagues), (ME, rng.choice(colleagues))
        elif kind < 0.82 and phone:
            sender, participants, body, subject = "", (phone,), "", ""
        if rng.random() < 0.3:
            threads.append((conversation, matter_id, subject))
        item = SuggestionItem(
            subject=subject,
            body_preview=body[:255],
            attachment_names=attachments,
            sender=sender,
            participants=(*participants, rng.choice(colleagues)),
            conversation_id=conversation,
            at=at,
        )
        items.append((item, thread_matter))
    return items


def build(firm: Firm) -> MatterIndex:
    return MatterIndex.build(firm.matters, firm.clients, firm.contacts, firm_domains=[FIRM_DOMAIN])


def run_suggestions(
    index: MatterIndex, items: list[tuple[SuggestionItem, str | None]], learning: Learning
) -> int:
    decided = 0
    for item, thread_matter in items:
        result = suggest(index, item, learning=learning, thread_matter=thread_matter, now=item.at)
        decided += result.decision != "abstain"
    return decided


def naive_seconds_per_item(firm: Firm, items: list[tuple[SuggestionItem, str | None]]) -> tuple[float, float]:
    """The per-matter regex loop: (compile seconds, search seconds per item)."""
    started = time.perf_counter()
    patterns = [
        (m.matter_id, re.compile(r"(?<![A-Za-z0-9])" + re.escape(m.number) + r"(?![A-Za-z0-9])", re.I))
        for m in firm.matters
        if m.status is not MatterStatus.CLOSED
    ]
    compiled = time.perf_counter() - started
    sample = items[:: max(1, len(items) // NAIVE_SAMPLE)][:NAIVE_SAMPLE]
    started = time.perf_counter()
    hits = 0
    for item, _ in sample:
        text = "\n".join((item.subject, item.body_preview, *item.attachment_names, item.meeting_text))
        for _, pattern in patterns:
            if pattern.search(text):
                hits += 1
    return compiled, (time.perf_counter() - started) / len(sample)


def index_memory(seed: int) -> tuple[float, float]:
    """(MB the index keeps once its inputs are gone, MB at the peak of building it incl. the inputs)."""
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    firm = make_firm(seed)
    with_inputs = tracemalloc.get_traced_memory()[0]
    tracemalloc.reset_peak()
    index = build(firm)
    peak = tracemalloc.get_traced_memory()[1]
    del firm
    gc.collect()
    kept = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    assert index.matter_count == OPEN_MATTERS
    return kept / 1e6, (peak - with_inputs) / 1e6


def pin_to_one_core() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def main() -> None:
    pin_to_one_core()
    started = time.perf_counter()
    firm = make_firm()
    generated = time.perf_counter() - started

    build_samples = []
    index = build(firm)
    for _ in range(RUNS):
        del index
        gc.collect()
        started = time.perf_counter()
        index = build(firm)
        build_samples.append(time.perf_counter() - started)
    stats = index.stats()

    history = make_items(firm, HISTORY, SEED + 1, START - timedelta(days=60))
    learning = Learning()
    for item, _ in history:  # the user's past choices: the first suggestion's matter stands for the truth
        first = suggest(index, item, now=item.at).top
        if first is not None:
            learning.observe(item, first.matter_id, item.at, firm_domains=index.firm_domains)
    items = make_items(firm, ITEMS, SEED + 2, START)

    run_suggestions(index, items[:1000], learning)  # warm-up
    samples = []
    decided = 0
    for _ in range(RUNS):
        gc.collect()
        started = time.perf_counter()
        decided = run_suggestions(index, items, learning)
        samples.append(time.perf_counter() - started)
    seconds = statistics.median(samples)
    rate = len(items) / seconds

    compile_seconds, naive_per_item = naive_seconds_per_item(firm, items)
    naive_rate = 1 / naive_per_item
    del index
    gc.collect()
    kept_mb, build_peak_mb = index_memory(SEED)

    print(
        f"# {stats['matters']} open matters ({CLOSED_MATTERS} closed not indexed), "
        f"{stats['clients']} clients, {stats['contacts']} contacts, {stats['emails']} emails, "
        f"{stats['phones']} phones, "
        f"{stats['domains']} domains; generated in {generated:.1f} s"
    )
    print(f"# {len(items)} items, {decided} not abstained; learner holds {len(learning)} keys; one core")
    print(
        f"# naive loop: {stats['matters']} regexes compiled in {compile_seconds:.1f} s (not counted), "
        f"searched on {NAIVE_SAMPLE} sample items and extrapolated per item; it finds numbers only"
    )
    print(f"bench: index build seconds = {statistics.median(build_samples):.2f} s")
    print(f"bench: index memory MB = {kept_mb:.1f} MB")
    print(f"bench: index build peak MB = {build_peak_mb:.1f} MB")
    print(f"bench: suggestions/s = {rate:.0f} suggestions/s")
    print(f"bench: naive regex loop items/s = {naive_rate:.2f} items/s")
    print(f"bench: suggest ratio = {rate / naive_rate:.0f}")


if __name__ == "__main__":
    main()
