"""Regional electronic certificates (自治区级电子证书): the PDF a holder downloads.

The download is the centre's rendering of one certificate record: the holder's
fields, who signed the certificate and when, whether it is a reissue (补发), and a QR
code leading to the public verification page. The centre signs the file with a PAdES
signature over the whole document, so any PDF reader shows who vouches for it and any
change made after the centre signed breaks the signature. `verify` answers the same
question for a file handed back to us, with only the trust roots it is given: no
OCSP, CRL or timestamp server is ever contacted.

Signing and verifying are CPU bound, and pyhanko runs each of them inside its own
`asyncio.run`. Under eventlet every green thread shares one OS thread, so a second
green thread signing while the first is inside that loop would fail deep in pyhanko;
call `sign` and `verify` through `eventlet.tpool.execute`, which also keeps the hub
free. Both refuse, with a clear RuntimeError, to run where an event loop is running.
"""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import qrcode
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from PIL import Image
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.status import PdfSignatureStatus, SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore
from reportlab.lib.colors import black, red
from reportlab.lib.pagesizes import A4
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen.canvas import Canvas

from services.certificates.catalogue import Kind
from services.common.workdays import BEIJING

CENTRE = "新疆维吾尔自治区人事考试中心"
INDUSTRY_AUTHORITY = "行业主管部门"
HEALTH_COMMISSION = "新疆维吾尔自治区卫生健康委员会"
TITLE = "专业技术人员资格证书（电子证书）"
SIGNATURE_FIELD = "CentreSignature"
DEFAULT_REASON = "新疆维吾尔自治区人事考试中心签发电子证书"

# Adobe's built-in Chinese font: every PDF reader has it, so nothing is embedded.
# Registering it again is harmless, which keeps the import idempotent.
FONT = "STSong-Light"
pdfmetrics.registerFont(UnicodeCIDFont(FONT))

ELECTRONIC_KINDS = (Kind.REGIONAL_INDUSTRY, Kind.REGIONAL_HEALTH)


@dataclass(frozen=True)
class ElectronicCertificate:
    certificate_number: str
    holder_name: str
    holder_id_number: str
    qualification_name: str
    level: str
    specialty: str | None
    exam_end_date: date
    kind: str
    # The industry authority's signature, or the health commission's.
    authority_signed_at: datetime
    # The centre countersigns industry certificates only.
    centre_signed_at: datetime | None
    reissued: bool
    verification_url: str

    def __post_init__(self) -> None:
        if self.kind not in ELECTRONIC_KINDS:
            raise ValueError(f"{self.kind!r} is not an electronic certificate kind")
        for moment in (self.authority_signed_at, self.centre_signed_at):
            if moment is not None and moment.utcoffset() is None:
                raise ValueError("signature times must carry a time zone")
        if self.kind == Kind.REGIONAL_HEALTH and self.centre_signed_at is not None:
            raise ValueError("the centre does not sign health certificates")
        if self.kind == Kind.REGIONAL_INDUSTRY:
            if self.centre_signed_at is None:
                raise ValueError("an industry certificate needs the centre's signature")
            if self.centre_signed_at < self.authority_signed_at:
                raise ValueError("the centre signs after the industry authority")

    @property
    def authority(self) -> str:
        if self.kind == Kind.REGIONAL_HEALTH:
            return HEALTH_COMMISSION
        return INDUSTRY_AUTHORITY

    def signatures(self) -> list[tuple[str, datetime]]:
        """Who signed the certificate and when, in signing order."""
        signed = [(self.authority, self.authority_signed_at)]
        if self.centre_signed_at is not None:
            signed.append((CENTRE, self.centre_signed_at))
        return signed


PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN = 72
LABEL_X = MARGIN + 20
VALUE_X = LABEL_X + 110
QR_SIZE = 110


def render(certificate: ElectronicCertificate) -> bytes:
    """The certificate as a one-page A4 PDF, the same bytes for the same record."""
    buffer = io.BytesIO()
    # invariant: fixed creation date and document ID, so a record renders to the
    # same bytes every time and a re-download differs only in its signature.
    canvas = Canvas(buffer, pagesize=A4, invariant=1)
    canvas.setTitle(TITLE)
    canvas.setAuthor(CENTRE)
    canvas.setSubject(certificate.certificate_number)
    canvas.setCreator("xjcert")
    canvas.setProducer("xjcert")

    y = _draw_heading(canvas, certificate)
    y = _draw_fields(canvas, certificate, y - 40)
    y = _draw_signatures(canvas, certificate, y - 30)
    _draw_verification(canvas, certificate, y - 40)

    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def _draw_heading(canvas: Canvas, certificate: ElectronicCertificate) -> float:
    canvas.setStrokeColor(black)
    canvas.setLineWidth(1.5)
    inset = MARGIN - 24
    canvas.rect(inset, inset, PAGE_WIDTH - 2 * inset, PAGE_HEIGHT - 2 * inset)
    y = PAGE_HEIGHT - MARGIN - 40
    canvas.setFont(FONT, 22)
    canvas.drawCentredString(PAGE_WIDTH / 2, y, TITLE)
    if certificate.reissued:
        y -= 30
        canvas.setFont(FONT, 14)
        canvas.drawCentredString(PAGE_WIDTH / 2, y, "（补发）")
        _draw_reissue_stamp(canvas)
    return y


def _draw_reissue_stamp(canvas: Canvas) -> None:
    """A boxed 补发 in the top corner, so a reissue is plain at a glance."""
    width, height = 64, 30
    x = PAGE_WIDTH - MARGIN - width
    y = PAGE_HEIGHT - MARGIN - 10
    canvas.saveState()
    canvas.setStrokeColor(red)
    canvas.setFillColor(red)
    canvas.setLineWidth(2)
    canvas.rect(x, y, width, height)
    canvas.setFont(FONT, 18)
    canvas.drawCentredString(x + width / 2, y + 9, "补发")
    canvas.restoreState()


def _field_rows(certificate: ElectronicCertificate) -> list[tuple[str, str]]:
    rows = [
        ("证书编号", certificate.certificate_number),
        ("姓名", certificate.holder_name),
        ("身份证件号码", certificate.holder_id_number),
        ("资格名称", certificate.qualification_name),
        ("级别", certificate.level),
    ]
    if certificate.specialty:
        rows.append(("专业", certificate.specialty))
    rows.append(("考试结束日期", _chinese_date(certificate.exam_end_date)))
    return rows


def _draw_fields(canvas: Canvas, certificate: ElectronicCertificate, y: float) -> float:
    for label, value in _field_rows(certificate):
        canvas.setFont(FONT, 13)
        canvas.drawString(LABEL_X, y, f"{label}：")
        canvas.drawString(VALUE_X, y, _printable(value))
        y -= 30
    return y


def _draw_signatures(
    canvas: Canvas, certificate: ElectronicCertificate, y: float
) -> float:
    canvas.setFont(FONT, 12)
    canvas.drawString(LABEL_X, y, "签发：")
    for signer, signed_at in certificate.signatures():
        y -= 24
        canvas.drawString(VALUE_X, y, signer)
        y -= 18
        canvas.drawString(VALUE_X, y, f"签发时间：{_beijing_time(signed_at)}")
    return y


def _draw_verification(
    canvas: Canvas, certificate: ElectronicCertificate, y: float
) -> None:
    qr_y = max(y - QR_SIZE, MARGIN)
    canvas.drawImage(
        ImageReader(_qr_image(certificate.verification_url)),
        LABEL_X,
        qr_y,
        width=QR_SIZE,
        height=QR_SIZE,
    )
    text_x = LABEL_X + QR_SIZE + 16
    text_width = PAGE_WIDTH - MARGIN - text_x
    line_y = qr_y + QR_SIZE - 16
    canvas.setFont(FONT, 11)
    canvas.drawString(text_x, line_y, "扫描二维码或访问以下网址核验本证书：")
    canvas.setFont(FONT, 9)
    for line in _split_to_width(certificate.verification_url, 9, text_width):
        line_y -= 14
        canvas.drawString(text_x, line_y, line)
    canvas.setFont(FONT, 11)
    canvas.drawString(text_x, line_y - 24, f"本文件由{CENTRE}数字签名，")
    canvas.drawString(text_x, line_y - 40, "签名后任何改动都会使签名失效。")


def _qr_image(url: str) -> Image.Image:
    qr = qrcode.QRCode(
        error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=8, border=2
    )
    qr.add_data(url)
    qr.make(fit=True)
    # Plain 8-bit grey: reportlab embeds it as is, without dithering.
    return qr.make_image().get_image().convert("L")


def _split_to_width(text: str, size: float, width: float) -> list[str]:
    """Break by character: a URL has no spaces to break at."""
    lines, line = [], ""
    for char in text:
        if line and pdfmetrics.stringWidth(line + char, FONT, size) > width:
            lines.append(line)
            line = ""
        line += char
    return [*lines, line] if line else lines


# Names of Uyghur, Kazakh and other holders separate their parts with U+00B7 (as in
# 阿依古丽·买买提), which the font's Unicode map leaves out, so it would print as a
# gap; U+30FB is the same GB 2312 middle dot under the code point the map knows.
PRINTABLE = str.maketrans({"\u00b7": "\u30fb"})


def _printable(text: str) -> str:
    return text.translate(PRINTABLE)


def _chinese_date(day: date) -> str:
    return f"{day.year}年{day.month:02d}月{day.day:02d}日"


def _beijing_time(moment: datetime) -> str:
    local = moment.astimezone(BEIJING)
    return f"{_chinese_date(local.date())} {local:%H:%M}（北京时间）"


@dataclass(frozen=True)
class SigningIdentity:
    """A private key and the certificate that names it, with any intermediates."""

    private_key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey = field(repr=False)
    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...] = ()

    @classmethod
    def from_pem(cls, key_pem: bytes, certificate_pem: bytes) -> SigningIdentity:
        """Load an unencrypted PEM key and its certificate.

        `certificate_pem` may carry intermediates too; the certificate whose public
        key matches the private key is the signer's, and the others ride along in
        every signature so a verifier can build the path to its trust root.
        """
        key = _load_private_key(key_pem)
        certificates = _load_certificates(certificate_pem, "certificate_pem")
        own_public_key = _public_key_der(key)
        signer = next(
            (c for c in certificates if _public_key_der(c) == own_public_key), None
        )
        if signer is None:
            raise ValueError(
                "no certificate in certificate_pem matches the private key"
            )
        _require_non_repudiation(signer)
        chain = tuple(c for c in certificates if c is not signer)
        return cls(private_key=key, certificate=signer, chain=chain)

    @property
    def common_name(self) -> str | None:
        return _common_name(self.certificate.subject)


def _load_private_key(key_pem: bytes) -> ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey:
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except TypeError as error:
        raise ValueError("key_pem is encrypted; give the unencrypted key") from error
    except ValueError as error:
        raise ValueError("key_pem is not a PEM private key") from error
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise ValueError("key_pem must be an EC or RSA key: readers expect those")
    return key


def _load_certificates(pem: bytes, name: str) -> list[x509.Certificate]:
    try:
        return x509.load_pem_x509_certificates(pem)
    except ValueError as error:
        raise ValueError(f"{name} is not PEM X.509 certificates") from error


def _public_key_der(holder) -> bytes:
    return holder.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _require_non_repudiation(certificate: x509.Certificate) -> None:
    # PAdES verifiers, ours included, accept a signer whose certificate allows
    # non-repudiation; failing here beats signing files nobody can verify.
    try:
        usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return
    if not usage.content_commitment:
        raise ValueError("the certificate's key usage does not allow non-repudiation")


def _common_name(name: x509.Name) -> str | None:
    attributes = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(attributes[0].value) if attributes else None


def sign(
    pdf: bytes,
    identity: SigningIdentity,
    *,
    reason: str = DEFAULT_REASON,
    location: str = "乌鲁木齐",
) -> bytes:
    """Sign `pdf` with a PAdES signature in an invisible `CentreSignature` field.

    The signature certifies the document with no changes permitted, so readers also
    flag anything appended later. The signing time is the signer's clock; no
    timestamp server is used.
    """
    _require_no_running_event_loop()
    _require_currently_valid(identity.certificate)
    signer = signers.SimpleSigner(
        signing_cert=_to_asn1_certificate(identity.certificate),
        signing_key=asn1_keys.PrivateKeyInfo.load(
            identity.private_key.private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        ),
        cert_registry=SimpleCertificateStore.from_certs(
            [_to_asn1_certificate(c) for c in identity.chain]
        ),
    )
    metadata = signers.PdfSignatureMetadata(
        field_name=SIGNATURE_FIELD,
        subfilter=fields.SigSeedSubFilter.PADES,
        md_algorithm="sha256",
        reason=reason,
        location=location,
        certify=True,
        docmdp_permissions=fields.MDPPerm.NO_CHANGES,
    )
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    output = signers.sign_pdf(writer, metadata, signer=signer, output=io.BytesIO())
    return output.getvalue()


def _require_currently_valid(certificate: x509.Certificate) -> None:
    now = datetime.now(UTC)
    if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
        raise ValueError(
            "the signing certificate is valid only from "
            f"{certificate.not_valid_before_utc:%Y-%m-%d} "
            f"to {certificate.not_valid_after_utc:%Y-%m-%d}"
        )


def _require_no_running_event_loop() -> None:
    # Checked up front so that verify never mistakes this for a bad file.
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise RuntimeError(
        "pyhanko needs a thread without a running event loop: "
        "call this through eventlet.tpool.execute"
    )


def _to_asn1_certificate(certificate: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(
        certificate.public_bytes(serialization.Encoding.DER)
    )


@dataclass(frozen=True)
class Verification:
    """What a verifier may say about a file.

    intact: every signature matches the bytes it covers.
    trusted: every signer's certificate leads to one of the given trust roots and
        allows non-repudiation.
    covers_whole_document: the newest signature covers the file to its last byte,
        so nothing was appended after signing.
    signer: the common name of the newest signer, when there is a signature.
    """

    intact: bool
    trusted: bool
    covers_whole_document: bool
    signer: str | None

    @property
    def valid(self) -> bool:
        return self.intact and self.trusted and self.covers_whole_document


NOT_VALID = Verification(
    intact=False, trusted=False, covers_whole_document=False, signer=None
)


def verify(pdf: bytes, trust_roots: list[bytes]) -> Verification:
    """Check the signatures of `pdf` against `trust_roots` (PEM certificates).

    The file is untrusted input, so whatever is wrong with it gives a Verification
    that is not valid, never an error: no signature, a modified copy, a damaged or
    truncated file, bytes that are not a PDF at all. Trust roots are our own
    configuration, and bad ones raise ValueError.
    """
    _require_no_running_event_loop()
    roots = [
        _to_asn1_certificate(c)
        for pem in trust_roots
        for c in _load_certificates(pem, "trust_roots")
    ]
    try:
        statuses = _validate_signatures(pdf, roots)
    except Exception:
        # A file pyhanko cannot read is a file nobody can vouch for.
        return NOT_VALID
    if not statuses:
        return NOT_VALID
    newest = statuses[-1]
    return Verification(
        intact=all(s.intact and s.valid for s in statuses),
        trusted=all(s.trusted for s in statuses),
        covers_whole_document=newest.coverage == SignatureCoverageLevel.ENTIRE_FILE,
        signer=_asn1_common_name(newest.signing_cert),
    )


def _validate_signatures(
    pdf: bytes, roots: list[asn1_x509.Certificate]
) -> list[PdfSignatureStatus]:
    reader = PdfFileReader(io.BytesIO(pdf))
    # Built per call and never fetching: validation stays offline and a trust list
    # never leaks from one verification into another. Passing a list (even an
    # empty one) keeps pyhanko off the operating system's trust store.
    context = ValidationContext(trust_roots=roots, allow_fetching=False)
    return [
        # The difference analysis judges what was appended after signing; the
        # newest signature must cover the whole file anyway, so it is skipped.
        validate_pdf_signature(signature, context, skip_diff=True)
        for signature in reader.embedded_regular_signatures
    ]


def _asn1_common_name(certificate: asn1_x509.Certificate) -> str | None:
    return certificate.subject.native.get("common_name")


def new_signing_identity(
    common_name: str = "新疆维吾尔自治区人事考试中心（开发）", days: int = 3650
) -> tuple[bytes, bytes]:
    """A fresh EC P-256 key and a self-signed certificate for it, both PEM.

    For development runs and tests only: nobody outside trusts a self-signed
    certificate. Production signs with the key and certificate the centre's CA
    issues.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False
        )
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return key_pem, certificate.public_bytes(serialization.Encoding.PEM)
