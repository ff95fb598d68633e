"""The 22 qualifications the centre serves, and which kind of certificate each gives.

Most qualifications give a national paper certificate at every level. A few give
a regional electronic certificate instead: 二级建造师, 二级造价师 and 二级消防工程师 are
signed by their industry authority and then the centre; 卫生专业技术资格 and
护士执业资格 are signed by the health commission.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Kind(StrEnum):
    NATIONAL_PAPER = "national_paper"
    REGIONAL_INDUSTRY = "regional_industry"
    REGIONAL_HEALTH = "regional_health"


@dataclass(frozen=True)
class Qualification:
    code: str
    name: str
    kind: Kind = Kind.NATIONAL_PAPER
    # Levels whose certificate differs from `kind` (for example 二级 of 建造师).
    kind_by_level: dict[str, Kind] = field(default_factory=dict)

    def kind_for(self, level: str) -> Kind:
        return self.kind_by_level.get(level, self.kind)


_REGIONAL_SECOND_LEVEL = {"二级": Kind.REGIONAL_INDUSTRY}

QUALIFICATIONS: dict[str, Qualification] = {
    q.code: q
    for q in (
        Qualification("economist", "经济专业技术资格"),
        Qualification("survey_design_engineer", "勘察设计注册工程师"),
        Qualification("publishing", "出版专业技术人员职业资格"),
        Qualification("translator", "翻译专业资格"),
        Qualification("supervising_engineer", "监理工程师"),
        Qualification("licensed_pharmacist", "执业药师"),
        Qualification("registered_architect", "注册建筑师"),
        Qualification("safety_engineer", "注册安全工程师"),
        Qualification("constructor", "建造师", kind_by_level=_REGIONAL_SECOND_LEVEL),
        Qualification("environmental_assessment", "环境影响评价工程师"),
        Qualification("equipment_supervisor", "设备监理师"),
        Qualification("social_worker", "社会工作者职业资格"),
        Qualification(
            "fire_engineer", "注册消防工程师", kind_by_level=_REGIONAL_SECOND_LEVEL
        ),
        Qualification("urban_planner", "注册城乡规划师"),
        Qualification(
            "cost_engineer", "造价工程师", kind_by_level=_REGIONAL_SECOND_LEVEL
        ),
        Qualification("metrologist", "注册计量师"),
        Qualification("surveyor", "注册测绘师"),
        Qualification("journalist", "新闻记者职业资格"),
        Qualification("statistician", "统计专业技术资格"),
        Qualification("auditor", "审计专业技术资格"),
        Qualification("nurse", "护士执业资格", kind=Kind.REGIONAL_HEALTH),
        Qualification(
            "health_professional", "卫生专业技术资格", kind=Kind.REGIONAL_HEALTH
        ),
    )
}


class UnknownQualification(LookupError):
    def __init__(self, code: str) -> None:
        super().__init__(f"qualification {code!r} is not in the catalogue")
        self.code = code


def qualification(code: str) -> Qualification:
    try:
        return QUALIFICATIONS[code]
    except KeyError:
        raise UnknownQualification(code) from None
