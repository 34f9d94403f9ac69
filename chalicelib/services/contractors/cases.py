"""The contractor module's side of a case's legal problem code: the lookup and the matter allocation.

Implements the ``CaseProblemCodes`` port for the matter service and the matter import. When a case is
created with a problem code, or its problem code changes, and the firm has the Contractor Matter
Allocations add-on, the case's allocation follows the code's "Contractor Base Matter Allocation"
(``allocations.allocation_for_new_case`` / ``on_problem_code_changed``, logged and audited) until a manual
adjustment or an approval has touched it. Staff may hand a manually set allocation back to its code
(``ContractorService.follow_problem_code``), but not while approvals stand deducted.

Why not one transaction with the matter write. The matter and its allocation are two aggregates with
their own versions, written by two modules: approvals deduct from the allocation while someone edits the
case. Tying them into one DynamoDB transaction would make a case edit fail because an invoice was
approved a millisecond earlier, and would make the matter repository build the contractor module's items.
Instead the matter is written first, then the allocation is brought in line, and that step is
idempotent and retry-safe:

- the allocation records the problem code it last followed; a change whose code the allocation already
  records is skipped, so replaying it (a retried request, a re-run import) writes nothing twice;
- the allocation write is conditional on its version; a concurrent writer (an approval) makes it re-read
  and decide again, at most ``ATTEMPTS`` times;
- a crash between the two writes leaves the allocation one step behind; whoever next reads the case's
  contractor block (``ContractorService.case``) or changes its allocation rolls it forward with the same
  function (``bring_in_line``), so the block never shows an allocation out of step with its problem code.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from decimal import Decimal

from chalicelib.adapters.persistence.contractors import TableContractorRepository
from chalicelib.domain.contractors.allocations import (
    AllocationChange,
    MatterAllocation,
    allocation_for_new_case,
    on_problem_code_changed,
)
from chalicelib.domain.contractors.lookups import LookupKind
from chalicelib.domain.errors import StaleVersion
from chalicelib.domain.matters import ProblemCodeChange
from chalicelib.ports import Clock

# An allocation is rarely written by two people in the same instant; three tries is plenty.
ATTEMPTS = 3

logger = logging.getLogger(__name__)


class ContractorCaseProblemCodes:
    """``CaseProblemCodes`` on the contractor module's repository."""

    def __init__(self, repository: TableContractorRepository, clock: Clock) -> None:
        self._repo = repository
        self._clock = clock

    def active_codes(self, firm_id: str) -> frozenset[str]:
        """The problem codes a case may be given now (the lookup's active values)."""
        table = self._repo.lookup(firm_id, LookupKind.LEGAL_PROBLEM_CODE)[0]
        return frozenset(value.key for value in table.active_values())

    def cases_changed(self, firm_id: str, changes: Sequence[ProblemCodeChange], actor: str) -> None:
        """Bring each case's allocation in line with the problem code just written (idempotent)."""
        if not changes or not self._repo.settings(firm_id).add_ons.matter_allocations:
            return
        bases = self._bases(firm_id)
        for change in changes:
            try:
                self.bring_in_line(
                    firm_id,
                    change.matter_id,
                    change.problem_code,
                    actor,
                    new_case=change.new_case,
                    bases=bases,
                )
            except StaleVersion:
                # The case itself is saved; failing its request now would report a change that happened as
                # refused. The next read of the case's contractor block rolls the allocation forward.
                logger.warning("matter allocation of %s left behind its problem code", change.matter_id)

    def bring_in_line(
        self,
        firm_id: str,
        matter_id: str,
        problem_code: str | None,
        actor: str,
        *,
        new_case: bool = False,
        bases: dict[str, Decimal] | None = None,
    ) -> MatterAllocation | None:
        """The case's allocation after following ``problem_code`` (the add-on must be on; callers check)."""
        bases = self._bases(firm_id) if bases is None else bases
        for attempt in range(ATTEMPTS):
            current = self._repo.matter_allocation(firm_id, matter_id)
            change = self._decide(firm_id, matter_id, current, problem_code, actor, new_case, bases)
            if change is None:
                return current
            try:
                return self._repo.save_allocation(change, actor)
            except StaleVersion:
                if attempt == ATTEMPTS - 1:
                    raise
        return None  # pragma: no cover - the loop returns or raises

    def _decide(
        self,
        firm_id: str,
        matter_id: str,
        current: MatterAllocation | None,
        problem_code: str | None,
        actor: str,
        new_case: bool,
        bases: dict[str, Decimal],
    ) -> AllocationChange | None:
        if current is not None and current.problem_code == problem_code:
            return None  # already applied: a replay changes nothing
        at = self._clock.now()
        if current is None:
            if problem_code is None:
                return None  # nothing to follow and nothing recorded yet
            if new_case:
                return allocation_for_new_case(firm_id, matter_id, problem_code, bases, at=at, actor=actor)
            # An existing case without an allocation gets one when its problem code is set (the seed).
            current = MatterAllocation(firm_id, matter_id)
        return on_problem_code_changed(current, problem_code, bases, at=at, actor=actor)

    def _bases(self, firm_id: str) -> dict[str, Decimal]:
        return self._repo.lookup(firm_id, LookupKind.LEGAL_PROBLEM_CODE)[0].base_matter_allocations()
