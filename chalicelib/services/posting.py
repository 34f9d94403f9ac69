"""Posting released entries to a billing system, exactly once.

For each released entry (oldest day first):

    ledger line?  posted ─────────────────────────────▶ make sure the entry says posted (finish a crash)
                  none / failed / stale claim ──claim──▶ attempt n
    attempt n:    an earlier attempt may have reached the system? ──▶ find_posted(reference) first
                  found ──▶ record it                    not found ──▶ post_time ──▶ record it
    record:       ledger line posted (+ external id) ──▶ entry status posted (+ external id)

The ledger line is written before the entry, so a crash between the two is finished by the next run
without asking the system anything. A crash between the remote create and the ledger line leaves a
claim (or a failure marked ``maybe_created``), and the next attempt looks for the reference before
creating. One entry's failure is recorded on its ledger line and the run goes on.
"""

from __future__ import annotations

import contextlib
import itertools
from dataclasses import dataclass, replace
from datetime import date, timedelta

from chalicelib.domain.billing import (
    BillingConnection,
    BillingError,
    PostingRecord,
    PostingReport,
    PostingResult,
    PostingState,
    ReauthorizationRequired,
    TimePosting,
    billed_seconds_for,
    posting_reference,
    summary_suffix,
)
from chalicelib.domain.billing_users import (
    PosterChoice,
    PosterKind,
    UserAuthorizationMode,
    choose_poster,
    mode_of,
)
from chalicelib.domain.entries import Entry, EntryStatus
from chalicelib.domain.errors import InvalidInput, StaleVersion
from chalicelib.domain.identity import Permission, Principal
from chalicelib.domain.matters import ActivityType, Matter
from chalicelib.domain.roster import User
from chalicelib.ports import (
    BillingRepository,
    BillingTarget,
    Clock,
    MatterRepository,
    Page,
    TimelineRepository,
    UserRepository,
)
from chalicelib.services.billing import BillingConnectionService, system_named
from chalicelib.services.paging import every_item

# A claim older than this belongs to a worker that died; Lambda's longest run is 15 minutes.
CLAIM_LEASE = timedelta(minutes=15)
MAX_PERIOD_DAYS = 366


@dataclass
class _Lookups:
    """What a run needs about matters, people and activity types, read once per run."""

    matters: dict[str, Matter | None]
    users: dict[str, User | None]
    activity_types: dict[str, ActivityType]


class _Carriers:
    """Whose token carries each person's entries in one run: theirs when they authorized their own
    login (Actionstep), else the firm connection's, or nobody (``USER_AUTHORIZATION`` REQUIRED).
    Decided once per person per run; their target (and its opened tokens) is kept for the run."""

    def __init__(
        self,
        connections: BillingConnectionService,
        connection: BillingConnection,
        firm_target: BillingTarget,
    ) -> None:
        self._connections = connections
        self._connection = connection
        self._firm_target = firm_target
        self._mode: UserAuthorizationMode = mode_of(connection.properties.user_authorization)
        self._chosen: dict[str, tuple[PosterChoice, BillingTarget | None]] = {}

    def for_entry(self, entry: Entry, email: str) -> tuple[PosterChoice, BillingTarget | None]:
        """The choice for the entry's person and the target to post with (None when refused)."""
        if entry.user_id not in self._chosen:
            system = self._connection.system
            authorization = self._connections.user_authorization(entry.firm_id, system, entry.user_id)
            choice = choose_poster(system, self._mode, authorization, email)
            target: BillingTarget | None = None
            if choice.kind is PosterKind.USER and authorization is not None:
                target = self._connections.user_target(authorization)
            elif choice.kind is PosterKind.FIRM:
                target = self._firm_target
            self._chosen[entry.user_id] = (choice, target)
        return self._chosen[entry.user_id]

    def forget(self, user_id: str) -> None:
        """Decide again for this person (their own token was just refused)."""
        self._chosen.pop(user_id, None)


class PostingService:
    """Posts released time to Clio or Actionstep."""

    def __init__(
        self,
        *,
        billing: BillingRepository,
        connections: BillingConnectionService,
        timeline: TimelineRepository,
        matters: MatterRepository,
        users: UserRepository,
        clock: Clock,
    ) -> None:
        self._billing = billing
        self._connections = connections
        self._timeline = timeline
        self._matters = matters
        self._users = users
        self._clock = clock

    def post(
        self,
        principal: Principal,
        system_name: str,
        first_day: date | None = None,
        last_day: date | None = None,
        limit: int | None = None,
    ) -> PostingReport:
        """Post the firm's released entries in the period (default: everything released so far)."""
        principal.require(Permission.BILLING_EXPORT)
        return self.post_firm(principal.firm_id, system_name, principal.actor, first_day, last_day, limit)

    def post_firm(
        self,
        firm_id: str,
        system_name: str,
        actor: str,
        first_day: date | None = None,
        last_day: date | None = None,
        limit: int | None = None,
    ) -> PostingReport:
        """The run itself, for a person or a schedule."""
        connection = self._connections.connected(firm_id, system_name)
        first = first_day or date(2000, 1, 1)
        last = last_day or self._clock.now().date() + timedelta(days=1)
        if last < first:
            raise InvalidInput("the period ends before it starts")
        carriers = _Carriers(
            self._connections, connection, self._connections.target(firm_id, connection.system)
        )
        lookups = _Lookups({}, {}, {a.code: a for a in self._matters.list_activity_types(firm_id)})
        report = PostingReport()
        entries = every_item(lambda cursor: self._billing.released(firm_id, first, last, cursor, 200))
        retry: list[tuple[int, Entry]] = []
        for entry in itertools.islice(entries, limit):
            result = self._post_one(connection, carriers, entry, lookups, actor)
            report.results.append(result)
            if result.outcome == "stopped":
                break
            if result.retryable:
                retry.append((len(report.results) - 1, entry))
        # One more try at the end for what failed in passing (a throttling burst, a lost reply): by now
        # the burst is usually over, and the attempt looks for an earlier create before posting.
        if report.count("stopped") == 0:
            for index, entry in retry:
                report.results[index] = self._post_one(connection, carriers, entry, lookups, actor)
        latest = self._billing.connection(firm_id, connection.system.value) or connection
        failures = report.count("failed") + report.count("stopped")
        # StaleVersion: a token refresh or another run saved meanwhile; the ledger holds the results anyway.
        with contextlib.suppress(StaleVersion):
            self._billing.save_connection(
                replace(
                    latest,
                    last_post_at=self._clock.now(),
                    last_error=f"{failures} entries could not be posted; see the posting results"
                    if failures
                    else None,
                ),
                actor,
                "post",
            )
        return report

    def results(
        self, principal: Principal, system_name: str, cursor: str | None, limit: int
    ) -> Page[PostingRecord]:
        """The ledger: each entry's latest posting outcome, newest first."""
        principal.require(Permission.BILLING_EXPORT)
        return self._billing.postings(principal.firm_id, system_named(system_name).value, cursor, limit)

    # -- one entry

    def _post_one(
        self,
        connection: BillingConnection,
        carriers: _Carriers,
        entry: Entry,
        lookups: _Lookups,
        actor: str,
    ) -> PostingResult:
        system = connection.system
        previous = self._billing.posting(entry.firm_id, system.value, entry.entry_id)
        if previous is not None and previous.state is PostingState.POSTED:
            self._mark_entry_posted(entry, previous.external_id or "", actor)
            return PostingResult(
                entry.entry_id, "already_posted", previous.external_id, attempts=previous.attempts
            )
        try:
            posting = self._posting_for(connection, entry, lookups)
        except InvalidInput as problem:
            return PostingResult(entry.entry_id, "failed", message=problem.message, attempts=0)
        owner = lookups.users.get(entry.user_id)
        choice, target = carriers.for_entry(entry, owner.email if owner else entry.user_id)
        if target is None:
            return PostingResult(entry.entry_id, "failed", message=choice.message, attempts=0)
        now = self._clock.now()
        attempts = (previous.attempts if previous else 0) + 1
        claim = PostingRecord(
            firm_id=entry.firm_id,
            system=system,
            entry_id=entry.entry_id,
            user_id=entry.user_id,
            day=entry.day,
            reference=posting.reference,
            state=PostingState.CLAIMED,
            attempts=attempts,
            claimed_at=now,
            # A stale claim means the last attempt died at an unknown point: assume it may have posted.
            maybe_created=previous is not None
            and (previous.maybe_created or previous.state is PostingState.CLAIMED),
        )
        if not self._billing.claim_posting(claim, stale_before=now - CLAIM_LEASE):
            return PostingResult(entry.entry_id, "skipped", message="another run is posting this entry")
        try:
            external_id = target.find_posted(posting) if claim.maybe_created else None
            outcome = "already_posted" if external_id else "posted"
            if external_id is None:
                external_id = target.post_time(posting)
        except ReauthorizationRequired as refused:
            self._billing.save_posting(replace(claim, state=PostingState.FAILED, message=str(refused)))
            if choice.kind is PosterKind.USER:
                # Only this person's login was refused (and is marked so): the run goes on, and their
                # next entries go as the property says for someone who has not authorized.
                carriers.forget(entry.user_id)
                who = owner.email if owner else entry.user_id
                message = f"{who}'s own {system.value} sign-in was refused: they connect their account again"
                return PostingResult(entry.entry_id, "failed", message=message, attempts=attempts)
            return PostingResult(entry.entry_id, "stopped", message=str(refused), attempts=attempts)
        except BillingError as failure:
            # Anything but a clear refusal (4xx) may have created the record remotely.
            maybe = failure.retryable or failure.status is None or failure.status >= 500
            self._billing.save_posting(
                replace(claim, state=PostingState.FAILED, message=str(failure), maybe_created=maybe)
            )
            return PostingResult(
                entry.entry_id, "failed", message=str(failure), attempts=attempts, retryable=failure.retryable
            )
        self._billing.save_posting(
            replace(claim, state=PostingState.POSTED, external_id=external_id, message="")
        )
        self._mark_entry_posted(entry, external_id, actor)
        return PostingResult(entry.entry_id, outcome, external_id, attempts=attempts)

    def _mark_entry_posted(self, entry: Entry, external_id: str, actor: str) -> None:
        current: Entry | None = entry
        for _ in range(3):
            if current is None or current.status is not EntryStatus.RELEASED:
                return  # already marked, or changed by its owner: the ledger keeps the truth
            try:
                self._timeline.save_entries(
                    [replace(current, status=EntryStatus.POSTED, external_id=external_id)], [], actor, "post"
                )
                return
            except StaleVersion:
                current = self._timeline.get_entry(entry.firm_id, entry.user_id, entry.day, entry.entry_id)

    def _posting_for(self, connection: BillingConnection, entry: Entry, lookups: _Lookups) -> TimePosting:
        """What the system receives for ``entry``; ``InvalidInput`` says what link is missing."""
        system = connection.system.value
        properties = connection.properties
        if entry.matter_id is None:
            raise InvalidInput("the entry has no matter")
        if entry.matter_id not in lookups.matters:
            lookups.matters[entry.matter_id] = self._matters.matter(entry.firm_id, entry.matter_id)
        matter = lookups.matters[entry.matter_id]
        if matter is None:
            raise InvalidInput("the entry's matter no longer exists")
        matter_ref = matter.external_ids.get(system)
        if not matter_ref:
            raise InvalidInput(
                f"matter {matter.number} is not linked to {system}: sync {system}, then post again"
            )
        if entry.user_id not in lookups.users:
            lookups.users[entry.user_id] = self._users.get(entry.firm_id, entry.user_id)
        user = lookups.users[entry.user_id]
        user_ref = user.external_ids.get(system) if user else None
        if not user_ref:
            who = user.email if user else entry.user_id
            raise InvalidInput(
                f"{who} is not linked to a {system} user: sync {system} or set the external id"
            )
        activity = lookups.activity_types.get(entry.activity_code or "")
        seconds = billed_seconds_for(entry.billed_seconds, properties.billable_time_rounding_sec)
        if seconds <= 0:
            raise InvalidInput("the entry has no billed time")
        note = entry.narrative
        if properties.add_summary_to_narrative:
            note += summary_suffix(entry.raw_seconds, seconds)
        non_billable = (
            not entry.billable
            or (entry.activity_code or "") in properties.activity_types_non_billable
            or (activity is not None and not activity.billable)
        )
        return TimePosting(
            reference=posting_reference(entry.entry_id),
            day=entry.day,
            seconds=seconds,
            matter_external_id=matter_ref,
            user_external_id=user_ref,
            note=note,
            non_billable=non_billable,
            activity_external_id=activity.external_ids.get(system) if activity else None,
            worked_seconds=round(entry.raw_seconds),
        )
