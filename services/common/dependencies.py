"""Nameko dependency providers: the event store with its relay, and read models.

Connections open in `setup()` and close in `stop()`; entrypoints get the
application or the projection itself, never a connection.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from nameko.extensions import DependencyProvider, SharedExtension
from psycopg_pool import ConnectionPool

from services.common.amqp import ConfirmingPublisher
from services.common.db import ensure_schema, open_pool, schema_lock
from services.common.eventstore import ServiceApplication
from services.common.logs import set_call_context
from services.common.metrics import spine_metrics
from services.common.projection import OrderedProjection
from services.common.relay import Relay, Translate
from services.common.schedule import ScheduledJobs
from services.common.settings import Settings

log = logging.getLogger(__name__)

SETTINGS_KEY = "XJCERT_SETTINGS"
PARKED_WATCH_SECONDS = 15


class ReadSchemaStore(Protocol):
    def setup(self) -> None: ...


Store = TypeVar("Store", bound=ReadSchemaStore)


def settings_of(container: Any) -> Settings:
    return container.config[SETTINGS_KEY]


class CallContext(DependencyProvider):
    """Puts the worker's entrypoint and call id into every log record it writes."""

    def worker_setup(self, worker_ctx: Any) -> None:
        set_call_context(worker_ctx.entrypoint.method_name, worker_ctx.call_id)

    def worker_teardown(self, worker_ctx: Any) -> None:
        set_call_context(None, None)


class ServiceSettings(DependencyProvider):
    """The process's settings, for entrypoints that need one of them."""

    def get_dependency(self, worker_ctx: Any) -> Settings:
        return settings_of(self.container)


class EventStore(DependencyProvider):
    """The service's eventsourcing application, plus the relay that publishes it."""

    def __init__(self, app_class: type[ServiceApplication], translate: Translate):
        self.app_class = app_class
        self.translate = translate

    def setup(self) -> None:
        settings = settings_of(self.container)
        schema = self.container.service_name
        self.pool: ConnectionPool = open_pool(settings.database, max_size=3)
        with schema_lock(settings.database, schema):
            ensure_schema(self.pool, schema)
            self.app = self.app_class.from_settings(settings, schema)
        self.publisher = ConfirmingPublisher(settings.amqp_uri)
        self.relay = Relay(
            app=self.app,
            producer=self.container.service_name,
            translate=self.translate,
            publisher=self.publisher,
            pool=self.pool,
            metrics=spine_metrics(self.container.service_name),
            batch_size=settings.relay_batch_size,
        )
        with schema_lock(settings.database, schema):
            self.relay.setup()

    def start(self) -> None:
        self.container.spawn_managed_thread(self.relay.run, identifier="relay")

    def stop(self) -> None:
        self.relay.stop()
        self.publisher.close()
        self.app.close()
        self.pool.close()

    def get_dependency(self, worker_ctx: Any) -> ServiceApplication:
        return self.app


class ReadPool(SharedExtension):
    """One connection pool for all of a service's read models.

    A worker touches one read model at a time, so the service's workers need no
    more connections than there are workers, however many read models it keeps;
    a pool each would multiply the connections a replica holds.
    """

    def __init__(self) -> None:
        super().__init__()
        self._pool: ConnectionPool | None = None
        self._opening = threading.Lock()

    @property
    def pool(self) -> ConnectionPool:
        # Opened by whichever read model asks first: Nameko sets extensions up
        # in no particular order.
        with self._opening:
            if self._pool is None:
                settings = settings_of(self.container)
                size = settings.max_workers + 2
                self._pool = open_pool(settings.database, max_size=size)
        return self._pool

    def stop(self) -> None:
        if self._pool is not None:
            self._pool.close()


def in_read_schema(
    extension: Any, make: Callable[[ConnectionPool, str], Store]
) -> Store:
    """A store kept in the service's read schema ("<service>_read"), on the shared
    read pool; its tables are created by one replica at a time."""
    settings = settings_of(extension.container)
    schema = f"{extension.container.service_name}_read"
    pool = extension.read_pool.pool
    store = make(pool, schema)
    with schema_lock(settings.database, schema):
        ensure_schema(pool, schema)
        store.setup()
    return store


class ReadModel(DependencyProvider):
    """A projection in the service's read schema ("<service>_read")."""

    read_pool = ReadPool()

    def __init__(self, projection_class: type[OrderedProjection]):
        self.projection_class = projection_class

    def setup(self) -> None:
        self.projection = in_read_schema(self, self.projection_class)
        self._stopping = False

    def start(self) -> None:
        self.container.spawn_managed_thread(self._watch_parked, identifier="parked")

    def stop(self) -> None:
        self._stopping = True

    def _watch_parked(self) -> None:
        """Keep the parked-events gauge current: parked facts wait on a gap."""
        gauge = spine_metrics(self.container.service_name).parked
        while not self._stopping:
            try:
                gauge.labels(self.projection.name).set(self.projection.parked_count())
            except Exception:  # a database outage; the consumers report it too
                log.warning("could not count parked events", exc_info=True)
            time.sleep(PARKED_WATCH_SECONDS)

    def get_dependency(self, worker_ctx: Any) -> OrderedProjection:
        return self.projection


class Schedule(DependencyProvider):
    """Which replica runs each period of each of the service's scheduled jobs."""

    read_pool = ReadPool()

    def setup(self) -> None:
        self.jobs = in_read_schema(self, ScheduledJobs)

    def get_dependency(self, worker_ctx: Any) -> ScheduledJobs:
        return self.jobs
