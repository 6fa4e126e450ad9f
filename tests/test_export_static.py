"""The static snapshot: the same bytes as the live portal, only public pages, swapped atomically."""

import hashlib
import json
import os
import re
import shutil
from pathlib import Path

import pytest

from portal import create_app
from portal.db import connect
from portal.ops.export_static import (
    LIVE_PATHS,
    export_static,
    file_path_for,
    link_to_live,
)

from .conftest import NOW
from .test_demo import DEMO_LISTS

LIVE = "https://live.example.cn"
PUBLIC = "https://gongshi.example.cn"
# 中湖村: this year's applicants entered, no identification list published (portal/ops/demo.py); last
# year's round and this year's removal list do have its households.
DRAFT_VILLAGE = "430811201005"
PAST_NOTICE = ("关于延长公示期的说明", "2026-11-22T09:00:00+08:00")
FUTURE_NOTICE = ("明天才公开的公告", "2026-11-24T08:00:00+08:00")


@pytest.fixture(scope="module")
def demo_instance(tmp_path_factory):
    """The demo county loaded once, with one public and one scheduled notice; tests copy it."""
    path = tmp_path_factory.mktemp("demo") / "instance"
    create_app({"INSTANCE_PATH": str(path), "LOAD_DEMO": True, "NOW": NOW, "TESTING": True})
    db = connect(str(path / "portal.db"))
    for title, publish_at in (PAST_NOTICE, FUTURE_NOTICE):
        db["notices"].insert({"region_code": "430811100", "title": title, "body": f"**{title}**",
                              "publish_at": publish_at, "author": "test", "created_at": publish_at,
                              "updated_at": publish_at})
    db.close()
    return path


def app_on_copy(demo_instance, folder: Path):
    shutil.copytree(demo_instance, folder / "instance")
    return create_app({"INSTANCE_PATH": str(folder / "instance"), "LOAD_DEMO": False, "NOW": NOW,
                       "TESTING": True, "PUBLIC_URL": PUBLIC})


@pytest.fixture(scope="module")
def demo_app(demo_instance, tmp_path_factory):
    """An app the read-only tests share, with two snapshots of it: plain and linked to --live-url."""
    return app_on_copy(demo_instance, tmp_path_factory.mktemp("shared"))


@pytest.fixture
def fresh_app(demo_instance, tmp_path):
    """An app of the test's own, for tests that write to the database or export several times."""
    return app_on_copy(demo_instance, tmp_path)


@pytest.fixture(scope="module")
def plain(demo_app, tmp_path_factory):
    site = tmp_path_factory.mktemp("plain")
    return export_static(demo_app, site), site / "current"


@pytest.fixture(scope="module")
def linked(demo_app, tmp_path_factory):
    site = tmp_path_factory.mktemp("linked")
    return export_static(demo_app, site, live_url=LIVE + "/"), site / "current"


@pytest.fixture
def site(plain, tmp_path):
    """A copy of the plain snapshot's folder (releases and the current symlink) to export into again."""
    shutil.copytree(plain[1].parent, tmp_path / "site", symlinks=True)
    return tmp_path / "site"


@pytest.fixture
def demo_db(demo_app):
    db = connect(demo_app.config["DATABASE"])
    yield db
    db.close()


@pytest.fixture
def live(demo_app):
    return demo_app.test_client()


def read(snapshot: Path, url: str, mimetype: str = "text/html") -> bytes:
    return (snapshot / file_path_for(url, mimetype)).read_bytes()


def list_urls(db) -> list[str]:
    """Every published list and version with its print view and downloads."""
    urls = []
    for lst in db.query("select id from lists"):
        urls += [f"/lists/{lst['id']}{s}" for s in ("", "/print", ".csv", ".json")]
    for v in db.query("select list_id, version from list_versions"):
        urls += [f"/lists/{v['list_id']}/v{v['version']}{s}" for s in ("", "/print", ".csv", ".json")]
    return urls


def test_list_pages_and_downloads_equal_the_live_portal(plain, demo_db, live):
    _, snapshot = plain
    urls = list_urls(demo_db)
    assert len(urls) == 4 * (DEMO_LISTS + DEMO_LISTS + 1)        # one list has a second version
    for url in urls:
        resp = live.get(url)
        assert resp.status_code == 200
        assert read(snapshot, url, resp.mimetype) == resp.data, url
    amended = next(demo_db.query("select id from lists where current_version > 1"))["id"]
    assert "递补" in read(snapshot, f"/lists/{amended}").decode()   # the window text of a real page


def test_home_regions_pages_feeds_and_static_are_in_the_snapshot(plain, demo_db, live):
    manifest, snapshot = plain
    urls = ["/", "/robots.txt", "/feeds/all.rss", "/feeds/all.atom", "/feeds/430811100.atom",
            "/pages/how-to-object", "/static/portal.css"]
    urls += [f"/r/{r['code']}" for r in demo_db.query("select code from regions")]
    stylesheet = re.search(r'rel="stylesheet" href="([^"?]+)', live.get("/").get_data(as_text=True)).group(1)
    urls.append(stylesheet)                        # whatever URL the pages give the stylesheet
    for url in urls:
        resp = live.get(url)
        assert read(snapshot, url, resp.mimetype) == resp.data, url
    assert "距公示结束还有" in read(snapshot, "/").decode()   # the clock's window state
    assert read(snapshot, "/404.html", "text/plain") == live.get("/no-such-page").data
    assert manifest["unresolved_links"] == []      # every link inside the snapshot finds its file
    assert manifest["counts"]["regions"] == demo_db["regions"].count == 104


def test_dynamic_paths_are_left_out_and_link_to_the_live_portal(linked, demo_db, live):
    manifest, snapshot = linked
    assert not any(Path(f["path"]).parts[0] in ("complaints", "search", "staff", "healthz") for f in manifest["files"])
    list_id = next(demo_db.query("select id from lists order by id"))["id"]
    page = read(snapshot, f"/lists/{list_id}").decode()
    assert f'href="{LIVE}/complaints/new?list={list_id}"' in page
    assert f'href="{LIVE}/complaints/track"' in page
    for f in manifest["files"]:
        if f["path"].endswith(".html"):
            body = (snapshot / f["path"]).read_bytes()
            assert not any(f'="{p}'.encode() in body for p in LIVE_PATHS), f["path"]
    # Nothing else changed: undoing the rewrite gives the live page byte for byte.
    for url in (f"/lists/{list_id}", "/", "/pages/how-to-object"):
        undone = read(snapshot, url).replace(f'="{LIVE}/'.encode(), b'="/')
        assert undone == live.get(url).data, url


def test_only_attributes_on_live_paths_are_rewritten():
    html = (b'<a href="/complaints/new?list=1&amp;v=2">x</a> <form action=\'/search\'>'
            b'<a href="/staff/">s</a> <a href="/complaintsx">no</a> <a href="/lists/1">no</a>'
            b'<p>/complaints/new in text</p> <a data-href="/staff/">no</a>')
    assert link_to_live(html, LIVE) == (
        b'<a href="https://live.example.cn/complaints/new?list=1&amp;v=2">x</a> '
        b'<form action=\'https://live.example.cn/search\'><a href="https://live.example.cn/staff/">s</a> '
        b'<a href="/complaintsx">no</a> <a href="/lists/1">no</a>'
        b'<p>/complaints/new in text</p> <a data-href="/staff/">no</a>')


def test_drafts_and_scheduled_notices_stay_out(plain, demo_db, live):
    manifest, snapshot = plain
    assert next(demo_db.query("select count(*) as n from households where village_code = ?", [DRAFT_VILLAGE]))["n"] > 0
    villages = set()
    for f in manifest["files"]:
        if f["path"].startswith("lists/") and f["path"].endswith(".json"):
            body = json.loads((snapshot / f["path"]).read_bytes())
            if body["campaign"] == "演示批次" and body["kind"] == "identify":
                villages |= {e["village_code"] for e in body["entries"]}
    assert DRAFT_VILLAGE not in villages and len(villages) == 15
    notices = {n["title"]: n["id"] for n in demo_db.query("select id, title from notices")}
    past, future = notices[PAST_NOTICE[0]], notices[FUTURE_NOTICE[0]]
    assert read(snapshot, f"/notices/{past}") == live.get(f"/notices/{past}").data
    assert not (snapshot / "notices" / str(future)).exists()
    everything = b"".join((snapshot / f["path"]).read_bytes() for f in manifest["files"])
    assert PAST_NOTICE[0].encode() in everything and FUTURE_NOTICE[0].encode() not in everything
    assert manifest["counts"]["notices"] == demo_db["notices"].count - 1     # all but the scheduled one
    assert manifest["refresh_before"] == "2026-11-23T11:00:00+08:00"


def test_snapshot_json_records_the_moment_and_every_file(plain):
    _, snapshot = plain
    manifest = json.loads((snapshot / "snapshot.json").read_text(encoding="utf-8"))
    assert manifest["generated_at"] == NOW
    on_disk = {p.relative_to(snapshot).as_posix() for p in snapshot.rglob("*") if p.is_file()}
    assert on_disk == {f["path"] for f in manifest["files"]} | {"snapshot.json"}
    for f in manifest["files"]:
        assert hashlib.sha256((snapshot / f["path"]).read_bytes()).hexdigest() == f["sha256"]


def test_pages_are_rendered_from_one_moment_of_the_database(fresh_app, tmp_path):
    """A notice made public while the export runs is in no page of this snapshot."""
    title = "导出途中发布的公告"

    def publish_meanwhile(path):
        if not db["notices"].count_where("title = ?", [title]):
            db["notices"].insert({"region_code": "430811", "title": title, "body": "x",
                                  "publish_at": "2026-11-23T09:30:00+08:00", "author": "t",
                                  "created_at": "x", "updated_at": "x"})

    db = connect(fresh_app.config["DATABASE"])
    try:
        manifest = export_static(fresh_app, tmp_path / "site", on_file=publish_meanwhile)
        assert db["notices"].count_where("title = ?", [title]) == 1
    finally:
        db.close()
    snapshot = tmp_path / "site" / "current"
    for f in manifest["files"]:
        assert title.encode() not in (snapshot / f["path"]).read_bytes(), f["path"]
    assert title in fresh_app.test_client().get("/").get_data(as_text=True)   # the live home has it
    assert manifest["unresolved_links"] == []


def test_a_second_export_swaps_in_atomically(demo_app, plain, site):
    first = plain[0]
    current = site / "current"
    old_target = os.readlink(current)
    seen = []

    def old_snapshot_still_whole(path):
        if len(seen) in (0, 150):      # at the start and midway through the second export
            assert os.readlink(current) == old_target
            for f in first["files"]:
                assert hashlib.sha256((current / f["path"]).read_bytes()).hexdigest() == f["sha256"]
        seen.append(path)

    second = export_static(demo_app, site, on_file=old_snapshot_still_whole, keep=2)
    assert len(seen) > 150
    assert os.readlink(current) == os.path.join("releases", second["release"]) != old_target
    assert (current / "snapshot.json").is_file()
    assert sorted(p.name for p in (site / "releases").iterdir()) == sorted([first["release"], second["release"]])
    third = export_static(demo_app, site, keep=1)
    assert [p.name for p in (site / "releases").iterdir()] == [third["release"]]


def test_a_failed_export_leaves_the_current_snapshot_alone(demo_app, plain, site):
    first = plain[0]

    def crash(path):
        if path.startswith("r/"):
            raise OSError("disk full")

    with pytest.raises(OSError):
        export_static(demo_app, site, on_file=crash)
    assert os.readlink(site / "current") == os.path.join("releases", first["release"])
    assert [p.name for p in (site / "releases").iterdir()] == [first["release"]]


def test_export_static_command(fresh_app, tmp_path):
    runner = fresh_app.test_cli_runner()
    result = runner.invoke(args=["export-static", str(tmp_path / "site"), "--live-url", LIVE])
    assert result.exit_code == 0, result.output
    assert f"{DEMO_LISTS} lists, {DEMO_LISTS + 1} versions" in result.output and "refresh before 2026-11-23T11:00:00+08:00" in result.output
    assert (tmp_path / "site" / "current" / "index.html").is_file()
    bad = runner.invoke(args=["export-static", str(tmp_path / "other"), "--live-url", "live.example.cn"])
    assert bad.exit_code != 0 and not (tmp_path / "other").exists()
    (tmp_path / "plain" / "current").mkdir(parents=True)
    clash = runner.invoke(args=["export-static", str(tmp_path / "plain")])
    assert clash.exit_code == 1 and "not a symlink" in clash.output


@pytest.mark.parametrize("url, mimetype, path", [
    ("/", "text/html", "index.html"),
    ("/lists/5", "text/html", "lists/5/index.html"),
    ("/lists/5/v2", "text/html", "lists/5/v2/index.html"),
    ("/lists/5/v2/print", "text/html", "lists/5/v2/print/index.html"),
    ("/lists/5.csv", "text/csv", "lists/5.csv"),
    ("/lists/5/v2.json", "application/json", "lists/5/v2.json"),
    ("/feeds/430811.atom", "application/atom+xml", "feeds/430811.atom"),
])
def test_urls_map_to_files_a_web_server_finds(url, mimetype, path):
    assert file_path_for(url, mimetype) == path
