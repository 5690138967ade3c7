import datetime as dt

import pytest

from analytics_platform import calendar
from assets.partitions import trading_day_partitions


def _keys_as_of(day: dt.date) -> list[str]:
    now = dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)
    return trading_day_partitions.get_partition_keys(current_time=now)


def test_thanksgiving_is_not_a_partition_but_black_friday_is():
    keys = _keys_as_of(dt.date(2026, 12, 1))
    assert "2026-11-26" not in keys
    assert "2026-11-27" in keys


def test_partitions_are_weekdays_minus_nyse_holidays():
    keys = _keys_as_of(dt.date(2026, 12, 31))
    in_2026 = [k for k in keys if k.startswith("2026-")]
    expected = calendar.trading_days(dt.date(2026, 1, 1), dt.date(2026, 12, 31))
    assert in_2026 == [d.isoformat() for d in expected]
    assert "2026-11-28" not in keys  # Saturday
    assert "2026-07-03" not in keys  # Independence Day observed
    assert len(in_2026) == 251


def test_today_partition_exists_during_the_day_for_the_after_close_schedule():
    keys = _keys_as_of(dt.date(2026, 11, 23))
    assert keys[-1] == "2026-11-23"


def test_session_is_dst_aware():
    winter = calendar.session(dt.date(2026, 11, 20))
    summer = calendar.session(dt.date(2026, 7, 15))
    assert (winter.open_utc.hour, winter.open_utc.minute) == (14, 30)
    assert (summer.open_utc.hour, summer.open_utc.minute) == (13, 30)
    assert winter.close_ns - winter.open_ns == int(6.5 * 3600 * 1e9)


def test_session_rejects_non_trading_days():
    with pytest.raises(ValueError, match="2026-11-26 is not an NYSE trading day"):
        calendar.session(dt.date(2026, 11, 26))


def test_last_completed_trading_day():
    before_close = dt.datetime(2026, 11, 23, 20, 0, tzinfo=dt.UTC)  # 15:00 New York, Monday
    after_close = dt.datetime(2026, 11, 23, 21, 30, tzinfo=dt.UTC)
    assert calendar.last_completed_trading_day(before_close) == dt.date(2026, 11, 20)
    assert calendar.last_completed_trading_day(after_close) == dt.date(2026, 11, 23)
    friday_after_holiday = dt.datetime(2026, 11, 27, 15, 0, tzinfo=dt.UTC)
    assert calendar.last_completed_trading_day(friday_after_holiday) == dt.date(2026, 11, 25)
