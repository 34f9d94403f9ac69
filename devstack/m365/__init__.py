"""The simulated Microsoft 365 tenant: Entra ID (identity) now, Graph and EWS routes added on the same server.

Typical wiring::

    tls = ensure_ca_and_server_cert(state_dir / "tls")
    directory = Directory.from_dict(saved) if saved else Directory()
    identity = IdentityProvider(directory, state_dir / "identity")
    server = M365Server(identity, port=8443, tls=tls)   # binds now; sets identity.base_url
    server.add_route("GET", r"^/v1\\.0/users/(?P<user>[^/]+)$", graph_user_handler)
    server.start()
"""

# The scenario engine (devstack.m365.scenario) is not exported here: it imports devstack.demo, which
# imports this package.
from devstack.m365.graph import GraphSettings, GraphSimulator
from devstack.m365.identity import (
    EXCHANGE_RESOURCE,
    GRAPH_RESOURCE,
    AppRegistration,
    Directory,
    EntraError,
    IdentityProvider,
    Tenant,
    TokenExpiredError,
    TokenValidationError,
    User,
    new_id,
)
from devstack.m365.mailbox import (
    Mailbox,
    MailboxStore,
    MailTransport,
    Recipient,
    Recurrence,
    SimulatorClock,
    WellKnownFolder,
)
from devstack.m365.notifications import NotificationService, NotificationSettings
from devstack.m365.server import Handler, M365Server, Request, Response, graph_error
from devstack.m365.tls import TlsMaterial, ensure_ca_and_server_cert

__all__ = [
    "EXCHANGE_RESOURCE",
    "GRAPH_RESOURCE",
    "AppRegistration",
    "Directory",
    "EntraError",
    "GraphSettings",
    "GraphSimulator",
    "Handler",
    "IdentityProvider",
    "M365Server",
    "MailTransport",
    "Mailbox",
    "MailboxStore",
    "NotificationService",
    "NotificationSettings",
    "Recipient",
    "Recurrence",
    "Request",
    "Response",
    "SimulatorClock",
    "Tenant",
    "TlsMaterial",
    "TokenExpiredError",
    "TokenValidationError",
    "User",
    "WellKnownFolder",
    "ensure_ca_and_server_cert",
    "graph_error",
    "new_id",
]
