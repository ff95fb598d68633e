"""A service killed with SIGKILL in the middle of the work, then started again."""

from __future__ import annotations

import pytest

from tests.faults.conftest import SERVICES

pytestmark = pytest.mark.faults


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_killed_and_restarted_loses_no_fact_and_no_accepted_command(
    product, service
):
    repeated_before = product.texts_repeated()

    def kill_and_restart() -> str:
        product.restart(service)
        return f"SIGKILL {service}, restarted"

    load, what = product.around(kill_and_restart)
    result = product.reconcile(load)

    print(f"{what}: {load.summary()}; {result.summary()}")
    assert result.problems == []
    if service != "notifications":
        # Only a sender killed between the gateway's answer and its own record
        # may send again, under the same idempotency key.
        assert product.texts_repeated() == repeated_before
