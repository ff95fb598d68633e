"""Holders for the benchmarks: verified accounts with an access token each."""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from services.common.auth import Role, TokenIssuer
from services.common.id_numbers import document_kind
from services.common.settings import Settings
from services.identity.application import IdentityApplication
from services.identity.passwords import hash_password
from tests.support.holders import PASSWORD, Holder, new_mobile, verified_holder

# Identity hashes each password with Argon2id, about 0.2 s of one core: signing in
# is bounded by that, not by the number of client threads.
SIGN_IN_THREADS = 4


def distinct_people(candidates: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """One candidate per ID number: an ID number may verify only one account."""
    seen: dict[str, dict[str, Any]] = {}
    for candidate in candidates:
        seen.setdefault(candidate["id_number"], candidate)
    return list(seen.values())


def signed_in(identity_url: str, candidates: list[dict[str, Any]]) -> list[Holder]:
    """Register, sign in and verify each candidate through identity's HTTP API."""

    def holder(candidate: dict[str, Any]) -> Holder:
        return verified_holder(identity_url, candidate["name"], candidate["id_number"])

    with ThreadPoolExecutor(SIGN_IN_THREADS) as pool:
        return list(pool.map(holder, candidates))


def enrolled(settings: Settings, candidates: list[dict[str, Any]]) -> list[str]:
    """Access tokens of verified accounts recorded straight in identity's store.

    For crowds: the accounts, their real-name verification and the tokens are
    what identity records and signs, without an Argon2id hash per holder. The
    running identity service publishes the verifications as usual.
    """
    app = IdentityApplication.from_settings(settings, "identity")
    issuer = TokenIssuer(settings.secrets.read("token_private_key"))
    password_hash = hash_password(PASSWORD)
    roles = frozenset({Role.APPLICANT})
    tokens = []
    try:
        for candidate in candidates:
            account_id = app.register(new_mobile(), password_hash, sorted(roles))
            number = candidate["id_number"]
            app.verify_real_name(
                account_id, candidate["name"], number, document_kind(number)
            )
            tokens.append(issuer.access_token(account_id, roles))
    finally:
        app.close()
    return tokens


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
