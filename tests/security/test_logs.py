"""Holders' names never reach a service log, however they travel through the system.

The check itself (tests/support/privacy.py) runs after every end-to-end test and at
the end of the security tests' shared system. Here it is shown to find a name in
each spelling a log could use, and the shared system is driven through the paths
that carry names (real-name verification, refused as well as accepted; public
verification by name in the address and in the body; a mail order's recipient; a
proxy for a pickup), after which no service log may hold any of them.
"""

from __future__ import annotations

import pytest
import requests

from tests.security.conftest import RunningSystem
from tests.support.holders import Holder, certificates_of, new_mobile
from tests.support.infrastructure import eventually
from tests.support.privacy import (
    assert_no_personal_data,
    first_name_in,
    names_in_use,
    register_name,
)
from tools.exam_authority import Broker, publish, results_message, sample_candidates

pytestmark = pytest.mark.security

SESSION = "logs-names"
# Proxies and recipients are people too: names no helper registers by itself.
PROXY_NAME = "阿依古丽·买买提"
RECIPIENT = "热合曼·吐尔逊"
ADDRESS = {
    "province": "新疆维吾尔自治区",
    "city": "喀什市",
    "district": "喀什市",
    "street": "解放北路 3 号",
}


@pytest.mark.parametrize(
    "line",
    [
        '{"message": "verified 李文静"}',
        '{"message": "verified \\u674e\\u6587\\u9759"}',
        '{"message": "body b\'\\xe6\\x9d\\x8e\\xe6\\x96\\x87\\xe9\\x9d\\x99\'"}',
        '{"error": "Invalid(\'proxy 王建国 refused\')"}',
    ],
    ids=["as written", "json escaped", "utf-8 bytes escaped", "in an error"],
)
def test_the_log_check_finds_a_name_in_any_spelling(line):
    with pytest.raises(AssertionError) as refused:
        assert_no_personal_data(line, "distribution")

    print(f"{line!r}: {refused.value}")
    assert "王建国" not in str(refused.value) and "李文静" not in str(refused.value)


def test_the_log_check_passes_chinese_that_names_nobody():
    line = (
        '{"message": "ministry batch 2026-11: 3 arrived", '
        '"error": "Invalid(\'photo_background: 照片背景应为白色。\')"}'
    )

    assert_no_personal_data(line, "reissue")
    print(f"{len(names_in_use())} names checked; none in {line!r}")


def test_every_exam_authority_name_and_every_verified_name_is_checked():
    register_name("  迪丽  热巴 ")

    names = names_in_use()

    print(f"{len(names)} names in the registry")
    assert {c["name"] for c in sample_candidates("any-session", 300)} <= names
    assert "迪丽 热巴" in names
    assert first_name_in("说 迪丽 热巴 了", names) == "迪丽 热巴"


def test_no_service_logs_a_name_that_passed_through_it(shared_system: RunningSystem):
    services = shared_system.services
    owner, stranger = sample_candidates(SESSION, 2)
    publish(Broker(shared_system.vhost.amqp_uri), results_message(SESSION, [owner]))
    register_name(PROXY_NAME)
    register_name(RECIPIENT)
    holder = Holder(services["identity"].url, new_mobile())
    holder.register()
    holder.sign_in()

    refused = [
        holder.verify(owner["name"], owner["id_number"][:-1]),  # a digit short
        holder.verify(stranger["name"], "650102199308052191"),  # wrong check digit
    ]
    accepted = holder.verify(owner["name"], owner["id_number"])
    again = holder.verify(stranger["name"], owner["id_number"])  # already verified
    number = owner["certificate_number"]
    certificates_of(services["certificates"].url, holder)
    verification = services["certificates"].url + "/v1/verification"
    checks = [
        requests.get(verification, params={"number": number, "name": name}, timeout=20)
        for name in (owner["name"], stranger["name"])
    ] + [
        requests.post(verification, json={"number": number, "name": name}, timeout=20)
        for name in (owner["name"], stranger["name"])
    ]
    booking = _book_with_proxy(services["distribution"].url, holder, number)
    mail = _mail_to_recipient(services["distribution"].url, holder, number)
    _let_the_facts_travel(shared_system, holder)

    said = [r.status_code for r in (*refused, accepted, again, *checks)]
    print(f"verifications {said}; booking with a proxy {booking}; mail order {mail}")
    assert [r.status_code for r in refused] == [400, 400]
    assert (accepted.status_code, again.status_code) == (200, 400)
    assert [c.status_code for c in checks] == [200, 404, 200, 404]
    names = {owner["name"], stranger["name"], PROXY_NAME, RECIPIENT}
    for service in services.values():
        assert_no_personal_data(service.log_text(), service.name, names)
        print(f"{service.name}: {len(service.log_text())} characters of log, no names")


def _book_with_proxy(distribution: str, holder: Holder, number: str) -> int:
    windows = requests.get(
        distribution + "/v1/pickup/windows?days=30", headers=holder.auth, timeout=20
    ).json()["windows"]
    starts_at = next(w["starts_at"] for w in windows if w["seats_left"] > 0)
    body = {"certificate_numbers": [number], "starts_at": starts_at}

    def booked() -> str | None:
        answer = requests.post(
            distribution + "/v1/bookings", json=body, headers=holder.auth, timeout=20
        )
        return answer.json()["booking_id"] if answer.status_code == 201 else None

    booking = eventually(booked, timeout=60, what="distribution to know the holder")
    proxy = {"name": PROXY_NAME, "id_number": "11010519491231002X"}
    named = requests.put(
        f"{distribution}/v1/bookings/{booking}/proxy",
        json=proxy,
        headers=holder.auth,
        timeout=20,
    )
    assert named.status_code == 204, named.text
    cancelled = requests.post(
        f"{distribution}/v1/bookings/{booking}/cancel", headers=holder.auth, timeout=20
    )
    assert cancelled.status_code == 204, cancelled.text
    return named.status_code


def _mail_to_recipient(distribution: str, holder: Holder, number: str) -> int:
    body = {
        "certificate_numbers": [number],
        "recipient": RECIPIENT,
        "mobile": holder.mobile,
        "address": ADDRESS,
    }
    answer = requests.post(
        distribution + "/v1/mail-orders", json=body, headers=holder.auth, timeout=20
    )
    assert answer.status_code == 201, answer.text
    return answer.status_code


def _let_the_facts_travel(system: RunningSystem, holder: Holder) -> None:
    """Wait until notifications has told the holder of the mail order: by then the
    facts that carry these names have been handled everywhere they go."""
    notifications = system.services["notifications"].url + "/v1/me/notices"

    def told() -> bool:
        answer = requests.get(notifications, headers=holder.auth, timeout=20)
        notices = answer.json().get("notices", []) if answer.ok else []
        return len(notices) >= 2

    eventually(told, timeout=60, what="the holder's notices")
