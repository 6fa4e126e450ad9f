"""bench/make_province at its tiny scale: reproducible, consistent with the portal's own rules, and
its pages render."""

import datetime as dt
import importlib.machinery
import importlib.util
import random
import sqlite3
import sys
from pathlib import Path

import pytest

from portal import create_app
from portal.db import connect
from portal.domain import rules
from portal.domain.campaigns import village_selection
from portal.domain.privacy import valid_id18
from portal.domain.versions import version_hash

from .conftest import NOW

SCRIPT = Path(__file__).resolve().parent.parent / "bench" / "make_province"


def load_script():
    loader = importlib.machinery.SourceFileLoader("make_province", str(SCRIPT))
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader("make_province", loader))
    sys.modules["make_province"] = module       # dataclasses look their module up while it loads
    loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def make_province():
    return load_script()


@pytest.fixture(scope="module")
def tiny(make_province, tmp_path_factory):
    path = tmp_path_factory.mktemp("bench") / "tiny.db"
    summary = make_province.generate(str(path), "tiny", seed=1, now=NOW, with_digest=True, log=lambda *a: None)
    return path, summary


@pytest.fixture
def bench_db(tiny):
    db = connect(str(tiny[0]))
    yield db
    db.close()


def test_same_seed_same_rows_other_seed_other_rows(make_province, tiny, tmp_path):
    again = make_province.generate(str(tmp_path / "again.db"), "tiny", seed=1, now=NOW, with_digest=True,
                                   log=lambda *a: None)
    other = make_province.generate(str(tmp_path / "other.db"), "tiny", seed=2, now=NOW, with_digest=True,
                                   log=lambda *a: None)
    assert again["digest"] == tiny[1]["digest"]
    assert other["digest"] != tiny[1]["digest"]
    assert (tmp_path / "again.db.json").is_file()


def test_checks_pass_and_counts_match_the_scale(make_province, tiny):
    summary = tiny[1]
    scale = make_province.SCALES["tiny"]
    assert summary["foreign_key_check"] == "ok" and summary["integrity_check"] == "ok"
    counts = summary["counts"]
    assert (counts["counties"], counts["townships"], counts["villages"], counts["households"]) == (
        scale.counties, scale.townships, scale.villages, scale.households)
    assert counts["notices"] == scale.notices


def test_refuses_to_overwrite_without_force(make_province, tiny):
    with pytest.raises(SystemExit):
        make_province.generate(str(tiny[0]), "tiny", seed=1, now=NOW, log=lambda *a: None)


def test_ids_are_fake_and_only_hashed(bench_db, make_province):
    assert bench_db.execute("select count(*) from regions where code not like '99%'").fetchone()[0] == 0
    masked = [r[0] for r in bench_db.execute("select id_masked from households")]
    assert all(m.startswith("*" * 14) and len(m) == 18 for m in masked)
    # the clear ID never reaches the database; the generator's IDs carry valid check digits
    assert valid_id18(make_province.fake_id(random.Random(0), "990121", True, 2026, {}))


def test_every_version_hash_is_the_portals(bench_db, make_province):
    rows = list(bench_db.query("select list_id, version, content_hash from list_versions"))
    assert rows
    for r in rows:
        assert version_hash(bench_db, r["list_id"], r["version"], make_province.BENCH_KEY) == r["content_hash"]


def test_village_lists_are_the_portals_selection_within_quota(bench_db):
    lists = list(bench_db.query(
        "select l.*, q.persons as quota from lists l join quotas q on q.campaign_id = l.campaign_id "
        "and q.region_code = l.region_code where l.kind = 'identify'"))
    for lst in lists:
        entries = [r["household_id"] for r in bench_db.query(
            "select household_id from list_entries where list_id = ? and version = ? order by position",
            [lst["id"], lst["current_version"]])]
        persons = sum(r[0] for r in bench_db.execute(
            "select size from list_entries where list_id = ? and version = ?", [lst["id"], lst["current_version"]]))
        assert persons <= lst["quota"]
        if lst["level"] == "village" and lst["current_version"] == 1:
            assert entries == [a.id for a in village_selection(bench_db, lst["campaign_id"], lst["region_code"]).selected]


def test_upper_lists_carry_the_lower_entries_and_keep_the_chain_rule(bench_db):
    uppers = list(bench_db.query("select * from lists where level != 'village'"))
    assert {u["level"] for u in uppers} == {"township", "county"}
    for up in uppers:
        width = 9 if up["level"] == "township" else 6
        below = "village" if up["level"] == "township" else "township"
        lower = list(bench_db.query(
            "select l.id, l.current_version, v.window_start, v.window_end from lists l join list_versions v "
            "on v.list_id = l.id and v.version = l.current_version join regions r on r.code = l.region_code "
            "where l.campaign_id = ? and l.kind = ? and r.level = ? and substr(l.region_code, 1, ?) = ? order by l.id",
            [up["campaign_id"], up["kind"], below, width, up["region_code"]]))
        expected = []
        for low in lower:
            expected += [tuple(r) for r in bench_db.execute(
                "select household_id, village_code, head_name, size, votes from list_entries "
                "where list_id = ? and version = ? order by position", [low["id"], low["current_version"]])]
        expected.sort(key=lambda e: e[1])
        got = [tuple(r) for r in bench_db.execute(
            "select household_id, village_code, head_name, size, votes from list_entries "
            "where list_id = ? and version = 1 order by position", [up["id"]])]
        assert got == expected
        start = next(bench_db.query("select window_start from list_versions where list_id = ?", [up["id"]]))
        windows = [(str(low["id"]), rules.Window(dt.date.fromisoformat(low["window_start"]),
                                                 dt.date.fromisoformat(low["window_end"]))) for low in lower]
        chain = rules.DEFAULT_CHAIN
        assert rules.chain_problems(level=up["level"], chain=chain, on=dt.date.fromisoformat(start["window_start"]),
                                    lower_windows=windows) == []


def test_nothing_is_published_after_now(bench_db):
    now = dt.datetime.fromisoformat(NOW)
    for table, column in (("list_versions", "published_at"), ("lists", "created_at"), ("households", "created_at")):
        latest = bench_db.execute(f"select max({column}) from {table}").fetchone()[0]
        assert dt.datetime.fromisoformat(latest) <= now


def test_amendments_record_the_disqualification(bench_db):
    for d in bench_db.query("select * from disqualifications"):
        lst = next(bench_db.query("select * from lists where id = ?", [d["list_id"]]))
        assert lst["current_version"] == 2
        on_v1 = {r[0] for r in bench_db.execute(
            "select household_id from list_entries where list_id = ? and version = 1", [lst["id"]])}
        on_v2 = {r[0] for r in bench_db.execute(
            "select household_id from list_entries where list_id = ? and version = 2", [lst["id"]])}
        assert d["household_id"] in on_v1 - on_v2


def test_pages_render(tiny):
    app = create_app({"DATABASE": str(tiny[0]), "LOAD_DEMO": False, "NOW": NOW, "TESTING": True,
                      "INSTANCE_PATH": str(tiny[0].parent / "instance"), "ID_HASH_KEY": "bench-make-province"})
    client = app.test_client()
    conn = sqlite3.connect(tiny[0])
    county = conn.execute("select code from regions where level = 'county' order by code").fetchone()[0]
    village = conn.execute("select code from regions where level = 'village' order by code").fetchone()[0]
    county_list = conn.execute("select id from lists where level = 'county' order by id").fetchone()[0]
    amended = conn.execute("select id from lists where current_version = 2").fetchone()
    assert amended, "the tiny scale should include a 递补 amendment"
    amended = amended[0]
    conn.close()
    for url in ("/", f"/r/{county}", f"/r/{village}", f"/lists/{county_list}", f"/lists/{county_list}/print",
                f"/lists/{county_list}.csv", f"/lists/{amended}", f"/lists/{amended}/v1", "/notices/1"):
        assert client.get(url).status_code == 200, url
    assert "递补" in client.get(f"/lists/{amended}").get_data(as_text=True)
