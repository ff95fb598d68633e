"""Whether a holder may apply to reissue a certificate, decided before any upload.

The rules come from the centre's service guide: a certificate with an electronic
certificate gets no paper reissue; XPCC candidates are served by the XPCC; a
certificate the centre still keeps is claimed, not reissued; "unclaimed beyond
the custody period" needs the custody period to have ended.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from services.common.errors import Conflict, Forbidden, Invalid, NotFound
from services.reissue.domain import Reason

# Where the centre still holds the paper certificate: the holder claims it instead.
STILL_HELD = frozenset({"in_custody", "booked", "mail_requested"})
# Where the holder has (or is being sent) the certificate: it was not left unclaimed.
CLAIMED = frozenset({"collected", "shipped", "delivered"})


def check_reason(reason: Any) -> str:
    if reason not in Reason.ALL:
        raise Invalid(
            "invalid_reason",
            "补办原因应为 lost（遗失）、damaged（损毁）或 "
            "custody_expired（超过保管期未领取）。",
        )
    return reason


def check_eligible(
    certificate: dict[str, Any] | None,
    holder_id_number: str,
    reason: str,
    today: date,
) -> dict[str, Any]:
    """The certificate row when the holder may apply; otherwise a refusal."""
    if certificate is None or certificate["holder_id_number"] != holder_id_number:
        # Someone else's certificate is answered as if it did not exist.
        raise NotFound(
            "certificate_not_found",
            "您名下没有这个编号的证书，请核对证书编号。",
        )
    if certificate.get("revoked"):
        raise Conflict(
            "certificate_revoked",
            "这本证书已注销，不能补办。如有疑问请咨询中心。",
        )
    if certificate["registration_place"] == "xpcc":
        raise Forbidden(
            "served_by_xpcc",
            "您的考试报名地为新疆生产建设兵团，证书补办由兵团人事考试机构办理，"
            "请联系兵团人事考试机构。",
        )
    if certificate["ecert_issued"]:
        raise Conflict(
            "ecertificate_issued",
            "这本证书已制发电子证书，不再补发纸质证书。"
            f"请下载电子证书：/v1/me/certificates/{certificate['certificate_number']}"
            "/ecert",
        )
    _check_custody(certificate, reason, today)
    return certificate


def _check_custody(certificate: dict[str, Any], reason: str, today: date) -> None:
    national = certificate["kind"] == "national_paper"
    custody_until = certificate["custody_until"]
    if reason == Reason.CUSTODY_EXPIRED:
        if not national:
            raise Invalid(
                "not_kept_by_centre",
                "电子证书不由中心保管，请选择遗失或损毁作为补办原因。",
            )
        if certificate.get("custody_state") in CLAIMED:
            raise Conflict(
                "already_claimed",
                "这本证书已经领取或寄出，不属于超期未领取；遗失或损毁的请选择相应原因。",
            )
        if custody_until is not None and today <= custody_until:
            raise Conflict(
                "custody_not_expired",
                f"证书由中心保管至 {custody_until.isoformat()}，保管期内请直接"
                "预约领取或申请邮寄。",
            )
        return
    # Custody ends by the calendar, before distribution's sweep records it.
    custody_over = custody_until is not None and today > custody_until
    if national and certificate.get("custody_state") in STILL_HELD and not custody_over:
        raise Conflict(
            "still_in_custody",
            "这本证书仍由中心保管，无需补办，请直接预约领取或申请邮寄。",
        )
