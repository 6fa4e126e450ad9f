"""Rendered public pages are cached per process under the page generation (issue 22, item 1): a
cached page is never stale — after each kind of change a page shows, what is served equals a fresh
rendering — and a repeated request is answered from the cache."""

from __future__ import annotations

import contextlib
import datetime as dt

import pytest

from portal import create_app
from portal.db import connect
from portal.db.migrations_0014 import UNCOUNTED_TABLES
from portal.domain.clock import Clock
from portal.domain.complaints import file_complaint
from portal.domain.notices import create_notice

from .conftest import NOW, set_now

URLS = ["/", "/lists/8", "/lists/8.json", "/lists/8.csv", "/lists/8/print", "/lists/1/v1", "/r/430811",
        "/r/430811200001", "/feeds/all.atom", "/feeds/430811.rss"]


@pytest.fixture
def demo(tmp_path):
    app = create_app({"INSTANCE_PATH": str(tmp_path / "i"), "LOAD_DEMO": True, "NOW": NOW, "TESTING": True})
    db = connect(app.config["DATABASE"])
    yield app, db
    db.close()


def fresh(app, url: str) -> bytes:
    """The page rendered now, past the cache."""
    cache = app.extensions.pop("page_cache")
    try:
        return app.test_client().get(url).data
    finally:
        app.extensions["page_cache"] = cache


def assert_current(app, step: str) -> None:
    client = app.test_client()
    for url in URLS:
        assert client.get(url).data == fresh(app, url), f"{url} is stale after {step}"


def test_a_repeated_request_is_served_from_the_cache(demo):
    app, _ = demo
    cache, client = app.extensions["page_cache"], app.test_client()
    first = client.get("/lists/8")
    hits = cache.hits
    second = client.get("/lists/8")
    assert cache.hits == hits + 1 and second.data == first.data and second.headers["ETag"] == first.headers["ETag"]
    assert second.headers["X-Robots-Tag"] == "noindex, nofollow"           # after-request work still done
    assert client.get("/lists/8?village=x").data == fresh(app, "/lists/8?village=x")


def test_no_change_a_page_shows_leaves_it_stale(demo):
    app, db = demo
    key, clock = app.config["ID_HASH_KEY"].encode(), Clock("Asia/Shanghai", NOW)
    assert_current(app, "nothing")
    assert_current(app, "nothing, from the cache")
    file_complaint(db, list_id=8, household_id=None, region_code=None, ground="other", text="（测试）名单看不清。",
                   about_committee=False, anonymous=True, name="", phone="", files=[], key=key, clock=clock)
    assert_current(app, "a report filed (the list's counts)")
    db.execute("update regions set name = '新名村' where code = '430811200001'")
    db.conn.commit()
    assert_current(app, "a region renamed by hand in SQL")
    db.execute("update quotas set persons = persons + 1 where region_code = '430811'")
    db.conn.commit()
    assert_current(app, "a quota changed")
    at = dt.datetime.fromisoformat(NOW) + dt.timedelta(hours=1)
    create_notice(db, region_code="430811", title="测试公告", body="正文", publish_at=at.isoformat(), actor="t",
                  role="cli", key=key, clock=clock)
    assert_current(app, "a notice scheduled for later")
    set_now(app, (at + dt.timedelta(minutes=1)).isoformat())
    assert b"\xe6\xb5\x8b\xe8\xaf\x95\xe5\x85\xac\xe5\x91\x8a" in app.test_client().get("/").data    # 测试公告, at its time
    assert_current(app, "the notice's time came")
    set_now(app, "2026-11-30T10:00:00+08:00")
    assert_current(app, "a week went by (window states, days left)")
    app.config["RETENTION_NAMES_DAYS"] = 0
    assert app.test_cli_runner().invoke(args=["retention"]).exit_code == 0
    assert_current(app, "retention")


def test_every_table_a_page_could_read_counts_its_writes(demo):
    _, db = demo
    tables = {r[0] for r in db.execute("select name from sqlite_master where type = 'table'")} - UNCOUNTED_TABLES
    triggers = {r[0] for r in db.execute("select name from sqlite_master where type = 'trigger'")}
    missing = [f"{op} on {t}" for t in sorted(tables) for op in ("insert", "update", "delete")
               if f"page_generation_{op}_{t}" not in triggers]
    assert missing == [], "a new table needs migrations_0014.count_changes_of(db, table)"


def test_the_check_fails_when_the_key_leaves_something_out(demo, monkeypatch):
    """The staleness check above is not vacuous: drop the page generation from the key and a
    changed region name is served stale."""
    from portal.web import caching

    app, db = demo
    real = caching.page_state
    monkeypatch.setattr(caching, "page_state", lambda db_, stamp: (0, *real(db_, stamp)[1:]))
    assert_current(app, "nothing")
    db.execute("update regions set name = '新名村' where code = '430811200001'")
    db.conn.commit()
    with pytest.raises(AssertionError, match="stale after a rename"):
        assert_current(app, "a rename")


def test_a_hit_is_answered_before_flask(demo, monkeypatch):
    """The second request for a page never reaches Flask: not its view, not its hooks."""
    app, _ = demo
    client = app.test_client()
    first = client.get("/lists/8", headers={"Accept-Encoding": "gzip"})
    assert first.headers["Content-Encoding"] == "gzip"

    def broken(*args, **kwargs):
        raise AssertionError("Flask was asked")

    monkeypatch.setattr(app, "full_dispatch_request", broken)
    again = client.get("/lists/8", headers={"Accept-Encoding": "gzip"})
    assert again.status_code == 200 and again.data == first.data
    assert dict(again.headers) == dict(first.headers)          # CSP, ETag, X-Robots-Tag, Vary …
    with pytest.raises(AssertionError, match="Flask was asked"):  # another encoding: another key
        client.get("/lists/8")
    with pytest.raises(AssertionError, match="Flask was asked"):  # another host
        client.get("/lists/8", headers={"Accept-Encoding": "gzip"}, base_url="http://127.0.0.1")


def test_what_depends_on_the_visitor_always_goes_to_flask(demo):
    """A session cookie (a flashed message, a staff member) and conditional requests are answered by
    Flask every time; a response that sets a cookie is never kept."""
    app, _ = demo
    cache, client = app.extensions["page_cache"], app.test_client()
    etag = client.get("/lists/8").headers["ETag"]
    hits = cache.hits
    assert client.get("/lists/8", headers={"If-None-Match": etag}).status_code == 304
    with client.session_transaction() as session:
        session["_flashes"] = [("message", "已保存。")]
    assert "已保存。" in client.get("/lists/8").get_data(as_text=True)
    assert "已保存。" not in client.get("/lists/8").get_data(as_text=True)   # shown once
    assert cache.hits == hits
    form = app.test_client().get("/complaints/new?list=8")                  # sets the CSRF session
    assert "Set-Cookie" in form.headers and app.test_client().get("/complaints/new?list=8").status_code == 200
    assert cache.hits == hits


def test_a_replaced_database_file_is_read_again(demo, tmp_path):
    """A replica swaps a restored copy in with os.replace: the cache's connection follows the new
    file, even when the copy's page generation happens to be the same."""
    import shutil

    from portal.db import connect as open_db

    app, db = demo
    client = app.test_client()
    assert "鲁家坪村" not in client.get("/r/430811200001").get_data(as_text=True)
    copy = tmp_path / "copy.db"
    db.execute("vacuum into ?", [str(copy)])
    other = open_db(str(copy))
    other.execute("update regions set name = '鲁家坪村' where code = '430811200001'")
    other.execute("update page_generation set n = (select n from page_generation) - 1")
    other.conn.commit()
    other.execute("pragma journal_mode = delete")
    other.close()
    shutil.copy(copy, tmp_path / "incoming.db")
    import os

    os.replace(tmp_path / "incoming.db", app.config["DATABASE"])
    for suffix in ("-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.remove(app.config["DATABASE"] + suffix)
    assert "鲁家坪村" in client.get("/r/430811200001").get_data(as_text=True)


def test_the_cache_holds_a_bounded_number_of_bytes():
    from portal.web.caching import PageCache

    cache = PageCache(size=20, max_bytes=16000)
    for n in range(17):
        assert cache.put(n, f"page {n}", 1000)
    assert cache.get(0) is None and cache.get(1) == "page 1" and cache.get(16) == "page 16"   # 16 × 1000 fit
    assert cache.bytes == 16000
    assert not cache.put("huge", "a county list's CSV", 1001) and cache.get("huge") is None  # over 1/16
    cache.put(16, "page 16 again", 500)
    assert cache.bytes == 15500 and cache.get(16) == "page 16 again"
    for n in range(100, 125):                                                  # and never more than size
        cache.put(n, "small", 10)
    assert len(cache.items) == 20
