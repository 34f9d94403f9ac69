"""Microsoft 365 capture end to end: the simulated tenant over TLS, real msal, real HTTP both ways, the
real app serving Graph's webhooks and the real worker draining the work queue.

Each scripted scenario checks what reaches the timeline: sent mail, read mail, meetings (accepted,
declined, cancelled, recurring, still to come), and that duplicates, replays, throttling storms, expired
delta tokens and lost subscriptions neither lose nor double anything.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import requests

from chalicelib.domain.capture import Capture, EventKind, Source, compose_key, meeting_key, read_key
from chalicelib.domain.mailbox import Folder
from devstack.m365.mailbox import Recurrence
from tests.support.m365 import (
    ALEX,
    BLAKE,
    CLIENT,
    FIONA,
    TENANT_ID,
    CaptureHarness,
    GraphTenant,
    PlainSecretBox,
    capture_harness,
    start_graph_tenant,
)

TIMEOUT = 10


@pytest.fixture(scope="module")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # TLS material and the token-signing key are made once per module and reused by each tenant.
    return tmp_path_factory.mktemp("m365")


@pytest.fixture
def tenant(state_dir: Path) -> Iterator[GraphTenant]:
    simulated = start_graph_tenant(state_dir)
    try:
        yield simulated
    finally:
        simulated.stop()


@pytest.fixture
def harness(tenant: GraphTenant, token_mint) -> Iterator[CaptureHarness]:
    with capture_harness(tenant, token_mint) as built:
        yield built


@pytest.fixture
def connected(harness: CaptureHarness) -> CaptureHarness:
    harness.connect(ALEX, BLAKE)
    return harness


def post_webhook(
    harness: CaptureHarness, body: object, path: str = "/webhooks/graph", **kwargs: object
) -> requests.Response:
    data = body if isinstance(body, bytes | str) else json.dumps(body)
    return requests.post(
        f"{harness.api_base_url}{path}",
        data=data,
        headers={"Content-Type": "application/json"},
        timeout=TIMEOUT,
        **kwargs,  # type: ignore[arg-type]
    )


def versions(harness: CaptureHarness) -> dict[str, int]:
    return {event.key: event.version for person in (ALEX, BLAKE) for event in harness.events(person)}


# ---------------------------------------------------------------- connecting


class TestConnecting:
    def test_connecting_subscribes_every_folder_of_every_captured_user_with_a_validated_webhook(
        self, connected: CaptureHarness
    ) -> None:
        mine = connected.mailboxes().subscriptions(connected.firm_id)
        assert {(s.user_id, s.folder) for s in mine} == {
            (person.user_id, folder) for person in (ALEX, BLAKE) for folder in Folder
        }
        theirs = connected.tenant.graph.notifications.all()
        assert {s.subscription_id for s in mine} <= {s.subscription_id for s in theirs}
        assert connected.failures == []

    def test_the_first_sync_of_each_folder_stores_a_delta_link(self, connected: CaptureHarness) -> None:
        states = connected.mailboxes().sync_states(connected.firm_id)
        assert len(states) == 6
        assert all(state.round_complete and "deltatoken" in (state.state or "") for state in states)
        assert all(state.lease_owner is None and state.last_error is None for state in states)

    def test_turning_a_user_off_removes_their_subscriptions_and_stops_their_capture(
        self, connected: CaptureHarness
    ) -> None:
        connected.service.set_user(connected.admin(), BLAKE.user_id, enabled=False, mailbox=None)
        connected.drain()
        assert {s.user_id for s in connected.mailboxes().subscriptions(connected.firm_id)} == {ALEX.user_id}
        connected.tenant.graph.send_message(BLAKE.email, to=[CLIENT], subject="Not captured")
        connected.deliver()
        assert connected.events(BLAKE) == []


# ---------------------------------------------------------------- mail


class TestMail:
    def test_a_sent_message_becomes_a_sent_event(self, connected: CaptureHarness) -> None:
        sent = connected.tenant.graph.send_message(
            ALEX.email, to=[CLIENT], subject="Northwind v. Contoso: comments", body="Dana, my comments."
        )
        connected.deliver()
        event = connected.event(ALEX, compose_key(sent.internet_message_id))
        assert event is not None and event.sent and event.kind is EventKind.COMPOSE
        assert event.participants == (CLIENT,) and event.subject == "Northwind v. Contoso: comments"

    def test_a_sent_message_merges_with_the_add_ins_compose_record_by_the_correlation_header(
        self, connected: CaptureHarness
    ) -> None:
        started = connected.clock.now() - timedelta(minutes=12)
        connected.container.timeline.ingest(
            connected.firm_id,
            ALEX.user_id,
            [
                Capture(
                    kind=EventKind.COMPOSE,
                    source=Source.ADDIN,
                    key=compose_key("draft-42"),
                    at=started,
                    duration_seconds=600,
                    subject="Northwind: draft",
                )
            ],
            actor="test",
        )
        connected.tenant.graph.send_message(
            ALEX.email, to=[CLIENT], subject="Northwind: settlement terms", correlation_id="draft-42"
        )
        connected.deliver()
        events = [e for e in connected.events(ALEX) if e.kind is EventKind.COMPOSE]
        assert len(events) == 1
        assert events[0].sources == {Source.ADDIN, Source.GRAPH} and events[0].sent
        assert events[0].seconds == 600  # the add-in measured it; Graph's estimate does not replace that

    def test_a_message_marked_read_becomes_a_read_event_and_an_unread_one_does_not(
        self, connected: CaptureHarness
    ) -> None:
        graph = connected.tenant.graph
        message = graph.deliver_message(
            ALEX.email, sender=CLIENT, subject="Deposition dates", body="x" * 3000
        )
        connected.deliver()
        assert connected.event(ALEX, read_key(message.internet_message_id)) is None
        graph.mark_read(ALEX.email, message.item_key)
        connected.deliver()
        event = connected.event(ALEX, read_key(message.internet_message_id))
        assert event is not None and event.kind is EventKind.READ and not event.measured
        assert event.sender == CLIENT

    def test_newsletters_and_automatic_replies_arrive_flagged_for_the_filters(
        self, connected: CaptureHarness
    ) -> None:
        graph = connected.tenant.graph
        newsletter = graph.deliver_message(
            ALEX.email,
            sender="news@legalweekly.example",
            subject="This week in law",
            headers={"List-Unsubscribe": "<mailto:leave@legalweekly.example>"},
            is_read=True,
        )
        reply = graph.deliver_message(
            ALEX.email,
            sender=CLIENT,
            subject="Automatic reply: out of office",
            headers={"Auto-Submitted": "auto-replied"},
            is_read=True,
        )
        connected.deliver()
        flagged = connected.event(ALEX, read_key(newsletter.internet_message_id))
        automatic = connected.event(ALEX, read_key(reply.internet_message_id))
        assert flagged is not None and flagged.list_unsubscribe
        assert automatic is not None and automatic.auto_submitted


# ---------------------------------------------------------------- meetings


class TestMeetings:
    def test_an_accepted_meeting_that_happened_becomes_an_event_and_a_declined_one_does_not(
        self, connected: CaptureHarness
    ) -> None:
        graph = connected.tenant.graph
        start = connected.clock.now() - timedelta(hours=3)
        accepted = graph.create_meeting(
            CLIENT,
            subject="Strategy call",
            start=start,
            end=start + timedelta(minutes=45),
            attendees=[ALEX.email],
        )[ALEX.oid]
        declined = graph.create_meeting(
            CLIENT,
            subject="Vendor pitch",
            start=start,
            end=start + timedelta(minutes=30),
            attendees=[ALEX.email],
        )[ALEX.oid]
        graph.respond(ALEX.email, accepted.item_key, "accepted")
        graph.respond(ALEX.email, declined.item_key, "declined")
        connected.deliver()
        meetings = [e for e in connected.events(ALEX) if e.kind is EventKind.MEETING]
        assert [(m.key, m.seconds) for m in meetings] == [(meeting_key(accepted.ical_uid, start), 45 * 60)]

    def test_a_cancelled_meeting_leaves_nothing_behind(self, connected: CaptureHarness) -> None:
        graph = connected.tenant.graph
        start = connected.clock.now() - timedelta(hours=2)
        copies = graph.create_meeting(
            BLAKE.email,
            subject="Board prep",
            start=start,
            end=start + timedelta(hours=1),
            attendees=[ALEX.email],
        )
        graph.respond(ALEX.email, copies[ALEX.oid].item_key, "accepted")
        graph.cancel_meeting(BLAKE.email, copies[BLAKE.oid].item_key)
        connected.deliver()
        key = meeting_key(copies[ALEX.oid].ical_uid, start)
        for person in (ALEX, BLAKE):
            event = connected.event(person, key)
            assert event is None or event.deleted

    def test_each_occurrence_of_a_recurring_meeting_is_one_event(self, connected: CaptureHarness) -> None:
        graph = connected.tenant.graph
        now = connected.clock.now()
        first = (now - timedelta(days=3)).replace(hour=14, minute=0, second=0, microsecond=0)
        series = graph.create_meeting(
            BLAKE.email,
            subject="Weekly docket review",
            start=first,
            end=first + timedelta(minutes=30),
            attendees=[ALEX.email],
            time_zone="UTC",
            recurrence=Recurrence(pattern="daily", start_date=first.date(), occurrences=3),
        )
        graph.respond(ALEX.email, series[ALEX.oid].item_key, "accepted")
        connected.deliver()
        for person, copy in ((ALEX, series[ALEX.oid]), (BLAKE, series[BLAKE.oid])):
            keys = sorted(e.key for e in connected.events(person) if e.kind is EventKind.MEETING)
            expected = sorted(meeting_key(copy.ical_uid, first + timedelta(days=d)) for d in range(3))
            assert keys == expected, person.user_id
            assert all(
                e.subject == "Weekly docket review"
                for e in connected.events(person)
                if e.kind is EventKind.MEETING
            )

    def test_a_meeting_still_to_come_is_captured_once_it_has_ended(self, connected: CaptureHarness) -> None:
        graph = connected.tenant.graph
        start = connected.clock.now() + timedelta(hours=1)
        copy = graph.create_meeting(
            ALEX.email,
            subject="Client lunch",
            start=start,
            end=start + timedelta(hours=1),
            attendees=[CLIENT],
        )[ALEX.oid]
        connected.deliver()
        key = meeting_key(copy.ical_uid, start)
        assert connected.event(ALEX, key) is None
        connected.clock.advance(hours=2, minutes=5)
        assert connected.service.maintain(connected.firm_id)["released"] == 1
        event = connected.event(ALEX, key)
        assert event is not None and event.seconds == 3600
        assert connected.service.maintain(connected.firm_id)["released"] == 0


# ---------------------------------------------------------------- duplicates, replays, storms, expiry


class TestNothingLostNothingDoubled:
    def test_duplicate_notifications_and_replayed_delta_pages_add_nothing(
        self, connected: CaptureHarness
    ) -> None:
        graph = connected.tenant.graph
        sent = graph.send_message(ALEX.email, to=[CLIENT], subject="Engagement letter")
        connected.deliver()
        before = versions(connected)
        graph.replay_last_change(ALEX.email, "sentitems", copies=2)
        connected.deliver()
        connected.service.sync_now(connected.admin())
        connected.drain()
        connected.service.sync_now(connected.admin())
        connected.drain()
        assert versions(connected) == before
        assert len([e for e in connected.events(ALEX) if e.key == compose_key(sent.internet_message_id)]) == 1

    def test_notifications_for_one_folder_queue_one_sync_however_many_arrive(
        self, connected: CaptureHarness
    ) -> None:
        subscription = connected.mailboxes().subscription(connected.firm_id, ALEX.user_id, Folder.INBOX)
        assert subscription is not None
        # Graph's own notification for this subscription carries the clientState we gave it.
        client_state = next(
            s.client_state
            for s in connected.tenant.graph.notifications.all()
            if s.subscription_id == subscription.subscription_id
        )
        item = {
            "subscriptionId": subscription.subscription_id,
            "clientState": client_state,
            "changeType": "updated",
        }
        for _ in range(3):
            assert post_webhook(connected, {"value": [item, item]}).status_code == 202
        assert [job["folder"] for job in connected.queue.take()] == ["inbox"]

    def test_a_429_storm_loses_nothing_and_doubles_nothing(self, connected: CaptureHarness) -> None:
        graph = connected.tenant.graph
        sent = [graph.send_message(ALEX.email, to=[CLIENT], subject=f"Storm {n}") for n in range(7)]
        graph.throttle(ALEX.email, count=9, retry_after=0.25)
        connected.deliver()
        keys = [compose_key(message.internet_message_id) for message in sent]
        assert all(connected.event(ALEX, key) is not None for key in keys)
        assert len([e for e in connected.events(ALEX) if e.kind is EventKind.COMPOSE]) == 7
        assert 0.25 in connected.sleep.waits  # Retry-After honoured, to the fraction

    def test_throttling_longer_than_the_clients_patience_is_retried_by_the_queue(
        self, connected: CaptureHarness
    ) -> None:
        graph = connected.tenant.graph
        sent = graph.send_message(ALEX.email, to=[CLIENT], subject="Patience")
        graph.throttle(ALEX.email, count=8, retry_after=0.5)  # the client gives up after 6 retries
        connected.deliver()
        assert connected.failures, "the first attempt should have been handed back to the queue"
        assert connected.event(ALEX, compose_key(sent.internet_message_id)) is not None

    def test_an_expired_delta_token_means_a_full_resync_with_no_duplicates(
        self, connected: CaptureHarness
    ) -> None:
        graph = connected.tenant.graph
        first = graph.send_message(ALEX.email, to=[CLIENT], subject="Before expiry")
        read = graph.deliver_message(ALEX.email, sender=CLIENT, subject="Read before expiry", is_read=True)
        connected.deliver()
        before = versions(connected)
        graph.expire_delta_tokens(ALEX.email)
        later = graph.send_message(ALEX.email, to=[CLIENT], subject="After expiry")
        connected.deliver()
        after = versions(connected)
        assert {k: v for k, v in after.items() if k in before} == before
        assert compose_key(later.internet_message_id) in after
        assert compose_key(first.internet_message_id) in after and read_key(read.internet_message_id) in after
        state = connected.mailboxes().sync_state(connected.firm_id, ALEX.user_id, Folder.SENT)
        assert state.full_syncs == 1 and state.round_complete


# ---------------------------------------------------------------- subscriptions


class TestSubscriptions:
    def test_a_subscription_past_half_its_life_is_renewed(self, connected: CaptureHarness) -> None:
        before = connected.mailboxes().subscription(connected.firm_id, ALEX.user_id, Folder.SENT)
        assert before is not None
        connected.advance(timedelta(minutes=2101))
        counts = connected.service.maintain(connected.firm_id)
        after = connected.mailboxes().subscription(connected.firm_id, ALEX.user_id, Folder.SENT)
        assert counts["renewed"] == 6 and after is not None
        assert after.subscription_id == before.subscription_id and after.renewals == 1
        assert after.expires_at > before.expires_at

    def test_an_expired_subscription_is_recreated_and_its_folder_resynced(
        self, connected: CaptureHarness
    ) -> None:
        graph = connected.tenant.graph
        old = connected.mailboxes().subscription(connected.firm_id, ALEX.user_id, Folder.INBOX)
        assert old is not None
        graph.expire_subscription(old.subscription_id)
        missed = graph.deliver_message(
            ALEX.email, sender=CLIENT, subject="While nobody listened", is_read=True
        )
        connected.deliver()
        assert connected.event(ALEX, read_key(missed.internet_message_id)) is None  # no notification came
        connected.advance(old.expires_at + timedelta(minutes=1) - connected.clock.now())
        connected.service.maintain(connected.firm_id)
        connected.drain()
        new = connected.mailboxes().subscription(connected.firm_id, ALEX.user_id, Folder.INBOX)
        assert new is not None and new.subscription_id != old.subscription_id
        assert connected.mailboxes().subscription_by_id(old.subscription_id) is None
        assert connected.event(ALEX, read_key(missed.internet_message_id)) is not None

    @pytest.mark.parametrize(
        ("event", "outcome"),
        [
            ("reauthorizationRequired", "renewed"),
            ("subscriptionRemoved", "recreated"),
            ("missed", "resynced"),
        ],
    )
    def test_lifecycle_events_renew_recreate_or_resync(
        self, connected: CaptureHarness, event: str, outcome: str
    ) -> None:
        graph = connected.tenant.graph
        old = connected.mailboxes().subscription(connected.firm_id, ALEX.user_id, Folder.SENT)
        assert old is not None
        unseen = graph.send_message(ALEX.email, to=[CLIENT], subject="Sent meanwhile")
        graph.notifications.wait_until_idle(TIMEOUT)
        connected.queue.take()  # the notification got lost, as far as we are concerned
        graph.fire_lifecycle(old.subscription_id, event)
        connected.deliver()
        new = connected.mailboxes().subscription(connected.firm_id, ALEX.user_id, Folder.SENT)
        assert new is not None
        if outcome == "renewed":
            assert new.subscription_id == old.subscription_id and new.renewals == 1
        elif outcome == "recreated":
            assert new.subscription_id != old.subscription_id
        if outcome != "renewed":
            assert connected.event(ALEX, compose_key(unseen.internet_message_id)) is not None


# ---------------------------------------------------------------- the webhook's guard


class TestWebhook:
    def test_the_validation_handshake_echoes_the_decoded_token_as_plain_text(
        self, harness: CaptureHarness
    ) -> None:
        token = "Validation: Testing client application reachability & more"
        for path in ("/webhooks/graph", "/webhooks/graph/lifecycle"):
            reply = requests.post(
                f"{harness.api_base_url}{path}",
                params={"validationToken": token},
                headers={"Content-Type": "text/plain; charset=utf-8"},
                timeout=TIMEOUT,
            )
            assert reply.status_code == 200 and reply.text == token
            assert reply.headers["Content-Type"].startswith("text/plain")

    def test_a_notification_with_the_wrong_client_state_changes_nothing(
        self, connected: CaptureHarness
    ) -> None:
        subscription = connected.mailboxes().subscription(connected.firm_id, ALEX.user_id, Folder.SENT)
        assert subscription is not None
        before = sorted(json.dumps(item, sort_keys=True, default=str) for item in connected.table.all_items())
        forged = {
            "value": [
                {
                    "subscriptionId": subscription.subscription_id,
                    "clientState": "guessed",
                    "changeType": "created",
                },
                {"subscriptionId": "no-such-subscription", "clientState": "guessed", "changeType": "created"},
            ]
        }
        assert post_webhook(connected, forged).status_code == 202
        assert connected.queue.take() == []
        after = sorted(json.dumps(item, sort_keys=True, default=str) for item in connected.table.all_items())
        assert after == before

    @pytest.mark.parametrize(
        "body",
        [
            b"",
            b"{not json",
            b"[]",
            json.dumps({"value": []}),
            json.dumps({"value": [{"clientState": "x"}]}),
            json.dumps({"value": [{"subscriptionId": ""}]}),
            json.dumps({"value": "nope"}),
        ],
    )
    def test_a_bad_webhook_body_gets_a_4xx(self, harness: CaptureHarness, body: bytes | str) -> None:
        reply = post_webhook(harness, body)
        assert 400 <= reply.status_code < 500
        assert harness.queue.take() == []


# ---------------------------------------------------------------- admin routes and tokens


class TestAdministration:
    def test_an_admin_connects_sees_the_status_switches_a_user_and_syncs_over_the_api(
        self, harness: CaptureHarness, token_mint
    ) -> None:
        token = token_mint.token(tenant=TENANT_ID, oid=FIONA.oid, email=FIONA.email)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        base = f"{harness.api_base_url}/connections/microsoft"
        body = {"users": [{"user_id": ALEX.user_id}, {"user_id": BLAKE.user_id, "enabled": False}]}
        connected = requests.put(base, json=body, headers=headers, timeout=TIMEOUT)
        assert connected.status_code == 200, connected.text
        assert connected.json()["tenant_id"] == TENANT_ID
        harness.drain()
        status = requests.get(base, headers=headers, timeout=TIMEOUT).json()
        alex = next(u for u in status["users"] if u["user_id"] == ALEX.user_id)
        assert {f["folder"] for f in alex["folders"] if f["subscription_id"] and f["last_synced_at"]} == {
            "sentitems",
            "inbox",
            "calendar",
        }
        switched = requests.put(
            f"{base}/users/{BLAKE.user_id}", json={"enabled": True}, headers=headers, timeout=TIMEOUT
        )
        assert switched.status_code == 200 and switched.json()["enabled"] is True
        harness.drain()
        listed = requests.get(f"{base}/subscriptions", headers=headers, timeout=TIMEOUT).json()
        assert len(listed) == 6
        queued = requests.post(
            f"{base}/sync", params={"user_id": ALEX.user_id}, headers=headers, timeout=TIMEOUT
        )
        assert queued.status_code == 202 and queued.json()["queued"] == 3

    def test_a_firms_own_app_needs_its_secret_which_is_sealed_and_never_shown(
        self, harness: CaptureHarness, token_mint
    ) -> None:
        token = token_mint.token(tenant=TENANT_ID, oid=FIONA.oid, email=FIONA.email)
        headers = {"Authorization": f"Bearer {token}"}
        url = f"{harness.api_base_url}/connections/microsoft"
        own_app = "0b7d1f9e-0000-4c1a-8e11-00000000f00d"
        refused = requests.put(url, json={"client_id": own_app}, headers=headers, timeout=TIMEOUT)
        assert refused.status_code == 422 and "client_secret" in refused.json()["detail"]
        body = {
            "client_id": own_app,
            "client_secret": "s3cr3t-of-the-firm",
            "users": [{"user_id": ALEX.user_id}],
        }
        accepted = requests.put(url, json=body, headers=headers, timeout=TIMEOUT)
        assert accepted.status_code == 200 and accepted.json()["own_app_secret"] is True
        shown = requests.get(url, headers=headers, timeout=TIMEOUT).text
        stored = json.dumps(harness.table.all_items(), default=str)
        assert "s3cr3t-of-the-firm" not in shown + accepted.text + stored

    def test_an_ews_connection_without_an_https_endpoint_is_refused(
        self, harness: CaptureHarness, token_mint
    ) -> None:
        token = token_mint.token(tenant=TENANT_ID, oid=FIONA.oid, email=FIONA.email)
        reply = requests.put(
            f"{harness.api_base_url}/connections/microsoft",
            json={"protocol": "ews", "ews_endpoint": "http://mail.lovelace.law/EWS/Exchange.asmx"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=TIMEOUT,
        )
        assert reply.status_code == 422
        assert [e["field"] for e in reply.json()["errors"]] == ["ews_endpoint"]
        assert harness.queue.take() == []

    def test_an_attorney_cannot_connect_the_firm(self, harness: CaptureHarness, token_mint) -> None:
        token = token_mint.token(tenant=TENANT_ID, oid=ALEX.oid, email=ALEX.email)
        reply = requests.put(
            f"{harness.api_base_url}/connections/microsoft",
            json={},
            headers={"Authorization": f"Bearer {token}"},
            timeout=TIMEOUT,
        )
        assert reply.status_code == 403

    def test_app_tokens_are_cached_in_the_table_and_reused_by_a_cold_worker(
        self, connected: CaptureHarness
    ) -> None:
        from chalicelib.adapters.microsoft.gateway import GraphSettings, MicrosoftGateway

        connection = connected.mailboxes().connection(connected.firm_id)
        assert connection is not None
        assert connected.mailboxes().load(connected.firm_id, TENANT_ID, connection.client_id)
        cold = MicrosoftGateway(
            GraphSettings(
                graph_base_url=connected.tenant.base_url,
                authority_base=connected.tenant.base_url,
                default_client_id=connection.client_id,
                default_client_secret="not-needed-while-the-cached-token-is-valid",
                ca_bundle=connected.tenant.ca,
            ),
            token_caches=connected.mailboxes(),
            secret_box=PlainSecretBox(),  # the cache is sealed at rest: a Graph token reads every mailbox
        )
        pages = list(cold.source(connection).mail_changes(ALEX.email, Folder.SENT, None))
        assert pages and not pages[-1].more

    def test_the_add_ins_user_token_is_exchanged_on_behalf_of_the_user(
        self, connected: CaptureHarness
    ) -> None:
        from tests.support.m365 import APP_ID, APP_ID_URI

        connection = connected.mailboxes().connection(connected.firm_id)
        assert connection is not None
        assertion = connected.tenant.identity.issue_access_token(
            TENANT_ID, ALEX.oid, APP_ID_URI, client_id=APP_ID, scopes=("access_as_user",)
        )
        token = connected.gateway.tokens(connection).on_behalf_of(assertion)
        me = requests.get(
            f"{connected.tenant.base_url}/v1.0/me/mailFolders('sentitems')/messages",
            headers={"Authorization": f"Bearer {token}"},
            verify=connected.tenant.ca,
            timeout=TIMEOUT,
        )
        assert me.status_code == 200, me.text


# ---------------------------------------------------------------- concurrency


def test_no_more_than_four_requests_are_ever_in_flight_for_one_mailbox(connected: CaptureHarness) -> None:
    import threading

    graph = connected.tenant.graph
    connection = connected.mailboxes().connection(connected.firm_id)
    assert connection is not None
    client = connected.gateway.graph_client(connection)
    url = client.url(f"/v1.0/users/{ALEX.email}/mailFolders('inbox')/messages/delta")
    seen: list[int] = []
    results: list[int] = []
    with graph.hold_requests():
        threads = [
            threading.Thread(target=lambda: results.append(len(client.get_json(url, mailbox=ALEX.email))))
            for _ in range(9)
        ]
        for thread in threads:
            thread.start()
        deadline = datetime.now().timestamp() + TIMEOUT
        while graph.in_flight(ALEX.email) < 4 and datetime.now().timestamp() < deadline:
            seen.append(graph.in_flight(ALEX.email))
        seen.append(graph.in_flight(ALEX.email))
    for thread in threads:
        thread.join(TIMEOUT)
    assert max(seen) == 4 and len(results) == 9
    assert client.throttled == 0


# ---------------------------------------------------------------- crashes and concurrent workers


class TestCrashesAndRaces:
    def test_a_worker_killed_between_storing_captures_and_the_state_replays_without_duplicates(
        self, connected: CaptureHarness, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from chalicelib.adapters.persistence.mailboxes import TableMailboxRepository

        graph = connected.tenant.graph
        sent = [
            graph.send_message(ALEX.email, to=[CLIENT], subject=f"Before the crash {n}") for n in range(7)
        ]
        original = TableMailboxRepository.save_sync_state
        writes: list[str | None] = []

        def killed_after_the_first_page(self: TableMailboxRepository, state):
            writes.append(state.state)
            if len(writes) >= 2:  # the lease was taken, the first page's captures stored: the process dies
                raise SystemError("the Lambda was killed")
            return original(self, state)

        monkeypatch.setattr(TableMailboxRepository, "save_sync_state", killed_after_the_first_page)
        connected.deliver()
        monkeypatch.setattr(TableMailboxRepository, "save_sync_state", original)
        stored = [e.key for e in connected.events(ALEX) if e.kind is EventKind.COMPOSE]
        assert 0 < len(stored) < 7  # the first page made it, the state did not move on
        connected.advance(timedelta(minutes=11))  # the dead worker's lease runs out
        connected.service.sync_now(connected.admin(), ALEX.user_id)
        connected.drain()
        keys = [e.key for e in connected.events(ALEX) if e.kind is EventKind.COMPOSE]
        assert sorted(keys) == sorted(compose_key(m.internet_message_id) for m in sent)

    def test_a_folder_another_worker_holds_is_tried_again_later_not_synced_twice(
        self, connected: CaptureHarness
    ) -> None:
        from dataclasses import replace

        from chalicelib.domain.m365 import SyncTarget

        repository = connected.mailboxes()
        state = repository.sync_state(connected.firm_id, ALEX.user_id, Folder.INBOX)
        repository.save_sync_state(
            replace(state, lease_owner="sqs:other", lease_until=connected.clock.now() + timedelta(minutes=5))
        )
        target = SyncTarget(connected.firm_id, ALEX.user_id, Folder.INBOX)
        outcome = connected.service.run_sync_job(target, 0, worker="sqs:me")
        assert outcome.status == "busy"
        assert connected.queue.waiting() == [({**_job(target), "attempt": 1}, 15)]
        connected.queue.take()
        assert connected.service.run_sync_job(target, 3, worker="sqs:me").status == "busy"
        assert connected.queue.take() == []  # three tries are enough: the holder syncs what is there


def _job(target):
    from chalicelib.services.mailbox_sync import sync_job

    return sync_job(target)


def test_a_long_sync_is_split_into_runs_of_a_few_pages_each(connected: CaptureHarness) -> None:
    from dataclasses import replace

    connected.service.settings = replace(connected.service.settings, max_pages_per_run=2)
    graph = connected.tenant.graph
    read = [
        graph.deliver_message(ALEX.email, sender=CLIENT, subject=f"Bundle {n}", is_read=True)
        for n in range(12)
    ]
    ran = connected.deliver()
    inbox_runs = [job for job in ran if job.get("folder") == "inbox"]
    assert len(inbox_runs) >= 2  # the first run paused after two pages and queued its continuation
    assert all(connected.event(ALEX, read_key(message.internet_message_id)) for message in read)


class TestOnPremisesExchange:
    def test_an_ews_connection_is_polled_by_maintenance_and_captures_like_graph(
        self, harness: CaptureHarness
    ) -> None:
        from chalicelib.domain.m365 import MailProtocol
        from chalicelib.services.mailbox_sync import ConnectRequest

        harness.service.connect(
            harness.admin(),
            ConnectRequest(
                tenant_id=TENANT_ID,
                protocol=MailProtocol.EWS,
                ews_endpoint=f"{harness.tenant.base_url}/EWS/Exchange.asmx",
                users=[(ALEX.user_id, True, None)],
            ),
        )
        harness.drain()
        assert harness.mailboxes().subscriptions(harness.firm_id) == []  # EWS has no push here: polled
        graph = harness.tenant.graph
        graph.send_message(ALEX.email, to=[CLIENT], subject="Filed by EWS", correlation_id="draft-ews")
        read = graph.deliver_message(ALEX.email, sender=CLIENT, subject="Read on premises", is_read=True)
        harness.service.maintain(harness.firm_id)
        harness.drain()
        sent = harness.event(ALEX, compose_key("draft-ews"))
        assert sent is not None and sent.sent and sent.sources == {Source.EWS}
        assert harness.event(ALEX, read_key(read.internet_message_id)) is not None
