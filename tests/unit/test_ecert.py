import asyncio
import dataclasses
import io
import re
from datetime import UTC, date, datetime

import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader

from services.certificates.ecert import (
    CENTRE,
    ElectronicCertificate,
    SigningIdentity,
    new_signing_identity,
    render,
    sign,
    verify,
)

CENTRE_NAME = "新疆维吾尔自治区人事考试中心（测试）"

INDUSTRY = ElectronicCertificate(
    certificate_number="2025650100001",
    holder_name="阿依古丽·买买提",
    holder_id_number="650102199308052190",
    qualification_name="建造师",
    level="二级",
    specialty="建筑工程",
    exam_end_date=date(2025, 6, 1),
    kind="regional_industry",
    authority_signed_at=datetime(2025, 11, 3, 2, 15, tzinfo=UTC),
    centre_signed_at=datetime(2025, 11, 5, 1, 0, tzinfo=UTC),
    reissued=False,
    verification_url="https://zs.example.cn/verify/2025650100001?t=5f0c9e1a",
)

HEALTH = dataclasses.replace(
    INDUSTRY,
    certificate_number="2025650200007",
    qualification_name="护士执业资格",
    level="初级",
    specialty=None,
    kind="regional_health",
    centre_signed_at=None,
)


@pytest.fixture(scope="module")
def centre():
    return new_signing_identity(CENTRE_NAME)


@pytest.fixture(scope="module")
def signed(centre):
    key_pem, certificate_pem = centre
    return sign(render(INDUSTRY), SigningIdentity.from_pem(key_pem, certificate_pem))


# reportlab writes CID-font text as UTF-16BE literal strings in the content stream.
LITERAL = re.compile(rb"\((?:\\.|[^\\()])*\)", re.DOTALL)
ESCAPE = re.compile(rb"\\([0-7]{1,3}|.)", re.DOTALL)
ESCAPED = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}


def _unescape(match: re.Match) -> bytes:
    escaped = match.group(1)
    if escaped[:1].isdigit():
        return bytes([int(escaped, 8)])
    return ESCAPED.get(escaped, escaped)


def page_text(pdf: bytes) -> str:
    page = PdfFileReader(io.BytesIO(pdf)).root["/Pages"]["/Kids"][0]
    contents = page["/Contents"]
    streams = contents if isinstance(contents, generic.ArrayObject) else [contents]
    content = b"".join(stream.get_object().data for stream in streams)
    return "".join(
        ESCAPE.sub(_unescape, literal[1:-1]).decode("utf-16-be")
        for literal in LITERAL.findall(content)
    )


def test_a_signed_certificate_verifies_against_the_centre_certificate(centre, signed):
    result = verify(signed, [centre[1]])

    assert result.valid
    assert result.intact
    assert result.trusted
    assert result.covers_whole_document
    assert result.signer == CENTRE_NAME


def test_the_certificate_shows_its_fields_and_both_signatures_in_beijing_time():
    text = page_text(render(INDUSTRY))

    for shown in (
        "专业技术人员资格证书（电子证书）",
        "证书编号：2025650100001",
        # The name's U+00B7 prints as U+30FB, the middle dot the font can show.
        "姓名：阿依古丽\u30fb买买提",
        "身份证件号码：650102199308052190",
        "专业：建筑工程",
        "考试结束日期：2025年06月01日",
        "行业主管部门签发时间：2025年11月03日 10:15（北京时间）",
        f"{CENTRE}签发时间：2025年11月05日 09:00（北京时间）",
        INDUSTRY.verification_url,
    ):
        assert shown in text
    assert "补发" not in text


def test_a_reissue_is_marked_on_the_certificate():
    text = page_text(render(dataclasses.replace(INDUSTRY, reissued=True)))

    assert "（补发）" in text


def test_the_same_record_renders_to_the_same_bytes():
    assert render(INDUSTRY) == render(INDUSTRY)


def test_a_health_certificate_shows_only_the_health_commission_signature():
    text = page_text(render(HEALTH))

    assert "新疆维吾尔自治区卫生健康委员会签发时间：2025年11月03日 10:15" in text
    assert text.count("签发时间") == 1
    assert "行业主管部门" not in text
    assert "专业：" not in text


def test_the_centre_signs_industry_certificates_only():
    with pytest.raises(ValueError, match="does not sign health"):
        dataclasses.replace(HEALTH, centre_signed_at=INDUSTRY.centre_signed_at)
    with pytest.raises(ValueError, match="needs the centre"):
        dataclasses.replace(INDUSTRY, centre_signed_at=None)


def test_one_changed_byte_breaks_the_signature(centre, signed):
    at = signed.index(b"(2025650100001)") + 1
    tampered = signed[:at] + b"3" + signed[at + 1 :]

    result = verify(tampered, [centre[1]])

    assert result.signer == CENTRE_NAME  # read and found, yet not what was signed
    assert not result.intact
    assert not result.valid


def test_content_appended_after_signing_is_not_covered(centre, signed):
    writer = IncrementalPdfFileWriter(io.BytesIO(signed))
    overlay = generic.StreamObject(stream_data=b"BT /F2 24 Tf 100 100 Td (X) Tj ET")
    writer.add_stream_to_page(0, writer.add_object(overlay))
    output = io.BytesIO()
    writer.write(output)

    result = verify(output.getvalue(), [centre[1]])

    assert result.intact
    assert not result.covers_whole_document
    assert not result.valid


def test_an_unsigned_certificate_is_not_valid(centre):
    result = verify(render(INDUSTRY), [centre[1]])

    assert not result.valid
    assert result.signer is None


def test_bytes_that_are_not_a_pdf_are_not_valid(centre):
    assert not verify(b"%PDF-1.7 this is not a certificate", [centre[1]]).valid


def test_a_signature_from_another_root_is_not_trusted(signed):
    _, other_certificate = new_signing_identity("另一家机构")

    result = verify(signed, [other_certificate])

    assert result.intact
    assert not result.trusted
    assert not result.valid


def test_bad_trust_roots_are_a_configuration_error(signed):
    with pytest.raises(ValueError, match="trust_roots"):
        verify(signed, [b"not a certificate"])


def test_a_key_and_a_certificate_of_another_key_do_not_load(centre):
    _, other_certificate = new_signing_identity("另一家机构")

    with pytest.raises(ValueError, match="matches the private key"):
        SigningIdentity.from_pem(centre[0], other_certificate)


def test_a_certificate_is_not_a_key(centre):
    with pytest.raises(ValueError, match="not a PEM private key"):
        SigningIdentity.from_pem(centre[1], centre[1])


def test_the_signer_is_found_among_its_chain(centre):
    key_pem, certificate_pem = centre
    _, intermediate = new_signing_identity("中间证书")

    identity = SigningIdentity.from_pem(key_pem, intermediate + certificate_pem)

    assert identity.common_name == CENTRE_NAME
    assert len(identity.chain) == 1


def test_verifying_inside_an_event_loop_is_refused_not_reported_invalid(centre, signed):
    async def verify_in_loop():
        return verify(signed, [centre[1]])

    with pytest.raises(RuntimeError, match="tpool"):
        asyncio.run(verify_in_loop())
