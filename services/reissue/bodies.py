"""Request bodies of the reissue API, as JSON Schemas checked at the edge."""

from __future__ import annotations

UUID = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"

START = {
    "type": "object",
    "required": ["certificate_number", "reason"],
    "properties": {
        "certificate_number": {"type": "string", "minLength": 1, "maxLength": 40},
        "reason": {"type": "string", "maxLength": 40},
    },
    "additionalProperties": False,
}
REASON = {
    "type": "object",
    "required": ["reason"],
    "properties": {"reason": {"type": "string", "maxLength": 40}},
    "additionalProperties": False,
}
RETURN = {
    "type": "object",
    "required": ["message"],
    "properties": {
        "message": {"type": "string", "minLength": 1, "maxLength": 1000},
        "problems": {
            "type": "array",
            "items": {"type": "string", "maxLength": 40},
            "maxItems": 10,
        },
    },
    "additionalProperties": False,
}
SYNC = {
    "type": "object",
    "required": ["application_ids"],
    "properties": {
        "application_ids": {
            "type": "array",
            "items": {"type": "string", "pattern": UUID},
            "minItems": 1,
            "maxItems": 1000,
        }
    },
    "additionalProperties": False,
}
