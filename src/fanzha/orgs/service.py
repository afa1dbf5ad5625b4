"""Reference organisations (DOMAIN.md §1) and look-ups."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from fanzha.banking.bins import bank_names
from fanzha.orgs.models import Organisation, OrgKind


@dataclass(frozen=True, slots=True)
class OrgSpec:
    code: str
    kind: OrgKind
    name_zh: str
    name_en: str
    short_code: str | None = None
    stationed: bool = False


CARRIERS = (
    OrgSpec("carrier:CMCC", OrgKind.CARRIER, "中国移动", "China Mobile", "CMCC", True),
    OrgSpec("carrier:CUCC", OrgKind.CARRIER, "中国联通", "China Unicom", "CUCC", True),
    OrgSpec("carrier:CTCC", OrgKind.CARRIER, "中国电信", "China Telecom", "CTCC", True),
    OrgSpec("carrier:CBN", OrgKind.CARRIER, "中国广电", "China Broadnet", "CBN", False),
)
# Carrier names as the phonenumbers library reports them (English carrier data) -> our short code.
CARRIER_BY_LIBRARY_NAME = {
    "China Mobile": "CMCC", "China Unicom": "CUCC", "China Telecom": "CTCC", "China Broadnet": "CBN",
}
VIRTUAL_OPERATORS = (
    OrgSpec("mvno:JD", OrgKind.VIRTUAL_OPERATOR, "京东通信", "JD Telecom", "JD"),
    OrgSpec("mvno:ALI", OrgKind.VIRTUAL_OPERATOR, "阿里通信", "Alibaba Telecom", "ALI"),
    OrgSpec("mvno:SNAIL", OrgKind.VIRTUAL_OPERATOR, "蜗牛移动", "Snail Mobile", "SNAIL"),
    OrgSpec("mvno:XIAOMI", OrgKind.VIRTUAL_OPERATOR, "小米移动", "Xiaomi Mobile", "XIAOMI"),
    OrgSpec("mvno:SUNING", OrgKind.VIRTUAL_OPERATOR, "苏宁互联", "Suning Telecom", "SUNING"),
)
HOTLINES = (
    OrgSpec("hotline:110", OrgKind.HOTLINE, "110报警平台", "110 police emergency line", "110"),
    OrgSpec("hotline:12345", OrgKind.HOTLINE, "12345市民服务热线", "12345 citizen hotline", "12345"),
    OrgSpec("hotline:web", OrgKind.HOTLINE, "网上报警平台", "Online reporting", "web"),
)
# Shanghai's district police branches, which report over the internal line.
STATIONS = tuple(
    OrgSpec(f"station:{code}", OrgKind.POLICE_STATION, f"{zh}公安分局", f"{en} police branch", code)
    for code, zh, en in (
        ("PUDONG", "浦东", "Pudong"), ("HUANGPU", "黄浦", "Huangpu"), ("JINGAN", "静安", "Jing'an"),
        ("XUHUI", "徐汇", "Xuhui"), ("CHANGNING", "长宁", "Changning"), ("PUTUO", "普陀", "Putuo"),
        ("HONGKOU", "虹口", "Hongkou"), ("YANGPU", "杨浦", "Yangpu"), ("BAOSHAN", "宝山", "Baoshan"),
        ("MINHANG", "闵行", "Minhang"), ("JIADING", "嘉定", "Jiading"), ("JINSHAN", "金山", "Jinshan"),
        ("SONGJIANG", "松江", "Songjiang"), ("QINGPU", "青浦", "Qingpu"), ("FENGXIAN", "奉贤", "Fengxian"),
        ("CHONGMING", "崇明", "Chongming"),
    )
)
CENTER = OrgSpec("center", OrgKind.CENTER, "上海市反电信网络诈骗中心", "Shanghai Anti-Telecom-Fraud Center")


def reference_orgs(stationed_banks: tuple[str, ...]) -> list[OrgSpec]:
    banks = [
        OrgSpec(f"bank:{code}", OrgKind.BANK, name, code, code, code in stationed_banks)
        for code, name in bank_names().items()
    ]
    return [CENTER, *banks, *CARRIERS, *VIRTUAL_OPERATORS, *HOTLINES, *STATIONS]


def seed_reference_orgs(session: Session, stationed_banks: tuple[str, ...]) -> int:
    """Insert missing reference organisations and refresh their names; returns how many were added."""
    existing = {org.code: org for org in session.execute(select(Organisation)).scalars()}
    added = 0
    for spec in reference_orgs(stationed_banks):
        org = existing.get(spec.code)
        if org is None:
            session.add(Organisation(
                code=spec.code, kind=spec.kind.value, name_zh=spec.name_zh, name_en=spec.name_en,
                short_code=spec.short_code, stationed=spec.stationed, active=True,
            ))
            added += 1
        else:
            org.name_zh, org.name_en, org.stationed = spec.name_zh, spec.name_en, spec.stationed
    session.flush()
    return added


def org_by_code(session: Session, code: str) -> Organisation | None:
    return session.execute(select(Organisation).where(Organisation.code == code)).scalar_one_or_none()


def list_orgs(session: Session, kind: str | None = None) -> list[Organisation]:
    query = select(Organisation).order_by(Organisation.kind, Organisation.code)
    if kind:
        query = query.where(Organisation.kind == kind)
    return list(session.execute(query).scalars())
