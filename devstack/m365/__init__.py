"""The simulated Microsoft 365 tenant: Entra ID (identity) now, Graph and EWS routes added on the same server.

Typical wiring::

    tls = ensure_ca_and_server_cert(state_dir / "tls")
    directory = Directory.from_dict(saved) if saved else Directory()
    identity = IdentityProvider(directory, state_dir / "identity")
    server = M365Server(identity, port=8443, tls=tls)   # binds now; sets identity.base_url
    server.add_route("GET", r"^/v1\\.0/users/(?P<user>[^/]+)$", graph_user_handler)
    server.start()
"""

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
from devstack.m365.server import Handler, M365Server, Request, Response, graph_error
from devstack.m365.tls import TlsMaterial, ensure_ca_and_server_cert

__all__ = [
    "EXCHANGE_RESOURCE",
    "GRAPH_RESOURCE",
    "AppRegistration",
    "Directory",
    "EntraError",
    "Handler",
    "IdentityProvider",
    "M365Server",
    "Request",
    "Response",
    "Tenant",
    "TlsMaterial",
    "TokenExpiredError",
    "TokenValidationError",
    "User",
    "ensure_ca_and_server_cert",
    "graph_error",
    "new_id",
]
