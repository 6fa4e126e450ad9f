"""The connection pool (issue 22, item 1): connections are reused within a process, but never on a
file replaced since they were opened, never with a transaction left open, never across a fork."""

from __future__ import annotations

import os
import shutil
import sqlite3

import pytest

from portal.db import connect
from portal.db.pool import Pool


def make_db(path, value: str) -> None:
    db = connect(str(path))
    db.execute("create table if not exists t (v text)")
    db.execute("delete from t")
    db.execute("insert into t values (?)", [value])
    db.conn.commit()
    db.close()


def value(db) -> str:
    return db.execute("select v from t").fetchone()[0]


def test_a_connection_given_back_is_taken_again(tmp_path):
    path = tmp_path / "a.db"
    make_db(path, "one")
    pool = Pool(size=2)
    first = pool.take(str(path))
    pool.give(first)
    assert pool.take(str(path)) is first
    a, b, c = pool.take(str(path)), pool.take(str(path)), pool.take(str(path))
    assert len({id(a), id(b), id(c)}) == 3
    for db in (a, b, c):
        pool.give(db)
    assert len(pool.free[(str(path), False)][1]) == 2        # at most size kept; the third was closed


def test_a_replaced_file_is_never_read_through_an_old_connection(tmp_path):
    path, other = tmp_path / "a.db", tmp_path / "b.db"
    make_db(path, "old")
    make_db(other, "new")
    pool = Pool()
    db = pool.take(str(path))
    assert value(db) == "old"
    pool.give(db)
    shutil.copy(other, tmp_path / "incoming.db")
    os.replace(tmp_path / "incoming.db", path)             # as a replica swaps in a restored copy
    for suffix in ("-wal", "-shm"):
        if os.path.exists(f"{path}{suffix}"):
            os.remove(f"{path}{suffix}")
    again = pool.take(str(path))
    assert again is not db and value(again) == "new"
    os.remove(path)                                         # and a new database where the old one was
    make_db(path, "newest")
    assert value(pool.take(str(path))) == "newest"


def test_a_connection_comes_back_clean(tmp_path):
    path = tmp_path / "a.db"
    make_db(path, "one")
    pool = Pool()
    db = pool.take(str(path))
    db.conn.execute("begin")
    db.execute("update t set v = 'half-written'")
    db.execute("pragma foreign_keys = off")
    pool.give(db)
    again = pool.take(str(path))
    assert again is db and not again.conn.in_transaction
    assert value(again) == "one" and again.execute("pragma foreign_keys").fetchone()[0] == 1
    pool.give(again, broken=True)                           # a request that failed: closed, not kept
    assert pool.take(str(path)) is not again


def test_a_forked_child_opens_its_own(tmp_path):
    path = tmp_path / "a.db"
    make_db(path, "one")
    pool = Pool()
    parent = pool.take(str(path))
    pool.give(parent)
    pid = os.fork()
    if pid == 0:                                            # the child: a connection of its own
        ok = False
        try:
            mine = pool.take(str(path))
            ok = mine is not parent and value(mine) == "one" and pool.inherited == [parent]
            pool.give(mine)
            pool.clear()
        finally:
            os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert pool.take(str(path)) is parent and value(parent) == "one"
    assert os.path.exists(f"{path}-wal") or parent.execute("pragma journal_mode").fetchone()[0] == "wal"


def test_connections_are_kept_for_a_few_files_only(tmp_path):
    """A test suite makes hundreds of databases: the pool keeps connections to the last FILES only."""
    pool = Pool()
    kept = []
    for n in range(Pool.FILES + 3):
        path = tmp_path / f"{n}.db"
        make_db(path, str(n))
        db = pool.take(str(path))
        pool.give(db)
        kept.append(db)
    assert len(pool.free) == Pool.FILES
    assert [str(tmp_path / f"{n}.db") for n in range(3, Pool.FILES + 3)] == [k[0] for k in pool.free]
    with pytest.raises(sqlite3.ProgrammingError):               # the oldest were closed
        kept[0].execute("select 1")
    assert value(pool.take(str(tmp_path / "6.db"))) == "6"
