from __future__ import annotations

import pytest

from tests.support.infrastructure import environment_for
from tests.support.privacy import assert_no_personal_data
from tests.support.processes import ServiceProcess


@pytest.fixture
def start_service(database, vhost, tmp_path):
    """Start (or restart) a service against this test's broker and database."""
    started: list[ServiceProcess] = []

    def start(name: str, **settings: str) -> ServiceProcess:
        service = ServiceProcess(
            name,
            environment_for(
                database, vhost, XJCERT_MAX_DELIVERY_ATTEMPTS="3", **settings
            ),
            tmp_path / f"{name}.log",
        )
        started.append(service)
        return service.start()

    yield start
    for service in started:
        service.stop()
    for service in started:
        assert_no_personal_data(service.log_text(), service.name)


@pytest.fixture
def start_certificates(start_service):
    return lambda: start_service("certificates")


@pytest.fixture
def start_identity(start_service):
    return lambda **settings: start_service("identity", **settings)
