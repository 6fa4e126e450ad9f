"""Dynamic management (issue 20): spot checks before each level, the register that follows the closed
lists, removals, exits with the household's agreement, re-entries, 先退后进 and the next round."""

import datetime as dt

import pytest

from portal.domain import adjustments, register, sampling
from portal.domain.campaigns import (
    add_household,
    create_campaign,
    get_campaign,
    set_quota,
)
from portal.domain.publishing import publish_list
from portal.domain.regions import add_region
from portal.domain.replacement import confirm
from portal.domain.rules import PublishError

from .conftest import CLOCK, ID_KEY, TODAY, han

day = lambda n: TODAY + dt.timedelta(days=n)
STAFF = {"actor": "审核员", "role": "township_reviewer", "key": ID_KEY, "clock": CLOCK}
A, B, TOWNSHIP, COUNTY = "430811100001", "430811100002", "430811100", "430811"


def _publish(db, campaign, code, kind, start, **kw):
    return publish_list(db, campaign_id=campaign, region_code=code, kind=kind, start=start, today=None, key=ID_KEY,
                        clock=CLOCK, **kw)


def _check_all(db, campaign, list_id, wrong=()):
    """Draw the spot check of a list and record every result (属实 unless the household is in ``wrong``)."""
    check_id = sampling.draw_check(db, campaign=get_campaign(db, campaign), list_id=list_id, **STAFF)
    for item in sampling.latest(db, list_id)["items"]:
        bad = item["household_id"] in wrong
        sampling.record_result(db, check_id=check_id, position=item["position"], result="false" if bad else "true",
                               note="入户核查：家中有轿车" if bad else "", **STAFF)
    return check_id


@pytest.fixture
def round_one(db):
    """A county whose 2014 round ran to the end: village lists -40, township -30, county -20 (closed
    on day -6); village A has 10 applicants (quota 20 persons), village B 6 (quota 12)."""
    add_region(db, COUNTY, "武陵源区")
    add_region(db, TOWNSHIP, "索溪峪镇", COUNTY)
    add_region(db, A, "双星村", TOWNSHIP)
    add_region(db, B, "河口村", TOWNSHIP)
    c = create_campaign(db, county_code=COUNTY, name="2014年扶贫对象识别", reference_date=dt.date(2013, 12, 31),
                        income_line=2736, clock=CLOCK)
    for code, persons in ((COUNTY, 100), (TOWNSHIP, 40), (A, 20), (B, 12)):
        set_quota(db, c, code, persons)
    homes = {}
    for village, n in ((A, 10), (B, 6)):
        for i in range(n):
            name = f"{'张' if village == A else '李'}{han(i + 1)}"
            homes[name] = add_household(db, campaign_id=c, village_code=village, head_name=name, size=2,
                                        applied_on=dt.date(2014, 3, 1), votes=40 - i, voters_present=45, clock=CLOCK)
    return {"campaign": c, "homes": homes}


def _run_round(db, campaign):
    lists = {code: _publish(db, campaign, code, "identify", day(-40)) for code in (A, B)}
    for list_id in lists.values():
        _check_all(db, campaign, list_id)
    lists[TOWNSHIP] = _publish(db, campaign, TOWNSHIP, "identify", day(-30))
    _check_all(db, campaign, lists[TOWNSHIP])
    lists[COUNTY] = _publish(db, campaign, COUNTY, "identify", day(-20))
    return lists


def test_sample_sizes_follow_rule_12():
    assert [sampling.sample_size(n, 20) for n in (0, 1, 5, 10, 11, 16)] == [0, 1, 1, 2, 3, 4]
    assert [sampling.sample_size(n, 5) for n in (1, 19, 20, 21, 40, 41)] == [1, 1, 1, 2, 2, 3]


def test_the_draw_is_reproducible_from_the_public_list(db, round_one):
    c = round_one["campaign"]
    list_id = _publish(db, c, A, "identify", day(-40))
    sampling.draw_check(db, campaign=get_campaign(db, c), list_id=list_id, **STAFF)
    check = sampling.latest(db, list_id)
    assert check["population"] == 10 and check["size"] == 2 == len(check["items"]) and check["percent"] == 20
    # Anyone recomputes it from the 校验码 and the 序号 printed on the list.
    version = next(db.query("select content_hash from list_versions where list_id = ?", [list_id]))
    refs = [r["row_ref"] for r in db.query("select row_ref from list_entries where list_id = ?", [list_id])]
    seed = sampling.seed_of(version["content_hash"], "township")
    assert check["seed"] == seed
    assert [i["row_ref"] for i in check["items"]] == sampling.draw(refs, seed, 2)
    # Another version's hash gives another seed; the draw is not the first two rows by habit.
    assert sampling.seed_of("0" * 64, "township") != seed
    draws = {tuple(sampling.draw(range(1, 11), sampling.seed_of(f"{n:064x}", "township"), 2)) for n in range(20)}
    assert len(draws) > 5
    with pytest.raises(PublishError, match="已经抽查过"):
        sampling.draw_check(db, campaign=get_campaign(db, c), list_id=list_id, **STAFF)
    audit = next(db.query("select after from audit_log where action = 'spotcheck.draw'"))
    assert seed in audit["after"]


def test_the_township_waits_for_a_complete_spot_check(db, round_one):
    c, homes = round_one["campaign"], round_one["homes"]
    a = _publish(db, c, A, "identify", day(-40))
    b = _publish(db, c, B, "identify", day(-40))
    with pytest.raises(PublishError, match="双星村的名单还没有经过乡镇抽查复核.*河口村的名单还没有经过乡镇抽查复核"):
        _publish(db, c, TOWNSHIP, "identify", day(-30))
    _check_all(db, c, b)
    check_id = sampling.draw_check(db, campaign=get_campaign(db, c), list_id=a, **STAFF)
    first, second = sampling.latest(db, a)["items"]
    sampling.record_result(db, check_id=check_id, position=1, result="true", note="", **STAFF)
    with pytest.raises(PublishError, match="双星村的抽查复核还有 1 户没有登记结果"):
        _publish(db, c, TOWNSHIP, "identify", day(-30))
    with pytest.raises(PublishError, match="必须写明"):
        sampling.record_result(db, check_id=check_id, position=2, result="false", note=" ", **STAFF)
    sampling.record_result(db, check_id=check_id, position=2, result="false", note="家中有轿车", **STAFF)
    with pytest.raises(PublishError, match="已经登记过"):
        sampling.record_result(db, check_id=check_id, position=2, result="true", note="", **STAFF)
    with pytest.raises(PublishError, match="不属实的 1 户还在名单上"):
        _publish(db, c, TOWNSHIP, "identify", day(-30))
    # The 不属实 household loses its place by the usual path (取消资格, 依次递补); then the township may publish.
    confirm(db, list_id=a, household_id=second["household_id"], ground="抽查复核不属实：家中有轿车", expected=None,
            actor="审核员", role="township_reviewer", key=ID_KEY, today=None, start=day(-36), clock=CLOCK)
    township = _publish(db, c, TOWNSHIP, "identify", day(-30))
    names = {r["head_name"] for r in db.query("select head_name from list_entries where list_id = ?", [township])}
    assert len(names) == 15 and second["head_name"] not in names and first["head_name"] in names
    assert set(names) < set(homes)


def test_the_register_follows_the_closed_county_announcement(db, round_one):
    c = round_one["campaign"]
    lists = _run_round(db, c)
    # The county announcement runs day -20 to day -6: on day -6 nobody is on the register yet.
    assert register.register_of(db, c, day(-6)) == {}
    filed = register.register_of(db, c, day(-5))
    assert len(filed) == 16 and {e.status for e in filed.values()} == {"registered"}
    entry = next(iter(filed.values()))
    assert entry.change.list_id == lists[COUNTY] and entry.change.version == 1 and entry.status_name == "在册"
    counts = register.counts(db, c, day(-5))
    assert counts[A]["registered"] == {"households": 10, "persons": 20}


@pytest.fixture
def round_two(db, round_one):
    """The 2015 round opened from the closed 2014 one: exits publicised village 5 days → county 10 days."""
    c1 = round_one["campaign"]
    _run_round(db, c1)
    c2 = create_campaign(db, county_code=COUNTY, name="2015年动态调整", reference_date=dt.date(2014, 12, 31),
                         income_line=2855, previous_id=c1, clock=CLOCK,
                         chains={"exit": [{"level": "village", "name": "退出公示", "days": 5},
                                          {"level": "county", "name": "退出公告", "days": 10}]})
    for code, persons in ((COUNTY, 100), (TOWNSHIP, 40), (A, 20), (B, 12)):
        set_quota(db, c2, code, persons)
    return {**round_one, "c1": c1, "c2": c2}


def test_exit_needs_conditions_verification_and_agreement(db, round_two):
    c2, home = round_two["c2"], round_two["homes"]["张一"]
    propose = lambda **kw: adjustments.propose(db, campaign_id=c2, household_id=home, kind="exit",
                                               today=day(-5), **STAFF, **kw)
    with pytest.raises(PublishError, match="还不符合退出条件：.*住房安全有保障"):
        propose(conditions={k: True for k in adjustments.EXIT_CONDITIONS if k != "housing"})
    exit_id = propose(conditions={k: True for k in adjustments.EXIT_CONDITIONS})
    with pytest.raises(PublishError, match="已经为张一提出过脱贫退出"):
        propose(conditions={k: True for k in adjustments.EXIT_CONDITIONS})
    with pytest.raises(PublishError, match="没有可以列入脱贫退出名单的农户"):
        _publish(db, c2, A, "exit", day(-4))
    adjustments.verify_exit(db, exit_id, note="工作队入户核实收入和住房", **STAFF)
    adjustments.record_agreement(db, exit_id, agreed=False, on=day(-5), how="", note="户主认为收入还不稳定",
                                 today=day(-5), **STAFF)
    with pytest.raises(PublishError, match="没有可以列入"):
        _publish(db, c2, A, "exit", day(-4))
    with pytest.raises(PublishError, match="不少于 10 个字"):
        adjustments.override_refusal(db, exit_id, reason="收入够了", **STAFF)
    adjustments.override_refusal(db, exit_id, reason="两次核实收入均稳定超过标准一倍以上，已向户主解释政策", **STAFF)
    village = _publish(db, c2, A, "exit", day(-4))
    row = next(db.query("select head_name, mark from list_entries where list_id = ?", [village]))
    assert row == {"head_name": "张一", "mark": "本户同意退出"}
    # The exit chain skips the township; the county checks 5 % of the village list first.
    with pytest.raises(PublishError, match="还没有经过县（区）抽查复核"):
        _publish(db, c2, COUNTY, "exit", day(1))
    _check_all(db, c2, village)
    _publish(db, c2, COUNTY, "exit", day(1))
    assert register.status_of(db, c2, home, day(10)) == "registered"
    assert register.status_of(db, c2, home, day(11)) == "exited"
    history = register.register_of(db, c2, day(11))[home].history
    assert [ch.status for ch in history] == ["registered", "exited"]


def test_removal_then_reentry_and_first_out_then_in(db, round_two):
    c2, homes = round_two["c2"], round_two["homes"]
    removed, newcomer_village = homes["李一"], B
    with pytest.raises(PublishError, match="十种情形"):
        adjustments.propose(db, campaign_id=c2, household_id=removed, kind="remove", ground="omission",
                            finding="x", today=day(-5), **STAFF)
    adjustments.propose(db, campaign_id=c2, household_id=removed, kind="remove", ground="vehicle",
                        finding="车管所登记有 2013 年购入的轿车", today=day(-5), **STAFF)
    newcomer = add_household(db, campaign_id=c2, village_code=newcomer_village, head_name="王新", size=3,
                             applied_on=dt.date(2015, 1, 5), votes=30, voters_present=40, clock=CLOCK)
    # 先退后进: the village's new identification waits for its corrections.
    with pytest.raises(PublishError, match="先退后进：本村还有李一的剔除没有公示"):
        _publish(db, c2, B, "identify", day(-4))
    removal = _publish(db, c2, B, "remove", day(-4))
    mark = next(db.query("select mark from list_entries where list_id = ?", [removal]))["mark"]
    assert mark == "剔除：有价值 3 万元以上的车"
    identify = _publish(db, c2, B, "identify", day(-4))
    assert {r["household_id"] for r in db.query("select household_id from list_entries where list_id = ?",
                                                 [identify])} == {newcomer}
    for list_id in (removal,):
        _check_all(db, c2, list_id)
    _publish(db, c2, TOWNSHIP, "remove", day(4))
    _check_all(db, c2, next(db.query("select id from lists where campaign_id = ? and region_code = ? and kind = "
                                     "'remove'", [c2, TOWNSHIP]))["id"])
    _publish(db, c2, COUNTY, "remove", day(11))
    assert register.status_of(db, c2, removed, day(25)) == "registered"
    assert register.status_of(db, c2, removed, day(26)) == "removed"
    # A removed household is not on the register: it can neither exit nor be removed again.
    with pytest.raises(PublishError, match="不在建档立卡户名册上（已剔除）"):
        adjustments.propose(db, campaign_id=c2, household_id=removed, kind="exit",
                            conditions={k: True for k in adjustments.EXIT_CONDITIONS}, today=day(26), **STAFF)
    # Re-entry is only for households that exited.
    with pytest.raises(PublishError, match="不是已脱贫退出的农户"):
        adjustments.propose(db, campaign_id=c2, household_id=homes["李二"], kind="reenter", ground="returned",
                            finding="因病返贫", today=day(26), **STAFF)


def test_reentry_of_an_exited_household(db, round_two):
    c1, c2, home = round_two["c1"], round_two["c2"], round_two["homes"]["张二"]
    # It exited in the first round (an exit list of the 2014 campaign, closed on day -6 at the county).
    exit_id = adjustments.propose(db, campaign_id=c1, household_id=home, kind="exit", today=day(-5),
                                  conditions={k: True for k in adjustments.EXIT_CONDITIONS}, **STAFF)
    adjustments.verify_exit(db, exit_id, note="入户核实", **STAFF)
    adjustments.record_agreement(db, exit_id, agreed=True, on=day(-5), how="signed", note="", today=day(-5), **STAFF)
    for code, start in ((A, day(-4)), (TOWNSHIP, day(4)), (COUNTY, day(12))):
        list_id = _publish(db, c1, code, "exit", start)
        if code != COUNTY:
            _check_all(db, c1, list_id)
    assert register.status_of(db, c2, home, day(27)) == "exited"
    adjustments.propose(db, campaign_id=c2, household_id=home, kind="reenter", ground="wrong_exit",
                        finding="复核发现退出时收入未达标", today=day(27), **STAFF)
    village = _publish(db, c2, A, "reenter", day(28))
    assert next(db.query("select mark from list_entries where list_id = ?", [village]))["mark"] == "错退"
    _check_all(db, c2, village)
    township = _publish(db, c2, TOWNSHIP, "reenter", day(35))
    _check_all(db, c2, township)
    _publish(db, c2, COUNTY, "reenter", day(42))
    history = register.register_of(db, c2, day(57))[home].history
    assert [ch.status for ch in history] == ["registered", "exited", "registered"]
    assert [ch.campaign_id for ch in history] == [c1, c1, c2]


def test_migration_0014_keeps_the_lists_of_an_older_database(tmp_path):
    """The rebuild of ``lists`` (a new kind in its CHECK) keeps every row and every reference to it."""
    from portal.db import connect, migrations

    db = connect(str(tmp_path / "old.db"))
    migrations.apply(db, stop_before="0014_reenter_kind")
    add_region(db, COUNTY, "武陵源区")
    add_region(db, TOWNSHIP, "索溪峪镇", COUNTY)
    add_region(db, A, "双星村", TOWNSHIP)
    db.execute("insert into campaigns (county_code, name, reference_date, income_line, chain, scope, created_at) "
               "values (?, '旧批次', '2013-12-31', 2736, '[{\"level\": \"village\", \"name\": \"公示\", \"days\": 7}]', "
               "'{}', '2014-01-01')", [COUNTY])
    db.execute("insert into lists (campaign_id, region_code, level, kind, title, approving_body, created_at) "
               "values (1, ?, 'village', 'identify', '旧名单', '村委会', '2014-03-01')", [A])
    db.execute("insert into list_versions (list_id, version, window_start, window_end, published_at) "
               "values (1, 1, '2014-03-02', '2014-03-08', '2014-03-01')")
    db.conn.commit()
    migrations.apply(db)
    assert db.execute("select id, title from lists").fetchall() == [(1, "旧名单")]
    assert db.execute("pragma foreign_key_check").fetchall() == []
    assert db.execute("pragma foreign_keys").fetchone()[0] == 1
    assert get_campaign(db, 1)["sampling"] == {} and get_campaign(db, 1)["chains"] == {}
    db.execute("insert into lists (campaign_id, region_code, level, kind, title, approving_body, created_at) "
               "values (1, ?, 'village', 'reenter', '返贫纳入', '村委会', '2015-03-01')", [A])
    with pytest.raises(Exception, match="CHECK"):
        db.execute("insert into lists (campaign_id, region_code, level, kind, title, approving_body, created_at) "
                   "values (1, ?, 'village', 'bogus', 'x', 'y', '2015-03-01')", [A])
    db.conn.rollback()
    # Run again (as after a process died before the record): nothing changes.
    from portal.db.migrations_0014 import m0014_reenter_kind
    rows = db.execute("select * from lists order by id").fetchall()
    m0014_reenter_kind(db)
    assert db.execute("select * from lists order by id").fetchall() == rows and len(rows) == 2
    db.close()


@pytest.fixture
def console(app, db, round_two):
    from portal.domain.accounts import create_user

    from .conftest import PASSWORD
    app.config["WTF_CSRF_ENABLED"] = False
    for username, role, code in (("clerk", "village_clerk", A), ("reviewer", "township_reviewer", TOWNSHIP),
                                 ("admin", "county_admin", COUNTY), ("otherclerk", "village_clerk", B)):
        create_user(db, username=username, display_name=username, role=role, region_code=code, password=PASSWORD,
                    actor="test", actor_role="cli", key=ID_KEY, clock=CLOCK)
    return round_two


def _as(app, username):
    from .conftest import login
    client = app.test_client()
    assert login(client, username).status_code == 302
    return client


def test_an_exit_through_the_console_and_its_public_list(app, db, console):
    c2, home = console["c2"], console["homes"]["张三"]
    clerk, reviewer = _as(app, "clerk"), _as(app, "reviewer")
    page = clerk.get(f"/staff/r/{A}/households").get_data(as_text=True)
    assert "建档立卡户名册" in page and "张三" in page and "在册" in page and "2014年扶贫对象识别" in page
    # Missing conditions: refused with the reason, nothing written.
    resp = clerk.post(f"/staff/r/{A}/households", data={"kind": "exit", "household_id": home, "conditions": ["income"]})
    assert resp.status_code == 400 and "还不符合退出条件" in resp.get_data(as_text=True)
    assert db["adjustments"].count == 0
    # Another village's clerk cannot propose here.
    assert _as(app, "otherclerk").post(f"/staff/r/{A}/households", data={"kind": "exit"}).status_code == 403
    resp = clerk.post(f"/staff/r/{A}/households", data={"kind": "exit", "household_id": home,
                                                        "conditions": list(adjustments.EXIT_CONDITIONS)})
    assert resp.status_code == 302
    adjustment = next(db.query("select id from adjustments"))["id"]
    assert clerk.post(f"/staff/adjustments/{adjustment}/verify", data={"note": "x"}).status_code == 403
    reviewer.post(f"/staff/adjustments/{adjustment}/verify", data={"note": "工作队入户核实，收入稳定"})
    clerk.post(f"/staff/adjustments/{adjustment}/agreement",
               data={"agreed": "yes", "on": TODAY.isoformat(), "how": "signed", "note": ""})
    assert adjustments.get(db, adjustment)["status"] == "agreed"
    resp = clerk.post(f"/staff/r/{A}/publish", data={"kind": "exit", "start": day(1).isoformat()})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    list_id = next(db.query("select id from lists where campaign_id = ? and kind = 'exit'", [c2]))["id"]
    public = app.test_client().get(f"/lists/{list_id}").get_data(as_text=True)
    assert "脱贫退出" in public and "本户同意退出" in public and "工作队" not in public
    # The county (exit chain: village → county) spot-checks 5 %: one household, drawn in the console.
    admin = _as(app, "admin")
    assert reviewer.post(f"/staff/lists/{list_id}/spotcheck/draw").status_code == 302
    assert sampling.latest(db, list_id) is None                  # the township does not check an exit list here
    admin.post(f"/staff/lists/{list_id}/spotcheck/draw")
    page = admin.get(f"/staff/lists/{list_id}/spotcheck").get_data(as_text=True)
    assert "抽取 1 户" in page and "张三" in page
    admin.post(f"/staff/lists/{list_id}/spotcheck/1", data={"result": "true", "note": ""})
    public = app.test_client().get(f"/lists/{list_id}").get_data(as_text=True)
    assert "县（区）按不少于 5% 抽查了第 1 版 1 户中的 1 户，已全部核查，发现不属实 0 户" in public
    data = app.test_client().get(f"/lists/{list_id}.json").get_json()
    assert data["spot_check"]["size"] == 1 and sampling.seed_of(data["content_hash"], "county") == data["spot_check"]["seed"]


def test_the_county_opens_the_next_round_from_the_console(app, db, console):
    c2 = console["c2"]
    admin = _as(app, "admin")
    page = admin.get("/staff/campaigns/new").get_data(as_text=True)
    assert "接续上一批次" in page and "2015年动态调整" in page
    resp = admin.post("/staff/campaigns/new", data={
        "name": "2016年动态调整", "reference_date": "2015-12-31", "income_line": 2952, "village_days": 7,
        "township_days": 7, "county_days": 15, "dibao": "included", "wubao_excluded": "y", "previous_id": str(c2),
        "carry_quotas": "y", "exit_skip_township": "y", "township_percent": 25, "county_percent": 5})
    assert resp.status_code == 302
    c3 = get_campaign(db, db.execute("select max(id) from campaigns").fetchone()[0])
    assert c3["previous_id"] == c2 and c3["sampling"] == {"township": 25, "county": 5}
    assert [s["level"] for s in c3["chains"]["exit"]] == ["village", "county"]
    assert db.execute("select region_code, persons from quotas where campaign_id = ? order by 1", [c3["id"]]).fetchall() \
        == db.execute("select region_code, persons from quotas where campaign_id = ? order by 1", [c2]).fetchall()
    # The register carries: the 2014 households are on the 2016 round's register.
    assert len(register.register_of(db, c3["id"], TODAY)) == 16
    assert {r["action"] for r in db.query("select action from audit_log")} >= {"campaign.create", "quota.carry"}
    resp = admin.post("/staff/campaigns/new", data={"name": "x", "reference_date": "2015-12-31", "income_line": 2952,
                                                    "village_days": 7, "township_days": 7, "county_days": 15,
                                                    "dibao": "included", "township_percent": 10})
    assert resp.status_code == 400 and "不少于 20%" in resp.get_data(as_text=True)


def test_rates_count_omissions_removals_and_wrong_exits(db, round_two):
    c1, c2, homes = round_two["c1"], round_two["c2"], round_two["homes"]
    assert register.rates(db, c2, day(-5))["wrong_exit"] == {"count": 0, "rate": None, "threshold": 2.0}   # none exited
    # 张二 exits in round one and comes back as 错退 in round two; 李一 is removed in round two.
    test_reentry_of_an_exited_household(db, round_two)
    adjustments.propose(db, campaign_id=c2, household_id=homes["李一"], kind="remove", ground="vehicle",
                        finding="有轿车", today=day(57), **STAFF)
    for code, start in ((B, day(58)), (TOWNSHIP, day(65)), (COUNTY, day(72))):
        list_id = _publish(db, c2, code, "remove", start)
        if code != COUNTY:
            _check_all(db, c2, list_id)
    rates = register.rates(db, c2, day(87))
    assert rates["filed"] == 16 and rates["exited"] == 1
    assert rates["wrong_exit"] == {"count": 1, "rate": 100.0, "threshold": 2.0}
    assert rates["wrong_inclusion"] == {"count": 1, "rate": 6.2, "threshold": None}
    assert rates["omission"]["count"] == 0
    village_a = next(db.query("select id from lists where campaign_id = ? and region_code = ? and kind = 'identify'",
                              [c1, A]))["id"]
    for outcome in ("upheld", "dismissed"):
        db["complaints"].insert({"receipt_hash": outcome, "list_id": village_a, "handler_region": A, "ground": "omission",
                                 "text": "漏评", "filed_at": CLOCK.stamp(), "status": "concluded", "outcome": outcome})
    assert register.rates(db, c2, day(87))["omission"] == {"count": 1, "rate": 6.2, "threshold": 2.0}
    assert register.rates(db, c2, day(87), B)["omission"]["count"] == 0
    # Narrowed to village B only the removal counts.
    assert register.rates(db, c2, day(87), B)["wrong_exit"]["count"] == 0
    assert register.rates(db, c2, day(87), B)["wrong_inclusion"]["count"] == 1


def test_an_upheld_complaint_against_a_filed_household_starts_a_removal(app, db, console):
    c1, c2, home = console["c1"], console["c2"], console["homes"]["张四"]
    county_list = next(db.query("select id from lists where campaign_id = ? and level = 'county'", [c1]))["id"]
    complaint = db["complaints"].insert({
        "receipt_hash": "r", "list_id": county_list, "household_id": home, "handler_region": A, "ground": "vehicle",
        "text": "有车", "filed_at": CLOCK.stamp(), "status": "concluded", "outcome": "upheld"}).last_pk
    clerk = _as(app, "clerk")
    page = clerk.get(f"/staff/complaints/{complaint}").get_data(as_text=True)
    assert "本户已在建档立卡户名册上：提出剔除" in page and "确认递补" not in page
    form = clerk.get(f"/staff/r/{A}/households?household={home}&complaint={complaint}").get_data(as_text=True)
    assert f"依据：已查实的第 {complaint} 件举报" in form
    resp = clerk.post(f"/staff/r/{A}/households", data={"kind": "remove", "household_id": home, "ground": "vehicle",
                                                        "finding": "核实有车", "complaint_id": str(complaint)})
    assert resp.status_code == 302
    row = next(db.query("select kind, complaint_id, campaign_id from adjustments"))
    assert row == {"kind": "remove", "complaint_id": complaint, "campaign_id": c2}
    # A complaint that was not upheld cannot be the basis of one.
    db.execute("update complaints set outcome = 'dismissed' where id = ?", [complaint])
    resp = clerk.post(f"/staff/r/{A}/households", data={"kind": "remove", "household_id": console["homes"]["张五"],
                                                        "ground": "vehicle", "finding": "x", "complaint_id": str(complaint)})
    assert resp.status_code == 400 and "已经查实的举报" in resp.get_data(as_text=True)


def test_an_upheld_objection_takes_a_household_off_an_exit_list(app, db, console):
    c2, homes = console["c2"], console["homes"]
    for name in ("张六", "张七"):
        exit_id = adjustments.propose(db, campaign_id=c2, household_id=homes[name], kind="exit", today=TODAY,
                                      conditions={k: True for k in adjustments.EXIT_CONDITIONS}, **STAFF)
        adjustments.verify_exit(db, exit_id, note="核实", **STAFF)
        adjustments.record_agreement(db, exit_id, agreed=True, on=TODAY, how="signed", note="", today=TODAY, **STAFF)
    village = _publish(db, c2, A, "exit", TODAY)
    # Amending it otherwise is refused: no household leaves without its proposal withdrawn.
    from portal.domain.publishing import amend_list
    with pytest.raises(PublishError, match="必须先撤回"):
        amend_list(db, village, household_ids=[homes["张七"]], note="去掉一户", key=ID_KEY, today=None, clock=CLOCK)
    complaint = db["complaints"].insert({
        "receipt_hash": "e", "list_id": village, "list_version": 1, "household_id": homes["张六"], "handler_region": A,
        "ground": "other", "text": "还没脱贫", "filed_at": CLOCK.stamp(), "status": "concluded",
        "outcome": "upheld", "within_window": 1}).last_pk
    clerk = _as(app, "clerk")
    assert "撤下该户并发布新版本" in clerk.get(f"/staff/complaints/{complaint}").get_data(as_text=True)
    clerk.post(f"/staff/complaints/{complaint}/take-off", data={"note": "异议查实：收入还不稳定"})
    assert db.execute("select current_version from lists where id = ?", [village]).fetchone()[0] == 2
    on_list = {r[0] for r in db.execute("select household_id from list_entries where list_id = ? and version = 2",
                                        [village])}
    assert on_list == {homes["张七"]}
    assert next(db.query("select status from adjustments where household_id = ?", [homes["张六"]]))["status"] \
        == "withdrawn"
    assert next(db.query("select resolved_household_id from complaints where id = ?", [complaint]))[
        "resolved_household_id"] == homes["张六"]
    assert "adjustment.take_off" in {r["action"] for r in db.query("select action from audit_log")}
    # 张六 stays on the register once the list closes; 张七 exits.
    _check_all(db, c2, village)                 # round two's exits go village → county
    _publish(db, c2, COUNTY, "exit", day(7))
    assert register.status_of(db, c2, homes["张六"], day(40)) == "registered"
    assert register.status_of(db, c2, homes["张七"], day(40)) == "exited"


def test_the_signed_exit_form_is_kept_for_staff_only(app, db, console):
    import io

    from PIL import Image
    c2, home = console["c2"], console["homes"]["张八"]
    exit_id = adjustments.propose(db, campaign_id=c2, household_id=home, kind="exit", today=TODAY,
                                  conditions={k: True for k in adjustments.EXIT_CONDITIONS}, **STAFF)
    adjustments.verify_exit(db, exit_id, note="核实", **STAFF)
    image = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 200, 200)).save(image, "JPEG")
    clerk = _as(app, "clerk")
    resp = clerk.post(f"/staff/adjustments/{exit_id}/agreement", content_type="multipart/form-data", data={
        "agreed": "yes", "on": TODAY.isoformat(), "how": "signed", "note": "",
        "photo": (io.BytesIO(image.getvalue()), "确认书.jpg")})
    assert resp.status_code == 302
    row = adjustments.get(db, exit_id)
    assert row["status"] == "agreed" and row["agreement_file"] and row["agreement_file_type"] == "image/jpeg"
    assert "签字确认书照片" in clerk.get(f"/staff/r/{A}/households").get_data(as_text=True)
    download = clerk.get(f"/staff/adjustments/{exit_id}/agreement.photo")
    assert download.status_code == 200 and download.data[:3] == b"\xff\xd8\xff"
    assert "attachment" in download.headers["Content-Disposition"]
    assert app.test_client().get(f"/staff/adjustments/{exit_id}/agreement.photo").status_code == 302   # log in first
    assert _as(app, "otherclerk").get(f"/staff/adjustments/{exit_id}/agreement.photo").status_code == 403
    # Not an image: refused with the reason, nothing recorded.
    second = adjustments.propose(db, campaign_id=c2, household_id=console["homes"]["张九"], kind="exit", today=TODAY,
                                 conditions={k: True for k in adjustments.EXIT_CONDITIONS}, **STAFF)
    adjustments.verify_exit(db, second, note="核实", **STAFF)
    clerk.post(f"/staff/adjustments/{second}/agreement", content_type="multipart/form-data", data={
        "agreed": "yes", "on": TODAY.isoformat(), "how": "signed", "note": "",
        "photo": (io.BytesIO(b"<html>not a photo</html>"), "x.jpg")})
    assert adjustments.get(db, second)["status"] == "verified"


def test_exit_lists_are_in_the_feeds_and_the_search_like_any_list(app, db, round_two):
    from portal import search

    from .test_search import doc_ids, entry_hits, find
    c2, home = round_two["c2"], round_two["homes"]["张一"]
    exit_id = adjustments.propose(db, campaign_id=c2, household_id=home, kind="exit", today=TODAY,
                                  conditions={k: True for k in adjustments.EXIT_CONDITIONS}, **STAFF)
    adjustments.verify_exit(db, exit_id, note="核实", **STAFF)
    adjustments.record_agreement(db, exit_id, agreed=True, on=TODAY, how="statement", note="", today=TODAY, **STAFF)
    village = _publish(db, c2, A, "exit", TODAY)
    with app.app_context():
        search.rebuild()
    assert doc_ids(find(app, "双星村", kind="exit")) == [f"list:{village}"]
    assert (village, "张*") in entry_hits(find(app, "张一", kind="exit"))
    assert f"list:{village}" not in doc_ids(find(app, "双星村", kind="identify"))
    client = app.test_client()
    for fmt in ("rss", "atom"):
        feed = client.get(f"/feeds/{A}.{fmt}").get_data(as_text=True)
        assert "双星村脱贫退出公示名单（2015年动态调整）" in feed
    print_view = client.get(f"/lists/{village}/print").get_data(as_text=True)
    assert "张*" in print_view and "本户同意退出" in print_view and "得票" not in print_view
    csv = client.get(f"/lists/{village}.csv").get_data(as_text=True)
    assert "本户同意退出" in csv


def test_a_proposal_is_withdrawn_with_a_reason_until_it_is_on_a_list(db, round_two):
    c2, homes = round_two["c2"], round_two["homes"]
    first = adjustments.propose(db, campaign_id=c2, household_id=homes["李三"], kind="remove", ground="vehicle",
                                finding="有车", today=TODAY, **STAFF)
    with pytest.raises(PublishError, match="请写明撤回的理由"):
        adjustments.withdraw(db, first, reason=" ", **STAFF)
    adjustments.withdraw(db, first, reason="车已于前年卖掉，核实有误", **STAFF)
    assert adjustments.get(db, first)["status"] == "withdrawn"
    # Withdrawn, it may be proposed again; once on a published list it can no longer be withdrawn directly.
    again = adjustments.propose(db, campaign_id=c2, household_id=homes["李三"], kind="remove", ground="business",
                                finding="开有公司", today=TODAY, **STAFF)
    _publish(db, c2, B, "remove", TODAY)
    with pytest.raises(PublishError, match="已经在公示的名单上"):
        adjustments.withdraw(db, again, reason="另有情况", **STAFF)
    assert adjustments.get(db, again)["status"] == "proposed"
