"""The envelope every fact travels in, and its validation against the contracts.

A message that breaks its contract raises `ContractViolation`, whose reason names
the failing field and rule but never the value: reasons end up in dead-letter
headers and logs, and values may be ID numbers or names.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

ACCEPTED_CONTENT_TYPES = {"application/json", None, ""}
EVENT_ID_NAMESPACE = uuid.UUID("6f1c2a52-4f7e-4d0b-9a55-0b7f3c1e8d21")


class ContractViolation(Exception):
    """A message that can never be handled as it is; it goes to the dead letters."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason


@dataclass(frozen=True)
class Envelope:
    event_id: uuid.UUID
    type: str
    version: int
    occurred_at: datetime
    producer: str
    aggregate_id: str
    data: dict[str, Any] = field(repr=False)
    aggregate_version: int | None = None

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "event_id": str(self.event_id),
            "type": self.type,
            "version": self.version,
            "occurred_at": self.occurred_at.isoformat(),
            "producer": self.producer,
            "aggregate_id": self.aggregate_id,
            "data": self.data,
        }
        if self.aggregate_version is not None:
            body["aggregate_version"] = self.aggregate_version
        return body

    def to_json(self) -> bytes:
        return json.dumps(self.to_dict(), ensure_ascii=False).encode()


def stable_event_id(
    producer: str, aggregate_id: uuid.UUID | str, aggregate_version: int
) -> uuid.UUID:
    """The same recorded event gets the same id however often it is published.

    The producer is part of it: two services may keep aggregates under one id (a
    certificate and its custody), and their facts must still differ.
    """
    return uuid.uuid5(
        EVENT_ID_NAMESPACE, f"{producer}/{aggregate_id}/{aggregate_version}"
    )


def parse_message(body: bytes, content_type: str | None) -> Envelope:
    """Decode and validate one message: envelope first, then its type's data."""
    if content_type not in ACCEPTED_CONTENT_TYPES:
        raise ContractViolation(
            "unsupported_content_type",
            f"content type {content_type!r} is not accepted; publish application/json",
        )
    try:
        raw = json.loads(body)
    except (ValueError, RecursionError) as error:
        # ValueError covers bad UTF-8 and numbers too long to convert as well as
        # bad syntax; RecursionError, nesting deeper than the decoder goes.
        raise ContractViolation(
            "malformed_json", f"the body is not JSON ({type(error).__name__})"
        ) from None
    _check(_validator("envelope.v1"), raw, "envelope")
    schema = f"{raw['producer']}.{raw['type']}.v{raw['version']}"
    try:
        validator = _validator(schema)
    except OSError:  # no such file, or a name too long to be one (a huge version)
        raise ContractViolation(
            "unknown_type",
            f"no contract for type {raw['type']!r} version {raw['version']} "
            f"from {raw['producer']!r}",
        ) from None
    _check(validator, raw["data"], "data")
    try:
        return envelope_from_dict(raw)
    except ValueError:
        # The schema checks occurred_at's shape; only the calendar knows 30 February.
        raise ContractViolation(
            "invalid_date", "occurred_at is not a calendar date and time"
        ) from None


def calendar_datetime(value: str, field_name: str) -> datetime:
    """A timestamp whose shape the schema checked; only the calendar knows that
    30 February is not a day, and such a message breaks its contract."""
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise ContractViolation(
            "invalid_date", f"{field_name} is not a calendar date and time"
        ) from None


def envelope_from_dict(raw: dict[str, Any]) -> Envelope:
    """An envelope from a dict that was validated when it first arrived."""
    return Envelope(
        event_id=uuid.UUID(raw["event_id"]),
        type=raw["type"],
        version=raw["version"],
        occurred_at=datetime.fromisoformat(raw["occurred_at"]),
        producer=raw["producer"],
        aggregate_id=raw["aggregate_id"],
        data=raw["data"],
        aggregate_version=raw.get("aggregate_version"),
    )


def _check(validator: Draft202012Validator, instance: Any, where: str) -> None:
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.path))
    if errors:
        described = "; ".join(_describe(where, error) for error in errors[:5])
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        raise ContractViolation("schema_violation", described + more)


def _describe(where: str, error: ValidationError) -> str:
    path = where + "".join(
        f"[{part}]" if isinstance(part, int) else f".{part}" for part in error.path
    )
    if error.validator == "required":
        # One error per missing field; its message names the field, not a value.
        return f"{path}: missing {error.message.split(chr(39))[1]}"
    if error.validator == "additionalProperties":
        return f"{path}: has fields the contract does not define"
    return f"{path}: fails {error.validator!r}"


@cache
def _validator(name: str) -> Draft202012Validator:
    text = resources.files("services.common.contracts").joinpath(f"{name}.json")
    schema = json.loads(text.read_text(encoding="utf-8"))
    # Formats are checked too: a contract's "uuid" must be one, or a handler
    # would fail on it again and again instead of refusing it once.
    return Draft202012Validator(
        schema, format_checker=Draft202012Validator.FORMAT_CHECKER
    )
