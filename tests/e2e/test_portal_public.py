"""The portal's public pages in a real browser: the guide, signing up, 查验."""

from __future__ import annotations

from tests.support.holders import certificates_of, verified_holder
from tests.support.portal import browser_page, screenshot
from tools.exam_authority import Broker, publish, results_message, sample_candidates


def test_the_guide_comes_from_configuration_and_reads_on_a_phone(portal):
    with browser_page(portal.url, phone=True) as page:
        page.goto("/")

        page.get_by_text("0991-12333").wait_for()
        assert "周二、周四" in page.inner_text("main")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        screenshot(page, "guide-phone")


def test_anyone_verifies_a_certificate_by_number_and_name(portal, vhost):
    candidates = sample_candidates("2025-verify-page", 2)
    publish(Broker(vhost.amqp_uri), results_message("2025-verify-page", candidates))
    first = candidates[0]
    holder = verified_holder(
        portal.services["identity"].url, first["name"], first["id_number"]
    )
    certificates_of(portal.services["certificates"].url, holder)

    with browser_page(portal.url) as page:
        page.goto("/#/verify")
        page.fill("#f-number", first["certificate_number"])
        page.fill("#f-name", first["name"])
        page.click("#verify button[type=submit]")

        result = page.locator("#verification-result [data-status]")
        result.wait_for()
        assert result.get_attribute("data-status") == "valid"
        assert first["name"] not in page.inner_text("#verification-result")
        assert first["name"] not in page.url
        screenshot(page, "verification-valid")

        page.fill("#f-name", "某某某")
        page.click("#verify button[type=submit]")
        error = page.locator("#verify [role=alert]")
        error.wait_for()
        assert error.get_attribute("data-code") == "certificate_not_found"
        assert "请核对" in error.inner_text()
