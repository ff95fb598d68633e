"""The SMS gateway failing for a while, then recovering, in the middle of the work."""

from __future__ import annotations

import pytest

from tests.faults.conftest import SCALE
from tests.support.infrastructure import eventually

pytestmark = pytest.mark.faults

FAILURES = 8 * SCALE


def test_an_sms_gateway_outage_is_waited_out_and_each_notice_texted_once(product):
    gateway = product.sms_gateway
    refused_before = len(gateway.refused())
    repeated_before = product.texts_repeated()

    def outage() -> str:
        gateway.fail_next(FAILURES)
        eventually(
            lambda: len(gateway.refused()) - refused_before >= FAILURES,
            timeout=120,
            what="the notifications service to meet the outage",
        )
        return f"the SMS gateway answered 503 to the next {FAILURES} texts"

    load, what = product.around(outage)
    result = product.reconcile(load)

    retried = product.database.scalar(
        "SELECT count(*) FROM notifications_read.deliveries "
        "WHERE channel = 'sms' AND state = 'sent' AND attempts > 1"
    )
    given_up = product.database.scalar(
        "SELECT count(*) FROM notifications_read.deliveries WHERE state = 'failed'"
    )
    print(
        f"{what}: {retried} texts sent after retrying, {given_up} given up; "
        f"{load.summary()}; {result.summary()}"
    )
    assert result.problems == []
    assert retried > 0
    assert given_up == 0
    assert product.texts_repeated() == repeated_before
