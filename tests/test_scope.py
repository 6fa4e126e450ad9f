"""A campaign's scope rules applied (issue 16, item 12): 低保/五保 flags on households, taken at import
and entry; selection and 依次递补 apply the rules; a household above the income line is flagged for
the reviewer, not dropped; the public list says which rule applied."""

import csv
import datetime as dt
import io
import json

import pytest

from portal.db import connect, migrations
from portal.domain import rules
from portal.domain.campaigns import (
    add_household,
    create_campaign,
    get_campaign,
    set_quota,
    village_selection,
)
from portal.domain.publishing import PublishError, amend_list, publish_list
from portal.domain.regions import add_region
from portal.domain.replacement import add_omitted, confirm, omitted_candidates, propose
from portal.domain.rules import Applicant, Scope
from portal.importer import Scope as ImportScope
from portal.importer import import_file

from .conftest import CLOCK, ID_KEY, TODAY, disqualify, han, login

VILLAGE_A = "430811100001"
DAY = lambda n: TODAY + dt.timedelta(days=n)


# --- The rule, as plain values -------------------------------------------------------------------

def test_dibao_first_wubao_out_and_the_default_scope_changes_nothing():
    people = [Applicant(1, 4, 30), Applicant(2, 3, 28), Applicant(3, 3, 2, dibao=True),
              Applicant(4, 1, 40, wubao=True), Applicant(5, 2, 20)]
    sel = rules.select_within_quota(people, 10, scope=Scope(dibao="included", wubao_excluded=True))
    assert [a.id for a in sel.selected] == [3, 1, 2] and sel.persons == 10
    assert [a.id for a in sel.waiting] == [5]
    assert [(a.id, why) for a, why in sel.excluded] == [(4, rules.WUBAO_OUT)]
    # The neutral scope is the plain ranking: 4 (40 votes) first, the 低保 household last.
    plain = rules.select_within_quota(people, 10)
    assert [a.id for a in plain.selected] == [4, 1, 2, 5] and plain.excluded == ()
    ranked = rules.select_within_quota(people, 10, scope=Scope(dibao="ranked", wubao_excluded=True))
    assert [a.id for a in ranked.selected] == [1, 2, 5] and [a.id for a in ranked.waiting] == [3]
    out = rules.select_within_quota(people, 10, scope=Scope(dibao="excluded", wubao_excluded=False))
    assert {a.id for a, _ in out.excluded} == {3} and 4 in {a.id for a in out.selected}


def test_a_dibao_household_that_does_not_fit_waits_first_in_line():
    people = [Applicant(1, 4, 30), Applicant(2, 5, 1, dibao=True), Applicant(3, 2, 20)]
    sel = rules.select_within_quota(people, 4, scope=Scope(dibao="included"))
    assert [a.id for a in sel.selected] == [1] and [a.id for a in sel.waiting] == [2, 3]
    # 依次递补 walks the same order: the 低保 household first, and never one out of scope.
    scope = Scope(dibao="included", wubao_excluded=True)
    waiting = [Applicant(7, 1, 40, wubao=True), Applicant(8, 2, 3), Applicant(9, 2, 1, dibao=True)]
    assert [a.id for a in rules.replacements(waiting, 4, scope=scope)] == [9, 8]
    assert [a.id for a in rules.replacements(waiting, 4)] == [7, 8]


def test_scope_of_a_campaign_row_text_and_income_flag():
    legacy = Scope.of({"scope": {"dibao_included": False, "wubao_excluded": True}, "income_line": 2736})
    assert legacy == Scope(dibao="excluded", wubao_excluded=True, income_line=2736)
    scope = Scope.of({"scope": {"dibao": "included", "wubao_excluded": False}, "income_line": 2952})
    assert scope.text() == ("识别范围：低保户全部纳入（在规模指标内先于其他农户入选，不论得票）；"
                            "扶贫标准为家庭人均纯收入 2952 元/年，高于标准的申请户由审核人员逐户核实。")
    assert scope.above_line(Applicant(1, 1, 1, income_per_capita=2953))
    assert not scope.above_line(Applicant(1, 1, 1, income_per_capita=2952))
    assert scope.mark(Applicant(1, 1, 1, dibao=True)) == rules.DIBAO_MARK
    assert Scope(dibao="ranked").mark(Applicant(1, 1, 1, dibao=True)) == ""
    with pytest.raises(ValueError):
        Scope(dibao="sometimes")


# --- Publishing and 依次递补 with the flags ---------------------------------------------------------

@pytest.fixture
def flagged(db, county):
    """Village A plus 覃低保 (低保, 3 persons, 2 votes), 古五保 (五保, 1 person, 40 votes) and 雷收入
    (2 persons, 1 vote, income above the line)."""
    h = dict(county["households"])
    for name, size, votes, kw in [("覃低保", 3, 2, {"dibao": True}), ("古五保", 1, 40, {"wubao": True}),
                                  ("雷收入", 2, 1, {"income_per_capita": 3100})]:
        h[name] = add_household(db, campaign_id=county["campaign"], village_code=VILLAGE_A, head_name=name, size=size,
                                applied_on=dt.date(2026, 3, 1), votes=votes, voters_present=40, clock=CLOCK, **kw)
    return {**county, "households": h}


def _entries(db, list_id, version=None):
    return {r["head_name"]: r["mark"] for r in db.query(
        "select e.head_name, e.mark from list_entries e join lists l on l.id = e.list_id "
        "and e.version = coalesce(?, l.current_version) where l.id = ? order by e.position", [version, list_id])}


def test_village_list_takes_dibao_first_leaves_wubao_out_and_marks_the_rule(db, flagged):
    h = flagged["households"]
    sel = village_selection(db, flagged["campaign"], VILLAGE_A)
    assert [a.id for a in sel.selected] == [h["覃低保"], h["张建国"], h["李秀英"]]
    assert [a.id for a, _ in sel.excluded] == [h["古五保"]]
    list_id = publish_list(db, campaign_id=flagged["campaign"], region_code=VILLAGE_A, kind="identify",
                           start=TODAY, today=TODAY, key=ID_KEY, clock=CLOCK)
    assert _entries(db, list_id) == {"张建国": "", "李秀英": "", "覃低保": rules.DIBAO_MARK}
    ranking = {r["household_id"]: r for r in db.query("select * from rankings where list_id = ?", [list_id])}
    assert ranking[h["覃低保"]]["dibao"] == 1 and ranking[h["古五保"]]["wubao"] == 1

    # 依次递补 after 李秀英 (3) is upheld against: 王明 (4) does not fit, 向春华 (2) and 欧阳德胜 (1) do;
    # 古五保 (40 votes) is never a candidate.
    p = propose(db, list_id, h["李秀英"])
    assert p.replacements == (h["向春华"], h["欧阳德胜"])
    confirm(db, list_id=list_id, household_id=h["李秀英"], ground="举报查实", expected=p.replacements, actor="t",
            role="township_reviewer", key=ID_KEY, today=TODAY, start=DAY(1), clock=CLOCK)
    assert _entries(db, list_id)["覃低保"] == rules.DIBAO_MARK       # the mark stays with the row
    # Nor can an amendment or 补录 bring the 五保 household in.
    assert h["古五保"] not in {c["id"] for c in omitted_candidates(db, list_id)}
    with pytest.raises(PublishError, match="五保户"):
        add_omitted(db, list_id=list_id, household_id=h["古五保"], use_reserve=True, actor="t", role="county_admin",
                    key=ID_KEY, today=TODAY, start=DAY(1), clock=CLOCK)
    disqualify(db, list_id, h["向春华"])
    kept = [h["张建国"], h["覃低保"], h["欧阳德胜"]]
    with pytest.raises(PublishError, match="五保户由民政部门供养"):
        amend_list(db, list_id, household_ids=kept + [h["古五保"]], note="补录", omitted=h["古五保"], key=ID_KEY,
                   today=TODAY, start=DAY(1), clock=CLOCK)


def test_the_mark_reaches_the_township_list_and_the_public_pages(app, client, db, flagged):
    c, h = flagged["campaign"], flagged["households"]
    a = publish_list(db, campaign_id=c, region_code=VILLAGE_A, kind="identify", start=DAY(-20), today=None,
                     key=ID_KEY, clock=CLOCK)
    publish_list(db, campaign_id=c, region_code="430811100002", kind="identify", start=DAY(-20), today=None,
                 key=ID_KEY, clock=CLOCK)
    t = publish_list(db, campaign_id=c, region_code="430811100", kind="identify", start=TODAY, today=TODAY,
                     key=ID_KEY, clock=CLOCK)
    assert _entries(db, t)["覃低保"] == rules.DIBAO_MARK
    for url in (f"/lists/{a}", f"/lists/{t}", f"/lists/{t}/print"):
        page = client.get(url).get_data(as_text=True)
        assert "识别范围：低保户全部纳入" in page and "五保户不纳入" in page and rules.DIBAO_MARK in page, url
        assert "古五保" not in page and "古*保" not in page
    body = client.get(f"/lists/{a}.json").get_json()
    assert body["scope_rule"].startswith("识别范围：")
    assert [e["mark"] for e in body["entries"] if e["mark"]] == [rules.DIBAO_MARK]
    assert h["覃低保"]


def test_a_campaign_that_excludes_dibao(db, county):
    add_region(db, "430812", "桑植县")
    add_region(db, "430812100", "澧源镇", "430812")
    add_region(db, "430812100001", "城关村", "430812100")
    c = create_campaign(db, county_code="430812", name="不纳入低保", reference_date=dt.date(2025, 12, 31),
                        income_line=2736, dibao="excluded", wubao_excluded=False, clock=CLOCK)
    for code, q in (("430812", 20), ("430812100", 20), ("430812100001", 10)):
        set_quota(db, c, code, q)
    ids = [add_household(db, campaign_id=c, village_code="430812100001", head_name=n, size=2, votes=v,
                         voters_present=30, applied_on=dt.date(2026, 3, 1), clock=CLOCK, **kw)
           for n, v, kw in (("甲", 30, {"dibao": True}), ("乙", 20, {"wubao": True}), ("丙", 10, {}))]
    sel = village_selection(db, c, "430812100001")
    assert [a.id for a in sel.selected] == ids[1:] and [(a.id, why) for a, why in sel.excluded] == [(ids[0], rules.DIBAO_OUT)]
    assert get_campaign(db, c)["scope"] == {"dibao": "excluded", "wubao_excluded": False}
    with pytest.raises(ValueError, match="既是低保户又是五保户"):
        add_household(db, campaign_id=c, village_code="430812100001", head_name="丁", size=1, votes=1, voters_present=30,
                      applied_on=dt.date(2026, 3, 1), dibao=True, wubao=True, clock=CLOCK)


def test_migration_0011_turns_the_old_scope_into_the_three_way_rule(tmp_path):
    db = connect(str(tmp_path / "old.db"))
    migrations.apply(db, stop_before="0011_scope_flags")
    add_region(db, "430811", "武陵源区")
    for included in (1, 0):
        db["campaigns"].insert({"county_code": "430811", "name": f"旧批次{included}", "reference_date": "2014-12-31",
                                "income_line": 2736, "chain": json.dumps(list(rules.DEFAULT_CHAIN)),
                                "scope": json.dumps({"dibao_included": bool(included), "wubao_excluded": bool(included)}),
                                "stop_at_first_misfit": 0, "created_at": CLOCK.stamp()})
    db.conn.commit()
    migrations.apply(db)
    scopes = [json.loads(r[0]) for r in db.execute("select scope from campaigns order by id")]
    assert scopes == [{"dibao": "included", "wubao_excluded": True}, {"dibao": "excluded", "wubao_excluded": False}]
    assert {"dibao", "wubao"} <= set(db["households"].columns_dict) and {"dibao", "wubao"} <= set(db["rankings"].columns_dict)
    db.close()


# --- Import and entry -------------------------------------------------------------------------------

HEADER = ["户主姓名", "身份证号", "家庭人口", "致贫原因", "得票数", "参评人数", "低保户", "五保户", "人均纯收入"]
W = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]


def _id(n: int) -> str:
    body = f"43089919800101{n:03d}"
    return body + "10X98765432"[sum(int(x) * w for x, w in zip(body, W)) % 11]


def _csv(path, table):
    buf = io.StringIO()
    csv.writer(buf).writerows([HEADER, *table])
    path.write_text(buf.getvalue(), encoding="utf-8")
    return path


def _flags(db):
    return {r["head_name"]: (r["dibao"], r["wubao"]) for r in db.query(
        "select head_name, dibao, wubao from households where head_name like '钱%' order by id")}


@pytest.mark.parametrize("fast", [True, False])
def test_import_takes_the_flags_on_both_paths(app, db, county, tmp_path, monkeypatch, fast):
    from portal.importer import applicants, shapes

    monkeypatch.setattr(shapes, "BATCH", 10)
    by_row = []
    row = applicants._ApplicantRows.row
    monkeypatch.setattr(applicants._ApplicantRows, "row", lambda self, n, cells: (by_row.append(n), row(self, n, cells)))
    if not fast:
        monkeypatch.setattr(applicants._ApplicantRows, "batch", None)
    table = [[f"钱{han(i, 2)}", _id(i), 2, "缺资金", 10 + i % 20, 30, ["是", "否", ""][i % 3], ["", "否", "√"][i % 3], 2000]
             for i in range(30)]
    report = import_file(db, _csv(tmp_path / "a.csv", table), kind="applicants",
                         scope=ImportScope(county["campaign"], VILLAGE_A, "t", "village_clerk", ID_KEY, CLOCK))
    assert report.ok and report.added == 30, report.problems[:3]
    flags = _flags(db)
    assert flags["钱〇〇"] == (1, 0) and flags["钱〇一"] == (0, 0) and flags["钱〇二"] == (0, 1)
    assert sum(d for d, _ in flags.values()) == 10 and sum(w for _, w in flags.values()) == 10
    # The first block goes row by row (its cause is new); on the block path the other two do not.
    assert len(by_row) == (10 if fast else 30)


def test_import_refuses_a_household_marked_both_naming_the_row(db, county, tmp_path):
    table = [[f"钱{han(i, 2)}", _id(i), 2, "缺资金", 10, 30, "否", "否", 2000] for i in range(10)]
    table[6][6:8] = ["是", "是"]
    table[7][6] = "也许"
    report = import_file(db, _csv(tmp_path / "a.csv", table), kind="applicants",
                         scope=ImportScope(county["campaign"], VILLAGE_A, "t", "village_clerk", ID_KEY, CLOCK))
    assert not report.ok and not _flags(db)
    assert [(p.row, p.message) for p in report.errors] == [
        (8, "同一户不能既是低保户又是五保户，请核对民政部门的认定。"), (9, "请填“是”或“否”（也可用 √ 表示是）。")]


def test_clerk_enters_the_flags_and_cannot_mark_both(app, client, db, staff):
    login(client, "clerk")
    form = {"head_name": "孙低保", "size": 2, "income_per_capita": 1800, "applied_on": "2026-03-01", "votes": 3,
            "voters_present": 30, "group_code": "", "dibao": "y"}
    response = client.post(f"/staff/r/{VILLAGE_A}/applicants/new?campaign={staff['campaign']}", data=form)
    assert response.status_code == 302
    row = next(db.query("select id, dibao, wubao from households where head_name = '孙低保'"))
    assert (row["dibao"], row["wubao"]) == (1, 0)
    page = client.get(f"/staff/applicants/{row['id']}").get_data(as_text=True)
    assert 'name="dibao" type="checkbox" value="y" checked' in page or ('id="dibao"' in page and "checked" in page)
    response = client.post(f"/staff/r/{VILLAGE_A}/applicants/new?campaign={staff['campaign']}",
                           data={**form, "head_name": "孙两样", "wubao": "y"})
    assert response.status_code == 400 and "既是低保户又是五保户" in response.get_data(as_text=True)
    assert not next(db.query("select 1 from households where head_name = '孙两样'"), None)


def test_county_admin_chooses_the_dibao_rule_for_a_new_campaign(app, client, db, staff):
    login(client, "admin")
    data = {"name": "2027年动态调整", "reference_date": "2026-12-31", "income_line": 2952, "village_days": 7,
            "township_days": 7, "county_days": 15, "dibao": "ranked"}
    assert client.post("/staff/campaigns/new", data=data).status_code == 302
    row = next(db.query("select id, scope from campaigns where name = '2027年动态调整'"))
    assert json.loads(row["scope"]) == {"dibao": "ranked", "wubao_excluded": False}
    audit = json.loads(next(db.query("select after from audit_log where action = 'campaign.create' order by id desc"))["after"])
    assert audit["scope"] == {"dibao": "ranked", "wubao_excluded": False}
    response = client.post("/staff/campaigns/new", data={**data, "name": "乱填", "dibao": "sometimes"})
    assert response.status_code == 400


# --- The reviewer sees households above the income line ----------------------------------------------

def test_above_the_line_is_flagged_for_the_reviewer_not_dropped(app, client, db, flagged):
    from portal.domain.accounts import create_user

    app.config["WTF_CSRF_ENABLED"] = False
    c, h = flagged["campaign"], flagged["households"]
    db.execute("update households set income_per_capita = 3000 where id = ?", [h["李秀英"]])
    db.conn.commit()
    for name, role, region in (("clerk", "village_clerk", VILLAGE_A), ("reviewer", "township_reviewer", "430811100")):
        create_user(db, username=name, display_name=name, role=role, region_code=region, password="correct horse battery",
                    actor="test", actor_role="cli", key=ID_KEY, clock=CLOCK)
    login(client, "clerk")
    page = client.get(f"/staff/r/{VILLAGE_A}/selection?campaign={c}").get_data(as_text=True)
    assert "人均纯收入 3000 元，高于扶贫标准 2736 元" in page and "不纳入：五保户由民政部门供养" in page
    page = client.get(f"/staff/r/{VILLAGE_A}/publish?campaign={c}").get_data(as_text=True)
    assert "李秀英：3000 元" in page
    a = publish_list(db, campaign_id=c, region_code=VILLAGE_A, kind="identify", start=DAY(-20), today=None,
                     key=ID_KEY, clock=CLOCK)
    publish_list(db, campaign_id=c, region_code="430811100002", kind="identify", start=DAY(-20), today=None,
                 key=ID_KEY, clock=CLOCK)
    assert "李秀英" in _entries(db, a)                      # not dropped
    client.post("/staff/logout")
    login(client, "reviewer")
    for url in (f"/staff/lists/{a}", f"/staff/r/430811100/publish?campaign={c}"):
        page = client.get(url).get_data(as_text=True)
        assert "高于扶贫标准（2736 元/年）" in page and "双星村 李秀英：3000 元" in page, url
        assert "雷收入" not in page.split("高于扶贫标准")[1].split("</ul>")[0]       # 3100 but not selected
    public = client.get(f"/lists/{a}").get_data(as_text=True)
    assert "3000" not in public and "李秀英" not in public          # incomes stay off the public page (name masked)
