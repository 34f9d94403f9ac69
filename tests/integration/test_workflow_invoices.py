"""The invoice approval workflow on the embedded AWS, driven by the contractor module's domain events
through the Step Functions event sink: notifications, task tokens, the dispute loop, reminders and
escalation, a lost answer found in the decision log, a decision never published read from the invoice's
status, a late-logged decision kept behind the cursor, the approved invoice PDF (read back as
text), and a crashed task retried without a second email."""

from __future__ import annotations

import email
import email.policy
import io
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
from pypdf import PdfReader

from chalicelib.adapters.workflows.contractor_events import StepFunctionsContractorEventSink, execution_name
from chalicelib.adapters.workflows.invoice_waits import TableInvoiceWaits
from chalicelib.adapters.workflows.signals import StepFunctionsSignals
from chalicelib.adapters.workflows.stepfunctions import StepFunctionsWorkflows
from chalicelib.domain.contractors.contractors import Contractor, ContractorKind
from chalicelib.domain.contractors.events import (
    BtDisputed,
    ContractorEvent,
    InvoiceApproved,
    InvoiceDisputed,
    InvoiceEvent,
    InvoiceNoteAdded,
    InvoicePaid,
    InvoiceResubmitted,
    InvoiceScheduled,
    InvoiceSubmitted,
    InvoiceVerified,
)
from chalicelib.domain.contractors.invoices import Invoice
from chalicelib.domain.contractors.lookups import BtStatus, BtType, InvoiceStatus
from chalicelib.domain.contractors.settings import (
    ApprovedInvoicePdfSettings,
    ContractorSettings,
    InvoiceActionNotifications,
)
from chalicelib.domain.contractors.transactions import BillingTransaction
from chalicelib.domain.identity import Role
from chalicelib.services.invoice_approval import InvoiceApprovalService
from tests.integration.workflow_stack import WorkflowStack, workflow_stack
from tests.support.api import seed_firm

SUBMITTED_AT = datetime(2026, 3, 9, 16, 0, tzinfo=UTC)
VERIFIERS = "verifiers@lovelace.law"
ACCOUNTS = "accounts@lovelace.law"
CONTRACTOR_EMAIL = "alice@avery.law"
# Where each transition leaves the invoice: the contractor service commits it, then publishes the event.
STATUS_AFTER: dict[type[ContractorEvent], InvoiceStatus] = {
    InvoiceSubmitted: InvoiceStatus.SUBMITTED,
    InvoiceVerified: InvoiceStatus.VERIFIED,
    InvoiceDisputed: InvoiceStatus.DISPUTED,
    InvoiceResubmitted: InvoiceStatus.SUBMITTED,
    InvoiceApproved: InvoiceStatus.APPROVED,
    InvoiceScheduled: InvoiceStatus.PAYMENT_SCHEDULED,
    InvoicePaid: InvoiceStatus.PAID,
}


class InvoiceBook:
    """The contractor module's records as the workflow reads them (``InvoiceRecords``)."""

    def __init__(self, firm_id: str) -> None:
        self.firm_id = firm_id
        self.alice = Contractor(
            firm_id, "u-alice", ContractorKind.USER, "Alice Avery", CONTRACTOR_EMAIL, "Avery Legal Services"
        )
        self.invoices: dict[str, tuple[Invoice, list[BillingTransaction]]] = {}
        self.committed: list[tuple[InvoiceEvent, InvoiceEvent]] = []
        self.settings_page = ContractorSettings(
            firm_id,
            replace_name_with_dba_on_invoices=True,
            invoice_action_notifications=InvoiceActionNotifications(enabled=True, recipients=(VERIFIERS,)),
            approved_invoice_pdf=ApprovedInvoicePdfSettings(enabled=True, recipients=(ACCOUNTS,)),
        )

    def add(self, invoice_id: str) -> Invoice:
        lines = [
            (
                "bt-1",
                BtType.TIMESLIP,
                "Legal work",
                "Hearing preparation \u2013 \u201cAvery v. Smith\u201d",
                "450.00",
                180,
            ),
            ("bt-2", BtType.PRODUCT_SERVICE, "Language services", "Deposition interpreting", "300.00", None),
            ("bt-3", BtType.EXPENSE_REIMBURSEMENT, "Expenses", "Mileage to the courthouse", "42.50", None),
        ]
        bts = [
            BillingTransaction(
                firm_id=self.firm_id,
                bt_id=bt_id,
                work_order_id="wo-1",
                contractor=self.alice.ref,
                bt_type=bt_type,
                work_date=date(2026, 3, 2 + n),
                amount=Decimal(amount),
                category=category,
                description=description,
                status=BtStatus.VERIFIED,
                minutes=minutes,
                rate=Decimal("150.00") if minutes else None,
                matter_id="m-1",
                invoice_id=invoice_id,
            )
            for n, (bt_id, bt_type, category, description, amount, minutes) in enumerate(lines)
        ]
        invoice = Invoice(
            firm_id=self.firm_id,
            invoice_id=invoice_id,
            contractor=self.alice.ref,
            contractor_name=self.alice.name,
            doing_business_as=self.alice.doing_business_as,
            status=InvoiceStatus.DRAFT,
            invoice_date=date(2026, 3, 9),
            total=sum((bt.amount for bt in bts), Decimal(0)),
            bt_count=len(bts),
            approved_at=datetime(2026, 3, 12, 15, 0, tzinfo=UTC),
        )
        self.invoices[invoice_id] = (invoice, bts)
        return invoice

    def commit(self, event: ContractorEvent) -> ContractorEvent:
        """Write the transition of ``event`` (the next version, and the status it leaves); the event as
        the service publishes it, with the version it committed."""
        if not isinstance(event, InvoiceEvent):
            return event
        for seen, versioned in self.committed:
            if seen == event:  # a replay: the transition was written once
                return versioned
        invoice, bts = self.invoices[event.invoice_id]
        invoice = replace(
            invoice, version=invoice.version + 1, status=STATUS_AFTER.get(type(event), invoice.status)
        )
        self.invoices[event.invoice_id] = (invoice, bts)
        self.committed.append((event, replace(event, invoice_version=invoice.version)))
        return self.committed[-1][1]

    def invoice(self, firm_id: str, invoice_id: str) -> Any:
        return self.invoices.get(invoice_id, (None, []))[0]

    def invoice_with_bts(self, firm_id: str, invoice_id: str) -> tuple[Any, list[Any]]:
        return self.invoices.get(invoice_id, (None, []))

    def settings(self, firm_id: str) -> Any:
        return self.settings_page

    def contractor(self, firm_id: str, who: Any) -> Any:
        return self.alice if who == self.alice.ref else None


class CommittingSink:
    """The contractor service's side of the sink: commit the transition, then publish its events."""

    def __init__(self, book: InvoiceBook, sink: StepFunctionsContractorEventSink) -> None:
        self._book = book
        self._sink = sink

    def publish(self, events: Sequence[ContractorEvent]) -> None:
        self._sink.publish([self._book.commit(event) for event in events])


class LosingFirstSignal:
    """Step Functions signals that lose the first answer: it reports success and is never delivered,
    as when a token times out into a reminder at the moment it is answered."""

    def __init__(self, signals: StepFunctionsSignals) -> None:
        self._signals = signals
        self.lost: list[Mapping[str, Any]] = []

    def succeed(self, token: str, output: Mapping[str, Any]) -> bool:
        if not self.lost:
            self.lost.append(output)
            return True
        return self._signals.succeed(token, output)

    def fail(self, token: str, error: str, cause: str) -> None:
        self._signals.fail(token, error, cause)


@pytest.fixture(scope="module")
def stack(token_mint: Any) -> Iterator[WorkflowStack]:
    with workflow_stack(token_mint, "invoices") as running:
        yield running


@pytest.fixture(scope="module")
def firm(stack: WorkflowStack) -> SimpleNamespace:
    seeded = seed_firm(stack.api.container, "Lovelace & Babbage LLP", "tenant-invoices", "lovelace.law")
    book = InvoiceBook(seeded.firm.firm_id)
    services = stack.api.container
    table = services.table
    waits = TableInvoiceWaits(table, services.clock)
    sfn = stack.aws.client("stepfunctions")
    signals = StepFunctionsSignals(sfn)

    def approval_service(signals: Any) -> InvoiceApprovalService:
        return InvoiceApprovalService(
            records=book,
            waits=waits,
            signals=signals,
            notifications=services.notifications,
            reports=services.reports,
            firms=services.roster._firms,  # type: ignore[attr-defined]
            files=services.exports._files,  # type: ignore[attr-defined]
            clock=services.clock,
            console_url="http://localhost:8001/console",
        )

    services.invoice_approval = approval_service(signals)
    workflows = StepFunctionsWorkflows(sfn, {"invoices": stack.created.ref("InvoicesStateMachine")})

    def sink(reminder_seconds: int = 600, escalate_after: int = 2, signals: Any = signals) -> CommittingSink:
        return CommittingSink(
            book,
            StepFunctionsContractorEventSink(
                workflows,
                waits,
                signals,
                services.work_queue,
                reminder_seconds=reminder_seconds,
                escalate_after_reminders=escalate_after,
            ),
        )

    return SimpleNamespace(
        seeded=seeded,
        book=book,
        waits=waits,
        table=table,
        sink=sink,
        signals=signals,
        approval_service=approval_service,
    )


def facts(firm: SimpleNamespace, invoice_id: str) -> dict[str, Any]:
    invoice = firm.book.invoices[invoice_id][0]
    return {
        "firm_id": firm.book.firm_id,
        "actor": "user:staff",
        "invoice_id": invoice_id,
        "contractor": invoice.contractor,
        "by_contractor": False,
    }


def submitted(firm: SimpleNamespace, invoice_id: str, at: datetime = SUBMITTED_AT) -> InvoiceSubmitted:
    return InvoiceSubmitted(
        **{**facts(firm, invoice_id), "by_contractor": True, "actor": "user:u-alice"},
        at=at,
        total=firm.book.invoices[invoice_id][0].total,
    )


def execution_arn(stack: WorkflowStack, event: InvoiceSubmitted) -> str:
    machine = stack.created.ref("InvoicesStateMachine")
    return machine.replace(":stateMachine:", ":execution:") + f":{execution_name(event)}"


def wait_for_token(firm: SimpleNamespace, invoice_id: str, event: InvoiceSubmitted, step: str) -> None:
    """Poll until the execution waits on ``step`` (its task token is stored)."""
    key = (f"FIRM#{firm.book.firm_id}#INVOICEFLOW#{invoice_id}", f"TOKEN#{execution_name(event)}#{step}")
    deadline = time.monotonic() + 30
    while firm.table.get(*key) is None:
        assert time.monotonic() < deadline, f"the workflow never waited on {step}"
        time.sleep(0.05)


def parked(stack: WorkflowStack, arn: str) -> None:
    """Poll until the execution waits with its waiting task finished (it found nothing to answer with):
    until then, that task may still read a decision or the invoice's status and answer itself."""
    deadline = time.monotonic() + 30
    while (stack.history(arn) or [{}])[-1].get("type") != "TaskSubmitted":
        assert time.monotonic() < deadline, "the workflow never settled into a wait"
        time.sleep(0.05)


def entered_states(stack: WorkflowStack, arn: str) -> list[str]:
    """The names of the states the execution entered, in order."""
    return [
        e["stateEnteredEventDetails"]["name"]
        for e in stack.history(arn)
        if e["type"].endswith("StateEntered")
    ]


def pdf_text(message: dict[str, Any]) -> str:
    parsed = email.message_from_string(message["raw"], policy=email.policy.default)
    (attachment,) = list(parsed.iter_attachments())  # type: ignore[attr-defined]
    assert attachment.get_content_type() == "application/pdf"
    reader = PdfReader(io.BytesIO(attachment.get_content()))
    # Table cells come out one per line: compare words, not layout.
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


def test_an_approved_invoice_runs_to_paid_and_its_pdf_goes_to_accounts(
    stack: WorkflowStack, firm: SimpleNamespace
) -> None:
    firm.book.add("INV-1001")
    stack.new_emails()
    sink = firm.sink()
    start = submitted(firm, "INV-1001")
    later = start.at + timedelta(days=1)

    sink.publish([start])
    sink.publish([start])  # a replayed event starts no second execution
    wait_for_token(firm, "INV-1001", start, "verify")
    sink.publish([InvoiceVerified(**facts(firm, "INV-1001"), at=later, total=Decimal("792.50"))])
    # Decisions that come before the workflow waits on them wait in the log until it does.
    sink.publish([InvoiceApproved(**facts(firm, "INV-1001"), at=later, total=Decimal("792.50"))])
    sink.publish(
        [
            InvoiceScheduled(
                **facts(firm, "INV-1001"),
                at=later,
                pay_period_start=date(2026, 3, 16),
                pay_period_end=date(2026, 3, 31),
            )
        ]
    )
    sink.publish(
        [
            InvoicePaid(
                **facts(firm, "INV-1001"),
                at=later,
                total=Decimal("792.50"),
                payment_method="check",
                payment_reference="1042",
            )
        ]
    )
    result = stack.wait(execution_arn(stack, start))

    assert result["status"] == "SUCCEEDED", result.get("cause")
    emails = stack.new_emails()
    subjects = [(e["to"], e["subject"]) for e in emails]
    assert subjects == [
        (
            [VERIFIERS],
            "Invoice INV-1001 from Avery Legal Services was submitted and is waiting for verification",
        ),
        (
            [VERIFIERS, CONTRACTOR_EMAIL],
            "Invoice INV-1001 from Avery Legal Services was approved for payment",
        ),
        ([ACCOUNTS, CONTRACTOR_EMAIL], "Invoice INV-1001 approved for payment"),
    ]
    approved_pdf = emails[2]
    assert (
        "Invoice INV-1001 from Avery Legal Services for $792.50 was approved on 12 March 2026."
        in approved_pdf["text"]
    )
    text = pdf_text(approved_pdf)
    assert "Lovelace & Babbage LLP" in text
    assert "Avery Legal Services" in text and "Alice Avery" not in text
    assert "Hearing preparation \u2013 \u201cAvery v. Smith\u201d" in text
    assert "Deposition interpreting" in text and "Mileage to the courthouse" in text
    for category, amount in (
        ("Legal work", "$450.00"),
        ("Language services", "$300.00"),
        ("Expenses", "$42.50"),
    ):
        assert f"{category} 1 {amount}" in text
    assert "Total 3 $792.50" in text


def test_a_disputed_invoice_loops_back_through_resubmission_and_verification(
    stack: WorkflowStack, firm: SimpleNamespace
) -> None:
    firm.book.add("INV-1002")
    stack.new_emails()
    sink = firm.sink()
    start = submitted(firm, "INV-1002")
    later = start.at + timedelta(hours=2)
    every = facts(firm, "INV-1002")

    sink.publish([start])
    wait_for_token(firm, "INV-1002", start, "verify")
    sink.publish([InvoiceDisputed(**every, at=later, disputed_bt_ids=("bt-2",), denied_bt_ids=())])
    wait_for_token(firm, "INV-1002", start, "resubmit")
    sink.publish([InvoiceResubmitted(**{**every, "by_contractor": True}, at=later, total=Decimal("792.50"))])
    wait_for_token(firm, "INV-1002", start, "verify")
    sink.publish([InvoiceVerified(**every, at=later, total=Decimal("792.50"))])
    sink.publish([InvoiceApproved(**every, at=later, total=Decimal("792.50"))])
    sink.publish(
        [
            InvoiceScheduled(
                **every, at=later, pay_period_start=date(2026, 3, 16), pay_period_end=date(2026, 3, 31)
            )
        ]
    )
    sink.publish(
        [
            InvoicePaid(
                **every, at=later, total=Decimal("792.50"), payment_method="check", payment_reference="7"
            )
        ]
    )
    arn = execution_arn(stack, start)
    result = stack.wait(arn)

    assert result["status"] == "SUCCEEDED", result.get("cause")
    subjects = [(e["to"], e["subject"]) for e in stack.new_emails()]
    assert subjects == [
        (
            [VERIFIERS],
            "Invoice INV-1002 from Avery Legal Services was submitted and is waiting for verification",
        ),
        (
            [VERIFIERS, CONTRACTOR_EMAIL],
            "Invoice INV-1002 from Avery Legal Services was disputed: "
            "some lines need the contractor's corrections",
        ),
        (
            [VERIFIERS],
            "Invoice INV-1002 from Avery Legal Services was submitted and is waiting for verification",
        ),
        (
            [VERIFIERS, CONTRACTOR_EMAIL],
            "Invoice INV-1002 from Avery Legal Services was approved for payment",
        ),
        ([ACCOUNTS, CONTRACTOR_EMAIL], "Invoice INV-1002 approved for payment"),
    ]
    entered = entered_states(stack, arn)
    assert entered.count("WaitVerification") == 2 and entered.count("NotifySubmitted") == 2


def test_a_step_that_waits_too_long_reminds_the_verifiers_then_escalates_to_the_admins(
    stack: WorkflowStack, firm: SimpleNamespace
) -> None:
    firm.book.add("INV-1003")
    stack.new_emails()
    # A decision published as a wait times out may lose its answer (moto settles the callback and the
    # timeout apart); the next wait then finds it in the decision log, one reminder later.
    sink = firm.sink(reminder_seconds=3, escalate_after=2)
    start = submitted(firm, "INV-1003")
    admin = firm.seeded.people[Role.FIRM_ADMIN].email

    sink.publish([start])
    arn = execution_arn(stack, start)
    deadline = time.monotonic() + 30
    while (
        sum(
            1
            for e in stack.history(arn)
            if e["type"] == "TaskStateEntered"
            and e["stateEnteredEventDetails"]["name"] == "RemindVerification"
        )
        < 2
    ):
        assert time.monotonic() < deadline, "no second reminder"
        time.sleep(0.1)
    sink.publish([replace(InvoiceVerified(**facts(firm, "INV-1003"), at=start.at, total=Decimal("1")))])
    deadline = time.monotonic() + 30
    while not any(
        e["type"] == "TaskStateEntered" and e["stateEnteredEventDetails"]["name"] == "WaitApproval"
        for e in stack.history(arn)
    ):
        assert time.monotonic() < deadline, "never reached approval"
        time.sleep(0.1)
    stack.aws.client("stepfunctions").stop_execution(executionArn=arn, error="TestDone", cause="enough seen")

    emails = [(e["to"], e["subject"]) for e in stack.new_emails()]
    assert emails[0] == (
        [VERIFIERS],
        "Invoice INV-1003 from Avery Legal Services was submitted and is waiting for verification",
    )
    assert emails[1] == (
        [VERIFIERS],
        "Reminder: Invoice INV-1003 from Avery Legal Services is still waiting for verification",
    )
    assert emails[2] == (
        [VERIFIERS, admin],
        "Escalation: Invoice INV-1003 from Avery Legal Services is still waiting for verification",
    )


def verified_after_one_reminder(stack: WorkflowStack, invoice_id: str, arn: str) -> None:
    """Wait until the execution reaches approval, stop it, and check it got there after one reminder."""
    deadline = time.monotonic() + 30
    while "WaitApproval" not in entered_states(stack, arn):
        assert time.monotonic() < deadline, "the verified invoice never reached approval"
        time.sleep(0.1)
    stack.aws.client("stepfunctions").stop_execution(executionArn=arn, error="TestDone", cause="enough seen")
    entered = entered_states(stack, arn)
    assert entered.count("RemindVerification") == 1, "one reminder, then the next wait was answered"
    assert entered.count("WaitVerification") == 2
    # Only this invoice's verification: an approval reminder may go out before the stop lands.
    reminders = [
        e["subject"]
        for e in stack.new_emails()
        if e["subject"].startswith(f"Reminder: Invoice {invoice_id} ") and "verification" in e["subject"]
    ]
    assert reminders == [
        f"Reminder: Invoice {invoice_id} from Avery Legal Services is still waiting for verification"
    ]


def test_an_answer_lost_as_its_wait_timed_out_is_found_in_the_decision_log_by_the_next_wait(
    stack: WorkflowStack, firm: SimpleNamespace
) -> None:
    firm.book.add("INV-1006")
    stack.new_emails()
    losing = LosingFirstSignal(firm.signals)
    sink = firm.sink(reminder_seconds=2, escalate_after=5, signals=losing)
    start = submitted(firm, "INV-1006")

    sink.publish([start])
    parked(stack, execution_arn(stack, start))
    sink.publish([InvoiceVerified(**facts(firm, "INV-1006"), at=start.at, total=Decimal("792.50"))])

    assert [signal["outcome"] for signal in losing.lost] == ["verified"]
    verified_after_one_reminder(stack, "INV-1006", execution_arn(stack, start))


def test_a_decision_committed_but_never_published_is_read_from_the_invoice_status_by_the_next_wait(
    stack: WorkflowStack, firm: SimpleNamespace
) -> None:
    firm.book.add("INV-1007")
    stack.new_emails()
    sink = firm.sink(reminder_seconds=2, escalate_after=5)
    start = submitted(firm, "INV-1007")

    sink.publish([start])
    parked(stack, execution_arn(stack, start))
    # The service died between its commit and its publish: only the invoice knows.
    firm.book.commit(InvoiceVerified(**facts(firm, "INV-1007"), at=start.at, total=Decimal("792.50")))

    verified_after_one_reminder(stack, "INV-1007", execution_arn(stack, start))


class RecordingSignals:
    """Signals that keep the answers instead of sending them."""

    def __init__(self) -> None:
        self.answers: dict[str, Mapping[str, Any]] = {}

    def succeed(self, token: str, output: Mapping[str, Any]) -> bool:
        self.answers.setdefault(token, output)
        return True

    def fail(self, token: str, error: str, cause: str) -> None:
        raise AssertionError("no task fails here")


def test_a_decision_logged_after_the_status_answered_its_step_does_not_answer_the_next_round(
    firm: SimpleNamespace,
) -> None:
    firm.book.add("INV-1008")
    signals = RecordingSignals()
    service = firm.approval_service(signals)
    every = facts(firm, "INV-1008")
    execution = "inv-INV-1008-late-log"
    cursor = firm.book.commit(submitted(firm, "INV-1008")).invoice_version
    disputed = firm.book.commit(
        InvoiceDisputed(**every, at=SUBMITTED_AT, disputed_bt_ids=("bt-2",), denied_bt_ids=())
    )

    # The verify wait starts after the commit and before the publish: the status answers it.
    assert (
        service.await_decision(firm.book.firm_id, "INV-1008", execution, "verify", "t-1", cursor)
        == "answered"
    )
    assert signals.answers["t-1"]["outcome"] == "disputed"
    cursor = signals.answers["t-1"]["seq"]
    # The late publish logs the dispute; the workflow has moved on.
    firm.waits.put_decision(
        firm.book.firm_id,
        "INV-1008",
        execution,
        disputed.invoice_version,
        ("verify",),
        {"outcome": "disputed"},
    )
    resubmitted = firm.book.commit(InvoiceResubmitted(**every, at=SUBMITTED_AT, total=Decimal("792.50")))
    firm.waits.put_decision(
        firm.book.firm_id,
        "INV-1008",
        execution,
        resubmitted.invoice_version,
        ("resubmit",),
        {"outcome": "resubmitted"},
    )
    assert (
        service.await_decision(firm.book.firm_id, "INV-1008", execution, "resubmit", "t-2", cursor)
        == "answered"
    )
    assert signals.answers["t-2"]["outcome"] == "resubmitted"

    second_round = service.await_decision(
        firm.book.firm_id, "INV-1008", execution, "verify", "t-3", signals.answers["t-2"]["seq"]
    )
    assert second_round == "waiting", "the first round's dispute is behind the cursor"
    assert "t-3" not in signals.answers


def test_a_crash_after_the_approved_pdf_went_out_is_retried_without_a_second_email(
    stack: WorkflowStack, firm: SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl

    firm.book.add("INV-1004")
    stack.new_emails()
    monkeypatch.setattr(retrier_decl, "time", SimpleNamespace(sleep=lambda seconds: None))
    original = InvoiceApprovalService.send_approved
    outcomes: list[dict[str, Any]] = []

    def send_then_crash(self: InvoiceApprovalService, *args: Any) -> Any:
        result = original(self, *args)
        outcomes.append(result)
        if len(outcomes) == 1:
            raise ConnectionResetError("the worker died after SES accepted the PDF")
        return result

    monkeypatch.setattr(InvoiceApprovalService, "send_approved", send_then_crash)
    sink = firm.sink()
    start = submitted(firm, "INV-1004")
    every = facts(firm, "INV-1004")
    sink.publish([start])
    sink.publish([InvoiceVerified(**every, at=start.at, total=Decimal("792.50"))])
    sink.publish([InvoiceApproved(**every, at=start.at, total=Decimal("792.50"))])
    sink.publish(
        [
            InvoiceScheduled(
                **every, at=start.at, pay_period_start=date(2026, 3, 16), pay_period_end=date(2026, 3, 31)
            )
        ]
    )
    sink.publish(
        [
            InvoicePaid(
                **every, at=start.at, total=Decimal("792.50"), payment_method="check", payment_reference="9"
            )
        ]
    )
    arn = execution_arn(stack, start)
    result = stack.wait(arn)

    assert result["status"] == "SUCCEEDED", result.get("cause")
    assert outcomes == [{"action": "sent", "pdf": "sent"}, {"action": "already", "pdf": "already"}]
    pdfs = [e for e in stack.new_emails() if e["to"] == [ACCOUNTS, CONTRACTOR_EMAIL]]
    assert len(pdfs) == 1
    # NotifySubmitted, 4 x (Await, Wait, Decide), SendApprovedInvoice, Paid.
    assert stack.transitions(arn) == 15


def test_a_note_and_a_disputed_line_are_emailed_once_each_through_the_work_queue(
    stack: WorkflowStack, firm: SimpleNamespace
) -> None:
    from lambdas.mailbox_sync import handler
    from tests.support.m365 import LambdaContextStub, sqs_event

    firm.book.add("INV-1005")
    queue = stack.api.container.work_queue
    queue.take()
    stack.new_emails()
    sink = firm.sink()
    at = SUBMITTED_AT + timedelta(hours=3)
    note = InvoiceNoteAdded(
        **facts(firm, "INV-1005"), at=at, note_id="n-1", text="Please attach the mileage log."
    )
    dispute = BtDisputed(
        **facts(firm, "INV-1005"), at=at, bt_ids=("bt-3",), reason="Mileage is above the agreed rate."
    )

    sink.publish([note, dispute])
    sink.publish([note])  # the service replays an event after a retry: the same job, the same key
    jobs = queue.take()
    assert [job["event"] for job in jobs] == ["note_added", "bt_disputed", "note_added"]
    for _ in range(2):  # SQS redelivers the whole batch
        reply = handler(sqs_event(jobs), LambdaContextStub())
        assert reply == {"batchItemFailures": []}

    emails = [e for e in stack.new_emails() if "INV-1005" in e["subject"]]
    assert [(e["to"], e["subject"]) for e in emails] == [
        ([VERIFIERS, CONTRACTOR_EMAIL], "Invoice INV-1005 from Avery Legal Services has a new note"),
        (
            [VERIFIERS, CONTRACTOR_EMAIL],
            "Invoice INV-1005 from Avery Legal Services has lines disputed by the reviewer",
        ),
    ]
    assert "Please attach the mileage log." in emails[0]["text"]
    assert "Mileage is above the agreed rate." in emails[1]["text"] and "bt-3" in emails[1]["text"]
    assert "Mileage is above the agreed rate." in emails[1]["html"]


def test_a_bad_invoice_notification_job_fails_its_record_and_sends_nothing(stack: WorkflowStack) -> None:
    from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

    from lambdas.mailbox_sync import handler
    from tests.support.m365 import LambdaContextStub, sqs_event

    stack.new_emails()
    bad = {"kind": "invoice_notification", "firm_id": "f", "invoice_id": "i", "event": "paid"}
    good = {"kind": "mailbox_maintain", "firm_id": "no-such-firm"}

    reply = handler(sqs_event([bad, good]), LambdaContextStub())
    assert len(reply["batchItemFailures"]) == 1, "only the bad record goes back to the queue"
    with pytest.raises(BatchProcessingError):  # a batch of nothing but bad records fails as a whole
        handler(sqs_event([bad]), LambdaContextStub())
    assert [e for e in stack.new_emails() if "Invoice i " in e["subject"]] == []
