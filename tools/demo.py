"""python -m tools.demo: see the product work, end to end, against `make run`.

Publishes a sample of exam results as the exam authority would, then acts as one
of the passed candidates on the portal: registers, verifies their real name,
signs in and reads their certificates.
"""

from __future__ import annotations

import argparse
import json
import random
import time
import uuid

import requests

from tools.exam_authority import Broker, publish, results_message, sample_candidates

PASSWORD = "Tianshan-Bogda-2025"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--amqp-uri", default="amqp://guest:guest@127.0.0.1:5672/")
    parser.add_argument("--identity", default="http://127.0.0.1:8001")
    parser.add_argument("--certificates", default="http://127.0.0.1:8002")
    parser.add_argument("--distribution", default="http://127.0.0.1:8004")
    parser.add_argument("--candidates", type=int, default=50)
    args = parser.parse_args()

    session = f"demo-{uuid.uuid4().hex[:8]}"
    candidates = sample_candidates(session, args.candidates, xpcc=args.candidates // 10)
    publish(Broker(args.amqp_uri), results_message(session, candidates))
    print(f"published exam session {session}: {len(candidates)} passed candidates")

    holder = candidates[-1]
    token = sign_up(args.identity, holder["name"], holder["id_number"])
    print("registered, verified and signed in as one of them; their certificates:")
    mine = certificates(args.certificates, token)
    print(json.dumps(mine, ensure_ascii=False, indent=2))

    number = mine["certificates"][0]["certificate_number"]
    window = book_first_window(args.distribution, token, number)
    print(f"booked the pickup window starting {window}; their certificates now:")
    booked = certificates(args.certificates, token, until_state="booked")
    print(json.dumps(booked, ensure_ascii=False, indent=2))


def sign_up(identity: str, name: str, id_number: str) -> str:
    mobile = f"139{random.randrange(10**8):08d}"
    credentials = {"mobile": mobile, "password": PASSWORD}
    _ok(requests.post(f"{identity}/v1/accounts", json=credentials, timeout=10))
    session = _ok(
        requests.post(f"{identity}/v1/sessions", json=credentials, timeout=10)
    )
    token = session.json()["access_token"]
    _ok(
        requests.post(
            f"{identity}/v1/me/real-name",
            json={"name": name, "id_number": id_number},
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
    )
    return token


def book_first_window(url: str, token: str, certificate_number: str) -> str:
    auth = {"Authorization": f"Bearer {token}"}
    listed = requests.get(f"{url}/v1/pickup/windows", headers=auth, timeout=10)
    window = next(w for w in _ok(listed).json()["windows"] if w["seats_left"])
    body = {
        "certificate_numbers": [certificate_number],
        "starts_at": window["starts_at"],
    }
    for _ in range(50):  # until the certificate has reached distribution
        booked = requests.post(
            f"{url}/v1/bookings", json=body, headers=auth, timeout=10
        )
        if booked.status_code != 404:
            break
        time.sleep(0.2)
    _ok(booked)
    return window["starts_at"]


def certificates(url: str, token: str, until_state: str | None = None) -> dict:
    # Results, verification and bookings travel over the event log: give them a
    # moment to arrive.
    for _ in range(50):
        response = requests.get(
            f"{url}/v1/me/certificates",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        shown = response.json().get("certificates") if response.ok else None
        if shown and (until_state is None or shown[0]["state"] == until_state):
            return response.json()
        time.sleep(0.2)
    return _ok(response).json()


def _ok(response: requests.Response) -> requests.Response:
    if not response.ok:
        raise SystemExit(f"{response.request.method} {response.url}: {response.text}")
    return response


if __name__ == "__main__":
    main()
