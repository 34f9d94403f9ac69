"""One settings model, read once from the environment.

Every adapter takes its endpoints and credentials from here; nothing in ``chalicelib`` knows whether it
runs on AWS or in the devstack. Variables are prefixed ``MATTERLINE_``.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field
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


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read from the environment on first use."""
    return Settings()


def reset_settings() -> None:
    """Forget the cached settings (tests and the devstack change the environment before wiring)."""
    get_settings.cache_clear()
