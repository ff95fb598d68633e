"""Identity against the real services: accounts, real names, sessions and roles."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import uuid
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import jwt
import pytest
import requests
from stdnum.cn import ric

from services.common.auth import new_signing_key_pair
from tests.support.holders import (
    PASSWORD,
    Holder,
    certificates_of,
    new_mobile,
    verified_holder,
)
from tests.support.infrastructure import environment_for, eventually, secret_files
from tests.support.processes import ROOT, free_port
from tools.exam_authority import Broker, publish, results_message, sample_candidates

NAME = "李文静"
ID_NUMBER = "650102199308052190"


def with_check_character(first_17: str) -> str:
    return first_17 + ric.calc_check_digit(first_17 + "0")


def error_code(response: requests.Response) -> str:
    return response.json()["error"]["code"]


def test_a_holder_registers_verifies_signs_in_refreshes_and_signs_out(start_identity):
    identity = start_identity()
    holder = Holder(identity.url, new_mobile())

    registered = holder.register()
    again = holder.register()
    wrong = holder.sign_in("not-the-password-1")
    signed_in = holder.sign_in()
    me = requests.get(identity.url + "/v1/me", headers=holder.auth, timeout=10)
    verified = holder.verify(NAME, ID_NUMBER)
    first_refresh = holder.refresh_token
    refreshed = holder.post("/v1/sessions/refresh", {"refresh_token": first_refresh})
    replayed = holder.post("/v1/sessions/refresh", {"refresh_token": first_refresh})
    after_replay = holder.post(
        "/v1/sessions/refresh", {"refresh_token": refreshed.json()["refresh_token"]}
    )

    assert registered.status_code == 201
    assert (again.status_code, error_code(again)) == (409, "mobile_taken")
    assert (wrong.status_code, error_code(wrong)) == (401, "wrong_credentials")
    assert signed_in.json()["token_type"] == "Bearer"
    assert me.json()["mobile"] == holder.mobile[:3] + "****" + holder.mobile[-4:]
    assert me.json()["roles"] == ["applicant"]
    assert verified.json() == {
        "real_name_verified": True,
        "document_kind": "mainland_resident",
    }
    assert refreshed.status_code == 200
    assert error_code(replayed) == "refresh_token_invalid"
    assert error_code(after_replay) == "refresh_token_invalid"


def test_sign_out_and_password_change_revoke_refresh_tokens(start_identity):
    identity = start_identity()
    holder = Holder(identity.url, new_mobile())
    holder.register()
    holder.sign_in()
    signed_out = holder.refresh_token
    holder.post("/v1/sessions/sign-out", {"refresh_token": signed_out})
    holder.sign_in()
    before_change = holder.refresh_token

    changed = holder.post(
        "/v1/me/password",
        {"current_password": PASSWORD, "new_password": "Kashgar-Oasis-Night-7"},
        holder.auth,
    )

    assert changed.status_code == 204
    for token in (signed_out, before_change):
        response = holder.post("/v1/sessions/refresh", {"refresh_token": token})
        assert error_code(response) == "refresh_token_invalid"
    assert holder.sign_in(PASSWORD).status_code == 401
    assert holder.sign_in("Kashgar-Oasis-Night-7").status_code == 200


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"mobile": "12345", "password": "Tianshan-Bogda-2025"}, "invalid_mobile"),
        ({"mobile": "13900000001", "password": "12345678"}, "weak_password"),
        ({"mobile": "13900000002", "password": "woaini1314"}, "weak_password"),
        ({"mobile": "13900000003"}, "invalid_request"),
        ({"mobile": 13900000003, "password": "x"}, "invalid_request"),
    ],
)
def test_bad_registrations_are_refused_with_a_reason(start_identity, body, code):
    identity = start_identity()

    response = requests.post(identity.url + "/v1/accounts", json=body, timeout=10)

    assert response.status_code == 400
    assert error_code(response) == code
    assert response.json()["error"]["message"]


def test_malformed_json_is_refused(start_identity):
    identity = start_identity()

    response = requests.post(
        identity.url + "/v1/accounts", data=b"{mobile:", timeout=10
    )

    assert (response.status_code, error_code(response)) == (400, "malformed_json")


@pytest.mark.parametrize(
    ("id_number", "code"),
    [
        ("65010219930805219", "invalid_id_number"),
        ("650102199308052191", "wrong_check_character"),
        (with_check_character("65010219930230219"), "impossible_birth_date"),
        (with_check_character("99999919930805219"), "unknown_region"),
    ],
)
def test_bad_id_numbers_are_refused_with_what_is_wrong(start_identity, id_number, code):
    identity = start_identity()
    holder = Holder(identity.url, new_mobile())
    holder.register()
    holder.sign_in()

    response = holder.verify(NAME, id_number)

    assert (response.status_code, error_code(response)) == (400, code)


def test_residence_permits_of_hong_kong_macao_and_taiwan_are_accepted(start_identity):
    identity = start_identity()
    kinds = {}

    for prefix in ("810000", "820000", "830000"):
        permit = with_check_character(f"{prefix}19900101001")
        holder = verified_holder(identity.url, "陈大文", permit)
        me = requests.get(identity.url + "/v1/me", headers=holder.auth, timeout=10)
        kinds[prefix] = me.json()["document_kind"]

    assert kinds == {
        "810000": "hong_kong_resident",
        "820000": "macao_resident",
        "830000": "taiwan_resident",
    }


def test_an_id_number_verifies_one_account_only_and_the_refusal_names_nobody(
    start_identity,
):
    identity = start_identity()
    first = verified_holder(identity.url, NAME, ID_NUMBER)
    second = Holder(identity.url, new_mobile())
    second.register()
    second.sign_in()

    response = second.verify(NAME, ID_NUMBER)

    assert (response.status_code, error_code(response)) == (409, "id_number_taken")
    assert first.mobile not in response.text
    assert first.mobile[-4:] not in response.text


def test_repeated_failed_sign_ins_lock_the_account(start_identity):
    identity = start_identity()
    holder = Holder(identity.url, new_mobile())
    holder.register()

    answers = [holder.sign_in("Wrong-Password-99").status_code for _ in range(5)]
    right_password = holder.sign_in()

    assert answers == [401, 401, 401, 401, 423]
    assert (right_password.status_code, error_code(right_password)) == (
        423,
        "account_locked",
    )
    assert "北京时间" in right_password.json()["error"]["message"]


def test_failed_sign_ins_are_limited_per_client_address(start_identity):
    identity = start_identity()

    answers = [
        Holder(identity.url, new_mobile()).sign_in().status_code for _ in range(21)
    ]

    assert answers[:20] == [401] * 20
    assert answers[20] == 429


def test_staff_are_created_by_command_and_roles_are_checked_elsewhere(
    start_identity, start_certificates, database, vhost
):
    identity, certificates = start_identity(), start_certificates()
    mobile = new_mobile()
    created = subprocess.run(
        [sys.executable, "-m", "services.identity.staff", "--mobile", mobile]
        + ["--role", "reviewer"],
        input="Urumqi-Review-Desk-42\n",
        cwd=ROOT,
        env={**os.environ, **environment_for(database, vhost)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    reviewer = Holder(identity.url, mobile)
    reviewer.sign_in("Urumqi-Review-Desk-42")

    answer = certificates.get("/v1/me/certificates", headers=reviewer.auth)
    verify = reviewer.verify(NAME, ID_NUMBER)

    assert created.returncode == 0, created.stderr
    assert (answer.status_code, error_code(answer)) == (403, "role_not_allowed")
    assert (verify.status_code, error_code(verify)) == (403, "role_not_allowed")


def test_forged_and_expired_tokens_are_refused(start_certificates):
    certificates = start_certificates()
    claims = {
        "iss": "xjcert-identity",
        "sub": str(uuid.uuid4()),
        "roles": ["applicant"],
        "iat": datetime.now(UTC) - timedelta(hours=1),
        "exp": datetime.now(UTC) + timedelta(minutes=5),
    }
    stranger_key, _ = new_signing_key_pair()
    our_key = Path(secret_files()["XJCERT_TOKEN_PRIVATE_KEY_FILE"]).read_bytes()
    forged = jwt.encode(claims, _private(stranger_key), algorithm="EdDSA")
    expired = jwt.encode(
        {**claims, "exp": datetime.now(UTC) - timedelta(minutes=1)},
        _private(our_key),
        algorithm="EdDSA",
    )

    answers = {
        name: certificates.get(
            "/v1/me/certificates", headers={"Authorization": f"Bearer {token}"}
        )
        for name, token in (
            ("forged", forged),
            ("expired", expired),
            ("garbage", "not.a.token"),
        )
    }

    assert {k: (v.status_code, error_code(v)) for k, v in answers.items()} == {
        "forged": (401, "token_invalid"),
        "expired": (401, "token_expired"),
        "garbage": (401, "token_invalid"),
    }


def test_an_applicant_sees_their_own_certificates_and_nobody_elses(
    start_identity, start_certificates, database, vhost
):
    identity, certificates = start_identity(), start_certificates()
    alice, bob = sample_candidates("2025-pair", 2)
    publish(Broker(vhost.amqp_uri), results_message("2025-pair", [alice, bob]))
    eventually(
        lambda: (
            database.scalar(
                "SELECT count(*) FROM certificates_read.applicant_certificates"
            )
            == 2
        )
    )

    holder = verified_holder(identity.url, alice["name"], alice["id_number"])
    seen = certificates_of(certificates.url, holder)

    assert [c["certificate_number"] for c in seen["certificates"]] == [
        alice["certificate_number"]
    ]
    assert bob["certificate_number"] not in json.dumps(seen, ensure_ascii=False)


def test_stored_events_reveal_no_personal_data(
    start_identity, start_certificates, database, vhost
):
    identity, _ = start_identity(), start_certificates()
    (candidate,) = sample_candidates("2025-secret", 1)
    publish(Broker(vhost.amqp_uri), results_message("2025-secret", [candidate]))
    holder = verified_holder(identity.url, candidate["name"], candidate["id_number"])

    stored = eventually(
        lambda: _all_stored_bytes(database, ("identity", "certificates")),
        what="stored events",
    )

    for secret in (candidate["id_number"], candidate["name"], holder.mobile):
        assert secret.encode() not in stored
        assert secret.encode("utf-16-le") not in stored


def test_real_names_are_confirmed_by_the_outside_service_when_configured(
    start_identity,
):
    verifier = FakeRealNameService()
    identity = start_identity(XJCERT_REALNAME_SERVICE_URL=verifier.url)
    holder = Holder(identity.url, new_mobile())
    holder.register()
    holder.sign_in()

    verifier.answer = 503
    down = holder.verify(NAME, ID_NUMBER)
    verifier.answer = {"match": False}
    mismatch = holder.verify(NAME, ID_NUMBER)
    verifier.answer = {"match": True}
    confirmed = holder.verify(NAME, ID_NUMBER)
    verifier.stop()

    assert (down.status_code, error_code(down)) == (503, "verification_unavailable")
    assert (mismatch.status_code, error_code(mismatch)) == (400, "real_name_mismatch")
    assert confirmed.status_code == 200
    assert verifier.received[-1] == {"name": NAME, "id_number": ID_NUMBER}


class FakeRealNameService:
    """A local HTTP server standing in for the outside verification service."""

    def __init__(self) -> None:
        self.answer: int | dict = {"match": True}
        self.received: list[dict] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the standard library's name)
                length = int(self.headers["Content-Length"])
                fake.received.append(json.loads(self.rfile.read(length)))
                status = fake.answer if isinstance(fake.answer, int) else 200
                body = (
                    b"{}"
                    if isinstance(fake.answer, int)
                    else json.dumps(fake.answer).encode()
                )
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/verify"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()


def _private(pem: bytes):
    from cryptography.hazmat.primitives import serialization

    return serialization.load_pem_private_key(pem, password=None)


def _all_stored_bytes(database, schemas: tuple[str, ...]) -> bytes:
    chunks = []
    with database.connect() as conn:
        for schema in schemas:
            rows = conn.execute(
                f"SELECT state FROM {schema}.{schema}_events"  # noqa: S608
            ).fetchall()
            chunks.extend(bytes(row[0]) for row in rows)
    return b"".join(chunks) if len(chunks) >= 3 else b""


def test_unknown_paths_and_methods_answer_in_json(start_identity):
    identity = start_identity()

    missing = requests.get(identity.url + "/v1/nothing-here", timeout=10)
    wrong_method = requests.delete(identity.url + "/v1/accounts", timeout=10)

    assert (missing.status_code, error_code(missing)) == (404, "not_found")
    assert (wrong_method.status_code, error_code(wrong_method)) == (
        405,
        "method_not_allowed",
    )


def test_a_blank_name_is_refused(start_identity):
    identity = start_identity()
    holder = Holder(identity.url, new_mobile())
    holder.register()
    holder.sign_in()

    response = holder.verify("   ", ID_NUMBER)

    assert (response.status_code, error_code(response)) == (400, "invalid_name")
