"""Loading a year into the calendar: merged, checked by the services' parser, whole."""

from __future__ import annotations

import json
import shutil
from datetime import date

from services.common.workdays import DEFAULT_REGIONAL_FILE, WorkingCalendar
from services.ops.calendar import DEPLOYED_COPY, default_targets

NEW_YEAR = {
    "years": {
        "2031": {
            "regional": [{"date": "2031-01-27", "name": "肉孜节"}],
            "note": "estimated for the test",
        }
    }
}


def calendar_copy(tmp_path):
    target = tmp_path / "calendar.json"
    shutil.copy(DEFAULT_REGIONAL_FILE, target)
    return target


def year_file(tmp_path, document) -> str:
    path = tmp_path / "year.json"
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    return str(path)


def test_a_year_is_loaded_once_and_read_back_by_the_services(offline_ops, tmp_path):
    target = calendar_copy(tmp_path)
    source = year_file(tmp_path, NEW_YEAR)

    loaded = offline_ops("calendar", "load", source, "--into", str(target))
    again = offline_ops(
        "calendar", "load", source, "--into", str(target), succeed=False
    )
    replaced = offline_ops(
        "calendar", "load", source, "--into", str(target), "--replace"
    )
    calendar = WorkingCalendar.from_file(target)

    assert "2031 loaded into" in loaded
    assert "already has 2031" in again
    assert "2031 loaded into" in replaced
    assert 2031 in calendar.covered_years
    assert not calendar.is_working_day(date(2031, 1, 27))
    assert WorkingCalendar.from_default_file().covered_years < calendar.covered_years


def test_a_malformed_year_changes_nothing(offline_ops, tmp_path):
    target = calendar_copy(tmp_path)
    before = target.read_bytes()
    broken = {"years": {"2031": {"regional": [{"date": "2031-02-30", "name": "x"}]}}}

    refused = offline_ops(
        "calendar",
        "load",
        year_file(tmp_path, broken),
        "--into",
        str(target),
        succeed=False,
    )

    assert "ISO date" in refused
    assert target.read_bytes() == before


def test_show_lists_every_covered_year(offline_ops):
    shown = offline_ops("calendar", "show")

    for year in WorkingCalendar.from_default_file().covered_years:
        assert str(year) in shown


def test_by_default_the_packaged_file_and_the_deployed_copy_change_together():
    assert default_targets() == [DEFAULT_REGIONAL_FILE, DEPLOYED_COPY]
