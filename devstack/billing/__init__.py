"""Simulated billing systems for the devstack: a Clio Manage account and an Actionstep account.

Each is a real HTTP server on 127.0.0.1 that follows its service's public API (OAuth2 authorization
code + refresh, envelopes, paging, filters, rate limits, error shapes), seeded from the demo book, with
a ``/_sim/`` control API for faults. See ``devstack.billing.base`` for what they share and the control
API, and ``devstack.billing.clio`` / ``devstack.billing.actionstep`` for each protocol::

    clio = ClioSimulator(port=0)          # binds now; clio.base_url is known
    clio.start()
    tokens = clio.issue_tokens()          # or the consent page at /oauth/authorize
    clio.throttle_next(2, retry_after=0.2)
    clio.stop()
"""

from devstack.billing.actionstep import ActionstepSimulator
from devstack.billing.base import BillingSimulator
from devstack.billing.clio import ClioSimulator

__all__ = ["ActionstepSimulator", "BillingSimulator", "ClioSimulator"]
