"""Readiness follows the database and the broker; liveness follows the process."""

from __future__ import annotations

import psycopg
from psycopg import sql

from tests.support.infrastructure import PG_ADMIN, eventually


def status_of(service, path: str) -> tuple[int, str | None]:
    answer = service.get(path)
    body = answer.json()
    return answer.status_code, body.get("status") or body["error"]["code"]


def ready_answer(service) -> tuple[int, str | None]:
    return status_of(service, "/health/ready")


def refuse_connections(database, allowed: bool) -> None:

    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(
            sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS {}").format(
                sql.Identifier(database.name), sql.SQL("true" if allowed else "false")
            )
        )
        if not allowed:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s",
                (database.name,),
            )


def test_ready_turns_503_while_the_database_is_unreachable_and_back(
    start_identity, database
):
    identity = start_identity()
    assert status_of(identity, "/health/live") == (200, "live")
    assert ready_answer(identity) == (200, "ready")

    refuse_connections(database, allowed=False)
    try:
        eventually(
            lambda: ready_answer(identity) == (503, "not_ready"),
            what="readiness to see the database gone",
        )
        assert "数据库" in identity.get("/health/ready").json()["error"]["message"]
        assert status_of(identity, "/health/live") == (200, "live")
    finally:
        refuse_connections(database, allowed=True)

    eventually(
        lambda: ready_answer(identity) == (200, "ready"),
        timeout=60,
        what="readiness after the database came back",
    )


def test_ready_turns_503_while_the_broker_refuses_the_service_and_back(
    start_identity, vhost
):
    identity = start_identity()
    assert ready_answer(identity) == (200, "ready")
    permissions = f"permissions/{vhost.name}/guest"

    vhost._api("DELETE", permissions, ok=(204,))
    # The management API lists a connection a few seconds after it opens.
    eventually(vhost.close_connections, what="the service's connections to cut")
    try:
        eventually(
            lambda: ready_answer(identity) == (503, "not_ready"),
            what="readiness to see the broker gone",
        )
        assert "消息队列" in identity.get("/health/ready").json()["error"]["message"]
    finally:
        vhost._api(
            "PUT",
            permissions,
            json={"configure": ".*", "write": ".*", "read": ".*"},
        )

    eventually(
        lambda: ready_answer(identity) == (200, "ready"),
        timeout=60,
        what="readiness after the broker came back",
    )
