"""Every operation of every HTTP API, fuzzed from its OpenAPI document.

schemathesis reads `docs/openapi/<service>.yaml` and generates requests, both ones
the document allows and ones that break it, which go to the running service (real
broker and database) as an anonymous caller, as a caller whose role the operation
refuses, and as one it admits: the verified holder, or the staff member of the role.
Every answer must be no 5xx, a documented status with its documented content type,
body schema and headers.

`XJCERT_FUZZ_EXAMPLES` sets the generated cases per operation, mode and admitted
caller (default 10); `make test-security` raises it. The seed is fixed: a run
repeats the previous one's requests.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections import Counter
from dataclasses import dataclass, field

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.security.conftest import SERVICES, RunningSystem
from tests.support.processes import ROOT

pytestmark = pytest.mark.security

EXAMPLES = int(os.environ.get("XJCERT_FUZZ_EXAMPLES", "10"))
# Anonymous and refused callers are turned away before their input is read, so
# a few cases show whether the refusal is documented.
FEW = max(2, EXAMPLES // 4)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
# Access tokens live 15 minutes; refreshed well before, since fuzzing sign-in
# soon locks this address out of signing in again.
TOKEN_AGE = 10 * 60
# When an operation admits several roles, the most specific one is fuzzed.
PREFERRED_ROLES = (
    "applicant",
    "reviewer",
    "counter_clerk",
    "shipping_clerk",
    "administrator",
)


def checks_for(case, response) -> list:
    """Every check, except where an operation's documented answer is a 5xx.

    The readiness probe answers 503 `not_ready` when its database or broker does
    not answer within 4 seconds: that is what it is for, and a loaded machine can
    make it so. Its answer must still be the documented one.
    """
    if case.operation.label == "GET /health/ready" and response.status_code == 503:
        return [check for check in CHECKS if check is not not_a_server_error]
    return CHECKS


@dataclass
class Finding:
    """One kind of failure of one operation, with the first request that showed it."""

    operation: str
    caller: str
    check: str
    status: int
    message: str
    curl: str
    count: int = 1

    def __str__(self) -> str:
        return (
            f"{self.operation} as {self.caller}: {self.check} "
            f"(HTTP {self.status}, {self.count}x)\n  {self.message}\n  {self.curl}"
        )


@dataclass
class Report:
    """What one service's fuzzing ran and found."""

    service: str
    operations: int = 0
    cases: Counter = field(default_factory=Counter)
    statuses: Counter = field(default_factory=Counter)
    findings: dict[tuple, Finding] = field(default_factory=dict)

    def record(self, case, caller: str, response, group: FailureGroup | None) -> None:
        self.cases[caller] += 1
        self.statuses[response.status_code] += 1
        for failure in group.exceptions if group else ():
            key = (case.operation.label, caller, failure.title)
            if key in self.findings:
                self.findings[key].count += 1
                continue
            self.findings[key] = Finding(
                case.operation.label,
                caller,
                failure.title,
                response.status_code,
                failure.message.strip().replace("\n", " ")[:300],
                case.as_curl_command(headers=dict(response.request.headers)),
            )

    def summary(self) -> str:
        callers = ", ".join(f"{who} {n}" for who, n in sorted(self.cases.items()))
        statuses = ", ".join(f"{s}: {n}" for s, n in sorted(self.statuses.items()))
        found = "\n".join(str(f) for f in self.findings.values()) or "nothing"
        return (
            f"{self.service}: {self.operations} operations, "
            f"{sum(self.cases.values())} cases ({callers}); statuses {statuses}; "
            f"found {len(self.findings)}: {found}"
        )


class Callers:
    """Authorization headers for each role, kept fresh with refresh tokens."""

    def __init__(self, system: RunningSystem):
        self.system = system
        self.issued_at = time.monotonic()

    def headers(self, role: str | None) -> dict[str, str]:
        if role is None:
            return {}
        if time.monotonic() - self.issued_at > TOKEN_AGE:
            self._refresh_all()
        return self.system.member(role).auth

    def known_path_values(self) -> dict[str, str]:
        return {
            "certificate_number": self.system.certificate_number,
            "application_id": self.system.application_id,
        }

    def _refresh_all(self) -> None:
        for role in ("applicant", *self.system.staff):
            member = self.system.member(role)
            response = member.post(
                "/v1/sessions/refresh", {"refresh_token": member.refresh_token}
            )
            assert response.status_code == 200, response.text
            member.access_token = response.json()["access_token"]
            member.refresh_token = response.json()["refresh_token"]
        self.issued_at = time.monotonic()


def path_parameter_names(operation) -> set[str]:
    return {parameter.name for parameter in operation.path_parameters}


@dataclass(frozen=True)
class Caller:
    """Who sends an operation's cases, how many, and whether invalid ones too."""

    label: str
    role: str | None
    examples: int
    modes: tuple[GenerationMode, ...]


BOTH = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)


def callers_of(operation) -> tuple[Caller, list[Caller]]:
    """The caller the operation admits, and every caller to fuzz it with."""
    roles = operation.definition.raw.get("x-roles", [])
    if not roles:
        admitted = Caller("anonymous", None, EXAMPLES, BOTH)
        return admitted, [admitted]
    role = next(role for role in PREFERRED_ROLES if role in roles)
    admitted = Caller(role, role, EXAMPLES, BOTH)
    callers = [Caller("anonymous", None, FEW, BOTH[:1]), admitted]
    refused = [role for role in reversed(PREFERRED_ROLES) if role not in roles]
    if refused:
        callers.append(Caller(f"{refused[0]} (refused)", refused[0], FEW, BOTH[:1]))
    return admitted, callers


def fuzz_operation(operation, callers: Callers, report: Report, session) -> None:
    """The documented examples as the admitted caller, then generated cases.

    Generated ids name nothing, so an operation on the holder's certificate or
    reissue application is also sent with its real id, to reach past "not found".
    """
    admitted, everyone = callers_of(operation)
    known = {
        name: value
        for name, value in callers.known_path_values().items()
        if name in path_parameter_names(operation)
    }
    if known:
        headers = callers.headers(admitted.role)
        cases = operation.as_strategy(path_parameters=known)
        send(cases, EXAMPLES, headers, f"{admitted.label}, real ids", report, session)
    documented = operation.schema.get_strategies_from_examples(operation)
    if documented:
        headers = callers.headers(admitted.role)
        examples = st.one_of(documented)
        send(examples, len(documented), headers, admitted.label, report, session)
    for caller in everyone:
        headers = callers.headers(caller.role)
        for mode in caller.modes:
            cases = operation.as_strategy(generation_mode=mode)
            send(cases, caller.examples, headers, caller.label, report, session)


def send(cases, examples: int, headers, caller: str, report: Report, session) -> None:
    """Send `examples` cases; every answer is checked, and none stops the run."""

    @settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=cases)
    def send_one(case) -> None:
        response = case.call(session=session, headers=headers, timeout=30)
        try:
            case.validate_response(response, checks=checks_for(case, response))
        except FailureGroup as group:
            report.record(case, caller, response, group)
        else:
            report.record(case, caller, response, None)

    # Unsatisfiable: nothing in the operation can be made invalid (no parameters).
    with contextlib.suppress(Unsatisfiable):
        send_one()


@pytest.fixture(scope="module")
def callers(running_system) -> Callers:
    """One for the module: it knows when the shared tokens were issued."""
    return Callers(running_system)


@pytest.mark.parametrize("service", SERVICES)
def test_every_operation_answers_as_documented_whatever_it_is_sent(
    running_system, callers, service
):
    schema = schemathesis.openapi.from_path(
        ROOT / "docs" / "openapi" / f"{service}.yaml"
    )
    schema.config.update(base_url=running_system.services[service].url)
    operations = [result.ok() for result in schema.get_all_operations()]
    report = Report(service, operations=len(operations))

    with requests.Session() as session:
        for operation in operations:
            fuzz_operation(operation, callers, report, session)

    print(report.summary())
    assert not report.findings, report.summary()
