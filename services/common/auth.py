"""Access tokens: identity signs them, every service verifies them on its own.

Tokens are JWTs signed with Ed25519: identity holds the private key, the others
only the public key, so no service but identity can mint one, and no request needs
a call to identity. Tokens carry the account id, roles and sign-in session, never
personal data. A session that ends (sign-out, a password change) is announced by
identity's `sessions_ended` fact; each service refuses its tokens from then on
(see session_ends.py).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from services.common.errors import Forbidden, Unauthenticated

ISSUER = "xjcert-identity"
ALGORITHM = "EdDSA"
ACCESS_TOKEN_LIFETIME = timedelta(minutes=15)


class Role:
    APPLICANT = "applicant"
    REVIEWER = "reviewer"
    COUNTER_CLERK = "counter_clerk"
    SHIPPING_CLERK = "shipping_clerk"
    ADMINISTRATOR = "administrator"

    STAFF = frozenset({REVIEWER, COUNTER_CLERK, SHIPPING_CLERK, ADMINISTRATOR})
    ALL = STAFF | {APPLICANT}


@dataclass(frozen=True)
class Caller:
    account_id: uuid.UUID
    roles: frozenset[str]
    # The sign-in session the token was issued for.
    session_id: uuid.UUID | None = None

    def may(self, admitted: frozenset[str]) -> bool:
        return bool(self.roles & admitted)


class TokenIssuer:
    def __init__(self, private_key_pem: bytes) -> None:
        key = serialization.load_pem_private_key(private_key_pem, password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("the token signing key must be an Ed25519 private key")
        self._key = key

    def access_token(
        self,
        account_id: uuid.UUID,
        roles: frozenset[str],
        session_id: uuid.UUID | None = None,
    ) -> str:
        """A token for one sign-in session; without one, a session of its own."""
        now = datetime.now(UTC)
        claims = {
            "iss": ISSUER,
            "sub": str(account_id),
            "sid": str(session_id or uuid.uuid4()),
            "roles": sorted(roles),
            "iat": now,
            "exp": now + ACCESS_TOKEN_LIFETIME,
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(claims, self._key, algorithm=ALGORITHM)


class TokenVerifier:
    def __init__(self, public_key_pem: bytes) -> None:
        key = serialization.load_pem_public_key(public_key_pem)
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError("the token verification key must be an Ed25519 public key")
        self._key = key

    def caller(self, authorization: str | None) -> Caller:
        """The caller named by an `Authorization: Bearer` header, or a refusal."""
        token = _bearer(authorization)
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                issuer=ISSUER,
                options={"require": ["exp", "iat", "sub", "iss"]},
            )
            # Tokens issued before sessions were named have no `sid`; they
            # expire within ACCESS_TOKEN_LIFETIME of a deployment.
            session = claims.get("sid")
            return Caller(
                uuid.UUID(claims["sub"]),
                frozenset(claims.get("roles", ())),
                uuid.UUID(str(session)) if session is not None else None,
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("token_expired", "登录已过期，请重新登录。") from None
        except (jwt.InvalidTokenError, ValueError, KeyError):
            raise Unauthenticated(
                "token_invalid", "登录凭证无效，请重新登录。"
            ) from None


def admit(caller: Caller, roles: frozenset[str]) -> None:
    if not caller.may(roles):
        raise Forbidden("role_not_allowed", "您的账号没有办理此项业务的权限。")


def _bearer(authorization: str | None) -> str:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("authentication_required", "请先登录。")
    return token.strip()


def new_signing_key_pair() -> tuple[bytes, bytes]:
    """A fresh Ed25519 key pair as PEM (private, public): for set-up and tests."""
    private = Ed25519PrivateKey.generate()
    private_pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private_pem, public_pem
