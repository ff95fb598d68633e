"""Real PostgreSQL databases and RabbitMQ virtual hosts: one of each per test."""

from __future__ import annotations

import functools
import os
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import psycopg
import requests
from psycopg import sql

from services.common.keys import make_keys
from services.common.settings import Settings, load_settings

T = TypeVar("T")

PG_ADMIN = os.environ.get(
    "XJCERT_TEST_PG_ADMIN", "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
)
RABBIT_API = os.environ.get("XJCERT_TEST_RABBIT_API", "http://127.0.0.1:15672/api")
RABBIT_AUTH = ("guest", "guest")
AMQP_HOST = os.environ.get("XJCERT_TEST_AMQP_HOST", "127.0.0.1:5672")


def eventually(
    check: Callable[[], T], timeout: float = 30, interval: float = 0.2, what: str = ""
) -> T:
    """Retry `check` until it returns a truthy value; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"gave up waiting {timeout}s for {what or check}: {last!r}")


class ScratchDatabase:
    def __init__(self) -> None:
        self.name = f"xjcert_test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(
                sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.name))
            )
        self.url = f"postgresql://postgres@127.0.0.1:5432/{self.name}"

    def connect(self) -> psycopg.Connection:
        return psycopg.connect(
            f"host=127.0.0.1 port=5432 user=postgres dbname={self.name}",
            autocommit=True,
        )

    def scalar(self, query: str, *params: Any) -> Any:
        with self.connect() as conn:
            row = conn.execute(query, params).fetchone()
        return row[0] if row else None

    def drop(self) -> None:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(self.name)
                )
            )


class ScratchVhost:
    def __init__(self) -> None:
        self.name = f"xjcert-test-{uuid.uuid4().hex[:12]}"
        self._api("PUT", f"vhosts/{self.name}")
        self._api(
            "PUT",
            f"permissions/{self.name}/guest",
            json={"configure": ".*", "write": ".*", "read": ".*"},
        )
        self.amqp_uri = f"amqp://guest:guest@{AMQP_HOST}/{quote(self.name, safe='')}"

    def queue_depth(self, queue: str) -> int:
        """Ready plus unacknowledged messages, as the broker counts them now."""
        info = self._api("GET", f"queues/{self.name}/{quote(queue, safe='')}").json()
        return int(info.get("messages", 0))

    def close_connections(self) -> int:
        """Cut every client connection of this virtual host, like a network fault."""
        connections = self._api("GET", f"vhosts/{self.name}/connections").json()
        for connection in connections:
            self._api(
                "DELETE",
                f"connections/{quote(connection['name'], safe='')}",
                ok=(204, 404),
            )
        return len(connections)

    def drop(self) -> None:
        self._api("DELETE", f"vhosts/{self.name}", ok=(204, 404))

    def _api(
        self, method: str, path: str, ok: tuple[int, ...] = (200, 201, 204), **kw: Any
    ) -> requests.Response:
        response = requests.request(
            method, f"{RABBIT_API}/{path}", auth=RABBIT_AUTH, timeout=10, **kw
        )
        if response.status_code not in ok:
            raise RuntimeError(
                f"RabbitMQ management API {method} {path}: {response.status_code} "
                f"{response.text[:200]} (is the rabbitmq_management plugin enabled?)"
            )
        return response


def settings_for(
    database: ScratchDatabase, vhost: ScratchVhost, **extra: str
) -> Settings:
    return load_settings(environment_for(database, vhost, **extra))


def environment_for(
    database: ScratchDatabase, vhost: ScratchVhost, **extra: str
) -> dict:
    return {
        "XJCERT_DATABASE_URL": database.url,
        "XJCERT_AMQP_URI": vhost.amqp_uri,
        **secret_files(),
        **extra,
    }


@functools.cache
def secret_files() -> dict[str, str]:
    """Secret files made once per test run, as `make run` makes them for a developer."""
    return make_keys(Path(tempfile.mkdtemp(prefix="xjcert-test-keys-")))
