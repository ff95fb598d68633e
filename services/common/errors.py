"""Refusals: expected answers to a request that cannot be carried out.

Each has a stable code for programs and a message a person can act on (in Chinese,
as holders and staff read it). Entrypoints declare `Refusal` as expected, so it logs
as a warning and reaches the caller as a 4xx (or 503) answer, never a stack trace.
Messages never contain ID numbers, names or phone numbers.
"""

from __future__ import annotations


class Refusal(Exception):
    status = 400

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class Invalid(Refusal):
    status = 400


class Unauthenticated(Refusal):
    status = 401


class Forbidden(Refusal):
    status = 403


class NotFound(Refusal):
    status = 404


class Conflict(Refusal):
    status = 409


class Locked(Refusal):
    status = 423


class TooManyAttempts(Refusal):
    status = 429


class Unavailable(Refusal):
    status = 503
