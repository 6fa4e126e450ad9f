"""The clerk's own file given back with its problems in it (issue 19, item 4): every sheet as it was
read, a 问题说明 column at the right of each row that has problems, and each problem cell filled red,
as XLSX for any office suite. Fixed and uploaded again, it imports: the rows keep their numbers and
the 问题说明 column is not one the import reads."""

from __future__ import annotations

import io
import re
from pathlib import Path

from ..domain import spreadsheet
from .reading import open_book
from .shapes import Problem

NOTE_HEADER = "问题说明"
_LETTERS = re.compile(r"^([A-Z]+)列")


def _column_index(label: str) -> int | None:
    """The 0-based column of a problem's column label (E列（户主姓名） -> 4)."""
    m = _LETTERS.match(label or "")
    if not m:
        return None
    index = 0
    for ch in m.group(1):
        index = index * 26 + ord(ch) - 64
    return index - 1


def marked_copy(path: Path, problems: list[Problem], header_rows: dict[str, int] | None = None) -> bytes:
    """The book (or CSV) at ``path`` as XLSX with ``problems`` written in. ``header_rows`` maps a
    sheet name to the row (1-based) that gets the 问题说明 label; problems of the whole file (row 0)
    are written there too."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font, PatternFill

    red = PatternFill("solid", fgColor="FFC7CE")
    bold = Font(bold=True, color="9C0006")
    sheets, _ = open_book(Path(path))
    # A file read as one table names its problems with no sheet: they belong to its first sheet.
    first = next((name for name, rows in sheets if rows is not None), "")
    header_rows = {(name or first): row for name, row in (header_rows or {}).items()}
    by_cell: dict[tuple[str, int], dict[int | None, list[str]]] = {}
    for p in problems:
        row = by_cell.setdefault((p.sheet or first, p.row), {})
        row.setdefault(_column_index(p.column), []).append(f"{p.level}：{p.column + ' ' if p.column else ''}"
                                                           f"{'“' + p.value + '”' if p.value else ''}{p.message}")
    book = Workbook(write_only=True)
    for name, rows in sheets:
        if rows is None:
            continue
        sheet = book.create_sheet(name or "申请户")
        label_row = header_rows.get(name, 1)
        grid = [list(r) for r in rows]
        width = max((len(r) for r in grid), default=0)
        for number, cells in enumerate(grid, start=1):
            notes = by_cell.get((name, number), {})
            out = []
            for c in range(width):
                value = cells[c] if c < len(cells) else ""
                cell = WriteOnlyCell(sheet, value=value or None)
                if value and value != spreadsheet.safe_cell(value):
                    cell.data_type = "s"            # text that looks like a formula stays text
                if c in notes:
                    cell.fill = red
                out.append(cell)
            text = [t for ts in notes.values() for t in ts]
            if number == label_row:
                text = [NOTE_HEADER] + [t for ts in by_cell.get((name, 0), {}).values() for t in ts] + text
            note = WriteOnlyCell(sheet, value="；".join(text) if text else None)
            if text:
                note.font = bold
            sheet.append(out + [note])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


#: The column whose cells a blank template formats as text (Excel turns an 18-digit number into 4.3E+17).
TEXT_COLUMNS = {"身份证号", "区划代码", "上级代码"}


def blank_template(csv_template: Path) -> bytes:
    """A blank XLSX from one of ``import/templates/*.csv``: its rows, bold header, and the ID and code
    columns formatted as text before anyone types into them."""
    import csv

    from openpyxl import Workbook
    from openpyxl.styles import Font

    rows = list(csv.reader(csv_template.read_text(encoding="utf-8-sig").splitlines()))
    book = Workbook()
    sheet = book.active
    sheet.title = "填写"
    for row in rows:
        sheet.append(row)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        if cell.value in TEXT_COLUMNS:
            for r in range(2, 2001):
                sheet.cell(row=r, column=cell.column).number_format = "@"
        sheet.column_dimensions[cell.column_letter].width = max(10, 2 * len(cell.value or "") + 4)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
