"""``import_file``: validate a spreadsheet and write it all or nothing, with one audit row."""

from __future__ import annotations

from pathlib import Path

from ..db import write_transaction
from ..domain import audit
from . import parallel
from .applicants import _ApplicantRows
from .parallel import _ApplicantWriter, _check_in_child
from .reading import BOOK_LABELS, find_header, open_book
from .rows import _file_digest, _QuotaRows, _RegionRows, check_rows
from .shapes import (
    KINDS,
    REQUIRED,
    SYNONYMS,
    ImportFileError,
    NoHeaderError,
    Problem,
    Report,
    Scope,
)


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
    sheets = _tables(Path(path), kind, report)
    columns = sheets[0][1]
    digest = _file_digest(path)
    expected = _estimate_rows(Path(path)) if kind == "applicants" and report.encoding not in BOOK_LABELS.values() else 0
    database = _database_file(db)
    # A bulk load skips SQLite's per-row foreign-key lookups: every key it writes comes from the
    # checks (villages and groups read from regions, the campaign looked up, new household ids),
    # under a write lock that keeps them true. The pragma only takes effect outside a transaction.
    nested = db.conn.in_transaction      # inside a caller's transaction: no second process, no pragmas
    bulk = expected >= parallel.BULK_ROWS and not dry_run and not nested
    if bulk:
        db.conn.execute("pragma foreign_keys = off")
    try:
        with write_transaction(db):
            writer = _ApplicantWriter(db, scope.campaign_id, 0 if dry_run or nested else expected, scope.clock.stamp())
            try:
                if expected >= parallel.PARALLEL_ROWS and database and not nested:
                    report = _check_in_child(database, Path(path), scope, report, writer)
                else:
                    classes = {"regions": _RegionRows, "quotas": _QuotaRows, "applicants": _ApplicantRows}
                    handler = classes[kind](db, scope, columns, report)
                    handler.writer = writer
                    for index, (name, sheet_columns, data, first) in enumerate(sheets):
                        if report.sheets:               # a book of sheets: problems are named with theirs
                            handler.start_sheet(index, name, sheet_columns)
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


def _tables(path: Path, kind: str, report: Report) -> list[tuple[str, dict, object, int]]:
    """The sheets that hold a table, each as (name, columns, rows after the header, first data row).
    In a book of several sheets a sheet without a header (notes, a cover) or a hidden one is skipped
    and listed in the report; a sheet whose header lacks a column stops the whole file."""
    book, report.encoding = open_book(path)
    several = len(book) > 1
    tables = []
    for name, rows in book:
        if rows is None:
            report.skipped_sheets.append(f"{name}（隐藏）")
            continue
        try:
            columns, header_rows, data, first = find_header(rows, kind)
        except NoHeaderError:
            if not several:
                raise
            report.skipped_sheets.append(name)
            continue
        except ImportFileError as error:
            raise ImportFileError(f"工作表“{name}”：{error}" if several else str(error)) from error
        tables.append((name, columns, data, first))
        report.header_rows[name] = header_rows[0]
    if not tables:
        raise NoHeaderError(f"{'、'.join(report.skipped_sheets)}这些工作表里都找不到表头：表格至少要有"
                            f"“{'、'.join(SYNONYMS[kind][f][0] for f in REQUIRED[kind])}”这些列。")
    if several:
        report.sheets = [name for name, *_ in tables]
    return tables


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
