"""KNIME Date&Time values, from the numbers KNIME stores them as, to ISO-8601 text.

KNIME keeps a Local Date as days since 1970-01-01, a Local Time as nanoseconds since midnight,
a Duration as seconds plus nanoseconds, a Period as years, months and days (the storage of its
Java value factories, see :mod:`knime_llm.nodes.cells`). A template wants what a user would
write: ``2024-05-17``, ``08:30:00``, ``2024-05-17T08:30:00+02:00[Europe/Berlin]``, ``PT1H30M``.

Written by hand because Python's :mod:`datetime` cannot hold what KNIME can (years beyond 9999 or
before 1, nanoseconds) and would silently round or fail. The text follows Java's ``toString``
(what KNIME shows), except that times always carry their seconds, as RFC 3339 requires: fractions
come in groups of three digits, a zoned value gets its offset (``Z`` for UTC) and, for a region
zone, the zone in brackets, and each non-zero part of a negative duration carries the sign.
"""

from __future__ import annotations

import re

NANOS_PER_SECOND = 1_000_000_000
# A zone id that is itself an offset (Java's ZoneOffset ids) gets no "[...]" after the offset.
_OFFSET_ID = re.compile(r"Z|[+-]\d\d:\d\d(:\d\d)?")


def iso_date(days: int) -> str:
    """The proleptic Gregorian date ``days`` after 1970-01-01, e.g. ``2024-05-17``.

    Years beyond 9999 get a ``+`` and years before 1 a ``-`` (year 0 is 1 BC), as in Java.
    """
    year, month, day = _civil_from_days(days)
    if 0 <= year <= 9999:
        return f"{year:04d}-{month:02d}-{day:02d}"
    sign = "+" if year > 9999 else "-"
    return f"{sign}{abs(year):04d}-{month:02d}-{day:02d}"


def iso_time(nano_of_day: int) -> str:
    """The time of day ``nano_of_day`` nanoseconds after midnight, e.g. ``08:30:00`` or ``08:30:00.250``."""
    seconds, nanos = divmod(nano_of_day, NANOS_PER_SECOND)
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}{_fraction(nanos)}"


def iso_date_time(days: int, nano_of_day: int) -> str:
    """A local date and time, e.g. ``2024-05-17T08:30:00``."""
    return f"{iso_date(days)}T{iso_time(nano_of_day)}"


def iso_zoned(days: int, nano_of_day: int, offset_seconds: int, zone: str) -> str:
    """A date and time in a zone, given as its local date and time, offset and zone id.

    ``2024-05-17T08:30:00+02:00[Europe/Berlin]``; an offset-only zone gives ``...+02:00``, UTC ``...Z``.
    """
    offset = iso_offset(offset_seconds)
    region = "" if _OFFSET_ID.fullmatch(zone) else f"[{zone}]"
    return f"{iso_date_time(days, nano_of_day)}{offset}{region}"


def iso_offset(offset_seconds: int) -> str:
    """A UTC offset as ISO text: ``Z``, ``+02:00``, ``-03:30``, or ``+01:02:03`` with seconds."""
    if offset_seconds == 0:
        return "Z"
    sign = "+" if offset_seconds > 0 else "-"
    hours, rest = divmod(abs(offset_seconds), 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{sign}{hours:02d}:{minutes:02d}" + (f":{seconds:02d}" if seconds else "")


def iso_duration(seconds: int, nanos: int) -> str:
    """A duration of ``seconds`` plus ``nanos`` (0 <= nanos < 1e9), e.g. ``PT1H30M`` or ``PT-0.5S``.

    Hours are not folded into days (a day is not always 24 hours), as in Java's ``Duration``.
    """
    total = seconds * NANOS_PER_SECOND + nanos
    if total == 0:
        return "PT0S"
    sign = "-" if total < 0 else ""
    whole, fraction = divmod(abs(total), NANOS_PER_SECOND)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    text = "PT"
    if hours:
        text += f"{sign}{hours}H"
    if minutes:
        text += f"{sign}{minutes}M"
    if secs or fraction:
        text += f"{sign}{secs}{_fraction(fraction, trim=True)}S"
    return text


def iso_period(years: int, months: int, days: int) -> str:
    """A period of years, months and days, e.g. ``P1Y2M3D``; an empty period is ``P0D``."""
    if not (years or months or days):
        return "P0D"
    parts = [f"{value}{unit}" for value, unit in ((years, "Y"), (months, "M"), (days, "D")) if value]
    return "P" + "".join(parts)


def _fraction(nanos: int, trim: bool = False) -> str:
    """``.250`` for 250 ms (groups of 3 digits), nothing for 0; ``trim`` drops every trailing zero."""
    if not nanos:
        return ""
    digits = f"{nanos:09d}"
    if trim:
        return "." + digits.rstrip("0")
    while digits.endswith("000"):
        digits = digits[:-3]
    return "." + digits


def _civil_from_days(days: int) -> tuple[int, int, int]:
    """Year, month, day of the proleptic Gregorian calendar, ``days`` after 1970-01-01.

    Counted in 400-year eras from 0000-03-01 (leap day last in each year), which makes the
    arithmetic exact for any integer.
    """
    shifted = days + 719_468  # days from 0000-03-01 to 1970-01-01
    era = shifted // 146_097
    day_of_era = shifted - era * 146_097
    year_of_era = (day_of_era - day_of_era // 1460 + day_of_era // 36_524 - day_of_era // 146_096) // 365
    day_of_year = day_of_era - (365 * year_of_era + year_of_era // 4 - year_of_era // 100)
    month_index = (5 * day_of_year + 2) // 153  # 0 = March
    day = day_of_year - (153 * month_index + 2) // 5 + 1
    month = month_index + 3 if month_index < 10 else month_index - 9
    year = year_of_era + era * 400 + (1 if month <= 2 else 0)
    return year, month, day
