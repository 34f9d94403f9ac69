"""The demo firm's book of business: clients, matters, contacts and activity types.

One source for everything that must agree in the devstack: the matters seeded into Matterline, the
same matters in the simulated Clio and Actionstep accounts (with their own ids), and the people the
simulated mailboxes exchange mail and meetings with. Plain data, no imports from ``chalicelib``.
"""

from __future__ import annotations

from dataclasses import dataclass

FIRM_DOMAIN = "halemercer.example"


@dataclass(frozen=True)
class DemoClient:
    key: str
    name: str
    domain: str
    clio_id: int
    actionstep_id: int


@dataclass(frozen=True)
class DemoMatter:
    number: str
    name: str
    client_key: str
    responsible: str  # demo person's mailbox name, e.g. "alex.attorney"
    status: str  # open | pending | closed
    clio_id: int
    actionstep_id: int
    utbms_required: bool = False


@dataclass(frozen=True)
class DemoContact:
    name: str
    email: str
    client_key: str
    clio_id: int
    actionstep_id: int


@dataclass(frozen=True)
class DemoActivityType:
    code: str
    name: str
    rate: str
    utbms_task: str | None
    utbms_activity: str | None
    billable: bool
    clio_id: int


CLIENTS: tuple[DemoClient, ...] = (
    DemoClient("acme", "Acme Manufacturing Inc.", "acme-mfg.example", 7001, 501),
    DemoClient("brightwater", "Brightwater Holdings LLC", "brightwater.example", 7002, 502),
    DemoClient("cedar", "Cedar Ridge School District", "cedarridge.example", 7003, 503),
    DemoClient("delgado", "Maria Delgado", "delgado-family.example", 7004, 504),
    DemoClient("evergreen", "Evergreen Biotech Corp.", "evergreenbio.example", 7005, 505),
    DemoClient("fulton", "Fulton & Sons Logistics", "fultonlogistics.example", 7006, 506),
)

MATTERS: tuple[DemoMatter, ...] = (
    DemoMatter(
        "2026-0101",
        "Acme v. Northwind - breach of supply contract",
        "acme",
        "alex.attorney",
        "open",
        9101,
        801,
        True,
    ),
    DemoMatter("2026-0102", "Acme - plant expansion permits", "acme", "priya.partner", "open", 9102, 802),
    DemoMatter(
        "2026-0117",
        "Brightwater - acquisition of Lakeside Marina",
        "brightwater",
        "priya.partner",
        "open",
        9103,
        803,
    ),
    DemoMatter(
        "2026-0118", "Brightwater - lender negotiations", "brightwater", "alex.attorney", "pending", 9104, 804
    ),
    DemoMatter(
        "2026-0124",
        "Cedar Ridge - special education due process",
        "cedar",
        "alex.attorney",
        "open",
        9105,
        805,
    ),
    DemoMatter("2025-0877", "Cedar Ridge - bond counsel 2025", "cedar", "priya.partner", "closed", 9106, 806),
    DemoMatter("2026-0131", "Delgado estate plan", "delgado", "alex.attorney", "open", 9107, 807),
    DemoMatter(
        "2026-0140",
        "Evergreen - license agreement with Solara",
        "evergreen",
        "priya.partner",
        "open",
        9108,
        808,
    ),
    DemoMatter(
        "2026-0141",
        "Evergreen v. Helix Labs - trade secrets",
        "evergreen",
        "alex.attorney",
        "open",
        9109,
        809,
        True,
    ),
    DemoMatter("2026-0150", "Fulton - warehouse lease renewal", "fulton", "alex.attorney", "open", 9110, 810),
)

CONTACTS: tuple[DemoContact, ...] = (
    DemoContact("Dana Whitfield", "dana.whitfield@acme-mfg.example", "acme", 7101, 601),
    DemoContact("Luis Ortega", "luis.ortega@acme-mfg.example", "acme", 7102, 602),
    DemoContact("Helen Park", "helen.park@brightwater.example", "brightwater", 7103, 603),
    DemoContact("Marcus Bell", "marcus.bell@cedarridge.example", "cedar", 7104, 604),
    DemoContact("Maria Delgado", "maria@delgado-family.example", "delgado", 7105, 605),
    DemoContact("Ravi Menon", "ravi.menon@evergreenbio.example", "evergreen", 7106, 606),
    DemoContact("Tom Fulton", "tom@fultonlogistics.example", "fulton", 7107, 607),
)

ACTIVITY_TYPES: tuple[DemoActivityType, ...] = (
    DemoActivityType("EMAIL", "Correspondence", "350.00", "L120", "A106", True, 8001),
    DemoActivityType("CALL", "Telephone conference", "350.00", "L120", "A106", True, 8002),
    DemoActivityType("MEET", "Meeting", "350.00", "L120", "A103", True, 8003),
    DemoActivityType("DRAFT", "Drafting", "375.00", "L250", "A103", True, 8004),
    DemoActivityType("RESEARCH", "Legal research", "325.00", "L120", "A102", True, 8005),
    DemoActivityType("ADMIN", "Administrative", "0.00", None, None, False, 8006),
)

# The demo people's ids in the billing systems (mailbox name -> id). Casey and Drew work in the
# contractor module and are not timekeepers in the billing systems.
CLIO_USER_IDS: dict[str, int] = {
    "fiona.admin": 344001,
    "alex.attorney": 344002,
    "priya.partner": 344003,
    "sam.assistant": 344004,
}
ACTIONSTEP_PARTICIPANT_IDS: dict[str, int] = {
    "fiona.admin": 11,
    "alex.attorney": 12,
    "priya.partner": 13,
    "sam.assistant": 14,
}


def client(key: str) -> DemoClient:
    """The demo client with ``key``."""
    return next(c for c in CLIENTS if c.key == key)
