"""``MailboxGateway``: the mail server a firm's connection names, built from settings.

Graph connections get a ``GraphMailboxSource`` and ``GraphSubscriptionClient`` sharing one
``GraphClient`` per (firm, tenant, app), so its request counters and the process-wide per-mailbox slots
cover everything that connection does. EWS connections get the EWS adapter and no subscriptions (they
are polled by the maintenance schedule).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from chalicelib.adapters.microsoft.graph import GraphClient, GraphMailboxSource, GraphSubscriptionClient
from chalicelib.adapters.microsoft.tokens import AppTokens, TokenProviders, http_session
from chalicelib.domain.m365 import M365Connection, MailProtocol, MailServerError
from chalicelib.ports import MailboxSource, SecretBox, SubscriptionClient, TokenCacheStore


@dataclass(frozen=True)
class GraphSettings:
    """Where Graph and Entra ID are, and Matterline's own app registration."""

    graph_base_url: str
    authority_base: str
    default_client_id: str | None = None
    default_client_secret: str | None = None
    ca_bundle: str | None = None
    page_size: int = 50
    max_retries: int = 6
    # How far before the connection a new mail round reaches back (the rest is history).
    backfill_days: int = 7


EwsFactory = Callable[[M365Connection, AppTokens, str | None], MailboxSource]


class MicrosoftGateway:
    """Opens Graph (or EWS) for a connection; clients are kept for the life of the process."""

    def __init__(
        self,
        settings: GraphSettings,
        *,
        token_caches: TokenCacheStore,
        secret_box: SecretBox | None = None,
        sleep: Callable[[float], None] = time.sleep,
        ews_factory: EwsFactory | None = None,
    ) -> None:
        self.settings = settings
        self._session = http_session(settings.ca_bundle)
        self._tokens = TokenProviders(
            authority_base=settings.authority_base,
            cache_store=token_caches,
            session=self._session,
            secret_box=secret_box,
        )
        self._box = secret_box
        self._sleep = sleep
        self._ews_factory = ews_factory
        self._clients: dict[tuple[str, str, str], GraphClient] = {}
        self._ews: dict[tuple[str, str, str], MailboxSource] = {}
        self._lock = threading.Lock()

    def tokens(self, connection: M365Connection) -> AppTokens:
        """The app's token provider for the connection's tenant (also for on-behalf-of)."""
        return self._tokens.for_app(
            firm_id=connection.firm_id,
            tenant_id=connection.tenant_id,
            client_id=connection.client_id,
            client_secret=self._secret(connection),
        )

    def _secret(self, connection: M365Connection) -> str:
        if connection.client_secret_sealed:
            if self._box is None:
                raise MailServerError("the connection's app secret cannot be opened here", retryable=False)
            return self._box.open(connection.client_secret_sealed, connection.firm_id).decode()
        if connection.client_id == self.settings.default_client_id and self.settings.default_client_secret:
            return self.settings.default_client_secret
        raise MailServerError(
            f"no secret is known for app {connection.client_id}: connect again with its client_secret",
            retryable=False,
        )

    def graph_client(self, connection: M365Connection) -> GraphClient:
        """The Graph client of the connection's app and tenant."""
        key = (connection.firm_id, connection.tenant_id, connection.client_id)
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                tokens = self.tokens(connection)
                client = GraphClient(
                    self.settings.graph_base_url,
                    token=tokens.app_token,
                    forget_token=tokens.forget_access_tokens,
                    session=self._session,
                    page_size=self.settings.page_size,
                    max_retries=self.settings.max_retries,
                    sleep=self._sleep,
                )
                self._clients[key] = client
            return client

    @property
    def requests_made(self) -> int:
        """Graph requests sent by every client of this gateway (benchmarks count them)."""
        with self._lock:
            return sum(client.requests_made for client in self._clients.values())

    def source(self, connection: M365Connection) -> MailboxSource:
        if connection.protocol is MailProtocol.EWS:
            if self._ews_factory is None:
                raise MailServerError("this deployment has no EWS adapter", retryable=False)
            # Kept per server and app: the EWS adapter keeps its accounts (and their sessions) per mailbox.
            key = (connection.firm_id, connection.ews_endpoint or "", connection.client_id)
            with self._lock:
                source = self._ews.get(key)
            if source is None:
                source = self._ews_factory(connection, self.tokens(connection), self.settings.ca_bundle)
                with self._lock:
                    source = self._ews.setdefault(key, source)
            return source
        since = (
            connection.connected_at - timedelta(days=self.settings.backfill_days)
            if connection.connected_at
            else None
        )
        return GraphMailboxSource(self.graph_client(connection), received_since=since)

    def subscriptions(self, connection: M365Connection) -> SubscriptionClient | None:
        if connection.protocol is not MailProtocol.GRAPH:
            return None
        return GraphSubscriptionClient(self.graph_client(connection))
