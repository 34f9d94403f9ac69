"""Matterline's HTTP API and schedules (AWS Chalice).

Kept light on purpose: importing this module is a Lambda cold start, so adapters and settings are built
on the first request (``chalicelib.bootstrap``), not here.
"""

from __future__ import annotations

from chalice import Chalice, Cron

from chalicelib.api.billing import billing
from chalicelib.api.contractors import contractors
from chalicelib.api.delegates import delegation
from chalicelib.api.matters import matters
from chalicelib.api.microsoft import microsoft
from chalicelib.api.people import people
from chalicelib.api.reports import reports
from chalicelib.api.security import security
from chalicelib.api.suggestions import suggestions
from chalicelib.api.system import system
from chalicelib.api.timeline import timeline
from chalicelib.api.tokens import administration

app = Chalice(app_name="matterline")
app.register_blueprint(security)
app.register_blueprint(system)
app.register_blueprint(people)
app.register_blueprint(administration)
app.register_blueprint(timeline)
app.register_blueprint(delegation)
app.register_blueprint(matters)
app.register_blueprint(suggestions)
app.register_blueprint(billing)
app.register_blueprint(reports)
app.register_blueprint(microsoft)
app.register_blueprint(contractors)


@app.schedule(Cron(15, 3, "*", "*", "?", "*"), name="housekeeping")
def housekeeping(event: object) -> dict[str, str]:
    """03:15 UTC daily: start the housekeeping workflow (expire API tokens in every firm)."""
    from chalicelib.bootstrap import container

    services = container()
    return {"execution_arn": services.housekeeping.start_daily_run(services.clock.now())}


@app.schedule(Cron("0/15", "*", "*", "*", "?", "*"), name="billing_sync")
def billing_sync(event: object) -> dict[str, int]:
    """Every 15 minutes: sync each firm's billing systems whose ACTION_SYNC_INTERVAL_MINUTES (matters) or
    QUICK_CODE_SYNC_INTERVAL_MINUTES (activity types) has passed."""
    from chalicelib.bootstrap import container

    services = container()
    return services.billing.sync_due(services.housekeeping.firm_ids())


@app.schedule(Cron("0/30", "*", "*", "*", "?", "*"), name="renew_subscriptions")
def renew_subscriptions(event: object) -> dict[str, int]:
    """Every 30 minutes: queue one Microsoft 365 maintenance job per connected firm (renew Graph
    subscriptions at half life, recreate lost ones, capture meetings that have ended, poll EWS)."""
    from chalicelib.bootstrap import container

    return {"firms": container().mailbox_sync.schedule_maintenance()}


@app.schedule(Cron(0, "*", "*", "*", "?", "*"), name="reports")
def hourly_reports(event: object) -> dict[str, str]:
    """Every hour: start the reports workflow (each user's report at the hour they chose in their own
    time zone; the admins' weekly activity report)."""
    from chalicelib.bootstrap import container

    services = container()
    return {"execution_arn": services.reports.start_hourly_run(services.clock.now())}


@app.schedule(Cron(5, "*", "*", "*", "?", "*"), name="scheduled_exports")
def scheduled_exports(event: object) -> dict[str, str]:
    """Every hour: start the scheduled-export workflow (each firm's postings and billing files that are
    due at this hour of the firm's day)."""
    from chalicelib.bootstrap import container

    services = container()
    return {"execution_arn": services.scheduled_exports.start_hourly_run(services.clock.now())}
