"""The database schemas of every service, created once per release by a Job.

Each service still checks its own tables when it starts (`CREATE ... IF NOT
EXISTS`, a no-op once this ran), so nothing breaks if a pod starts first; the Job
makes sure the first pods of a release do not race to create them. The classes
below are the ones the services' dependency providers set up, nothing else.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from importlib.metadata import version

import psycopg
from psycopg_pool import ConnectionPool

from services.certificates.application import CertificatesApplication
from services.certificates.application import publication as certificate_facts
from services.certificates.read_model import (
    ApplicantCertificates,
    CertificateCustody,
    CertificateReissues,
)
from services.certificates.verification import VerificationAttempts
from services.common.accounts import VerifiedAccounts
from services.common.amqp import ConfirmingPublisher
from services.common.db import ensure_database, ensure_schema, open_pool, schema_lock
from services.common.eventstore import ServiceApplication
from services.common.metrics import spine_metrics
from services.common.relay import Relay, Translate
from services.common.schedule import ScheduledJobs
from services.common.settings import Settings
from services.distribution.application import DistributionApplication
from services.distribution.publication import publication as distribution_facts
from services.distribution.views import DistributionViews
from services.identity.application import IdentityApplication
from services.identity.application import publication as identity_facts
from services.identity.sessions import SessionStore
from services.notifications.application import NotificationsApplication
from services.notifications.publication import publication as notifications_facts
from services.notifications.views import (
    CertificateFacts,
    DistributionFacts,
    NoticeQueries,
    OwnFacts,
    Recipients,
    ReissueFacts,
)
from services.reissue.application import ReissueApplication
from services.reissue.publication import publication as reissue_facts
from services.reissue.views import ApplicationViews, KnownCertificates, KnownCustody

RELEASES_TABLE = "public.xjcert_schema_releases"


@dataclass(frozen=True)
class ServiceSchema:
    """What one service keeps in PostgreSQL: its event store and its read tables."""

    application: type[ServiceApplication]
    translate: Translate
    # Classes built as (pool, "<service>_read") whose setup() creates their tables.
    read_tables: tuple[type, ...]


SCHEMAS: dict[str, ServiceSchema] = {
    "identity": ServiceSchema(IdentityApplication, identity_facts, (SessionStore,)),
    "certificates": ServiceSchema(
        CertificatesApplication,
        certificate_facts,
        (
            ApplicantCertificates,
            VerifiedAccounts,
            CertificateCustody,
            CertificateReissues,
            VerificationAttempts,
        ),
    ),
    "reissue": ServiceSchema(
        ReissueApplication,
        reissue_facts,
        (
            ApplicationViews,
            KnownCertificates,
            KnownCustody,
            VerifiedAccounts,
            ScheduledJobs,
        ),
    ),
    "distribution": ServiceSchema(
        DistributionApplication,
        distribution_facts,
        (DistributionViews, VerifiedAccounts, ScheduledJobs),
    ),
    "notifications": ServiceSchema(
        NotificationsApplication,
        notifications_facts,
        (
            Recipients,
            OwnFacts,
            CertificateFacts,
            DistributionFacts,
            ReissueFacts,
            NoticeQueries,
            ScheduledJobs,
        ),
    ),
}


def release() -> str:
    """The product version this process runs, as packaged."""
    return version("xjcert")


def create_schemas(settings: Settings) -> list[str]:
    """Create every service's schemas and tables, then record this release."""
    ensure_database(settings.database)
    pool = open_pool(settings.database, max_size=2)
    try:
        for service, schema in SCHEMAS.items():
            _create_event_store(settings, pool, service, schema)
            _create_read_tables(settings, pool, service, schema)
        _record_release(pool)
    finally:
        pool.close()
    return list(SCHEMAS)


def schemas_ready(settings: Settings) -> bool:
    """Whether the Job of this release has finished creating the schemas."""
    try:
        with psycopg.connect(settings.database.conninfo(), autocommit=True) as conn:
            row = conn.execute(
                f"SELECT 1 FROM {RELEASES_TABLE} WHERE release = %s", (release(),)
            ).fetchone()
    except (psycopg.OperationalError, psycopg.errors.UndefinedTable):
        return False
    return row is not None


def wait_for_schemas(settings: Settings, timeout: float, interval: float = 2) -> bool:
    deadline = time.monotonic() + timeout
    while not schemas_ready(settings):
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)
    return True


def _create_event_store(
    settings: Settings, pool: ConnectionPool, service: str, schema: ServiceSchema
) -> None:
    with schema_lock(settings.database, service):
        ensure_schema(pool, service)
        app = schema.application.from_settings(settings, service)  # creates tables
        try:
            _relay_of(app, service, schema, settings, pool).setup()
        finally:
            app.close()


def _relay_of(
    app: ServiceApplication,
    service: str,
    schema: ServiceSchema,
    settings: Settings,
    pool: ConnectionPool,
) -> Relay:
    # Only its table is wanted; the publisher never connects.
    return Relay(
        app=app,
        producer=service,
        translate=schema.translate,
        publisher=ConfirmingPublisher(settings.amqp_uri),
        pool=pool,
        metrics=spine_metrics(service),
    )


def _create_read_tables(
    settings: Settings, pool: ConnectionPool, service: str, schema: ServiceSchema
) -> None:
    read_schema = f"{service}_read"
    with schema_lock(settings.database, read_schema):
        ensure_schema(pool, read_schema)
        for table_class in schema.read_tables:
            table_class(pool, read_schema).setup()


def _record_release(pool: ConnectionPool) -> None:
    with pool.connection() as conn:
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {RELEASES_TABLE} ("
            " release text PRIMARY KEY, created_at timestamptz NOT NULL DEFAULT now())"
        )
        conn.execute(
            f"INSERT INTO {RELEASES_TABLE} (release) VALUES (%s) "
            "ON CONFLICT DO NOTHING",
            (release(),),
        )
