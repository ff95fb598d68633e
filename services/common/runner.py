"""Starts one service process: settings, logging, preflight checks, then Nameko.

The caller must have monkey-patched with eventlet before importing anything else.
"""

from __future__ import annotations

import logging
import signal
import sys
from typing import Any

import eventlet
from nameko.runners import ServiceRunner

from services.common.dependencies import SETTINGS_KEY
from services.common.logs import configure_logging
from services.common.preflight import check_psycopg_is_green, preflight
from services.common.settings import SettingError, Settings, load_settings

log = logging.getLogger(__name__)


def nameko_config(settings: Settings, service: str) -> dict[str, Any]:
    return {
        "AMQP_URI": settings.amqp_uri,
        "WEB_SERVER_ADDRESS": f"{settings.http_host}:{settings.http_port(service)}",
        "max_workers": settings.max_workers,
        "MAX_DELIVERY_ATTEMPTS": settings.max_delivery_attempts,
        SETTINGS_KEY: settings,
    }


def run(service_class: type) -> None:
    service = service_class.name
    try:
        settings = load_settings()
    except SettingError as error:
        sys.exit(f"{service}: {error}")
    configure_logging(service, settings.log_level)
    check_psycopg_is_green()
    preflight(settings)

    runner = ServiceRunner(nameko_config(settings, service))
    runner.add_service(service_class)
    # A signal handler runs inside eventlet's hub, which must not block: stop
    # from a green thread of its own.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: eventlet.spawn_n(runner.stop))
    runner.start()
    log.info(
        "%s is running; HTTP API on http://%s:%s",
        service,
        settings.http_host,
        settings.http_port(service),
    )
    runner.wait()
