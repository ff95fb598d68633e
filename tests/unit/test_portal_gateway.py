"""The portal's gateway: which service answers which path, and what it serves
when the ingress routes the API itself."""

from __future__ import annotations

import json

import pytest
from werkzeug.test import Client

from services.common.settings import SettingError, load_settings
from services.portal.gateway import DEFAULT_PAGES, Gateway
from services.portal.routes import service_for


@pytest.mark.parametrize(
    ("path", "service"),
    [
        ("/v1/me", "identity"),
        ("/v1/me/certificates", "certificates"),
        ("/v1/me/certificates/X1/ecert", "certificates"),
        ("/v1/me/reissue/applications", "reissue"),
        ("/v1/me/notices/abc/read", "notifications"),
        ("/v1/bookings/abc/move", "distribution"),
        ("/v1/meter", None),
        ("/metrics", None),
        ("/health/ready", None),
    ],
)
def test_the_longest_whole_segment_prefix_picks_the_service(path, service):
    assert service_for(path) == service


def pages_only() -> Client:
    return Client(Gateway(load_settings({}), pass_api=False))


def test_pages_and_guide_are_served_with_their_types():
    client = pages_only()

    page = client.get("/")
    script = client.get("/js/app.js")
    guide = client.get("/guide.json")

    assert page.status_code == 200 and b"<main" in page.data
    assert script.headers["Content-Type"].startswith("text/javascript")
    assert json.loads(guide.data) == json.loads(
        (DEFAULT_PAGES / "guide.zh.json").read_text(encoding="utf-8")
    )


def test_addresses_of_the_single_page_and_escapes_get_the_page():
    client = pages_only()
    index = (DEFAULT_PAGES / "index.html").read_bytes()

    assert client.get("/verify?number=1&code=2").data == index
    assert client.get("/../pyproject.toml").data == index
    assert client.get("/js/../../services/portal/gateway.py").data == index


def test_without_passing_the_api_on_an_api_path_is_not_found():
    answer = pages_only().get("/v1/me/certificates")

    assert answer.status_code == 404
    assert answer.json["error"]["code"] == "not_found"


def test_a_configured_guide_that_cannot_be_read_is_named(tmp_path):
    broken = tmp_path / "guide.json"
    broken.write_text("{", encoding="utf-8")

    with pytest.raises(SettingError, match="XJCERT_SERVICE_GUIDE"):
        Gateway(load_settings({}), guide_file=str(broken))
    with pytest.raises(SettingError, match="XJCERT_PORTAL_PAGES"):
        Gateway(load_settings({}), pages=tmp_path)
