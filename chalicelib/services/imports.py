"""CSV imports of clients, matters, contacts and the roster.

    preview ──▶ plan (every row checked against the file and the firm's records; nothing written)
    commit  ──▶ plan again ──▶ no error? ──▶ write creates and updates, progress every 1,000 rows

A matter's legal problem code must be one of the firm's active codes (``CaseProblemCodes``); after the
matters are written, the created cases and the changed codes are reported to that port. Its work is
idempotent; an allocation an interrupted import left behind is rolled forward when the case's contractor
block is next read (``services.contractors.cases``).

A file with any error writes nothing. Re-importing updates rows by external id instead of duplicating,
so a commit interrupted half-way is finished by running it again: the rows already written plan as
"unchanged", the rest as creates.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from chalicelib.domain.calls import RowError
from chalicelib.domain.errors import Forbidden, NotFound
from chalicelib.domain.identity import Permission, Principal, Role
from chalicelib.domain.imports import (
    ExistingRecords,
    ImportKind,
    plan_clients,
    plan_contacts,
    plan_matters,
    plan_roster,
)
from chalicelib.domain.matters import Matter, ProblemCodeChange
from chalicelib.ports import (
    CaseProblemCodes,
    Clock,
    EntityStore,
    FirmRepository,
    JobProgress,
    MatterRepository,
    UserRepository,
)
from chalicelib.services.paging import every_item

T = TypeVar("T")
ProgressReport = Callable[[str, int, int], None]


@dataclass(frozen=True)
class ImportReport:
    """What a file holds and, on commit, what was written."""

    kind: ImportKind
    rows: int
    creates: int
    updates: int
    unchanged: int
    errors: list[RowError] = field(default_factory=list)
    committed: bool = False


class ImportService:
    """Plans and commits CSV imports."""

    def __init__(
        self,
        *,
        matters: MatterRepository,
        users: UserRepository,
        firms: FirmRepository,
        jobs: JobProgress,
        clock: Clock,
        problem_codes: CaseProblemCodes | None = None,
    ) -> None:
        self._problem_codes = problem_codes
        self._jobs = jobs
        self._matters = matters
        self._users = users
        self._firms = firms
        self._clock = clock

    def run(
        self,
        principal: Principal,
        kind: ImportKind,
        text: str,
        *,
        commit: bool,
        progress: ProgressReport | None = None,
    ) -> ImportReport:
        """Preview (``commit`` false) or import a file; ``progress(phase, done, total)`` for large ones."""
        principal.require(Permission.ROSTER_WRITE if kind == "roster" else Permission.MATTERS_WRITE)
        if self._firms.get(principal.firm_id) is None:
            raise NotFound("your firm no longer exists")
        existing = self._existing(principal.firm_id)
        planner: Any = {
            "clients": plan_clients,
            "matters": plan_matters,
            "contacts": plan_contacts,
            "roster": plan_roster,
        }[kind]
        plan = planner(
            text,
            firm_id=principal.firm_id,
            existing=existing,
            new_id=lambda: uuid.uuid4().hex[:16],
            now=self._clock.now(),
            on_progress=(lambda done, total: progress("checking", done, total)) if progress else None,
        )
        report = ImportReport(
            kind=kind,
            rows=plan.rows,
            creates=len(plan.creates),
            updates=len(plan.updates),
            unchanged=plan.unchanged,
            errors=list(plan.errors),
        )
        if plan.errors or not commit:
            return report
        if kind == "roster":
            self._guard_admin_grants(principal, plan.creates, plan.updates)
        stores: dict[str, EntityStore[Any]] = {
            "clients": self._matters.clients,
            "matters": self._matters.matters,
            "contacts": self._matters.contacts,
            "roster": self._users,
        }
        store = stores[kind]
        total = len(plan.creates) + len(plan.updates)
        done = 0

        def written() -> None:
            nonlocal done
            done += 1
            if progress and (done % 1000 == 0 or done == total):
                progress("writing", done, total)

        for record in plan.creates:
            store.add(record, principal.actor)
            written()
        for record in plan.updates:
            store.update(record, principal.actor, "import")
            written()
        if kind == "matters" and self._problem_codes is not None:
            self._problem_codes.cases_changed(
                principal.firm_id,
                _problem_code_changes(plan.creates, plan.updates, existing),
                principal.actor,
            )
        return ImportReport(
            kind=kind,
            rows=report.rows,
            creates=report.creates,
            updates=report.updates,
            unchanged=report.unchanged,
            committed=True,
        )

    def run_tracked(
        self, principal: Principal, kind: ImportKind, text: str, *, commit: bool, job_id: str | None
    ) -> ImportReport:
        """``run``, reporting progress under ``job_id`` (chosen by the client) for another request to read."""
        if job_id is None:
            return self.run(principal, kind, text, commit=commit)

        def progress(phase: str, done: int, total: int) -> None:
            self._jobs.report(
                principal.firm_id, job_id, phase=phase, done=done, total=total, owner=principal.actor
            )

        progress("starting", 0, 0)
        report = self.run(principal, kind, text, commit=commit, progress=progress)
        progress("done", report.rows, report.rows)
        return report

    def progress(self, principal: Principal, job_id: str) -> dict[str, Any]:
        """How far an import of the caller's is."""
        job = self._jobs.get(principal.firm_id, job_id)
        if job is None or job["owner"] != principal.actor:
            raise NotFound("there is no such import of yours")
        return job

    def _guard_admin_grants(self, principal: Principal, creates: list[Any], updates: list[Any]) -> None:
        # As with invitations: only a firm admin in person may hand out or take away the admin role, so an
        # API token with roster:write cannot mint administrators through a file either.
        if principal.kind == "user" and Role.FIRM_ADMIN in principal.roles:
            return
        touched = [user for user in creates if Role.FIRM_ADMIN in user.roles]
        for user in updates:
            before = self._users.get(user.firm_id, user.user_id)
            if before is not None and (Role.FIRM_ADMIN in before.roles) != (Role.FIRM_ADMIN in user.roles):
                touched.append(user)
        if touched:
            raise Forbidden(
                f"only a firm admin can grant or remove the firm admin role ({touched[0].email} in this file)"
            )

    def _existing(self, firm_id: str) -> ExistingRecords:
        return ExistingRecords.of(
            clients=every_item(lambda cursor: self._matters.list_clients(firm_id, cursor, 200)),
            matters=every_item(lambda cursor: self._matters.list_matters(firm_id, cursor, 200)),
            contacts=every_item(lambda cursor: self._matters.list_contacts(firm_id, cursor, 200)),
            users=every_item(lambda cursor: self._users.list(firm_id, cursor=cursor, limit=200)),
            problem_codes=self._problem_codes.active_codes(firm_id) if self._problem_codes else (),
        )


def _problem_code_changes(
    creates: list[Matter], updates: list[Matter], existing: ExistingRecords
) -> list[ProblemCodeChange]:
    """The cases created with a problem code and those whose code the file changed."""
    before = {m.matter_id: m.problem_code for m in existing.matters_by_number.values()}
    changes = [ProblemCodeChange(m.matter_id, m.problem_code, True) for m in creates if m.problem_code]
    changes += [
        ProblemCodeChange(m.matter_id, m.problem_code, False)
        for m in updates
        if m.problem_code != before.get(m.matter_id)
    ]
    return changes
