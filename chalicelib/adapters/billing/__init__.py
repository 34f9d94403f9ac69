"""Billing system adapters: Clio Manage (API v4) and Actionstep, over plain ``requests``.

``http.BillingHttp`` is what both share (bearer token, one renewal on 401, rate-limit pacing, 429
back-off, bounded retries of reads, never a blind retry of a create); ``clio`` and ``actionstep`` hold
each system's ``BillingTarget`` and ``OAuthClient``.
"""

from chalicelib.adapters.billing.actionstep import ActionstepOAuth, ActionstepTarget
from chalicelib.adapters.billing.clio import ClioOAuth, ClioTarget
from chalicelib.adapters.billing.http import BillingHttp, RetryPolicy

__all__ = [
    "ActionstepOAuth",
    "ActionstepTarget",
    "BillingHttp",
    "ClioOAuth",
    "ClioTarget",
    "RetryPolicy",
]
