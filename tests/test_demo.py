"""The demo county loads on first start with lists in every state relative to today."""

import re

import pytest

from portal import create_app
from portal.domain import rules
from portal.runtime import get_db

from .conftest import NOW, set_now

#: This year's 17 identification lists (villages and townships), its removal (village, township, county),
#: exit and re-entry lists (village); last year's identification (2 villages, 2 townships, county) and exit (3).
DEMO_LISTS = 17 + 3 + 1 + 1 + 5 + 3


@pytest.fixture
def demo_app(tmp_path):
    return create_app({"INSTANCE_PATH": str(tmp_path / "inst"), "LOAD_DEMO": True, "NOW": NOW, "TESTING": True})


def test_demo_loads_on_first_start_with_real_quotas(demo_app):
    with demo_app.app_context():
        db = get_db()
        quotas = {r["name"]: (r["persons"], r["reserve"]) for r in db.query(
            "select r.name, q.persons, q.reserve from quotas q join regions r on r.code = q.region_code "
            "where r.level in ('county', 'township')")}
        assert quotas == {"武陵源区": (6200, 300), "索溪峪镇": (1028, 0), "协合乡": (1732, 0),
                          "中湖乡": (2495, 0), "天子山镇": (645, 0)}
        assert db["households"].count > 1000
        # No ID number is stored in clear.
        assert db.execute("select count(*) from households where id_masked not like '**************%' or length(id_masked) != 18").fetchone()[0] == 0
        over = list(db.query(
            "select l.id from lists l join quotas q on q.region_code = l.region_code and q.campaign_id = l.campaign_id "
            "where (select sum(size) from list_entries e where e.list_id = l.id and e.version = l.current_version) > q.persons"))
        assert over == []


def test_demo_has_lists_in_every_state_today(demo_app):
    client = demo_app.test_client()
    page = client.get("/").get_data(as_text=True)
    for label in ("公示中", "尚未开始", "已结束"):
        assert label in page
    with demo_app.app_context():
        from portal.web.lists import lists_within
        states = {lst["state"].status for lst in lists_within("")}
        levels = {lst["level"] for lst in lists_within("")}
        amended = [lst for lst in lists_within("") if lst["current_version"] > 1]
        kinds = {(lst["kind"], lst["state"].status) for lst in lists_within("")}
    assert states == {rules.OPEN, rules.NOT_OPEN, rules.CLOSED}
    # Last year's round ran to the county; this year's removal list is at the county now (issue 20, item 8).
    assert levels == {"village", "township", "county"}
    assert {("exit", rules.CLOSED), ("exit", rules.OPEN), ("remove", rules.CLOSED), ("remove", rules.OPEN),
            ("reenter", rules.NOT_OPEN), ("identify", rules.CLOSED)} <= kinds
    assert amended and "递补" in client.get(f"/lists/{amended[0]['id']}").get_data(as_text=True)


def test_load_demo_reloads_the_demo_with_windows_from_today(demo_app):
    runner = demo_app.test_cli_runner()
    set_now(demo_app, "2026-12-20T09:00:00+08:00")
    result = runner.invoke(args=["load-demo"])
    assert result.exit_code == 0, result.output
    assert "Demo loaded" in result.output
    with demo_app.app_context():
        db = get_db()
        assert db["lists"].count == DEMO_LISTS
        starts = {r["window_start"] for r in db.query("select window_start from list_versions")}
    assert "2026-12-22" in starts            # the not-yet-open villages start two days after "today"


def test_load_demo_refuses_a_database_with_other_data_unless_reset(demo_app):
    from portal.domain.regions import add_region
    with demo_app.app_context():
        add_region(get_db(), "511022", "青川县")
    runner = demo_app.test_cli_runner()
    refused = runner.invoke(args=["load-demo"])
    assert refused.exit_code != 0 and "演示县以外" in refused.output
    declined = runner.invoke(args=["load-demo", "--reset"], input="n\n")
    assert declined.exit_code != 0
    with demo_app.app_context():
        assert get_db()["regions"].get("511022")
    reset = runner.invoke(args=["load-demo", "--reset"], input="y\n")
    assert reset.exit_code == 0, reset.output
    with demo_app.app_context():
        assert next(get_db().query("select 1 from regions where code = '511022'"), None) is None


def test_second_start_does_not_load_again(demo_app, tmp_path):
    again = create_app({"INSTANCE_PATH": str(tmp_path / "inst"), "LOAD_DEMO": True, "NOW": NOW})
    with again.app_context():
        assert get_db()["lists"].count == DEMO_LISTS


def test_the_search_hints_work_on_the_demo(demo_app):
    """Issue 17, items 8 and 12: every example the hints give finds what they promise on the demo:
    张建国 of 河口村 by his whole name (characters, pinyin, initials, with the village), 双星村's lists by
    its name or initials."""
    from portal import search

    with demo_app.app_context():
        search.rebuild()
    client = demo_app.test_client()
    hints = client.get("/").get_data(as_text=True) + client.get("/search").get_data(as_text=True)
    for q in ("张建国", "zhangjianguo", "zjg", "张建国 河口村", "双星村", "sxc"):
        assert q in hints, q
    for q in ("张建国", "zhangjianguo", "zjg", "张建国 河口村"):
        page = client.get("/search", query_string={"q": q}).get_data(as_text=True)
        assert "张*国" in page and "河口村" in page, q
    for q in ("双星村", "sxc"):
        page = client.get("/search", query_string={"q": q}).get_data(as_text=True)
        assert re.search(r"<a href=\"/lists/\d+\">(<mark>)?双星村(</mark>)?[^<]*公示名单", page), q
    assert "张*国" not in client.get("/search", query_string={"q": "建国"}).get_data(as_text=True)


def test_phone_numbers_are_tel_links_everywhere(demo_app):
    page = demo_app.test_client().get("/").get_data(as_text=True)
    footer = page[page.index("<footer"):]
    assert 'href="tel:0744-5616963"' in footer and 'href="tel:12317"' in footer
