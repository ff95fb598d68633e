"""The portal's staff pages in a real browser: the reviewer's queue, returning and
approving; the counter's hand-over and a proxy refused; the shipping list; the
ministry batch and the deadline overview, on a desk's screen and on a phone's.

Holders and the exam authority act over HTTP and AMQP as they would; everything
the staff do goes through the pages.
"""

from __future__ import annotations

import time

import requests
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.support.holders import Holder, certificates_of, verified_holder
from tests.support.infrastructure import eventually
from tests.support.materials import commitment_letter, one_inch_photo
from tests.support.portal import browser_page, screenshot
from tests.support.staff import STAFF_PASSWORD, staff_member
from tools.exam_authority import Broker, publish, results_message, sample_candidates

# The custody of certificates from an exam that ended then is over: they may be
# reissued as "unclaimed beyond the custody period".
LONG_AGO = "2019-06-02"
OK = "main > .message.ok"
QUEUE = "#review-queue tbody tr"
DEADLINES = "#deadlines tbody tr"
RETURN_MESSAGE = "照片背景有阴影，请重新拍摄白底照片后重新提交。"
ADDRESS = {
    "province": "新疆维吾尔自治区",
    "city": "乌鲁木齐市",
    "district": "天山区",
    "street": "人民路 1 号",
}


def call(portal, method: str, path: str, who: Holder, body=None):
    return requests.request(
        method, portal.url + path, json=body, headers=who.auth, timeout=20
    )


def holders(portal, vhost, session: str, count: int, **exam) -> list[tuple]:
    """`count` verified holders, each with one certificate of the session."""
    candidates = sample_candidates(session, count)
    publish(Broker(vhost.amqp_uri), results_message(session, candidates, **exam))
    found = []
    for person in candidates:
        holder = verified_holder(
            portal.services["identity"].url, person["name"], person["id_number"]
        )
        certificates_of(portal.services["certificates"].url, holder)
        found.append((holder, person))
    return found


def submitted_application(portal, holder: Holder, number: str) -> str:
    """An application for reissue with both required materials, submitted."""
    started = eventually(
        lambda: _started(portal, holder, number), what="reissue to know the holder"
    )
    application_id = started["application_id"]
    path = f"/v1/reissue/applications/{application_id}"
    for material, content in (
        ("photo", one_inch_photo()),
        ("commitment_letter", commitment_letter()),
    ):
        uploaded = requests.put(
            f"{portal.url}{path}/materials/{material}",
            data=content,
            headers={**holder.auth, "Content-Type": "application/octet-stream"},
            timeout=20,
        )
        assert uploaded.ok, uploaded.text
    answer = call(portal, "POST", f"{path}/submit", holder)
    assert answer.status_code == 200, answer.text
    return application_id


def _started(portal, holder, number) -> dict | None:
    body = {"certificate_number": number, "reason": "custody_expired"}
    answer = call(portal, "POST", "/v1/reissue/applications", holder, body)
    # Until the certificate and the verification reach reissue it says so.
    if answer.status_code in (403, 404) and answer.json()["error"]["code"] in (
        "certificate_not_found",
        "real_name_required",
    ):
        return None
    assert answer.status_code == 201, answer.text
    return answer.json()


def sign_in(page, member: Holder) -> None:
    page.goto("/#/sign-in")
    page.fill("#f-mobile", member.mobile)
    page.fill("#f-password", STAFF_PASSWORD)
    page.click("#sign-in button[type=submit]")
    page.wait_for_url("**/#/staff")
    page.locator("#desk a").first.wait_for()


def rows_once(
    page, selector: str, wanted, attribute: str = "id", timeout: float = 30
) -> list[str]:
    """The `attribute` of each row, once the read model behind the page shows what
    is `wanted` of them."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            page.locator(selector).first.wait_for(timeout=2_000)
            ids = page.locator(selector).evaluate_all(
                "(rows, name) => rows.map(row => row.getAttribute(name))", attribute
            )
            if wanted(ids):
                return ids
        except PlaywrightTimeout:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{selector} never showed what was wanted")
        page.reload()


def shot(page, name: str) -> None:
    """A screenshot of a page that reads as words: no value left untranslated."""
    text = page.inner_text("main")
    for leftover in ("undefined", "null", "NaN", "[object"):
        assert leftover not in text, f"{name} shows {leftover!r}"
    screenshot(page, name)


def confirmed(page, act, text: str) -> str:
    page.evaluate(
        "document.querySelectorAll('main > .message.ok').forEach(m => m.remove())"
    )
    act()
    confirmation = page.locator(OK, has_text=text)
    confirmation.wait_for()
    return confirmation.inner_text()


def no_horizontal_scroll(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width}px wide on a 390px screen"


def days_left_text(row: dict) -> str:
    if row["overdue"]:
        return f"已逾期 {-row['working_days_left']} 个工作日"
    left = row["working_days_left"]
    return "今天到期" if left == 0 else f"剩 {left} 个工作日"


def test_a_reviewer_returns_one_application_and_approves_another(
    portal, database, vhost
):
    people = holders(portal, vhost, "2019-staff-review", 3, exam_end_date=LONG_AGO)
    reviewer = staff_member(
        portal.services["identity"].url, database, vhost, "reviewer"
    )
    ids = [
        submitted_application(portal, holder, person["certificate_number"])
        for holder, person in people
    ]
    first, second, third = ids
    names = [person["name"] for _, person in people]

    with browser_page(portal.url) as page:
        sign_in(page, reviewer)
        assert page.locator("#desk a").all_inner_texts()[0].startswith("补办审核")
        shot(page, "staff-home")

        page.get_by_role("link", name="补办审核", exact=True).first.click()
        shown = rows_once(page, QUEUE, lambda r: len(r) == 3, "data-application")
        queue = call(portal, "GET", "/v1/review/applications", reviewer).json()
        # The earliest deadline first; the same deadline, the earliest submission.
        assert shown == [row["application_id"] for row in queue["applications"]]
        assert shown == ids
        days = page.locator("#review-queue td.due .state").all_inner_texts()
        assert days == [days_left_text(row) for row in queue["applications"]]
        assert page.locator("#review-queue tr.overdue").count() == 0
        shot(page, "staff-review-queue")

        page.click(f"tr[data-application='{first}'] a")
        page.wait_for_url(f"**/#/review?id={first}")
        photo = page.locator("#material-photo img.preview")
        photo.wait_for()
        assert photo.get_attribute("src").startswith("blob:")
        page.wait_for_function(
            "document.querySelector('#material-photo img.preview').naturalWidth > 0"
        )
        assert photo.evaluate("img => img.naturalWidth") == 295
        page.click("#material-commitment_letter button")
        letter = page.locator("#material-commitment_letter object.preview")
        letter.wait_for(state="attached")
        assert letter.get_attribute("data").startswith("blob:")
        assert page.inner_text("#application-reason") == "超过保管期未领取"
        steps = page.locator("#history li").evaluate_all(
            "items => items.map(item => item.dataset.step)"
        )
        assert steps == ["Started", "MaterialAttached", "MaterialAttached", "Submitted"]
        assert all(name not in page.url for name in names)
        shot(page, "staff-review-application")

        page.fill("#f-message", "   ")  # blank once trimmed: the API refuses it
        page.click("#return button[type=submit]")
        refused = page.locator("#decision > [role=alert]")
        refused.wait_for()
        assert refused.get_attribute("data-code") == "message_required"
        page.fill("#f-message", RETURN_MESSAGE)
        page.check("#return input[value=photo]")
        confirmed(page, lambda: page.click("#return button[type=submit]"), "已退回")
        page.wait_for_url("**/#/review")
        left = rows_once(page, QUEUE, lambda r: first not in r, "data-application")
        assert left == [second, third]

        page.click(f"tr[data-application='{second}'] a")
        page.wait_for_url(f"**/#/review?id={second}")
        said = confirmed(page, lambda: page.click("#approve"), "已审核通过")
        left = rows_once(page, QUEUE, lambda r: second not in r, "data-application")
        assert left == [third]

        page.get_by_role("link", name="办理期限", exact=True).first.click()
        page.select_option("#f-kind", "review")
        page.wait_for_url("**/#/deadlines?kind=review")
        due = rows_once(page, DEADLINES, lambda r: len(r) == 1, "data-subject")
        assert due == [third]
        row = page.locator(DEADLINES)
        assert people[2][1]["certificate_number"] in row.inner_text()
        assert row.locator("a").get_attribute("href") == f"#/review?id={third}"
        shot(page, "staff-deadlines")

        page.get_by_role("link", name="工作消息", exact=True).first.click()
        page.locator("#staff-notices").wait_for()
        shot(page, "staff-inbox")

    returned = call(
        portal, "GET", f"/v1/reissue/applications/{first}", people[0][0]
    ).json()
    assert (returned["state"], returned["state_label"]) == ("returned", "个人")
    step = [s for s in returned["history"] if s["step"] == "Returned"][-1]
    assert (step["message"], step["problems"]) == (RETURN_MESSAGE, ["photo"])
    approved = call(
        portal, "GET", f"/v1/reissue/applications/{second}", people[1][0]
    ).json()
    assert approved["state"] == "in_batch"
    batched = next(s for s in approved["history"] if s["step"] == "Batched")
    assert f"编入 {batched['period']} 批次" in said


def test_the_counter_hands_over_and_the_shipping_clerk_ships(portal, database, vhost):
    (booker, booker_person), (mailer, _) = holders(portal, vhost, "2025-staff-claim", 2)
    identity = portal.services["identity"].url
    clerk = staff_member(identity, database, vhost, "counter_clerk")
    shipper = staff_member(identity, database, vhost, "shipping_clerk")
    number = booker_person["certificate_number"]
    windows = call(portal, "GET", "/v1/pickup/windows?days=30", booker).json()
    window = next(w for w in windows["windows"] if w["seats_left"] > 0)
    booking_id = eventually(
        lambda: _booked(portal, booker, number, window), what="the booking"
    )
    order_id = eventually(lambda: _mail_requested(portal, mailer), what="the order")

    with browser_page(portal.url) as page:
        sign_in(page, clerk)
        page.get_by_role("link", name="发证窗口", exact=True).first.click()
        page.fill("#f-day", window["starts_at"][:10])
        page.click("#counter-day button[type=submit]")
        card_id = f"booking-{booking_id}"
        rows_once(page, "#bookings .booking", lambda r: card_id in r)
        page.fill("#f-find", booker.id_number[-4:])
        card = page.locator(f"#{card_id}")
        assert card.is_visible()
        assert booker_person["name"] in card.inner_text()

        card.locator("input[value=proxy]").check()
        card.locator("input[name=proxy_name]").fill("王建国")
        card.locator("button[type=submit]").click()
        refused = page.locator(f"#{card_id} > [role=alert]")
        refused.wait_for()
        assert refused.get_attribute("data-code") == "proxy_items_missing"
        for item in ("代领人证件号码", "委托书", "代领人身份证件"):
            assert item in refused.inner_text()
        missing = card.locator(".missing").evaluate_all(
            "marks => marks.map(m => m.querySelector('input').name)"
        )
        assert set(missing) == {
            "holder_document_checked",
            "proxy_id_number",
            "proxy_document_checked",
            "authorisation",
        }
        assert booker_person["name"] not in page.url
        shot(page, "staff-counter-refused")

        card.locator("input[value=holder]").check()
        card.locator("input[name=holder_document_checked]").check()
        confirmed(page, card.locator("button[type=submit]").click, "已发放")
        assert page.get_attribute(f"#{card_id}", "data-state") == "collected"
        assert page.locator(f"#{card_id} form").count() == 0
        shot(page, "staff-counter")

    with browser_page(portal.url) as page:
        sign_in(page, shipper)
        page.get_by_role("link", name="证书邮寄", exact=True).first.click()
        card_id = f"order-{order_id}"
        rows_once(page, "#orders .order", lambda r: card_id in r)
        card = page.locator(f"#{card_id}")
        assert "剩 3 个工作日" in card.locator("h2").inner_text()
        assert card.get_attribute("data-overdue") == "false"
        shot(page, "staff-shipping")

        card.locator("input[name=tracking_number]").fill("12")
        card.locator("button[type=submit]").click()
        refused = page.locator(f"#{card_id} > [role=alert]")
        refused.wait_for()
        assert refused.get_attribute("data-code") == "invalid_request"
        card.locator("input[name=tracking_number]").fill("SF1234567890")
        confirmed(page, card.locator("button[type=submit]").click, "SF1234567890")
        assert page.locator(f"#{card_id}").count() == 0

    certificates = portal.services["certificates"].url
    eventually(lambda: _state(certificates, booker) == "collected", what="collected")
    eventually(lambda: _state(certificates, mailer) == "shipped", what="shipped")


def _booked(portal, holder, number, window) -> str | None:
    body = {"certificate_numbers": [number], "starts_at": window["starts_at"]}
    answer = call(portal, "POST", "/v1/bookings", holder, body)
    if answer.status_code in (403, 404):  # not on distribution's record yet
        return None
    assert answer.status_code == 201, answer.text
    return answer.json()["booking_id"]


def _mail_requested(portal, holder) -> str | None:
    mine = certificates_of(portal.services["certificates"].url, holder)
    body = {
        "certificate_numbers": [mine["certificates"][0]["certificate_number"]],
        "recipient": "李文静",
        "mobile": "13912345678",
        "address": ADDRESS,
    }
    answer = call(portal, "POST", "/v1/mail-orders", holder, body)
    if answer.status_code in (403, 404):
        return None
    assert answer.status_code == 201, answer.text
    return answer.json()["order_id"]


def _state(certificates_url: str, holder: Holder) -> str:
    return certificates_of(certificates_url, holder)["certificates"][0]["state"]


def test_the_queue_and_the_batches_read_on_a_phone(portal, database, vhost):
    [(holder, person)] = holders(
        portal, vhost, "2019-staff-phone", 1, exam_end_date=LONG_AGO
    )
    identity = portal.services["identity"].url
    reviewer = staff_member(identity, database, vhost, "reviewer")
    admin = staff_member(identity, database, vhost, "administrator")
    application_id = submitted_application(portal, holder, person["certificate_number"])

    with browser_page(portal.url, phone=True) as page:
        # No review falls overdue within a test: the queue's answer is altered in
        # the browser to see how the page flags one.
        page.route("**/v1/review/applications", _overdue)
        sign_in(page, reviewer)
        page.get_by_role("link", name="补办审核", exact=True).first.click()
        rows_once(page, QUEUE, lambda r: application_id in r, "data-application")
        row = page.locator(f"tr[data-application='{application_id}']")
        assert row.get_attribute("class") == "overdue"
        assert row.locator(".state.overdue").inner_text() == "已逾期 2 个工作日"
        assert "1 份已逾期" in page.inner_text("main")
        no_horizontal_scroll(page)
        # The table is wider than the phone: it scrolls inside its own frame.
        assert page.locator(".table-wrap").evaluate(
            "w => w.scrollWidth > w.clientWidth"
        )
        shot(page, "staff-review-queue-phone")

    approved = call(
        portal, "POST", f"/v1/review/applications/{application_id}/approve", reviewer
    )
    assert approved.status_code == 200, approved.text
    period = approved.json()["batch"]

    with browser_page(portal.url, phone=True) as page:
        sign_in(page, admin)
        assert "补办审核" not in page.inner_text("#nav")
        page.get_by_role("link", name="补发批次", exact=True).first.click()
        page.fill("#f-period", "2020-01")
        page.click("#batch button[type=submit]")
        refused = page.locator("#batch > [role=alert]")
        refused.wait_for()
        assert refused.get_attribute("data-code") == "batch_not_found"

        page.fill("#f-period", period)
        page.click("#batch button[type=submit]")
        facts = page.locator("#batch-facts")
        facts.wait_for()
        assert facts.get_attribute("data-state") == "open"
        assert "申请数\t1" in facts.inner_text()
        assert "没有待同步的证书" in page.inner_text("#syncs")
        no_horizontal_scroll(page)
        shot(page, "staff-batches-phone")

        page.get_by_role("link", name="电子证书签章", exact=True).first.click()
        page.locator("#automatic-signing button").wait_for()
        assert "未开启" in page.inner_text("#automatic-signing")
        no_horizontal_scroll(page)
        shot(page, "staff-ecerts-phone")


def _overdue(route) -> None:
    answer = route.fetch()
    body = answer.json()
    for row in body["applications"][:1]:
        row.update(working_days_left=-2, overdue=True)
    route.fulfill(response=answer, json=body)
