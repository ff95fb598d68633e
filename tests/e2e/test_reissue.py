"""Reissue end to end: apply, return, resubmit, approve, the ministry's batch, claim.

Every service runs as its own process against the real broker and database; the
ministry and the industry authority are plain AMQP publishers (tools/authorities.py).
"""

from __future__ import annotations

import csv
import io
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest
import requests

from services.certificates.ecert import verify
from services.common.dead_letters import dead_letter_counts, list_dead_letters
from services.common.workdays import BEIJING
from tests.support.holders import certificates_of, verified_holder
from tests.support.infrastructure import eventually
from tests.support.materials import commitment_letter, one_inch_photo
from tests.support.staff import staff_member
from tools.authorities import (
    batch_arrived_message,
    ecert_signed_message,
    publish_fact,
    take_closed_batches,
)
from tools.exam_authority import Broker, publish, results_message, sample_candidates

# Custody of this session's certificates ended in 2024: they may be reissued as
# "unclaimed beyond the custody period".
LONG_AGO = "2019-06-02"


@pytest.fixture
def product(start_identity, start_certificates, start_service, tmp_path):
    identity = start_identity()
    certificates = start_certificates()
    reissue = start_service("reissue", XJCERT_MATERIALS_DIR=str(tmp_path / "materials"))
    distribution = start_service("distribution")
    return identity, certificates, reissue, distribution


def call(method, service, path, who, body=None, **kwargs) -> requests.Response:
    return requests.request(
        method, service.url + path, json=body, headers=who.auth, timeout=20, **kwargs
    )


def upload(reissue, holder, application_id, material, content) -> requests.Response:
    return requests.put(
        f"{reissue.url}/v1/reissue/applications/{application_id}/materials/{material}",
        data=content,
        headers={**holder.auth, "Content-Type": "application/octet-stream"},
        timeout=20,
    )


def synced_on(response: requests.Response) -> str:
    """The Beijing date of the sync the response answered."""
    moment = parsedate_to_datetime(response.headers["Date"])
    return moment.astimezone(BEIJING).date().isoformat()


def code(response: requests.Response) -> str:
    return response.json()["error"]["code"]


def holder_with(
    product,
    vhost,
    session,
    qualification="economist",
    level="中级",
    exam_end_date=LONG_AGO,
    count=1,
    xpcc=0,
):
    identity, certificates, _, _ = product
    candidates = sample_candidates(session, max(count, 2), xpcc=xpcc)
    publish(
        Broker(vhost.amqp_uri),
        results_message(session, candidates, qualification, level, exam_end_date),
    )
    first = candidates[0]
    holder = verified_holder(identity.url, first["name"], first["id_number"])
    eventually(lambda: certificates_of(certificates.url, holder)["certificates"])
    return holder, first["certificate_number"], candidates


def start_application(reissue, holder, number, reason) -> requests.Response:
    """Apply once reissue has the certificate on record (it follows the spine)."""

    def attempt():
        response = call(
            "POST",
            reissue,
            "/v1/reissue/applications",
            holder,
            {"certificate_number": number, "reason": reason},
        )
        if response.status_code == 404 and code(response) == "certificate_not_found":
            return None
        return [response]  # a refusal is a falsy Response: wrap it

    (answer,) = eventually(attempt, what="reissue to know the certificate")
    return answer


def my_certificate(certificates, holder, number) -> dict:
    listed = certificates_of(certificates.url, holder)["certificates"]
    return next(c for c in listed if c["certificate_number"] == number)


def ready_for_review(reissue, holder, reason="custody_expired", number=None):
    started = start_application(reissue, holder, number, reason)
    assert started.status_code == 201, started.text
    application_id = started.json()["application_id"]
    assert upload(reissue, holder, application_id, "photo", one_inch_photo()).ok
    letter = upload(
        reissue, holder, application_id, "commitment_letter", commitment_letter()
    )
    assert letter.ok, letter.text
    return application_id


def test_a_national_reissue_goes_from_application_to_a_booked_pickup(
    product, vhost, database
):
    identity, certificates, reissue, distribution = product
    holder, number, candidates = holder_with(product, vhost, "2019-reissue")
    expired = my_certificate(certificates, holder, number)
    assert expired["state"] == "custody_expired"
    assert expired["next_actions"] == ["apply_for_reissue"]
    reviewer = staff_member(identity.url, database, vhost, "reviewer")
    admin = staff_member(identity.url, database, vhost, "administrator")
    application_id = ready_for_review(reissue, holder, number=number)
    path = f"/v1/reissue/applications/{application_id}"

    submitted = call("POST", reissue, f"{path}/submit", holder)
    assert submitted.status_code == 200, submitted.text
    queue = eventually(
        lambda: call("GET", reissue, "/v1/review/applications", reviewer).json()[
            "applications"
        ]
    )
    assert [row["application_id"] for row in queue] == [application_id]
    assert queue[0]["review_due"] == submitted.json()["review_due"]
    assert queue[0]["working_days_left"] == 3
    assert queue[0]["overdue"] is False

    # Returned with a message: the application lies with the person (个人).
    returned = call(
        "POST",
        reissue,
        f"/v1/review/applications/{application_id}/return",
        reviewer,
        {"message": "照片背景有阴影，请重新拍摄。", "problems": ["photo"]},
    )
    assert returned.status_code == 200, returned.text
    not_yet = call(
        "POST", reissue, f"/v1/review/applications/{application_id}/approve", reviewer
    )
    assert (not_yet.status_code, code(not_yet)) == (409, "returned_to_holder")
    seen = call("GET", reissue, path, holder).json()
    assert (seen["state"], seen["state_label"]) == ("returned", "个人")
    returned_step = next(s for s in seen["history"] if s["step"] == "Returned")
    assert returned_step["message"] == "照片背景有阴影，请重新拍摄。"
    assert "by" not in returned_step  # no staff names for the holder
    shown = eventually(
        lambda: (
            (c := my_certificate(certificates, holder, number))["reissue"]
            and c["reissue"]["state"] == "returned"
            and c
        )
    )
    assert shown["reissue"]["state_label"] == "个人"
    assert shown["reissue"]["message"] == "照片背景有阴影，请重新拍摄。"

    # Edit and resubmit; the review clock starts again.
    new_photo = one_inch_photo(size=(590, 826))
    assert upload(reissue, holder, application_id, "photo", new_photo).ok
    resubmitted = call("POST", reissue, f"{path}/submit", holder)
    assert resubmitted.status_code == 200, resubmitted.text
    staff_view = call(
        "GET", reissue, f"/v1/review/applications/{application_id}", reviewer
    ).json()
    assert [s["step"] for s in staff_view["history"]].count("Submitted") == 2
    assert any("by" in s for s in staff_view["history"] if s["step"] == "Returned")
    photo = call(
        "GET",
        reissue,
        f"/v1/review/applications/{application_id}/materials/photo",
        reviewer,
    )
    assert (photo.status_code, photo.content) == (200, new_photo)

    approved = call(
        "POST", reissue, f"/v1/review/applications/{application_id}/approve", reviewer
    )
    assert approved.status_code == 200, approved.text
    period = approved.json()["batch"]

    # The month's batch closes and is exported for the ministry.
    closed = call("POST", reissue, f"/v1/admin/reissue/batches/{period}/close", admin)
    assert closed.json()["state"] == "closed", closed.text
    export = call("GET", reissue, f"/v1/admin/reissue/batches/{period}/export", admin)
    rows = list(csv.DictReader(io.StringIO(export.content.decode("utf-8-sig"))))
    assert [row["certificate_number"] for row in rows] == [number]
    inbox = eventually(lambda: take_closed_batches(Broker(vhost.amqp_uri)))
    assert [e["certificate_number"] for e in inbox[0]["data"]["entries"]] == [number]

    # The ministry's certificates arrive: twice, with a number it never held.
    arrived = batch_arrived_message(period, [number, "UNKNOWN-0001"])
    publish_fact(Broker(vhost.amqp_uri), arrived)
    publish_fact(Broker(vhost.amqp_uri), arrived)
    to_sync = eventually(
        lambda: call("GET", reissue, "/v1/staff/reissue/syncs", reviewer).json()[
            "certificates"
        ]
    )
    assert [row["certificate_number"] for row in to_sync] == [number]
    assert to_sync[0]["working_days_left"] == 5
    batch = eventually(
        lambda: (
            (
                b := call("GET", reissue, f"/v1/admin/reissue/batches/{period}", admin)
            ).json()["arrived"]
            and b.json()
        )
    )
    assert batch["unknown_certificate_numbers"] == ["UNKNOWN-0001"]
    assert batch["arrived"] == 1

    synced = call(
        "POST",
        reissue,
        "/v1/staff/reissue/syncs",
        reviewer,
        {"application_ids": [application_id]},
    )
    assert synced.json() == {"synced": [number]}, synced.text

    claimable = eventually(
        lambda: (
            (c := my_certificate(certificates, holder, number))["state"] == "in_custody"
            and c
        )
    )
    assert claimable["reissued"] is True
    assert "book_pickup" in claimable["next_actions"]
    assert claimable["reissue"]["state"] == "synced"

    windows = call("GET", distribution, "/v1/pickup/windows?days=30", holder).json()
    window = next(w for w in windows["windows"] if w["seats_left"] > 0)
    booked = eventually(
        lambda: (
            (
                r := call(
                    "POST",
                    distribution,
                    "/v1/bookings",
                    holder,
                    {"certificate_numbers": [number], "starts_at": window["starts_at"]},
                )
            ).status_code
            == 201
            and r
        ),
        what="the reissued certificate to be bookable",
    )
    assert booked.status_code == 201
    eventually(
        lambda: my_certificate(certificates, holder, number)["state"] == "booked"
    )

    # An employer checking the number learns that copies made before are void.
    checked = requests.get(
        f"{certificates.url}/v1/verification",
        params={"number": number, "name": candidates[0]["name"]},
        timeout=10,
    ).json()
    assert checked["status"] == "reissued"
    assert checked["reissued_on"] == synced_on(synced)


def test_a_regional_reissue_is_signed_twice_and_downloaded(product, vhost, database):
    identity, certificates, reissue, _ = product
    holder, number, _ = holder_with(
        product, vhost, "2024-constructor", "constructor", "二级", "2024-09-22"
    )
    reviewer = staff_member(identity.url, database, vhost, "reviewer")
    application_id = ready_for_review(reissue, holder, reason="lost", number=number)
    call("POST", reissue, f"/v1/reissue/applications/{application_id}/submit", holder)
    eventually(
        lambda: call("GET", reissue, "/v1/review/applications", reviewer).json()[
            "applications"
        ]
    )
    approved = call(
        "POST", reissue, f"/v1/review/applications/{application_id}/approve", reviewer
    )
    assert approved.json() == {"state": "approved"}, approved.text

    publish_fact(
        Broker(vhost.amqp_uri), ecert_signed_message("industry_authority", number)
    )
    waiting = eventually(
        lambda: (
            (c := my_certificate(certificates, holder, number))["state"]
            == "awaiting_centre_signature"
            and c
        )
    )
    assert waiting["ecert"]["centre_sign_by"]
    listed = call("GET", certificates, "/v1/staff/ecerts/awaiting-signature", reviewer)
    assert [c["certificate_number"] for c in listed.json()["certificates"]] == [number]
    too_early = call("GET", certificates, f"/v1/me/certificates/{number}/ecert", holder)
    assert (too_early.status_code, code(too_early)) == (409, "ecert_not_ready")

    signed = call("POST", certificates, f"/v1/staff/ecerts/{number}/sign", reviewer)
    assert signed.status_code == 200, signed.text
    downloadable = eventually(
        lambda: (
            (c := my_certificate(certificates, holder, number))["state"]
            == "ecert_downloadable"
            and c
        )
    )
    download = call("GET", certificates, downloadable["ecert"]["download"], holder)
    assert download.status_code == 200, download.text
    assert download.headers["Content-Type"] == "application/pdf"
    trust_root = Path(
        certificates.environment["XJCERT_ECERT_SIGNING_CERTIFICATE_FILE"]
    ).read_bytes()
    assert verify(download.content, [trust_root]).valid
    middle = len(download.content) // 2
    tampered = bytearray(download.content)
    tampered[middle] ^= 0x01
    assert not verify(bytes(tampered), [trust_root]).valid

    # With an electronic certificate issued, no paper reissue.
    def refusal_of_another_application():
        response = call(
            "POST",
            reissue,
            "/v1/reissue/applications",
            holder,
            {"certificate_number": number, "reason": "lost"},
        )
        error = response.json().get("error", {})
        # Until reissue hears of the signature, the open application answers.
        return error if error.get("code") == "ecertificate_issued" else None

    refusal = eventually(refusal_of_another_application)
    assert f"/v1/me/certificates/{number}/ecert" in refusal["message"]


def test_ineligible_applications_and_bad_uploads_get_a_clear_answer(product, vhost):
    identity, certificates, reissue, _ = product
    # The first candidate registered with the XPCC; the second's custody still runs.
    xpcc_holder, xpcc_number, candidates = holder_with(
        product, vhost, "2025-eligibility", exam_end_date="2025-11-09", xpcc=1
    )
    kept = candidates[1]
    kept_holder = verified_holder(identity.url, kept["name"], kept["id_number"])
    expired_holder, expired_number, _ = holder_with(product, vhost, "2019-bad-input")

    def refusal(holder, number, reason):
        response = start_application(reissue, holder, number, reason)
        return response.status_code, code(response)

    assert refusal(xpcc_holder, xpcc_number, "lost") == (403, "served_by_xpcc")
    kept_number = kept["certificate_number"]
    assert refusal(kept_holder, kept_number, "lost") == (409, "still_in_custody")
    assert refusal(kept_holder, kept_number, "custody_expired") == (
        409,
        "custody_not_expired",
    )
    # Another holder's certificate is answered as if it did not exist.
    stranger = call(
        "POST",
        reissue,
        "/v1/reissue/applications",
        expired_holder,
        {"certificate_number": kept_number, "reason": "lost"},
    )
    assert (stranger.status_code, code(stranger)) == (404, "certificate_not_found")
    assert refusal(expired_holder, expired_number, "stolen") == (400, "invalid_reason")

    started = start_application(reissue, expired_holder, expired_number, "lost")
    assert started.status_code == 201, started.text
    assert refusal(expired_holder, expired_number, "damaged") == (
        409,
        "application_open",
    )
    application_id = started.json()["application_id"]
    uploads = {
        ("photo", one_inch_photo(background="#3060c0")): "photo_background",
        ("photo", one_inch_photo(size=(413, 295))): "photo_proportions",
        ("commitment_letter", "我承诺……".encode()): "unsupported_file_type",
        ("commitment_letter", b""): "empty_file",
    }
    for (material, content), expected in uploads.items():
        refused = upload(reissue, expired_holder, application_id, material, content)
        assert (refused.status_code, code(refused)) == (400, expected), material
    unknown = upload(reissue, expired_holder, application_id, "selfie", b"x")
    assert (unknown.status_code, code(unknown)) == (404, "unknown_material")
    early = call(
        "POST",
        reissue,
        f"/v1/reissue/applications/{application_id}/submit",
        expired_holder,
    )
    assert (early.status_code, code(early)) == (400, "materials_missing")
    nosy = call(
        "GET", reissue, f"/v1/reissue/applications/{application_id}", xpcc_holder
    )
    assert (nosy.status_code, code(nosy)) == (404, "application_not_found")


def test_an_arrival_for_a_batch_never_sent_is_dead_lettered_with_its_reason(
    product, vhost
):
    publish_fact(Broker(vhost.amqp_uri), batch_arrived_message("2031-01", ["N-1"]))
    eventually(
        lambda: vhost.queue_depth("reissue.ministry_batches.dead") == 1,
        what="the dead letter",
    )
    (letter,) = list_dead_letters(vhost.amqp_uri, "reissue.ministry_batches")
    assert letter.reason_code == "unknown_batch"
    assert "2031-01" in letter.reason
    counts = dead_letter_counts(vhost.amqp_uri)
    assert counts["reissue.ministry_batches"] == 1
    assert sum(counts.values()) == 1
