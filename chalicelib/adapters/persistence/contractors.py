"""The contractor module in the single table: keys, versioned writes, audit, and the invoice/BT sync.

Keys (every item carries ``firm_id``; ``C`` below is ``FIRM#{firm}#CTR``; ``{who}`` is a contractor
ref key such as ``user#u1`` or ``organization#o1``):

| item | PK | SK | GSI1PK / GSI1SK | GSI2PK / GSI2SK |
| --- | --- | --- | --- | --- |
| settings | C | SETTINGS | | |
| lookup (all values of one) | C | LOOKUP#{kind} | | |
| contractor | C#CONTRACTORS | {who} | | |
| annual allocation override | C#ANNUAL | {who} | | |
| product/service | C#PRODUCTS | {product} | | |
| fee structure | C#FEES#{who} | {product} | | |
| work order template | C#TEMPLATES | {template} | | |
| work order | C#WO#{wo} | WO | C#WOSOF#{who} / {status}#{created}#{wo} | C#WOS / {status}#{created}#{wo} |
| billing transaction | C#WO#{wo} | BT#{bt} | see below | billed to a case: C#CASEBT#{matter} / {bt} |
| receipt (uploaded) | C#WO#{wo} | RECEIPT#{document} | | |
| invoice | C#INV#{inv} | INV | C#INVOF#{who} / {status}#{created}#{inv} | C#INVSTATUS#{status} / … |
| case: work order link | C#CASE#{matter} | WO#{wo} | | |
| case: contractor assignment | C#CASE#{matter} | ASSIGN#{who}#{type} | | |
| case: matter allocation | C#CASE#{matter} | ALLOCATION | | |
| case: allocation log line | C#CASE#{matter} | LOG#{at}#{invoice or note id} | | |
| case: timeslip service record | C#CASE#{matter} | SR#{record} | | |

A BT's GSI1 says where it is: on an invoice ``C#INVBT#{inv} / {bt}``, in its contractor's pool of
non-invoiced BTs ``C#POOL#{who} / {work date}#{bt}``. The invoice's GSI2 sort key is ``{created}#{inv}``.

Screens and their one Query: the invoice queue by status (GSI2 ``C#INVSTATUS#{status}``); a contractor's
invoices (GSI1 ``C#INVOF#{who}``, by status with a prefix); a contractor's non-invoiced BTs (GSI1
``C#POOL#{who}``); an invoice's BTs (GSI1 ``C#INVBT#{inv}``); a work order with its BTs and receipts
(``C#WO#{wo}``); a case's contractor block: work orders, assignments, allocation, log, service records
(``C#CASE#{matter}``); a case's BTs for its budget (GSI2 ``C#CASEBT#{matter}``); every contractor's
open work orders, counted for the recommended-contractors list (GSI2 ``C#WOS``, prefix ``open#``).

Every change is conditional on the record's ``version`` (invoices also on their expected ``status``) and
is one transaction with its audit record (``VersionedWriter.audit_item``).

Fee structures and case assignments can be removed and made again under the same key. Removing one
leaves a tombstone (``deleted``, no data, the next version) instead of deleting the item, so the record's
versions, and the audit records keyed by them, go on from where they were: making it again writes the
version after the tombstone's, conditional on the tombstone being the one read. Listings skip tombstones.
A work order template is removed outright: its id is never used again.

The invoice is the truth; its BTs follow. An invoice of 2,000 BTs cannot move its BTs in one
transaction (at most 100 items), so a transition is decided by ONE conditional write of the invoice item,
which records, in the same write, the BT changes it implies (``sync``). The BTs are then brought in line
in batches, each BT conditional on its own version and audited; a batch already applied is skipped, so
the roll-forward is idempotent. Whoever next reads the invoice (a retry, another staff member, the
listing) completes a sync a crash left behind before using the BTs:

    service ──Get invoice (v5, sync none)──▶ domain decides ──┐
                                                             ▼
    transact[ invoice v6 if version=5 and status=verified, sync={BT targets, v6} ; audit ; allocations ]
             │ one of two approvers wins here; the other gets StaleVersion (409)
             ▼
    for each batch of 49 BTs: transact[ BT (status, invoice) if version=n ; BT audit ] ── crash? ──┐
             ▼                                                                                     │
    put invoice v6 without sync if version=6 and sync_version=6            next reader: Get v6 ◀──┘
                                                                           sees sync → same batches
                                                                           (applied ones skipped)

A BT taken onto an invoice must still be in the pool when its batch is applied; one that was meanwhile
deleted or put on another invoice is dropped from this invoice, whose totals are then recomputed.
A deleted invoice becomes a tombstone (status ``deleted``, out of every index) until its BTs are back in
the pool, then disappears.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

from chalicelib.adapters.persistence.codec import decode_cursor, dt_out, encode_cursor, int_in, strip_none
from chalicelib.adapters.persistence.contractors_codec import dumps, from_plain, loads, to_plain
from chalicelib.adapters.persistence.repositories import VersionedWriter
from chalicelib.adapters.persistence.table import (
    AllOf,
    AttributeEquals,
    ConditionFailed,
    Delete,
    Item,
    ItemAbsent,
    KeyRange,
    Operation,
    Put,
    Table,
    TransactionCancelled,
)
from chalicelib.domain.contractors.allocations import (
    AllocationChange,
    AllocationLogEntry,
    AllocationOverride,
    MatterAllocation,
)
from chalicelib.domain.contractors.catalog import FeeStructure, ProductService
from chalicelib.domain.contractors.contractors import (
    CaseAssignment,
    Contractor,
    ContractorKind,
    ContractorRef,
)
from chalicelib.domain.contractors.invoices import Invoice, invoice_totals
from chalicelib.domain.contractors.lookups import BtStatus, InvoiceStatus, LookupKind, LookupTable
from chalicelib.domain.contractors.settings import ContractorSettings
from chalicelib.domain.contractors.transactions import (
    BillingTransaction,
    ReceiptDocument,
    ServiceRecord,
    in_pool,
)
from chalicelib.domain.contractors.work_orders import WorkOrder, WorkOrderTemplate
from chalicelib.domain.errors import Conflict, Duplicate, InvalidInput, StaleVersion
from chalicelib.ports import Clock, Page

# A BT and its audit record are two items; a transaction holds at most 100.
BT_BATCH = 49
DELETED = "deleted"
# Keeps the allocation log's keys unique when two lines share a millisecond.
_LOG_SUFFIX_LENGTH = 8


def _c(firm_id: str) -> str:
    return f"FIRM#{firm_id}#CTR"


def _wo_pk(firm_id: str, work_order_id: str) -> str:
    return f"{_c(firm_id)}#WO#{work_order_id}"


def _inv_pk(firm_id: str, invoice_id: str) -> str:
    return f"{_c(firm_id)}#INV#{invoice_id}"


def _case_pk(firm_id: str, matter_id: str) -> str:
    return f"{_c(firm_id)}#CASE#{matter_id}"


def _pool_pk(firm_id: str, who: ContractorRef) -> str:
    return f"{_c(firm_id)}#POOL#{who.key}"


def _invoice_bts_pk(firm_id: str, invoice_id: str) -> str:
    return f"{_c(firm_id)}#INVBT#{invoice_id}"


def _cursor(cursor: str | None, attribute: str, partition: str) -> dict[str, Any] | None:
    try:
        return decode_cursor(cursor, attribute, partition)
    except ValueError as error:
        raise InvalidInput(str(error)) from error


def _assignment_id(assignment: CaseAssignment) -> str:
    return f"{assignment.matter_id}#{assignment.contractor.key}#{assignment.assignment_type}"


def _ref_from_key(key: str) -> ContractorRef:
    kind, _, contractor_id = key.partition("#")
    return ContractorRef(ContractorKind(kind), contractor_id)


class TableContractorRepository:
    """Everything of the contractor module on the ``Table`` port (DynamoDB, or its in-memory twin)."""

    def __init__(self, table: Table, clock: Clock) -> None:
        self._table = table
        self._clock = clock
        self._writer = VersionedWriter(table, clock)

    # ------------------------------------------------------------------ plumbing

    def _record_item(self, pk: str, sk: str, kind: str, firm_id: str, record: Any, **attributes: Any) -> Item:
        return strip_none(
            {"PK": pk, "SK": sk, "type": kind, "firm_id": firm_id, "data": dumps(record), **attributes}
        )

    def _save(
        self,
        item: Item,
        *,
        entity_type: str,
        entity_id: str,
        version: int,
        before: Any,
        after: Any,
        actor: str,
        action: str | None = None,
        extra: Sequence[Operation] = (),
    ) -> int:
        """Write ``item`` at ``version + 1`` (``version`` 0: must be new) with its audit record, whose
        action is ``create`` or ``update`` by the version unless ``action`` names it."""
        return self._writer.write(
            firm_id=item["firm_id"],
            entity_type=entity_type,
            entity_id=entity_id,
            item=item,
            before=to_plain(before) if before is not None else None,
            after=to_plain(after),
            expected_version=version or None,
            actor=actor,
            action=action or ("update" if version else "create"),
            extra=extra,
        )

    def _load(self, kind: type, item: Item | None) -> Any:
        if item is None:
            return None
        record: Any = loads(kind, item["data"])
        return replace(record, version=int_in(item.get("version", 0)))

    def _query_all(
        self, pk: str, key_range: KeyRange | None = None, *, index: str | None = None
    ) -> list[Item]:
        """Every item of one partition (following DynamoDB's 1 MB pages)."""
        items: list[Item] = []
        start: Item | None = None
        while True:
            page = self._table.query(pk, key_range, index=index, start_after=start, consistent=index is None)
            items.extend(page.items)
            if page.last_key is None:
                return items
            start = page.last_key

    # ------------------------------------------------------------------ settings and lookups

    def settings(self, firm_id: str) -> ContractorSettings:
        """The firm's contractor settings (the defaults until someone saves the page)."""
        found = self._load(ContractorSettings, self._table.get(_c(firm_id), "SETTINGS"))
        return found or ContractorSettings(firm_id)

    def save_settings(self, settings: ContractorSettings, actor: str) -> ContractorSettings:
        before = self.settings(settings.firm_id) if settings.version else None
        item = self._record_item(_c(settings.firm_id), "SETTINGS", "ctr_settings", settings.firm_id, settings)
        version = self._save(
            item,
            entity_type="contractor_settings",
            entity_id=settings.firm_id,
            version=settings.version,
            before=before,
            after=settings,
            actor=actor,
        )
        return replace(settings, version=version)

    def lookup(self, firm_id: str, kind: LookupKind) -> tuple[LookupTable, int]:
        """One lookup's values (its system values until the firm adds its own) and its version."""
        item = self._table.get(_c(firm_id), f"LOOKUP#{kind.value}")
        if item is None:
            return LookupTable.seeded(kind), 0
        return loads(LookupTable, item["data"]), int_in(item["version"])

    def save_lookup(self, firm_id: str, table: LookupTable, version: int, actor: str) -> int:
        before = self.lookup(firm_id, table.kind)[0] if version else None
        item = self._record_item(_c(firm_id), f"LOOKUP#{table.kind.value}", "ctr_lookup", firm_id, table)
        return self._save(
            item,
            entity_type="contractor_lookup",
            entity_id=table.kind.value,
            version=version,
            before=before,
            after=table,
            actor=actor,
        )

    # ------------------------------------------------------------------ contractors

    def contractor(self, firm_id: str, who: ContractorRef) -> Contractor | None:
        found: Contractor | None = self._load(
            Contractor, self._table.get(f"{_c(firm_id)}#CONTRACTORS", who.key)
        )
        return found

    def contractors(self, firm_id: str) -> list[Contractor]:
        return [self._load(Contractor, item) for item in self._query_all(f"{_c(firm_id)}#CONTRACTORS")]

    def save_contractor(self, contractor: Contractor, actor: str) -> Contractor:
        before = self.contractor(contractor.firm_id, contractor.ref) if contractor.version else None
        item = self._record_item(
            f"{_c(contractor.firm_id)}#CONTRACTORS",
            contractor.ref.key,
            "ctr_contractor",
            contractor.firm_id,
            contractor,
        )
        version = self._save(
            item,
            entity_type="contractor",
            entity_id=contractor.ref.key,
            version=contractor.version,
            before=before,
            after=contractor,
            actor=actor,
        )
        return replace(contractor, version=version)

    def annual_override(self, firm_id: str, who: ContractorRef) -> tuple[AllocationOverride | None, int]:
        item = self._table.get(f"{_c(firm_id)}#ANNUAL", who.key)
        if item is None:
            return None, 0
        return loads(AllocationOverride, item["data"]), int_in(item["version"])

    def save_annual_override(
        self, firm_id: str, override: AllocationOverride, version: int, actor: str
    ) -> int:
        before = self.annual_override(firm_id, override.contractor)[0] if version else None
        item = self._record_item(
            f"{_c(firm_id)}#ANNUAL", override.contractor.key, "ctr_annual", firm_id, override
        )
        return self._save(
            item,
            entity_type="contractor_annual_allocation",
            entity_id=override.contractor.key,
            version=version,
            before=before,
            after=override,
            actor=actor,
        )

    # ------------------------------------------------------------------ catalog

    def product(self, firm_id: str, product_id: str) -> ProductService | None:
        found: ProductService | None = self._load(
            ProductService, self._table.get(f"{_c(firm_id)}#PRODUCTS", product_id)
        )
        return found

    def products(self, firm_id: str) -> list[ProductService]:
        return [self._load(ProductService, item) for item in self._query_all(f"{_c(firm_id)}#PRODUCTS")]

    def save_product(self, product: ProductService, actor: str) -> ProductService:
        before = self.product(product.firm_id, product.product_id) if product.version else None
        item = self._record_item(
            f"{_c(product.firm_id)}#PRODUCTS", product.product_id, "ctr_product", product.firm_id, product
        )
        version = self._save(
            item,
            entity_type="contractor_product",
            entity_id=product.product_id,
            version=product.version,
            before=before,
            after=product,
            actor=actor,
        )
        return replace(product, version=version)

    def fee_structures(self, firm_id: str, who: ContractorRef) -> list[FeeStructure]:
        return [
            self._load(FeeStructure, item)
            for item in self._query_all(f"{_c(firm_id)}#FEES#{who.key}")
            if not item.get("deleted")
        ]

    def _tombstone_version(self, pk: str, sk: str) -> int:
        """The version of a removed record's tombstone at this key (0: never made, or live)."""
        item = self._table.get(pk, sk)
        return int_in(item["version"]) if item is not None and item.get("deleted") else 0

    def save_fee_structure(self, structure: FeeStructure, actor: str) -> FeeStructure:
        pk = f"{_c(structure.firm_id)}#FEES#{structure.contractor.key}"
        # A new fee structure where one was removed continues the removed one's versions.
        version = structure.version or self._tombstone_version(pk, structure.product_id)
        item = self._record_item(pk, structure.product_id, "ctr_fee", structure.firm_id, structure)
        version = self._save(
            item,
            entity_type="contractor_fee_structure",
            entity_id=f"{structure.contractor.key}#{structure.product_id}",
            version=version,
            before=None,
            after=structure,
            actor=actor,
            # Setting a rate again after its removal is a create, though it continues the versions.
            action="update" if structure.version else "create",
        )
        return replace(structure, version=version)

    def delete_fee_structure(self, structure: FeeStructure, actor: str) -> None:
        """Remove a contractor's rate (conditional on the version read); it leaves a tombstone."""
        self._remove(
            f"{_c(structure.firm_id)}#FEES#{structure.contractor.key}",
            structure.product_id,
            firm_id=structure.firm_id,
            entity_type="contractor_fee_structure",
            entity_id=f"{structure.contractor.key}#{structure.product_id}",
            version=structure.version,
            before=structure,
            actor=actor,
        )

    def _remove(
        self,
        pk: str,
        sk: str,
        *,
        firm_id: str,
        entity_type: str,
        entity_id: str,
        version: int,
        before: Any,
        actor: str,
    ) -> None:
        """Replace a record by its tombstone at the next version, with the audit record."""
        tombstone = {"PK": pk, "SK": sk, "type": "ctr_tombstone", "firm_id": firm_id, "deleted": True}
        self._writer.write(
            firm_id=firm_id,
            entity_type=entity_type,
            entity_id=entity_id,
            item=tombstone,
            before=to_plain(before),
            after={"deleted": True},
            expected_version=version,
            actor=actor,
            action="delete",
        )

    def template(self, firm_id: str, template_id: str) -> WorkOrderTemplate | None:
        found: WorkOrderTemplate | None = self._load(
            WorkOrderTemplate, self._table.get(f"{_c(firm_id)}#TEMPLATES", template_id)
        )
        return found

    def templates(self, firm_id: str) -> list[WorkOrderTemplate]:
        return [self._load(WorkOrderTemplate, item) for item in self._query_all(f"{_c(firm_id)}#TEMPLATES")]

    def save_template(self, template: WorkOrderTemplate, actor: str) -> WorkOrderTemplate:
        item = self._record_item(
            f"{_c(template.firm_id)}#TEMPLATES",
            template.template_id,
            "ctr_template",
            template.firm_id,
            template,
        )
        version = self._save(
            item,
            entity_type="contractor_wo_template",
            entity_id=template.template_id,
            version=template.version,
            before=None,
            after=template,
            actor=actor,
        )
        return replace(template, version=version)

    def delete_template(self, template: WorkOrderTemplate, actor: str) -> None:
        """Remove a template (conditional on the version read). Work orders made from it keep its id."""
        audit = self._writer.audit_item(
            template.firm_id,
            "contractor_wo_template",
            template.template_id,
            template.version + 1,
            "delete",
            actor,
            to_plain(template),
            None,
        )
        try:
            self._table.transact(
                [
                    Delete(
                        f"{_c(template.firm_id)}#TEMPLATES",
                        template.template_id,
                        AttributeEquals("version", template.version),
                    ),
                    Put(audit, ItemAbsent()),
                ]
            )
        except TransactionCancelled as cancelled:
            raise StaleVersion("work order template", template.template_id) from cancelled

    # ------------------------------------------------------------------ cases

    def case_items(self, firm_id: str, matter_id: str) -> list[Item]:
        """Everything the case's contractor block shows, in one Query."""
        return self._query_all(_case_pk(firm_id, matter_id))

    def case_assignments(self, firm_id: str, matter_id: str) -> list[CaseAssignment]:
        items = self._query_all(_case_pk(firm_id, matter_id), KeyRange(prefix="ASSIGN#"))
        return [loads(CaseAssignment, item["data"]) for item in items if not item.get("deleted")]

    def add_case_assignment(self, assignment: CaseAssignment, actor: str) -> None:
        pk = _case_pk(assignment.firm_id, assignment.matter_id)
        sk = f"ASSIGN#{assignment.contractor.key}#{assignment.assignment_type}"
        item = self._record_item(pk, sk, "ctr_case_assignment", assignment.firm_id, assignment)
        try:
            self._save(
                item,
                entity_type="contractor_case_assignment",
                entity_id=_assignment_id(assignment),
                # Assigned again after a removal: the versions go on from the removal's tombstone.
                version=self._tombstone_version(pk, sk),
                before=None,
                after=assignment,
                actor=actor,
                action="assign",
            )
        except StaleVersion as stale:
            raise Conflict("that assignment was just changed by someone else; reload the case") from stale

    def remove_case_assignment(self, assignment: CaseAssignment, actor: str) -> None:
        """Remove an assignment (it leaves a tombstone, so assigning again keeps the audit in order)."""
        pk = _case_pk(assignment.firm_id, assignment.matter_id)
        sk = f"ASSIGN#{assignment.contractor.key}#{assignment.assignment_type}"
        item = self._table.get(pk, sk)
        if item is None or item.get("deleted"):
            raise Conflict("that assignment was just removed; reload the case")
        try:
            self._remove(
                pk,
                sk,
                firm_id=assignment.firm_id,
                entity_type="contractor_case_assignment",
                entity_id=_assignment_id(assignment),
                version=int_in(item.get("version", 1)),
                before=assignment,
                actor=actor,
            )
        except StaleVersion as stale:
            raise Conflict("that assignment was just changed by someone else; reload the case") from stale

    def matter_allocation(self, firm_id: str, matter_id: str) -> MatterAllocation | None:
        found: MatterAllocation | None = self._load(
            MatterAllocation, self._table.get(_case_pk(firm_id, matter_id), "ALLOCATION")
        )
        return found

    def allocation_log(self, firm_id: str, matter_id: str) -> list[AllocationLogEntry]:
        items = self._query_all(_case_pk(firm_id, matter_id), KeyRange(prefix="LOG#"))
        return [loads(AllocationLogEntry, item["data"]) for item in items]

    def allocation_operations(self, change: AllocationChange, actor: str) -> list[Operation]:
        """The allocation, its log line and its audit record, for a caller's transaction."""
        allocation = change.allocation
        pk = _case_pk(allocation.firm_id, allocation.matter_id)
        new_version = allocation.version + 1
        condition = (
            ItemAbsent() if allocation.version == 0 else AttributeEquals("version", allocation.version)
        )
        item = self._record_item(pk, "ALLOCATION", "ctr_matter_allocation", allocation.firm_id, allocation)
        operations: list[Operation] = [Put({**item, "version": new_version}, condition)]
        log = change.log_entry
        if log is not None:
            suffix = log.invoice_id or uuid.uuid4().hex[:_LOG_SUFFIX_LENGTH]
            operations.append(
                Put(
                    self._record_item(
                        pk, f"LOG#{dt_out(log.at)}#{suffix}", "ctr_allocation_log", log.firm_id, log
                    )
                )
            )
        operations.append(
            Put(
                self._writer.audit_item(
                    allocation.firm_id,
                    "contractor_matter_allocation",
                    allocation.matter_id,
                    new_version,
                    log.reason.value if log else "update",
                    actor,
                    None,
                    to_plain(allocation),
                ),
                ItemAbsent(),
            )
        )
        return operations

    def save_allocation(self, change: AllocationChange, actor: str) -> MatterAllocation:
        allocation = change.allocation
        try:
            self._table.transact(self.allocation_operations(change, actor))
        except TransactionCancelled as cancelled:
            raise StaleVersion("matter allocation", allocation.matter_id) from cancelled
        return replace(allocation, version=allocation.version + 1)

    def service_records(self, firm_id: str, matter_id: str) -> list[ServiceRecord]:
        items = self._query_all(_case_pk(firm_id, matter_id), KeyRange(prefix="SR#"))
        return [loads(ServiceRecord, item["data"]) for item in items]

    # ------------------------------------------------------------------ work orders

    def _work_order_item(self, work_order: WorkOrder) -> Item:
        created = dt_out(work_order.created_at) or ""
        order = f"{work_order.status.value}#{created}#{work_order.work_order_id}"
        return self._record_item(
            _wo_pk(work_order.firm_id, work_order.work_order_id),
            "WO",
            "ctr_work_order",
            work_order.firm_id,
            work_order,
            status=work_order.status.value,
            GSI1PK=f"{_c(work_order.firm_id)}#WOSOF#{work_order.assignee.key}",
            GSI1SK=order,
            GSI2PK=f"{_c(work_order.firm_id)}#WOS",
            GSI2SK=order,
        )

    def work_order(self, firm_id: str, work_order_id: str) -> WorkOrder | None:
        found: WorkOrder | None = self._load(WorkOrder, self._table.get(_wo_pk(firm_id, work_order_id), "WO"))
        return found

    def work_order_with_bts(
        self, firm_id: str, work_order_id: str
    ) -> tuple[WorkOrder | None, list[BillingTransaction], list[ReceiptDocument]]:
        """The work order, its BTs and its uploaded receipts: one Query of its partition."""
        work_order: WorkOrder | None = None
        bts: list[BillingTransaction] = []
        receipts: list[ReceiptDocument] = []
        for item in self._query_all(_wo_pk(firm_id, work_order_id)):
            if item["SK"] == "WO":
                work_order = self._load(WorkOrder, item)
            elif item["SK"].startswith("BT#"):
                bts.append(self._load(BillingTransaction, item))
            elif item["SK"].startswith("RECEIPT#"):
                receipts.append(loads(ReceiptDocument, item["data"]))
        return work_order, bts, receipts

    def work_orders(
        self, firm_id: str, who: ContractorRef | None, status: str | None, cursor: str | None, limit: int
    ) -> Page[WorkOrder]:
        """A contractor's work orders (GSI1), or the firm's (GSI2); optionally one status only."""
        index, pk = ("GSI1", f"{_c(firm_id)}#WOSOF#{who.key}") if who else ("GSI2", f"{_c(firm_id)}#WOS")
        page = self._table.query(
            pk,
            KeyRange(prefix=f"{status}#") if status else None,
            index=index,
            limit=limit,
            forward=False,
            start_after=_cursor(cursor, f"{index}PK", pk),
        )
        return Page([self._load(WorkOrder, item) for item in page.items], encode_cursor(page.last_key))

    def open_work_order_counts(self, firm_id: str) -> dict[ContractorRef, int]:
        """How many open work orders each contractor has: ONE Query (GSI2 ``C#WOS``, sort keys beginning
        ``open#``), counted by the assignee named in each item's GSI1 key, so no work order is decoded.
        Its cost follows the firm's open work orders (completed ones are outside the key range), paged
        by DynamoDB's 1 MB limit."""
        counts: dict[ContractorRef, int] = {}
        marker = "#WOSOF#"
        for item in self._query_all(f"{_c(firm_id)}#WOS", KeyRange(prefix="open#"), index="GSI2"):
            who = _ref_from_key(str(item["GSI1PK"]).rsplit(marker, 1)[-1])
            counts[who] = counts.get(who, 0) + 1
        return counts

    def save_work_order(self, work_order: WorkOrder, actor: str, action: str) -> WorkOrder:
        """Save the WO with its case links kept in step (links to unlinked cases are removed)."""
        before = self.work_order(work_order.firm_id, work_order.work_order_id) if work_order.version else None
        extra: list[Operation] = []
        for matter_id in work_order.matter_ids:
            extra.append(
                Put(
                    strip_none(
                        {
                            "PK": _case_pk(work_order.firm_id, matter_id),
                            "SK": f"WO#{work_order.work_order_id}",
                            "type": "ctr_case_work_order",
                            "firm_id": work_order.firm_id,
                            "work_order_id": work_order.work_order_id,
                            "title": work_order.title,
                            "assignee": work_order.assignee.key,
                            "status": work_order.status.value,
                        }
                    )
                )
            )
        for matter_id in set(before.matter_ids if before else ()) - set(work_order.matter_ids):
            extra.append(Delete(_case_pk(work_order.firm_id, matter_id), f"WO#{work_order.work_order_id}"))
        version = self._save(
            self._work_order_item(work_order),
            entity_type="contractor_work_order",
            entity_id=work_order.work_order_id,
            version=work_order.version,
            before=before,
            after=work_order,
            actor=actor,
            action=action,
            extra=extra,
        )
        return replace(work_order, version=version)

    def work_orders_of_case(self, firm_id: str, matter_id: str) -> list[str]:
        items = self._query_all(_case_pk(firm_id, matter_id), KeyRange(prefix="WO#"))
        return [item["work_order_id"] for item in items]

    # ------------------------------------------------------------------ receipts

    def save_receipt(self, firm_id: str, work_order_id: str, receipt: ReceiptDocument, actor: str) -> None:
        item = self._record_item(
            _wo_pk(firm_id, work_order_id), f"RECEIPT#{receipt.document_id}", "ctr_receipt", firm_id, receipt
        )
        self._save(
            item,
            entity_type="contractor_receipt",
            entity_id=receipt.document_id,
            version=0,
            before=None,
            after=receipt,
            actor=actor,
            action="upload",
        )

    def receipt(self, firm_id: str, work_order_id: str, document_id: str) -> ReceiptDocument | None:
        item = self._table.get(_wo_pk(firm_id, work_order_id), f"RECEIPT#{document_id}")
        return loads(ReceiptDocument, item["data"]) if item else None

    # ------------------------------------------------------------------ billing transactions

    def _bt_item(self, bt: BillingTransaction) -> Item:
        firm = bt.firm_id
        if bt.invoice_id is not None:
            gsi1 = (_invoice_bts_pk(firm, bt.invoice_id), bt.bt_id)
        elif in_pool(bt):
            gsi1 = (_pool_pk(firm, bt.contractor), f"{bt.work_date.isoformat()}#{bt.bt_id}")
        else:
            gsi1 = (None, None)  # type: ignore[assignment]
        gsi2 = (f"{_c(firm)}#CASEBT#{bt.matter_id}", bt.bt_id) if bt.matter_id else (None, None)
        return self._record_item(
            _wo_pk(firm, bt.work_order_id),
            f"BT#{bt.bt_id}",
            "ctr_bt",
            firm,
            bt,
            status=bt.status.value,
            invoice_id=bt.invoice_id,
            GSI1PK=gsi1[0],
            GSI1SK=gsi1[1],
            GSI2PK=gsi2[0],
            GSI2SK=gsi2[1],
        )

    def bt(self, firm_id: str, work_order_id: str, bt_id: str) -> BillingTransaction | None:
        found: BillingTransaction | None = self._load(
            BillingTransaction, self._table.get(_wo_pk(firm_id, work_order_id), f"BT#{bt_id}")
        )
        return found

    def pool(self, firm_id: str, who: ContractorRef) -> list[BillingTransaction]:
        """A contractor's non-invoiced BTs: one Query (pages followed)."""
        return [
            self._load(BillingTransaction, item)
            for item in self._query_all(_pool_pk(firm_id, who), index="GSI1")
        ]

    def bts_of_invoice_raw(self, firm_id: str, invoice_id: str) -> list[BillingTransaction]:
        return [
            self._load(BillingTransaction, item)
            for item in self._query_all(_invoice_bts_pk(firm_id, invoice_id), index="GSI1")
        ]

    def bts_of_case(self, firm_id: str, matter_id: str) -> list[BillingTransaction]:
        return [
            self._load(BillingTransaction, item)
            for item in self._query_all(f"{_c(firm_id)}#CASEBT#{matter_id}", index="GSI2")
        ]

    def _bt_operations(
        self, bt: BillingTransaction, actor: str, action: str, before: BillingTransaction | None
    ) -> list[Operation]:
        new_version = bt.version + 1
        condition = ItemAbsent() if bt.version == 0 else AttributeEquals("version", bt.version)
        audit = self._writer.audit_item(
            bt.firm_id,
            "contractor_bt",
            bt.bt_id,
            new_version,
            action,
            actor,
            _bt_snapshot(before) if before else None,
            _bt_snapshot(bt),
        )
        return [Put({**self._bt_item(bt), "version": new_version}, condition), Put(audit, ItemAbsent())]

    def save_bt(
        self,
        bt: BillingTransaction,
        actor: str,
        action: str,
        *,
        before: BillingTransaction | None = None,
        service_record: ServiceRecord | None = None,
        removed_service_record: tuple[str, str] | None = None,
    ) -> BillingTransaction:
        """Save a BT (not on an invoice: those move with their invoice) with its service record."""
        operations = self.bt_change_operations(
            bt, actor, action, before=before, service_record=service_record, removed=removed_service_record
        )
        try:
            self._table.transact(operations)
        except TransactionCancelled as cancelled:
            if bt.version == 0:
                raise Duplicate(f"billing transaction {bt.bt_id} already exists") from cancelled
            raise StaleVersion("billing transaction", bt.bt_id) from cancelled
        return replace(bt, version=bt.version + 1)

    def bt_change_operations(
        self,
        bt: BillingTransaction,
        actor: str,
        action: str,
        *,
        before: BillingTransaction | None,
        service_record: ServiceRecord | None,
        removed: tuple[str, str] | None,
    ) -> list[Operation]:
        """A BT's write, its audit record and its service record, for a caller's transaction."""
        operations = self._bt_operations(bt, actor, action, before)
        return operations + self._service_record_operations(bt.firm_id, service_record, removed)

    def delete_bt(
        self, bt: BillingTransaction, actor: str, removed_service_record: tuple[str, str] | None
    ) -> None:
        audit = self._writer.audit_item(
            bt.firm_id, "contractor_bt", bt.bt_id, bt.version + 1, "delete", actor, _bt_snapshot(bt), None
        )
        operations: list[Operation] = [
            Delete(
                _wo_pk(bt.firm_id, bt.work_order_id), f"BT#{bt.bt_id}", AttributeEquals("version", bt.version)
            ),
            Put(audit, ItemAbsent()),
        ]
        operations += self._service_record_operations(bt.firm_id, None, removed_service_record)
        try:
            self._table.transact(operations)
        except TransactionCancelled as cancelled:
            raise StaleVersion("billing transaction", bt.bt_id) from cancelled

    def _service_record_operations(
        self, firm_id: str, record: ServiceRecord | None, removed: tuple[str, str] | None
    ) -> list[Operation]:
        operations: list[Operation] = []
        if removed is not None and (record is None or record.matter_id != removed[0]):
            operations.append(Delete(_case_pk(firm_id, removed[0]), f"SR#{removed[1]}"))
        if record is not None:
            operations.append(
                Put(
                    self._record_item(
                        _case_pk(firm_id, record.matter_id),
                        f"SR#{record.service_record_id}",
                        "ctr_service_record",
                        firm_id,
                        record,
                    )
                )
            )
        return operations

    # ------------------------------------------------------------------ invoices

    def _invoice_item(self, invoice: Invoice) -> Item:
        created = dt_out(invoice.created_at) or ""
        firm = invoice.firm_id
        return self._record_item(
            _inv_pk(firm, invoice.invoice_id),
            "INV",
            "ctr_invoice",
            firm,
            invoice,
            status=invoice.status.value,
            GSI1PK=f"{_c(firm)}#INVOF#{invoice.contractor.key}",
            GSI1SK=f"{invoice.status.value}#{created}#{invoice.invoice_id}",
            GSI2PK=f"{_c(firm)}#INVSTATUS#{invoice.status.value}",
            GSI2SK=f"{created}#{invoice.invoice_id}",
        )

    def invoice(self, firm_id: str, invoice_id: str) -> Invoice | None:
        """The invoice as committed, after completing any BT sync a crash left behind."""
        item = self._table.get(_inv_pk(firm_id, invoice_id), "INV")
        if item is None:
            return None
        if "sync" in item:
            item = self.complete_sync(item)
            if item is None:
                return None
        if item.get("status") == DELETED:
            return None
        found: Invoice = self._load(Invoice, item)
        return found

    def invoice_with_bts(
        self, firm_id: str, invoice_id: str
    ) -> tuple[Invoice | None, list[BillingTransaction]]:
        """The invoice and its BTs (one Get, one Query), consistent with each other."""
        invoice = self.invoice(firm_id, invoice_id)
        if invoice is None:
            return None, []
        return invoice, self.bts_of_invoice_raw(firm_id, invoice_id)

    def invoices_by_status(
        self, firm_id: str, status: InvoiceStatus, cursor: str | None, limit: int
    ) -> Page[Invoice]:
        """The staff queue: one Query on GSI2."""
        pk = f"{_c(firm_id)}#INVSTATUS#{status.value}"
        page = self._table.query(
            pk, index="GSI2", limit=limit, forward=False, start_after=_cursor(cursor, "GSI2PK", pk)
        )
        return Page([self._load(Invoice, item) for item in page.items], encode_cursor(page.last_key))

    def invoices_of(
        self, firm_id: str, who: ContractorRef, status: InvoiceStatus | None, cursor: str | None, limit: int
    ) -> Page[Invoice]:
        """One contractor's invoices, optionally of one status: one Query on GSI1."""
        pk = f"{_c(firm_id)}#INVOF#{who.key}"
        page = self._table.query(
            pk,
            KeyRange(prefix=f"{status.value}#") if status else None,
            index="GSI1",
            limit=limit,
            forward=False,
            start_after=_cursor(cursor, "GSI1PK", pk),
        )
        return Page([self._load(Invoice, item) for item in page.items], encode_cursor(page.last_key))

    def all_invoices_of(self, firm_id: str, who: ContractorRef) -> list[Invoice]:
        items = self._query_all(f"{_c(firm_id)}#INVOF#{who.key}", index="GSI1")
        return [self._load(Invoice, item) for item in items]

    def commit_invoice(
        self,
        *,
        before: Invoice | None,
        after: Invoice | None,
        bts: Sequence[BillingTransaction],
        actor: str,
        action: str,
        allocations: Sequence[AllocationChange] = (),
        extra: Sequence[Operation] = (),
        known: Sequence[BillingTransaction] | None = None,
        fail_after_batches: int | None = None,
    ) -> Invoice | None:
        """Decide a transition with one conditional write, then bring the BTs in line (see the module
        docstring). ``before`` None creates; ``after`` None deletes. ``bts`` are the BTs the transition
        changed, as they should end up; ``known`` the same BTs as the caller read them (saves reading
        them again; a stale one is re-read). ``fail_after_batches`` simulates a crash, for tests."""
        subject = after or before
        assert subject is not None
        firm_id = subject.firm_id
        version = before.version if before else 0
        new_version = version + 1
        if after is not None:
            item = {**self._invoice_item(replace(after, version=new_version)), "version": new_version}
        else:
            assert before is not None
            item = {
                "PK": _inv_pk(firm_id, before.invoice_id),
                "SK": "INV",
                "type": "ctr_invoice",
                "firm_id": firm_id,
                "status": DELETED,
                "data": dumps(before),
                "version": new_version,
            }
        if bts:
            item["sync"] = _encode_sync(bts)
            item["sync_version"] = new_version
        condition = (
            ItemAbsent()
            if before is None
            else AllOf((AttributeEquals("version", version), AttributeEquals("status", before.status.value)))
        )
        operations: list[Operation] = [
            Put(item, condition),
            Put(
                self._writer.audit_item(
                    firm_id,
                    "contractor_invoice",
                    subject.invoice_id,
                    new_version,
                    action,
                    actor,
                    _invoice_snapshot(before),
                    _invoice_snapshot(after),
                ),
                ItemAbsent(),
            ),
        ]
        for change in allocations:
            operations += self.allocation_operations(change, actor)
        operations += extra
        try:
            self._table.transact(operations)
        except TransactionCancelled as cancelled:
            if before is None:
                raise Duplicate(f"invoice {subject.invoice_id} already exists") from cancelled
            if 0 in cancelled.failed:
                raise StaleVersion("invoice", subject.invoice_id) from cancelled
            raise Conflict(
                "a case allocation changed while this invoice was being decided; reload and try again"
            ) from cancelled
        completed = self.complete_sync(item, known=known, fail_after_batches=fail_after_batches)
        if completed is None or completed.get("status") == DELETED:
            return None
        result: Invoice = self._load(Invoice, completed)
        return result

    def complete_sync(
        self,
        item: Item,
        *,
        known: Sequence[BillingTransaction] | None = None,
        fail_after_batches: int | None = None,
    ) -> Item | None:
        """Apply the BT changes an invoice write recorded, batch by batch; idempotent. Returns the
        invoice item as it stands afterwards (None once a deleted invoice is gone)."""
        if "sync" not in item:
            return item
        firm_id = item["firm_id"]
        invoice_id = item["PK"].rsplit("#", 1)[-1]
        version = int_in(item["version"])
        targets = _decode_sync(item["sync"])
        if known is not None and {t["bt_id"] for t in targets} <= {bt.bt_id for bt in known}:
            current = {bt.bt_id: bt for bt in known}
        else:
            current = self._current_bts(firm_id, invoice_id, targets)
        actor = "system:invoice-sync"
        pending: list[tuple[BillingTransaction, BillingTransaction]] = []
        dropped: list[str] = []
        for target in targets:
            bt = current.get(target["bt_id"])
            if bt is None:
                dropped.append(target["bt_id"])
                continue
            if target["invoice_id"] == invoice_id and bt.invoice_id not in (None, invoice_id):
                dropped.append(target["bt_id"])  # taken by another invoice meanwhile
                continue
            wanted = replace(
                bt,
                status=BtStatus(target["status"]),
                invoice_id=target["invoice_id"],
                review_note=target["review_note"],
            )
            if wanted != bt:
                pending.append((bt, wanted))
        for number, start in enumerate(range(0, len(pending), BT_BATCH)):
            if fail_after_batches is not None and number >= fail_after_batches:
                raise RuntimeError("simulated crash in the middle of an invoice's BT sync")
            batch = pending[start : start + BT_BATCH]
            operations: list[Operation] = []
            for old, new in batch:
                operations += self._bt_operations(new, actor, f"invoice:{item.get('status')}", old)
            try:
                self._table.transact(operations)
            except TransactionCancelled:
                # Someone else (another reader completing the same sync) got there first: redo it
                # one BT at a time from fresh reads; what is already right is skipped.
                for _old, new in batch:
                    self._apply_one(firm_id, new, actor, str(item.get("status")))
        return self._finish_sync(item, version, dropped)

    def _apply_one(self, firm_id: str, wanted: BillingTransaction, actor: str, status: str) -> None:
        for _attempt in range(3):
            fresh = self.bt(firm_id, wanted.work_order_id, wanted.bt_id)
            if fresh is None:
                return
            target = replace(
                fresh, status=wanted.status, invoice_id=wanted.invoice_id, review_note=wanted.review_note
            )
            if target == fresh:
                return
            try:
                self._table.transact(self._bt_operations(target, actor, f"invoice:{status}", fresh))
                return
            except TransactionCancelled:
                continue
        raise StaleVersion("billing transaction", wanted.bt_id)

    def _finish_sync(self, item: Item, version: int, dropped: list[str]) -> Item | None:
        pk, firm_id = item["PK"], item["firm_id"]
        if item.get("status") == DELETED:
            with contextlib.suppress(ConditionFailed):
                self._table.delete(pk, "INV", AttributeEquals("version", version))
            return None
        finished = {k: v for k, v in item.items() if k not in ("sync", "sync_version")}
        if dropped:
            # Transactions lost to a race leave this invoice: its totals follow what it still holds.
            invoice: Invoice = self._load(Invoice, item)
            remaining = self.bts_of_invoice_raw(firm_id, invoice.invoice_id)
            totals = invoice_totals(remaining)
            changed = replace(
                invoice, total=totals.total, bt_count=totals.count, totals_by_category=totals.by_category
            )
            finished = {**self._invoice_item(changed), "version": version + 1}
            audit = self._writer.audit_item(
                firm_id,
                "contractor_invoice",
                invoice.invoice_id,
                version + 1,
                "bts_dropped",
                "system:invoice-sync",
                {"bt_ids": dropped},
                _invoice_snapshot(changed),
            )
            # Another reader finishing the same sync got there first: its result is the same.
            with contextlib.suppress(TransactionCancelled):
                self._table.transact(
                    [
                        Put(finished, AllOf((AttributeEquals("version", version),))),
                        Put(audit, ItemAbsent()),
                    ]
                )
            return finished
        # Another reader finishing the same sync got there first: its result is the same.
        with contextlib.suppress(ConditionFailed):
            self._table.put(
                finished,
                AllOf((AttributeEquals("version", version), AttributeEquals("sync_version", version))),
            )
        return finished

    def _current_bts(
        self, firm_id: str, invoice_id: str, targets: list[dict[str, Any]]
    ) -> dict[str, BillingTransaction]:
        """The BTs a sync touches, read with as few Queries as possible: those on the invoice, plus the
        pools of the contractors whose BTs are being taken onto it."""
        found = {bt.bt_id: bt for bt in self.bts_of_invoice_raw(firm_id, invoice_id)}
        wanted = {t["bt_id"] for t in targets}
        owners = {t["contractor"] for t in targets if t["bt_id"] not in found}
        for owner in owners:
            for bt in self.pool(firm_id, _ref_from_key(owner)):
                if bt.bt_id in wanted:
                    found.setdefault(bt.bt_id, bt)
        # Anything still missing (an index lagging behind the table): read it directly.
        for target in targets:
            if target["bt_id"] not in found:
                direct = self.bt(firm_id, target["work_order_id"], target["bt_id"])
                if direct is not None:
                    found[direct.bt_id] = direct
        return found


def _encode_sync(bts: Iterable[BillingTransaction]) -> str:
    """The BT changes of a transition, grouped so 2,000 BTs stay a few dozen KB on the invoice item."""
    groups: dict[tuple[str, str | None, str, str], list[list[str]]] = {}
    for bt in bts:
        key = (bt.status.value, bt.invoice_id, bt.review_note, bt.contractor.key)
        groups.setdefault(key, []).append([bt.work_order_id, bt.bt_id])
    return json.dumps(
        [
            {"status": s, "invoice_id": i, "review_note": n, "contractor": c, "bts": ids}
            for (s, i, n, c), ids in groups.items()
        ],
        separators=(",", ":"),
    )


def _decode_sync(text: str) -> list[dict[str, Any]]:
    return [
        {
            "status": group["status"],
            "invoice_id": group["invoice_id"],
            "review_note": group["review_note"],
            "contractor": group["contractor"],
            "work_order_id": work_order_id,
            "bt_id": bt_id,
        }
        for group in json.loads(text)
        for work_order_id, bt_id in group["bts"]
    ]


def _bt_snapshot(bt: BillingTransaction) -> dict[str, Any]:
    plain: dict[str, Any] = to_plain(bt)
    return plain


def _invoice_snapshot(invoice: Invoice | None) -> dict[str, Any] | None:
    if invoice is None:
        return None
    plain: dict[str, Any] = to_plain(invoice)
    return plain


def from_item(kind: type, item: Item) -> Any:
    """A stored record (tests and tools read items with it)."""
    return from_plain(kind, json.loads(item["data"]))
