"""The composition root: the one place that wires adapters to services, from settings.

Built lazily on first use so that importing ``app.py`` (a Lambda cold start) does not pay for boto3
clients, JWT libraries or settings parsing until a request needs them.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from chalicelib.adapters.persistence.billing import TableBillingRepository
from chalicelib.adapters.persistence.billing_users import TableBillingUserAuthorizations
from chalicelib.adapters.persistence.delegates import TableDelegateRepository
from chalicelib.adapters.persistence.jobs import TableJobProgress
from chalicelib.adapters.persistence.learning import TableLearningStore
from chalicelib.adapters.persistence.mailboxes import TableMailboxRepository
from chalicelib.adapters.persistence.matters import TableMatterRepository
from chalicelib.adapters.persistence.repositories import (
    TableApiTokenRepository,
    TableAuditLog,
    TableFirmRepository,
    TableUserRepository,
)
from chalicelib.adapters.persistence.table import Table
from chalicelib.adapters.persistence.timeline import TablePolicyRepository, TableTimelineRepository
from chalicelib.ports import (
    BillingSystems,
    BillingTarget,
    CaseProblemCodes,
    Clock,
    ContractorEventSink,
    EmailSender,
    FileStore,
    MailboxGateway,
    MailboxSource,
    OAuthClient,
    SecretBox,
    SubscriptionClient,
    TokenCacheStore,
    TokenSource,
    TokenVerifier,
    WorkflowStarter,
    WorkQueue,
)
from chalicelib.services.api_tokens import ApiTokenService
from chalicelib.services.audit import AuditService
from chalicelib.services.authentication import Authenticator
from chalicelib.services.billing import BillingConnectionService
from chalicelib.services.calls import CallImportService
from chalicelib.services.contractors.service import ContractorService
from chalicelib.services.delegates import DelegateService
from chalicelib.services.exports import ExportService
from chalicelib.services.housekeeping import HousekeepingService
from chalicelib.services.imports import ImportService
from chalicelib.services.invoice_approval import InvoiceApprovalService
from chalicelib.services.mailbox_sync import MailboxSyncService, MailboxSyncSettings
from chalicelib.services.matters import MatterService
from chalicelib.services.notifications import NotificationService
from chalicelib.services.posting import PostingService
from chalicelib.services.reports import ReportService
from chalicelib.services.roster import RosterService
from chalicelib.services.scheduled_exports import ScheduledExportService
from chalicelib.services.suggestions import SuggestionService
from chalicelib.services.timeline import TimelineService
from chalicelib.settings import Settings, get_settings


@dataclass
class Container:
    """Everything the handlers and workers reach for."""

    settings: Settings
    clock: Clock
    table: Table
    authenticator: Authenticator
    roster: RosterService
    api_tokens: ApiTokenService
    audit: AuditService
    housekeeping: HousekeepingService
    timeline: TimelineService
    calls: CallImportService
    matters: MatterService
    imports: ImportService
    suggestions: SuggestionService
    billing: BillingConnectionService
    posting: PostingService
    exports: ExportService
    mailbox_sync: MailboxSyncService
    work_queue: WorkQueue
    delegates: DelegateService
    # Email, reports and scheduled exports (wired by _wire_delivery once the services above exist).
    email: EmailSender = field(init=False)
    notifications: NotificationService = field(init=False)
    reports: ReportService = field(init=False)
    scheduled_exports: ScheduledExportService = field(init=False)
    invoice_approval: InvoiceApprovalService = field(init=False)
    # The contractor module's events drive the invoice approval workflow (Step Functions).
    invoice_events: ContractorEventSink = field(init=False)
    # The contractor module (wired by _wire_contractors).
    contractors: ContractorService = field(init=False)


def aws_client(service: str, settings: Settings) -> Any:
    """A boto3 client pointed at AWS, or at the endpoint the settings name (the devstack)."""
    import boto3

    return boto3.client(service, region_name=settings.region, endpoint_url=settings.aws_endpoint_url)


class SettingsBillingSystems:
    """``BillingSystems`` from settings: the same code talks to Clio and Actionstep or to the simulators."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def oauth(self, system: str) -> OAuthClient:
        """The OAuth client of Matterline's app registration with ``system``."""
        settings = self._settings
        if system == "clio":
            from chalicelib.adapters.billing.clio import ClioOAuth

            return ClioOAuth(
                settings.clio_authorize_url,
                settings.clio_token_url,
                settings.clio_client_id,
                settings.clio_client_secret,
            )
        from chalicelib.adapters.billing.actionstep import ActionstepOAuth

        return ActionstepOAuth(
            settings.actionstep_authorize_url,
            settings.actionstep_token_url,
            settings.actionstep_client_id,
            settings.actionstep_client_secret,
        )

    def target(self, system: str, tokens: TokenSource) -> BillingTarget:
        """The API client for a connected account."""
        if system == "clio":
            from chalicelib.adapters.billing.clio import ClioTarget

            return ClioTarget(self._settings.clio_api_base, tokens)
        from chalicelib.adapters.billing.actionstep_users import ActionstepUserTarget

        # With ``current_user``: a person's own authorization checks whose login it is.
        return ActionstepUserTarget(tokens)


class SettingsMailboxGateway:
    """``MailboxGateway`` from settings, built on first use: msal and the Graph client are imported only
    by the requests and workers that talk to Microsoft 365, not at every cold start."""

    def __init__(self, settings: Settings, token_caches: TokenCacheStore, secrets: SecretBox | None) -> None:
        self._settings = settings
        self._caches = token_caches
        self._secrets = secrets
        self._gateway: Any = None
        self._lock = threading.Lock()

    def built(self) -> Any:
        """The ``MicrosoftGateway`` behind this one."""
        with self._lock:
            if self._gateway is None:
                from chalicelib.adapters.microsoft.gateway import GraphSettings, MicrosoftGateway

                settings = self._settings
                secret = settings.graph_client_secret
                self._gateway = MicrosoftGateway(
                    GraphSettings(
                        graph_base_url=settings.graph_base_url,
                        authority_base=settings.identity_authority,
                        default_client_id=settings.graph_client_id,
                        default_client_secret=secret.get_secret_value() if secret else None,
                        ca_bundle=settings.graph_ca_bundle,
                        page_size=settings.graph_page_size,
                        max_retries=settings.graph_max_retries,
                        backfill_days=settings.mailbox_backfill_days,
                    ),
                    token_caches=self._caches,
                    secret_box=self._secrets,
                    ews_factory=lambda connection, tokens, ca: _ews_source(
                        connection, tokens, ca, settings.ews_token_scope
                    ),
                )
            return self._gateway

    def source(self, connection: Any) -> MailboxSource:
        return self.built().source(connection)

    def subscriptions(self, connection: Any) -> SubscriptionClient | None:
        return self.built().subscriptions(connection)


def _ews_source(connection: Any, tokens: Any, ca_bundle: str | None, scope: str) -> MailboxSource:
    """The EWS adapter for an on-premises connection (exchangelib is imported only when a firm uses EWS).
    The app-only token is for Exchange (``ews_token_scope``) and acts through impersonation."""
    from chalicelib.adapters.microsoft.ews import EwsMailboxSource

    return EwsMailboxSource(
        connection.ews_endpoint,
        lambda: tokens.app_token(scope),
        ca_bundle=ca_bundle,
        forget_token=tokens.forget_access_tokens,
    )


def _work_queue(settings: Settings) -> WorkQueue:
    if settings.work_queue_url:
        from chalicelib.adapters.queues.sqs import SqsWorkQueue

        return SqsWorkQueue(aws_client("sqs", settings), settings.work_queue_url)
    # No queue configured (unit tests, a bare local run): jobs wait in memory for whoever drains them.
    from chalicelib.adapters.queues.memory import MemoryWorkQueue

    return MemoryWorkQueue()


def build_container(
    settings: Settings | None = None,
    *,
    table: Table | None = None,
    clock: Clock | None = None,
    verifier: TokenVerifier | None = None,
    workflows: WorkflowStarter | None = None,
    secrets: SecretBox | None = None,
    files: FileStore | None = None,
    billing_systems: BillingSystems | None = None,
    work_queue: WorkQueue | None = None,
    mailbox_gateway: MailboxGateway | None = None,
    email_sender: EmailSender | None = None,
    contractor_events: ContractorEventSink | None = None,
) -> Container:
    """Wire the application. Tests pass their own table, clock or verifier; everything else is real."""
    settings = settings or get_settings()
    if clock is None:
        from chalicelib.adapters.clock import SystemClock

        clock = SystemClock()
    if table is None:
        from chalicelib.adapters.persistence.dynamodb_table import DynamoTable

        table = DynamoTable(aws_client("dynamodb", settings), settings.table_name)
    if verifier is None:
        from chalicelib.adapters.identity.entra import JwksTokenVerifier

        verifier = JwksTokenVerifier(
            jwks_url=settings.identity_jwks_url,
            issuer_template=settings.identity_issuer_template,
            audiences=[a for a in (settings.identity_audience, settings.identity_client_id) if a],
            ca_bundle=settings.identity_ca_bundle,
            cache_seconds=settings.jwks_cache_seconds,
            leeway_seconds=settings.clock_skew_seconds,
        )
    if workflows is None:
        from chalicelib.adapters.workflows.stepfunctions import StepFunctionsWorkflows

        workflows = StepFunctionsWorkflows(aws_client("stepfunctions", settings), settings.state_machines)
    if secrets is None:
        from chalicelib.adapters.secrets.kms import KmsSecretBox

        secrets = KmsSecretBox(aws_client("kms", settings), settings.secrets_key_id)
    if files is None:
        from chalicelib.adapters.files.s3 import S3FileStore

        files = S3FileStore(aws_client("s3", settings), settings.exports_bucket)
    firms = TableFirmRepository(table, clock)
    users = TableUserRepository(table, clock)
    tokens = TableApiTokenRepository(table, clock)
    token_service = ApiTokenService(tokens, clock)
    matter_repository = TableMatterRepository(table, clock)
    problem_codes = _case_problem_codes(table, clock)
    timeline_repository = TableTimelineRepository(table, clock)
    policies = TablePolicyRepository(table, clock)
    suggestions = SuggestionService(
        matters=matter_repository,
        timeline=timeline_repository,
        policies=policies,
        learning=TableLearningStore(table, clock),
        clock=clock,
    )
    timeline = TimelineService(
        matters=matter_repository,
        assistant=suggestions,
        timeline=timeline_repository,
        policies=policies,
        firms=firms,
        users=users,
        clock=clock,
    )
    work_queue = work_queue or _work_queue(settings)
    mailboxes = TableMailboxRepository(table, clock)
    mailbox_sync = MailboxSyncService(
        mailboxes=mailboxes,
        gateway=mailbox_gateway or SettingsMailboxGateway(settings, mailboxes, secrets),
        timeline=timeline,
        queue=work_queue,
        firms=firms,
        users=users,
        clock=clock,
        secrets=secrets,
        settings=MailboxSyncSettings(
            api_base_url=settings.api_base_url,
            default_client_id=settings.graph_client_id,
            subscription_lifetime=timedelta(minutes=settings.subscription_lifetime_minutes),
            calendar_past_days=settings.calendar_past_days,
            calendar_future_days=settings.calendar_future_days,
            backfill_days=settings.mailbox_backfill_days,
        ),
    )
    billing_repository = TableBillingRepository(table, clock)
    billing = BillingConnectionService(
        repository=billing_repository,
        systems=billing_systems or SettingsBillingSystems(settings),
        box=secrets,
        matters=matter_repository,
        users=users,
        clock=clock,
        callback_base_url=settings.api_base_url,
        console_url=f"{settings.web_base_url.rstrip('/')}/console/",
        user_authorizations=TableBillingUserAuthorizations(table, clock),
    )
    wired = Container(
        settings=settings,
        clock=clock,
        table=table,
        authenticator=Authenticator(verifier=verifier, firms=firms, users=users, tokens=tokens, clock=clock),
        roster=RosterService(firms, users, clock),
        api_tokens=token_service,
        audit=AuditService(TableAuditLog(table)),
        housekeeping=HousekeepingService(firms, token_service, workflows),
        timeline=timeline,
        calls=CallImportService(timeline=timeline, firms=firms, users=users),
        matters=MatterService(matter_repository, clock, problem_codes),
        suggestions=suggestions,
        imports=ImportService(
            matters=matter_repository,
            users=users,
            firms=firms,
            jobs=TableJobProgress(table, clock),
            clock=clock,
            problem_codes=problem_codes,
        ),
        billing=billing,
        posting=PostingService(
            billing=billing_repository,
            connections=billing,
            timeline=timeline_repository,
            matters=matter_repository,
            users=users,
            clock=clock,
        ),
        exports=ExportService(
            billing=billing_repository,
            timeline=timeline_repository,
            matters=matter_repository,
            users=users,
            files=files,
            clock=clock,
            law_firm_id=settings.law_firm_id,
        ),
        mailbox_sync=mailbox_sync,
        work_queue=work_queue,
        delegates=DelegateService(TableDelegateRepository(table, clock), users),
    )
    _wire_delivery(wired, settings, firms, users, files, workflows, email_sender)
    _wire_contractors(wired, firms, matter_repository, users, files, contractor_events)
    return wired


def _case_problem_codes(table: Table, clock: Clock) -> CaseProblemCodes:
    """Legal problem codes and the contractor matter allocation that follows them (for matters)."""
    from chalicelib.adapters.persistence.contractors import TableContractorRepository
    from chalicelib.services.contractors.cases import ContractorCaseProblemCodes

    return ContractorCaseProblemCodes(TableContractorRepository(table, clock), clock)


def _wire_contractors(
    wired: Container,
    firms: TableFirmRepository,
    matters: TableMatterRepository,
    users: TableUserRepository,
    files: FileStore,
    events: ContractorEventSink | None,
) -> None:
    """The contractor module; its events go to the invoice workflow's port (logged until it is wired)."""
    from chalicelib.adapters.persistence.contractors import TableContractorRepository

    wired.contractors = ContractorService(
        repository=TableContractorRepository(wired.table, wired.clock),
        matters=matters,
        users=users,
        files=files,
        events=events or wired.invoice_events,
        firms=firms,
        clock=wired.clock,
    )


def _wire_delivery(
    wired: Container,
    settings: Settings,
    firms: TableFirmRepository,
    users: TableUserRepository,
    files: FileStore,
    workflows: WorkflowStarter,
    email_sender: EmailSender | None,
) -> None:
    """Email, reports and scheduled exports, on top of the services they use."""
    from chalicelib.adapters.email.templates import JinjaEmailRenderer
    from chalicelib.adapters.persistence.reports import (
        TableDeliveryLedger,
        TableExportSchedules,
        TableReportPreferences,
    )

    table, clock = wired.table, wired.clock
    if email_sender is None:
        from chalicelib.adapters.email.ses import SesEmailSender

        email_sender = SesEmailSender(
            aws_client("sesv2", settings), settings.sender_address, settings.ses_configuration_set
        )
    console_url = f"{settings.web_base_url.rstrip('/')}/console"
    wired.email = email_sender
    wired.notifications = NotificationService(
        email_sender, JinjaEmailRenderer(), TableDeliveryLedger(table, clock), clock
    )
    wired.reports = ReportService(
        preferences=TableReportPreferences(table, clock),
        firms=firms,
        users=users,
        timeline=TableTimelineRepository(table, clock),
        policies=TablePolicyRepository(table, clock),
        matters=TableMatterRepository(table, clock),
        notifications=wired.notifications,
        workflows=workflows,
        clock=clock,
        console_url=console_url,
    )
    wired.scheduled_exports = ScheduledExportService(
        schedules=TableExportSchedules(table, clock),
        firms=firms,
        posting=wired.posting,
        exports=wired.exports,
        files=files,
        reports=wired.reports,
        notifications=wired.notifications,
        workflows=workflows,
        clock=clock,
        console_url=console_url,
    )
    from chalicelib.adapters.persistence.contractors import TableContractorRepository
    from chalicelib.adapters.workflows.contractor_events import StepFunctionsContractorEventSink
    from chalicelib.adapters.workflows.invoice_waits import TableInvoiceWaits
    from chalicelib.adapters.workflows.signals import StepFunctionsSignals

    waits = TableInvoiceWaits(table, clock)
    signals = StepFunctionsSignals(aws_client("stepfunctions", settings))
    wired.invoice_approval = InvoiceApprovalService(
        records=TableContractorRepository(table, clock),
        waits=waits,
        signals=signals,
        notifications=wired.notifications,
        reports=wired.reports,
        firms=firms,
        files=files,
        clock=clock,
        console_url=console_url,
    )
    wired.invoice_events = StepFunctionsContractorEventSink(
        workflows,
        waits,
        signals,
        wired.work_queue,
        reminder_seconds=settings.invoice_reminder_seconds,
        escalate_after_reminders=settings.invoice_escalate_after_reminders,
    )


_container: Container | None = None
_lock = threading.Lock()


def container() -> Container:
    """The process-wide container, built on first use."""
    global _container
    if _container is None:
        with _lock:
            if _container is None:
                _container = build_container()
    return _container


def use_container(replacement: Container | None) -> None:
    """Swap the process-wide container (tests and the devstack); None rebuilds from settings next time."""
    global _container
    _container = replacement
