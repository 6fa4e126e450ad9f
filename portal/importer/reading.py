"""Reading a spreadsheet as it comes from Excel or WPS: CSV in UTF-8/GBK/GB18030 (a fast reader for
plain files, the csv module for quoted ones) or XLSX, cells normalised, and the header row found
by Chinese synonyms below any title rows."""

from __future__ import annotations

import csv
import datetime as dt
import itertools
import re
import unicodedata
from collections.abc import Iterator
from pathlib import Path

from .shapes import REQUIRED, SYNONYMS, TOTAL_WORDS, ImportFileError, NoHeaderError


def normalise(value) -> str:
    """A cell as clean text: full-width digits, letters and spaces folded (NFKC), trimmed;
    whole floats from XLSX without their '.0'; dates as ISO."""
    if value is None:
        return ""
    if isinstance(value, bool):                   # a TRUE/FALSE cell
        return "是" if value else "否"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value).upper()                # 4.30811195001012E+17 keeps its tell-tale E+
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value)
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    return text.strip()


def detect_encoding(sample: bytes) -> str:
    """UTF-8 (with or without BOM) if it decodes; else GB18030 (a superset of GBK) if it decodes;
    else charset-normalizer's best guess."""
    if sample.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    for encoding in ("utf-8", "gb18030"):
        try:
            sample.decode(encoding)
            return encoding
        except UnicodeDecodeError as error:
            if error.start >= len(sample) - 4:    # a character cut at the end of the sample
                return encoding
    from charset_normalizer import from_bytes

    best = from_bytes(sample).best()
    if best is None:
        raise ImportFileError("无法识别文件编码：请在 Excel/WPS 中另存为“CSV UTF-8”或 xlsx 格式。")
    return best.encoding


def open_book(path: Path) -> tuple[list[tuple[str, Iterator[list[str]]]], str]:
    """The sheets of a spreadsheet as (name, rows) — a CSV is one sheet named "" — and a label of
    the format found. Hidden sheets are listed with the name "" (the caller skips them)."""
    with open(path, "rb") as f:
        head = f.read(65536)
    kind = sniff_format(head)
    if kind not in BOOK_LABELS:
        rows, label = open_rows(path)
        return [("", rows)], label
    import python_calamine

    book = _open_book(path, kind)
    sheets = [(m.name, m.visible == python_calamine.SheetVisibleEnum.Visible
               and m.typ == python_calamine.SheetTypeEnum.WorkSheet) for m in book.sheets_metadata]
    # One parse of the book for all its sheets (calamine reads a whole .xls when it opens one).
    return [(name, _book_rows(path, kind, i, book) if shown else None) for i, (name, shown) in enumerate(sheets)], \
        BOOK_LABELS[kind]


def _open_book(path: Path, kind: str):
    """The book, read into memory by calamine; a clear message for a password or a damaged file."""
    import python_calamine

    try:
        with open(path, "rb") as f:
            return python_calamine.CalamineWorkbook.from_filelike(f)
    except python_calamine.PasswordError as error:
        raise ImportFileError("这个表格文件设了密码，无法读取：请在 Excel/WPS 中取消密码、保存后再导入。") from error
    except Exception as error:  # calamine raises several kinds for a damaged file
        raise ImportFileError(f"{BOOK_LABELS[kind]} 文件已损坏，打不开（{type(error).__name__}）：请在 Excel/WPS 中打开，"
                              "重新保存后再试。") from error


def open_rows(path: Path) -> tuple[Iterator[list[str]], str]:
    """Rows of a spreadsheet as lists of clean text, and a label of the format found. The format is
    read from the content, never the file name: an Excel or OpenDocument book (xlsx, xlsm, xls,
    ods), or text (CSV in UTF-8, GBK or GB18030)."""
    with open(path, "rb") as f:
        head = f.read(65536)
    kind = sniff_format(head)
    if kind in BOOK_LABELS:
        return _book_rows(path, kind), BOOK_LABELS[kind]
    encoding = detect_encoding(head)
    return _csv_rows(path, encoding), {"utf-8-sig": "UTF-8", "utf-8": "UTF-8", "gb18030": "GBK/GB18030"}.get(encoding, encoding)


#: What the report calls each kind of book.
BOOK_LABELS = {"zip": "xlsx", "ods": "ods", "ole": "xls"}
_ENCRYPTED = "EncryptedPackage".encode("utf-16-le")


def sniff_format(head: bytes) -> str:
    """``zip`` (xlsx/xlsm), ``ods``, ``ole`` (xls), or ``text``; refuses with a clear message what
    cannot be a table: a web page saved as .xls, a password-protected book, any other binary."""
    if head.startswith(b"PK\x03\x04"):
        return "ods" if b"application/vnd.oasis.opendocument.spreadsheet" in head[:200] else "zip"
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        if _ENCRYPTED in head:           # an encrypted xlsx is an OLE container holding the package
            raise ImportFileError("这个表格文件设了打开密码，无法读取：请在 Excel/WPS 中取消密码、保存后再导入。")
        return "ole"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith((b"<html", b"<!doctype", b"<table", b"<?xml", b"<meta", b"<head", b"<body")):
        raise ImportFileError("这个文件其实是网页（HTML/XML）格式，只是扩展名像表格（有些系统导出的 .xls 是这样）："
                              "请用 Excel/WPS 打开，另存为 xlsx 或 CSV 后再导入。")
    if b"\x00" in head[:4096]:
        raise ImportFileError("文件不是表格（xlsx、xls、ods 或 CSV），无法导入。")
    return "text"


def _book_rows(path: Path, kind: str, index: int = 0, book=None) -> Iterator[list[str]]:
    """One sheet of a book (the first by default), read by calamine (Rust: xlsx, xlsm, xls and ods
    alike), with each merged cell's value copied over the whole merge: a label drawn over two header
    rows or several columns, or a village name merged down its households, stands in each cell a
    reader sees it in."""
    if book is None:
        book = _open_book(path, kind)
    try:
        sheet = book.get_sheet_by_index(index)
        merges = sheet.merged_cell_ranges or []
        cells = sheet.iter_rows()
    except Exception as error:  # a sheet calamine cannot read
        raise ImportFileError(f"{BOOK_LABELS[kind]} 文件里有一个工作表已损坏，打不开（{type(error).__name__}）："
                              "请在 Excel/WPS 中打开，重新保存后再试。") from error
    starting: dict[int, list] = {}
    for (top, left), (bottom, right) in merges:
        starting.setdefault(top, []).append((left, bottom, right))
    active: list[tuple[int, int, int, str]] = []       # (bottom, left, right, value) of merges under way
    for number, raw in enumerate(cells):
        row = [normalise(c) for c in raw]
        for left, bottom, right in starting.pop(number, ()):
            active.append((bottom, left, right, row[left] if left < len(row) else ""))
        if active:
            for bottom, left, right, value in active:
                if len(row) <= right:
                    row.extend([""] * (right + 1 - len(row)))
                for c in range(left, right + 1):
                    if not row[c]:
                        row[c] = value
            active = [m for m in active if m[0] > number]
        yield row


def sniff_dialect(f) -> type[csv.Dialect] | csv.Dialect:
    """The CSV dialect (comma, tab or semicolon) from the first 4 KB; the file is rewound."""
    sample = f.read(4096)
    f.seek(0)
    try:
        return csv.Sniffer().sniff(sample, delimiters=",\t;")
    except csv.Error:
        return csv.excel


def _csv_rows(path: Path, encoding: str) -> Iterator[list[str]]:
    with open(path, encoding=encoding, newline="") as f:
        dialect = sniff_dialect(f)
        yield from _plain_csv_rows(f, dialect.delimiter, dialect.quotechar or '"')
        nfkc = unicodedata.normalize
        reader = csv.reader(f, dialect)
        try:
            for row in reader:
                yield [c.strip() if c.isascii() else nfkc("NFKC", c).strip() for c in row]
        except csv.Error as error:        # e.g. a cell over the csv module's 128 KiB limit
            raise ImportFileError(f"CSV 文件格式有误（{error}），请在 Excel/WPS 中重新保存后再试。") from error


_CHUNK = 1 << 20


def _plain_csv_rows(f, delimiter: str, quote: str) -> Iterator[list[str]]:
    """The fast path of _csv_rows, for the usual export: no quotes, so a row is a line split at the
    delimiter. Reads about 1 MB of whole lines at a time and folds (NFKC) or trims a chunk at once
    when it can, instead of cell by cell. At the first chunk it cannot read that way (quotes, a bare
    CR, a character whose folded form is a delimiter) it seeks back to the start of that chunk and
    returns; the caller goes on with the csv module from there, so both paths give the same rows."""
    edge = re.compile(f"(?:^|[{re.escape(delimiter)}\n])[^\\S\n]|[^\\S\n](?:[{re.escape(delimiter)}\n]|$)")
    unsafe = re.compile("[" + NFKC_UNSAFE + "]")
    while True:
        start = f.tell()
        chunk = f.read(_CHUNK)
        if not chunk:
            return
        chunk += f.readline()
        if quote in chunk or "\r" in chunk.replace("\r\n", ""):
            f.seek(start)
            return
        chunk = chunk.replace("\r\n", "\n")
        if not chunk.isascii() and not unicodedata.is_normalized("NFKC", chunk):
            if unsafe.search(chunk):
                f.seek(start)
                return
            chunk = unicodedata.normalize("NFKC", chunk)
        lines = chunk.split("\n")
        if lines[-1] == "":
            lines.pop()
        if lines and max(map(len, lines)) > csv.field_size_limit():
            f.seek(start)                 # let the csv module refuse the over-long cell
            return
        if any(space in chunk for space in SPACES) and edge.search(chunk):
            for line in lines:
                yield [c.strip() for c in line.split(delimiter)]
        else:
            for line in lines:
                yield line.split(delimiter)


# What str.strip() removes, but for CR and LF (the line ends): checked with `in`, which is far faster
# than a regular expression on a non-ASCII chunk. test_importer recomputes it too.
SPACES = ("\t\x0b\x0c\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
          "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")


# Every character whose NFKC form holds one of , ; TAB " ' CR LF (the delimiters and quotes the
# sniffer can choose): ；﹐，＂＇ and 🄁-🄊 (DIGIT COMMA). test_importer recomputes it from unicodedata.
NFKC_UNSAFE = ("\u037e\ufe10\ufe14\ufe50\ufe54\uff02\uff07\uff0c\uff1b\U0001f101\U0001f102\U0001f103"
               "\U0001f104\U0001f105\U0001f106\U0001f107\U0001f108\U0001f109\U0001f10a")


HEADER_SEARCH = 20           # the header is looked for in this many rows at the top
NOTE_WORDS = ("填表说明", "说明", "注：", "注:", "备注：", "备注:")


def _header_key(text: str) -> str:
    """A label as compared with the synonyms: without bracketed notes, spaces, line breaks and *."""
    return re.sub(r"[（(].*?[)）]|\s|\*", "", text)


def _fields(rows: list[list[str]], synonyms: dict, strict: bool = False) -> tuple[dict[int, str], dict[int, str]]:
    """The fields a header of one or two rows names: for each column the lower label, else the upper
    one, else the two read together (户主 over 姓名); returns (column -> field, column -> label).
    Merged labels stand in every cell of their merge (``_book_rows``); a parent label left of its
    children in a CSV is carried right until the next one. ``strict``: two columns naming one field
    (but for one merged label spread over neighbours) are refused."""
    found, labels = {}, {}
    upper = rows[0]
    carried = []
    last = ""
    for c in range(max(len(r) for r in rows)):
        last = upper[c] if c < len(upper) and upper[c] else last
        carried.append(last)
    for c in range(len(carried)):
        options = [r[c] for r in reversed(rows) if c < len(r) and r[c]]
        if len(rows) == 2 and c < len(rows[1]) and rows[1][c]:
            options.append(carried[c] + rows[1][c])
        for text in options:
            field = synonyms.get(_header_key(text))
            if field is None:
                continue
            first = next((col for col, f in found.items() if f == field), None)
            if first is None:
                found[c], labels[c] = field, text
            elif strict and not (labels[first] == text and c == max(found) + 1 and found[max(found)] == field):
                # Not the same merged label spread over neighbouring columns: two columns say one thing.
                raise ImportFileError(f"表头里“{labels[first]}”和“{text}”是同一项，请只保留一列。")
            break
    return found, labels


def _is_note(row: list[str]) -> bool:
    """A row under the header that is not data: 填表说明/注 text, or the column numbers 1 2 3 …"""
    cells = [c for c in row if c]
    if not cells:
        return False
    if cells[0].startswith(NOTE_WORDS):
        return True
    numbers = [re.sub(r"^[(（]?(\d+)[)）]?$", r"\1", c) for c in cells]
    return len(cells) >= 3 and numbers == [str(i) for i in range(1, len(cells) + 1)]


def find_header(rows: Iterator[list[str]], kind: str):
    """Find the header among the first rows, as people draw it: title rows above it; one row, or two
    (parent labels over their children, single columns merged over both rows, either row the richer
    one); a 填表说明 or column-number row under it. Returns (columns, header row numbers, row iterator,
    first data row)."""
    synonyms = {s: field for field, names in SYNONYMS[kind].items() for s in names}
    head = list(itertools.islice(rows, HEADER_SEARCH))
    best = (0, 0, 1)                                     # (fields found, start row, rows in the header)
    for i in range(len(head)):
        single = len(_fields(head[i:i + 1], synonyms)[0])
        if single > best[0]:
            best = (single, i, 1)
        if i + 1 < len(head):
            pair = len(_fields(head[i:i + 2], synonyms)[0])
            below = len(_fields(head[i + 1:i + 2], synonyms)[0])
            # Two rows only when both carry labels: the pair names more than the upper row alone,
            # and the lower row is not a header of its own that names as much.
            if pair > single and pair > below and pair > best[0]:
                best = (pair, i, 2)
            elif pair > single and pair == below and below >= best[0] and single:
                best = (pair, i, 2)       # merged labels repeated below: the upper row is header too
    count, start, height = best
    if count < 2:
        names = "、".join(SYNONYMS[kind][f][0] for f in REQUIRED[kind])
        raise NoHeaderError(f"前 {HEADER_SEARCH} 行里找不到表头：表格至少要有“{names}”这些列。")
    columns, labels = _fields(head[start:start + height], synonyms, strict=True)
    header_rows = list(range(start + 1, start + height + 1))
    missing = [SYNONYMS[kind][f][0] for f in REQUIRED[kind] if f not in columns.values()]
    if missing:
        raise ImportFileError(f"表头（第 {'、'.join(map(str, header_rows))} 行）缺少必需的列：{'、'.join(missing)}。")
    first_data = header_rows[-1] + 1
    while first_data - 1 < len(head) and _is_note(head[first_data - 1]):
        first_data += 1
    rest = itertools.chain(head[first_data - 1:], rows)
    columns_out = {field: (i, f"{_column_letter(i)}列（{labels[i]}）") for i, field in columns.items()}
    return columns_out, header_rows, rest, first_data


def _column_letter(i: int) -> str:
    letters = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        letters = chr(65 + r) + letters
    return letters


def _is_total(row: list[str]) -> bool:
    """A 合计/总计 row: one of its first four cells says so (spaces inside allowed: 合 计)."""
    head = "".join(row[:4])
    if "计" not in head:
        return False
    return any(c.replace(" ", "") in TOTAL_WORDS for c in row[:4])
