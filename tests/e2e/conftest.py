from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.support.infrastructure import environment_for
from tests.support.portal import GatewayProcess
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


@pytest.fixture
def portal(start_service, database, vhost, tmp_path):
    """Every service, and the portal's gateway in front of them, as `make run`."""
    services = {
        "identity": start_service("identity"),
        "certificates": start_service("certificates"),
        "reissue": start_service(
            "reissue", XJCERT_MATERIALS_DIR=str(tmp_path / "materials")
        ),
        "distribution": start_service("distribution"),
        "notifications": start_service("notifications"),
    }
    gateway = GatewayProcess(
        list(services.values()),
        environment_for(database, vhost),
        tmp_path / "portal.log",
    ).start()
    yield Portal(gateway.url, services)
    gateway.stop()


@dataclass
class Portal:
    url: str
    services: dict[str, ServiceProcess]
