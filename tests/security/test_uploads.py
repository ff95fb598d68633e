"""Hostile uploads over the real reissue HTTP API, and who may read what was kept.

Files whose name and declared type lie about their content (a PDF or a program
named .jpg), files over the size limits, decompression bombs (images that declare
billions of pixels in a few hundred bytes), and material names with path separators
must each be refused with a 4xx, a stable code and a message; nothing may be
written outside the materials store, where files are named only by their digest.
The API takes no file names at all: a name offered in `Content-Disposition` or a
multipart form is never used. A kept file is served to its owner and to reviewers
only.
"""

from __future__ import annotations

import hashlib
import http.client
import io
import re
import struct
import zlib
from pathlib import Path

import pytest
import requests
from PIL import Image

from tests.security.conftest import RunningSystem
from tests.support.holders import Holder, certificates_of, verified_holder
from tests.support.infrastructure import eventually
from tests.support.materials import commitment_letter, one_inch_photo
from tests.support.processes import ROOT
from tests.support.staff import STAFF_PASSWORD
from tools.exam_authority import Broker, publish, results_message, sample_candidates

pytestmark = pytest.mark.security

SESSION = "uploads-old"
LONG_AGO = "2019-06-02"  # custody over: the certificates may be reissued
MB = 1024 * 1024
DIGEST_PATH = re.compile(r"([0-9a-f]{2})/([0-9a-f]{2})/(\1\2[0-9a-f]{60})")

PDF = commitment_letter()
ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8 + b"\x02\x00\x3e\x00" + b"\x00" * 200
WINDOWS_PROGRAM = b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 56 + b"PE\x00\x00" * 20
SCRIPT = b"#!/bin/sh\nrm -rf / --no-preserve-root\n"
PAGE = b"<html><script>alert(document.cookie)</script></html>"


def png_declaring(width: int, height: int) -> bytes:
    """A valid PNG header that claims `width`×`height`, with a few rows of data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    rows = zlib.compress(b"\x00" * (min(width, 4096) + 1) * 4, 9)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", rows)
        + chunk(b"IEND", b"")
    )


def jpeg_declaring(width: int, height: int) -> bytes:
    """A small real JPEG whose frame header is changed to claim `width`×`height`."""
    out = io.BytesIO()
    Image.new("RGB", (16, 16), "white").save(out, "JPEG")
    data = bytearray(out.getvalue())
    frame = data.index(b"\xff\xc0")  # SOF0: length, precision, height, width
    data[frame + 5 : frame + 9] = struct.pack(">HH", height, width)
    return bytes(data)


class Uploads:
    """The owner's draft application, and the people around it."""

    def __init__(self, system: RunningSystem, owner: Holder, other: Holder) -> None:
        self.system = system
        self.reissue = system.services["reissue"].url
        self.owner, self.other = owner, other
        self.application_id = ""
        self.materials = Path(
            system.services["reissue"].environment["XJCERT_MATERIALS_DIR"]
        )

    def path(self, material: str) -> str:
        return f"/v1/reissue/applications/{self.application_id}/materials/{material}"

    def put(self, material: str, content: bytes, **headers: str) -> requests.Response:
        return requests.put(
            self.reissue + self.path(material),
            data=content,
            headers={**self.owner.auth, **headers},
            timeout=60,
        )

    def kept(self) -> dict[str, dict]:
        shown = requests.get(
            self.reissue + f"/v1/reissue/applications/{self.application_id}",
            headers=self.owner.auth,
            timeout=20,
        )
        assert shown.ok, shown.text
        return {m["material"]: m for m in shown.json()["materials"]}


@pytest.fixture(scope="module")
def uploads(shared_system: RunningSystem) -> Uploads:
    identity = shared_system.services["identity"].url
    people = sample_candidates(SESSION, 2)
    publish(
        Broker(shared_system.vhost.amqp_uri),
        results_message(SESSION, people, exam_end_date=LONG_AGO),
    )
    owner, other = (
        verified_holder(identity, person["name"], person["id_number"])
        for person in people
    )
    for member in shared_system.staff.values():
        assert member.sign_in(STAFF_PASSWORD).status_code == 200  # fresh tokens
    certificates_of(shared_system.services["certificates"].url, owner)
    found = Uploads(shared_system, owner, other)
    found.application_id = _started(found, people[0]["certificate_number"])
    assert found.put("photo", one_inch_photo()).ok
    assert found.put("commitment_letter", PDF).ok
    return found


def _started(uploads: Uploads, number: str) -> str:
    body = {"certificate_number": number, "reason": "custody_expired"}

    def attempt() -> str | None:
        answer = requests.post(
            uploads.reissue + "/v1/reissue/applications",
            json=body,
            headers=uploads.owner.auth,
            timeout=20,
        )
        if answer.status_code in (403, 404):  # not yet on record in reissue
            return None
        assert answer.status_code == 201, answer.text
        return answer.json()["application_id"]

    return eventually(attempt, timeout=60, what="reissue to know the certificate")


def refusal(answer: requests.Response) -> tuple[int, str]:
    error = answer.json()["error"]
    assert error["message"], "a refusal says what is wrong"
    return answer.status_code, error["code"]


LIARS = {
    # case: (material, the name it is sent under, its declared type, content, code)
    "a PDF named photo.jpg": (
        "photo",
        "photo.jpg",
        "image/jpeg",
        PDF,
        "unsupported_file_type",
    ),
    "a Linux program named photo.jpg": (
        "photo",
        "photo.jpg",
        "image/jpeg",
        ELF,
        "unsupported_file_type",
    ),
    "a Windows program named letter.pdf": (
        "commitment_letter",
        "letter.pdf",
        "application/pdf",
        WINDOWS_PROGRAM,
        "unsupported_file_type",
    ),
    "a shell script named letter.jpg": (
        "commitment_letter",
        "letter.jpg",
        "image/jpeg",
        SCRIPT,
        "unsupported_file_type",
    ),
    "a web page named photo.png": (
        "photo",
        "photo.png",
        "image/png",
        PAGE,
        "unsupported_file_type",
    ),
    "a program behind a JPEG signature": (
        "photo",
        "photo.jpg",
        "image/jpeg",
        b"\xff\xd8\xff\xe0" + ELF,
        "unreadable_file",
    ),
}


@pytest.mark.parametrize("case", LIARS)
def test_a_file_whose_content_is_not_what_its_name_says_is_refused(
    uploads: Uploads, case: str
):
    material, name, declared, content, code = LIARS[case]
    before = uploads.kept()[material]

    answer = uploads.put(
        material,
        content,
        **{
            "Content-Type": declared,
            "Content-Disposition": f'attachment; filename="{name}"',
        },
    )

    print(f"{case}: {answer.status_code} {answer.text}")
    assert refusal(answer) == (400, code)
    assert uploads.kept()[material] == before, "the slot kept its earlier file"


def test_files_over_the_size_limits_are_refused_and_not_kept(uploads: Uploads):
    photo = b"\xff\xd8\xff\xe0" + b"\x00" * (2 * MB)
    letter = b"%PDF-1.4\n" + b"\x00" * (10 * MB) + b"\n%%EOF\n"

    answers = {
        f"photo {len(photo) - 2 * MB} bytes over 2 MB": uploads.put("photo", photo),
        f"letter {len(letter) - 10 * MB} bytes over 10 MB": uploads.put(
            "commitment_letter", letter
        ),
    }

    for case, answer in answers.items():
        print(f"{case}: {answer.status_code} {answer.text}")
    assert {case: refusal(a) for case, a in answers.items()} == {
        case: (400, "file_too_large") for case in answers
    }
    assert not _stored(uploads, photo) and not _stored(uploads, letter)


BOMBS = {
    # case: (material, content)
    "PNG photo declaring 50000×50000": ("photo", png_declaring(50_000, 50_000)),
    "PNG letter declaring 50000×50000": (
        "commitment_letter",
        png_declaring(50_000, 50_000),
    ),
    "PNG photo declaring 8000×6000 (under Pillow's own limit)": (
        "photo",
        png_declaring(8_000, 6_000),
    ),
    "JPEG letter declaring 65000×65000": (
        "commitment_letter",
        jpeg_declaring(65_000, 65_000),
    ),
}


def test_decompression_bombs_are_refused_before_they_are_decoded(uploads: Uploads):
    answers = {
        case: uploads.put(material, bomb) for case, (material, bomb) in BOMBS.items()
    }
    ready = requests.get(uploads.reissue + "/health/ready", timeout=20)
    good = uploads.put("certificate_copy", PDF)

    for case, answer in answers.items():
        size = len(BOMBS[case][1])
        print(f"{case} ({size} bytes): {answer.status_code} {answer.text}")
    print(f"afterwards: ready {ready.status_code}, a good upload {good.status_code}")
    assert {case: refusal(a) for case, a in answers.items()} == {
        case: (400, "image_too_large") for case in BOMBS
    }
    assert all(len(bomb) < 1024 for _, bomb in BOMBS.values())
    assert ready.status_code == 200
    assert good.status_code == 200, good.text


# Sent as raw request targets, so no client tidies the dots away.
TRAVERSALS = [
    "../../etc/passwd",
    "..%2F..%2Fetc%2Fpasswd",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "..%5Cx.jpg",
    "..\\x.jpg",
    "%2Fetc%2Fpasswd",
    "photo%2F..%2F..%2Fx.jpg",
    "photo%00.jpg",
]


def test_material_names_with_path_separators_are_refused_and_nothing_lands_outside(
    uploads: Uploads,
):
    outside_before = _outside_the_store(uploads)
    passwd_before = Path("/etc/passwd").stat()
    base = f"/v1/reissue/applications/{uploads.application_id}/materials/"

    answers = {raw: _raw_put(uploads, base + raw, PDF) for raw in TRAVERSALS}
    named = uploads.put(
        "certificate_copy",
        commitment_letter(),
        **{"Content-Disposition": 'attachment; filename="../../etc/passwd"'},
    )
    form = requests.put(
        uploads.reissue + uploads.path("certificate_copy"),
        files={"file": ("../../x.jpg", PDF, "image/jpeg")},
        headers=uploads.owner.auth,
        timeout=20,
    )

    for raw, (status, body) in answers.items():
        print(f"material {raw!r}: {status} {body}")
    print(f"name in Content-Disposition: {named.status_code} {named.text}")
    print(f"multipart form named ../../x.jpg: {form.status_code} {form.text}")
    for raw, (status, body) in answers.items():
        assert status in (400, 404), (raw, status, body)
        assert re.search(r'"code": "(not_found|unknown_material|bad_request)"', body)
    assert named.status_code == 200, named.text  # kept under its digest, name unused
    assert refusal(form) == (400, "unsupported_file_type")
    assert _outside_the_store(uploads) == outside_before
    assert Path("/etc/passwd").stat().st_mtime == passwd_before.st_mtime
    assert not any(
        (place / name).exists()
        for place in (ROOT, ROOT / ".run", uploads.materials.parent)
        for name in ("passwd", "x.jpg", "..\\x.jpg")
    )
    assert _only_digest_named_files(uploads)


def test_a_kept_file_is_served_to_its_owner_and_reviewers_only(uploads: Uploads):
    staff = uploads.system.staff
    holder_path = uploads.path("photo")
    review_path = holder_path.replace("/v1/reissue/", "/v1/review/")
    photo = one_inch_photo()
    assert uploads.put("photo", photo).ok
    callers = {
        "owner": uploads.owner,
        "other holder": uploads.other,
        "anonymous": None,
        **staff,
    }

    seen = {}
    for who, caller in callers.items():
        headers = caller.auth if caller is not None else {}
        for route, path in (("holder", holder_path), ("review", review_path)):
            seen[(who, route)] = requests.get(
                uploads.reissue + path, headers=headers, timeout=20
            )

    print({f"{who} via {route}": a.status_code for (who, route), a in seen.items()})
    served = {key for key, answer in seen.items() if answer.ok}
    assert served == {("owner", "holder"), ("reviewer", "review")}
    for key in served:
        assert seen[key].content == photo
        assert seen[key].headers["Cache-Control"] == "private, no-store"
    assert seen[("other holder", "holder")].status_code == 404
    assert {seen[("anonymous", r)].status_code for r in ("holder", "review")} == {401}
    signed_in = {key for key in seen if key[0] != "anonymous"}
    assert all(seen[key].status_code in (403, 404) for key in signed_in - served)


def _raw_put(uploads: Uploads, target: str, content: bytes) -> tuple[int, str]:
    """PUT to the target exactly as written, dots and escapes untouched."""
    host, port = uploads.reissue.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=20)
    try:
        connection.putrequest("PUT", target, skip_accept_encoding=True)
        for name, value in uploads.owner.auth.items():
            connection.putheader(name, value)
        connection.putheader("Content-Length", str(len(content)))
        connection.endheaders(content)
        response = connection.getresponse()
        return response.status, response.read().decode(errors="replace")
    finally:
        connection.close()


def _stored(uploads: Uploads, content: bytes) -> bool:
    digest = hashlib.sha256(content).hexdigest()
    return (uploads.materials / digest[:2] / digest[2:4] / digest).exists()


def _outside_the_store(uploads: Uploads) -> set[str]:
    """Every file beside the store in the system's folder, logs aside."""
    folder = uploads.materials.parent
    return {
        str(path.relative_to(folder))
        for path in folder.rglob("*")
        if not path.is_relative_to(uploads.materials) and path.suffix != ".log"
    }


def _only_digest_named_files(uploads: Uploads) -> bool:
    files = [p for p in uploads.materials.rglob("*") if p.is_file()]
    names = [str(p.relative_to(uploads.materials)) for p in files]
    print(f"the store holds {len(files)} files, each at ab/cd/<sha256>")
    return bool(files) and all(DIGEST_PATH.fullmatch(name) for name in names)
