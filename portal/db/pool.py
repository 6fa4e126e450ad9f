"""Connections kept for reuse, per process (issue 22, item 1): opening one and reading the schema
(every table's page-generation triggers included) cost about a third of a small page's time.

A connection is taken for one request (or one page-cache lookup) and given back at its end, rolled
back if a transaction was left open and with foreign keys on again. It is reused only while the
database file is the one it was opened on — same device, inode and status-change time — so a
file replaced under it (a replica swapping in a restored copy, a restore, a test making a new
database where an old one was) is never read through an old connection. At most ``size`` are kept
per file, for the ``FILES`` files used last; the others are closed. A forked child never uses, nor closes, its parent's connections
(closing the last connection of a WAL database may checkpoint it, and the parent still has it open).
"""

from __future__ import annotations

import collections
import os
import threading

import sqlite_utils

from . import connect


def file_identity(path: str, read_only: bool = False) -> tuple:
    """Which file ``path`` is now: replaced, or made anew where an old one was, it is another."""
    st = os.stat(path)
    return path, read_only, st.st_dev, st.st_ino, st.st_ctime_ns


class Pool:
    #: Files whose connections are kept at once (a portal has one; a test suite makes hundreds, and
    #: must not keep a file descriptor open for each).
    FILES = 4

    def __init__(self, size: int = 8):
        self.size = size
        self.lock = threading.Lock()
        # (path, read_only) -> (identity, connections), the file used last at the end
        self.free: collections.OrderedDict[tuple, tuple[tuple, list]] = collections.OrderedDict()
        self.inherited: list = []       # a parent's connections, kept (never closed) after a fork
        os.register_at_fork(after_in_child=self._forked)

    def _forked(self) -> None:
        self.lock = threading.Lock()
        self.inherited += [db for _, dbs in self.free.values() for db in dbs]
        self.free = collections.OrderedDict()

    def take(self, path: str, *, read_only: bool = False) -> sqlite_utils.Database:
        try:
            ident = file_identity(path, read_only)
        except OSError:                     # no file yet: connect makes it; not kept
            db = connect(path, read_only=read_only)
            db.pool_identity = None
            return db
        stale = []
        with self.lock:
            kept = self.free.get((path, read_only))
            if kept is not None and kept[0] != ident:
                stale = kept[1]
                del self.free[(path, read_only)]
            elif kept is not None and kept[1]:
                return kept[1].pop()
        for old in stale:
            old.close()
        db = connect(path, read_only=read_only)
        db.pool_identity = ident
        return db

    def give(self, db: sqlite_utils.Database, *, broken: bool = False) -> None:
        ident = getattr(db, "pool_identity", None)
        if ident is not None and not broken:
            try:
                if db.conn.in_transaction:
                    db.conn.rollback()
                db.conn.execute("pragma foreign_keys = on")
                reset = True
            except Exception:  # noqa: BLE001 - a connection that cannot be reset is not kept
                reset = False
            # Kept under the identity it was opened on; ``take`` drops it if the file has changed since.
            if reset:
                evicted = []
                with self.lock:
                    kept = self.free.setdefault((ident[0], ident[1]), (ident, []))
                    self.free.move_to_end((ident[0], ident[1]))
                    while len(self.free) > self.FILES:
                        evicted += self.free.popitem(last=False)[1][1]
                    keep = kept[0] == ident and len(kept[1]) < self.size
                    if keep:
                        kept[1].append(db)
                for old in evicted:
                    old.close()
                if keep:
                    return
        db.close()

    def clear(self) -> None:
        with self.lock:
            dbs = [db for _, kept in self.free.values() for db in kept]
            self.free = collections.OrderedDict()
        for db in dbs:
            db.close()


#: The process's pool: ``portal.runtime.get_db`` and the page cache take their connections here.
POOL = Pool()
