"""python -m services.certificates.rebuild: rebuild the certificates' read models.

The applicants' certificates: every recorded certificate event is replayed, in the
order recorded, through the same projection the live consumer uses, in one
transaction: readers see the old rows until it commits, and live consumers wait
for it and then find their facts already applied.

The verified accounts come from identity's event store, which this service does
not read: they are cleared, and identity's relay is moved back to the start, so
the live consumer fills them again within seconds (meanwhile holders are asked to
verify again or wait).
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable, Iterator

from psycopg import sql
from tqdm import tqdm

from services.certificates.application import CertificatesApplication, publication
from services.certificates.read_model import ApplicantCertificates, CertificateCustody
from services.common.accounts import VerifiedAccounts
from services.common.db import ensure_schema, open_pool, schema_lock
from services.common.envelope import Envelope
from services.common.logs import configure_logging
from services.common.relay import envelope_for
from services.common.republish import republish_from_start
from services.common.settings import Settings, load_settings

log = logging.getLogger(__name__)

SERVICE = "certificates"
READ_SCHEMA = f"{SERVICE}_read"
PAGE = 1000


def rebuild(settings: Settings, progress: bool = True) -> int:
    """Rebuild from scratch; return how many certificate events were replayed."""
    app = CertificatesApplication.from_settings(settings, SERVICE)
    pool = open_pool(settings.database, max_size=2)
    try:
        certificates = ApplicantCertificates(pool, READ_SCHEMA)
        accounts = VerifiedAccounts(pool, READ_SCHEMA)
        with schema_lock(settings.database, READ_SCHEMA):
            ensure_schema(pool, READ_SCHEMA)
            certificates.setup()
            accounts.setup()
            # Fed by distribution and kept as it is; the join needs the table.
            CertificateCustody(pool, READ_SCHEMA).setup()
        replayed = _replay(app, certificates, progress)
        _refill_from_identity(accounts, settings)
        return replayed
    finally:
        pool.close()
        app.close()


def _refill_from_identity(accounts: VerifiedAccounts, settings: Settings) -> None:
    with accounts.pool.connection() as conn, conn.cursor() as cursor:
        accounts.clear(cursor)
        accounts.clear_tracking(cursor)
    republish_from_start(settings.database.conninfo(), "identity")


def _replay(
    app: CertificatesApplication, projection: ApplicantCertificates, progress: bool
) -> int:
    total = app.recorder.max_notification_id() or 0
    replayed = 0
    with projection.pool.connection() as conn, conn.cursor() as cursor:
        cursor.execute(
            sql.SQL(
                "LOCK TABLE {schema}.applicant_certificates, "
                "{schema}.projection_versions, {schema}.parked_events "
                "IN EXCLUSIVE MODE"
            ).format(schema=sql.Identifier(projection.schema))
        )
        projection.clear(cursor)
        projection.clear_tracking(cursor)
        bar = tqdm(total=total, unit="event", disable=not progress)

        def page_read(count: int) -> None:
            nonlocal replayed
            replayed += count
            bar.update(count)

        projection.replay_in(cursor, _history(app, page_read))
        bar.close()
    return replayed


def _history(
    app: CertificatesApplication, page_read: Callable[[int], None]
) -> Iterator[Envelope]:
    """Every recorded certificate fact as its published envelope, in order."""
    position = 0
    while notifications := app.recorder.select_notifications(
        start=position, limit=PAGE, inclusive_of_start=False
    ):
        for notification in notifications:
            domain_event = app.mapper.to_domain_event(notification)
            envelope = envelope_for(domain_event, SERVICE, publication)
            if envelope is not None:
                yield envelope
        position = notifications[-1].id
        page_read(len(notifications))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args()
    settings = load_settings()
    configure_logging("certificates-rebuild", settings.log_level)
    replayed = rebuild(settings, progress=not args.quiet)
    log.info("read model rebuilt from %s recorded events", replayed)


if __name__ == "__main__":
    main()
