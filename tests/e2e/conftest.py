from __future__ import annotations

import pytest

from tests.support.infrastructure import environment_for
from tests.support.processes import ServiceProcess


@pytest.fixture
def start_certificates(database, vhost, tmp_path):
    """Start (or restart) the certificates service against this test's broker and DB."""
    started: list[ServiceProcess] = []

    def start() -> ServiceProcess:
        service = ServiceProcess(
            "certificates",
            environment_for(database, vhost, XJCERT_MAX_DELIVERY_ATTEMPTS="3"),
            tmp_path / "certificates.log",
        )
        started.append(service)
        return service.start()

    yield start
    for service in started:
        service.stop()
