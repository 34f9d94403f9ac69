"""The ten contractor permissions of the seed, who holds them, and what a contractor may see and do.

| permission | governs |
| --- | --- |
| invoice verify | per-BT verify/dispute/deny, verify or dispute an invoice |
| invoice approve | approve an invoice for payment, and un-approve it |
| invoice schedule | schedule an approved invoice on a pay period (and offer the pay period select at all) |
| invoice pay | mark an invoice paid |
| invoice create/edit | the blanket permission: without it a user can do nothing with invoices |
| work order create/edit | the blanket permission: without it a user can do nothing with work orders |
| work order service request edit | edit a PSR on a work order |
| delete billing transaction | delete a BT from a work order |
| delete product or service request | delete a PSR from a work order |
| admin functionality | the contractor admin section: lookups, settings, catalog, templates, fee structures |

Rules on top of the permissions:

- The blanket permission comes first: every invoice action needs invoice create/edit, every work order
  action needs work order create/edit, plus the specific permission of the action.
- A contractor (a user with the contractor role) sees and acts on only their own work orders, BTs and
  invoices; anything else looks as if it did not exist (``NotFound``).
- Nobody verifies, approves, schedules or pays their own invoice, whatever their role says (separation of
  duties: the seed's contractor "shouldn't be able to verify or approve an invoice").

Firms may change which roles hold which permission (``RolePermissions``); ``DEFAULT_ROLE_PERMISSIONS`` is
what a firm starts with. API tokens hold no contractor permissions.

Public API:

- ``ContractorPermission``, ``RolePermissions``, ``DEFAULT_ROLE_PERMISSIONS``.
- ``ContractorActor``; ``actor_for(principal, role_permissions=DEFAULT_ROLE_PERMISSIONS) -> ContractorActor``.
- ``InvoiceAction``, ``INVOICE_ACTION_PERMISSIONS``, ``STAFF_ONLY_INVOICE_ACTIONS``.
- ``WorkOrderAction``, ``WORK_ORDER_ACTION_PERMISSIONS``.
- ``require_invoice_action(actor, owner, action)``, ``require_work_order_action(actor, assignee, action)``,
  ``require_admin(actor)``, ``can_see(actor, owner) -> bool``,
  ``visible(actor, records, owner_of) -> list``, ``pay_period_select_shown(actor) -> bool``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

from chalicelib.domain.contractors.contractors import ContractorKind, ContractorRef
from chalicelib.domain.errors import Forbidden, NotFound
from chalicelib.domain.identity import Principal, Role


class ContractorPermission(StrEnum):
    INVOICE_VERIFY = "contractor:invoice-verify"
    INVOICE_APPROVE = "contractor:invoice-approve"
    INVOICE_SCHEDULE = "contractor:invoice-schedule"
    INVOICE_PAY = "contractor:invoice-pay"
    INVOICE_CREATE_EDIT = "contractor:invoice-create-edit"
    WORK_ORDER_CREATE_EDIT = "contractor:work-order-create-edit"
    PSR_EDIT = "contractor:work-order-service-request-edit"
    DELETE_BT = "contractor:delete-billing-transaction"
    DELETE_PSR = "contractor:delete-product-or-service-request"
    ADMIN = "contractor:admin"


PERMISSION_LABELS: dict[ContractorPermission, str] = {
    ContractorPermission.INVOICE_VERIFY: "Contractor Invoice Verify",
    ContractorPermission.INVOICE_APPROVE: "Contractor Invoice Approve",
    ContractorPermission.INVOICE_SCHEDULE: "Contractor Invoice Schedule",
    ContractorPermission.INVOICE_PAY: "Contractor Invoice Pay",
    ContractorPermission.INVOICE_CREATE_EDIT: "Contractor Invoice Create/Edit",
    ContractorPermission.WORK_ORDER_CREATE_EDIT: "Contractor Work Order Create/Edit",
    ContractorPermission.PSR_EDIT: "Contractor Work Order Service Request Edit",
    ContractorPermission.DELETE_BT: "Contractor Delete Billing Transaction",
    ContractorPermission.DELETE_PSR: "Contractor Delete Product or Service Request",
    ContractorPermission.ADMIN: "Contractor Admin Functionality",
}

RolePermissions = Mapping[Role, frozenset[ContractorPermission]]

_ALL = frozenset(ContractorPermission)
DEFAULT_ROLE_PERMISSIONS: RolePermissions = {
    Role.FIRM_ADMIN: _ALL,
    Role.CONTRACTOR_STAFF: _ALL - {ContractorPermission.ADMIN},
    # A contractor works their own work orders and invoices; verifying and paying is the agency's.
    Role.CONTRACTOR: frozenset(
        {
            ContractorPermission.INVOICE_CREATE_EDIT,
            ContractorPermission.WORK_ORDER_CREATE_EDIT,
            ContractorPermission.DELETE_BT,
        }
    ),
}


@dataclass(frozen=True)
class ContractorActor:
    """Who acts in the contractor module: their permissions and, for a contractor, who they are."""

    actor: str
    permissions: frozenset[ContractorPermission]
    # Set for contractor users: they see and act on only what is theirs.
    own: ContractorRef | None = None

    @property
    def is_contractor(self) -> bool:
        return self.own is not None

    def has(self, permission: ContractorPermission) -> bool:
        return permission in self.permissions


def actor_for(
    principal: Principal, role_permissions: RolePermissions = DEFAULT_ROLE_PERMISSIONS
) -> ContractorActor:
    """The contractor-module view of a verified caller."""
    if principal.kind != "user":
        return ContractorActor(principal.actor, frozenset())
    granted: set[ContractorPermission] = set()
    for role in principal.roles:
        granted |= role_permissions.get(role, frozenset())
    own = (
        ContractorRef(ContractorKind.USER, principal.subject_id)
        if Role.CONTRACTOR in principal.roles
        else None
    )
    return ContractorActor(principal.actor, frozenset(granted), own)


class InvoiceAction(StrEnum):
    CREATE = "create"
    VIEW = "view"
    ADD_BTS = "add_bts"
    REMOVE_BTS = "remove_bts"
    EDIT_DETAILS = "edit_details"
    ADD_NOTE = "add_note"
    DELETE = "delete"
    SUBMIT = "submit"
    RETURN_TO_DRAFT = "return_to_draft"
    VERIFY_BTS = "verify_bts"
    DISPUTE_BTS = "dispute_bts"
    DENY_BTS = "deny_bts"
    VERIFY = "verify"
    DISPUTE = "dispute"
    RESUBMIT = "resubmit"
    APPROVE = "approve"
    UNAPPROVE = "unapprove"
    SCHEDULE = "schedule"
    PAY = "pay"


_BLANKET_INVOICE = ContractorPermission.INVOICE_CREATE_EDIT
INVOICE_ACTION_PERMISSIONS: dict[InvoiceAction, frozenset[ContractorPermission]] = {
    **{
        action: frozenset({_BLANKET_INVOICE})
        for action in (
            InvoiceAction.CREATE,
            InvoiceAction.VIEW,
            InvoiceAction.ADD_BTS,
            InvoiceAction.REMOVE_BTS,
            InvoiceAction.EDIT_DETAILS,
            InvoiceAction.ADD_NOTE,
            InvoiceAction.DELETE,
            InvoiceAction.SUBMIT,
            InvoiceAction.RETURN_TO_DRAFT,
            InvoiceAction.RESUBMIT,
        )
    },
    **{
        action: frozenset({_BLANKET_INVOICE, ContractorPermission.INVOICE_VERIFY})
        for action in (
            InvoiceAction.VERIFY_BTS,
            InvoiceAction.DISPUTE_BTS,
            InvoiceAction.DENY_BTS,
            InvoiceAction.VERIFY,
            InvoiceAction.DISPUTE,
        )
    },
    InvoiceAction.APPROVE: frozenset({_BLANKET_INVOICE, ContractorPermission.INVOICE_APPROVE}),
    InvoiceAction.UNAPPROVE: frozenset({_BLANKET_INVOICE, ContractorPermission.INVOICE_APPROVE}),
    InvoiceAction.SCHEDULE: frozenset({_BLANKET_INVOICE, ContractorPermission.INVOICE_SCHEDULE}),
    InvoiceAction.PAY: frozenset({_BLANKET_INVOICE, ContractorPermission.INVOICE_PAY}),
}

# The agency's side of the workflow: never done by the contractor the invoice pays.
STAFF_ONLY_INVOICE_ACTIONS = frozenset(
    {
        InvoiceAction.VERIFY_BTS,
        InvoiceAction.DISPUTE_BTS,
        InvoiceAction.DENY_BTS,
        InvoiceAction.VERIFY,
        InvoiceAction.DISPUTE,
        InvoiceAction.APPROVE,
        InvoiceAction.UNAPPROVE,
        InvoiceAction.SCHEDULE,
        InvoiceAction.PAY,
    }
)


class WorkOrderAction(StrEnum):
    CREATE = "create"
    VIEW = "view"
    EDIT = "edit"
    COMPLETE = "complete"
    REOPEN = "reopen"
    ADD_PSR = "add_psr"
    EDIT_PSR = "edit_psr"
    DELETE_PSR = "delete_psr"
    LOG_BT = "log_bt"
    EDIT_BT = "edit_bt"
    DELETE_BT = "delete_bt"
    BULK_COMPLETE = "bulk_complete"


_BLANKET_WORK_ORDER = ContractorPermission.WORK_ORDER_CREATE_EDIT
WORK_ORDER_ACTION_PERMISSIONS: dict[WorkOrderAction, frozenset[ContractorPermission]] = {
    **{action: frozenset({_BLANKET_WORK_ORDER}) for action in WorkOrderAction},
    WorkOrderAction.EDIT_PSR: frozenset({_BLANKET_WORK_ORDER, ContractorPermission.PSR_EDIT}),
    WorkOrderAction.DELETE_PSR: frozenset({_BLANKET_WORK_ORDER, ContractorPermission.DELETE_PSR}),
    WorkOrderAction.DELETE_BT: frozenset({_BLANKET_WORK_ORDER, ContractorPermission.DELETE_BT}),
}


def can_see(actor: ContractorActor, owner: ContractorRef) -> bool:
    """A contractor sees only what is theirs; staff see every contractor's."""
    return actor.own is None or actor.own == owner


R = TypeVar("R")


def visible(actor: ContractorActor, records: Iterable[R], owner_of: Callable[[R], ContractorRef]) -> list[R]:
    """The records (work orders, BTs, invoices) the actor may see."""
    return [record for record in records if can_see(actor, owner_of(record))]


def require_invoice_action(actor: ContractorActor, owner: ContractorRef, action: InvoiceAction) -> None:
    """Raise unless the actor may take ``action`` on an invoice of ``owner``: ``NotFound`` for another
    contractor's invoice, ``Forbidden`` for a missing permission or one's own invoice on the staff side."""
    if not can_see(actor, owner):
        raise NotFound("no such invoice")
    _require_all(actor, INVOICE_ACTION_PERMISSIONS[action], f"invoice: {action.value.replace('_', ' ')}")
    if action in STAFF_ONLY_INVOICE_ACTIONS and actor.own == owner:
        raise Forbidden(
            f"you cannot {action.value.replace('_', ' ')} your own invoice; someone at the agency must do it"
        )


def require_work_order_action(
    actor: ContractorActor, assignee: ContractorRef, action: WorkOrderAction
) -> None:
    """Raise unless the actor may take ``action`` on a work order assigned to ``assignee``."""
    if not can_see(actor, assignee):
        raise NotFound("no such work order")
    _require_all(
        actor, WORK_ORDER_ACTION_PERMISSIONS[action], f"work order: {action.value.replace('_', ' ')}"
    )


def require_admin(actor: ContractorActor) -> None:
    """The contractor admin section: lookups, settings, catalog, templates, fee structures, allocations."""
    _require_all(actor, frozenset({ContractorPermission.ADMIN}), "the contractor admin section")


def pay_period_select_shown(actor: ContractorActor) -> bool:
    """Without the schedule permission, the pay period select is left off an approved invoice."""
    return actor.has(ContractorPermission.INVOICE_SCHEDULE)


def _require_all(actor: ContractorActor, needed: frozenset[ContractorPermission], what: str) -> None:
    # The blanket permission is reported first: without it nothing else matters.
    for permission in sorted(needed, key=lambda p: p not in (_BLANKET_INVOICE, _BLANKET_WORK_ORDER)):
        if not actor.has(permission):
            raise Forbidden(
                f"{what} needs the '{PERMISSION_LABELS[permission]}' permission, which your role does not "
                "have; ask a contractor admin"
            )
