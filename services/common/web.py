"""HTTP helpers: JSON answers, stable error codes, and who is calling."""

from __future__ import annotations

import json
from typing import Any

from stdnum.cn import ric
from werkzeug.wrappers import Request, Response

from services.common.settings import Settings

DEV_APPLICANT_HEADER = "X-Dev-Applicant-Id-Number"


class HttpError(Exception):
    """An answer a person can act on: status, a stable code and a message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}")
        self.status = status
        self.code = code
        self.message = message


def json_response(body: Any, status: int = 200) -> Response:
    return Response(
        json.dumps(body, ensure_ascii=False, default=str),
        status=status,
        mimetype="application/json",
    )


def error_response(error: HttpError) -> Response:
    return json_response(
        {"error": {"code": error.code, "message": error.message}}, error.status
    )


def applicant_id_number(request: Request, settings: Settings) -> str:
    """The calling applicant's ID number.

    Until the identity service issues tokens, the only way in is the development
    switch XJCERT_DEV_APPLICANT_HEADER, off by default: with it on, the caller
    names the applicant in a header (never in the URL, which proxies log).
    """
    if not settings.dev_applicant_header:
        raise HttpError(
            401,
            "authentication_required",
            "Sign in to see your certificates.",
        )
    id_number = request.headers.get(DEV_APPLICANT_HEADER, "").strip().upper()
    if not id_number:
        raise HttpError(
            401,
            "authentication_required",
            f"Name the applicant in the {DEV_APPLICANT_HEADER} header.",
        )
    if not ric.is_valid(id_number):
        raise HttpError(
            400,
            "invalid_id_number",
            "The resident ID number is not valid: check its 18 characters.",
        )
    return id_number
