"""Fixtures: a fresh PostgreSQL database and RabbitMQ virtual host for each test."""

from __future__ import annotations

import pytest

from tests.support.infrastructure import ScratchDatabase, ScratchVhost, settings_for


@pytest.fixture
def database():
    db = ScratchDatabase()
    yield db
    db.drop()


@pytest.fixture
def vhost():
    host = ScratchVhost()
    yield host
    host.drop()


@pytest.fixture
def settings(database, vhost):
    return settings_for(database, vhost)
