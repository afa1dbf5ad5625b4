"""The official numbers the center maintains: 110, 96110, 12381, 95xxx bank lines, police and court lines.

A number shown on a call that came in through the international gateway is spoofed if it is one of these
(`telecom/spoofing.py`); the public may also ask whether a number that called them is a real official one.

Entries are patterns of digits in which ``x`` stands for any one digit (``95xxx`` = every five-digit 95 line).
A pattern matches a displayed number as dialled (``95588``), after an area code (``021-95588``) and after
+86 (``+86 95588``). The defaults below are loaded the first time the list is read (``ensure_defaults``);
from then on the list is the center's: a supervisor adds, renames, deactivates and reactivates entries in
the console, each change audited. Entries are never deleted, so the table is empty only before first use.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final

from sqlalchemy import Boolean, String, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from fanzha.audit import service as audit
from fanzha.auth.actor import Actor
from fanzha.auth.models import Role
from fanzha.errors import Conflict, Forbidden, InvalidInput, NotFound
from fanzha.storage.base import Base
from fanzha.storage.types import UTCDateTime

PATTERN_RE: Final = re.compile(r"^[0-9][0-9x]{2,11}$")
# Chinese area codes: 10 and 2x are two digits, every other one three (0571, 0755...): never ambiguous.
AREA_CODE_RE: Final = r"(?:10|2[0-9]|[3-9][0-9]{2})"


class OfficialKind(StrEnum):
    POLICE_EMERGENCY = "police_emergency"
    ANTI_FRAUD = "anti_fraud"
    POLICE = "police"
    COURT = "court"
    PROCURATORATE = "procuratorate"
    GOVERNMENT = "government"
    EMERGENCY = "emergency"
    REGULATOR = "regulator"
    BANK = "bank"
    CARRIER = "carrier"
    OTHER = "other"


class OfficialNumber(Base):
    """One official number or pattern; ``active`` = false keeps the row (and its history) but stops matching."""

    __tablename__ = "official_numbers"

    id: Mapped[int] = mapped_column(primary_key=True)
    pattern: Mapped[str] = mapped_column(String(16), unique=True)
    kind: Mapped[str] = mapped_column(String(24))
    name_zh: Mapped[str] = mapped_column(String(128))
    name_en: Mapped[str] = mapped_column(String(128))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_by: Mapped[str] = mapped_column(String(64))


# (pattern, kind, 中文, English). Bank lines are the banks' national customer-service numbers.
K = OfficialKind
DEFAULTS: Final[tuple[tuple[str, OfficialKind, str, str], ...]] = (
    ("110", K.POLICE_EMERGENCY, "公安报警电话", "Police emergency"),
    ("96110", K.ANTI_FRAUD, "反诈预警劝阻专线", "Anti-fraud warning and dissuasion line"),
    ("12381", K.ANTI_FRAUD, "工信部涉诈预警劝阻短信", "MIIT fraud-warning SMS line"),
    ("12110", K.POLICE, "公安短信报警", "Police SMS alarm"),
    ("12389", K.POLICE, "公安机关举报投诉电话", "Police complaints line"),
    ("122", K.POLICE, "交通事故报警", "Traffic accident police"),
    ("12368", K.COURT, "法院诉讼服务热线", "Court litigation service line"),
    ("12309", K.PROCURATORATE, "检察服务热线", "Procuratorate service line"),
    ("12345", K.GOVERNMENT, "政务服务便民热线", "Government service hotline"),
    ("119", K.EMERGENCY, "火警", "Fire"),
    ("120", K.EMERGENCY, "医疗急救", "Ambulance"),
    ("12315", K.REGULATOR, "市场监管投诉举报", "Market regulation complaints"),
    ("12321", K.REGULATOR, "网络不良与垃圾信息举报", "Spam and harmful content reports"),
    ("12363", K.REGULATOR, "中国人民银行金融消费权益保护", "PBOC financial consumer protection"),
    ("12378", K.REGULATOR, "银行保险消费者投诉", "Banking and insurance consumer complaints"),
    ("12366", K.GOVERNMENT, "税务服务热线", "Tax service line"),
    ("12333", K.GOVERNMENT, "人力资源和社会保障服务热线", "Social security service line"),
    ("10086", K.CARRIER, "中国移动客服", "China Mobile customer service"),
    ("10010", K.CARRIER, "中国联通客服", "China Unicom customer service"),
    ("10000", K.CARRIER, "中国电信客服", "China Telecom customer service"),
    ("10099", K.CARRIER, "中国广电客服", "China Broadnet customer service"),
    ("95588", K.BANK, "中国工商银行", "ICBC"),
    ("95599", K.BANK, "中国农业银行", "Agricultural Bank of China"),
    ("95566", K.BANK, "中国银行", "Bank of China"),
    ("95533", K.BANK, "中国建设银行", "China Construction Bank"),
    ("95559", K.BANK, "交通银行", "Bank of Communications"),
    ("95555", K.BANK, "招商银行", "China Merchants Bank"),
    ("95580", K.BANK, "中国邮政储蓄银行", "Postal Savings Bank of China"),
    ("95528", K.BANK, "浦发银行", "SPD Bank"),
    ("95561", K.BANK, "兴业银行", "Industrial Bank"),
    ("95558", K.BANK, "中信银行", "China CITIC Bank"),
    ("95568", K.BANK, "中国民生银行", "China Minsheng Bank"),
    ("95595", K.BANK, "中国光大银行", "China Everbright Bank"),
    ("95577", K.BANK, "华夏银行", "Hua Xia Bank"),
    ("95508", K.BANK, "广发银行", "China Guangfa Bank"),
    ("95511", K.BANK, "平安银行", "Ping An Bank"),
    ("95594", K.BANK, "上海银行", "Bank of Shanghai"),
    ("95516", K.BANK, "中国银联", "China UnionPay"),
    ("95xxx", K.OTHER, "95开头的全国统一服务号码", "95xxx national service line"),
)


# ---- the list as the spoofing rules use it (pure, no database) ------------------------------------------------

@dataclass(frozen=True, slots=True)
class OfficialEntry:
    pattern: str
    kind: str
    name_zh: str
    name_en: str

    @property
    def wildcard(self) -> bool:
        return "x" in self.pattern

    def regex(self) -> str:
        return self.pattern.replace("x", "[0-9]")


class OfficialList:
    """Active entries, with one regular expression matching any of them (used by polars and by ``re``)."""

    def __init__(self, entries: tuple[OfficialEntry, ...] | list[OfficialEntry]) -> None:
        self.entries = tuple(entries)
        self._exact = {e.pattern: e for e in self.entries if not e.wildcard}
        self._wild = [(re.compile(f"^{e.regex()}$"), e) for e in self.entries if e.wildcard]
        # Longest first, so a regex engine that stops at the first alternative that fits still agrees.
        alternatives = sorted({e.regex() for e in self.entries}, key=lambda r: (-len(r), r))
        # An empty list matches nothing ("[^\s\S]" has no match in either engine).
        self.alternation = "|".join(alternatives) if alternatives else "[^\\s\\S]"

    @classmethod
    def defaults(cls) -> OfficialList:
        return cls([OfficialEntry(p, k.value, zh, en) for p, k, zh, en in DEFAULTS])

    def __len__(self) -> int:
        return len(self.entries)

    def resolve(self, core: str) -> OfficialEntry | None:
        """The entry a bare number (no area code, no +86) is: an exact entry before a wildcard one."""
        exact = self._exact.get(core)
        if exact is not None:
            return exact
        for regex, entry in self._wild:
            if regex.match(core):
                return entry
        return None

    def official_regex(self) -> str:
        """Matches a number in domestic form (``domestic_form``) that shows an official one; group 1 is the entry.

        Bare (``95588``), or after the trunk 0 and an area code (``02195588``). An entry stored with its own
        area code (a police station, ``02124021110``) matches as it is. Applied to a bare national number too
        when it was shown after +86 (``match``).
        """
        return f"^(?:0{AREA_CODE_RE})?({self.alternation})$"

    def match(self, national: str, cn: bool) -> OfficialEntry | None:
        """The entry a split number shows: in domestic form, or (after +86) as given (+86 110 is 110)."""
        regex = self.official_regex()
        found = re.match(regex, domestic_form(national, cn)) or (re.match(regex, national) if cn else None)
        return self.resolve(found.group(1)) if found else None

    def lookup(self, number: str) -> OfficialEntry | None:
        """The entry a number as shown matches, or None (a foreign number never does)."""
        split = split_number(number)
        return self.match(*split) if split is not None else None


SEPARATORS_RE: Final = r"[ \t\-().]"


def split_number(number: str) -> tuple[str, bool] | None:
    """(national digits, shown with +86) for a domestic-looking number; None for a foreign or non-number.

    Separators (spaces, dashes, brackets, dots) are dropped and a 00 prefix read as +.
    """
    text = re.sub(SEPARATORS_RE, "", number)
    if text.startswith("00"):
        text = "+" + text[2:]
    cn = text.startswith("+86")
    if cn:
        text = text[3:]
    elif text.startswith("+"):
        return None
    if not re.fullmatch(r"[0-9]+", text):
        return None
    return text, cn


def domestic_form(national: str, cn: bool) -> str:
    """The number as dialled inside China: after +86 the trunk 0 comes back (+86 21 96110 -> 02196110)."""
    return "0" + national if cn and not national.startswith("0") else national


# ---- the stored list ----------------------------------------------------------------------------------------

def _now() -> datetime:
    return datetime.now(UTC)


def ensure_defaults(session: Session, now: datetime | None = None) -> int:
    """Load the default list if the table has never held one; returns how many rows were added.

    Several servers may do this at once: the insert skips patterns another one has just added.
    """
    if session.execute(select(OfficialNumber.id).limit(1)).first() is not None:
        return 0
    when = now or _now()
    rows = [{"pattern": p, "kind": k.value, "name_zh": zh, "name_en": en, "active": True, "created_at": when,
             "updated_at": when, "updated_by": "system"} for p, k, zh, en in DEFAULTS]
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (insert(OfficialNumber).values(rows).on_conflict_do_nothing(index_elements=["pattern"])
                 .returning(OfficialNumber.id))
    added = len(session.execute(statement).all())
    if added:
        audit.append(session, None, "official.defaults_loaded", "official_number", "*", {"count": added})
    return added


def active_list(session: Session) -> OfficialList:
    ensure_defaults(session)
    rows = session.execute(
        select(OfficialNumber).where(OfficialNumber.active.is_(True)).order_by(OfficialNumber.pattern)
    ).scalars()
    return OfficialList([OfficialEntry(r.pattern, r.kind, r.name_zh, r.name_en) for r in rows])


def all_entries(session: Session) -> list[OfficialNumber]:
    ensure_defaults(session)
    return list(session.execute(
        select(OfficialNumber).order_by(OfficialNumber.active.desc(), OfficialNumber.kind, OfficialNumber.pattern)
    ).scalars())


def view(entry: OfficialNumber) -> dict[str, Any]:
    return {"id": entry.id, "pattern": entry.pattern, "kind": entry.kind, "name_zh": entry.name_zh,
            "name_en": entry.name_en, "active": entry.active, "updated_at": entry.updated_at.isoformat(),
            "updated_by": entry.updated_by}


def check_pattern(value: str) -> str:
    """A pattern as stored: digits, ``x`` for any digit, separators dropped; InvalidInput says what is wrong."""
    text = re.sub(r"[ \t\-]", "", value).lower()
    if not PATTERN_RE.match(text):
        raise InvalidInput(f"{value!r} is not an official number: 3-12 digits, 'x' for any one digit "
                           "(e.g. 96110, 95588, 95xxx), starting with a digit", field="pattern")
    return text


def check_kind(value: str) -> str:
    try:
        return OfficialKind(value).value
    except ValueError:
        known = ", ".join(k.value for k in OfficialKind)
        raise InvalidInput(f"unknown kind {value!r} (known: {known})", field="kind") from None


def _check_name(value: str, field: str) -> str:
    text = value.strip()
    if not 1 <= len(text) <= 128 or any(ord(ch) < 0x20 for ch in text):
        raise InvalidInput("a name is 1-128 printable characters", field=field)
    return text


def _require_supervisor(actor: Actor) -> None:
    if actor.role is not Role.SUPERVISOR:
        raise Forbidden("only a supervisor changes the official-numbers list")


def add(session: Session, actor: Actor, *, pattern: str, kind: str, name_zh: str, name_en: str,
        now: datetime | None = None) -> OfficialNumber:
    _require_supervisor(actor)
    ensure_defaults(session)
    when = now or _now()
    entry = OfficialNumber(pattern=check_pattern(pattern), kind=check_kind(kind),
                           name_zh=_check_name(name_zh, "name_zh"), name_en=_check_name(name_en, "name_en"),
                           active=True, created_at=when, updated_at=when, updated_by=actor.username)
    existing = session.execute(select(OfficialNumber).where(OfficialNumber.pattern == entry.pattern)).scalar()
    if existing is not None:
        state = "active" if existing.active else "inactive (reactivate it instead)"
        raise Conflict(f"{entry.pattern} is already on the list, {state}", field="pattern")
    session.add(entry)
    session.flush()
    audit.append(session, actor, "official.added", "official_number", entry.pattern,
                 {"id": entry.id, "kind": entry.kind, "name_zh": entry.name_zh, "name_en": entry.name_en}, at=when)
    return entry


def update(session: Session, actor: Actor, entry_id: int, *, kind: str | None = None, name_zh: str | None = None,
           name_en: str | None = None, active: bool | None = None, now: datetime | None = None) -> OfficialNumber:
    """Rename, re-kind, deactivate or reactivate one entry; the audit entry records before and after."""
    _require_supervisor(actor)
    entry = session.get(OfficialNumber, entry_id, with_for_update=True)
    if entry is None:
        raise NotFound(f"no official number {entry_id}")
    before = view(entry)
    if kind is not None:
        entry.kind = check_kind(kind)
    if name_zh is not None:
        entry.name_zh = _check_name(name_zh, "name_zh")
    if name_en is not None:
        entry.name_en = _check_name(name_en, "name_en")
    if active is not None:
        entry.active = active
    after = view(entry)
    changed = {k: [before[k], after[k]] for k in ("kind", "name_zh", "name_en", "active") if before[k] != after[k]}
    if not changed:
        return entry
    entry.updated_at, entry.updated_by = now or _now(), actor.username
    action = ("official.deactivated" if changed.get("active") == [True, False]
              else "official.reactivated" if changed.get("active") == [False, True] else "official.updated")
    audit.append(session, actor, action, "official_number", entry.pattern, {"id": entry.id, "changed": changed})
    return entry


def count_active(session: Session) -> int:
    return int(session.execute(select(func.count()).where(OfficialNumber.active.is_(True))).scalar_one())
