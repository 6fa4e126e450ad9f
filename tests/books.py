"""Writing a grid of cells (with merged ranges) as the files clerks have: CSV, XLSX, XLS and ODS.

``merges`` are (first row, first column, last row, last column), counted from 0, as a person draws
them: the label sits in the first cell and the others of the range are blank.
"""

from __future__ import annotations

import csv
import io
import zipfile
from xml.sax.saxutils import escape

FORMATS = ("csv", "xlsx", "xls", "ods")


def write(path, grid: list[list], merges=(), fmt: str | None = None):
    fmt = fmt or path.suffix.lstrip(".")
    {"csv": _csv, "xlsx": _xlsx, "xls": _xls, "ods": _ods}[fmt](path, grid, list(merges))
    return path


def _csv(path, grid, merges):
    out = io.StringIO()
    csv.writer(out).writerows(grid)
    path.write_bytes(out.getvalue().encode("utf-8"))


def _xlsx(path, grid, merges):
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "申请户"
    for row in grid:
        sheet.append([None if v == "" else v for v in row])
    for top, left, bottom, right in merges:
        sheet.merge_cells(start_row=top + 1, start_column=left + 1, end_row=bottom + 1, end_column=right + 1)
    book.save(path)


def _xls(path, grid, merges):
    import xlwt

    book = xlwt.Workbook(encoding="utf-8")
    sheet = book.add_sheet("申请户")
    covered = {(r, c) for top, left, bottom, right in merges for r in range(top, bottom + 1)
               for c in range(left, right + 1)}
    for top, left, bottom, right in merges:
        sheet.write_merge(top, bottom, left, right, grid[top][left])
    for r, row in enumerate(grid):
        for c, value in enumerate(row):
            if (r, c) not in covered and value != "":
                sheet.write(r, c, value)
    book.save(str(path))


def _ods(path, grid, merges):
    _ods_book(path, [("申请户", grid, merges)])


def _ods_table(name, grid, merges) -> str:
    spans = {(top, left): (bottom - top + 1, right - left + 1) for top, left, bottom, right in merges}
    covered = {(r, c) for top, left, bottom, right in merges for r in range(top, bottom + 1)
               for c in range(left, right + 1)} - set(spans)
    rows = []
    for r, row in enumerate(grid):
        cells = []
        for c, value in enumerate(row):
            if (r, c) in covered:
                cells.append("<table:covered-table-cell/>")
                continue
            span = spans.get((r, c))
            attrs = (f' table:number-rows-spanned="{span[0]}" table:number-columns-spanned="{span[1]}"'
                     if span else "")
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                cells.append(f'<table:table-cell office:value-type="float" office:value="{value}"{attrs}>'
                             f"<text:p>{value}</text:p></table:table-cell>")
            elif value == "":
                cells.append(f"<table:table-cell{attrs}/>")
            else:
                cells.append(f'<table:table-cell office:value-type="string"{attrs}>'
                             f"<text:p>{escape(str(value))}</text:p></table:table-cell>")
        rows.append("<table:table-row>" + "".join(cells) + "</table:table-row>")
    return f'<table:table table:name="{escape(name)}">' + "".join(rows) + "</table:table>"


def _ods_book(path, tables):
    content = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
        "<office:body><office:spreadsheet>" + "".join(_ods_table(*t) for t in tables)
        + "</office:spreadsheet></office:body></office:document-content>")
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
        '<manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
        "</manifest:manifest>")
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.spreadsheet",
                   compress_type=zipfile.ZIP_STORED)
        z.writestr("content.xml", content, compress_type=zipfile.ZIP_DEFLATED)
        z.writestr("META-INF/manifest.xml", manifest, compress_type=zipfile.ZIP_DEFLATED)


def write_book(path, sheets: list[tuple[str, list[list]]], fmt: str | None = None):
    """A book of several sheets, (name, grid) each, without merges."""
    fmt = fmt or path.suffix.lstrip(".")
    if fmt == "xlsx":
        import openpyxl

        book = openpyxl.Workbook()
        book.remove(book.active)
        for name, grid in sheets:
            sheet = book.create_sheet(name)
            for row in grid:
                sheet.append([None if v == "" else v for v in row])
        book.save(path)
    elif fmt == "xls":
        import xlwt

        book = xlwt.Workbook(encoding="utf-8")
        for name, grid in sheets:
            sheet = book.add_sheet(name)
            for r, row in enumerate(grid):
                for c, value in enumerate(row):
                    if value != "":
                        sheet.write(r, c, value)
        book.save(str(path))
    elif fmt == "ods":
        _ods_book(path, [(name, grid, []) for name, grid in sheets])
    else:
        raise ValueError(fmt)
    return path
