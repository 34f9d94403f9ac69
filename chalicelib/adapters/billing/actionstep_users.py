"""Actionstep, for a person's own authorization: whose login a token is (``GET users/current``).

A person connects their own Actionstep login so the time they post is carried by their token; before
we keep such a token we ask Actionstep who it signs in as, so nobody can attach someone else's login.
"""

from __future__ import annotations

from chalicelib.adapters.billing.actionstep import (
    ActionstepTarget,
    _first_link,
    _linked,
    _person_name,
    _resource,
    flag,
)
from chalicelib.domain.billing import BillingError, RemoteUser


class ActionstepUserTarget(ActionstepTarget):
    """``ActionstepTarget`` that also answers ``BillingIdentity.current_user``."""

    def current_user(self) -> RemoteUser:
        """The system user the token signs in as; the external id is their participant id."""
        answer = self.http.get_json("users/current", {"include": "participant"})
        records = _resource(answer, "users") if isinstance(answer, dict) else []
        if not records:
            raise BillingError("Actionstep did not say whose login this is; connect again")
        record = records[0]
        linked = answer.get("linked") if isinstance(answer, dict) else None
        people = _linked(linked if isinstance(linked, dict) else {}, "participants")
        participant_id = _first_link(record, "participant") or str(record["id"])
        person = people.get(participant_id, {})
        email = str(record.get("emailAddress") or person.get("email") or "")
        return RemoteUser(
            external_id=participant_id,
            email=email,
            name=_person_name(person) or email or participant_id,
            enabled=flag(record.get("isActive"), default=True),
        )
