"""One settings model, read once from the environment.

Every adapter takes its endpoints and credentials from here; nothing in ``chalicelib`` knows whether it
runs on AWS or in the devstack. Variables are prefixed ``MATTERLINE_``.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Runtime configuration of the API, the workers and the command line."""

    model_config = SettingsConfigDict(env_prefix="MATTERLINE_", extra="ignore")

    stage: Literal["local", "dev", "prod", "test"] = "local"
    region: str = "us-east-1"
    table_name: str = "matterline"
    # Empty in AWS; the devstack points it at the embedded AWS.
    aws_endpoint_url: str | None = None

    # Identity: Entra ID tokens. The issuer for a tenant is issuer_template with {tenant}.
    identity_authority: str = "https://login.microsoftonline.com"
    identity_issuer_template: str = "https://login.microsoftonline.com/{tenant}/v2.0"
    identity_jwks_url: str = "https://login.microsoftonline.com/common/discovery/v2.0/keys"
    identity_audience: str = "api://matterline"
    # Entra v2 access tokens carry the API's client id as `aud`; v1 tokens its Application ID URI.
    identity_client_id: str | None = None
    # A CA bundle to trust for the identity provider (the devstack's generated CA); None = system CAs.
    identity_ca_bundle: str | None = None
    jwks_cache_seconds: int = 3600
    clock_skew_seconds: int = 120

    # Workflows: state machine ARNs by logical name, e.g. {"housekeeping": "arn:aws:states:..."}.
    state_machines: dict[str, str] = Field(default_factory=dict)

    # Where the console and add-in are served, for links in emails and CORS.
    web_base_url: str = "http://localhost:8001"
    cors_allow_origin: str = "*"

    log_level: str = "INFO"

    # Background work (mailbox syncs): the SQS work queue of infra/template.yaml.
    work_queue_url: str | None = None

    # Microsoft 365 capture. Tokens come from identity_authority/{tenant}; Matterline's own
    # multi-tenant app registration (application permissions Mail.Read, Calendars.Read) is the default
    # app a firm's admin consents to. A firm that registers its own app gives its id and secret instead.
    graph_base_url: str = "https://graph.microsoft.com"
    graph_client_id: str | None = None
    graph_client_secret: SecretStr | None = None
    # A CA bundle to trust for Graph and the token endpoint (the devstack's CA); None = system CAs.
    graph_ca_bundle: str | None = None
    graph_page_size: int = Field(default=50, ge=1, le=1000)
    graph_max_retries: int = Field(default=6, ge=0, le=20)
    # Graph posts change notifications to {api_base_url}/webhooks/graph (https in production).
    # Graph documents a maximum of 4,230 or 10,080 minutes for Outlook resources; we ask for a little
    # less than 4,230 so a clock running ahead of Graph's never asks for too much. Renewed at half life.
    subscription_lifetime_minutes: int = Field(default=4200, ge=45, le=10080)
    # The calendarView window a calendar sync round covers, and how far back a new mailbox is read.
    calendar_past_days: int = Field(default=7, ge=0, le=60)
    calendar_future_days: int = Field(default=28, ge=1, le=180)
    mailbox_backfill_days: int = Field(default=7, ge=0, le=60)
    # EWS (on-premises Exchange with hybrid modern auth): the resource app-only tokens are asked for.
    ews_token_scope: str = "https://outlook.office365.com/.default"

    # The public base URL of this API: OAuth callbacks and webhooks are registered under it.
    api_base_url: str = "http://localhost:8000"

    # Connection secrets are sealed with this KMS key; export files live in this bucket.
    secrets_key_id: str = "alias/matterline-connections"
    exports_bucket: str = "matterline-exports"
    # LEDES LAW_FIRM_ID (usually the firm's tax id); the firm id when empty.
    law_firm_id: str = ""

    # Billing systems: the app registrations Matterline holds with Clio and Actionstep.
    clio_authorize_url: str = "https://app.clio.com/oauth/authorize"
    clio_token_url: str = "https://app.clio.com/oauth/token"
    clio_api_base: str = "https://app.clio.com/api/v4"
    clio_client_id: str = ""
    clio_client_secret: str = ""
    actionstep_authorize_url: str = "https://go.actionstep.com/api/oauth/authorize"
    actionstep_token_url: str = "https://api.actionstep.com/api/oauth/token"
    actionstep_client_id: str = ""
    actionstep_client_secret: str = ""

    # Email (SES): the From address of every email (a verified identity), and the configuration set
    # that routes SES's delivery, bounce and complaint events. Bodies come from templates/email.
    sender_address: str = "noreply@matterline.test"
    ses_configuration_set: str | None = None
    # Powertools idempotency records of the workflow tasks (a table of its own in the template); empty
    # turns the Powertools layer off (unit tests), the delivery ledger still stops duplicate emails.
    idempotency_table: str | None = None
    # Invoice approval: how long a step waits for staff before a reminder, and after how many reminders
    # it escalates to the firm's admins. Tests shorten both.
    invoice_reminder_seconds: int = Field(default=2 * 86_400, ge=1, le=30 * 86_400)
    invoice_escalate_after_reminders: int = Field(default=2, ge=1, le=10)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read from the environment on first use."""
    return Settings()


def reset_settings() -> None:
    """Forget the cached settings (tests and the devstack change the environment before wiring)."""
    get_settings.cache_clear()
