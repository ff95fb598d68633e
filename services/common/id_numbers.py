"""Identity document numbers: real-name verification (实名认证) and proxy pickup.

Mainland resident ID cards, and the residence permits of Hong Kong, Macao and
Taiwan residents, which use the same 18-character layout and check character
under the region codes 810000, 820000 and 830000.
"""

from __future__ import annotations

from stdnum import exceptions as stdnum_errors
from stdnum.cn import ric

from services.common.errors import Invalid

RESIDENCE_PERMITS = {
    "810000": "hong_kong_resident",
    "820000": "macao_resident",
    "830000": "taiwan_resident",
}
RESIDENT = "mainland_resident"

WHAT_IS_WRONG = {
    "invalid_id_number": "证件号码应为 18 位，前 17 位为数字。",
    "wrong_check_character": "证件号码的最后一位校验码不正确，请核对。",
    "impossible_birth_date": "证件号码中的出生日期不存在，请核对。",
    "unknown_region": "证件号码中的地区代码不存在，请核对。",
}


def _refuse(code: str) -> Invalid:
    return Invalid(code, WHAT_IS_WRONG[code])


def document_kind(id_number: str) -> str:
    """The kind of document the number belongs to, or a refusal saying what is wrong."""
    number = id_number.strip().upper()
    if len(number) != 18 or not number[:17].isdigit():
        raise _refuse("invalid_id_number")
    if number[-1] != ric.calc_check_digit(number):
        raise _refuse("wrong_check_character")
    try:
        ric.get_birth_date(number)
    except stdnum_errors.ValidationError:
        raise _refuse("impossible_birth_date") from None
    if number[:6] in RESIDENCE_PERMITS:
        return RESIDENCE_PERMITS[number[:6]]
    try:
        ric.get_birth_place(number)
    except stdnum_errors.ValidationError:
        raise _refuse("unknown_region") from None
    return RESIDENT


def normalised(id_number: str) -> str:
    return id_number.strip().upper()
