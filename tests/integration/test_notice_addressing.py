"""A holder's notice is texted and e-mailed whichever order its facts are handled in.

Notifications takes identity's account facts, its own channel choices and the
other services' facts on separate queues. After a restart with a backlog, a
booking can be handled before the account fact that gives the holder's mobile
number, or before the channel choice the holder made first. These tests hand
the projections the facts in those orders against PostgreSQL and read the
deliveries they queued.
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from services.common.db import ensure_schema, open_pool
from services.common.envelope import Envelope
from services.notifications.templates import Templates
from services.notifications.views import (
    STALE_AFTER,
    DistributionFacts,
    OwnFacts,
    Recipients,
)

MOBILE = "13912345678"
EMAIL = "holder@example.cn"


class Facts:
    """The facts of one holder, stamped with the times they happened."""

    def __init__(self) -> None:
        self.account_id = str(uuid.uuid4())
        self.choice_id = str(uuid.uuid4())
        self.choices = 0
        self.clock = datetime.now(UTC) - timedelta(hours=1)

    def _fact(self, producer, kind, aggregate_id, version, data) -> Envelope:
        self.clock += timedelta(minutes=1)
        return Envelope(
            event_id=uuid.uuid4(),
            type=kind,
            version=1,
            occurred_at=self.clock,
            producer=producer,
            aggregate_id=aggregate_id,
            aggregate_version=version,
            data=data,
        )

    def registered(self) -> Envelope:
        data = {"account_id": self.account_id, "mobile": MOBILE}
        return self._fact("identity", "applicant_registered", self.account_id, 1, data)

    def chose(self, sms: bool, email: str | None) -> Envelope:
        self.choices += 1
        data = {"sms": sms, "email": email}
        if self.choices == 1:
            data["account_id"] = self.account_id
        return self._fact(
            "notifications",
            "notification_channels_chosen",
            self.choice_id,
            self.choices,
            data,
        )

    def booked(self, age: timedelta | None = None) -> Envelope:
        starts_at = datetime.now(UTC) + timedelta(days=7)
        fact = self._fact(
            "distribution",
            "booking_made",
            str(uuid.uuid4()),
            1,
            {
                "account_id": self.account_id,
                "starts_at": starts_at.isoformat(),
                "ends_at": (starts_at + timedelta(minutes=30)).isoformat(),
            },
        )
        if age is not None:
            fact = replace(fact, occurred_at=datetime.now(UTC) - age)
        return fact


class Notifications:
    """The projections of the notifications service, on a schema of their own."""

    def __init__(self, pool, schema: str) -> None:
        self.pool, self.schema = pool, schema
        self.recipients = self._projection(Recipients)
        self.own_facts = self._projection(OwnFacts)
        self.distribution = self._projection(DistributionFacts)

    def _projection(self, kind):
        projection = kind(self.pool, self.schema)
        projection.templates = Templates.default()
        projection.channels = frozenset({"sms", "email"})
        projection.setup()
        return projection

    def handle(self, fact: Envelope) -> None:
        by_producer = {
            "identity": self.recipients,
            "notifications": self.own_facts,
            "distribution": self.distribution,
        }
        by_producer[fact.producer].handle(fact)

    def deliveries(self, account_id: str) -> list[tuple[str, str]]:
        with self.pool.connection() as conn:
            rows = conn.execute(
                f"SELECT n.kind, d.channel FROM {self.schema}.deliveries d "
                f"JOIN {self.schema}.notices n USING (notice_id) "
                "WHERE n.account_id = %s ORDER BY n.fact_at, d.channel",
                (account_id,),
            ).fetchall()
        return [tuple(row) for row in rows]

    def inbox(self, account_id: str) -> list[str]:
        with self.pool.connection() as conn:
            rows = conn.execute(
                f"SELECT kind FROM {self.schema}.notices WHERE account_id = %s",
                (account_id,),
            ).fetchall()
        return [row[0] for row in rows]


@pytest.fixture
def notifications(settings):
    pool = open_pool(settings.database, max_size=8)
    schema = f"notices_{uuid.uuid4().hex[:8]}"
    ensure_schema(pool, schema)
    yield Notifications(pool, schema)
    pool.close()


BOOKED_TEXT = [("appointment_booked", "sms")]


def test_a_booking_handled_before_the_account_fact_is_texted_when_it_arrives(
    notifications,
):
    holder = Facts()
    registered, booked = holder.registered(), holder.booked()

    notifications.handle(booked)
    assert notifications.inbox(holder.account_id) == ["appointment_booked"]
    assert notifications.deliveries(holder.account_id) == []

    notifications.handle(registered)
    assert notifications.deliveries(holder.account_id) == BOOKED_TEXT


def test_a_booking_handled_before_the_holders_first_choice_follows_that_choice(
    notifications,
):
    holder = Facts()
    registered, chose, booked = (
        holder.registered(),
        holder.chose(sms=False, email=EMAIL),
        holder.booked(),
    )

    for fact in (registered, booked, chose):
        notifications.handle(fact)

    assert notifications.deliveries(holder.account_id) == [
        ("appointment_booked", "email")
    ]


def test_a_choice_made_after_a_booking_does_not_change_how_it_was_told(
    notifications,
):
    holder = Facts()
    registered, booked, chose = (
        holder.registered(),
        holder.booked(),
        holder.chose(sms=True, email=EMAIL),
    )

    for fact in (booked, chose, registered):
        notifications.handle(fact)

    assert notifications.deliveries(holder.account_id) == BOOKED_TEXT


def test_each_delivery_is_queued_once_however_often_its_facts_come(notifications):
    holder = Facts()
    registered, chose, booked = (
        holder.registered(),
        holder.chose(sms=True, email=EMAIL),
        holder.booked(),
    )

    for fact in (booked, registered, chose, registered, booked, chose):
        notifications.handle(fact)

    assert notifications.deliveries(holder.account_id) == [
        ("appointment_booked", "email"),
        ("appointment_booked", "sms"),
    ]


def test_a_stale_fact_reaches_the_inbox_only_whenever_the_account_arrives(
    notifications,
):
    holder = Facts()
    registered = holder.registered()
    late = holder.booked(age=STALE_AFTER + timedelta(minutes=1))

    notifications.handle(late)
    notifications.handle(registered)
    notifications.handle(registered)

    assert notifications.inbox(holder.account_id) == ["appointment_booked"]
    assert notifications.deliveries(holder.account_id) == []


def test_a_booking_and_its_account_fact_handled_at_once_are_texted(notifications):
    """Each is handled in its own transaction on its own connection, as two
    consumers of different queues would."""
    holders = [Facts() for _ in range(40)]
    facts = [fact for h in holders for fact in (h.booked(), h.registered())]

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(notifications.handle, facts))

    missing = [h for h in holders if notifications.deliveries(h.account_id) == []]
    assert missing == []
