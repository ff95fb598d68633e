"""Who may call what: every documented operation, called by every kind of caller.

`MATRIX` names, for each operation of `docs/openapi/*.yaml`, the callers who may
succeed. Each operation is called by all of them: anonymous, the holder who owns the
resource ("owner"), another holder ("other"), and a member of each staff role. The
calls aim at the owner's real resources, made first: certificates from published
exam results (paper ones in custody and past custody, a health e-certificate, two
industry-signed ones awaiting the centre), a booking, reissue applications with
uploaded materials (a draft, a submitted one, one whose reissued certificate
arrived), a notice; the matrix itself books, mails and applies again as the owner.

A caller the matrix names must get a 2xx; any other gets 401 (anonymous), 403, or
404 where the product hides that the resource exists. A 2xx to the other holder must
carry nothing of the owner's. Rows run in the order of the table, refused callers
before admitted ones, so an admitted caller's success also shows that the refused
attempts changed nothing (a booking the other holder could cancel could not be moved
by its owner afterwards). An operation documented without a row fails the test, and
the matrix must agree with each operation's documented `x-roles`.

Staff notices come only from overdue deadlines; the set-up writes one per role into
the notifications read model, as the overdue sweep writes them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
import requests
import yaml

from services.common.workdays import BEIJING
from tests.security.conftest import RunningSystem
from tests.support.holders import (
    PASSWORD,
    Holder,
    certificates_of,
    new_mobile,
    verified_holder,
)
from tests.support.infrastructure import eventually
from tests.support.materials import commitment_letter, one_inch_photo
from tests.support.processes import ROOT
from tests.support.staff import STAFF_PASSWORD
from tools.authorities import batch_arrived_message, ecert_signed_message, publish_fact
from tools.exam_authority import Broker, publish, results_message, sample_candidates

pytestmark = pytest.mark.security

OPENAPI = ROOT / "docs" / "openapi"
METHODS = ("get", "put", "post", "delete", "patch")

ANONYMOUS, OWNER, OTHER = "anonymous", "owner", "other"
REVIEWER, COUNTER = "reviewer", "counter_clerk"
SHIPPING, ADMIN = "shipping_clerk", "administrator"
STAFF = frozenset({REVIEWER, COUNTER, SHIPPING, ADMIN})
HOLDERS = frozenset({OWNER, OTHER})
SIGNED_IN = STAFF | HOLDERS
EVERYONE = SIGNED_IN | {ANONYMOUS}
CALLERS = (ANONYMOUS, OTHER, REVIEWER, COUNTER, SHIPPING, ADMIN, OWNER)

# Custody of certificates from an exam that ended then is over: reissue is open.
LONG_AGO = "2019-06-02"
RECENT = "2025-11-09"
NOTHING_YET = "00000000-0000-4000-8000-000000000000"
PROXY = {"name": "王建国", "id_number": "650102199308052190"}
ADDRESS = {
    "province": "新疆维吾尔自治区",
    "city": "乌鲁木齐市",
    "district": "天山区",
    "street": "人民路 1 号",
}


@dataclass
class Row:
    """One operation: who may succeed, and the request each caller sends."""

    service: str
    operation: str
    may: frozenset[str]
    path: Callable[[World, str], dict[str, str]] = lambda w, who: {}
    body: Callable[[World, str], Any] | None = None
    query: Callable[[World, str], dict[str, str]] | None = None
    raw: Callable[[World, str], bytes] | None = None
    # Remembers what the admitted call made, for the rows after it.
    keep: Callable[[World, requests.Response], None] | None = None
    # An admitted call ends the caller's sessions, so it signs in again after.
    ends_sessions: bool = False

    def __post_init__(self) -> None:
        self.may = frozenset(self.may)

    @property
    def id(self) -> str:
        return f"{self.service}.{self.operation}"


def health_rows(service: str) -> list[Row]:
    return [
        Row(service, op, EVERYONE)
        for op in ("getMetrics", "getLiveness", "getReadiness")
    ]


MATRIX: list[Row] = [
    # identity: accounts and sessions
    Row(
        "identity",
        "registerApplicant",
        EVERYONE,
        body=lambda w, who: {"mobile": new_mobile(), "password": PASSWORD},
    ),
    Row(
        "identity",
        "signIn",
        EVERYONE,
        body=lambda w, who: {"mobile": w.spare.mobile, "password": PASSWORD},
    ),
    Row(
        "identity",
        "refreshSession",
        EVERYONE,
        body=lambda w, who: {"refresh_token": w.spare_refresh_token()},
    ),
    Row(
        "identity",
        "signOut",
        EVERYONE,
        body=lambda w, who: {"refresh_token": w.spare_refresh_token()},
    ),
    Row("identity", "getMyAccount", SIGNED_IN),
    Row(
        "identity",
        "verifyRealName",
        HOLDERS,  # each their own name and ID number, verified again
        body=lambda w, who: w.identity_of(who),
    ),
    Row(
        "identity",
        "changePassword",
        SIGNED_IN,
        body=lambda w, who: {
            "current_password": w.password_of(who),
            "new_password": w.password_of(who),
        },
        ends_sessions=True,
    ),
    *health_rows("identity"),
    # certificates
    Row("certificates", "listMyCertificates", HOLDERS),
    Row(
        "certificates",
        "downloadMyEcert",
        {OWNER},
        path=lambda w, who: {"certificate_number": w.numbers["nurse"]},
    ),
    Row("certificates", "listEcertsAwaitingSignature", {REVIEWER, ADMIN}),
    Row(
        "certificates",
        "signEcert",
        {REVIEWER, ADMIN},  # each signs one of the two awaiting the centre
        path=lambda w, who: {
            "certificate_number": w.numbers["cost_admin" if who == ADMIN else "cost"]
        },
    ),
    Row("certificates", "getEcertSigning", {ADMIN}),
    Row(
        "certificates",
        "setEcertSigning",
        {ADMIN},
        body=lambda w, who: {"automatic": False},
    ),
    Row(
        "certificates",
        "revokeCertificate",
        {ADMIN},
        path=lambda w, who: {"certificate_number": w.numbers["revoked"]},
        body=lambda w, who: {"reason": "考试违纪，成绩无效"},
    ),
    Row(
        "certificates",
        "verifyCertificate",
        EVERYONE,
        query=lambda w, who: {"number": w.numbers["booked"], "name": w.owner_name},
    ),
    Row(
        "certificates",
        "verifyCertificateByBody",
        EVERYONE,
        body=lambda w, who: {"number": w.numbers["booked"], "name": w.owner_name},
    ),
    *health_rows("certificates"),
    # distribution: bookings, mail orders, the counter, shipping, the calendar
    Row("distribution", "listPickupWindows", SIGNED_IN),
    Row("distribution", "listMyBookings", HOLDERS),
    Row(
        "distribution",
        "nameProxy",
        {OWNER},
        path=lambda w, who: {"booking_id": w.booking},
        body=lambda w, who: PROXY,
    ),
    Row(
        "distribution",
        "moveBooking",
        {OWNER},
        path=lambda w, who: {"booking_id": w.booking},
        body=lambda w, who: {"starts_at": w.windows[1]},
    ),
    Row(
        "distribution",
        "cancelBooking",
        {OWNER},
        path=lambda w, who: {"booking_id": w.booking},
    ),
    Row(
        "distribution",
        "bookPickup",
        {OWNER},
        body=lambda w, who: {
            "certificate_numbers": [w.numbers["booked"]],
            "starts_at": w.windows[2],
        },
        keep=lambda w, answer: setattr(w, "new_booking", answer.json()["booking_id"]),
    ),
    Row("distribution", "listCounterBookings", {COUNTER}),
    Row(
        "distribution",
        "handOver",
        {COUNTER},
        path=lambda w, who: {"booking_id": w.new_booking},
        body=lambda w, who: {"collected_by": "holder", "holder_document_checked": True},
    ),
    Row(
        "distribution",
        "requestMail",
        {OWNER},
        body=lambda w, who: {
            "certificate_numbers": [w.numbers["mailed"]],
            "recipient": w.owner_name,
            "mobile": w.owner.mobile,
            "address": ADDRESS,
        },
        keep=lambda w, answer: setattr(w, "mail_order", answer.json()["order_id"]),
    ),
    Row(
        "distribution",
        "editMailOrder",
        {OWNER},
        path=lambda w, who: {"order_id": w.mail_order},
        body=lambda w, who: {
            "recipient": w.owner_name,
            "mobile": w.owner.mobile,
            "address": {**ADDRESS, "street": "人民路 2 号"},
        },
    ),
    Row("distribution", "listMyMailOrders", HOLDERS),
    Row("distribution", "listShippingOrders", {SHIPPING}),
    Row(
        "distribution",
        "shipOrder",
        {SHIPPING},
        path=lambda w, who: {"order_id": w.mail_order},
        body=lambda w, who: {"tracking_number": "SF1234567890", "carrier": "顺丰速运"},
    ),
    Row(
        "distribution",
        "setPickupDay",
        {ADMIN},
        path=lambda w, who: {"day": w.far_day},
        body=lambda w, who: {"capacity": 30},
    ),
    Row("distribution", "getMailTerms", EVERYONE),
    *health_rows("distribution"),
    # notifications
    Row("notifications", "listMyNotices", HOLDERS),
    Row(
        "notifications",
        "readMyNotice",
        {OWNER},
        path=lambda w, who: {"notice": w.owner_notice},
    ),
    Row("notifications", "getMyChannels", HOLDERS),
    Row(
        "notifications",
        "chooseMyChannels",
        HOLDERS,
        body=lambda w, who: {"sms": True, "email": None},
    ),
    Row("notifications", "listStaffNotices", STAFF),
    Row(
        "notifications",
        "readStaffNotice",
        STAFF,  # each the notice addressed to their own role
        path=lambda w, who: {"notice": w.staff_notices.get(who, w.reviewer_notice)},
    ),
    Row("notifications", "listOpenDeadlines", STAFF),
    Row("notifications", "listDeliveries", {ADMIN}),
    *health_rows("notifications"),
    # reissue: the holder's applications, review, batches and the sync
    Row("reissue", "getReissueTerms", EVERYONE),
    Row(
        "reissue",
        "startApplication",
        {OWNER},
        body=lambda w, who: {
            "certificate_number": w.numbers["expired_new"],
            "reason": "custody_expired",
        },
        keep=lambda w, answer: setattr(
            w, "new_application", answer.json()["application_id"]
        ),
    ),
    Row("reissue", "listMyApplications", HOLDERS),
    Row(
        "reissue",
        "showMyApplication",
        {OWNER},
        path=lambda w, who: {"application_id": w.draft},
    ),
    Row(
        "reissue",
        "changeReason",
        {OWNER},
        path=lambda w, who: {"application_id": w.draft},
        body=lambda w, who: {"reason": "custody_expired"},
    ),
    Row(
        "reissue",
        "uploadMaterial",
        {OWNER},
        path=lambda w, who: {"application_id": w.draft, "material": "proof_of_passing"},
        raw=lambda w, who: commitment_letter(),
    ),
    Row(
        "reissue",
        "downloadMyMaterial",
        {OWNER},
        path=lambda w, who: {"application_id": w.draft, "material": "photo"},
    ),
    Row(
        "reissue",
        "removeMaterial",
        {OWNER},
        path=lambda w, who: {"application_id": w.draft, "material": "proof_of_passing"},
    ),
    Row(
        "reissue",
        "submitApplication",
        {OWNER},
        path=lambda w, who: {"application_id": w.draft},
    ),
    Row(
        "reissue",
        "withdrawApplication",
        {OWNER},
        path=lambda w, who: {"application_id": w.new_application},
    ),
    Row("reissue", "listReviewQueue", {REVIEWER}),
    Row(
        "reissue",
        "showApplicationForReview",
        {REVIEWER},
        path=lambda w, who: {"application_id": w.submitted},
    ),
    Row(
        "reissue",
        "downloadMaterialForReview",
        {REVIEWER},
        path=lambda w, who: {"application_id": w.submitted, "material": "photo"},
    ),
    Row(
        "reissue",
        "returnToHolder",
        {REVIEWER},
        path=lambda w, who: {"application_id": w.draft},
        body=lambda w, who: {
            "message": "照片不清晰，请重新上传。",
            "problems": ["photo"],
        },
    ),
    Row(
        "reissue",
        "approveApplication",
        {REVIEWER},
        path=lambda w, who: {"application_id": w.submitted},
    ),
    Row(
        "reissue",
        "closeBatch",
        {ADMIN},
        path=lambda w, who: {"period": w.period},
    ),
    Row("reissue", "showBatch", {ADMIN}, path=lambda w, who: {"period": w.period}),
    Row("reissue", "exportBatch", {ADMIN}, path=lambda w, who: {"period": w.period}),
    Row("reissue", "listSyncs", {REVIEWER, ADMIN}),
    Row(
        "reissue",
        "syncCertificates",
        {REVIEWER, ADMIN},
        body=lambda w, who: {"application_ids": [w.arrived]},
    ),
    *health_rows("reissue"),
]


def documented_operations() -> dict[str, tuple[str, str, list[str] | None]]:
    """`service.operationId` -> (method, path, x-roles) for every documented call."""
    found = {}
    for document in sorted(OPENAPI.glob("*.yaml")):
        spec = yaml.safe_load(document.read_text(encoding="utf-8"))
        for path, item in spec["paths"].items():
            for method in METHODS:
                if method in item:
                    operation = item[method]
                    key = f"{document.stem}.{operation['operationId']}"
                    found[key] = (method.upper(), path, operation.get("x-roles"))
    return found


OPERATIONS = documented_operations()


def test_the_matrix_covers_every_documented_operation_once():
    rows = [row.id for row in MATRIX]

    missing = sorted(set(OPERATIONS) - set(rows))
    unknown = sorted(set(rows) - set(OPERATIONS))
    print(f"{len(OPERATIONS)} documented operations, {len(rows)} rows in the matrix")

    assert not missing, f"operations with no row in MATRIX: {missing}"
    assert not unknown, f"rows for operations no document has: {unknown}"
    assert len(rows) == len(set(rows)), "an operation has two rows"


def test_the_matrix_agrees_with_the_documented_roles():
    disagreements = {}
    for row in MATRIX:
        documented = set(OPERATIONS.get(row.id, ("", "", None))[2] or ())
        admitted = row.may - {OWNER, OTHER, ANONYMOUS}
        if row.may & HOLDERS:
            admitted |= {"applicant"}
        if ANONYMOUS in row.may:
            admitted = set()  # public: the document lists no roles
        if admitted != documented:
            disagreements[row.id] = (sorted(admitted), sorted(documented))

    print(f"roles compared for {len(MATRIX)} operations")
    assert not disagreements, f"matrix vs x-roles: {disagreements}"


@dataclass
class World:
    """The running system, its callers, and the owner's resources."""

    system: RunningSystem
    callers: dict[str, Holder | None]
    people: dict[str, dict[str, str]]
    spare: Holder
    numbers: dict[str, str]
    windows: list[str] = field(default_factory=list)
    booking: str = ""
    draft: str = ""
    submitted: str = ""
    arrived: str = ""
    period: str = ""
    owner_notice: str = ""
    staff_notices: dict[str, str] = field(default_factory=dict)
    far_day: str = ""
    # Made by the matrix's own rows, as the owner.
    new_booking: str = NOTHING_YET
    mail_order: str = NOTHING_YET
    new_application: str = NOTHING_YET

    @property
    def owner(self) -> Holder:
        holder = self.callers[OWNER]
        assert holder is not None
        return holder

    @property
    def owner_name(self) -> str:
        return self.people[OWNER]["name"]

    @property
    def reviewer_notice(self) -> str:
        return self.staff_notices[REVIEWER]

    def identity_of(self, who: str) -> dict[str, str]:
        # Callers without an identity of their own try the owner's.
        person = self.people.get(who, self.people[OWNER])
        return {"name": person["name"], "id_number": person["id_number"]}

    def password_of(self, who: str) -> str:
        return STAFF_PASSWORD if who in STAFF else PASSWORD

    def sign_in_again(self, who: str) -> None:
        holder = self.callers[who]
        assert holder is not None
        assert holder.sign_in(self.password_of(who)).status_code == 200

    def spare_refresh_token(self) -> str:
        assert self.spare.sign_in().status_code == 200
        return self.spare.refresh_token

    def owners_secrets(self) -> list[str]:
        """What of the owner's no other holder may ever be shown."""
        ids = [self.booking, self.draft, self.submitted, self.arrived]
        ids += [self.new_booking, self.mail_order, self.new_application]
        person = self.people[OWNER]
        secrets = [*self.numbers.values(), *ids, person["name"], person["id_number"]]
        return [s for s in secrets if s and s != NOTHING_YET]

    def call(self, row: Row, who: str) -> requests.Response:
        method, template, _ = OPERATIONS[row.id]
        url = self.system.services[row.service].url + template.format(
            **row.path(self, who)
        )
        holder = self.callers[who]
        headers = dict(holder.auth) if holder is not None else {}
        kwargs: dict[str, Any] = {"headers": headers, "timeout": 30}
        if row.body is not None:
            kwargs["json"] = row.body(self, who)
        if row.query is not None:
            kwargs["params"] = row.query(self, who)
        if row.raw is not None:
            kwargs["data"] = row.raw(self, who)
            headers["Content-Type"] = "application/octet-stream"
        return requests.request(method, url, **kwargs)


@pytest.fixture(scope="module")
def world(shared_system: RunningSystem) -> World:
    """The owner's resources, each made as the product makes it."""
    system = shared_system
    people = _people()
    _publish_exam_results(system, people)
    identity = system.services["identity"].url
    owner = verified_holder(identity, **_named(people[OWNER]))
    other = verified_holder(identity, **_named(people[OTHER]))
    for member in system.staff.values():
        assert member.sign_in(STAFF_PASSWORD).status_code == 200  # fresh tokens
    spare = Holder(identity, new_mobile())
    assert spare.register().status_code == 201
    callers: dict[str, Holder | None] = {ANONYMOUS: None, OWNER: owner, OTHER: other}
    callers.update(system.staff)
    world = World(system, callers, people, spare, _numbers())
    _await_certificates(world)
    _book(world)
    _apply_for_reissues(world)
    _write_staff_notices(world)
    _await_owner_notice(world)
    world.far_day = (datetime.now(BEIJING) + timedelta(days=40)).date().isoformat()
    return world


@pytest.mark.parametrize("row", MATRIX, ids=lambda row: row.id)
def test_only_the_callers_the_matrix_names_succeed(world: World, row: Row):
    order = sorted(CALLERS, key=lambda who: who in row.may)  # refused ones first
    answers = {}
    for who in order:
        answers[who] = world.call(row, who)
        if who in row.may and row.keep is not None and answers[who].ok:
            row.keep(world, answers[who])
        if who in row.may and row.ends_sessions and answers[who].ok:
            world.sign_in_again(who)

    problems = _problems(world, row, answers)
    print(f"{row.id}: " + ", ".join(_said(who, answers[who]) for who in CALLERS))

    assert not problems, f"{row.id}: " + "; ".join(problems)


def _problems(
    world: World, row: Row, answers: dict[str, requests.Response]
) -> list[str]:
    problems = []
    for who, answer in answers.items():
        if who in row.may and not answer.ok:
            problems.append(f"{who} was refused: {_said(who, answer)}")
        elif who not in row.may and answer.status_code not in (401, 403, 404):
            problems.append(f"{who} was not refused: {_said(who, answer)}")
        elif who == ANONYMOUS and who not in row.may and answer.status_code != 401:
            problems.append(f"anonymous got {answer.status_code}, not 401")
    shown_to_other = answers[OTHER]
    if ANONYMOUS not in row.may and shown_to_other.ok:
        leaked = [s for s in world.owners_secrets() if s in shown_to_other.text]
        if leaked:
            problems.append(f"the other holder was shown the owner's {leaked}")
    return problems


def _said(who: str, answer: requests.Response) -> str:
    if answer.ok:
        return f"{who} {answer.status_code}"
    try:
        code = answer.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        code = "?"
    return f"{who} {answer.status_code} {code}"


# --- set-up: the owner's resources, made through the product ------------------------


SESSIONS = {
    # session: (qualification, level, exam end, the owner's certificates in it)
    "authz-paper": ("economist", "中级", RECENT, ("booked", "mailed", "revoked")),
    "authz-old": (
        "economist",
        "中级",
        LONG_AGO,
        ("expired_draft", "expired_new", "expired_submitted", "expired_arrived"),
    ),
    "authz-nurse": ("nurse", "初级", "2026-09-20", ("nurse",)),
    "authz-cost": ("cost_engineer", "二级", "2026-09-20", ("cost", "cost_admin")),
}


def _people() -> dict[str, dict[str, str]]:
    owner, *others = sample_candidates("authz-people", 6)
    other = next(p for p in others if p["name"] != owner["name"])
    return {OWNER: owner, OTHER: other}


def _named(person: dict[str, str]) -> dict[str, str]:
    return {"name": person["name"], "id_number": person["id_number"]}


def _numbers() -> dict[str, str]:
    return {
        slot: f"{session}-{index:06d}"
        for session, (*_, slots) in SESSIONS.items()
        for index, slot in enumerate(slots)
    }


def _publish_exam_results(system: RunningSystem, people) -> None:
    broker = Broker(system.vhost.amqp_uri)
    owner = _named(people[OWNER])
    for session, (qualification, level, ended, slots) in SESSIONS.items():
        candidates = [{**c, **owner} for c in sample_candidates(session, len(slots))]
        if session == "authz-paper":  # the other holder passed the same exam
            candidates.append(
                {
                    **_named(people[OTHER]),
                    "certificate_number": f"{session}-other",
                    "registration_place": "xinjiang",
                }
            )
        publish(
            broker, results_message(session, candidates, qualification, level, ended)
        )


def _await_certificates(world: World) -> None:
    url = world.system.services["certificates"].url
    eventually(
        lambda: (
            len(certificates_of(url, world.owner)["certificates"]) == len(world.numbers)
        ),
        timeout=60,
        what="the owner's certificates",
    )
    broker = Broker(world.system.vhost.amqp_uri)
    publish_fact(
        broker, ecert_signed_message("health_commission", world.numbers["nurse"])
    )
    for slot in ("cost", "cost_admin"):
        publish_fact(
            broker, ecert_signed_message("industry_authority", world.numbers[slot])
        )
    wanted = {"nurse": "ecert_downloadable", "cost": "awaiting_centre_signature"}

    def states_reached() -> bool:
        shown = {
            c["certificate_number"]: c["state"]
            for c in certificates_of(url, world.owner)["certificates"]
        }
        return all(shown[world.numbers[slot]] == s for slot, s in wanted.items())

    eventually(states_reached, timeout=60, what="the e-certificates' signatures")


def _book(world: World) -> None:
    distribution = world.system.services["distribution"]
    windows = _json(distribution, "GET", "/v1/pickup/windows?days=30", world.owner)[
        "windows"
    ]
    world.windows = [w["starts_at"] for w in windows if w["seats_left"] > 0][:3]
    assert len(world.windows) == 3, windows
    body = {
        "certificate_numbers": [world.numbers["booked"]],
        "starts_at": world.windows[0],
    }
    booked = _once_known(distribution, "POST", "/v1/bookings", world.owner, body)
    world.booking = booked["booking_id"]


def _apply_for_reissues(world: World) -> None:
    reissue = world.system.services["reissue"]
    reviewer, admin = world.callers[REVIEWER], world.callers[ADMIN]
    ids = {}
    for slot in ("expired_draft", "expired_submitted", "expired_arrived"):
        body = {"certificate_number": world.numbers[slot], "reason": "custody_expired"}
        started = _once_known(
            reissue, "POST", "/v1/reissue/applications", world.owner, body
        )
        ids[slot] = started["application_id"]
        _upload_materials(reissue, world.owner, ids[slot])
    for slot in ("expired_submitted", "expired_arrived"):
        _json(
            reissue, "POST", f"/v1/reissue/applications/{ids[slot]}/submit", world.owner
        )
    world.draft, world.submitted = ids["expired_draft"], ids["expired_submitted"]
    world.arrived = ids["expired_arrived"]

    review = f"/v1/review/applications/{world.arrived}/approve"
    world.period = _json(reissue, "POST", review, reviewer)["batch"]
    _json(reissue, "POST", f"/v1/admin/reissue/batches/{world.period}/close", admin)
    publish_fact(
        Broker(world.system.vhost.amqp_uri),
        batch_arrived_message(world.period, [world.numbers["expired_arrived"]]),
    )
    eventually(
        lambda: _json(reissue, "GET", "/v1/staff/reissue/syncs", reviewer)[
            "certificates"
        ],
        timeout=60,
        what="the reissued certificate to arrive",
    )


def _upload_materials(reissue, holder: Holder, application_id: str) -> None:
    for material, content in (
        ("photo", one_inch_photo()),
        ("commitment_letter", commitment_letter()),
    ):
        answer = requests.put(
            f"{reissue.url}/v1/reissue/applications/{application_id}"
            f"/materials/{material}",
            data=content,
            headers={**holder.auth, "Content-Type": "application/octet-stream"},
            timeout=30,
        )
        assert answer.ok, answer.text


def _write_staff_notices(world: World) -> None:
    with world.system.database.connect() as conn:
        for role in sorted(STAFF):
            notice = uuid.uuid4()
            conn.execute(
                "INSERT INTO notifications_read.notices "
                "(notice_id, role, kind, title, body) VALUES (%s, %s, %s, %s, %s)",
                (notice, role, "deadline_overdue", "办理期限已逾期", "请尽快处理。"),
            )
            world.staff_notices[role] = str(notice)


def _await_owner_notice(world: World) -> None:
    notifications = world.system.services["notifications"]
    notices = eventually(
        lambda: _json(notifications, "GET", "/v1/me/notices", world.owner)["notices"],
        timeout=60,
        what="a notice to the owner",
    )
    world.owner_notice = notices[0]["notice_id"]


def _json(service, method: str, path: str, who: Holder, body=None) -> Any:
    answer = requests.request(
        method, service.url + path, json=body, headers=who.auth, timeout=30
    )
    assert answer.ok, f"{method} {path}: {answer.status_code} {answer.text}"
    return answer.json()


def _once_known(service, method: str, path: str, who: Holder, body) -> dict:
    """The answer, once the service has the certificate and the holder on record."""

    def attempt() -> dict | None:
        answer = requests.request(
            method, service.url + path, json=body, headers=who.auth, timeout=30
        )
        if answer.status_code in (403, 404):
            return None
        assert answer.ok, f"{method} {path}: {answer.status_code} {answer.text}"
        return answer.json()

    return eventually(attempt, timeout=60, what=f"{method} {path} to be accepted")
