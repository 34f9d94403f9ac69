"""The demo firm: one Microsoft 365 tenant, its people in the simulated Entra ID and in the roster."""

from __future__ import annotations

from dataclasses import dataclass, replace

from chalicelib.bootstrap import Container
from chalicelib.domain.identity import SYSTEM_ACTOR, Role
from chalicelib.domain.roster import User as RosterUser
from chalicelib.domain.roster import UserStatus
from devstack.m365 import EXCHANGE_RESOURCE, GRAPH_RESOURCE, AppRegistration, Directory, Tenant
from devstack.m365 import User as DirectoryUser

TENANT_ID = "6f1d2c3b-4a5e-4b7c-9d8e-0a1b2c3d4e5f"
TENANT_DOMAIN = "halemercer.example"
FIRM_NAME = "Hale & Mercer LLP"
FIRM_TIME_ZONE = "America/New_York"
API_CLIENT_ID = "3c6e1b2a-9f4d-4e8b-a1c2-5d6e7f8a9b0c"
API_APP_ID_URI = "api://matterline"
API_SCOPE = "access_as_user"
# Matterline's mailbox-capture app in the demo tenant: a confidential client holding the application
# permissions a firm's admin consents to (Graph Mail.Read and Calendars.Read; EWS full_access_as_app).
# The secret belongs to the simulated tenant only.
CAPTURE_CLIENT_ID = "8b2f4c6d-1e3a-4f5b-9c7d-2e4f6a8b0c1d"
CAPTURE_CLIENT_SECRET = "devstack-capture-secret"


@dataclass(frozen=True)
class DemoPerson:
    """Someone to sign in as."""

    oid: str
    name: str
    email: str
    roles: frozenset[Role]
    time_zone: str = FIRM_TIME_ZONE


DEMO_PEOPLE: tuple[DemoPerson, ...] = (
    DemoPerson(
        "0b7d1f9e-0001-4c1a-8e11-000000000001", "Fiona Admin", "fiona.admin", frozenset({Role.FIRM_ADMIN})
    ),
    DemoPerson(
        "0b7d1f9e-0002-4c1a-8e11-000000000002", "Alex Attorney", "alex.attorney", frozenset({Role.ATTORNEY})
    ),
    DemoPerson(
        "0b7d1f9e-0003-4c1a-8e11-000000000003",
        "Priya Partner",
        "priya.partner",
        frozenset({Role.ATTORNEY, Role.BILLING_MANAGER}),
        "America/Chicago",
    ),
    DemoPerson(
        "0b7d1f9e-0004-4c1a-8e11-000000000004", "Sam Assistant", "sam.assistant", frozenset({Role.ASSISTANT})
    ),
    DemoPerson(
        "0b7d1f9e-0005-4c1a-8e11-000000000005",
        "Casey Contractor",
        "casey.contractor",
        frozenset({Role.CONTRACTOR}),
    ),
    DemoPerson(
        "0b7d1f9e-0006-4c1a-8e11-000000000006", "Drew Staff", "drew.staff", frozenset({Role.CONTRACTOR_STAFF})
    ),
)


def email_of(person: DemoPerson) -> str:
    return f"{person.email}@{TENANT_DOMAIN}"


def sign_in_redirect_uris(web_base: str) -> tuple[str, ...]:
    """Where the app's single-page clients receive their sign-in codes: the console, and the add-in pane's
    MSAL bridge page and Office-dialog fallback."""
    return (f"{web_base}/console/", f"{web_base}/taskpane/redirect.html", f"{web_base}/taskpane/signin.html")


def demo_directory(redirect_uris: tuple[str, ...]) -> Directory:
    """The simulated tenant: its people and Matterline's app registration (API + console + add-in pane)."""
    app = AppRegistration(
        client_id=API_CLIENT_ID,
        display_name="Matterline",
        app_id_uri=API_APP_ID_URI,
        redirect_uris=redirect_uris,
        scopes=(API_SCOPE,),
    )
    users = [DirectoryUser(oid=p.oid, email=email_of(p), display_name=p.name) for p in DEMO_PEOPLE]
    return Directory([Tenant(TENANT_ID, FIRM_NAME, TENANT_DOMAIN, users=users, apps=[app, capture_app()])])


def capture_app() -> AppRegistration:
    """The app registration mailbox capture signs in as (client credentials), admin-consented."""
    return AppRegistration(
        client_id=CAPTURE_CLIENT_ID,
        display_name="Matterline mailbox capture",
        client_secret=CAPTURE_CLIENT_SECRET,
        api_permissions={
            GRAPH_RESOURCE: ("Mail.Read", "Calendars.Read"),
            EXCHANGE_RESOURCE: ("full_access_as_app",),
        },
    )


def upgrade_saved_directory(directory: Directory, redirect_uris: tuple[str, ...]) -> None:
    """Bring a demo directory saved by an older devstack up to date: capture app, sign-in redirect URIs."""
    tenant = directory.tenant(TENANT_ID)
    if tenant is None:
        return
    if tenant.app(CAPTURE_CLIENT_ID) is None:
        directory.add_app(TENANT_ID, capture_app())
    app = tenant.app(API_CLIENT_ID)
    if app is not None:
        missing = tuple(uri for uri in redirect_uris if uri not in app.redirect_uris)
        if missing:
            directory.add_app(TENANT_ID, replace(app, redirect_uris=(*app.redirect_uris, *missing)))


def connect_demo_mailboxes(container: Container) -> None:
    """Connect the demo firm's tenant (Graph, every attorney captured), as its admin would."""
    from chalicelib.domain.identity import Principal
    from chalicelib.services.mailbox_sync import ConnectRequest

    firm = container.roster.firm_for_tenant(TENANT_ID)
    admin = next(p for p in DEMO_PEOPLE if Role.FIRM_ADMIN in p.roles)
    if firm is None or container.mailbox_sync.connection_of(firm.firm_id) is not None:
        return
    principal = Principal(firm.firm_id, demo_user_id(admin), "user", admin.roles, email=email_of(admin))
    container.mailbox_sync.connect(
        principal, ConnectRequest(tenant_id=TENANT_ID, client_id=CAPTURE_CLIENT_ID)
    )


def demo_user_id(person: DemoPerson) -> str:
    """Demo people have fixed ids, so links to them survive a reset of the devstack."""
    return f"demo-{person.email.replace('.', '-')}"


def ensure_demo_firm(container: Container) -> bool:
    """Create the demo firm and its roster unless a previous run did; returns whether it seeded."""
    firms = container.roster
    if firms.firm_for_tenant(TENANT_ID) is not None:
        return False
    firm = firms.create_firm(
        name=FIRM_NAME, tenant_id=TENANT_ID, time_zone=FIRM_TIME_ZONE, actor=SYSTEM_ACTOR
    )
    for index, person in enumerate(DEMO_PEOPLE, start=1):
        firms.add_member(
            firm.firm_id,
            RosterUser(
                firm_id=firm.firm_id,
                user_id=demo_user_id(person),
                email=email_of(person),
                display_name=person.name,
                roles=person.roles,
                status=UserStatus.ACTIVE,
                time_zone=person.time_zone,
                identity_oid=person.oid,
                phone_extensions=(f"2{index:02d}",),
                created_at=container.clock.now(),
            ),
            SYSTEM_ACTOR,
        )
    seed_demo_day(container, firm.firm_id)
    return True


def seed_demo_day(container: Container, firm_id: str) -> None:
    """A believable morning for Alex Attorney, so a first look at the timeline is not empty.

    (The simulated Microsoft 365 tenant's scenario engine will produce whole days of mail and meetings.)
    """
    from datetime import datetime, time, timedelta

    from chalicelib.domain.capture import Capture, EventKind, Source, compose_key, manual_key, read_key
    from chalicelib.domain.timeutil import local_day, zone

    alex = next(p for p in DEMO_PEOPLE if p.email == "alex.attorney")
    today = local_day(container.clock.now(), alex.time_zone)
    nine = datetime.combine(today, time(9, 0), tzinfo=zone(alex.time_zone))
    client = "dana.reyes@northwind-logistics.example"
    captures: list[Capture] = []
    for minute, (message, subject, seconds) in enumerate(
        [
            ("<nw-1@northwind-logistics.example>", "Northwind v. Contoso: draft complaint comments", 420),
            ("<nw-2@northwind-logistics.example>", "Northwind v. Contoso: deposition dates", 150),
        ]
    ):
        start = nine + timedelta(minutes=20 * minute)
        captures += [
            Capture(
                kind=EventKind.READ,
                source=Source.ADDIN,
                key=read_key(message),
                at=start + timedelta(seconds=s),
                subject=subject,
                sender=client,
                participants=(client, email_of(alex)),
                conversation_id="nw-thread-1",
                internet_message_id=message,
            )
            for s in range(0, seconds + 1, 30)
        ]
    reply_start = nine + timedelta(minutes=50)
    captures += [
        Capture(
            kind=EventKind.COMPOSE,
            source=Source.ADDIN,
            key=compose_key("demo-draft-1"),
            at=reply_start,
            duration_seconds=11 * 60,
            subject="RE: Northwind v. Contoso: deposition dates",
            participants=(client,),
            sender=email_of(alex),
            conversation_id="nw-thread-1",
            sent=True,
        ),
        Capture(
            kind=EventKind.MANUAL,
            source=Source.MANUAL,
            key=manual_key("demo-manual-1"),
            at=nine + timedelta(hours=2),
            duration_seconds=45 * 60,
            note="Reviewed Contoso's document production (box 3)",
            subject="Document review",
        ),
    ]
    container.timeline.ingest(firm_id, f"demo-{alex.email.replace('.', '-')}", captures, actor=SYSTEM_ACTOR)
