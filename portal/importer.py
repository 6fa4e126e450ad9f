"""Importing staff spreadsheets (regions, quotas, applicant households with votes).

One code path behind two doors (``flask --app portal import`` and the console's upload page):
read CSV in UTF-8/GBK/GB18030 or XLSX as it comes from Excel or WPS, find the header row by Chinese
synonyms, validate row by row, and write all or nothing in one transaction. Rows stream through;
writes go in batches; a file with any error rolls back everything it wrote.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import hashlib
import io
import itertools
import operator
import json
import math
import re
import unicodedata
from collections.abc import Iterable, Iterator
from pathlib import Path

import click
from flask.cli import with_appcontext

from . import audit, rules, spreadsheet
from .clock import Clock
from .campaigns import BOTH_DIBAO_AND_WUBAO, get_campaign, get_quota, set_quota
from .db import write_transaction
from .privacy import ID_CHECK, id_hasher, id_number_problem, mask_id, name_pattern, name_problem, normalise_name
from .inputs import parse_int
from .regions import add_region, get_region_row, level_of_code

KINDS = ("regions", "quotas", "applicants")

SYNONYMS = {
    "regions": {
        "code": ("区划代码", "代码"),
        "name": ("名称", "区划名称"),
        "parent": ("上级代码", "上级区划代码"),
    },
    "quotas": {
        "code": ("区划代码", "代码"),
        "name": ("名称", "区划名称", "单位", "乡镇", "村"),
        "persons": ("规模", "指标", "人数", "规模数", "指标数"),
    },
    "applicants": {
        "head_name": ("户主姓名", "户主", "姓名"),
        "id_number": ("身份证号", "身份证号码", "公民身份号码", "户主身份证号"),
        "size": ("家庭人口", "人口", "家庭人口数"),
        "causes": ("致贫原因", "主要致贫原因"),
        "votes": ("得票", "得票数", "票数"),
        "voters_present": ("参评人数", "到会人数"),
        "group": ("村民小组", "组", "小组", "社"),
        "village": ("村", "行政村"),
        "township": ("乡镇", "乡", "镇", "街道"),
        "disabled_member": ("残疾", "有残疾人"),
        "single_child": ("独生子女", "独生子女户"),
        "all_daughters": ("纯女户",),
        "dibao": ("低保户", "低保", "是否低保户", "低保对象"),
        "wubao": ("五保户", "五保", "是否五保户", "五保对象"),
        "income": ("人均纯收入", "家庭人均纯收入", "人均收入"),
        "applied_on": ("申请日期", "申请时间"),
        "proposed": ("拟纳入", "是否入选", "入选"),
    },
}
REQUIRED = {
    "regions": ("code", "name"),
    "quotas": ("persons",),
    "applicants": ("head_name", "id_number", "size", "votes", "voters_present"),
}
TOTAL_WORDS = {"合计", "总计", "小计", "总合计"}
RESERVE_WORDS = ("预留", "机动")
YES = {"是", "√", "✓", "✔", "1", "y", "yes", "有"}
NO = {"", "否", "×", "0", "n", "no", "无"}
CAUSE_KEYS = {label: key for key, (label, _) in rules.CAUSES.items()}
MAX_PROBLEMS = 500
MAX_COUNT = 100_000_000         # the largest number (household size, votes, a quota) a cell may hold
FLAG_VALUES = {**{v: 0 for v in NO}, **{v: 1 for v in YES}}     # exact spellings; others go through row()
BATCH = 5000


class ImportFileError(ValueError):
    """The file cannot be read at all (not a spreadsheet, no header); message in Chinese."""


@dataclasses.dataclass
class Problem:
    row: int
    column: str
    value: str
    message: str
    level: str = "错误"

    def line(self) -> str:
        where = f"第 {self.row} 行" + (f" {self.column}" if self.column else "")
        value = f"“{self.value}”" if self.value else ""
        return f"{self.level}：{where} {value}{self.message}"


@dataclasses.dataclass
class Report:
    kind: str
    filename: str = ""
    encoding: str = ""
    rows: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    problems: list[Problem] = dataclasses.field(default_factory=list)
    more_problems: int = 0
    error_count: int = 0
    written: bool = False

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.level == "错误"]

    @property
    def ok(self) -> bool:
        return self.error_count == 0

    def add(self, problem: Problem) -> None:
        if problem.level == "错误":
            self.error_count += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(problem)
        elif problem.level == "错误":
            self.more_problems += 1

    def summary(self) -> str:
        verb = "已导入" if self.written else "将导入"
        text = f"共 {self.rows} 行：{verb}新增 {self.added}，更新 {self.updated}，不变 {self.unchanged}。"
        if not self.ok:
            n = self.error_count
            text = f"发现 {n} 处错误，整个文件没有导入（一行也没有写入）。请改正后重新上传。"
        return text

    def csv_text(self) -> str:
        out = io.StringIO()
        out.write("\ufeff")
        writer = spreadsheet.writer(out)
        writer.writerow(["行号", "列", "内容", "问题", "类别"])
        for p in self.problems:
            writer.writerow([p.row, p.column, p.value, p.message, p.level])
        if self.more_problems:
            writer.writerow(["", "", "", f"另有 {self.more_problems} 处错误未列出", "错误"])
        return out.getvalue()


# --- Reading ------------------------------------------------------------------------------------


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



# --- The import ---------------------------------------------------------------------------------


@dataclasses.dataclass
class Scope:
    """Where an import may write: the campaign, the region subtree, who is doing it, and the
    portal's clock (application dates default to its today; rows are stamped by it)."""

    campaign_id: int | None
    region_code: str
    actor: str
    role: str
    key: bytes
    clock: Clock
    #: The NAME_LATIN setting: household heads' names may hold Latin letters too.
    latin_names: bool = False

    @property
    def today(self) -> dt.date:
        return self.clock.today()


class _Rollback(Exception):
    pass


def import_file(db, path: Path, *, kind: str, scope: Scope, dry_run: bool = False, filename: str = "") -> Report:
    """Validate a spreadsheet and, when it has no error and this is not a dry run, write it in one
    transaction (with one audit row). The report says what was or would be added and changed.

    A large CSV of applicants is checked in a second process while this one writes (see
    ``_check_in_child``); everything else is checked and written here, batch by batch.
    """
    if kind not in KINDS:
        raise ImportFileError(f"未知的导入类型：{kind}（可选：{', '.join(KINDS)}）")
    report = Report(kind=kind, filename=filename or Path(path).name)
    rows, report.encoding = open_rows(Path(path))
    columns, _, data, first = find_header(rows, kind)
    digest = _file_digest(path)
    expected = _estimate_rows(Path(path)) if kind == "applicants" and report.encoding != "xlsx" else 0
    database = _database_file(db)
    # A bulk load skips SQLite's per-row foreign-key lookups: every key it writes comes from the
    # checks (villages and groups read from regions, the campaign looked up, new household ids),
    # under a write lock that keeps them true. The pragma only takes effect outside a transaction.
    nested = db.conn.in_transaction      # inside a caller's transaction: no second process, no pragmas
    bulk = expected >= BULK_ROWS and not dry_run and not nested
    if bulk:
        db.conn.execute("pragma foreign_keys = off")
    try:
        with write_transaction(db):
            writer = _ApplicantWriter(db, scope.campaign_id, 0 if dry_run or nested else expected, scope.clock.stamp())
            try:
                if expected >= PARALLEL_ROWS and database and not nested:
                    report = _check_in_child(database, Path(path), scope, report, writer)
                else:
                    classes = {"regions": _RegionRows, "quotas": _QuotaRows, "applicants": _ApplicantRows}
                    handler = classes[kind](db, scope, columns, report)
                    handler.writer = writer
                    check_rows(handler, data, first, report)
                    handler.finish()
                if report.ok and not dry_run and not writer.rebuild_indexes():
                    report.add(Problem(0, "", "", "与已登记的户有重复的身份证号，整个文件没有导入。请核对后重新导入。"))
            finally:
                writer.restore_cache()
            if not report.ok or dry_run:
                raise _Rollback
            audit.record(db, actor=scope.actor, role=scope.role, action=f"import.{kind}", object_type="import",
                         object_id=digest[:16], region_code=scope.region_code,
                         after={"file": report.filename, "sha256": digest, "rows": report.rows, "added": report.added,
                                "updated": report.updated, "unchanged": report.unchanged,
                                "campaign_id": scope.campaign_id}, key=scope.key, clock=scope.clock)
            report.written = True
    except _Rollback:
        pass
    finally:
        if bulk:
            db.conn.execute("pragma foreign_keys = on")
    return report


def check_rows(handler: _Rows, data: Iterator[list[str]], first: int, report: Report) -> None:
    """Feed the data rows to a handler with their spreadsheet row numbers; blank rows are skipped
    and totals rows kept aside to be checked against the sums.

    Rows go in blocks of BATCH. A handler with a ``batch`` method gets a whole block as columns when
    the block has no blank or totals row and all its rows are equally long; when it declines (or
    there is no such method), the block goes row by row."""
    fast = getattr(handler, "batch", None)
    number = first
    while block := list(itertools.islice(data, BATCH)):
        if fast is not None and len(set(map(len, block))) == 1 and all(map(any, block)):
            cols = list(zip(*block))
            if not any("计" in "".join(col) for col in cols[:4]) and fast(number, cols, len(block)):
                report.rows += len(block)
                number += len(block)
                continue
        for cells in block:
            if not any(cells):
                pass
            elif _is_total(cells):
                handler.total(number, cells)
            else:
                report.rows += 1
                handler.row(number, cells)
            number += 1


def _database_file(db) -> str:
    """The main database's file name ('' for an in-memory database)."""
    return next((r[2] for r in db.conn.execute("pragma database_list") if r[1] == "main"), "")


def _estimate_rows(path: Path) -> int:
    """Rows in a CSV, from its size and the length of its first lines (cheap; a guess that only
    chooses how to import, never what)."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(65536)
    lines = head.count(b"\n")
    return size // max(1, len(head) // lines) if lines > 10 else 0


# --- Large applicant files: check in a second process, write in this one -----------------------

PARALLEL_ROWS = 20_000      # below this, starting a second interpreter (~0.5 s) costs more than it saves
BULK_ROWS = 100_000         # from here, the household indexes are rebuilt once instead of updated per row


def _iso_stamp(text: str) -> str:
    """A clock stamp, checked before it is written into the statement (it is the same in every row)."""
    return dt.datetime.fromisoformat(text).isoformat(timespec="seconds")


class _ApplicantWriter:
    """Writes checked applicant rows in batches. For a bulk load (at least BULK_ROWS new rows and
    no fewer than half the households already stored) it drops the households table's indexes for
    the length of the transaction and builds them again at the end: one sort instead of a million
    B-tree inserts (measured 4 s against 18 s for 1M rows). It is all one transaction: readers keep
    seeing the indexes they had, a rollback brings them back, and the unique ID index, rebuilt,
    checks every row again."""

    def __init__(self, db, campaign_id: int | None, expected_rows: int, created_at: str):
        self.conn = db.conn
        # The same in every row, so written into the statement once rather than bound per row.
        self.insert = (
            "insert into households (id, campaign_id, village_code, group_code, head_name, size, causes, "
            "income_per_capita, disabled_member, single_child, all_daughters, dibao, wubao, applied_on, id_hash, "
            f"id_masked, created_at) values (?1, {int(campaign_id or 0)}, ?2, ?3, ?4, ?5, ?6, ?7, ?8 & 1, ?8 >> 1 & 1, "
            f"?8 >> 2 & 1, ?8 >> 3 & 1, ?8 >> 4 & 1, ?9, ?10, ?11, '{_iso_stamp(created_at)}')")
        # ?8: the three 三优先 flags, then 低保 and 五保, in one number (one bind, not five)
        self.dropped: list[tuple[str, str]] = []
        self.cache = None
        if expected_rows >= BULK_ROWS:
            stored = self.conn.execute("select count(*) from households").fetchone()[0]
            self.cache = self.conn.execute("pragma cache_size").fetchone()[0]
            self.conn.execute("pragma cache_size = -65536")            # 64 MiB while loading
            if stored <= 2 * expected_rows:
                self.dropped = self.conn.execute(
                    "select name, sql from sqlite_master where type = 'index' and tbl_name = 'households' "
                    "and sql is not null").fetchall()
                try:
                    for name, _ in self.dropped:
                        self.conn.execute(f'drop index "{name}"')
                except BaseException:
                    self.restore_cache()
                    raise

    def __call__(self, households: Iterable[tuple], votes: Iterable[tuple], updates: list[tuple]) -> None:
        """Insert new households with their votes; apply updates (re-imported IDs whose cells changed)."""
        conn = self.conn
        if households:
            conn.executemany(self.insert, households)
            conn.executemany("insert into votes (household_id, votes, voters_present) values (?, ?, ?)", votes)
        if updates:
            conn.executemany(
                "update households set head_name = ?, size = ?, group_code = ?, causes = ?, income_per_capita = ?, "
                "disabled_member = ?, single_child = ?, all_daughters = ?, dibao = ?, wubao = ? where id = ?",
                [(*u[:10], u[12]) for u in updates])
            conn.executemany(
                "insert into votes (household_id, votes, voters_present) values (?, ?, ?) on conflict (household_id) "
                "do update set votes = excluded.votes, voters_present = excluded.voters_present",
                [(u[12], u[10], u[11]) for u in updates])

    def rebuild_indexes(self) -> bool:
        """Build the dropped indexes again, inside the transaction. False if the unique ID index
        finds a duplicate (the checks before should make that impossible)."""
        import sqlite3

        try:
            for _, sql in self.dropped:
                self.conn.execute(sql)
        except sqlite3.IntegrityError:
            return False
        self.dropped = []
        return True

    def restore_cache(self) -> None:
        if self.cache is not None:
            self.conn.execute(f"pragma cache_size = {int(self.cache)}")
            self.cache = None


def _check_in_child(database: str, path: Path, scope: Scope, report: Report, writer: _ApplicantWriter) -> Report:
    """Check the file in a second process while this one writes what it sends.

    The child is a fresh interpreter (``python -c``), not a fork: the web server may have threads,
    and multiprocessing's spawn would re-run the caller's main script. It reads the same database
    (WAL) after this process took the write lock, so it sees exactly what the transaction started
    from, and sends pickled messages on its stdout: batches of ready rows, then the report. It
    stops sending rows once it finds an error but goes on checking, so the report is complete. If
    it fails or dies, this raises and the transaction rolls back: nothing is half-written.
    """
    import gc
    import os
    import pickle
    import subprocess
    import sys

    package_parent = str(Path(__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package_parent, os.environ.get("PYTHONPATH")]))}
    # Started in the package's own directory: `python -c` looks in the working directory first,
    # and a stray portal/ or csv.py there must not be what runs (and what this process unpickles).
    child = subprocess.Popen([sys.executable, "-c", "from portal.importer import child_main; child_main()"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, cwd=package_parent)
    collecting = gc.isenabled()
    gc.disable()          # a million unpickled tuples hold no cycles; scanning them is time lost
    finished = False
    try:
        try:
            pickle.dump((database, str(path.resolve()), scope, report.filename), child.stdin)
            child.stdin.close()
        except BrokenPipeError:           # the child died at once: the read below says so
            pass
        while True:
            try:
                message = pickle.load(child.stdout)
            except (EOFError, pickle.UnpicklingError):
                child.wait()
                raise RuntimeError(f"import checker process ended without a result (exit {child.returncode})") from None
            if message[0] == "batch":
                households, votes, updates = message[1:]
                writer(zip(*households) if households else (), zip(households[0], *votes) if households else (), updates)
            elif message[0] == "done":
                finished = True
                return message[1]
            elif message[0] == "refused":
                raise ImportFileError(message[1])
            else:
                raise RuntimeError(f"import checker process failed:\n{message[1]}")
    finally:
        if collecting:
            gc.enable()
        child.stdout.close()
        if not finished:
            child.kill()                  # no waiting with the write lock held
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def child_main() -> None:
    """The checking side of ``_check_in_child``: arguments on stdin, messages on stdout."""
    import gc
    import os
    import pickle
    import sys
    import traceback

    from .db import connect

    gc.disable()                          # a short-lived process that makes no cycles
    channel = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    sys.stdout = sys.stderr               # nothing else may write into the channel

    def send(message) -> None:
        pickle.dump(message, channel, protocol=pickle.HIGHEST_PROTOCOL)

    try:
        database, path, scope, filename = pickle.load(sys.stdin.buffer)
        db = connect(database)
        rows, encoding = open_rows(Path(path))
        columns, _, data, first = find_header(rows, "applicants")
        report = Report(kind="applicants", filename=filename, encoding=encoding)
        handler = _ApplicantRows(db, scope, columns, report)
        # Rows go as columns: a third less to unpickle on the writer's side, which is the busier one.
        # The votes' household ids are the households' own, so only votes and voters are sent.
        handler.writer = lambda households, votes, updates: send(
            ("batch", list(zip(*households)), list(zip(*votes))[1:], updates))
        check_rows(handler, data, first, report)
        handler.finish()
        send(("done", report))
    except ImportFileError as error:
        send(("refused", str(error)))
    except BrokenPipeError:
        pass                              # the writer gave up; it rolls back
    except BaseException:
        send(("failed", traceback.format_exc()))
    finally:
        try:
            channel.close()
        except BrokenPipeError:
            pass


def _file_digest(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class _Rows:
    writer = None       # where checked rows go (applicants only): _ApplicantWriter or the child's pipe

    def __init__(self, db, scope: Scope, columns: dict, report: Report):
        self.db, self.scope, self.columns, self.report = db, scope, columns, report
        self.totals: list[tuple[int, list[str]]] = []

    def cell(self, row: list[str], field: str) -> str:
        col = self.columns.get(field)
        return row[col[0]] if col and col[0] < len(row) else ""

    def problem(self, number: int, field: str | None, value: str, message: str, level: str = "错误") -> None:
        label = self.columns[field][1] if field in self.columns else ""
        self.report.add(Problem(number, label, value, message, level))

    def integer(self, number, row, field, minimum=0) -> int | None:
        value = self.cell(row, field)
        result = parse_int(value, high=MAX_COUNT)
        if result is None:
            digits = value.isascii() and value.isdigit()
            self.problem(number, field, value, f"数字太大（最多 {MAX_COUNT}）。" if digits else
                         "应填整数（用 0-9 这十个数字）。" if value else "不能为空。")
            return None
        if result < minimum:
            self.problem(number, field, value, f"不能小于 {minimum}。")
            return None
        return result

    def total(self, number: int, row: list[str]) -> None:
        self.totals.append((number, row))

    def check_total(self, field: str, computed: int, label: str) -> None:
        for number, row in self.totals:
            value = self.cell(row, field)
            if value and value != str(computed):
                self.problem(number, field, value, f"合计行的{label}与逐行相加的 {computed} 不一致，请核对。")

    def finish(self) -> None:
        pass


class _RegionRows(_Rows):
    def row(self, number, row):
        code, name, parent = self.cell(row, "code"), self.cell(row, "name"), self.cell(row, "parent")
        level = level_of_code(code)
        if level is None:
            return self.problem(number, "code", code, "区划代码应为 6、9、12 或 15 位数字。")
        if not name:
            return self.problem(number, "name", name, "名称不能为空。")
        if not code.startswith(self.scope.region_code):
            return self.problem(number, "code", code, "不在您的管辖范围内。")
        parent = parent or (code[:-3] if level != "county" else "")
        if parent and parent != code[:-3]:
            return self.problem(number, "parent", parent, f"上级代码应为 {code[:-3]}（区划代码去掉最后三位）。")
        if parent and get_region_row(self.db, parent) is None:
            return self.problem(number, "parent", parent, "上级区划不存在：请把上级放在前面的行，或先导入上级。")
        existing = get_region_row(self.db, code)
        if existing is None:
            add_region(self.db, code, name, parent or None)
            self.report.added += 1
        elif existing["name"] != name:
            self.db.execute("update regions set name = ? where code = ?", [name, code])
            self.report.updated += 1
        else:
            self.report.unchanged += 1


class _QuotaRows(_Rows):
    def __init__(self, *args):
        super().__init__(*args)
        self.sum = 0
        self.reserve = None
        self.campaign = get_campaign(self.db, self.scope.campaign_id) if self.scope.campaign_id else None
        if self.campaign is None:
            raise ImportFileError("导入规模指标要指定批次（--campaign）。")
        self.pending: list[tuple[int, dict, int]] = []

    def row(self, number, row):
        code, name = self.cell(row, "code"), self.cell(row, "name")
        persons = self.integer(number, row, "persons")
        if persons is None:
            return
        if not code and any(w in name for w in RESERVE_WORDS):
            self.reserve = (number, persons)
            return
        region = get_region_row(self.db, code) if code else self._by_name(number, name)
        if region is None:
            if code:
                self.problem(number, "code", code, "区划代码不存在。")
            return
        if not region["code"].startswith(self.scope.region_code) or not region["code"].startswith(self.campaign["county_code"]):
            return self.problem(number, "code" if code else "name", code or name, "不在您的管辖范围内或不在本批次所属的县。")
        self.sum += persons
        self.pending.append((number, region, persons))

    def _by_name(self, number, name):
        found = list(self.db.query("select * from regions where name = ? and code like ? and level != 'group'",
                                   [name, self.campaign["county_code"] + "%"]))
        if len(found) != 1:
            self.problem(number, "name", name, "找不到这个地名。" if not found else "有重名的地方，请改填区划代码。")
            return None
        return found[0]

    def finish(self):
        # Parents before children, so each split is checked against a quota that is already set.
        for number, region, persons in sorted(self.pending, key=lambda p: len(p[1]["code"])):
            current = get_quota(self.db, self.campaign["id"], region["code"])
            reserve = current["reserve"] if current else 0
            if self.reserve and region["level"] == "county":
                reserve = self.reserve[1]
            try:
                set_quota(self.db, self.campaign["id"], region["code"], persons, reserve)
            except rules.QuotaError as error:
                self.problem(number, "persons", str(persons), str(error))
                continue
            if current is None:
                self.report.added += 1
            elif (current["persons"], current["reserve"]) != (persons, reserve):
                self.report.updated += 1
            else:
                self.report.unchanged += 1
        if self.reserve and not any(r["level"] == "county" for _, r, _ in self.pending):
            county = self.campaign["county_code"]
            own = get_quota(self.db, self.campaign["id"], county)
            if own is None:
                self.problem(self.reserve[0], "persons", str(self.reserve[1]), "县的规模指标还没有下达，无法设置预留名额。")
            else:
                try:
                    set_quota(self.db, self.campaign["id"], county, own["persons"], self.reserve[1])
                except rules.QuotaError as error:
                    self.problem(self.reserve[0], "persons", str(self.reserve[1]), str(error))
                else:
                    self.report.updated += own["reserve"] != self.reserve[1]
        reserve = self.reserve[1] if self.reserve else 0
        for number, row in self.totals:
            value = self.cell(row, "persons")
            if value and value not in (str(self.sum), str(self.sum + reserve)):
                self.problem(number, "persons", value, f"合计行与逐行相加的 {self.sum} 人不一致，请核对。")


class _ApplicantRows(_Rows):
    def __init__(self, *args):
        super().__init__(*args)
        scope = self.scope
        self.campaign = get_campaign(self.db, scope.campaign_id) if scope.campaign_id else None
        if self.campaign is None:
            raise ImportFileError("导入申请户要指定批次（--campaign）。")
        county = self.campaign["county_code"]
        self.villages: dict[str, list[dict]] = {}
        for r in self.db.query("select v.code, v.name, t.name as township from regions v join regions t "
                               "on t.code = v.parent_code where v.level = 'village' and v.code like ?", [county + "%"]):
            self.villages.setdefault(r["name"], []).append(r)
        self.groups = {(r["parent_code"], r["name"]): r["code"] for r in self.db.query(
            "select code, name, parent_code from regions where level = 'group' and code like ?", [county + "%"])}
        self.existing: dict[str, tuple] = {}
        for r in self.db.query(
                "select h.id, h.id_hash, h.village_code, h.head_name, h.size, h.group_code, h.causes, "
                "h.income_per_capita, h.disabled_member, h.single_child, h.all_daughters, h.dibao, h.wubao, "
                "v.votes, v.voters_present "
                "from households h left join votes v on v.household_id = h.id "
                "where h.campaign_id = ? and h.id_hash is not null", [self.campaign["id"]]):
            self.existing[r["id_hash"]] = r
        # Households in a published ranking (the vote of record): their data is not changed by an import.
        self.ranked = {r["household_id"] for r in self.db.query(
            "select r.household_id from rankings r join lists l on l.id = r.list_id where l.campaign_id = ?",
            [self.campaign["id"]])}
        # ID hash -> first row, keyed by the hash's first 16 bytes (a third of the hex string's
        # memory at a million rows; a false match would need a 128-bit collision).
        self.seen: dict[bytes, int] = {}
        self.next_id = (next(self.db.query("select max(id) as m from households"))["m"] or 0) + 1
        self.households, self.votes, self.updates = [], [], []
        self.persons = 0
        self.proposed: dict[str, int] = {}
        self.hash_id = id_hasher(scope.key)
        self.inner, self.outer = self.hash_id.states
        self.default_village = scope.region_code if level_of_code(scope.region_code) == "village" else None
        self.village_names = {c["code"]: c["name"] for cs in self.villages.values() for c in cs}
        self.village_cache: dict[tuple[str, str], str] = {}
        self.causes_cache: dict[str, str] = {}
        self.today = scope.today.isoformat()
        self.name_ok = name_pattern(scope.latin_names).fullmatch
        self.has_dates = "applied_on" in self.columns
        order = ("head_name", "id_number", "size", "causes", "votes", "voters_present", "group", "disabled_member",
                 "single_child", "all_daughters", "dibao", "wubao", "income", "proposed", "village", "township")
        self.width = max(i for i, _ in self.columns.values()) + 1
        # A field the file does not have reads an empty cell that pick() appends to every row (the
        # cell after the last known column may be a 备注 column the file does have).
        self.indexes = [self.columns[f][0] if f in self.columns else None for f in order]
        self._getter = operator.itemgetter(*(-1 if i is None else i for i in self.indexes))
        if self.default_village:
            self.village_cache[("", "")] = self.default_village

    def pick(self, row: list[str]) -> tuple:
        if len(row) < self.width:
            row.extend([""] * (self.width - len(row)))
        row.append("")
        return self._getter(row)

    def batch(self, number: int, cols: list[tuple[str, ...]], n: int) -> bool:
        """The fast path for a block of n consecutive rows given as columns: every check of row()
        done a column at a time with C-level built-ins, for the usual case where every cell is
        clean. Returns False, having changed nothing, as soon as any cell is not plainly right (an
        error, a hint, a village or cause not seen before, a re-imported ID ...); the caller then
        sends the block through row(), which finds and words the problem."""
        if self.has_dates or self.report.error_count:
            return False
        blank = ("",) * n
        names, raw_ids, sizes, causes, votes, voters, groups, disabled, single, daughters, dibao, wubao, incomes, \
            proposed, village_names, townships = (blank if i is None or i >= len(cols) else cols[i] for i in self.indexes)
        if not all(map(self.name_ok, names)) or any(proposed):
            return False
        ids = list(map(str.upper, raw_ids))
        bodies = [i[:17] for i in ids]
        digits = "".join(bodies)
        if set(map(len, ids)) != {18} or not (digits.isdigit() and digits.isascii()):
            return False
        if [ID_CHECK[2 * int(b, 13) % 11] for b in bodies] != list(map(operator.itemgetter(17), ids)):
            return False
        numbers = []
        for column, least in ((sizes, 1), (votes, 0), (voters, 1)):
            digits = "".join(column)
            if not (all(column) and digits.isdigit() and digits.isascii()):
                return False
            values = list(map(int, column))
            if min(values) < least:
                return False
            numbers.append(values)
        sizes, votes, voters = numbers
        if any(map(operator.gt, votes, voters)):
            return False
        villages = list(map(self.village_cache.get, zip(village_names, townships)))
        causes = list(map(self.causes_cache.get, causes))
        if None in villages or None in causes:
            return False
        if not any(incomes):
            incomes = [0.0] * n
        elif not all(incomes) or "," in "".join(incomes):
            return False
        else:
            try:
                incomes = list(map(float, incomes))
            except ValueError:
                return False
            if min(incomes) < 0 or not all(map(math.isfinite, incomes)):
                return False
        flags = [list(map(FLAG_VALUES.get, column)) for column in (disabled, single, daughters, dibao, wubao)]
        if any(None in column for column in flags) or any(map(operator.and_, flags[3], flags[4])):
            return False
        group_codes = [None] * n
        if any(groups):
            group_codes = [self.groups.get((v, g)) if g else None for v, g in zip(villages, groups)]
            if any(g and c is None for g, c in zip(groups, group_codes)):
                return False
        inner, outer = self.inner.copy, self.outer.copy
        hashes = []
        for value in map(str.encode, ids):
            mac = inner()
            mac.update(value)
            mac_outer = outer()
            mac_outer.update(mac.digest())
            hashes.append(mac_outer.hexdigest())
        keys = [bytes.fromhex(h[:32]) for h in hashes]
        if len(set(keys)) != n or not self.seen.keys().isdisjoint(keys) or not self.existing.keys().isdisjoint(hashes):
            return False
        # Every cell is right: record the block.
        self.seen.update(zip(keys, range(number, number + n)))
        household_ids = range(self.next_id, self.next_id + n)
        self.next_id += n
        masks = ["**************" + i[-4:] for i in ids]
        packed = [a | b << 1 | c << 2 | d << 3 | e << 4 for a, b, c, d, e in zip(*flags)]
        self.households.extend(zip(household_ids, villages, group_codes, names, sizes, causes, incomes, packed,
                                   itertools.repeat(self.today, n), hashes, masks))
        self.votes.extend(zip(household_ids, votes, voters))
        self.persons += sum(sizes)
        self.report.added += n
        if len(self.households) >= BATCH:
            self.flush()
        return True

    def village_of(self, number, name: str, township: str) -> str | None:
        """The village code for a row's 村 (and 乡镇) cells, or None with a problem reported."""
        if not name:
            if self.default_village:
                return self.default_village
            self.problem(number, "village" if "village" in self.columns else None, "",
                         "没有填村名：表格要有“村”列，或在村的页面导入。")
            return None
        candidates = self.villages.get(name, [])
        if township:
            candidates = [c for c in candidates if c["township"] == township]
        if len(candidates) != 1:
            msg = "在本县找不到这个村。" if not candidates else "本县有重名的村，请加上“乡镇”列。"
            self.problem(number, "village", name, msg)
            return None
        code = candidates[0]["code"]
        if not code.startswith(self.scope.region_code):
            self.problem(number, "village", name, "不在您的管辖范围内。")
            return None
        self.village_cache[(name, township)] = code
        return code

    def flag(self, number, row, field) -> int:
        value = self.cell(row, field).lower()
        if value in YES:
            return 1
        if value not in NO:
            self.problem(number, field, value, "请填“是”或“否”（也可用 √ 表示是）。")
        return 0

    def row(self, number, row):
        # Hot path (a million rows must go through in seconds): plain locals, one pass, and the
        # full checks (self.integer, self.flag ...) only for a cell the quick test does not accept.
        report = self.report
        errors_before = report.error_count
        name, raw_id, size_text, causes_text, votes_text, voters_text, group_name, disabled, single, daughters, \
            dibao, wubao, income_text, proposed, village_name, township = self.pick(row)
        if not self.name_ok(name):
            name = normalise_name(name)
            if problem := name_problem(name, self.scope.latin_names):
                self.problem(number, "head_name", "".join(c if c.isprintable() else "?" for c in name), problem)
        id_value = raw_id.replace(" ", "").upper()
        id_hash = None
        body = id_value[:17]            # valid_id18, inlined
        if len(id_value) == 18 and body.isdigit() and body.isascii() and ID_CHECK[2 * int(body, 13) % 11] == id_value[17]:
            mac = self.inner.copy()     # id_hasher, inlined
            mac.update(id_value.encode())
            outer = self.outer.copy()
            outer.update(mac.digest())
            id_hash = outer.hexdigest()
        elif not id_value:
            self.problem(number, "id_number", "", "身份证号不能为空（用于查重，网上不公开）。")
        elif problem := id_number_problem(id_value):
            if "科学计数法" in problem:
                problem = ("身份证号被 Excel 变成了科学计数法，后几位已经丢失：请把这一列设为“文本”格式，"
                           "重新填写身份证号后再导入。")
            self.problem(number, "id_number", raw_id if "E+" in id_value else mask_id(id_value), problem)
        else:
            if len(id_value) == 15:
                self.problem(number, "id_number", mask_id(id_value), "这是 15 位旧身份证号，已接受，请核对是否已换发新证。", "提示")
            id_hash = self.hash_id(id_value)
        if id_hash is not None:
            first = self.seen.setdefault(bytes.fromhex(id_hash[:32]), number)
            if first != number:
                self.problem(number, "id_number", mask_id(id_value),
                             f"与第 {first} 行是同一个身份证号：同一人不能登记两次（可能拆户或空挂户）。")
                id_hash = None
        size = int(size_text) if size_text.isascii() and size_text.isdigit() and len(size_text) < 7 else 0
        if size < 1:
            size = self.integer(number, row, "size", 1)
        votes = int(votes_text) if votes_text.isascii() and votes_text.isdigit() and len(votes_text) < 7 \
            else self.integer(number, row, "votes")
        voters = int(voters_text) if voters_text.isascii() and voters_text.isdigit() and len(voters_text) < 7 else 0
        if voters < 1:
            voters = self.integer(number, row, "voters_present", 1)
        if votes is not None and voters is not None and votes > voters:
            self.problem(number, "votes", str(votes), f"得票数不能多于参评人数（{voters}）。")
        village = self.village_cache.get((village_name, township)) or self.village_of(number, village_name, township)
        causes_json = self.causes_cache.get(causes_text)
        if causes_json is None:
            causes_json = self.parse_causes(number, causes_text)
        if not income_text:
            income = 0.0
        elif income_text.isascii() and income_text.isdigit() and len(income_text) < 16:
            income = float(income_text)
        else:
            try:
                income = float(income_text.replace(",", ""))
                if income < 0 or not math.isfinite(income) or not income_text.isascii():
                    raise ValueError
            except ValueError:
                self.problem(number, "income", income_text, "人均纯收入应填不小于 0 的数字。")
                income = 0.0
        applied_on = self._date(number, row) if self.has_dates else self.today
        no = NO
        flags = (0 if disabled in no else self.flag(number, row, "disabled_member"),
                 0 if single in no else self.flag(number, row, "single_child"),
                 0 if daughters in no else self.flag(number, row, "all_daughters"),
                 0 if dibao in no else self.flag(number, row, "dibao"),
                 0 if wubao in no else self.flag(number, row, "wubao"))
        if flags[3] and flags[4]:
            self.problem(number, "wubao", wubao, BOTH_DIBAO_AND_WUBAO)
        group = None
        if group_name and village:
            group = self.groups.get((village, group_name))
            if group is None:
                self.problem(number, "group", group_name, "本村没有这个村民小组，已按“不分组”导入。", "提示")
        if proposed and village and size and self.flag(number, row, "proposed"):
            self.proposed[village] = self.proposed.get(village, 0) + size
        if size:
            self.persons += size          # the totals row is checked against every row's size
        if report.error_count > errors_before or id_hash is None or causes_json is None:
            return
        old = self.existing.get(id_hash)
        if old is None:
            hid = self.next_id
            self.next_id = hid + 1
            self.households.append((hid, village, group, name, size, causes_json, income,
                                    flags[0] | flags[1] << 1 | flags[2] << 2 | flags[3] << 3 | flags[4] << 4,
                                    applied_on, id_hash,
                                    "*" * (len(id_value) - 4) + id_value[-4:]))
            self.votes.append((hid, votes, voters))
            report.added += 1
            if len(self.households) >= BATCH:
                self.flush()
            return
        if old["village_code"] != village:
            place = self.village_names.get(old["village_code"], old["village_code"])
            self.problem(number, "id_number", mask_id(id_value),
                         f"这个身份证号已登记在{place}的“{old['head_name']}”户：同一人不能在两处登记（可能拆户或空挂户）。")
            return
        fields = (name, size, group, causes_json, income, *flags, votes, voters)
        current = (old["head_name"], old["size"], old["group_code"], old["causes"], old["income_per_capita"],
                   old["disabled_member"], old["single_child"], old["all_daughters"], old["dibao"], old["wubao"],
                   old["votes"], old["voters_present"])
        if current == fields:
            report.unchanged += 1
            return
        if old["id"] in self.ranked:
            self.problem(number, "head_name", name, "这户已列入公示时的票决排名，信息不能通过导入修改；"
                         "如登记有误，请按程序更正名单。")
            return
        self.updates.append((*fields, old["id"]))
        report.updated += 1
        if len(self.updates) >= BATCH:
            self.flush()

    def parse_causes(self, number, text) -> str | None:
        causes = []
        ok = True
        for label in re.split(r"[、,，;；/\s]+", text):
            if not label:
                continue
            key = CAUSE_KEYS.get(label)
            if key is None:
                self.problem(number, "causes", label, "不是规定的致贫原因（" + "、".join(CAUSE_KEYS) + "）。")
                ok = False
            elif key not in causes:
                causes.append(key)
        if not ok:
            return None
        self.causes_cache[text] = result = json.dumps(causes)
        return result

    def _date(self, number, row) -> str:
        text = self.cell(row, "applied_on")
        if not text:
            return self.scope.today.isoformat()
        m = re.fullmatch(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?", text)
        try:
            return dt.date(*map(int, m.groups())).isoformat() if m else dt.date.fromisoformat(text).isoformat()
        except (ValueError, TypeError):
            self.problem(number, "applied_on", text, "日期格式不对，请写成 2026-03-01。")
            return self.scope.today.isoformat()

    def flush(self):
        """Hand the checked rows to the writer, unless an error means nothing will be written."""
        if not self.report.error_count and (self.households or self.updates):
            self.writer(self.households, self.votes, self.updates)
        self.households, self.votes, self.updates = [], [], []

    def finish(self):
        self.flush()
        self.check_total("size", self.persons, "家庭人口")
        for village, persons in self.proposed.items():
            quota = get_quota(self.db, self.campaign["id"], village)
            name = self.village_names.get(village, village)
            try:
                rules.check_selection_within_quota(persons, quota["persons"] if quota else None, name)
            except rules.QuotaError as error:
                self.report.add(Problem(0, "拟纳入", "", str(error)))


# --- The command ----------------------------------------------------------------------------------


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--kind", required=True, type=click.Choice(KINDS), help="What the file holds.")
@click.option("--campaign", "campaign_id", type=int, help="Campaign id (quotas and applicants).")
@click.option("--region", "region_code", default="", help="Only accept rows inside this region (default: the campaign's county).")
@click.option("--dry-run", is_flag=True, help="Validate and report what would change; write nothing.")
@click.option("--report", "report_path", type=click.Path(dir_okay=False, path_type=Path), help="Also write the report as CSV.")
@with_appcontext
def import_command(file, kind, campaign_id, region_code, dry_run, report_path):
    """Import a CSV (UTF-8/GBK) or XLSX spreadsheet: all rows or none (exit 1 on any error)."""
    from flask import current_app

    from . import clock
    from .campaigns import id_key
    from .db import get_db

    db = get_db()
    if kind != "regions" and campaign_id is None:
        raise click.ClickException("--campaign is required for quotas and applicants.")
    if campaign_id is not None:
        campaign = get_campaign(db, campaign_id)
        if campaign is None:
            raise click.ClickException(f"批次 {campaign_id} 不存在。")
        region_code = region_code or campaign["county_code"]
    scope = Scope(campaign_id, region_code, "命令行", "cli", id_key(), clock.current(), current_app.config["NAME_LATIN"])
    try:
        report = import_file(db, file, kind=kind, scope=scope, dry_run=dry_run)
    except ImportFileError as error:
        raise click.ClickException(str(error))
    for problem in report.problems:
        click.echo(problem.line())
    if report.more_problems:
        click.echo(f"……另有 {report.more_problems} 处错误未列出。")
    if report_path:
        report_path.write_text(report.csv_text(), encoding="utf-8")
    click.echo(f"{report.filename}（{report.encoding}）：" + report.summary() + ("（试运行，没有写入）" if dry_run and report.ok else ""))
    if not report.ok:
        raise SystemExit(1)
