"""The portal's holder pages in a real browser: signing up and verifying, claiming a
paper certificate (pickup or mail), a reissue returned and resubmitted, the inbox
and the electronic certificate's download, on a desk's screen and on a phone's.

The exam authority, the health commission and the reviewer act over AMQP and HTTP
as they would; everything the holder does goes through the pages.
"""

from __future__ import annotations

import re
import time
from datetime import date

import requests
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.support.holders import PASSWORD, Holder, new_mobile, verified_holder
from tests.support.materials import commitment_letter, one_inch_photo
from tests.support.portal import browser_page, screenshot
from tests.support.staff import staff_member
from tools.authorities import ecert_signed_message, publish_fact
from tools.exam_authority import Broker, publish, results_message, sample_candidates

# The custody of certificates from an exam that ended then is over: they may be
# reissued as "unclaimed beyond the custody period".
LONG_AGO = "2019-06-02"
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
OK = "main > .message.ok"


def published(vhost, session: str, person: dict | None = None, **exam) -> dict:
    """Publish a session's results; its first candidate (`person`, if given) passed."""
    candidates = sample_candidates(session, 2)
    if person:
        candidates[0] = {**candidates[0], **_identity_of(person)}
    publish(Broker(vhost.amqp_uri), results_message(session, candidates, **exam))
    return candidates[0]


def _identity_of(person: dict) -> dict:
    return {"name": person["name"], "id_number": person["id_number"]}


def assert_private(page, *personal: str) -> None:
    """The address carries no name, ID number or mobile number: at most ids."""
    for value in personal:
        assert value not in page.url
    query = page.url.partition("?")[2]
    for pair in filter(None, query.split("&")):
        key, _, value = pair.partition("=")
        if key == "action":
            assert value in {"move", "cancel", "proxy"}, page.url
        else:
            assert key in {"booking", "id", "order"}, page.url
            assert re.fullmatch(UUID, value), page.url


def shot(page, name: str) -> None:
    """A screenshot of a page that reads as words: no value the page failed to
    turn into text."""
    text = page.inner_text("main")
    for leftover in ("undefined", "null", "false", "NaN", "[object"):
        assert leftover not in text, f"{name} shows {leftover!r}"
    screenshot(page, name)


def sign_in(page, holder: Holder) -> None:
    page.goto("/#/sign-in")
    page.fill("#f-mobile", holder.mobile)
    page.fill("#f-password", PASSWORD)
    page.click("#sign-in button[type=submit]")
    page.wait_for_url("**/#/certificates")


def shown_after_reload(page, selector: str, timeout: float = 30):
    """What the page shows once the read model behind it has caught up."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            page.locator(selector).first.wait_for(timeout=2_000)
            return page.locator(selector).first
        except PlaywrightTimeout:
            if time.monotonic() > deadline:
                raise
            page.reload()


def confirmed(page, act, text: str) -> str:
    """Act, and wait for the confirmation the page shows once redrawn."""
    page.evaluate(
        "document.querySelectorAll('main > .message.ok').forEach(m => m.remove())"
    )
    act()
    confirmation = page.locator(OK, has_text=text)
    confirmation.wait_for()
    return confirmation.inner_text()


def until_accepted(page, act, done: str, area: str, waiting: set[str]) -> None:
    """Act until the service accepts; `waiting` are the codes a service answers
    until a fact from another service has reached it (a moment after it happened)."""
    for _ in range(40):
        act()
        outcome = page.locator(f"{done}, {area} > [role=alert]").first
        outcome.wait_for()
        if outcome.get_attribute("role") != "alert":
            return
        assert outcome.get_attribute("data-code") in waiting, outcome.inner_text()
        time.sleep(0.5)
        page.reload()
    raise AssertionError(f"still refused: {outcome.inner_text()}")


def no_horizontal_scroll(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width}px wide on a 390px screen"


def test_a_holder_signs_up_verifies_and_books_moves_and_cancels_a_pickup(portal, vhost):
    person = published(vhost, "2025-portal-pickup")
    number = person["certificate_number"]
    mobile = new_mobile()
    personal = (mobile, person["name"], person["id_number"])

    with browser_page(portal.url) as page:
        page.goto("/#/register")
        page.fill("#f-mobile", mobile)
        page.fill("#f-password", PASSWORD)
        page.click("#register button[type=submit]")
        page.wait_for_url("**/#/real-name")
        page.fill("#f-name", person["name"])
        page.fill("#f-id_number", person["id_number"])
        shot(page, "holder-real-name")
        page.click("#real-name button[type=submit]")

        card = page.locator(f"[data-certificate='{number}']")
        card.wait_for()
        assert card.get_attribute("data-state") == "in_custody"
        assert "待领取（中心保管中）" in card.inner_text()
        assert "中心保管至 2030-11-09" in card.inner_text()
        assert_private(page, *personal)
        shot(page, "holder-certificates")

        card.get_by_role("link", name="预约现场领取").click()
        page.wait_for_url("**/#/pickup")
        page.locator("#slots button").first.wait_for()
        days = page.locator(".days button").evaluate_all(
            "buttons => buttons.map(b => b.dataset.day)"
        )
        assert days and {date.fromisoformat(d).isoweekday() for d in days} <= {2, 4}
        slots = page.locator("#slots button")
        first, second = (slots.nth(i).get_attribute("data-starts-at") for i in (0, 1))
        until_accepted(
            page,
            lambda: page.click(f"#slots button[data-starts-at='{first}']"),
            OK,
            "#windows",
            {"certificate_not_yours", "real_name_required"},
        )
        booking = page.locator("#bookings .booking")
        assert booking.get_attribute("data-starts-at") == first
        shot(page, "holder-pickup")

        booking.get_by_role("link", name="改约").click()
        page.wait_for_url(re.compile(rf"#/pickup\?booking={UUID}&action=move$"))
        assert_private(page, *personal)
        confirmed(
            page, lambda: page.click(f"#slots [data-starts-at='{second}']"), "已改约"
        )
        assert booking.get_attribute("data-starts-at") == second

        booking.get_by_role("button", name="指定代领人").click()
        proxy = page.locator("#bookings .proxy")
        proxy.locator("input[name=name]").fill("王建国")
        proxy.locator("input[name=id_number]").fill("650102199308052191")
        proxy.locator("button[type=submit]").click()
        refused = booking.locator("[role=alert]")
        refused.wait_for()
        assert refused.get_attribute("data-code") == "wrong_check_character"
        proxy.locator("input[name=id_number]").fill("650102199308052190")
        confirmed(page, proxy.locator("button[type=submit]").click, "已指定代领人")
        assert "已指定代领人" in booking.inner_text()

        page.goto("/#/certificates")
        booked = shown_after_reload(
            page, f"[data-certificate='{number}'][data-state=booked]"
        )
        assert "已预约现场领取" in booked.inner_text()
        assert f"{int(second[5:7])}月{int(second[8:10])}日" in booked.inner_text()
        assert {"改约", "取消预约", "指定代领人"} <= set(
            booked.locator(".actions a").all_inner_texts()
        )

        booked.get_by_role("link", name="取消预约").click()
        cancel = booking.get_by_role("button", name="取消预约")
        confirmed(page, cancel.click, "已取消")
        assert page.locator("#bookings .booking").count() == 0
        assert page.locator("#bookings [data-booking-state=cancelled]").count() == 1

        page.goto("/#/inbox")
        notice = shown_after_reload(page, "[data-kind=appointment_booked]")
        assert notice.get_attribute("data-read") == "false"
        assert "unread" in notice.get_attribute("class")
        shot(page, "holder-inbox")
        notice.get_by_role("button", name="标为已读").click()
        page.locator("[data-kind=appointment_booked][data-read=true]").wait_for()
        page.fill("#f-email", "holder@example.cn")
        page.click("#channels button[type=submit]")
        page.locator("#channels .message.ok").wait_for()
        assert_private(page, *personal)


def test_a_returned_reissue_is_edited_and_resubmitted_in_the_browser(
    portal, vhost, database
):
    identity, reissue = portal.services["identity"], portal.services["reissue"]
    person = published(vhost, "2019-portal-reissue", exam_end_date=LONG_AGO)
    number = person["certificate_number"]
    holder = verified_holder(identity.url, person["name"], person["id_number"])
    reviewer = staff_member(identity.url, database, vhost, "reviewer")
    personal = (holder.mobile, person["name"], person["id_number"])

    with browser_page(portal.url) as page:
        sign_in(page, holder)
        card = page.locator(f"[data-certificate='{number}']")
        card.wait_for()
        assert card.get_attribute("data-state") == "custody_expired"
        card.get_by_role("link", name="申请补办").click()
        page.wait_for_url("**/#/reissue/new")
        assert page.input_value("#f-reason") == "custody_expired"
        until_accepted(
            page,
            lambda: page.click("#reissue-start button[type=submit]"),
            OK,
            "#reissue-start",
            {"certificate_not_found", "real_name_required"},
        )
        page.wait_for_url(re.compile(rf"#/reissue\?id={UUID}$"))
        assert_private(page, *personal)
        application_id = page.url.rsplit("=", 1)[1]

        # Photos the service would refuse are refused here, before any upload.
        refusals = {}
        for bad in (one_inch_photo("#3a6fd0"), one_inch_photo(size=(400, 400))):
            page.set_input_files("#file-photo", _file("photo.jpg", bad))
            alert = page.locator("#material-photo > [role=alert]")
            alert.wait_for()
            refusals[alert.get_attribute("data-code")] = alert.inner_text()
        shot(page, "holder-reissue-photo-refused")
        assert set(refusals) == {"photo_background", "photo_proportions"}
        assert "白色" in refusals["photo_background"]
        assert "295:413" in refusals["photo_proportions"]
        untouched = _application(reissue, holder, application_id)
        assert [step["step"] for step in untouched["history"]] == ["Started"]
        assert page.get_attribute("#material-photo", "data-uploaded") == "false"

        _upload(page, "photo", _file("photo.jpg", one_inch_photo()))
        _upload(page, "commitment_letter", _file("letter.pdf", commitment_letter()))
        confirmed(page, lambda: page.click("#reason button[type=submit]"), "草稿已保存")
        confirmed(page, page.get_by_role("button", name="提交审核").click, "已提交审核")
        assert page.get_attribute("#application", "data-state") == "submitted"

        message = "照片背景有阴影，请重新拍摄。"
        returned = requests.post(
            f"{reissue.url}/v1/review/applications/{application_id}/return",
            json={"message": message, "problems": ["photo"]},
            headers=reviewer.auth,
            timeout=20,
        )
        assert returned.status_code == 200, returned.text

        page.reload()
        page.locator("#application[data-state=returned]").wait_for()
        assert page.inner_text("#application-state") == "个人"
        assert message in page.inner_text("#review-message")
        assert "一寸免冠白底照片" in page.inner_text("#review-message")
        assert page.get_attribute("#material-photo", "data-problem") == "yes"
        assert page.get_attribute("#reason", "data-problem") is None
        shot(page, "holder-reissue-returned")

        new_photo = one_inch_photo(size=(590, 826))
        _upload(page, "photo", _file("photo.jpg", new_photo))
        resubmit = page.get_by_role("button", name="重新提交审核")
        confirmed(page, resubmit.click, "已提交审核")
        assert page.get_attribute("#application", "data-state") == "submitted"
        assert page.locator("#history [data-step=Submitted]").count() == 2
        assert message in page.inner_text("#history [data-step=Returned]")
        shot(page, "holder-reissue-resubmitted")

        page.goto("/#/certificates")
        waiting = shown_after_reload(
            page, f"[data-certificate='{number}'] [data-reissue-state=submitted]"
        )
        assert (
            "补办申请最迟于"
            in page.locator(f"[data-certificate='{number}']").inner_text()
        )
        assert waiting.is_visible()
        assert_private(page, *personal)

    seen = _application(reissue, holder, application_id)
    assert (seen["state"], seen["state_label"]) == ("submitted", "待审核")
    photo = requests.get(
        f"{reissue.url}/v1/review/applications/{application_id}/materials/photo",
        headers=reviewer.auth,
        timeout=20,
    )
    assert (photo.status_code, photo.content) == (200, new_photo)


def _file(name: str, content: bytes) -> dict:
    kind = "application/pdf" if name.endswith(".pdf") else "image/jpeg"
    return {"name": name, "mimeType": kind, "buffer": content}


def _upload(page, material: str, file: dict) -> None:
    confirmed(page, lambda: page.set_input_files(f"#file-{material}", file), "已上传")
    page.locator(f"#material-{material}[data-uploaded=true]").wait_for()


def _application(reissue, holder: Holder, application_id: str) -> dict:
    response = requests.get(
        f"{reissue.url}/v1/reissue/applications/{application_id}",
        headers=holder.auth,
        timeout=20,
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_on_a_phone_a_holder_downloads_an_ecert_and_asks_for_mail(portal, vhost):
    nurse = published(
        vhost,
        "2026-portal-nurse",
        exam_end_date="2026-09-20",
        qualification_code="nurse",
        level="初级",
    )
    paper = published(vhost, "2025-portal-mail", person=nurse)
    publish_fact(
        Broker(vhost.amqp_uri),
        ecert_signed_message("health_commission", nurse["certificate_number"]),
    )
    holder = verified_holder(
        portal.services["identity"].url, nurse["name"], nurse["id_number"]
    )
    personal = (holder.mobile, nurse["name"], nurse["id_number"])

    with browser_page(portal.url, phone=True) as page:
        sign_in(page, holder)
        ecert = shown_after_reload(
            page,
            f"[data-certificate='{nurse['certificate_number']}']"
            "[data-state=ecert_downloadable]",
        )
        page.locator(f"[data-certificate='{paper['certificate_number']}']").wait_for()
        no_horizontal_scroll(page)
        shot(page, "holder-certificates-phone")

        with page.expect_download() as download:
            ecert.get_by_role("button", name="下载电子证书").click()
        pdf = download.value
        assert pdf.suggested_filename == f"ecert-{nurse['certificate_number']}.pdf"
        with open(pdf.path(), "rb") as file:
            assert file.read(5) == b"%PDF-"
        assert_private(page, *personal)

        page.goto("/#/pickup")
        page.locator("#slots button").first.wait_for()
        no_horizontal_scroll(page)
        shot(page, "holder-pickup-phone")

        page.goto("/#/certificates")
        mailed = page.locator(f"[data-certificate='{paper['certificate_number']}']")
        mailed.get_by_role("link", name="申请邮寄").click()
        page.wait_for_url("**/#/mail")
        assert "邮费" in page.inner_text("#postage")
        until_accepted(
            page,
            lambda: _ask_for_mail(page),
            OK,
            "#mail",
            {"certificate_not_yours", "real_name_required"},
        )
        assert "最迟于" in page.inner_text(OK)
        assert page.get_attribute("#mail-orders .order", "data-state") == "waiting"
        no_horizontal_scroll(page)
        shot(page, "holder-mail-phone")
        assert_private(page, *personal)


def _ask_for_mail(page) -> None:
    page.fill("#mail-recipient", "李文静")
    page.fill("#mail-mobile", "13912345678")
    page.fill("#mail-city", "乌鲁木齐市")
    page.fill("#mail-district", "天山区")
    page.fill("#mail-street", "人民路 1 号")
    page.check("#mail input[name=agree]")
    page.click("#mail button[type=submit]")
