"""Message templates for every notification kind, kept as data in a TOML file.

The packaged file is Chinese; operators may point XJCERT_NOTIFICATION_TEMPLATES at
their own. A file is checked whole when it is loaded, so a broken one stops the
service at start rather than at the first message of a rare kind.
"""

from __future__ import annotations

import os
import re
import string
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_FILE = "templates.zh.toml"

KEYS = ("title", "inbox", "sms", "email_subject", "email_body")

# The parameters each kind is rendered with; a template may use any of its own.
PARAMETERS: dict[str, frozenset[str]] = {
    kind: frozenset(names)
    for kind, names in {
        "reissue_returned": ("certificate_number", "qualification_name", "message"),
        "reissue_approved": ("certificate_number", "qualification_name"),
        "reissue_batched": ("certificate_number", "qualification_name", "period"),
        "certificate_claimable": (
            "certificate_number",
            "qualification_name",
            "custody_until",
        ),
        "appointment_booked": ("window",),
        "appointment_moved": ("window",),
        "appointment_cancelled": ("window", "reason"),
        "appointment_tomorrow": ("window",),
        "mail_shipped": ("carrier", "tracking_number"),
        "ecert_downloadable": ("certificate_number", "qualification_name"),
        "custody_ending_soon": (
            "certificate_number",
            "qualification_name",
            "custody_until",
            "days_left",
        ),
        "custody_expired": ("certificate_number", "qualification_name"),
        "deadline_overdue": ("deadline", "reference", "due_on"),
    }.items()
}

# Seventeen digits and a check character, as in a mainland resident ID number.
# Greedy over a longer run of digits, so that masking one window never leaves
# another whole one behind it.
ID_NUMBER = re.compile(r"\d{17,}[\dXx]")
ID_NUMBER_SHOWN = 4


class TemplateError(Exception):
    """A template file or a render request is wrong; the message says where."""


@dataclass(frozen=True)
class RenderedMessage:
    title: str
    inbox: str
    sms: str
    email_subject: str
    email_body: str


class Templates:
    """One text per kind and key, checked against the parameters of its kind."""

    def __init__(self, tables: Mapping[str, object], source: str = "templates") -> None:
        self._texts = _checked(tables, source)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> Templates:
        try:
            with open(path, "rb") as file:
                tables = tomllib.load(file)
        except OSError as error:
            raise TemplateError(
                f"template file {os.fspath(path)} cannot be read: {error.strerror}"
            ) from None
        except tomllib.TOMLDecodeError as error:
            raise TemplateError(
                f"template file {os.fspath(path)} is not valid TOML: {error}"
            ) from None
        return cls(tables, os.fspath(path))

    @classmethod
    def default(cls) -> Templates:
        """The Chinese templates packaged with the service."""
        return cls.from_file(Path(__file__).with_name(DEFAULT_FILE))

    @property
    def kinds(self) -> frozenset[str]:
        return frozenset(self._texts)

    def render(self, kind: str, params: Mapping[str, str]) -> RenderedMessage:
        if kind not in self._texts:
            raise TemplateError(f"unknown notification kind {kind!r}")
        values = _values(kind, params)
        texts = {key: self._texts[kind][key].format_map(values) for key in KEYS}
        # A last defence: an ID number a caller let through never goes out by SMS.
        texts["sms"] = mask_id_numbers(texts["sms"])
        return RenderedMessage(**texts)


def mask_id_numbers(text: str) -> str:
    """Every ID-number-like run of characters, shown by its last four only."""
    return ID_NUMBER.sub(_masked, text)


def _masked(match: re.Match[str]) -> str:
    number = match.group()
    return "*" * (len(number) - ID_NUMBER_SHOWN) + number[-ID_NUMBER_SHOWN:]


def _values(kind: str, params: Mapping[str, str]) -> dict[str, str]:
    missing = sorted(PARAMETERS[kind] - params.keys())
    if missing:
        raise TemplateError(f"{kind} needs parameters: {', '.join(missing)}")
    for name in sorted(PARAMETERS[kind]):
        if not isinstance(params[name], str):
            raise TemplateError(
                f"parameter {name} of {kind} must be text, "
                f"got {type(params[name]).__name__}"
            )
    return {name: params[name] for name in PARAMETERS[kind]}


def _checked(tables: Mapping[str, object], source: str) -> dict[str, dict[str, str]]:
    missing = sorted(PARAMETERS.keys() - tables.keys())
    if missing:
        raise TemplateError(f"{source} lacks kinds: {', '.join(missing)}")
    unknown = sorted(tables.keys() - PARAMETERS.keys())
    if unknown:
        raise TemplateError(f"{source} has unknown kinds: {', '.join(unknown)}")
    return {kind: _checked_table(kind, tables[kind], source) for kind in PARAMETERS}


def _checked_table(kind: str, table: object, source: str) -> dict[str, str]:
    if not isinstance(table, dict):
        raise TemplateError(f"{source}: {kind} must be a table of {', '.join(KEYS)}")
    missing = [key for key in KEYS if key not in table]
    if missing:
        raise TemplateError(f"{source}: [{kind}] lacks keys: {', '.join(missing)}")
    unknown = sorted(table.keys() - set(KEYS))
    if unknown:
        raise TemplateError(
            f"{source}: [{kind}] has unknown keys: {', '.join(unknown)}"
        )
    for key in KEYS:
        _check_text(kind, key, table[key], source)
    return {key: table[key] for key in KEYS}


def _check_text(kind: str, key: str, text: object, source: str) -> None:
    where = f"{source}: [{kind}] {key}"
    if not isinstance(text, str):
        raise TemplateError(f"{where} must be text")
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as error:
        raise TemplateError(f"{where} is not a valid template: {error}") from None
    for _, field, spec, conversion in parsed:
        if field is None:
            continue
        if field not in PARAMETERS[kind]:
            raise TemplateError(
                f"{where} uses unknown placeholder {{{field}}}; "
                f"{kind} has: {', '.join(sorted(PARAMETERS[kind]))}"
            )
        # A plain {name} only: no conversion (!r) and no format spec (:>10).
        if spec or conversion:
            raise TemplateError(f"{where} formats {{{field}}}; write it plainly")
