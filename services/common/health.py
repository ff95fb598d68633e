"""Liveness and readiness, as Kubernetes probes ask for them.

Live: the process answers HTTP at all. Ready: it can do its work, because its
database answers a `SELECT 1` through the service's own pool and its broker
answers on a connection kept for the purpose. A service that is not ready keeps
running and retrying; Kubernetes only stops sending it requests meanwhile.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from eventlet import Timeout
from nameko.extensions import DependencyProvider
from psycopg_pool import ConnectionPool

from services.common.amqp import open_connection
from services.common.dependencies import EventStore, settings_of
from services.common.topology import exchange_name

log = logging.getLogger(__name__)

# Each probe gives up after this long: kubelet's own timeout is a little longer,
# so a hung dependency answers 503 instead of leaving a worker waiting.
CHECK_SECONDS = 4
POOL_WAIT_SECONDS = 2

DATABASE = "database"
BROKER = "broker"

# What a person sees when a probe (or a curious operator) asks a service that
# cannot work right now; the code is the entrypoint's, the words are shared.
UNREACHABLE_IN_WORDS = {DATABASE: "数据库", BROKER: "消息队列"}


def not_ready_message(unreachable: list[str]) -> str:
    names = "、".join(UNREACHABLE_IN_WORDS[what] for what in unreachable)
    return f"服务暂时无法连接{names}，恢复后会自动继续。"


class Health:
    """Answers whether the service's database and broker can be reached now."""

    def __init__(
        self, pool: Callable[[], ConnectionPool], amqp_uri: str, exchange: str
    ):
        self._pool = pool
        self._amqp_uri = amqp_uri
        self._exchange = exchange
        self._connection: Any = None
        self._channel: Any = None
        self._lock = threading.Lock()

    def unreachable(self) -> list[str]:
        """Names of the dependencies that did not answer, in a stable order."""
        down = []
        if not self._bounded(self._database_answers):
            down.append(DATABASE)
        if not self._bounded(self._broker_answers):
            down.append(BROKER)
        if down:
            log.warning("not ready: %s unreachable", ", ".join(down))
        return down

    def close(self) -> None:
        with self._lock:
            self._discard()

    def _bounded(self, check: Callable[[], None]) -> bool:
        try:
            with Timeout(CHECK_SECONDS):
                check()
        except (Exception, Timeout):
            return False
        return True

    def _database_answers(self) -> None:
        with self._pool().connection(timeout=POOL_WAIT_SECONDS) as conn:
            conn.execute("SELECT 1")

    def _broker_answers(self) -> None:
        # A kept connection costs the broker nothing between probes; a connection
        # that went stale is replaced once before the broker counts as unreachable.
        with self._lock:
            try:
                self._declare_exchange_passively()
            except Exception:
                self._discard()
                self._declare_exchange_passively()

    def _declare_exchange_passively(self) -> None:
        if self._connection is None:
            self._connection = open_connection(self._amqp_uri)
            self._channel = self._connection.channel()
        # Passive: only asks whether the service's exchange exists, changes nothing.
        self._channel.exchange_declare(self._exchange, "topic", passive=True)

    def _discard(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.close()
            except Exception:  # already broken; there is nothing left to close
                log.debug("closing the readiness connection failed", exc_info=True)


class Readiness(DependencyProvider):
    """Gives entrypoints the service's `Health`, checked through its own pool."""

    def setup(self) -> None:
        settings = settings_of(self.container)
        service = self.container.service_name
        self.health = Health(
            self._event_store_pool, settings.amqp_uri, exchange_name(service)
        )

    def stop(self) -> None:
        self.health.close()

    def get_dependency(self, worker_ctx: Any) -> Health:
        return self.health

    def _event_store_pool(self) -> ConnectionPool:
        # Looked up when asked, not at setup: Nameko sets extensions up in no
        # particular order, and the event store opens its pool in its own setup.
        for dependency in self.container.dependencies:
            if isinstance(dependency, EventStore):
                return dependency.pool
        raise LookupError(f"{self.container.service_name} has no event store")
