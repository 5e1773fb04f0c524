"""KNIME's Date&Time storage as ISO-8601 text."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from knime_llm.nodes.datetimes import iso_date, iso_date_time, iso_duration, iso_offset, iso_period, iso_time, iso_zoned

EPOCH = dt.date(1970, 1, 1)


@given(st.integers(min_value=(dt.date.min - EPOCH).days, max_value=(dt.date.max - EPOCH).days))
def test_dates_match_the_calendar(days: int) -> None:
    assert iso_date(days) == (EPOCH + dt.timedelta(days=days)).isoformat()


@pytest.mark.parametrize("days, text", [
    (19860, "2024-05-17"), (0, "1970-01-01"), (-1, "1969-12-31"), (2_932_897, "+10000-01-01"),
    (-719_163, "0000-12-31"), (-719_893, "-0001-01-01"),  # years Java keeps and Python cannot
])
def test_dates_beyond_python_are_written_as_java_does(days: int, text: str) -> None:
    assert iso_date(days) == text


@pytest.mark.parametrize("nanos, text", [
    (0, "00:00:00"), (30_600_000_000_000, "08:30:00"), (30_600_250_000_000, "08:30:00.250"),
    (30_600_000_001_000, "08:30:00.000001"), (86_399_999_999_999, "23:59:59.999999999"),
])
def test_times_always_have_seconds_and_fractions_in_groups_of_three(nanos: int, text: str) -> None:
    assert iso_time(nanos) == text


def test_date_times_and_zones() -> None:
    assert iso_date_time(19860, 30_600_000_000_000) == "2024-05-17T08:30:00"
    assert iso_zoned(19860, 30_600_000_000_000, 7200, "Europe/Berlin") == "2024-05-17T08:30:00+02:00[Europe/Berlin]"
    assert iso_zoned(19860, 0, 0, "Z") == "2024-05-17T00:00:00Z"
    assert iso_zoned(19860, 0, 0, "UTC") == "2024-05-17T00:00:00Z[UTC]"
    assert iso_zoned(19860, 0, -12_600, "-03:30") == "2024-05-17T00:00:00-03:30"
    assert iso_offset(3723) == "+01:02:03"


@pytest.mark.parametrize("seconds, nanos, text", [
    (0, 0, "PT0S"), (5400, 0, "PT1H30M"), (5400, 500_000_000, "PT1H30M0.5S"), (90_000, 0, "PT25H"),
    (-5400, 0, "PT-1H-30M"), (-1, 500_000_000, "PT-0.5S"), (0, 1, "PT0.000000001S"), (61, 0, "PT1M1S"),
])
def test_durations_as_java_writes_them(seconds: int, nanos: int, text: str) -> None:
    assert iso_duration(seconds, nanos) == text


@pytest.mark.parametrize("parts, text", [((1, 2, 3), "P1Y2M3D"), ((0, 0, 0), "P0D"), ((0, 14, 0), "P14M"),
                                         ((-1, 0, 5), "P-1Y5D")])
def test_periods(parts: tuple, text: str) -> None:
    assert iso_period(*parts) == text
