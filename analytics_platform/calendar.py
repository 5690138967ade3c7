"""Trading calendar: NYSE trading days (QuantLib) and regular session times.

QuantLib's calendar objects are created per call and never stored or passed between processes
(they do not pickle, and QuantLib keeps global evaluation-date state).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import polars as pl
import QuantLib as ql

EXCHANGE_TZ = "America/New_York"
SESSION_OPEN = dt.time(9, 30)
SESSION_CLOSE = dt.time(16, 0)
SESSION_SECONDS = 6.5 * 3600

# Earliest and latest trading days the platform knows about (the partition range).
CALENDAR_START = dt.date(2024, 1, 2)
CALENDAR_END = dt.date(2035, 12, 31)


def _nyse() -> ql.Calendar:
    return ql.UnitedStates(ql.UnitedStates.NYSE)


def _to_ql(day: dt.date) -> ql.Date:
    return ql.Date(day.day, day.month, day.year)


def is_trading_day(day: dt.date) -> bool:
    """True for NYSE business days (weekdays that are not exchange holidays)."""
    return bool(_nyse().isBusinessDay(_to_ql(day)))


def nyse_holidays(start: dt.date = CALENDAR_START, end: dt.date = CALENDAR_END) -> list[dt.date]:
    """Weekday exchange holidays between start and end inclusive (weekends are not listed)."""
    holidays = ql.Calendar.holidayList(_nyse(), _to_ql(start), _to_ql(end), False)
    return [dt.date(d.year(), d.month(), d.dayOfMonth()) for d in holidays]


def trading_days(start: dt.date, end: dt.date) -> list[dt.date]:
    """All trading days between start and end inclusive."""
    holidays = set(nyse_holidays(start, end))
    days = (start + dt.timedelta(days=i) for i in range((end - start).days + 1))
    return [d for d in days if d.weekday() < 5 and d not in holidays]


def _advance(day: dt.date, trading_days: int) -> dt.date:
    d = _nyse().advance(_to_ql(day), trading_days, ql.Days)
    return dt.date(d.year(), d.month(), d.dayOfMonth())


def previous_trading_day(day: dt.date) -> dt.date:
    """The last trading day strictly before `day`."""
    return _advance(day, -1)


def next_trading_day(day: dt.date) -> dt.date:
    """The first trading day strictly after `day` (e.g. the T+1 settlement date)."""
    return _advance(day, 1)


def last_completed_trading_day(now: dt.datetime | None = None) -> dt.date:
    """Most recent trading day whose regular session has closed, in exchange time."""
    local = (now or dt.datetime.now(dt.UTC)).astimezone(ZoneInfo(EXCHANGE_TZ))
    today = local.date()
    if is_trading_day(today) and local.time() >= SESSION_CLOSE:
        return today
    return previous_trading_day(today)


@dataclass(frozen=True)
class Session:
    """Regular trading session of one trade date, as UTC instants."""

    trade_date: dt.date
    open_utc: dt.datetime
    close_utc: dt.datetime

    @property
    def open_ns(self) -> int:
        return _epoch_ns(self.open_utc)

    @property
    def close_ns(self) -> int:
        return _epoch_ns(self.close_utc)


def _epoch_ns(instant: dt.datetime) -> int:
    return int(instant.timestamp()) * 1_000_000_000


def session(trade_date: dt.date) -> Session:
    """The regular session (09:30-16:00 exchange time) of a trading day, DST-aware."""
    if not is_trading_day(trade_date):
        raise ValueError(f"{trade_date.isoformat()} is not an NYSE trading day")
    tz = ZoneInfo(EXCHANGE_TZ)
    open_local = dt.datetime.combine(trade_date, SESSION_OPEN, tzinfo=tz)
    close_local = dt.datetime.combine(trade_date, SESSION_CLOSE, tzinfo=tz)
    return Session(trade_date, open_local.astimezone(dt.UTC), close_local.astimezone(dt.UTC))


def session_bounds(trade_dates: pl.Series) -> pl.DataFrame:
    """trade_date, open_ts, close_ts (ns UTC) of the regular session of each distinct day."""
    days = trade_dates.unique().sort().to_list()
    sessions = [session(d) for d in days]
    return pl.DataFrame(
        {
            "trade_date": days,
            "open_ts": [s.open_utc for s in sessions],
            "close_ts": [s.close_utc for s in sessions],
        },
        schema={
            "trade_date": pl.Date,
            "open_ts": pl.Datetime("ns", "UTC"),
            "close_ts": pl.Datetime("ns", "UTC"),
        },
    )


def session_close_ts(day: dt.date) -> pl.Expr:
    """The close of `day`'s regular session as a ns-UTC literal (an event's as-of time)."""
    return pl.lit(session(day).close_utc).cast(pl.Datetime("ns", "UTC"))
