"""Posting 1,000 released entries to the simulated Clio under a rate limit: how close to the allowed pace.

The simulator allows LIMIT requests per WINDOW seconds per token (Clio's own rule is 50 a minute at
peak; the window is shortened so the run takes about a minute, and LIMIT scaled to keep the same kind
of pressure). The whole production path runs: the posting service, the ledger in the table, tokens
sealed with KMS (moto), the real Clio adapter over HTTP pacing itself by ``X-RateLimit-*``.

Figures:

    post 1000 seconds        wall time of the posting run
    post requests            requests the run sent to the simulator (a clean run: one per entry)
    post achieved rate       requests per second over the whole run
    post allowed rate        LIMIT / WINDOW, the simulator's limit (the baseline)
    post ratio               achieved / allowed (target >= 0.9). The adapter spreads requests over the
                             window by X-RateLimit-Remaining/Reset rather than bursting, so the ratio
                             shows how little of the allowance it wastes.

The run then checks that every entry is in Clio exactly once and is marked posted.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

ENTRIES = 1000
LIMIT = 250
WINDOW = 15.0
DAY = date(2026, 3, 9)


def main() -> None:
    import os

    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "MATTERLINE_AWS_ENDPOINT_URL"):
        os.environ.pop(name, None)
    os.environ.update(
        {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1"}
    )
    import boto3
    from moto import mock_aws

    from chalicelib.adapters.files.s3 import S3FileStore
    from chalicelib.adapters.persistence.memory_table import MemoryTable
    from chalicelib.adapters.secrets.kms import KmsSecretBox
    from chalicelib.bootstrap import SettingsBillingSystems, build_container
    from chalicelib.domain.entries import Entry, EntryStatus
    from chalicelib.domain.identity import Principal, Role
    from chalicelib.domain.roster import User, UserStatus
    from chalicelib.settings import Settings
    from devstack import demo_billing
    from devstack.billing.clio import ClioSimulator
    from devstack.demo_book import CLIO_USER_IDS
    from tests.support.clock import ManualClock

    sim = ClioSimulator(
        port=0, client_id=demo_billing.CLIO_CLIENT_ID, client_secret=demo_billing.CLIO_CLIENT_SECRET
    )
    sim.start()
    with mock_aws():
        kms = boto3.client("kms", region_name="us-east-1")
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="bench")
        settings = Settings(
            stage="test",
            clio_authorize_url=f"{sim.base_url}{sim.AUTHORIZE_PATH}",
            clio_token_url=f"{sim.base_url}{sim.TOKEN_PATH}",
            clio_api_base=f"{sim.base_url}/api/v4",
            clio_client_id=demo_billing.CLIO_CLIENT_ID,
            clio_client_secret=demo_billing.CLIO_CLIENT_SECRET,
        )
        container = build_container(
            settings,
            table=MemoryTable(),
            clock=ManualClock(datetime(2026, 3, 10, 9, 0, tzinfo=UTC)),
            verifier=object(),  # type: ignore[arg-type]
            workflows=object(),  # type: ignore[arg-type]
            secrets=KmsSecretBox(kms, kms.create_key()["KeyMetadata"]["KeyId"]),
            files=S3FileStore(s3, "bench"),
            billing_systems=SettingsBillingSystems(settings),
        )
        firm = container.roster.create_firm(
            name="Bench LLP", tenant_id="bench", time_zone="UTC", actor="bench"
        )
        admin = container.roster.add_member(
            firm.firm_id,
            User(
                firm_id=firm.firm_id,
                user_id="admin",
                email="fiona.admin@halemercer.example",
                display_name="Fiona Admin",
                roles=frozenset({Role.FIRM_ADMIN}),
                status=UserStatus.ACTIVE,
            ),
            "bench",
        )
        container.roster.add_member(
            firm.firm_id,
            User(
                firm_id=firm.firm_id,
                user_id="alex",
                email="alex.attorney@halemercer.example",
                display_name="Alex Attorney",
                roles=frozenset({Role.ATTORNEY}),
                status=UserStatus.ACTIVE,
                external_ids={"clio": str(CLIO_USER_IDS["alex.attorney"])},
            ),
            "bench",
        )
        demo_billing.connect_demo_firm(container, firm.firm_id, admin, "clio")
        principal = Principal(firm_id=firm.firm_id, subject_id="admin", kind="user", roles=admin.roles)
        matter = container.matters.search_matters(
            principal,
            number="2026-0101",
            name=None,
            client_id=None,
            include_closed=False,
            cursor=None,
            limit=1,
        ).items[0]
        entries = [
            Entry(
                firm_id=firm.firm_id,
                user_id="alex",
                entry_id=f"{DAY:%Y%m%d}{n:08d}",
                group_key=f"g{n}",
                day=DAY,
                event_ids=(f"e{n}",),
                raw_seconds=300.0 + n % 7 * 60,
                narrative=f"Review email re: supply contract point {n}",
                matter_id=matter.matter_id,
                billed_seconds=360 + n % 7 * 360,
                status=EntryStatus.RELEASED,
            )
            for n in range(ENTRIES)
        ]
        timeline = container.posting._timeline  # the service's own repository
        for start in range(0, ENTRIES, 50):
            timeline.save_entries([replace(e) for e in entries[start : start + 50]], [], "bench", "seed")

        sim.set_rate_limit(LIMIT, WINDOW)  # fresh windows: the sync's requests do not count
        started = time.perf_counter()
        report = container.posting.post(principal, "clio", DAY, DAY)
        elapsed = time.perf_counter() - started

    posted = Counter(record["note"].rsplit("[", 1)[-1].rstrip("]") for record in sim.time_entries())
    sim.stop()
    requests_sent = report.count("posted") + sum(r.attempts - 1 for r in report.results)
    achieved = requests_sent / elapsed
    allowed = LIMIT / WINDOW
    assert report.count("posted") == ENTRIES, Counter(r.outcome for r in report.results)
    assert len(posted) == ENTRIES and set(posted.values()) == {1}, "an entry was lost or duplicated"
    print(f"bench: post 1000 seconds = {elapsed:.1f} s")
    print(f"bench: post requests = {requests_sent} requests")
    print(f"bench: post achieved rate = {achieved:.2f} requests/s")
    print(f"bench: post allowed rate = {allowed:.2f} requests/s")
    print(f"bench: post ratio = {achieved / allowed:.3f}")


if __name__ == "__main__":
    main()
