"""The check that logs hold no ID numbers, phone numbers or holders' names.

Names are found by the registry of the names the test run uses: every name the exam
authority's stand-in can make, the names tests type by hand, and each name a holder
verifies through the shared helpers (`register_name`). A name is found as written,
and also escaped as JSON (`\\u674e`) or as the UTF-8 bytes of a repr (`\\xe6\\x9d`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

from tools.exam_authority import GIVEN, SURNAMES

# Not inside a longer run of letters and digits, such as a UUID's hex groups.
ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])\d{17}[0-9Xx](?![0-9A-Za-z])")
MOBILE = re.compile(r"(?<![0-9A-Za-z])1[3-9]\d{9}(?![0-9A-Za-z])")

# Every name `tools.exam_authority.sample_candidates` can give a candidate.
EXAM_AUTHORITY_NAMES = frozenset(s + g for s in SURNAMES for g in GIVEN)
# Names the tests write out themselves: holders, proxies, mail recipients.
NAMES_TYPED_BY_TESTS = frozenset({"李文静", "陈大文", "王建国"})

_registered: set[str] = set()

# Runs of Chinese characters as written, as JSON escapes, or as escaped UTF-8 bytes.
_HAN = re.compile(r"[\u3400-\u9fff·]+")
_JSON_ESCAPED = re.compile(r"(?:\\u[0-9a-fA-F]{4})+")
_BYTES_ESCAPED = re.compile(r"(?:\\x[0-9a-fA-F]{2})+")


def register_name(name: str) -> None:
    """A name the test run gives a person: no service may ever log it."""
    cleaned = " ".join(name.split())
    if len(cleaned) >= 2:  # one character is a word, not a name
        _registered.add(cleaned)


def names_in_use() -> frozenset[str]:
    return EXAM_AUTHORITY_NAMES | NAMES_TYPED_BY_TESTS | _registered


def assert_no_personal_data(
    log: str, service: str, names: Iterable[str] | None = None
) -> None:
    """Logs never hold ID numbers, phone numbers or names (checked after every e2e
    test, and at the end of the security tests' shared system)."""
    for pattern, what in ((ID_NUMBER, "an ID number"), (MOBILE, "a phone number")):
        found = pattern.search(log)
        assert found is None, (
            f"{service} logged {what}: ...{found and found.group()[-4:]}"
        )
    name = first_name_in(log, names_in_use() if names is None else names)
    assert name is None, f"{service} logged a holder's name: {name and name[0]}*"


def first_name_in(log: str, names: Iterable[str]) -> str | None:
    """The first of `names` the log holds in any of its spellings, or None."""
    wanted = frozenset(names)
    chinese = {name for name in wanted if _HAN.fullmatch(name)}
    for text in _chinese_runs(log):
        for name in chinese:
            if name in text:
                return name
    # Names with spaces or Latin letters are few: looked for in the whole log.
    for name in wanted - chinese:
        if any(spelling in log for spelling in _spellings(name)):
            return name
    return None


def _spellings(name: str) -> set[str]:
    return {name, json.dumps(name)[1:-1], repr(name.encode())[2:-1]}


def _chinese_runs(log: str) -> Iterable[str]:
    """Each stretch of Chinese text in the log, with escapes decoded back.

    Log lines are mostly ASCII, so looking for names only inside these stretches
    keeps the check fast on long logs.
    """
    yield from _HAN.findall(log)
    for escaped in _JSON_ESCAPED.findall(log):
        yield json.loads(f'"{escaped}"', strict=False)
    for escaped in _BYTES_ESCAPED.findall(log):
        raw = bytes(int(pair, 16) for pair in escaped.split("\\x")[1:])
        yield raw.decode("utf-8", errors="ignore")
