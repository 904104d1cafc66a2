"""Unit tests of checks.py: fixed dates only, so the result never depends on
the day the suite runs (the space-padded day once failed CI on days 1-9)."""

from __future__ import annotations

import unittest

from checks import date_problem


class DateTest(unittest.TestCase):
    def test_valid(self) -> None:
        for value in (
            "Mon, 07 Dec 2026 02:11:00 +0000",   # postie, msmtp
            "Mon,  7 Dec 2026 02:11:00 +0000",   # git send-email, mailutils (%2d)
            "Mon, 7 Dec 2026 02:11:00 +0000",
            "Thu, 17 Dec 2026 02:11:00 -0130",
            "7 Dec 2026 02:11 +0000",            # no day name, no seconds
            "Mon, 7 Dec 2026 02:11:00 +0000 (UTC)",
            "Mon,\r\n 7 Dec 2026\r\n\t02:11:00 +0000",  # folded
            "Mon , 7 Dec 2026 02 : 11 : 00 +0000",      # obsolete FWS
            "(comment) Mon, 7 Dec 2026 02:11:00 GMT",
            "Mon, 7 Dec 26 02:11:00 EST",        # obsolete two-digit year
            "Thu, 31 Dec 2026 23:59:60 +0000",   # leap second
        ):
            with self.subTest(value=value):
                self.assertIsNone(date_problem(value))

    def test_every_day_of_a_month_both_paddings(self) -> None:
        days = ("Tue", "Wed", "Thu", "Fri", "Sat", "Sun", "Mon")
        for d in range(1, 32):
            wday = days[(d - 1) % 7]  # 1 Dec 2026 is a Tuesday
            for day in (f"{d}", f"{d:02d}", f"{d:2d}"):
                value = f"{wday}, {day} Dec 2026 12:00:00 +0100"
                with self.subTest(value=value):
                    self.assertIsNone(date_problem(value))

    def test_invalid(self) -> None:
        for value in (
            "",
            "yesterday",
            "Mon, 7 Dec 2026",                   # no time
            "Mon, 7 Dec 2026 02:11:00",          # no zone
            "Tue, 7 Dec 2026 02:11:00 +0000",    # wrong weekday
            "Mon, 32 Dec 2026 02:11:00 +0000",
            "Mon, 7 Foo 2026 02:11:00 +0000",
            "Mon, 7 Dec 2026 24:11:00 +0000",
            "Mon, 7 Dec 2026 02:11:00 +0099",
            "Mon, 7 Dec 2026 02:11:00 +0000 (open",
            "Mon, 7Dec 2026 02:11:00 +0000",
        ):
            with self.subTest(value=value):
                self.assertIsNotNone(date_problem(value))


if __name__ == "__main__":
    unittest.main()
