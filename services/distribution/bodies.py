"""Request bodies of the distribution API, as JSON Schemas checked at the edge."""

from __future__ import annotations

from typing import Any

from services.common.errors import Invalid

MOBILE = r"^1[3-9]\d{9}$"
CERTIFICATE_NUMBERS = {
    "type": "array",
    "items": {"type": "string", "minLength": 1, "maxLength": 40},
    "minItems": 1,
    "maxItems": 10,
}
TEXT = {"type": "string", "minLength": 1, "maxLength": 200}

BOOK = {
    "type": "object",
    "required": ["certificate_numbers", "starts_at"],
    "properties": {
        "certificate_numbers": CERTIFICATE_NUMBERS,
        "starts_at": {"type": "string", "maxLength": 40},
    },
    "additionalProperties": False,
}
MOVE = {
    "type": "object",
    "required": ["starts_at"],
    "properties": {"starts_at": {"type": "string", "maxLength": 40}},
    "additionalProperties": False,
}
PROXY = {
    "type": "object",
    "required": ["name", "id_number"],
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 100},
        "id_number": {"type": "string", "maxLength": 30},
    },
    "additionalProperties": False,
}
ADDRESS = {
    "type": "object",
    "required": ["province", "city", "district", "street"],
    "properties": {
        "province": TEXT,
        "city": TEXT,
        "district": TEXT,
        "street": TEXT,
        "postal_code": {"type": "string", "pattern": r"^\d{6}$"},
    },
    "additionalProperties": False,
}
DELIVERY_FIELDS = {
    "recipient": {"type": "string", "minLength": 1, "maxLength": 100},
    "mobile": {"type": "string", "pattern": MOBILE},
    "address": ADDRESS,
}
DELIVERY = {
    "type": "object",
    "required": ["recipient", "mobile", "address"],
    "properties": DELIVERY_FIELDS,
    "additionalProperties": False,
}
MAIL = {
    "type": "object",
    "required": ["certificate_numbers", "recipient", "mobile", "address"],
    "properties": {"certificate_numbers": CERTIFICATE_NUMBERS, **DELIVERY_FIELDS},
    "additionalProperties": False,
}
HAND_OVER = {
    "type": "object",
    "required": ["collected_by"],
    "properties": {
        "collected_by": {"enum": ["holder", "proxy"]},
        "holder_document_checked": {"type": "boolean"},
        "proxy_name": {"type": "string", "maxLength": 100},
        "proxy_id_number": {"type": "string", "maxLength": 30},
        "proxy_document_checked": {"type": "boolean"},
        "authorisation": {
            "description": "The letter of authorisation: its upload reference or the "
            "number under which the counter recorded it.",
            "type": "string",
            "maxLength": 200,
        },
    },
    "additionalProperties": False,
}
SHIP = {
    "type": "object",
    "required": ["tracking_number", "carrier"],
    "properties": {
        "tracking_number": {"type": "string", "pattern": r"^[0-9A-Za-z-]{6,40}$"},
        "carrier": TEXT,
    },
    "additionalProperties": False,
}
PICKUP_DAY = {
    "type": "object",
    "properties": {
        "capacity": {"type": "integer", "minimum": 0, "maximum": 500},
        "closed": {"type": "boolean"},
        "reason": {"type": "string", "maxLength": 200},
    },
    "additionalProperties": False,
    "minProperties": 1,
}


def delivery(body: dict[str, Any]) -> dict[str, Any]:
    """Recipient, mobile and address, with blanks refused after trimming."""
    address = {key: value.strip() for key, value in body["address"].items()}
    recipient = body["recipient"].strip()
    if not recipient or not all(address.values()):
        raise Invalid("incomplete_address", "请完整填写收件人和详细地址。")
    return {"recipient": recipient, "mobile": body["mobile"], "address": address}
