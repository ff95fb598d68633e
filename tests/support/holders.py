"""A holder as the portal drives them: register, verify their real name, sign in."""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass

import requests

from tests.support.infrastructure import eventually
from tests.support.privacy import register_name

PASSWORD = "Tianshan-Bogda-2025"
_mobiles = itertools.count(random.Random().randrange(10**7))


def new_mobile() -> str:
    return f"139{next(_mobiles) % 10**8:08d}"


@dataclass
class Holder:
    identity_url: str
    mobile: str
    id_number: str = ""
    access_token: str = ""
    refresh_token: str = ""

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}

    def register(self, password: str = PASSWORD) -> requests.Response:
        return self.post("/v1/accounts", {"mobile": self.mobile, "password": password})

    def sign_in(self, password: str = PASSWORD) -> requests.Response:
        response = self.post(
            "/v1/sessions", {"mobile": self.mobile, "password": password}
        )
        if response.status_code == 200:
            self.access_token = response.json()["access_token"]
            self.refresh_token = response.json()["refresh_token"]
        return response

    def verify(self, name: str, id_number: str) -> requests.Response:
        register_name(name)  # from now on, a name no service may log
        return self.post(
            "/v1/me/real-name", {"name": name, "id_number": id_number}, self.auth
        )

    def post(self, path: str, body: dict, headers: dict | None = None):
        return requests.post(
            self.identity_url + path, json=body, headers=headers, timeout=10
        )


def verified_holder(identity_url: str, name: str, id_number: str) -> Holder:
    holder = Holder(identity_url, new_mobile())
    assert holder.register().status_code == 201
    assert holder.sign_in().status_code == 200
    response = holder.verify(name, id_number)
    assert response.status_code == 200, response.text
    holder.id_number = id_number
    return holder


def certificates_of(certificates_url: str, holder: Holder) -> dict:
    """The holder's certificates, once their verification has reached certificates."""

    def answer() -> dict | None:
        response = requests.get(
            certificates_url + "/v1/me/certificates", headers=holder.auth, timeout=10
        )
        if response.status_code == 403:
            assert response.json()["error"]["code"] == "real_name_required"
            return None
        assert response.status_code == 200, response.text
        return response.json()

    return eventually(answer, what="the holder's certificates")
