"""Checks on delivered messages that need no MTA, kept apart from the suite so
that their own unit tests (test_checks.py) run in every `scripts/test-all`,
root or not, on any day of the month."""

from __future__ import annotations

import datetime
import re

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun",
           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
# Obsolete zone names that RFC 5322 section 4.3 still asks receivers to accept.
_OBS_ZONES = ("UT", "GMT", "EST", "EDT", "CST", "CDT", "MST", "MDT", "PST", "PDT")

# RFC 5322 section 3.3 after unfolding and with comments replaced by a space:
# FWS is one or more spaces/tabs; it may also stand before the day, the time and
# the zone, which is how "Mon,  7 Dec 2026" (git send-email's and mailutils'
# space-padded "%2d") is valid.
_DATE_TIME = re.compile(
    r"[ \t]*(?:(?P<wday>[A-Za-z]{3})[ \t]*,)?"
    r"[ \t]*(?P<day>\d{1,2})[ \t]+(?P<mon>[A-Za-z]{3})[ \t]+(?P<year>\d{4}|\d{2})"
    r"[ \t]+(?P<h>\d\d)[ \t]*:[ \t]*(?P<m>\d\d)(?:[ \t]*:[ \t]*(?P<s>\d\d))?"
    r"[ \t]+(?P<zone>[+-]\d{4}|[A-Za-z]{1,3})[ \t]*"
)


def _strip_comments(value: str) -> str | None:
    """Replace each (possibly nested) comment by a space; None if unbalanced."""
    out, depth, escaped = [], 0, False
    for ch in value:
        if escaped:
            escaped = False
            continue
        if depth and ch == "\\":
            escaped = True
        elif ch == "(":
            depth += 1
        elif ch == ")":
            if depth == 0:
                return None
            depth -= 1
            if depth == 0:
                out.append(" ")
        elif depth == 0:
            out.append(ch)
    return None if depth else "".join(out)


def date_problem(value: str) -> str | None:
    """Why a Date header value is not an RFC 5322 date-time, or None if it is.

    Accepts folding white space and comments wherever the grammar allows them,
    one- and two-digit days, and the obsolete forms receivers must accept
    (two-digit years, zone names); checks that the fields are in range and that
    a day name, when present, is the weekday of that date."""
    unfolded = re.sub(r"\r?\n(?=[ \t])", "", value)
    text = _strip_comments(unfolded)
    if text is None:
        return "unbalanced comment"
    m = _DATE_TIME.fullmatch(text)
    if not m:
        return "not a date-time"
    mon = m["mon"].capitalize()
    if mon not in _MONTHS:
        return f"unknown month {m['mon']!r}"
    year = int(m["year"])
    if len(m["year"]) == 2:
        year += 2000 if year < 50 else 1900
    try:
        day = datetime.date(year, _MONTHS.index(mon) + 1, int(m["day"]))
    except ValueError as e:
        return f"no such day: {e}"
    if m["wday"] is not None:
        wday = m["wday"].capitalize()
        if wday not in _DAYS:
            return f"unknown day name {m['wday']!r}"
        if _DAYS.index(wday) != day.weekday():
            return f"{wday} is not the weekday of {day.isoformat()}"
    if int(m["h"]) > 23 or int(m["m"]) > 59 or int(m["s"] or 0) > 60:
        return "time out of range"
    zone = m["zone"]
    if zone[0] in "+-":
        if int(zone[3:]) > 59:
            return f"zone {zone} out of range"
    elif zone.upper() not in _OBS_ZONES and not re.fullmatch(r"[A-IK-Za-ik-z]", zone):
        return f"unknown zone {zone!r}"
    return None
