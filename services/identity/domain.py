"""Accounts of applicants and staff, and the claims that keep them unique."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from datetime import datetime

from eventsourcing.domain import Aggregate, event


class Account(Aggregate):
    class Registered(Aggregate.Created):
        mobile: str
        password_hash: str
        roles: list[str]

    def __init__(self, mobile: str, password_hash: str, roles: list[str]) -> None:
        self.mobile = mobile
        self.password_hash = password_hash
        self.roles = roles
        self.real_name: str | None = None
        self.id_number: str | None = None
        self.document_kind: str | None = None
        self.locked_until: datetime | None = None

    @classmethod
    def register(cls, mobile: str, password_hash: str, roles: list[str]) -> Account:
        return cls._create(
            cls.Registered, mobile=mobile, password_hash=password_hash, roles=roles
        )

    @property
    def real_name_verified(self) -> bool:
        return self.id_number is not None

    def is_locked(self, now: datetime) -> bool:
        return self.locked_until is not None and now < self.locked_until

    @event("RealNameVerified")
    def verify_real_name(self, name: str, id_number: str, document_kind: str) -> None:
        self.real_name = name
        self.id_number = id_number
        self.document_kind = document_kind

    @event("PasswordChanged")
    def change_password(self, password_hash: str) -> None:
        self.password_hash = password_hash

    @event("Locked")
    def lock(self, until: datetime) -> None:
        self.locked_until = until

    @event("SessionsEnded")
    def end_sessions(self, session_ids: list[str], reason: str) -> None:
        """Sign-in sessions ended; kept as a fact so every service hears of it."""


class Claim(Aggregate):
    """A value that only one account may hold: a mobile number, a verified ID.

    Its id is a keyed hash of the value, so a second claim of the same value fails
    to save, atomically with the account change that made it; and a database dump
    shows neither the value nor a hash that could be tried against all numbers.
    """

    class Made(Aggregate.Created):
        account_id: uuid.UUID

    def __init__(self, account_id: uuid.UUID) -> None:
        self.account_id = account_id

    @classmethod
    def make(cls, claim_id: uuid.UUID, account_id: uuid.UUID) -> Claim:
        return cls._create(cls.Made, id=claim_id, account_id=account_id)


def claim_id(lookup_key: bytes, kind: str, value: str) -> uuid.UUID:
    digest = hmac.new(lookup_key, f"{kind}:{value}".encode(), hashlib.sha256).digest()
    return uuid.UUID(bytes=digest[:16])
