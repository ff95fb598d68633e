from datetime import date

import pytest

from services.certificates.catalogue import (
    QUALIFICATIONS,
    Kind,
    UnknownQualification,
    qualification,
)
from services.certificates.domain import (
    Certificate,
    certificate_id,
    custody_ends,
    custody_has_expired,
)
from services.common.eventstore import ServiceApplication

GUIDE_QUALIFICATIONS = {
    "经济专业技术资格",
    "勘察设计注册工程师",
    "出版专业技术人员职业资格",
    "翻译专业资格",
    "监理工程师",
    "执业药师",
    "注册建筑师",
    "注册安全工程师",
    "建造师",
    "环境影响评价工程师",
    "设备监理师",
    "社会工作者职业资格",
    "注册消防工程师",
    "注册城乡规划师",
    "造价工程师",
    "注册计量师",
    "注册测绘师",
    "新闻记者职业资格",
    "统计专业技术资格",
    "审计专业技术资格",
    "护士执业资格",
    "卫生专业技术资格",
}


class InMemoryCertificates(ServiceApplication):
    name = "CertificatesInMemory"


def registered(
    code: str = "economist",
    level: str = "中级",
    exam_end_date: date = date(2025, 11, 9),
    number: str = "2025-eco-000001",
) -> Certificate:
    return Certificate.register(
        certificate_number=number,
        holder_id_number="650102199308052190",
        holder_name="古丽",
        qualification=qualification(code),
        level=level,
        specialty=None,
        exam_session_id="2025-eco",
        exam_end_date=exam_end_date,
        registration_place="xinjiang",
    )


def test_the_catalogue_holds_the_22_qualifications_of_the_guide():
    names = {q.name for q in QUALIFICATIONS.values()}

    assert len(QUALIFICATIONS) == 22
    assert names == GUIDE_QUALIFICATIONS


@pytest.mark.parametrize(
    ("code", "level", "kind"),
    [
        ("constructor", "二级", Kind.REGIONAL_INDUSTRY),
        ("constructor", "一级", Kind.NATIONAL_PAPER),
        ("cost_engineer", "二级", Kind.REGIONAL_INDUSTRY),
        ("cost_engineer", "一级", Kind.NATIONAL_PAPER),
        ("fire_engineer", "二级", Kind.REGIONAL_INDUSTRY),
        ("nurse", "初级", Kind.REGIONAL_HEALTH),
        ("health_professional", "中级", Kind.REGIONAL_HEALTH),
        ("economist", "二级", Kind.NATIONAL_PAPER),
    ],
)
def test_the_level_decides_the_kind_where_the_guide_says_so(code, level, kind):
    found = qualification(code).kind_for(level)

    assert found is kind


def test_an_unknown_qualification_code_is_named_in_the_error():
    with pytest.raises(UnknownQualification) as caught:
        qualification("astronaut")

    assert caught.value.code == "astronaut"


def test_custody_ends_five_years_after_the_exam_end_date():
    ends = custody_ends(date(2025, 11, 9))

    assert ends == date(2030, 11, 9)


def test_custody_from_29_february_ends_on_28_february():
    ends = custody_ends(date(2024, 2, 29))

    assert ends == date(2029, 2, 28)


def test_custody_has_not_expired_on_its_last_day():
    expired = custody_has_expired(date(2030, 11, 9), today=date(2030, 11, 9))

    assert expired is False


def test_custody_has_expired_the_day_after_its_last_day():
    expired = custody_has_expired(date(2030, 11, 9), today=date(2030, 11, 10))

    assert expired is True


def test_a_certificate_without_custody_never_expires():
    expired = custody_has_expired(None, today=date(2099, 1, 1))

    assert expired is False


def test_a_certificate_number_always_gives_the_same_id():
    first = certificate_id("2025-eco-000001")

    assert certificate_id("2025-eco-000001") == first
    assert certificate_id("2025-eco-000002") != first


def test_a_registered_certificate_is_identified_by_its_number():
    certificate = registered(number="2025-eco-000042")

    assert certificate.id == certificate_id("2025-eco-000042")


def test_a_paper_certificate_is_kept_in_custody():
    certificate = registered("constructor", "一级")

    assert certificate.kind == "national_paper"
    assert certificate.custody_until == date(2030, 11, 9)


@pytest.mark.parametrize(
    ("code", "level"), [("constructor", "二级"), ("nurse", "初级")]
)
def test_an_electronic_certificate_has_no_custody(code, level):
    certificate = registered(code, level)

    assert certificate.kind != "national_paper"
    assert certificate.custody_until is None


def test_replaying_the_registered_event_rebuilds_the_certificate():
    original = registered(exam_end_date=date(2024, 2, 29))
    (event,) = original.collect_events()

    replayed = event.mutate(None)

    assert isinstance(event, Certificate.Registered)
    assert vars(replayed) == vars(original)


def test_a_stored_certificate_reloads_with_its_dates_intact():
    app = InMemoryCertificates(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    original = registered(exam_end_date=date(2024, 2, 29))
    app.save(original)

    reloaded = app.repository.get(original.id)

    assert reloaded.exam_end_date == date(2024, 2, 29)
    assert type(reloaded.exam_end_date) is date
    assert reloaded.custody_until == date(2029, 2, 28)
    assert reloaded.holder_name == "古丽"
    assert reloaded.version == 1
