"""Ended sessions: recorded by one replica, refused by every replica of a service."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from services.common.auth import Caller, Role
from services.common.db import ensure_schema, open_pool
from services.common.envelope import ContractViolation, Envelope, parse_message
from services.common.relay import envelope_for
from services.common.session_ends import KEPT_FOR, EndedSessions
from services.identity.application import (
    SESSIONS_PER_FACT,
    IdentityApplication,
    publication,
)


def sessions_ended(*sessions: uuid.UUID, at: datetime | None = None) -> Envelope:
    account = uuid.uuid4()
    return Envelope(
        event_id=uuid.uuid4(),
        type="sessions_ended",
        version=1,
        occurred_at=at or datetime.now(UTC),
        producer="identity",
        aggregate_id=str(account),
        aggregate_version=2,
        data={
            "account_id": str(account),
            "session_ids": [str(s) for s in sessions],
            "reason": "signed_out",
        },
    )


def caller(session: uuid.UUID | None) -> Caller:
    return Caller(uuid.uuid4(), frozenset({Role.APPLICANT}), session)


@pytest.fixture
def replicas(settings):
    """Two replicas' records of one service's ended sessions."""
    pool = open_pool(settings.database, max_size=4)
    schema = f"sessions_{uuid.uuid4().hex[:8]}"
    ensure_schema(pool, schema)
    pair = EndedSessions(pool, schema), EndedSessions(pool, schema)
    for replica in pair:
        replica.setup()
    yield pair
    pool.close()


def test_the_consuming_replica_refuses_at_once_and_its_sibling_after_a_reload(
    replicas,
):
    consumer, sibling = replicas
    ended, open_ = uuid.uuid4(), uuid.uuid4()

    consumer.record(sessions_ended(ended))

    assert consumer.has_ended(caller(ended))
    assert not sibling.has_ended(caller(ended))
    sibling.reload()
    assert sibling.has_ended(caller(ended))
    assert not sibling.has_ended(caller(open_))


def test_the_same_fact_twice_changes_nothing_and_a_new_replica_knows_it(replicas):
    consumer, _ = replicas
    sessions = uuid.uuid4(), uuid.uuid4()
    fact = sessions_ended(*sessions)

    consumer.record(fact)
    consumer.record(fact)
    started_later = EndedSessions(consumer.pool, consumer.schema)
    started_later.setup()

    assert all(started_later.has_ended(caller(s)) for s in sessions)


def test_sessions_ended_longer_ago_than_a_token_lives_are_forgotten(replicas):
    consumer, _ = replicas
    old, recent = uuid.uuid4(), uuid.uuid4()
    consumer.record(sessions_ended(old, at=datetime.now(UTC) - KEPT_FOR - timedelta(1)))
    consumer.record(sessions_ended(recent))

    consumer.reload()

    with consumer.pool.connection() as conn:
        kept = conn.execute(
            f"SELECT session_id FROM {consumer.schema}.ended_sessions"
        ).fetchall()
    assert [row[0] for row in kept] == [recent]


def test_a_token_without_a_session_is_never_taken_for_an_ended_one(replicas):
    consumer, _ = replicas
    consumer.record(sessions_ended(uuid.uuid4()))

    assert not consumer.has_ended(caller(None))


def test_another_fact_on_the_sessions_queue_is_a_contract_violation(replicas):
    consumer, _ = replicas
    fact = sessions_ended(uuid.uuid4())
    wrong = Envelope(**{**vars(fact), "type": "password_changed"})

    with pytest.raises(ContractViolation):
        consumer.record(wrong)


def test_an_account_signed_in_on_many_devices_ends_them_in_facts_within_the_contract(
    settings,
):
    pool = open_pool(settings.database, max_size=1)
    ensure_schema(pool, "identity")
    pool.close()
    app = IdentityApplication.from_settings(settings, "identity")
    account_id = app.register("13900001234", "an argon2 hash", [Role.APPLICANT])
    sessions = tuple(uuid.uuid4() for _ in range(2 * SESSIONS_PER_FACT + 1))

    app.change_password(account_id, "another argon2 hash", sessions)

    facts = [
        envelope_for(domain_event, "identity", publication)
        for domain_event in app.repository.event_store.get(account_id)
    ]
    ended = [
        parse_message(fact.to_json(), "application/json")
        for fact in facts
        if fact is not None and fact.type == "sessions_ended"
    ]
    named = [session for fact in ended for session in fact.data["session_ids"]]
    assert [len(fact.data["session_ids"]) for fact in ended] == [
        SESSIONS_PER_FACT,
        SESSIONS_PER_FACT,
        1,
    ]
    assert named == [str(session) for session in sessions]
    assert {fact.data["reason"] for fact in ended} == {"password_changed"}
