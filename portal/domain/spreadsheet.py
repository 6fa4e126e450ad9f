"""Spreadsheets the portal writes: cells that a spreadsheet would run as a formula are neutralised.

OWASP "CSV injection": a text cell starting with = + - @, a tab or a carriage return is a formula
to Excel, WPS and LibreOffice (``=HYPERLINK(...)`` in a household head's name, a reporter's text
quoted in an import report). Such a cell gets a leading apostrophe, which spreadsheets show as
text and do not evaluate; numbers are written as they are.
"""

from __future__ import annotations

import csv

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value):
    """The value as a spreadsheet must read it: text that would start a formula is quoted."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


class SafeWriter:
    """``csv.writer`` whose rows are passed through ``safe_cell``."""

    def __init__(self, out, **kwargs):
        self._writer = csv.writer(out, **kwargs)

    def writerow(self, row):
        return self._writer.writerow([safe_cell(v) for v in row])

    def writerows(self, rows):
        for row in rows:
            self.writerow(row)


def writer(out, **kwargs) -> SafeWriter:
    return SafeWriter(out, **kwargs)
