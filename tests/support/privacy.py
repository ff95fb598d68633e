"""The check that logs hold no ID numbers or phone numbers."""

from __future__ import annotations

import re

# Not inside a longer run of letters and digits, such as a UUID's hex groups.
ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])\d{17}[0-9Xx](?![0-9A-Za-z])")
MOBILE = re.compile(r"(?<![0-9A-Za-z])1[3-9]\d{9}(?![0-9A-Za-z])")


def assert_no_personal_data(log: str, service: str) -> None:
    """Logs never hold ID numbers or phone numbers (checked after every e2e test)."""
    for pattern, what in ((ID_NUMBER, "an ID number"), (MOBILE, "a phone number")):
        found = pattern.search(log)
        assert found is None, (
            f"{service} logged {what}: ...{found and found.group()[-4:]}"
        )
