"""One running product for the whole fault campaign, and the workload driving it.

Every service runs as its own process against one scratch database and virtual
host, with the SMS gateway stand-in. The product is shared by every test of this
package (starting it takes longer than most faults), so each test reconciles
everything recorded since the start, not only its own work: a fault that broke an
earlier test's facts shows there too.

`XJCERT_FAULTS_SCALE` (default 1) multiplies the rounds of work each test runs
before and after its fault, and the failures the SMS gateway answers with.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest
import requests

from services.common.settings import Settings
from tests.support.holders import Holder
from tests.support.infrastructure import (
    ScratchDatabase,
    ScratchVhost,
    environment_for,
    secret_files,
    settings_for,
)
from tests.support.privacy import assert_no_personal_data
from tests.support.processes import ServiceProcess
from tests.support.sms_gateway import SmsGatewayStandIn
from tests.support.staff import staff_member
from tests.support.workload import Reconciliation, Workload, reconcile, run_id

T = TypeVar("T")

SCALE = max(1, int(float(os.environ.get("XJCERT_FAULTS_SCALE", "1"))))
# Rounds of work (a pickup or a reissue each) before the fault and after it.
ROUNDS = 2 * SCALE
SERVICES = ("identity", "certificates", "reissue", "distribution", "notifications")


@dataclass
class Product:
    database: ScratchDatabase
    vhost: ScratchVhost
    services: dict[str, ServiceProcess]
    sms_gateway: SmsGatewayStandIn
    reviewer: Holder
    administrator: Holder
    settings: Settings

    @property
    def urls(self) -> dict[str, str]:
        return {name: service.url for name, service in self.services.items()}

    @contextmanager
    def workload(self):
        """A workload running for the duration of the block, stopped at its end."""
        load = Workload(
            self.urls, self.vhost.amqp_uri, self.reviewer, f"faults-{run_id()}"
        ).start()
        try:
            yield load
        finally:
            load.stop()

    def around(self, fault: Callable[[], str]) -> tuple[Workload, str]:
        """Work, the fault while work goes on, then more work; `fault` says what
        it did."""
        with self.workload() as load:
            load.wait_for_rounds(ROUNDS)
            what = fault()
            load.wait_for_rounds(load.rounds + ROUNDS)
        return load, what

    def texts_repeated(self) -> int:
        """Texts the gateway accepted again under an idempotency key it had."""
        keys = Counter(m["idempotency_key"] for m in self.sms_gateway.received())
        return sum(n - 1 for n in keys.values())

    def restart(self, name: str) -> None:
        """SIGKILL, then start again on the same port."""
        self.services[name].kill()
        start_patiently(self.services[name])

    def reconcile(self, load: Workload) -> Reconciliation:
        return reconcile(
            self.settings, self.database, self.vhost, load, self.sms_gateway
        )


def service_environment(name: str, tmp: Path, sms: SmsGatewayStandIn) -> dict:
    extra = {
        "reissue": {"XJCERT_MATERIALS_DIR": str(tmp / "materials")},
        "notifications": {
            "XJCERT_SMS_GATEWAY_URL": sms.url,
            "XJCERT_SMS_GATEWAY_USERNAME": sms.username,
            "XJCERT_NOTIFY_RETRY_BASE_SECONDS": "1",
            "XJCERT_NOTIFY_SWEEP_SECONDS": "1",
            # A sender killed mid-send is replaced within seconds, not minutes.
            "XJCERT_NOTIFY_CLAIM_SECONDS": "10",
            # A gateway outage is waited out, not given up on, in these tests.
            "XJCERT_NOTIFY_MAX_ATTEMPTS": "30",
        },
    }
    return extra.get(name, {})


def start_patiently(service: ServiceProcess) -> ServiceProcess:
    """Start; on a loaded machine a first start may time out reaching the broker."""
    try:
        return service.start()
    except AssertionError:
        service.stop()
        return service.start()


def patiently(make: Callable[[], T]) -> T:
    """The broker's management API sometimes times out on a loaded machine."""
    for _ in range(2):
        try:
            return make()
        except requests.RequestException:
            time.sleep(5)
    return make()


@pytest.fixture(scope="package")
def product(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("faults")
    database, vhost = ScratchDatabase(), patiently(ScratchVhost)
    password = Path(secret_files()["XJCERT_SMS_GATEWAY_PASSWORD_FILE"]).read_text()
    sms = SmsGatewayStandIn(tmp / "sms", password=password.strip()).start()
    services = {
        name: ServiceProcess(
            name,
            environment_for(database, vhost, **service_environment(name, tmp, sms)),
            tmp / f"{name}.log",
        )
        for name in SERVICES
    }
    try:
        with ThreadPoolExecutor(len(services)) as pool:
            list(pool.map(start_patiently, services.values()))
        identity = services["identity"].url
        yield Product(
            database,
            vhost,
            services,
            sms,
            staff_member(identity, database, vhost, "reviewer"),
            staff_member(identity, database, vhost, "administrator"),
            settings_for(database, vhost),
        )
    finally:
        for service in services.values():
            service.stop()
        sms.stop()
        vhost.drop()
        database.drop()
    for service in services.values():
        assert_no_personal_data(service.log_text(), service.name)
