"""The demo county loads on first start with lists in every state relative to today."""

import pytest

from portal import create_app, rules
from portal.db import get_db

from .conftest import NOW


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
        assert db.execute("select count(*) from households where id_masked not like '430811%****%'").fetchone()[0] == 0
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
        from portal.lists import lists_where
        states = {lst["state"].status for lst in lists_where("1 = 1", [])}
        levels = {lst["level"] for lst in lists_where("1 = 1", [])}
        amended = lists_where("l.current_version > 1", [])
    assert states == {rules.OPEN, rules.NOT_OPEN, rules.CLOSED}
    assert levels == {"village", "township"}
    assert amended and "递补" in client.get(f"/lists/{amended[0]['id']}").get_data(as_text=True)


def test_load_demo_command_refuses_a_full_database_and_reset_reloads(demo_app):
    runner = demo_app.test_cli_runner()
    refused = runner.invoke(args=["load-demo"])
    assert refused.exit_code != 0 and "已经有数据" in refused.output
    with demo_app.app_context():
        before = get_db()["households"].count
    reset = runner.invoke(args=["load-demo", "--reset"], input="y\n")
    assert reset.exit_code == 0, reset.output
    assert "Demo loaded" in reset.output
    with demo_app.app_context():
        assert get_db()["households"].count == before


def test_second_start_does_not_load_again(demo_app, tmp_path):
    again = create_app({"INSTANCE_PATH": str(tmp_path / "inst"), "LOAD_DEMO": True, "NOW": NOW})
    with again.app_context():
        assert get_db()["lists"].count == 18
