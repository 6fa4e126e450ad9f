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

from .shapes import REQUIRED, SYNONYMS, TOTAL_WORDS, ImportFileError


def normalise(value) -> str:
    """A cell as clean text: full-width digits, letters and spaces folded (NFKC), trimmed;
    whole floats from XLSX without their '.0'; dates as ISO."""
    if value is None:
        return ""
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


def open_rows(path: Path) -> tuple[Iterator[list[str]], str]:
    """Rows of a CSV or XLSX file as lists of clean text, and a label of the format found."""
    with open(path, "rb") as f:
        head = f.read(65536)
    if head.startswith(b"PK\x03\x04"):
        return _xlsx_rows(path), "xlsx"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise ImportFileError("这是旧版 Excel（.xls）文件：请另存为 .xlsx 或 CSV 后再导入。")
    if b"\x00" in head[:4096]:
        raise ImportFileError("文件不是表格（CSV 或 xlsx），无法导入。")
    encoding = detect_encoding(head)
    return _csv_rows(path, encoding), {"utf-8-sig": "UTF-8", "utf-8": "UTF-8", "gb18030": "GBK/GB18030"}.get(encoding, encoding)


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


def _xlsx_rows(path: Path) -> Iterator[list[str]]:
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many kinds for a damaged file
        raise ImportFileError(f"xlsx 文件打不开（{type(error).__name__}），请在 Excel/WPS 中重新保存后再试。") from error
    try:
        sheet = book.worksheets[0]
        for row in sheet.iter_rows(values_only=True):
            yield [normalise(c) for c in row]
    finally:
        book.close()


def _header_key(text: str) -> str:
    return re.sub(r"[（(].*?[)）]|\s|\*", "", text)


def find_header(rows: Iterator[list[str]], kind: str):
    """Find the header among the first rows (title rows above it are skipped; a second header row
    under merged cells is folded in). Returns (columns, header row numbers, row iterator, first data row)."""
    synonyms = {s: field for field, names in SYNONYMS[kind].items() for s in names}
    head = list(itertools.islice(rows, 15))

    def matches(row):
        return {i: synonyms[_header_key(c)] for i, c in enumerate(row) if _header_key(c) in synonyms}

    scored = [(len(matches(r)), i) for i, r in enumerate(head)]
    best_score, best = max(scored, key=lambda t: (t[0], -t[1]), default=(0, 0))
    if best_score < 2:
        names = "、".join(SYNONYMS[kind][f][0] for f in REQUIRED[kind])
        raise ImportFileError(f"前 15 行里找不到表头：表格至少要有“{names}”这些列。")
    columns = matches(head[best])
    header_rows = [best + 1]
    labels = {i: head[best][i] for i in columns}
    if best + 1 < len(head):
        below = matches(head[best + 1])
        extra = {i: f for i, f in below.items() if i not in columns and f not in columns.values()}
        if extra:
            columns.update(extra)
            labels.update({i: head[best + 1][i] for i in extra})
            header_rows.append(best + 2)
    seen = {}
    for i, field in sorted(columns.items()):
        if field in seen:
            raise ImportFileError(f"表头里“{labels[seen[field]]}”和“{labels[i]}”是同一项，请只保留一列。")
        seen[field] = i
    missing = [SYNONYMS[kind][f][0] for f in REQUIRED[kind] if f not in seen]
    if missing:
        raise ImportFileError(f"表头缺少必需的列：{'、'.join(missing)}。")
    first_data = header_rows[-1] + 1
    rest = itertools.chain(head[first_data - 1:], rows)
    columns_out = {field: (i, f"{_column_letter(i)}列（{labels[i]}）") for field, i in seen.items()}
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
