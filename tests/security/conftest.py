"""Fixtures for the security tests: the whole system, started once per module."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pytest
import requests

from tests.support.holders import Holder, new_mobile, verified_holder
from tests.support.infrastructure import (
    ScratchDatabase,
    ScratchVhost,
    environment_for,
    eventually,
)
from tests.support.privacy import assert_no_personal_data
from tests.support.processes import ServiceProcess
from tests.support.staff import staff_member
from tools.exam_authority import Broker, publish, results_message, sample_candidates

SERVICES = ("identity", "certificates", "reissue", "distribution", "notifications")
STAFF_ROLES = ("reviewer", "counter_clerk", "shipping_clerk", "administrator")
# The custody of certificates from an exam that ended then is over.
LONG_AGO = "2019-06-02"
FUZZED_HOLDER_PASSWORD = "Sayram-Lake-Blue-2026"


@dataclass
class RunningSystem:
    """Every service on its port, a verified holder, a member of each staff role."""

    database: ScratchDatabase
    vhost: ScratchVhost
    services: dict[str, ServiceProcess]
    holder: Holder
    staff: dict[str, Holder] = field(default_factory=dict)
    certificate_number: str = ""
    application_id: str = ""

    def member(self, role: str) -> Holder:
        return self.holder if role == "applicant" else self.staff[role]


@pytest.fixture(scope="module")
def running_system(tmp_path_factory):
    """One database, one vhost and all five services, shared by a module's tests.

    Starting the system takes most of a minute on a loaded machine, so tests that
    only send requests (fuzzing, authorisation sweeps) share it. The holder has one
    certificate, so the per-holder read models have something in them.
    """
    logs = tmp_path_factory.mktemp("running-system")
    database, vhost = ScratchDatabase(), ScratchVhost()
    settings = {
        "XJCERT_MAX_DELIVERY_ATTEMPTS": "3",
        "XJCERT_MATERIALS_DIR": str(logs / "materials"),
    }
    services = {
        name: ServiceProcess(
            name, environment_for(database, vhost, **settings), logs / f"{name}.log"
        )
        for name in SERVICES
    }
    try:
        for service in services.values():
            service.start()
        holder, number, unclaimed = _holder_with_certificates(services, vhost)
        application = _reissue_application(services["reissue"], holder, unclaimed)
        staff = {
            role: staff_member(services["identity"].url, database, vhost, role)
            for role in STAFF_ROLES
        }
        yield RunningSystem(
            database, vhost, services, holder, staff, number, application
        )
    finally:
        for service in services.values():
            service.stop()
        vhost.drop()
        database.drop()
    for service in services.values():
        assert_no_personal_data(service.log_text(), service.name)


def _holder_with_certificates(services, vhost) -> tuple[Holder, str, str]:
    """A verified holder with a recent certificate and one unclaimed for years.

    Answers the holder and the two certificate numbers, once both are shown.
    """
    person = sample_candidates("security-fuzz", 1)[0]
    broker = Broker(vhost.amqp_uri)
    publish(broker, results_message("security-fuzz", [person]))
    long_ago = {**person, "certificate_number": "security-fuzz-2019"}
    publish(broker, results_message("2019-fuzz", [long_ago], exam_end_date=LONG_AGO))
    holder = _verified_holder(services["identity"].url, person)
    eventually(
        lambda: len(_certificates_shown(services["certificates"], holder)) == 2,
        timeout=180,
        what="the holder's certificates on the certificates service",
    )
    return holder, person["certificate_number"], long_ago["certificate_number"]


def _verified_holder(identity_url: str, person: dict) -> Holder:
    """A holder whose password is not the one identity's document shows.

    The fuzzer sends the documented examples, among them a password change from
    the usual test password; for this holder it is refused, so the refresh token
    that keeps a long run signed in is never revoked.
    """
    holder = Holder(identity_url, new_mobile())
    assert holder.register(FUZZED_HOLDER_PASSWORD).status_code == 201
    assert holder.sign_in(FUZZED_HOLDER_PASSWORD).status_code == 200
    verified = holder.verify(person["name"], person["id_number"])
    assert verified.status_code == 200, verified.text
    return holder


def _reissue_application(reissue: ServiceProcess, holder: Holder, number: str) -> str:
    """The id of a draft application to reissue the long-unclaimed certificate."""
    body = {"certificate_number": number, "reason": "custody_expired"}

    def started() -> str | None:
        answer = requests.post(
            reissue.url + "/v1/reissue/applications",
            json=body,
            headers=holder.auth,
            timeout=30,
        )
        # Until the certificate and the verification reach reissue it says so.
        if answer.status_code in (403, 404):
            return None
        assert answer.status_code == 201, answer.text
        return answer.json()["application_id"]

    return eventually(started, timeout=180, what="reissue to know the certificate")


def _certificates_shown(certificates: ServiceProcess, holder: Holder) -> list:
    # Verification reaches certificates as a message; a loaded machine is slow.
    response = certificates.get("/v1/me/certificates", headers=holder.auth)
    return response.json()["certificates"] if response.status_code == 200 else []


@pytest.fixture(scope="session")
def shared_system(tmp_path_factory):
    """All five services, started once for the whole security run.

    The authorisation, token, upload and log tests each make their own holders on
    it, so they need not wait for a system of their own. The services start side
    by side; at the end their logs must hold no personal data of the run.
    """
    folder = tmp_path_factory.mktemp("shared-system")
    database, vhost = ScratchDatabase(), ScratchVhost()
    settings = {
        "XJCERT_MAX_DELIVERY_ATTEMPTS": "3",
        "XJCERT_MATERIALS_DIR": str(folder / "materials"),
    }
    services = {
        name: ServiceProcess(
            name, environment_for(database, vhost, **settings), folder / f"{name}.log"
        )
        for name in SERVICES
    }
    try:
        with ThreadPoolExecutor(len(SERVICES)) as pool:
            list(pool.map(ServiceProcess.start, services.values()))
        person = sample_candidates("security-shared", 1)[0]
        publish(Broker(vhost.amqp_uri), results_message("security-shared", [person]))
        identity = services["identity"].url
        with ThreadPoolExecutor(len(STAFF_ROLES)) as pool:
            members = pool.map(
                lambda role: staff_member(identity, database, vhost, role),
                STAFF_ROLES,
            )
            staff = dict(zip(STAFF_ROLES, members, strict=True))
        holder = verified_holder(identity, person["name"], person["id_number"])
        yield RunningSystem(database, vhost, services, holder, staff)
    finally:
        for service in services.values():
            service.stop()
        vhost.drop()
        database.drop()
    for service in services.values():
        assert_no_personal_data(service.log_text(), service.name)
