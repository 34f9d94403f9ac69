"""Microsoft 365 capture: Graph requests per mailbox-day, and notification-to-event latency.

**graph requests ratio.** One attorney's simulated day (24 hours on the simulator's clock): mail arrives
through the working day and most of it is read, mail is sent, meetings are accepted and declined, a
few newsletters land. The same day is played twice against a fresh simulated tenant:

* capture as built: subscriptions (created at connect), change notifications to the real webhook,
  one coalesced delta sync per (user, folder) touched, the 30-minute maintenance schedule;
* the baseline: no notifications, a delta poll of Sent Items, Inbox and the calendar every 5 minutes.

Counted: the Graph requests the simulator received for that mailbox (token requests excluded, as Entra
ID is not Graph). Printed: ``bench: graph requests ratio = R`` (capture ÷ polling), target < 1.

**notification to event seconds.** The real app serves Graph's webhook on loopback; the queue runs the
real worker at once (as the devstack's SQS event source mapping does). Timed: from the simulator
recording a sent message to its event being stored, the median of 15 messages.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

for _variable in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "MATTERLINE_AWS_ENDPOINT_URL"):
    os.environ.pop(_variable, None)
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
        "POWERTOOLS_METRICS_DISABLED": "true",
    }
)

import logging  # noqa: E402

from chalicelib.domain.capture import compose_key  # noqa: E402
from chalicelib.domain.m365 import CapturedUser, M365Connection  # noqa: E402
from chalicelib.domain.mailbox import Folder  # noqa: E402
from tests.support.m365 import (  # noqa: E402
    ALEX,
    APP_ID,
    CLIENT,
    TENANT_ID,
    GraphTenant,
    LambdaContextStub,
    capture_harness,
    sqs_event,
    start_graph_tenant,
)
from tests.support.tokens import TokenMint  # noqa: E402

DAY = timedelta(hours=24)
POLL_EVERY = timedelta(minutes=5)
MAINTAIN_EVERY = timedelta(minutes=30)
OTHERS = ("dana.reyes@northwind.example", "sam.okafor@contoso-logistics.example", "pat@opposing.example")


@dataclass(frozen=True)
class Happening:
    """One thing that happens in the mailbox at a minute of the day."""

    minute: int
    act: Callable[[GraphTenant, dict[str, Any]], None]


def working_day() -> list[Happening]:
    """The attorney's day: 36 mails in, 27 of them read, 14 sent, 5 meetings, 3 newsletters."""
    happenings: list[Happening] = []

    def arrive(n: int) -> Callable[[GraphTenant, dict[str, Any]], None]:
        def act(tenant: GraphTenant, memo: dict[str, Any]) -> None:
            memo[f"in{n}"] = tenant.graph.deliver_message(
                ALEX.email,
                sender=OTHERS[n % len(OTHERS)],
                subject=f"Northwind v. Contoso: point {n}",
                body="Please see the attached. " * 40,
            )

        return act

    def read(n: int) -> Callable[[GraphTenant, dict[str, Any]], None]:
        def act(tenant: GraphTenant, memo: dict[str, Any]) -> None:
            tenant.graph.mark_read(ALEX.email, memo[f"in{n}"].item_key)

        return act

    def send(n: int) -> Callable[[GraphTenant, dict[str, Any]], None]:
        def act(tenant: GraphTenant, memo: dict[str, Any]) -> None:
            tenant.graph.send_message(
                ALEX.email, to=[OTHERS[n % len(OTHERS)]], subject=f"RE: point {n}", body="Agreed. " * 30
            )

        return act

    def meeting(n: int, answer: str) -> Callable[[GraphTenant, dict[str, Any]], None]:
        def act(tenant: GraphTenant, memo: dict[str, Any]) -> None:
            start = tenant.clock.now() + timedelta(hours=2)
            copy = tenant.graph.create_meeting(
                CLIENT,
                subject=f"Call {n}",
                start=start,
                end=start + timedelta(minutes=45),
                attendees=[ALEX.email],
            )[ALEX.oid]
            tenant.graph.respond(ALEX.email, copy.item_key, answer)

        return act

    def newsletter(n: int) -> Callable[[GraphTenant, dict[str, Any]], None]:
        def act(tenant: GraphTenant, memo: dict[str, Any]) -> None:
            tenant.graph.deliver_message(
                ALEX.email,
                sender="news@legalweekly.example",
                subject=f"Legal weekly {n}",
                headers={"List-Unsubscribe": "<mailto:leave@legalweekly.example>"},
            )

        return act

    for n in range(36):  # 8:00 to 18:30, about every 17 minutes
        arrival = 8 * 60 + n * 17
        happenings.append(Happening(arrival, arrive(n)))
        if n % 4 != 3:
            happenings.append(Happening(arrival + 9 + n % 20, read(n)))
    happenings += [Happening(8 * 60 + 40 + n * 42, send(n)) for n in range(14)]
    happenings += [
        Happening(9 * 60 + n * 90, meeting(n, "declined" if n == 3 else "accepted")) for n in range(5)
    ]
    happenings += [Happening(6 * 60 + n * 300, newsletter(n)) for n in range(3)]
    return sorted(happenings, key=lambda h: h.minute)


def play(tenant: GraphTenant, step: timedelta, each_step: Callable[[timedelta], None]) -> None:
    """Move through the day ``step`` at a time, doing what is due, then ``each_step``."""
    memo: dict[str, Any] = {}
    due = working_day()
    elapsed = timedelta(0)
    while elapsed < DAY:
        elapsed += step
        while due and timedelta(minutes=due[0].minute) <= elapsed:
            due.pop(0).act(tenant, memo)
        each_step(elapsed)


def requests_for(tenant: GraphTenant) -> int:
    return tenant.graph.request_counts().get(ALEX.email, 0)


def with_notifications(state_dir: Path, mint: TokenMint) -> int:
    tenant = start_graph_tenant(state_dir, delivery_backoff=0.01)
    try:
        with capture_harness(tenant, mint, page_size=50) as harness:
            tenant.graph.reset_request_counts()
            harness.connect(ALEX)
            next_maintenance = [MAINTAIN_EVERY]

            def each_minute(elapsed: timedelta) -> None:
                harness.advance(timedelta(minutes=1))
                harness.deliver()
                if elapsed >= next_maintenance[0]:
                    next_maintenance[0] += MAINTAIN_EVERY
                    harness.service.maintain(harness.firm_id)
                    harness.drain()

            play(tenant, timedelta(minutes=1), each_minute)
            return requests_for(tenant)
    finally:
        tenant.stop()


def polling(state_dir: Path, mint: TokenMint) -> int:
    tenant = start_graph_tenant(state_dir, delivery_backoff=0.01)
    try:
        with capture_harness(tenant, mint, page_size=50) as harness:
            connection = M365Connection(
                firm_id=harness.firm_id,
                tenant_id=TENANT_ID,
                client_id=APP_ID,
                users=(CapturedUser(ALEX.user_id, ALEX.email),),
                connected_at=harness.clock.now(),
            )
            source = harness.gateway.source(connection)
            window = (harness.clock.now() - timedelta(days=7), harness.clock.now() + timedelta(days=29))
            states: dict[Folder, str | None] = dict.fromkeys(Folder)
            tenant.graph.reset_request_counts()

            def poll(_: timedelta) -> None:
                harness.advance(POLL_EVERY)
                for folder in Folder:
                    pages = (
                        source.calendar_changes(ALEX.email, *window, states[folder])
                        if folder is Folder.CALENDAR
                        else source.mail_changes(ALEX.email, folder, states[folder])
                    )
                    for page in pages:
                        states[folder] = page.state

            play(tenant, POLL_EVERY, poll)
            return requests_for(tenant)
    finally:
        tenant.stop()


class InlineWorkQueue:
    """Runs the worker on each message at once, as the devstack's SQS event source mapping does."""

    def send(self, messages: Sequence[Mapping[str, Any]], delay_seconds: int = 0) -> None:
        from lambdas.mailbox_sync import handler

        handler(sqs_event([dict(message) for message in messages]), LambdaContextStub())

    def take(self) -> list[dict[str, Any]]:
        return []  # nothing ever waits


def notification_to_event(state_dir: Path, mint: TokenMint, samples: int = 15) -> float:
    tenant = start_graph_tenant(state_dir, delivery_backoff=0.01)
    try:
        with capture_harness(tenant, mint, queue=InlineWorkQueue()) as harness:
            harness.connect(ALEX)
            seconds: list[float] = []
            for n in range(samples):
                started = time.perf_counter()
                sent = tenant.graph.send_message(ALEX.email, to=[CLIENT], subject=f"Latency {n}")
                key = compose_key(sent.internet_message_id)
                while harness.event(ALEX, key) is None:
                    if time.perf_counter() - started > 30:
                        raise RuntimeError("the event never arrived")
                    time.sleep(0.002)
                seconds.append(time.perf_counter() - started)
                tenant.graph.notifications.wait_until_idle(10)
            return statistics.median(seconds)
    finally:
        tenant.stop()


def main() -> None:
    logging.disable(logging.INFO)
    mint = TokenMint()
    quiet = open(os.devnull, "w")  # noqa: SIM115 - the local gateway and Powertools print every request
    real_stdout, real_stderr = sys.stdout, sys.stderr
    try:
        with tempfile.TemporaryDirectory() as scratch:
            state_dir = Path(scratch)
            sys.stdout = sys.stderr = quiet
            notified = with_notifications(state_dir, mint)
            polled = polling(state_dir, mint)
            latency = notification_to_event(state_dir, mint)
    finally:
        sys.stdout, sys.stderr = real_stdout, real_stderr
        quiet.close()
        mint.close()
    print(
        f"graph requests per mailbox-day: notifications + delta {notified}, polling every 5 minutes {polled}"
    )
    print(f"bench: graph requests ratio = {notified / polled:.3f}")
    print(f"bench: notification to event seconds = {latency:.3f} s")


if __name__ == "__main__":
    main()
