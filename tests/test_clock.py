"""The portal's one clock: configured once in create_app, the only reader of the wall clock, and the
source of every time the portal stores."""

import ast
import datetime as dt
from pathlib import Path

import pytest

from portal import create_app
from portal.clock import EXTENSION, Clock

from .conftest import login, set_now

PORTAL = Path(__file__).resolve().parent.parent / "portal"
SHANGHAI_MIDNIGHT_UTC = "2026-12-31T15:59:50+00:00"        # 23:59:50 on 31 December in Asia/Shanghai

#: Calls that read the wall clock, as the last two names of the dotted call.
WALL_CLOCK = {("datetime", "now"), ("datetime", "utcnow"), ("datetime", "today"), ("date", "today"),
              ("time", "time"), ("time", "time_ns"), ("time", "localtime"), ("time", "gmtime"), ("time", "ctime"),
              ("time", "strftime")}


def _dotted(node: ast.AST) -> tuple[str, ...]:
    names = []
    while isinstance(node, ast.Attribute):
        names.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        names.append(node.id)
    return tuple(reversed(names))


def wall_clock_reads(source: str) -> list[str]:
    """Calls and imports in ``source`` that read the wall clock on their own."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            name = _dotted(node.func)
            if name[-2:] in WALL_CLOCK:
                found.append(f"line {node.lineno}: {'.'.join(name)}()")
        elif isinstance(node, ast.ImportFrom) and node.module in ("time", "datetime"):
            for alias in node.names:
                if (node.module, alias.name) in {("time", "time"), ("time", "time_ns"), ("time", "localtime"),
                                                  ("time", "strftime"), ("time", "gmtime")}:
                    found.append(f"line {node.lineno}: from {node.module} import {alias.name}")
    return found


def test_the_scan_finds_each_way_of_reading_the_wall_clock():
    sample = ("import datetime as dt, time\nfrom datetime import date\nfrom time import time as now\n"
              "a = dt.datetime.now(dt.UTC)\nb = date.today()\nc = time.time()\nd = dt.datetime.utcnow()\n"
              "e = time.strftime('%Y')\nf = time.monotonic()\ng = time.perf_counter()\n")
    assert [r.split(":")[1].strip() for r in wall_clock_reads(sample)] == [
        "from time import time", "dt.datetime.now()", "date.today()", "time.time()", "dt.datetime.utcnow()",
        "time.strftime()"]


def test_no_module_but_the_clock_reads_the_wall_clock():
    """Intervals (time.monotonic, perf_counter) are fine; dates and instants come from portal.clock."""
    offenders = {}
    for path in sorted(PORTAL.rglob("*.py")):
        if path == PORTAL / "domain" / "clock.py":
            continue
        reads = wall_clock_reads(path.read_text(encoding="utf-8"))
        if reads:
            offenders[str(path.relative_to(PORTAL.parent))] = reads
    assert offenders == {}


def test_a_stopped_clock_gives_local_days_and_utc_stamps():
    clock = Clock("Asia/Shanghai", SHANGHAI_MIDNIGHT_UTC)
    assert clock.frozen and clock.now().utcoffset() == dt.timedelta(hours=8)
    assert clock.today() == dt.date(2026, 12, 31)
    assert clock.stamp() == "2026-12-31T15:59:50+00:00"
    assert clock.local_stamp() == "2026-12-31T23:59:50+08:00"
    clock.advance(dt.timedelta(seconds=10))
    assert clock.today() == dt.date(2027, 1, 1) and clock.stamp() == "2026-12-31T16:00:00+00:00"
    assert clock.timestamp() == dt.datetime(2026, 12, 31, 16, tzinfo=dt.timezone.utc).timestamp()


def test_a_naive_time_is_read_in_the_portal_zone():
    assert Clock("Asia/Shanghai", "2026-11-23T00:30:00").stamp() == "2026-11-22T16:30:00+00:00"


def test_a_running_clock_follows_the_system_and_cannot_be_advanced():
    clock = Clock("Asia/Shanghai")
    assert not clock.frozen
    assert abs(clock.now() - dt.datetime.now(dt.timezone.utc)) < dt.timedelta(seconds=5)
    with pytest.raises(RuntimeError):
        clock.advance(dt.timedelta(days=1))


def test_portal_now_in_the_environment_stops_the_apps_clock(tmp_path, monkeypatch):
    monkeypatch.setenv("PORTAL_NOW", "2030-02-03T04:05:06+08:00")
    app = create_app({"INSTANCE_PATH": str(tmp_path / "i"), "LOAD_DEMO": False})
    assert app.extensions[EXTENSION].stamp() == "2030-02-02T20:05:06+00:00"


def test_every_time_a_request_stores_comes_from_the_clock(app, client, staff, db):
    """Moved far from both the test's own clock and the real date: every row written after the move
    (publication, audit, complaint, its events, notices, the search outbox) carries the new time."""
    set_now(app, "2031-05-06T07:08:09+08:00")
    marks = {table: db.execute(f"select coalesce(max(rowid), 0) from {table}").fetchone()[0]
             for table in ("audit_log", "complaints", "complaint_events", "notices", "search_outbox")}
    login(client, "admin")
    resp = client.post("/staff/notices/new", data={"region": "430811", "title": "时间测试", "body": "正文",
                                                   "publish_at": "2031-05-06T08:00"})
    assert resp.status_code == 302
    list_id = staff["other_list"]
    resp = client.post(f"/complaints/new?list={list_id}", data={"ground": "vehicle", "text": "他家有小汽车，价值很高。",
                                                                "anonymous": "y"})
    assert resp.status_code == 303
    written = [("audit_log", "at"), ("complaints", "filed_at"), ("complaint_events", "at"), ("notices", "created_at"),
               ("notices", "updated_at"), ("search_outbox", "at")]
    for table, column in written:
        stamps = [r[0] for r in db.execute(f"select {column} from {table} where rowid > ?", [marks[table]])]
        assert stamps, table
        assert {dt.datetime.fromisoformat(s).astimezone(dt.timezone.utc).replace(microsecond=0) for s in stamps} == {
            dt.datetime(2031, 5, 5, 23, 8, 9, tzinfo=dt.timezone.utc)}, (table, column)


def test_the_demo_places_its_windows_around_the_clocks_today(tmp_path):
    app = create_app({"INSTANCE_PATH": str(tmp_path / "d"), "LOAD_DEMO": True, "NOW": "2031-05-06T07:08:09+08:00"})
    from portal.db import connect

    db = connect(app.config["DATABASE"])
    loaded = db.execute("select value from meta where key = 'demo'").fetchone()[0]
    # This year's lists lie around today; last year's round (issue 20) ran about a year before.
    this_year = db.execute("select max(id) from campaigns").fetchone()[0]
    starts = [r[0] for r in db.execute("select window_start from list_versions v join lists l on l.id = v.list_id "
                                       "where l.campaign_id = ?", [this_year])]
    last_year = [r[0] for r in db.execute("select window_start from list_versions v join lists l on l.id = v.list_id "
                                          "where l.campaign_id != ?", [this_year])]
    created = {r[0] for r in db.execute("select created_at from campaigns union select created_at from households")}
    db.close()
    assert loaded == "2031-05-06" and min(starts) > "2031-03-01" and max(starts) < "2031-06-01"
    assert last_year and min(last_year) > "2030-03-01" and max(last_year) < "2030-07-01"
    assert created == {"2031-05-05T23:08:09+00:00"}
