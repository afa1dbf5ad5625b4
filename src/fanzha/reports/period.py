"""Report periods: whole local days in the center's time zone, as a half-open UTC interval.

A period "2016-03-21 to 2016-04-20" (the 2016 center's first month) is every instant from 21 March 00:00 to
21 April 00:00 Shanghai time: both dates are included, as a statement reads them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from fanzha.config import SHANGHAI
from fanzha.errors import InvalidInput

# The longest period one request may ask for (the figures of ten years are a batch job, not a page).
MAX_DAYS = 3660
PRESET_DAYS: dict[str, int] = {"today": 1, "7d": 7, "30d": 30}
PRESETS: tuple[str, ...] = tuple(PRESET_DAYS)


@dataclass(frozen=True, slots=True)
class Period:
    """Local dates ``first``..``last`` (both included) in the center's time zone."""

    first: date
    last: date

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise InvalidInput(f"the period ends ({self.last}) before it starts ({self.first})", field="to")
        if (self.last - self.first).days + 1 > MAX_DAYS:
            raise InvalidInput(f"a period is at most {MAX_DAYS} days", field="to")

    @property
    def start(self) -> datetime:
        """The first instant of the period (aware, UTC)."""
        return datetime.combine(self.first, time(0), SHANGHAI).astimezone(UTC)

    @property
    def end(self) -> datetime:
        """The first instant after the period (aware, UTC): the interval is ``[start, end)``."""
        return datetime.combine(self.last + timedelta(days=1), time(0), SHANGHAI).astimezone(UTC)

    @property
    def days(self) -> list[date]:
        return [self.first + timedelta(days=i) for i in range((self.last - self.first).days + 1)]

    @classmethod
    def preset(cls, name: str, now: datetime | None = None) -> Period:
        """``today``, ``7d`` or ``30d``: that many local days ending today."""
        if name not in PRESET_DAYS:
            raise InvalidInput(f"unknown period {name!r}; use one of {', '.join(PRESETS)}", field="period")
        today = local_today(now)
        return cls(today - timedelta(days=PRESET_DAYS[name] - 1), today)

    @classmethod
    def parse(cls, first: str | date | None, last: str | date | None, now: datetime | None = None) -> Period:
        """From ISO dates (``2016-03-21``); a missing end is the start day, a missing start is today."""
        start = _date(first, "from") if first else local_today(now)
        end = _date(last, "to") if last else start
        return cls(start, end)

    def label(self) -> str:
        if self.first == self.last:
            return self.first.isoformat()
        return f"{self.first.isoformat()} – {self.last.isoformat()}"


def local_today(now: datetime | None = None) -> date:
    return (now or datetime.now(UTC)).astimezone(SHANGHAI).date()


def local_day(moment: datetime) -> date:
    """The center's calendar day of an instant."""
    return moment.astimezone(SHANGHAI).date()


def _date(value: str | date, name: str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value.strip())
    except ValueError as exc:
        raise InvalidInput(f"{name} must be a date like 2016-03-21, not {value!r}", field=name) from exc
