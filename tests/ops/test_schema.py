"""The schema Job creates exactly what the services create when they start."""

from __future__ import annotations

import pytest
from nameko.containers import ServiceContainer

from services.__main__ import RUNNABLE
from services.common.dependencies import EventStore, ReadModel, ReadPool
from services.common.runner import nameko_config
from services.ops.schema import SCHEMAS
from tests.support.infrastructure import ScratchDatabase, settings_for

TABLES = """
SELECT table_schema, table_name FROM information_schema.tables
WHERE table_schema NOT IN ('pg_catalog', 'information_schema', 'public')
"""
INDEXES = """
SELECT schemaname, indexname FROM pg_indexes
WHERE schemaname NOT IN ('pg_catalog', 'information_schema', 'public')
"""


def service_class(name: str) -> type:
    module = __import__(f"services.{name}.service", fromlist=["*"])
    (found,) = [
        value
        for value in vars(module).values()
        if isinstance(value, type) and getattr(value, "name", None) == name
    ]
    return found


def start_like_a_service(settings, name: str) -> None:
    """Set up the service's dependency providers, as its first pod would."""
    container = ServiceContainer(service_class(name), nameko_config(settings, name))
    for dependency in container.dependencies:
        dependency.setup()
    for dependency in container.dependencies:
        dependency.stop()
    for extension in container.subextensions:
        if isinstance(extension, ReadPool):
            extension.stop()


def catalogue(database) -> set[tuple[str, str]]:
    with database.connect() as conn:
        return {*conn.execute(TABLES).fetchall(), *conn.execute(INDEXES).fetchall()}


def test_every_runnable_service_has_a_schema_entry():
    assert set(SCHEMAS) == set(RUNNABLE)


@pytest.mark.parametrize("name", RUNNABLE)
def test_the_registry_names_the_providers_the_service_declares(name):
    declared = service_class(name).__dict__.values()

    stores = [p.app_class for p in declared if isinstance(p, EventStore)]
    read_models = {p.projection_class for p in declared if isinstance(p, ReadModel)}

    assert stores == [SCHEMAS[name].application]
    assert read_models <= set(SCHEMAS[name].read_tables)


def test_the_job_creates_what_the_services_create_on_start(
    ops, database, vhost, monkeypatch, tmp_path
):
    monkeypatch.setenv("XJCERT_MATERIALS_DIR", str(tmp_path / "materials"))
    by_services = ScratchDatabase()
    try:
        service_settings = settings_for(by_services, vhost)
        for name in RUNNABLE:
            start_like_a_service(service_settings, name)

        output = ops("schema", "create")

        assert "ready for" in output
        assert len(catalogue(by_services)) > 20
        assert catalogue(database) == catalogue(by_services)
    finally:
        by_services.drop()


def test_pods_wait_until_the_job_of_their_release_has_run(ops):
    refused = ops("schema", "wait", "--timeout", "1", succeed=False)
    ops("schema", "create")
    ops("schema", "create")  # a Job that runs twice changes nothing

    assert "has the xjcert-schema Job run?" in refused
    assert "schemas ready for" in ops("schema", "wait", "--timeout", "5")
