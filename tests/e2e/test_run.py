"""`python -m services`, which `make run` starts: clear failures, clean start, stop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import requests

from tests.support.infrastructure import environment_for, eventually
from tests.support.processes import ROOT, free_port


def run_product(environment: dict[str, str], **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "services"],
        cwd=ROOT,
        env={**os.environ, **environment},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **kwargs,
    )


def test_an_unreachable_broker_stops_the_product_naming_address_and_setting(
    database, vhost
):
    port = free_port()
    environment = environment_for(database, vhost)
    environment["XJCERT_AMQP_URI"] = f"amqp://guest:guest@127.0.0.1:{port}/"

    output, _ = run_product(environment).communicate(timeout=60)

    assert f"cannot reach RabbitMQ at 127.0.0.1:{port}" in output
    assert "XJCERT_AMQP_URI" in output


def test_an_unreachable_database_stops_the_product_naming_address_and_setting(
    database, vhost
):
    port = free_port()
    environment = environment_for(database, vhost)
    environment["XJCERT_DATABASE_URL"] = f"postgresql://postgres@127.0.0.1:{port}/x"

    product = run_product(environment)
    output, _ = product.communicate(timeout=60)

    assert product.returncode != 0
    assert f"cannot reach PostgreSQL at 127.0.0.1:{port}/x" in output
    assert "XJCERT_DATABASE_URL" in output


def test_the_product_says_where_it_listens_and_stops_cleanly(database, vhost):
    port = free_port()
    environment = environment_for(
        database,
        vhost,
        XJCERT_CERTIFICATES_HTTP_PORT=str(port),
        XJCERT_IDENTITY_HTTP_PORT=str(free_port()),
    )
    product = run_product(environment)

    eventually(lambda: _answers(f"http://127.0.0.1:{port}/metrics"), timeout=60)
    product.send_signal(signal.SIGTERM)
    output, _ = product.communicate(timeout=60)

    assert f"certificates: http://127.0.0.1:{port}" in output
    assert product.returncode == 0


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).ok
    except requests.RequestException:
        return False
