"""Dates and clock times in Chinese narratives, resolved against the time the report was received.

A mention is a date part ("2026年3月31日", "4月25日", "昨天", "当天"), a clock part ("上午9时许", "21:05",
"下午3点20分") or a date followed by a clock. Rules:
- a month-day without a year takes the receipt year, or the year before if that would put it more
  than a day after receipt;
- a clock without its own date takes the date of the nearest date mentioned before it in the same
  narrative ("4月25日上午9时 ... 一直到10时"), else the receipt date; with no date anywhere and a result
  more than an hour after receipt, it is taken as the day before (reports describe the past);
- 许, 左右, 多, 前后 after, or 约/大约/大概 before, mark the mention approximate;
- durations ("一个多小时", "2小时", "30分钟") are not times.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from fanzha.cases.extract.model import ExtractWarning, TimeMention
from fanzha.cases.extract.numerals import parse_number
from fanzha.cases.extract.spans import Claims

SHANGHAI = ZoneInfo("Asia/Shanghai")

_D = "[0-9０-９]"
_CN = "[〇零一二两三四五六七八九十]"
_NUM2 = rf"(?:{_D}{{1,2}}|{_CN}{{1,3}})"

_DATE_RE = re.compile(
    rf"""(?P<pre>约|大约|大概)?(?:
      (?:(?P<year>[12]{_D}{{3}})年|(?P<yrel>今年|去年|前年|明年))?(?P<mon>{_NUM2})月(?P<day>{_NUM2})[日号]
    | (?<![0-9０-９])(?P<iy>[12]{_D}{{3}})[-/](?P<im>{_D}{{1,2}})[-/](?P<id>{_D}{{1,2}})(?![0-9０-９])
    | (?P<relp>今晨|今早|今晚|昨晚|昨夜|昨早|当晚|当夜)
    | (?P<rel>大前天|前天|昨天|昨日|今天|今日|明天|当天|当日|次日|翌日|第二天)
    | (?<![0-9０-９月])(?P<donly>{_NUM2})[日号]
    )""",
    re.VERBOSE,
)

_PERIODS = "凌晨|清晨|早晨|早上|上午|中午|午后|下午|傍晚|晚上|晚间|夜里|夜间|深夜|半夜|午夜"
_CLOCK_RE = re.compile(
    rf"""(?P<pre>约|大约|大概)?(?:(?P<period>{_PERIODS})\s*)?(?:
      (?<![0-9０-９:：.])(?P<hh>[01]?{_D}|2[0-3])[:：](?P<mm>[0-5]{_D})(?:[:：](?P<ss>[0-5]{_D}))?(?![0-9０-９:：])
    | (?<![0-9０-９.第])(?P<h>{_D}{{1,2}}|{_CN}{{1,3}})\s*(?:时(?![间辰代期段候刻])|点钟|点|點)
      (?:(?P<m>{_D}{{1,2}}|{_CN}{{1,3}})分(?!钟)|(?P<half>半)|(?P<quarter>一刻|三刻)
         |(?P<m2>[0-5]{_D})(?![0-9０-９分万元块%]))?
      (?:钟)?
    )(?P<post>许|左右|多|前后|整)?""",
    re.VERBOSE,
)

# Between a date and its clock only blanks, 的 or a weekday in brackets may stand.
_JOIN_RE = re.compile(r"\s*(?:的)?\s*(?:[(（](?:周|星期)[一二三四五六日天][)）])?\s*")

_REL_DAYS = {"大前天": -3, "前天": -2, "昨天": -1, "昨日": -1, "今天": 0, "今日": 0, "明天": 1}
_REL_CONTEXT = {"当天": 0, "当日": 0, "次日": 1, "翌日": 1, "第二天": 1}
_YEAR_REL = {"今年": 0, "去年": -1, "前年": -2, "明年": 1}
_RELP: dict[str, tuple[int | None, str]] = {  # day offset (None: the context date) and implied period
    "今晨": (0, "早上"), "今早": (0, "早上"), "今晚": (0, "晚上"), "昨晚": (-1, "晚上"),
    "昨夜": (-1, "晚上"), "昨早": (-1, "早上"), "当晚": (None, "晚上"), "当夜": (None, "晚上"),
}
_APPROX_POST = {"许", "左右", "多", "前后"}
_ASCII = str.maketrans("０１２３４５６７８９", "0123456789")


@dataclass(slots=True)
class _Date:
    start: int
    end: int
    day: date | None  # None when it depends on context (当天) and there is none yet
    rel_context: int | None  # offset from the context date for 当天/次日, else None
    period: str | None  # implied by 今晚 and similar
    needs_clock: bool  # "25日" alone is too ambiguous ("3日内") to stand as a date
    approximate: bool
    day_of_month: int | None = None  # "25日": resolved against the context month


def _small(text: str) -> int | None:
    value = parse_number(text)
    if value is None or value != value.to_integral_value():
        return None
    return int(value)


def _safe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _parse_date(m: re.Match[str], received: datetime) -> _Date | None:
    today = received.date()
    approx = m.group("pre") is not None

    def make(day: date | None, *, rel_context: int | None = None, period: str | None = None,
             needs_clock: bool = False, day_of_month: int | None = None) -> _Date:
        return _Date(start=m.start(), end=m.end(), day=day, rel_context=rel_context, period=period,
                     needs_clock=needs_clock, approximate=approx, day_of_month=day_of_month)

    if m.group("mon") is not None:
        month, day_no = _small(m.group("mon")), _small(m.group("day"))
        if month is None or day_no is None:
            return None
        year_text, yrel = m.group("year"), m.group("yrel")
        if year_text is not None:
            d = _safe_date(int(year_text.translate(_ASCII)), month, day_no)
        elif yrel is not None:
            d = _safe_date(today.year + _YEAR_REL[yrel], month, day_no)
        else:
            d = _safe_date(today.year, month, day_no)
            if d is not None and d > today + timedelta(days=1):
                d = _safe_date(today.year - 1, month, day_no)
        return make(d) if d is not None else None
    if m.group("iy") is not None:
        year, month, day_no = (int(m.group(g).translate(_ASCII)) for g in ("iy", "im", "id"))
        d = _safe_date(year, month, day_no)
        return make(d) if d is not None else None
    rel = m.group("rel")
    if rel is not None:
        if rel in _REL_DAYS:
            return make(today + timedelta(days=_REL_DAYS[rel]))
        return make(None, rel_context=_REL_CONTEXT[rel])
    relp = m.group("relp")
    if relp is not None:
        offset, period = _RELP[relp]
        if offset is None:  # 当晚: needs the context date and, alone, says nothing new
            return make(None, rel_context=0, period=period, needs_clock=True)
        return make(today + timedelta(days=offset), period=period)
    day_only = _small(m.group("donly"))
    if day_only is None or not 1 <= day_only <= 31:
        return None
    return make(None, needs_clock=True, day_of_month=day_only)


def _hour_24(hour: int, period: str | None) -> tuple[int, int] | None:
    """(hour 0-23, day offset) for an hour said with a period of the day."""
    if not 0 <= hour <= 24:
        return None
    if hour == 24:
        return 0, 1
    if period is None or period in {"凌晨", "清晨", "早晨", "早上", "上午"}:
        return (0, 0) if period == "凌晨" and hour == 12 else (hour, 0)
    if period == "中午":
        return (hour, 0) if hour >= 11 else (hour + 12, 0)
    if period in {"午后", "下午"}:
        return (hour + 12, 0) if hour < 12 else (hour, 0)
    if period in {"深夜", "半夜", "午夜"}:
        if hour == 12:
            return 0, 1
        return (hour + 12, 0) if 6 <= hour < 12 else (hour, 0)
    # evening words
    if hour == 12:
        return 0, 1
    return (hour + 12, 0) if 4 <= hour < 12 else (hour, 0)


@dataclass(slots=True)
class _Clock:
    start: int
    end: int
    hour: int
    minute: int | None
    day_offset: int
    approximate: bool


def _parse_clock(m: re.Match[str], implied_period: str | None) -> _Clock | None:
    period = m.group("period") or implied_period
    approx = m.group("pre") is not None or m.group("post") in _APPROX_POST
    if m.group("hh") is not None:
        hour, minute = int(m.group("hh").translate(_ASCII)), int(m.group("mm").translate(_ASCII))
    else:
        h_text = m.group("h")
        hour_value = _small(h_text)
        if hour_value is None:
            return None
        hour = hour_value
        minute = None
        if m.group("m") is not None:
            minute = _small(m.group("m"))
            if minute is None or minute > 59:
                return None
        elif m.group("m2") is not None:
            minute = int(m.group("m2").translate(_ASCII))
        elif m.group("half") is not None:
            minute = 30
        elif m.group("quarter") is not None:
            minute = 15 if m.group("quarter") == "一刻" else 45
    resolved = _hour_24(hour, period)
    if resolved is None:
        return None
    hour, offset = resolved
    return _Clock(start=m.start(), end=m.end(), hour=hour, minute=minute, day_offset=offset,
                  approximate=approx)


def _clock_is_plausible(m: re.Match[str], joined_to_date: bool) -> bool:
    """A bare Chinese-numeral hour ("快一点", "三点建议") is only a time with more support around it."""
    h = m.group("h")
    if h is None or h[0].isdigit():
        return True
    if joined_to_date or m.group("period") is not None:
        return True
    return any(m.group(g) is not None for g in ("m", "half", "quarter", "post")) or m.group().endswith("钟")


def extract_times(text: str, received_at: datetime, claims: Claims) -> tuple[list[TimeMention],
                                                                             list[ExtractWarning]]:
    received = received_at.astimezone(SHANGHAI)
    dates = [d for m in _DATE_RE.finditer(text) if (d := _parse_date(m, received)) is not None]
    clocks = list(_CLOCK_RE.finditer(text))
    mentions: list[TimeMention] = []
    warnings: list[ExtractWarning] = []
    context: date | None = None
    used_clocks: set[int] = set()
    last_clock: tuple[date | None, int] | None = None  # (context date, 24-hour) of the latest clock
    clock_by_start = {m.start(): m for m in clocks}

    # Walk dates and clocks in text order (a date before a clock at the same offset), so that each
    # clock sees the latest date mentioned before it.
    events: list[tuple[int, int, _Date | re.Match[str]]] = [(d.start, 0, d) for d in dates]
    events += [(m.start(), 1, m) for m in clocks]
    events.sort(key=lambda e: (e[0], e[1]))
    for _, _, item in events:
        if isinstance(item, _Date):
            d = item
            if claims.overlaps(d.start, d.end):
                continue
            join = _JOIN_RE.match(text, d.end)
            clock_start = join.end() if join is not None else d.end
            cm = clock_by_start.get(clock_start)
            if cm is not None and cm.start() in used_clocks:
                cm = None
            day = _resolve_day(d, context, received)
            if day is None:
                continue
            clock = None
            if cm is not None and _clock_is_plausible(cm, True):
                clock = _parse_clock(cm, d.period)
            if clock is None and d.needs_clock:
                continue
            end = clock.end if clock is not None else d.end
            if claims.overlaps(d.start, end):
                continue
            if clock is not None:
                used_clocks.add(clock.start)
            context = day
            last_clock = (day, clock.hour) if clock is not None else None
            mentions.append(_mention(text, d.start, end, day, clock, d.approximate, received, warnings))
            claims.add(d.start, end)
        else:
            cm = item
            if cm.start() in used_clocks or claims.overlaps(cm.start(), cm.end()):
                continue
            if not _clock_is_plausible(cm, False):
                continue
            clock = _parse_clock(cm, None)
            if clock is None:
                continue
            if (cm.group("period") is None and last_clock is not None and last_clock[0] == context
                    and last_clock[1] >= 12 and clock.hour < 12 and clock.hour + 12 >= last_clock[1]):
                # "下午1时至3时", "下午2时许……3时许又转账": the afternoon carries over.
                clock = _parse_clock(cm, "下午") or clock
            if context is not None:
                day = context
            else:
                day = received.date()
                candidate = _at(day, clock)
                if candidate > received + timedelta(hours=1):
                    day -= timedelta(days=1)
            mentions.append(_mention(text, clock.start, clock.end, day, clock, False, received, warnings))
            claims.add(clock.start, clock.end)
            last_clock = (context, clock.hour)
    return mentions, warnings


def _resolve_day(d: _Date, context: date | None, received: datetime) -> date | None:
    if d.day is not None:
        return d.day
    if d.rel_context is not None:
        return (context or received.date()) + timedelta(days=d.rel_context)
    # Day of month only ("25日上午"): the context month, else the receipt month (or the month before
    # if that lies in the future).
    day_no = d.day_of_month
    if day_no is None:
        return None
    base = context or received.date()
    resolved = _safe_date(base.year, base.month, day_no)
    if resolved is not None and context is None and resolved > received.date() + timedelta(days=1):
        prev = base.replace(day=1) - timedelta(days=1)
        resolved = _safe_date(prev.year, prev.month, day_no)
    return resolved


def _at(day: date, clock: _Clock) -> datetime:
    moment = datetime.combine(day, time(clock.hour, clock.minute or 0), tzinfo=SHANGHAI)
    return moment + timedelta(days=clock.day_offset)


def _mention(text: str, start: int, end: int, day: date, clock: _Clock | None, approx: bool,
             received: datetime, warnings: list[ExtractWarning]) -> TimeMention:
    if clock is None:
        moment = datetime.combine(day, time(0, 0), tzinfo=SHANGHAI)
        precision = "day"
    else:
        moment = _at(day, clock)
        precision = "hour" if clock.minute is None else "minute"
        approx = approx or clock.approximate
    # Compare at the mention's own precision: "今天" is not in the future at 10:30 today.
    future = day > received.date() if precision == "day" else moment > received + timedelta(minutes=1)
    if future:
        warnings.append(ExtractWarning("time_in_future", "time lies after the report was received",
                                       text[start:end], (start, end)))
    return TimeMention(value=moment.isoformat(), precision=precision, approximate=approx,
                       text=text[start:end], span=(start, end))
