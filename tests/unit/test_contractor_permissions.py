"""The ten contractor permissions: the blanket invoice and work order permissions first, the specific ones on
top, per role as the firm configures them; a contractor sees and touches only what is theirs."""

from __future__ import annotations

import pytest

from chalicelib.domain.contractors.contractors import ContractorKind, ContractorRef
from chalicelib.domain.contractors.permissions import (
    DEFAULT_ROLE_PERMISSIONS,
    INVOICE_ACTION_PERMISSIONS,
    PERMISSION_LABELS,
    WORK_ORDER_ACTION_PERMISSIONS,
    ContractorActor,
    ContractorPermission,
    InvoiceAction,
    WorkOrderAction,
    actor_for,
    can_see,
    pay_period_select_shown,
    require_admin,
    require_invoice_action,
    require_work_order_action,
    visible,
)
from chalicelib.domain.contractors.work_orders import WorkOrder
from chalicelib.domain.errors import Forbidden, NotFound
from chalicelib.domain.identity import Permission, Principal, Role
from tests.support.contractors import ALICE, ALICE_ACTOR, BOB, FIRM, STAFF

P = ContractorPermission


def test_there_are_the_ten_permissions_of_the_seed() -> None:
    assert len(ContractorPermission) == 10
    assert sorted(PERMISSION_LABELS.values()) == sorted(
        [
            "Contractor Invoice Verify",
            "Contractor Invoice Approve",
            "Contractor Invoice Schedule",
            "Contractor Invoice Pay",
            "Contractor Invoice Create/Edit",
            "Contractor Work Order Create/Edit",
            "Contractor Work Order Service Request Edit",
            "Contractor Delete Billing Transaction",
            "Contractor Delete Product or Service Request",
            "Contractor Admin Functionality",
        ]
    )


def test_every_invoice_action_needs_the_blanket_permission_and_staff_actions_their_own_too() -> None:
    assert all(P.INVOICE_CREATE_EDIT in needed for needed in INVOICE_ACTION_PERMISSIONS.values())
    assert INVOICE_ACTION_PERMISSIONS[InvoiceAction.VERIFY] == {P.INVOICE_CREATE_EDIT, P.INVOICE_VERIFY}
    assert INVOICE_ACTION_PERMISSIONS[InvoiceAction.UNAPPROVE] == {P.INVOICE_CREATE_EDIT, P.INVOICE_APPROVE}
    assert INVOICE_ACTION_PERMISSIONS[InvoiceAction.SCHEDULE] == {P.INVOICE_CREATE_EDIT, P.INVOICE_SCHEDULE}
    assert INVOICE_ACTION_PERMISSIONS[InvoiceAction.PAY] == {P.INVOICE_CREATE_EDIT, P.INVOICE_PAY}
    assert set(INVOICE_ACTION_PERMISSIONS) == set(InvoiceAction)


def test_every_work_order_action_needs_the_blanket_permission_and_psr_and_bt_deletions_their_own() -> None:
    assert all(P.WORK_ORDER_CREATE_EDIT in needed for needed in WORK_ORDER_ACTION_PERMISSIONS.values())
    assert WORK_ORDER_ACTION_PERMISSIONS[WorkOrderAction.EDIT_PSR] == {P.WORK_ORDER_CREATE_EDIT, P.PSR_EDIT}
    assert WORK_ORDER_ACTION_PERMISSIONS[WorkOrderAction.DELETE_PSR] == {
        P.WORK_ORDER_CREATE_EDIT,
        P.DELETE_PSR,
    }
    assert WORK_ORDER_ACTION_PERMISSIONS[WorkOrderAction.DELETE_BT] == {P.WORK_ORDER_CREATE_EDIT, P.DELETE_BT}
    assert set(WORK_ORDER_ACTION_PERMISSIONS) == set(WorkOrderAction)


def test_without_the_blanket_permission_the_refusal_names_it_first() -> None:
    verifier_only = ContractorActor("user:s-v", frozenset({P.INVOICE_VERIFY}))
    with pytest.raises(Forbidden, match="Contractor Invoice Create/Edit"):
        require_invoice_action(verifier_only, ALICE.ref, InvoiceAction.VERIFY)


@pytest.mark.parametrize("action", list(WorkOrderAction))
@pytest.mark.parametrize("granted", [True, False])
def test_each_work_order_action_is_allowed_exactly_with_its_permissions(
    action: WorkOrderAction, granted: bool
) -> None:
    needed = WORK_ORDER_ACTION_PERMISSIONS[action]
    for missing in sorted(needed):
        actor = ContractorActor("user:s-x", needed if granted else frozenset(P) - {missing})
        if granted:
            require_work_order_action(actor, ALICE.ref, action)
        else:
            with pytest.raises(Forbidden):
                require_work_order_action(actor, ALICE.ref, action)


def test_a_contractor_works_only_on_their_own_work_orders() -> None:
    require_work_order_action(ALICE_ACTOR, ALICE.ref, WorkOrderAction.LOG_BT)
    with pytest.raises(NotFound):
        require_work_order_action(ALICE_ACTOR, BOB.ref, WorkOrderAction.VIEW)
    with pytest.raises(Forbidden, match="Service Request Edit"):
        require_work_order_action(ALICE_ACTOR, ALICE.ref, WorkOrderAction.EDIT_PSR)


def test_a_contractor_sees_only_their_own_work_orders_bts_and_invoices_staff_see_all() -> None:
    orders = [WorkOrder(FIRM, "a", ALICE.ref, "x"), WorkOrder(FIRM, "b", BOB.ref, "y")]
    assert [o.work_order_id for o in visible(ALICE_ACTOR, orders, lambda o: o.assignee)] == ["a"]
    assert [o.work_order_id for o in visible(STAFF, orders, lambda o: o.assignee)] == ["a", "b"]
    assert can_see(STAFF, BOB.ref) and not can_see(ALICE_ACTOR, BOB.ref)


def test_the_admin_section_needs_the_admin_permission() -> None:
    with pytest.raises(Forbidden, match="Admin Functionality"):
        require_admin(STAFF)
    require_admin(ContractorActor("user:root", frozenset({P.ADMIN})))


def test_the_pay_period_select_is_shown_only_to_those_who_may_schedule() -> None:
    assert pay_period_select_shown(STAFF) and not pay_period_select_shown(ALICE_ACTOR)


def user(*roles: Role, subject: str = "u-alice") -> Principal:
    return Principal(FIRM, subject, "user", roles=frozenset(roles))


def test_roles_grant_the_default_contractor_permissions() -> None:
    assert actor_for(user(Role.FIRM_ADMIN)).permissions == frozenset(P)
    assert P.ADMIN not in actor_for(user(Role.CONTRACTOR_STAFF)).permissions
    contractor = actor_for(user(Role.CONTRACTOR))
    assert contractor.permissions == {P.INVOICE_CREATE_EDIT, P.WORK_ORDER_CREATE_EDIT, P.DELETE_BT}
    assert contractor.own == ContractorRef(ContractorKind.USER, "u-alice") and contractor.is_contractor
    assert actor_for(user(Role.ATTORNEY)).permissions == frozenset()


def test_a_firm_can_change_what_a_role_grants() -> None:
    custom = {
        **DEFAULT_ROLE_PERMISSIONS,
        Role.BILLING_MANAGER: frozenset({P.INVOICE_CREATE_EDIT, P.INVOICE_PAY}),
    }
    manager = actor_for(user(Role.BILLING_MANAGER, subject="s-bm"), custom)
    require_invoice_action(manager, ALICE.ref, InvoiceAction.PAY)
    with pytest.raises(Forbidden):
        require_invoice_action(manager, ALICE.ref, InvoiceAction.APPROVE)


def test_a_user_with_the_contractor_role_is_restricted_to_their_own_even_with_other_roles() -> None:
    both = actor_for(user(Role.CONTRACTOR, Role.CONTRACTOR_STAFF))
    assert both.own is not None
    with pytest.raises(NotFound):
        require_invoice_action(both, BOB.ref, InvoiceAction.VIEW)


def test_api_tokens_hold_no_contractor_permissions() -> None:
    token = Principal(FIRM, "t1", "api_token", scopes=frozenset({Permission.MATTERS_READ}))
    assert actor_for(token).permissions == frozenset() and actor_for(token).actor == "api_token:t1"
