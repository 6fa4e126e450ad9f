"""The public ledger (issue 21): an unkeyed hash chain, and verify.py run against a live portal —
passing on the untouched demo and failing, with the first bad entry named, on each tampering."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from portal import create_app
from portal.db import connect, write_transaction
from portal.domain import ledger

from .conftest import CLOCK, NOW

VERIFY = Path(__file__).resolve().parent.parent / "portal" / "verify.py"


@pytest.fixture(scope="module")
def demo_instance(tmp_path_factory):
    """The demo loaded once; each test serves a copy of it."""
    folder = tmp_path_factory.mktemp("ledger") / "instance"
    create_app({"INSTANCE_PATH": str(folder), "LOAD_DEMO": True, "NOW": NOW, "TESTING": True})
    return folder


@pytest.fixture
def site(demo_instance, tmp_path):
    """A live portal (a real HTTP server in a thread) on a copy of the demo, and its database."""
    folder = tmp_path / "instance"
    shutil.copytree(demo_instance, folder)
    app = create_app({"INSTANCE_PATH": str(folder), "LOAD_DEMO": False, "NOW": NOW, "TESTING": True})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    db = connect(app.config["DATABASE"])
    yield f"http://127.0.0.1:{server.server_port}", db, app
    db.close()
    server.shutdown()


def run_verifier(base: str, *args: str) -> subprocess.CompletedProcess:
    # -I -S: isolated, without site-packages, which shows it needs nothing but the standard library.
    return subprocess.run([sys.executable, "-I", "-S", str(VERIFY), base, *args], capture_output=True, text=True, check=False,
                          timeout=120)


def without_guard(db, *triggers: str):
    """What someone with write access to the database file can do: drop the append-only triggers."""
    for name in triggers:
        db.execute(f"drop trigger {name}")


def tampered(site, triggers: tuple[str, ...], *statements: tuple[str, list]) -> subprocess.CompletedProcess:
    """Drop ``triggers``, run ``statements`` (sql, params) and commit; then run the verifier."""
    base, db, _ = site
    without_guard(db, *triggers)
    for sql, params in statements:
        db.execute(sql, params)
    db.conn.commit()
    return run_verifier(base)


def seq_of(db, ref: str) -> int:
    return next(db.query("select seq from ledger where ref = ? order by seq limit 1", [ref]))["seq"]


def current_version(db, list_id: int) -> int:
    return next(db.query("select current_version from lists where id = ?", [list_id]))["current_version"]


def test_untouched_site_verifies_with_a_printed_head(site):
    base, db, _ = site
    head = ledger.head(db)
    assert head["size"] > 50 and ledger.first_break(db) is None
    middle = next(db.query("select seq, hash from ledger where seq = ?", [head["size"] // 2]))
    result = run_verifier(base, "--all-versions", "--head", f"{middle['seq']}:{middle['hash'][:16]}")
    assert result.returncode == 0, result.stderr
    assert "核对通过" in result.stdout and f"账本 {head['size']} 条" in result.stdout


def test_the_verifier_served_is_the_one_in_the_repo(site):
    _, _, app = site
    response = app.test_client().get("/ledger/verify.py")
    assert response.status_code == 200 and response.get_data(as_text=True) == VERIFY.read_text(encoding="utf-8")


def test_an_edited_entry_is_named(site):
    base, db, _ = site
    without_guard(db, "ledger_no_update")
    target = seq_of(db, "/lists/2/v1")
    row = next(db.query("select content from ledger where seq = ?", [target]))
    content = json.loads(row["content"])
    content["count"] += 1
    db.execute("update ledger set content = ? where seq = ?", [ledger.canonical(content), target])
    db.conn.commit()
    result = run_verifier(base)
    assert result.returncode == 1
    assert f"账本第 {target} 条的内容和它的校验值对不上" in result.stderr


def test_a_dropped_entry_is_named(site):
    result = tampered(site, ("ledger_no_delete",), ("delete from ledger where seq = 7", []))
    assert result.returncode == 1 and "账本第 7 条缺失或次序不对" in result.stderr


def test_reordered_entries_are_named(site):
    # Swap entries 8 and 9 wholesale (each keeps its own hash and link).
    result = tampered(site, ("ledger_no_update",), ("update ledger set seq = -8 where seq = 8", []),
                      ("update ledger set seq = 8 where seq = 9", []), ("update ledger set seq = 9 where seq = -8", []))
    assert result.returncode == 1 and "账本第 8 条" in result.stderr


def test_a_list_changed_after_publication_is_caught(site):
    _, db, _ = site
    version = current_version(db, 1)
    result = tampered(site, ("list_entries_no_update",), (
        "update list_entries set votes = votes + 3 where list_id = 1 and version = ? and position = 2", [version]))
    assert result.returncode == 1
    assert f"名单 1 第 {version} 版的名单内容" in result.stderr
    assert f"账本第 {seq_of(db, f'/lists/1/v{version}')} 条" in result.stderr


def test_a_renamed_household_is_caught_while_names_are_public(site):
    _, db, _ = site
    version = current_version(db, 1)
    result = tampered(site, ("list_entries_no_update",), (
        "update list_entries set head_name = '王某某' where list_id = 1 and version = ? and position = 1", [version]))
    assert result.returncode == 1 and f"名单 1 第 {version} 版显示的户主姓名" in result.stderr


def test_a_deleted_version_is_caught(site):
    base, db, _ = site
    amended = next(db.query("select id, current_version from lists where current_version > 1 limit 1"))
    db.execute("pragma foreign_keys = off")
    with write_transaction(db):
        db["meta"].upsert({"key": "resetting", "value": "1"}, pk="key")
        db.execute("delete from list_entries where list_id = ? and version = ?", [amended["id"], amended["current_version"]])
        db.execute("delete from spot_checks where list_id = ? and version = ?", [amended["id"], amended["current_version"]])
        db.execute("delete from list_versions where list_id = ? and version = ?", [amended["id"], amended["current_version"]])
        db.execute("update lists set current_version = current_version - 1 where id = ?", [amended["id"]])
        db.execute("delete from meta where key = 'resetting'")
    result = run_verifier(base)
    assert result.returncode == 1
    assert f"账本记着名单 {amended['id']} 的第 {amended['current_version']} 版" in result.stderr


def test_a_rewritten_chain_fails_against_a_printed_head(site):
    """Someone who changes a list and recomputes the whole chain after it passes the plain check,
    but not against the head printed on a board before the change."""
    base, db, app = site
    size = ledger.head(db)["size"]
    printed = next(db.query("select seq, hash from ledger where seq = ?", [size]))
    version = current_version(db, 1)
    target = seq_of(db, f"/lists/1/v{version}")
    without_guard(db, "list_entries_no_update", "ledger_no_update", "ledger_extend_only")
    db.execute("update list_entries set votes = votes + 3 where list_id = 1 and version = ? and position = 2", [version])
    prev = next(db.query("select prev from ledger where seq = ?", [target]))["prev"]
    for row in list(db.query("select * from ledger where seq >= ? order by seq", [target])):
        entry = {**row, "content": json.loads(row["content"]), "prev": prev}
        if row["seq"] == target:
            entry["content"]["rows"] = ledger.version_content(db, 1, version, app.config["ID_HASH_KEY"].encode())["rows"]
        entry["hash"] = ledger.entry_hash(entry)
        db.execute("update ledger set content = ?, prev = ?, hash = ? where seq = ?",
                   [ledger.canonical(entry["content"]), entry["prev"], entry["hash"], row["seq"]])
        prev = entry["hash"]
    db.conn.commit()
    assert run_verifier(base).returncode == 0           # a consistent forgery, on its own terms
    result = run_verifier(base, "--head", f"{printed['seq']}:{printed['hash']}")
    assert result.returncode == 1 and f"账本第 {size} 条的校验值和打印的不一样" in result.stderr
    assert run_verifier(base, "--head", f"{size + 5}:{printed['hash']}").returncode == 1


def test_bad_head_and_unreachable_site_exit_2(site):
    base, _, _ = site
    assert run_verifier(base, "--head", "12:abc").returncode == 2
    result = run_verifier("http://127.0.0.1:9")
    assert result.returncode == 2 and "无法核对" in result.stderr


def test_the_chain_is_append_only_and_written_in_the_write_transaction(app, db):
    with write_transaction(db):
        first = ledger.append(db, "notice", "/notices/1", {"notice": 1}, clock=CLOCK)
        ledger.append(db, "notice", "/notices/2", {"notice": 2}, clock=CLOCK)
    assert first["prev"] == ledger.GENESIS and ledger.head(db)["size"] == 2 and ledger.first_break(db) is None
    with pytest.raises(RuntimeError):
        ledger.append(db, "notice", "/notices/3", {"notice": 3}, clock=CLOCK)
    for sql in ("update ledger set kind = 'x' where seq = 1", "delete from ledger where seq = 2",
                "insert into ledger (seq, at, kind, ref, content, prev, hash) values (5, '', '', '', '{}', 'a', 'b')"):
        with pytest.raises(Exception, match="ledger"):
            db.execute(sql)


def test_retention_leaves_the_ledger_verifiable(site):
    """Retention withholds names (and stops showing the names' salt): no entry changes, the chain and
    every list still verify, and the withheld lists' names are simply not checked any more."""
    base, db, app = site
    before = ledger.head(db)
    result = app.test_cli_runner().invoke(args=["retention"])
    assert result.exit_code == 0 and "Lists whose names were withheld: 8" in result.output
    assert ledger.head(db) == before
    body = json.loads(app.test_client().get("/lists/20.json").data)
    assert body["names"] == {"policy": "withheld", "salt": None} and {e["name"] for e in body["entries"]} == {"（已隐去）"}
    verified = run_verifier(base, "--all-versions", "--head", f"{before['size']}:{before['hash']}")
    assert verified.returncode == 0, verified.stderr


def test_ledger_pages_head_and_list_index(site):
    _, db, app = site
    client = app.test_client()
    head = json.loads(client.get("/ledger/head.json").data)
    assert head["size"] == ledger.head(db)["size"] and len(head["hash"]) == 64
    first = json.loads(client.get("/ledger.json?limit=40").data)
    assert [e["seq"] for e in first["entries"]] == list(range(1, 41))
    assert first["next"] == "http://localhost/ledger.json?after=40&limit=40"      # absolute: any prefix kept
    rest = json.loads(client.get(first["next"]).data)
    assert rest["entries"][0]["seq"] == 41 and rest["entries"][-1]["hash"] == head["hash"] and rest["next"] is None
    for bad in ("/ledger.json?after=x", "/ledger.json?limit=0", "/ledger.json?limit=501", "/ledger.json?after=-1"):
        response = client.get(bad)
        assert response.status_code == 400 and "整数" in response.get_json()["error"]
    index = json.loads(client.get("/lists.json").data)["lists"]
    assert len(index) == db["lists"].count and all(len(item["content_hash"]) == 64 for item in index)
    page = client.get("/ledger").get_data(as_text=True)
    assert head["hash"] in page and "verify.py" in page
    listed = client.get("/lists/1").get_data(as_text=True)
    entry = ledger.entry_for(db, f"/lists/1/v{current_version(db, 1)}")
    assert f"第 {entry['seq']} 条" in listed
    printed = client.get("/lists/1/print").get_data(as_text=True)
    assert f"打印时公开账本共 {head['size']} 条" in printed and head["hash"] in printed


def test_the_site_feed_carries_the_head_of_each_past_day(site):
    _, db, app = site
    from .conftest import set_now
    head = ledger.head(db)
    set_now(app, "2026-11-25T10:00:00+08:00")       # two days after the demo was loaded
    feed = app.test_client().get("/feeds/all.atom").get_data(as_text=True)
    assert feed.count("公开账本校验值") == 2 and f"共 {head['size']} 条，末条校验值 {head['hash']}" in feed
    assert "公开账本校验值" not in app.test_client().get("/feeds/430811.atom").get_data(as_text=True)


def append_forged(db, ref: str, content: dict) -> None:
    """What a forger with the database appends: a well-formed entry at the end of the chain."""
    last = next(db.query("select seq, hash from ledger order by seq desc limit 1"))
    entry = {"seq": last["seq"] + 1, "at": "2026-11-23T03:00:00+00:00", "kind": "list.publish", "ref": ref,
             "content": content, "prev": last["hash"]}
    entry["hash"] = ledger.entry_hash(entry)
    db["ledger"].insert({**entry, "content": ledger.canonical(content)})


def test_a_rewritten_version_recorded_again_is_caught(site):
    """Review finding: change a published version's rows, then append a second, matching entry for
    it (nothing before it changes, so even a printed head agrees)."""
    base, db, app = site
    list_id = next(db.query("select id from lists where current_version = 1 order by id limit 1"))["id"]
    head = ledger.head(db)
    without_guard(db, "list_entries_no_update")
    db.execute("update list_entries set size = size + 3 where list_id = ? and version = 1 and position = 1", [list_id])
    append_forged(db, f"/lists/{list_id}/v1", ledger.version_content(db, list_id, 1, app.config["ID_HASH_KEY"].encode()))
    db.conn.commit()
    result = run_verifier(base, "--head", f"{head['size']}:{head['hash']}")
    assert result.returncode == 1 and "记的是同一件事" in result.stderr


def test_a_reply_taken_off_its_list_is_caught(site):
    base, db, _ = site
    answered = next(db.query("select id from complaints where status = 'concluded' and list_id is not null limit 1"))["id"]
    result = tampered(site, (), ("update complaints set list_id = null where id = ?", [answered]))
    assert result.returncode == 1 and f"第 {answered} 件举报的答复" in result.stderr


def test_only_the_shown_form_s_salt_is_published(site):
    """The salt of the 张*明 commitment is never published when the page shows 张** (and vice versa)."""
    _, _, app = site
    key = app.config["ID_HASH_KEY"].encode()
    body = json.loads(app.test_client().get("/lists/1.json").data)
    assert body["names"] == {"policy": "mask", "salt": ledger.names_salt(key, 1, body["version"], "mask")}
    assert ledger.names_salt(key, 1, body["version"], "surname") not in json.dumps(body)


def test_withheld_lists_are_left_out_of_name_search_and_full_names_are_withheld_too(site):
    _, db, app = site
    app.config["NAME_DISPLAY"] = "full"
    assert app.test_cli_runner().invoke(args=["retention"]).exit_code == 0
    client = app.test_client()
    withheld = {r["id"] for r in db.query("select id from lists where names_withheld_at is not null")}
    name = next(db.query("select e.head_name from list_entries e where e.list_id = ? limit 1", [min(withheld)]))["head_name"]
    assert {e["name"] for e in json.loads(client.get(f"/lists/{min(withheld)}.json").data)["entries"]} == {"（已隐去）"}
    found = client.get("/search?q=" + name).get_data(as_text=True)
    assert re.search(r'href="/lists/\d+[^"]*#p', found), "the household is on this year's lists too"
    assert not any(re.search(rf'href="/lists/{i}(\?[^"]*)?#p', found) for i in withheld)
