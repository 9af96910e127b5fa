"""Dates and money in conversation text: "end of Q3", "next month", "by March 15", "$48k".

A timeline phrase resolves to the last day it allows (a close date "by next month" is the end
of next month), relative to the message's time, so proposals use what was said at the time.
"""

from __future__ import annotations

import calendar
import re
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

MONTHS = {m.lower(): i for i, m in enumerate(calendar.month_name) if m} | {
    m.lower(): i for i, m in enumerate(calendar.month_abbr) if m
}
MONTHS["sept"] = 9
WORD_NUMBERS = {"a": 1, "one": 1, "two": 2, "three": 3, "four": 4, "six": 6, "a couple of": 2, "a few": 3}
ORDINAL_QUARTERS = {"first": 1, "second": 2, "third": 3, "fourth": 4}


def _month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def _add_months(d: date, months: int) -> date:
    index = d.year * 12 + d.month - 1 + months
    return _month_end(index // 12, index % 12 + 1)


def _quarter_end(year: int, quarter: int) -> date:
    return _month_end(year, quarter * 3)


def _quarter(phrase: str, ref: date) -> date | None:
    current = (ref.month - 1) // 3 + 1
    m = re.search(r"q([1-4])|(first|second|third|fourth)\s+quarter", phrase)
    if m:
        q = int(m.group(1)) if m.group(1) else ORDINAL_QUARTERS[m.group(2)]
        year = ref.year if q >= current else ref.year + 1
        y = re.search(r"20\d\d", phrase)
        return _quarter_end(int(y.group()) if y else year, q)
    if "next" in phrase:
        return _quarter_end(ref.year + (current == 4), current % 4 + 1)
    if "last" in phrase:
        return None
    return _quarter_end(ref.year, current)


def _relative(phrase: str, ref: date) -> date | None:
    m = re.search(r"(\d+|a couple of|a few|a|one|two|three|four|six)\s+(day|week|month)", phrase)
    if m and re.search(r"\b(in|within)\b", phrase):
        n = int(m.group(1)) if m.group(1).isdigit() else WORD_NUMBERS[m.group(1)]
        unit = m.group(2)
        if unit == "month":
            return _add_months(ref, n)
        return ref + timedelta(days=n * (7 if unit == "week" else 1))
    for word, days in (
        ("tomorrow", 1),
        ("today", 0),
        ("tonight", 0),
        ("eod", 0),
        ("end of day", 0),
        ("eow", 4),
    ):
        if word in phrase:
            return ref + timedelta(days=days)
    if "week" in phrase:
        return ref + timedelta(days=(11 - ref.weekday()) if "next" in phrase else (4 - ref.weekday()) % 7)
    if "month" in phrase:
        return _add_months(ref, 1 if "next" in phrase else 0)
    if "year" in phrase or "fy" in phrase:
        return date(ref.year + (1 if "next" in phrase else 0), 12, 31)
    return None


def _calendar_date(phrase: str, ref: date) -> date | None:
    iso = re.search(r"(20\d\d)-(\d\d)-(\d\d)", phrase)
    if iso:
        try:
            return date(int(iso.group(1)), int(iso.group(2)), int(iso.group(3)))
        except ValueError:
            return None
    words = re.findall(r"[a-z]+", phrase)
    month = next((MONTHS[w] for w in words if w in MONTHS), None)
    if month is None:
        return None
    day_m = re.search(r"\b(\d{1,2})(st|nd|rd|th)?\b", phrase)
    year_m = re.search(r"20\d\d", phrase)
    year = int(year_m.group()) if year_m else (ref.year if month >= ref.month else ref.year + 1)
    if day_m:
        try:
            return date(year, month, int(day_m.group(1)))
        except ValueError:
            return None
    return _month_end(year, month)


def resolve_date(kind: str, phrase: str, ref: date) -> date | None:
    """The last day a timeline phrase allows, from the message's date `ref` (None when the
    phrase names no resolvable date, e.g. "go-live")."""
    p = phrase.lower()
    if kind == "quarter":
        return _quarter(p, ref)
    if kind == "relative":
        return _relative(p, ref)
    if kind == "date":
        return _calendar_date(p, ref)
    return None


_MULTIPLIERS = {"k": 1_000, "thousand": 1_000, "m": 1_000_000, "million": 1_000_000, "bn": 1_000_000_000}


def parse_amount(phrase: str) -> Decimal | None:
    """The amount a money phrase names ("$48k" -> 48000), or None."""
    m = re.search(r"(\d[\d,]*(?:\.\d+)?)\s?(k|m|bn|thousand|million)?\b", phrase.lower())
    if not m:
        return None
    try:
        value = Decimal(m.group(1).replace(",", ""))
    except InvalidOperation:
        return None
    return value * _MULTIPLIERS.get(m.group(2) or "", 1)
