"""Large applicant files: checked in a second process (``child_main``) while this one writes, and
loaded in bulk (indexes rebuilt once) from ``BULK_ROWS`` on."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path

from .applicants import _ApplicantRows
from .reading import find_header, open_rows
from .rows import check_rows
from .shapes import ImportFileError, Report, Scope

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

    from ..db import connect

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
