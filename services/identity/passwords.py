"""Passwords: Argon2id hashes, and a refusal of weak or common ones with a reason."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from zxcvbn import zxcvbn

from services.common.errors import Invalid

MIN_LENGTH = 8
MAX_LENGTH = 128
# zxcvbn's scale: 3 is "safely unguessable" for an online attack, which is what a
# sign-in with lock-out faces.
MIN_STRENGTH = 3

_hasher = PasswordHasher()  # Argon2id with the library's current parameters


def check_strength(password: str, *personal: str) -> None:
    if len(password) < MIN_LENGTH:
        raise Invalid("weak_password", f"密码至少需要 {MIN_LENGTH} 位。")
    if len(password) > MAX_LENGTH:
        raise Invalid("weak_password", f"密码不能超过 {MAX_LENGTH} 位。")
    # zxcvbn is quadratic in the length; the first 64 characters decide anyway.
    if zxcvbn(password[:64], user_inputs=list(personal))["score"] < MIN_STRENGTH:
        raise Invalid(
            "weak_password",
            "密码太常见或太容易猜到（例如含手机号、连续数字或常用词），"
            "请使用更长、更不规则的密码。",
        )


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def password_matches(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)
