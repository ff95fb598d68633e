"""Event stores: one eventsourcing Application per service, in its own schema."""

from __future__ import annotations

from datetime import date
from typing import Any, TypeVar

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import JSONTranscoder, Transcoding

from services.common.settings import Settings


class DateAsISO(Transcoding):
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


T = TypeVar("T")


class ServiceApplication(Application):
    """Base of every service's application: PostgreSQL, dates; snapshots only
    where a service asks for them (`snapshotting_intervals`)."""

    @classmethod
    def from_settings(cls, settings: Settings, schema: str) -> ServiceApplication:
        return cls(env=event_store_env(settings, schema))

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())

    def find_aggregate(self, aggregate_id: Any, kind: type[T]) -> T | None:
        """The aggregate with this id if it exists and is a `kind`; else None."""
        try:
            aggregate = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None
        return aggregate if isinstance(aggregate, kind) else None


def event_store_env(settings: Settings, schema: str) -> dict[str, str]:
    """The eventsourcing library's settings for a service's schema."""
    database = settings.database
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": database.dbname,
        "POSTGRES_HOST": database.host,
        "POSTGRES_PORT": str(database.port),
        "POSTGRES_USER": database.user,
        "POSTGRES_PASSWORD": database.password,
        "POSTGRES_SCHEMA": schema,
        "CREATE_TABLE": "y",
        # Fail instead of waiting forever on a lock or a forgotten transaction.
        "POSTGRES_LOCK_TIMEOUT": "10",
        "POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT": "60",
        "POSTGRES_POOL_SIZE": "4",
        "POSTGRES_MAX_OVERFLOW": "6",
        "POSTGRES_PRE_PING": "y",
        # Stored events hold ID numbers, names and phone numbers: a dump of the
        # database must not reveal them.
        "COMPRESSOR_TOPIC": "eventsourcing.compressor:ZlibCompressor",
        "CIPHER_TOPIC": "eventsourcing.cryptography:AESCipher",
        "CIPHER_KEY": settings.secrets.text("event_cipher_key"),
    }


def events_table(app: Application) -> tuple[str, str]:
    """(schema, table) of the application's stored events."""
    recorder: Any = app.recorder
    return recorder.datastore.schema, recorder.events_table_name
