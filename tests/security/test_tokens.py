"""Access tokens every service must refuse, and guessing that must be slowed.

Each service checks tokens itself, so every kind of bad token is sent to an
authenticated endpoint of each of the five: expired, its payload changed, signed
with another key, unsigned (`alg: none`), signed with HMAC using the public key,
another issuer, no expiry, a refresh token in its place, none at all. Each must be
refused with 401 and a stable code, while the holder's real token is accepted.

Already covered in tests/e2e/test_identity.py, and not repeated here: forged and
expired tokens on certificates (test_forged_and_expired_tokens_are_refused); sign-out
and password change revoking refresh tokens, and a replayed refresh token revoking
the rest (test_sign_out_and_password_change_revoke_refresh_tokens,
test_a_holder_registers_verifies_signs_in_refreshes_and_signs_out); the account lock
after five failed sign-ins and the per-address limit on failed sign-ins
(test_repeated_failed_sign_ins_lock_the_account,
test_failed_sign_ins_are_limited_per_client_address). tests/e2e/
test_certificate_lifecycle.py limits guessing on verification by number and name.

Ending a session (signing out, changing the password, a refresh token used twice)
makes every service refuse that session's access tokens with `session_ended`,
while the account's other sessions go on; tokens live at most 15 minutes anyway.

Guessing tests send from their own loopback address (127.0.0.2 and up), so the
limits they reach do not touch other tests' callers.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from requests.adapters import HTTPAdapter

from services.certificates.verification import FAILURES_PER_ADDRESS
from services.common.auth import new_signing_key_pair
from tests.security.conftest import RunningSystem
from tests.support.holders import PASSWORD, Holder, certificates_of, new_mobile
from tests.support.infrastructure import eventually, secret_files
from tools.exam_authority import sample_candidates

pytestmark = pytest.mark.security

# One authenticated endpoint of each service, open to any applicant.
ENDPOINTS = {
    "identity": "/v1/me",
    "certificates": "/v1/me/certificates",
    "reissue": "/v1/me/reissue/applications",
    "distribution": "/v1/me/bookings",
    "notifications": "/v1/me/notices",
}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _our_private_key():
    pem = Path(secret_files()["XJCERT_TOKEN_PRIVATE_KEY_FILE"]).read_bytes()
    return serialization.load_pem_private_key(pem, password=None)


def _claims(subject: str, **changes) -> dict:
    now = datetime.now(UTC)
    claims = {
        "iss": "xjcert-identity",
        "sub": subject,
        "roles": ["applicant"],
        "iat": now,
        "exp": now + timedelta(minutes=10),
    }
    claims.update(changes)
    return {key: value for key, value in claims.items() if value is not None}


def _with_payload(token: str, **changes) -> str:
    """The token with its payload changed and its signature kept."""
    header, payload, signature = token.split(".")
    claims = {**json.loads(_unb64(payload)), **changes}
    return ".".join([header, _b64(json.dumps(claims).encode()), signature])


def _hmac_signed_with_public_key(claims: dict) -> str:
    """The key-confusion attack: HS256 keyed with the published verification key."""
    public_pem = Path(secret_files()["XJCERT_TOKEN_PUBLIC_KEY_FILE"]).read_bytes()
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = _b64(json.dumps(claims, default=lambda t: int(t.timestamp())).encode())
    signing_input = f"{header}.{payload}".encode()
    signature = hmac.new(public_pem, signing_input, hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64(signature)}"


def _unsigned(claims: dict) -> str:
    header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    payload = _b64(json.dumps(claims, default=lambda t: int(t.timestamp())).encode())
    return f"{header}.{payload}."


def bad_authorizations(holder: Holder) -> dict[str, tuple[str | None, str]]:
    """Each kind of bad credential: the Authorization header, the code expected."""
    ours = _our_private_key()
    stranger = serialization.load_pem_private_key(
        new_signing_key_pair()[0], password=None
    )
    subject = json.loads(_unb64(holder.access_token.split(".")[1]))["sub"]
    claims = _claims(subject)
    expired = _claims(subject, exp=datetime.now(UTC) - timedelta(minutes=1))
    as_admin = _with_payload(
        holder.access_token, roles=["administrator"], sub=str(uuid.uuid4())
    )

    def bearer(token: str) -> str:
        return f"Bearer {token}"

    return {
        "expired": (bearer(jwt.encode(expired, ours, "EdDSA")), "token_expired"),
        "payload changed": (bearer(as_admin), "token_invalid"),
        "another key": (bearer(jwt.encode(claims, stranger, "EdDSA")), "token_invalid"),
        "alg none": (bearer(_unsigned(claims)), "token_invalid"),
        "hmac with the public key": (
            bearer(_hmac_signed_with_public_key(claims)),
            "token_invalid",
        ),
        "another issuer": (
            bearer(jwt.encode({**claims, "iss": "elsewhere"}, ours, "EdDSA")),
            "token_invalid",
        ),
        "no expiry": (
            bearer(jwt.encode(_claims(subject, exp=None), ours, "EdDSA")),
            "token_invalid",
        ),
        "refresh token": (bearer(holder.refresh_token), "token_invalid"),
        "no token": (None, "authentication_required"),
        "basic scheme": (f"Basic {holder.access_token}", "authentication_required"),
    }


@pytest.fixture(scope="module")
def holder(shared_system: RunningSystem) -> Holder:
    """A freshly signed-in holder of the shared system, with a refresh token."""
    holder = shared_system.holder
    assert holder.sign_in().status_code == 200
    # Verified as far as certificates, so that its real token is answered 200.
    certificates_of(shared_system.services["certificates"].url, holder)
    return holder


@pytest.mark.parametrize("service", ENDPOINTS)
def test_every_service_refuses_bad_tokens_with_401_and_a_stable_code(
    shared_system: RunningSystem, holder: Holder, service: str
):
    url = shared_system.services[service].url + ENDPOINTS[service]
    accepted = requests.get(url, headers=holder.auth, timeout=20)
    answers = {}
    for kind, (authorization, _) in bad_authorizations(holder).items():
        headers = {"Authorization": authorization} if authorization else {}
        answers[kind] = requests.get(url, headers=headers, timeout=20)

    found = {kind: _status_and_code(answer) for kind, answer in answers.items()}
    print(f"{service} {ENDPOINTS[service]}: real token {accepted.status_code}; {found}")

    assert accepted.status_code == 200, accepted.text
    assert found == {
        kind: (401, code) for kind, (_, code) in bad_authorizations(holder).items()
    }
    assert all(a.json()["error"]["message"] for a in answers.values())


def _status_and_code(answer: requests.Response) -> tuple[int, str]:
    try:
        return answer.status_code, answer.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return answer.status_code, "(no error code: the token was accepted)"


def test_an_access_token_is_not_accepted_as_a_refresh_token(
    shared_system: RunningSystem, holder: Holder
):
    identity = shared_system.services["identity"].url

    answer = requests.post(
        identity + "/v1/sessions/refresh",
        json={"refresh_token": holder.access_token[:200]},
        timeout=20,
    )

    print(f"access token as refresh token: {answer.status_code} {answer.text}")
    assert (answer.status_code, answer.json()["error"]["code"]) == (
        401,
        "refresh_token_invalid",
    )


def _session_of(system: RunningSystem, mobile: str | None = None) -> Holder:
    """A holder signed in once more: a session of its own, with its own tokens."""
    holder = Holder(system.services["identity"].url, mobile or new_mobile())
    if mobile is None:
        assert holder.register().status_code == 201
    assert holder.sign_in().status_code == 200
    return holder


def _answers(system: RunningSystem, session: Holder) -> dict[str, tuple[int, str]]:
    return {
        service: _status_and_code(
            requests.get(
                system.services[service].url + path, headers=session.auth, timeout=20
            )
        )
        for service, path in ENDPOINTS.items()
    }


def _refused_everywhere(system: RunningSystem, session: Holder):
    """Each service's answer once all refuse the session's token as ended."""
    ended = dict.fromkeys(ENDPOINTS, (401, "session_ended"))

    def answers() -> dict | None:
        found = _answers(system, session)
        return found if found == ended else None

    return eventually(answers, timeout=20, what="every service to refuse the token")


def test_signing_out_ends_that_sessions_access_tokens_at_every_service(
    shared_system: RunningSystem,
):
    leaving = _session_of(shared_system)
    staying = _session_of(shared_system, leaving.mobile)
    claims = jwt.decode(leaving.access_token, options={"verify_signature": False})

    signed_out = leaving.post(
        "/v1/sessions/sign-out", {"refresh_token": leaving.refresh_token}
    )
    refused = _refused_everywhere(shared_system, leaving)
    other = _answers(shared_system, staying)
    # Last, since presenting a revoked refresh token ends every session.
    renewed = leaving.post(
        "/v1/sessions/refresh", {"refresh_token": leaving.refresh_token}
    )

    print(
        f"sign-out {signed_out.status_code}; renewal {renewed.status_code}; "
        f"the ended session's token: {refused}; the other session's: {other}; "
        f"tokens live {claims['exp'] - claims['iat']}s"
    )
    assert signed_out.status_code == 204
    assert _status_and_code(renewed) == (401, "refresh_token_invalid")
    assert all(status != 401 for status, _ in other.values()), other
    assert 0 < claims["exp"] - claims["iat"] <= 15 * 60


def test_a_password_change_ends_every_session_of_the_account(
    shared_system: RunningSystem,
):
    here = _session_of(shared_system)
    elsewhere = _session_of(shared_system, here.mobile)

    changed = here.post(
        "/v1/me/password",
        {"current_password": PASSWORD, "new_password": "Kunlun-Pamir-Glacier-2026"},
        here.auth,
    )
    refused = [_refused_everywhere(shared_system, s) for s in (here, elsewhere)]

    print(f"password change {changed.status_code}; both sessions' tokens: {refused}")
    assert changed.status_code == 204


def test_a_refresh_token_used_twice_ends_every_session_of_the_account(
    shared_system: RunningSystem,
):
    holder = _session_of(shared_system)
    copied = holder.refresh_token
    first = holder.post("/v1/sessions/refresh", {"refresh_token": copied})
    holder.access_token = first.json()["access_token"]

    again = holder.post("/v1/sessions/refresh", {"refresh_token": copied})
    refused = _refused_everywhere(shared_system, holder)

    print(
        f"first use {first.status_code}, second use {again.status_code}; "
        f"the renewed token: {refused}"
    )
    assert first.status_code == 200
    assert _status_and_code(again) == (401, "refresh_token_invalid")


class FromAddress(HTTPAdapter):
    """Connections from one loopback address: a client of its own to the limits."""

    def __init__(self, address: str) -> None:
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.address, 0)
        return super().init_poolmanager(*args, **kwargs)


def client_at(address: str) -> requests.Session:
    session = requests.Session()
    session.mount("http://", FromAddress(address))
    return session


def test_verification_guesses_by_body_and_by_code_share_the_per_address_limit(
    shared_system: RunningSystem,
):
    certificates = shared_system.services["certificates"].url + "/v1/verification"
    number = "security-shared-000000"
    name = _holder_name(shared_system)
    guesser, bystander = client_at("127.0.0.2"), client_at("127.0.0.3")

    guesses = [
        guesser.post(
            certificates, json={"number": number, "name": f"猜{i}"}, timeout=20
        )
        if i % 2
        else guesser.get(
            certificates, params={"number": number, "code": f"{i:016d}"}, timeout=20
        )
        for i in range(FAILURES_PER_ADDRESS)
    ]
    right_but_limited = guesser.post(
        certificates, json={"number": number, "name": name}, timeout=20
    )
    elsewhere = bystander.post(
        certificates, json={"number": number, "name": name}, timeout=20
    )

    codes = {(g.status_code, g.json()["error"]["code"]) for g in guesses}
    print(
        f"{len(guesses)} wrong guesses: {codes}; then the right one from the same "
        f"address: {right_but_limited.status_code}; "
        f"from another: {elsewhere.status_code}"
    )
    assert codes == {(404, "certificate_not_found")}
    assert (
        right_but_limited.status_code,
        right_but_limited.json()["error"]["code"],
    ) == (
        429,
        "too_many_attempts",
    )
    assert elsewhere.status_code == 200, elsewhere.text


def test_a_sign_in_answer_does_not_tell_whether_the_mobile_has_an_account(
    shared_system: RunningSystem,
):
    identity = shared_system.services["identity"].url + "/v1/sessions"
    client = client_at("127.0.0.4")
    known = shared_system.holder.mobile

    wrong_password = client.post(
        identity, json={"mobile": known, "password": "Not-The-Password-77"}, timeout=20
    )
    no_account = client.post(
        identity,
        json={"mobile": new_mobile(), "password": "Not-The-Password-77"},
        timeout=20,
    )

    print(f"wrong password: {wrong_password.text}; no such account: {no_account.text}")
    assert wrong_password.status_code == no_account.status_code == 401
    assert wrong_password.json() == no_account.json()


def _holder_name(system: RunningSystem) -> str:
    """The shared holder's name, as the exam authority published it."""
    return sample_candidates("security-shared", 1)[0]["name"]
