from __future__ import annotations

import pytest
from click.testing import CliRunner
from rich.console import Console

from services.ops import cli as ops_cli
from tests.support.infrastructure import environment_for


def runner(environment: dict[str, str]):
    def run(*args: str, succeed: bool = True) -> str:
        result = CliRunner().invoke(ops_cli.cli, list(args), env=environment)
        if succeed:
            assert result.exit_code == 0, result.output + repr(result.exception)
        else:
            assert result.exit_code != 0, result.output
        return result.output

    return run


@pytest.fixture(autouse=True)
def wide_console(monkeypatch):
    # Wide enough that no table cell is wrapped in the captured output.
    monkeypatch.setattr(ops_cli, "console", Console(width=250))


@pytest.fixture
def ops(database, vhost, tmp_path):
    """Run `python -m services.ops ARGS` against this test's database and broker."""
    return runner(
        environment_for(
            database, vhost, XJCERT_MATERIALS_DIR=str(tmp_path / "materials")
        )
    )


@pytest.fixture
def offline_ops():
    """Run commands that need neither the database nor the broker."""
    return runner({})
