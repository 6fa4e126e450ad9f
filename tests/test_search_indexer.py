"""The outbox and the single indexer keep every publication, even when web workers and the indexer
itself are killed in the middle of a burst (issue 7: plain writers lost 44-67 of 100 writes here)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from portal import search
from portal.search import store as search_store

ROOT = Path(__file__).resolve().parent.parent


def _env(app):
    return {**os.environ, "PORTAL_INSTANCE": app.instance_path, "PORTAL_NOW": app.config["NOW"],
            "PORTAL_LOAD_DEMO": "false", "PORTAL_ID_HASH_KEY": "test-key"}


def start_indexer(app):
    return subprocess.Popen([sys.executable, "-m", "flask", "--app", "portal", "indexer"], cwd=ROOT, env=_env(app),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def start_worker(app, n, count):
    return subprocess.Popen([sys.executable, "-m", "tests.search_burst", app.instance_path, str(n), str(count)],
                            cwd=ROOT, env=_env(app), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def expected_ids(db):
    lists = {f"list:{r[0]}" for r in db.execute("select id from lists")}
    notices = {f"notice:{r[0]}" for r in db.execute("select id from notices where publish_at <= '2026-11-23T10:00:00+08:00'")}
    return lists | notices


def indexed(app):
    search_store._reader.clear()
    with app.app_context():
        ids = {i for i in search.indexed_ids() if not i.startswith("page:")}
        with search_store.searcher() as s:
            if s is None:                               # not built yet
                return set(), 0
            count = s.doc_count() - len([p for p in Path(app.config["CONTENT_DIR"]).glob("*.md")])
    return ids, count


def test_killing_workers_and_the_indexer_during_a_burst_loses_nothing(app, db):
    indexer = start_indexer(app)
    workers = [start_worker(app, n, 25) for n in range(4)]
    for victim in workers[:2]:
        while int(victim.stdout.readline() or 99) < 3:   # let each victim publish a few rounds first
            pass
    for victim in (workers[0], workers[1], indexer):
        victim.send_signal(signal.SIGKILL)
        victim.wait()
    time.sleep(0.5)                                     # publications go on with no indexer at all
    indexer = start_indexer(app)
    try:
        for w in workers[2:]:
            out, err = w.communicate(timeout=120)
            assert w.returncode == 0, err
            assert out.split()[-1] == "24"              # the survivors published all their rounds
        want = expected_ids(db)
        assert len([i for i in want if i.startswith("list:")]) > 50
        deadline = time.monotonic() + 60
        while (got := indexed(app))[0] != want and time.monotonic() < deadline:
            time.sleep(0.2)
        ids, count = got
        assert ids == want, (sorted(want - ids)[:5], sorted(ids - want)[:5])
        assert count == len(want)                       # no duplicates either
        # Killed workers' half-done rounds left no name keys for households that were never published.
        stray = db.execute("""select count(*) from search_names k where not exists (
                                select 1 from list_entries e where e.household_id = k.household_id)""").fetchone()[0]
        assert stray == 0
    finally:
        indexer.terminate()
        indexer.wait(timeout=10)


def test_a_second_indexer_for_the_same_instance_steps_aside(app):
    first = start_indexer(app)
    try:
        time.sleep(1.5)
        second = subprocess.run([sys.executable, "-m", "flask", "--app", "portal", "indexer", "--once"], cwd=ROOT,
                                env=_env(app), capture_output=True, text=True, timeout=60)
        assert second.returncode == 0 and "Another indexer is running" in second.stdout
    finally:
        first.terminate()
        first.wait(timeout=10)


def test_a_rebuild_in_batches_and_processes_finds_what_one_writer_finds(tmp_path):
    """The streamed rebuild (issue 22, item 3: batches of REBUILD_BATCH documents, each written by
    REBUILD_PROCS processes as its own segments) indexes the same documents and answers every query
    with the same hits in the same order as a single writer; merge_when_idle does not try again a set
    of segments it could not reduce."""
    from whoosh import index

    from portal import create_app

    app = create_app({"INSTANCE_PATH": str(tmp_path / "i"), "LOAD_DEMO": True, "NOW": "2026-11-23T10:00:00+08:00",
                      "TESTING": True})
    queries = ["公示", "村", "脱贫", "双星村", "sxc", "430811", "名单"]

    def answers():
        search_store._reader.clear()
        with app.test_request_context():
            return {q: [(h["type"], h.get("key"), str(h["title"])) for h in search.search(q, per_page=200).hits]
                    for q in queries}

    with app.app_context():
        one = search.rebuild(batch=10**6, procs=1)
        ids_one, hits_one = search.indexed_ids(), answers()
        assert len(index.open_dir(str(search.current_dir()))._segments()) == 1
        many = search.rebuild(batch=7, procs=2, parallel_from=5)        # 2 segments per batch
        segments = len(index.open_dir(str(search.current_dir()))._segments())
        assert many == one and segments > 4
        assert search.indexed_ids() == ids_one and answers() == hits_one
        assert [q for q in queries if not hits_one[q]] == []
        assert search.merge_when_idle(max_segments=2) is True          # tried once ...
        after = len(index.open_dir(str(search.current_dir()))._segments())
        assert search.merge_when_idle(max_segments=2) is (after != segments and after > 2)
        # A merge renumbers documents: hits that tie (same title match, same day) may change places.
        assert search.indexed_ids() == ids_one
        assert {q: sorted(h) for q, h in answers().items()} == {q: sorted(h) for q, h in hits_one.items()}


def test_a_rebuild_short_of_documents_is_not_swapped_in(tmp_path, monkeypatch):
    """If an indexing process's segment goes missing (MpWriter drops it without a word), the new
    index is thrown away and the one in use stays."""
    from whoosh import writing

    from portal import create_app

    app = create_app({"INSTANCE_PATH": str(tmp_path / "i"), "LOAD_DEMO": True, "NOW": "2026-11-23T10:00:00+08:00",
                      "TESTING": True})
    with app.app_context():
        search.rebuild()
        before, ids = search.current_dir(), search.indexed_ids()
        real_commit = writing.SegmentWriter.commit
        calls = []

        def lose_the_second_batch(self, *args, **kwargs):
            calls.append(1)
            if len(calls) == 2:
                return self.cancel()
            return real_commit(self, *args, **kwargs)

        monkeypatch.setattr(writing.SegmentWriter, "commit", lose_the_second_batch)
        with pytest.raises(RuntimeError, match="not swapped in"):
            search.rebuild(batch=10, procs=1)
        assert search.current_dir() == before and search.indexed_ids() == ids
        assert [p.name for p in before.parent.glob("ix-*") if p.is_dir()] == [before.name]
