"""A Nameko service that waits on PostgreSQL in one worker and answers in another.

Started as its own process by test_green_database.py, monkey-patched as every
service process is.
"""

import warnings

warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

import eventlet  # noqa: E402

eventlet.monkey_patch()

import sys  # noqa: E402

from nameko.runners import ServiceRunner  # noqa: E402
from nameko.web.handlers import http  # noqa: E402

from services.certificates.application import CertificatesApplication  # noqa: E402
from services.common.db import ensure_schema, open_pool  # noqa: E402
from services.common.dependencies import SETTINGS_KEY  # noqa: E402
from services.common.eventstore import event_store_env  # noqa: E402
from services.common.settings import load_settings  # noqa: E402

LOCK_KEY = 4242
settings = load_settings()
pool = open_pool(settings.database, max_size=4)
ensure_schema(pool, "probe")
store = CertificatesApplication(env=event_store_env(settings, "probe"))


class GreenProbe:
    name = "green_probe"

    @http("GET", "/slow")
    def slow(self, request):
        with pool.connection() as conn:
            conn.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
            conn.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))
        return "slow done"

    @http("GET", "/fast")
    def fast(self, request):
        with pool.connection() as conn:
            conn.execute("SELECT 1")
        return f"fast done, {store.recorder.max_notification_id() or 0} events"


if __name__ == "__main__":
    runner = ServiceRunner(
        {
            "AMQP_URI": settings.amqp_uri,
            "WEB_SERVER_ADDRESS": f"127.0.0.1:{sys.argv[1]}",
            SETTINGS_KEY: settings,
        }
    )
    runner.add_service(GreenProbe)
    runner.start()
    runner.wait()
