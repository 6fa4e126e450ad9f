"""The whoosh index on disk, its one indexer process (outbox, rebuild, repair, merge) and its searchers."""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import itertools
import json
import os
import shutil
import threading
import time
from pathlib import Path

import click
from flask import current_app
from whoosh import index, writing
from whoosh import query as wq

from .. import clock
from ..db import connect, write_transaction
from .documents import (
    SCHEMA,
    SCHEMA_VERSION,
    _now_text,
    list_doc,
    notice_doc,
    page_docs,
)

# --- The index on disk: instance/search/current -> ix-<n>, with ix-<n>.json beside it ---------


def search_dir() -> Path:
    return Path(current_app.instance_path) / "search"


def _state_path(ix_dir: Path) -> Path:
    return ix_dir.with_name(ix_dir.name + ".json")


def _read_state(ix_dir: Path) -> dict:
    return json.loads(_state_path(ix_dir).read_text())


def _write_state(ix_dir: Path, state: dict) -> None:
    tmp = _state_path(ix_dir).with_suffix(".tmp")
    tmp.write_text(json.dumps(state))
    os.replace(tmp, _state_path(ix_dir))


def current_dir() -> Path | None:
    link = search_dir() / "current"
    return Path(os.path.realpath(link)) if link.is_symlink() else None


#: A rebuild streams every document to REBUILD_PROCS indexing processes (whoosh MpWriter), each
#: writing its own segment and spilling its pool to disk past REBUILD_LIMIT_MB, so memory stays
#: bounded whatever the size of the province; past REBUILD_BATCH documents the next ones go to new
#: segments. Measured on a province (148,331 lists, 2 cores): batches of 20,000 took 102 s and left
#: 16 segments (a search over them took 3.5x the county's); one batch of all took 108 s and left 2,
#: with 581 MB peak PSS in all processes. One writer in one process took 627 s (README, "Search").
REBUILD_BATCH = 200000
REBUILD_PROCS = min(2, os.cpu_count() or 1)
#: Fewer documents than this are written in this process (a county: no processes to start).
REBUILD_PARALLEL_FROM = 2000
REBUILD_LIMIT_MB = 128


def _documents(db, now: str, memo: dict, counts: dict):
    """Every published document, lists in id order read a batch at a time (never the whole table)."""
    last = 0
    while True:
        ids = [r[0] for r in db.execute("select id from lists where id > ? order by id limit ?", [last, 1000])]
        if not ids:
            break
        for list_id in ids:
            doc = list_doc(db, list_id, memo)
            if doc:
                counts["list"] += 1
                yield doc
        last = ids[-1]
    for (notice_id,) in db.execute("select id from notices where publish_at <= ?", [now]).fetchall():
        counts["notice"] += 1
        yield notice_doc(db, notice_id, now, memo)
    for doc in page_docs():
        counts["page"] += 1
        yield doc


def _write_batches(ix, docs, total: int, batch: int, procs: int, parallel_from: int) -> None:
    """Write ``docs`` (about ``total`` of them) ``batch`` at a time, each batch committed as new
    segments without merging. Documents go straight from the database to the writer."""
    docs = iter(docs)
    parallel = procs > 1 and total >= parallel_from
    while True:
        first = next(docs, None)
        if first is None:
            return
        writer = (ix.writer(procs=procs, multisegment=True, limitmb=REBUILD_LIMIT_MB) if parallel
                  else ix.writer(limitmb=REBUILD_LIMIT_MB))
        try:
            for doc in itertools.chain([first], itertools.islice(docs, batch - 1)):
                writer.add_document(**doc)
        except BaseException:
            writer.cancel()
            raise
        writer.commit(mergetype=writing.NO_MERGE)      # the earlier batches' segments as they are


def rebuild(*, batch: int | None = None, procs: int | None = None, parallel_from: int | None = None) -> dict:
    """Build a complete new index from a consistent snapshot of the database, streamed in batches,
    then swap it in. The site keeps serving the old index (or, on a first start, pages without
    search) meanwhile."""
    base = search_dir()
    base.mkdir(parents=True, exist_ok=True)
    new = _new_index_dir(base)
    ix = index.create_in(str(new), SCHEMA)
    db = connect(current_app.config["DATABASE"])
    counts = {"list": 0, "notice": 0, "page": 0}
    try:
        db.execute("begin")    # one read snapshot: the documents and the outbox position agree
        mark = db.execute("select coalesce(max(id), 0) from search_outbox").fetchone()[0]
        now = _now_text()
        total = db.execute("select count(*) from lists").fetchone()[0]
        _write_batches(ix, _documents(db, now, {}, counts), total, batch or REBUILD_BATCH,
                       REBUILD_PROCS if procs is None else procs,
                       REBUILD_PARALLEL_FROM if parallel_from is None else parallel_from)
        db.conn.rollback()
    finally:
        db.close()
    # whoosh's MpWriter drops a sub-writer's segment without a word if its result does not arrive
    # (a process killed, say): an index short of documents is never swapped in.
    built = index.open_dir(str(new)).doc_count()
    if built != sum(counts.values()):
        shutil.rmtree(new, ignore_errors=True)
        raise RuntimeError(f"search index build wrote {built} of {sum(counts.values())} documents; not swapped in")
    _write_state(new, {"position": mark, "notices_until": now, "schema": SCHEMA_VERSION})
    tmp_link = base / f"current.{os.getpid()}.tmp"
    with contextlib.suppress(FileNotFoundError):
        tmp_link.unlink()
    os.symlink(new.name, tmp_link)
    os.replace(tmp_link, base / "current")
    _remove_old(base, keep={new.name})
    return counts


def _index_dirs(base: Path) -> list[Path]:
    """Index directories, oldest first (``ix-<n>``, numbered in the order they were made)."""
    return sorted((p for p in base.glob("ix-*") if p.is_dir() and p.name[3:].isdigit()), key=lambda p: int(p.name[3:]))


def _new_index_dir(base: Path) -> Path:
    """The next ``ix-<n>``, made here; two rebuilds at once get different numbers."""
    made = _index_dirs(base)
    n = int(made[-1].name[3:]) + 1 if made else 1
    while True:
        try:
            (base / f"ix-{n}").mkdir()
            return base / f"ix-{n}"
        except FileExistsError:
            n += 1


def _remove_old(base: Path, keep: set[str]) -> None:
    """Delete index directories older than the previous one (a reader may still hold the previous)."""
    for old in _index_dirs(base)[:-2]:
        if old.name not in keep:
            shutil.rmtree(old, ignore_errors=True)
            with contextlib.suppress(FileNotFoundError):
                _state_path(old).unlink()


def _healthy(ix_dir: Path | None) -> bool:
    try:
        ix = index.open_dir(str(ix_dir))
        with ix.searcher() as s:
            s.search(wq.Every(), limit=1)
        return _read_state(ix_dir).get("schema") == SCHEMA_VERSION
    except Exception:  # noqa: BLE001 - anything unreadable means: build a new one
        return False


def apply_outbox(batch: int = 500) -> int:
    """Apply pending outbox rows (and notices whose time has come) to the current index; returns how
    many documents were written. Only the indexer calls this."""
    ix_dir = current_dir()
    state = _read_state(ix_dir)
    db = connect(current_app.config["DATABASE"])
    try:
        rows = db.execute("select id, doc from search_outbox where id > ? order by id limit ?",
                          [state["position"], batch]).fetchall()
        now = _now_text()
        due = [f"notice:{r[0]}" for r in db.execute(
            "select id from notices where publish_at > ? and publish_at <= ?", [state["notices_until"], now])]
        docs = list(dict.fromkeys([doc for _, doc in rows] + due))
        if "all" in docs:
            rebuild()
            return len(docs)
        if not docs:
            if now != state["notices_until"]:
                _write_state(ix_dir, {**state, "notices_until": now})
            global _next_prune
            if time.monotonic() >= _next_prune:
                prune_outbox(db, state["position"], clock.current())
                _next_prune = time.monotonic() + 3600
            return 0
        writer = index.open_dir(str(ix_dir)).writer()
        try:
            for doc in docs:
                kind, _, key = doc.partition(":")
                if kind == "pages":
                    writer.delete_by_term("type", "page")
                    for d in page_docs():
                        writer.add_document(**d)
                    continue
                made = list_doc(db, int(key)) if kind == "list" else notice_doc(db, int(key), now)
                if made:
                    writer.update_document(**made)
                else:
                    writer.delete_by_term("id", doc)
        except BaseException:
            writer.cancel()
            raise
        writer.commit(mergetype=writing.NO_MERGE)   # merging waits for a quiet moment (merge_when_idle)
        _write_state(ix_dir, {**state, "position": rows[-1][0] if rows else state["position"], "notices_until": now})
        return len(docs)
    finally:
        db.close()


OUTBOX_KEEP_DAYS = 7
_next_prune = 0.0          # monotonic time of the indexer's next prune (at most hourly, when idle)


def prune_outbox(db, position: int, clock) -> int:
    """Delete outbox rows the index has applied (id <= its position) once they are a week old.
    A rebuild reads its position from one snapshot and builds for minutes, not days, so no index
    still to be swapped in can need them. Returns how many rows went."""
    cutoff = (clock.now() - dt.timedelta(days=OUTBOX_KEEP_DAYS)).astimezone(dt.timezone.utc)
    cutoff = cutoff.isoformat(timespec="microseconds")      # as enqueue stores times
    with write_transaction(db):
        return db.execute("delete from search_outbox where id <= ? and at < ?", [position, cutoff]).rowcount


def merge_when_idle(max_segments: int = 24) -> bool:
    """Merge small segments once the outbox is empty, so that a publication never waits behind a
    merge (one took 1.6 s here when commits merged as they went). A rebuild leaves large segments
    (one per indexing process and batch), which MERGE_SMALL leaves as they are: a set of segments it
    did not reduce is not tried again."""
    global _unmergeable
    ix = index.open_dir(str(current_dir()))
    names = frozenset(s.segment_id() for s in ix._segments())
    if len(names) <= max_segments or names == _unmergeable:
        return False
    ix.writer().commit(mergetype=writing.MERGE_SMALL)
    after = frozenset(s.segment_id() for s in index.open_dir(str(current_dir()))._segments())
    if len(after) >= len(names):
        _unmergeable = after
    return True


_unmergeable: frozenset | None = None


@contextlib.contextmanager
def indexer_lock(wait: bool = False):
    """The one-indexer guard: an exclusive lock on instance/search/indexer.lock, released by the OS
    if the process dies. Yields False when another indexer holds it and ``wait`` is false."""
    search_dir().mkdir(parents=True, exist_ok=True)
    with open(search_dir() / "indexer.lock", "w") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        yield True


def run_indexer(*, once: bool = False, poll: float = 0.1, health_every: float = 5.0, stop=None) -> None:
    """Keep the index in step with the outbox; rebuild it when missing or unreadable. ``stop`` is
    a function asked after every round whether to end."""
    checked = 0.0
    while True:
        if time.monotonic() - checked > health_every:
            if not _healthy(current_dir()):
                click.echo("search index missing or unreadable: rebuilding", err=True)
                rebuild()
            checked = time.monotonic()
        try:
            written = apply_outbox()
            merged = not written and merge_when_idle()
        except Exception as exc:  # noqa: BLE001 - keep serving; check the index at once and retry
            click.echo(f"search indexer: {exc!r}; checking the index", err=True)
            checked, written, merged = 0.0, 0, False
        if once and not written:
            return
        if stop is not None and stop():
            return
        if not written and not merged:
            time.sleep(poll)


# --- Reading ----------------------------------------------------------------------------------

_reader_lock = threading.Lock()
_reader: dict = {}


def _fresh(s) -> bool:
    """Whether a kept searcher still shows the latest index (False too when it can no longer tell:
    closed, or its files gone)."""
    try:
        return s.up_to_date()
    except Exception:  # noqa: BLE001 - ReaderClosed, OSError ...: open a new one
        return False


@contextlib.contextmanager
def searcher():
    """A searcher on the current index, reopened (never ``refresh()``-ed: whoosh forks return stale
    and duplicate hits from it) when the index changed. Yields None when there is no usable index."""
    with _reader_lock:
        target = current_dir()
        s = _reader.get("searcher")
        if s is not None and (_reader.get("dir") != target or not _fresh(s)):
            with contextlib.suppress(Exception):    # it may be closed already
                s.close()
            s = None
        if s is None and target is not None:
            try:
                s = index.open_dir(str(target)).searcher()
            except Exception:  # noqa: BLE001 - a broken index must not break the page
                s = None
            _reader.update(searcher=s, dir=target)
        yield s


def indexed_ids() -> set[str]:
    """Every document id in the current index (tests and the benchmark compare it with the database)."""
    with searcher() as s:
        return {f["id"] for f in s.all_stored_fields()} if s is not None else set()
