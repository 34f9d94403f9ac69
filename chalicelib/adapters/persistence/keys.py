"""The single-table key design. Every key is built here, so the whole layout reads in one place.

Every item carries ``firm_id`` and lives under a partition that names its firm, except the few global
lookup items (tenant → firm, token hash → token) whose keys are unguessable or firm-independent.

| item | PK | SK | GSI1PK / GSI1SK |
| --- | --- | --- | --- |
| firm | FIRM#{firm} | FIRM | FIRMS / FIRM#{firm} |
| tenant guard | TENANT#{tenant} | TENANT |  |
| user | FIRM#{firm} | USER#{user} |  |
| user email guard | FIRM#{firm} | UNIQUE#EMAIL#{email} |  |
| user identity guard | FIRM#{firm} | UNIQUE#OID#{oid} |  |
| api token | APITOKEN#{sha256} | APITOKEN | FIRM#{firm}#APITOKENS / {created}#{token} |
| event | FIRM#{firm}#USER#{user}#TL | E#{event} | FIRM#{firm}#USER#{user}#TL / {start}#E#{event} |
| entry | FIRM#{firm}#USER#{user}#TL | N#{day}#{entry} | FIRM#{firm}#USER#{user}#TL / {start}#N#{entry} |
| capture policy | FIRM#{firm} | POLICY#capture | |
| user's capture rules | FIRM#{firm} | RULES#{user} | |
| client | FIRM#{firm}#CLIENTS | CLIENT#{client} | |
| matter | FIRM#{firm}#MATTERS | MATTER#{matter} | FIRM#{firm}#MATTERNO / {NUMBER} |
| matter by name | FIRM#{firm}#MATTERNAMES | {lower name}#{matter} | |
| matter by client | FIRM#{firm}#CLIENT#{client}#MATTERS | {matter} | |
| contact | FIRM#{firm}#CONTACTS | CONTACT#{contact} | |
| activity type | FIRM#{firm}#ACTIVITIES | {code} | |
| guards | FIRM#{firm} | UNIQUE#MATTERNO#{n}, UNIQUE#EXT#{kind}#{source}#{id}, UNIQUE#CONTACTEMAIL#{e} | |
| audit record | FIRM#{firm}#AUDIT#{type}#{id} | V#{version} | FIRM#{firm}#AUDIT / {time}#{type}#{id}#V… |

A user's timeline is one partition: events by id (merging a capture is a Get and a conditional Put),
entries by day (rebuilding a day is one consistent Query), and both on GSI1 by time, so a day or week
view is one Query whose cost depends on that range only, never on the user's history.

Guard items make uniqueness a condition (``attribute_not_exists``) inside the same transaction as the
write they protect: two invitations of one email race, one wins, the other gets ``Duplicate``.
"""

from __future__ import annotations


def firm(firm_id: str) -> tuple[str, str]:
    return (f"FIRM#{firm_id}", "FIRM")


FIRMS_INDEX_PK = "FIRMS"


def tenant_guard(tenant_id: str) -> tuple[str, str]:
    return (f"TENANT#{tenant_id}", "TENANT")


def user(firm_id: str, user_id: str) -> tuple[str, str]:
    return (f"FIRM#{firm_id}", f"USER#{user_id}")


USER_PREFIX = "USER#"


def email_guard(firm_id: str, email: str) -> tuple[str, str]:
    return (f"FIRM#{firm_id}", f"UNIQUE#EMAIL#{email}")


def identity_guard(firm_id: str, oid: str) -> tuple[str, str]:
    return (f"FIRM#{firm_id}", f"UNIQUE#OID#{oid}")


def api_token(token_hash: str) -> tuple[str, str]:
    return (f"APITOKEN#{token_hash}", "APITOKEN")


def api_tokens_of(firm_id: str) -> str:
    return f"FIRM#{firm_id}#APITOKENS"


def audit_stream(firm_id: str, entity_type: str, entity_id: str) -> str:
    return f"FIRM#{firm_id}#AUDIT#{entity_type}#{entity_id}"


def audit_feed(firm_id: str) -> str:
    return f"FIRM#{firm_id}#AUDIT"


def audit_version(version: int) -> str:
    """Zero-padded so versions sort as strings."""
    return f"V#{version:010d}"


def timeline(firm_id: str, user_id: str) -> str:
    return f"FIRM#{firm_id}#USER#{user_id}#TL"


def event(event_id: str) -> str:
    return f"E#{event_id}"


def entry(day: str, entry_id: str) -> str:
    return f"N#{day}#{entry_id}"


def capture_policy(firm_id: str) -> tuple[str, str]:
    return (f"FIRM#{firm_id}", "POLICY#capture")


def user_rules(firm_id: str, user_id: str) -> tuple[str, str]:
    return (f"FIRM#{firm_id}", f"RULES#{user_id}")


def clients(firm_id: str) -> str:
    return f"FIRM#{firm_id}#CLIENTS"


def matters(firm_id: str) -> str:
    return f"FIRM#{firm_id}#MATTERS"


def matter_numbers(firm_id: str) -> str:
    return f"FIRM#{firm_id}#MATTERNO"


def matter_names(firm_id: str) -> str:
    return f"FIRM#{firm_id}#MATTERNAMES"


def client_matters(firm_id: str, client_id: str) -> str:
    return f"FIRM#{firm_id}#CLIENT#{client_id}#MATTERS"


def contacts(firm_id: str) -> str:
    return f"FIRM#{firm_id}#CONTACTS"


def activity_types(firm_id: str) -> str:
    return f"FIRM#{firm_id}#ACTIVITIES"


def matter_number_guard(firm_id: str, number: str) -> tuple[str, str]:
    return (f"FIRM#{firm_id}", f"UNIQUE#MATTERNO#{number}")


def external_id_guard(firm_id: str, kind: str, source: str, external_id: str) -> tuple[str, str]:
    return (f"FIRM#{firm_id}", f"UNIQUE#EXT#{kind}#{source}#{external_id}")


def contact_email_guard(firm_id: str, email: str) -> tuple[str, str]:
    return (f"FIRM#{firm_id}", f"UNIQUE#CONTACTEMAIL#{email}")
