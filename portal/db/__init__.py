"""The db layer: the only code that opens SQLite — connections with the settings every one needs,
write transactions, and the numbered migrations (``portal/db/migrations.py``). It imports nothing
else of the portal and no Flask: the app keeps one connection per request in ``portal/runtime.py``.

Times are ISO 8601 text, all from the portal's clock: instants (``*_at`` columns, audit rows) in UTC
(``Clock.stamp``); window days (``window_start``/``window_end``) as calendar dates in the portal's
zone; a notice's ``publish_at`` in the portal's zone with its offset (``Clock.local_stamp``).
"""

from __future__ import annotations

import contextlib
import sqlite3

import sqlite_utils

from . import migrations_0001, migrations_0006, migrations_0014  # noqa: F401  (they register the steps, in this order)
from .migrations import KEYS_STALE, migrations
from .migrations_0014 import LEDGER_STALE

__all__ = ["KEYS_STALE", "LEDGER_STALE", "connect", "migrate", "migrations", "write_transaction"]


def connect(path: str, *, read_only: bool = False) -> sqlite_utils.Database:
    """Open the database with the settings every connection needs. ``read_only``: a replica's copy
    (``flask replica``), opened without writing anything to it, not even the journal mode."""
    if read_only:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=15, check_same_thread=False)
        return sqlite_utils.Database(conn)
    conn = sqlite3.connect(path, timeout=15, check_same_thread=False)
    db = sqlite_utils.Database(conn)
    db.execute("pragma foreign_keys = on")
    db.execute("pragma busy_timeout = 15000")
    if db.execute("pragma page_count").fetchone()[0] == 0:
        # A new file: 16 KiB pages (fixed by the first write). Bulk imports and index builds ran
        # 18 % faster than with 4 KiB (bench/import); rows here are small, lists read many at once.
        db.execute("pragma page_size = 16384")
    if db.journal_mode != "wal":
        db.enable_wal()
    return db


@contextlib.contextmanager
def write_transaction(db: sqlite_utils.Database):
    """A write transaction that takes the write lock at once (BEGIN IMMEDIATE).

    Staff writes read the audit chain's last hash and append to it; taking the lock first means two
    workers can never both read the same last row; and a deferred transaction that reads first and
    writes later fails at once (SQLITE_BUSY, no waiting) when another worker wrote in between.
    Nested inside another transaction it becomes a savepoint.
    """
    if db.conn.in_transaction:
        with db.atomic():
            yield db
        return
    db.conn.execute("begin immediate")
    try:
        yield db
    except BaseException:
        db.conn.rollback()
        raise
    else:
        db.conn.commit()


def migrate(db: sqlite_utils.Database) -> list[str]:
    """Apply pending migrations; returns the names applied (empty when up to date). A migration that
    leaves ``KEYS_STALE`` in ``meta`` asks the caller to rebuild the search key tables
    (``runtime.upgrade`` does): key making is the domain's, above this layer."""
    pending = [m.name for m in migrations.pending(db)]
    migrations.apply(db)
    return pending
