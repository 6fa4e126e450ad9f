"""Complaints end to end through the test client: filing, receipt codes, tracking, limits,
routing, the staff workflow, public accountability, the chain gate and 依次递补 from a case."""

import datetime as dt
import io
import re

import pytest

from portal.domain.complaints import (
    CODE_ALPHABET,
    code_hash,
    new_receipt_code,
    normalise_code,
)

from .conftest import CLOCK, ID_KEY, NOW, NOW_AT, TODAY, clock_at, login, set_now
from .test_staff import jpeg_with_gps

CODE_RE = re.compile(r'<p class="receipt"><strong>((?:<span class="group">[0-9A-Z]+</span>-?)+)</strong></p>')


#: A day inside 双星村's village window (2026-11-13 to 11-19 in the ``published`` fixture).
IN_VILLAGE_WINDOW = "2026-11-16T10:00:00+08:00"


def file_report(client, list_id, entry=None, **extra):
    data = {"list": str(list_id), "ground": "vehicle", "text": "他家去年买了一辆新车", "anonymous": "y", **extra}
    if entry:
        data["entry"] = str(entry)
    url = f"/complaints/new?list={list_id}" + (f"&entry={entry}" if entry else "")
    return client.post(url, data=data, content_type="multipart/form-data", follow_redirects=True)


def receipt(resp) -> str:
    """The code as the villager reads it: each group of four kept on one line (its own span)."""
    return re.sub(r"<[^>]+>", "", CODE_RE.search(resp.get_data(as_text=True)).group(1))


def test_receipt_codes_are_long_unambiguous_and_normalised():
    code = new_receipt_code()
    assert re.fullmatch(r"([0-9A-Z]{4}-){4}[0-9A-Z]{4}", code)
    assert not set(code.replace("-", "")) - set(CODE_ALPHABET)
    assert not set("01ILOU") & set(CODE_ALPHABET)
    assert len(CODE_ALPHABET) ** 20 > 2 ** 80
    assert normalise_code(code.lower().replace("-", " ")) == code.replace("-", "")
    assert normalise_code("ABCD") is None and normalise_code("0000-1111-IIII-LLLL-OOOO") is None
    assert len({new_receipt_code() for _ in range(1000)}) == 1000


@pytest.fixture
def reporter(app, staff):
    app.config["WTF_CSRF_ENABLED"] = False
    return app.test_client()


def test_villager_files_against_a_household_and_tracks_it(reporter, db, staff):
    a = staff["village_a"]
    resp = file_report(reporter, a, entry=1)
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-store"
    code = receipt(resp)
    row = next(db.query("select * from complaints"))
    assert row["household_id"] == staff["households"]["张建国"] and row["receipt_hash"] == code_hash(
        normalise_code(code), ID_KEY)
    assert code not in str(row) and code.replace("-", "") not in str(row)           # only its hash is kept
    # The village list's window has closed but 索溪峪镇's list, which carries the household, is open:
    # the report counts for that window and its township handles it (issue 16, item 7).
    assert (row["list_id"], row["handler_region"], row["within_window"]) == (staff["township"], "430811100", 1)
    status = reporter.post("/complaints/track", data={"code": code.lower()})
    assert status.status_code == 200 and "已受理" in status.get_data(as_text=True)


@pytest.mark.parametrize("code", ["AAAA-BBBB-CCCC-DDDD-EEEE", "short", "0000-0000-0000-0000-0000"])
def test_wrong_codes_get_the_same_message(reporter, staff, code):
    resp = reporter.post("/complaints/track", data={"code": code})
    assert resp.status_code == 400 and "没有找到这个回执码" in resp.get_data(as_text=True)


def test_tracking_tries_are_limited(app, reporter, staff):
    app.config["TRACK_LIMIT_PER_ADDRESS"] = "3 per hour"
    codes = [reporter.post("/complaints/track", data={"code": "AAAA-BBBB-CCCC-DDDD-EEEE"}).status_code
             for _ in range(4)]
    assert codes == [400, 400, 400, 429]


def test_named_report_identity_stays_with_staff(reporter, app, db, staff):
    resp = file_report(reporter, staff["village_a"], anonymous="", name="赵举报", phone="13800000000")
    code = receipt(resp)
    for url in (f"/lists/{staff['village_a']}", f"/lists/{staff['village_a']}.json"):
        assert "赵举报" not in reporter.get(url).get_data(as_text=True)
    assert "赵举报" not in reporter.post("/complaints/track", data={"code": code}).get_data(as_text=True)
    staff_client = app.test_client()
    login(staff_client, "clerk")
    cid = next(db.query("select id from complaints"))["id"]
    assert "赵举报" in staff_client.get(f"/staff/complaints/{cid}").get_data(as_text=True)


@pytest.mark.parametrize("extra, message", [
    ({"text": ""}, "请写明具体情况"),
    ({"text": "字" * 5001}, "最多 5000 字"),
    ({"ground": ""}, "请选择要反映的问题"),
    ({"anonymous": "", "name": ""}, "实名反映请填写姓名"),
    ({"files": (io.BytesIO(b"not a jpeg at all"), "photo.jpg")}, "按文件内容判断"),
    ({"files": [(io.BytesIO(b"%PDF-1.4 x"), f"{i}.pdf") for i in range(6)]}, "最多上传 5 个文件"),
])
def test_bad_reports_are_refused_and_nothing_is_written(reporter, db, staff, extra, message):
    resp = file_report(reporter, staff["village_a"], **extra)
    assert resp.status_code == 400 and message in resp.get_data(as_text=True)
    assert db["complaints"].count == 0 and db["complaint_files"].count == 0


@pytest.mark.parametrize("url", ["/complaints/new?list=999", "/complaints/new?list=1&entry=99",
                                 "/complaints/new?list=abc", "/complaints/new?list=1&entry=-1"])
def test_unknown_list_or_household_is_a_404(reporter, staff, url):
    assert reporter.get(url).status_code == 404


def test_honeypot_keeps_nothing(reporter, db, staff):
    resp = file_report(reporter, staff["village_a"], website="http://spam.example")
    assert resp.status_code == 200 and receipt(resp)
    assert db["complaints"].count == 0


def test_per_household_limit_is_tight_and_per_address_generous(app, reporter, staff):
    app.config["COMPLAINT_LIMIT_PER_HOUSEHOLD"] = "2 per day"
    codes = [file_report(reporter, staff["village_a"], entry=1).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    assert file_report(reporter, staff["village_a"], entry=2).status_code == 200   # same address, other household


def test_evidence_photo_is_cleaned_and_served_only_to_staff(app, reporter, db, staff):
    set_now(app, IN_VILLAGE_WINDOW)       # a village case: filed while 双星村's list is open
    resp = file_report(reporter, staff["village_a"], entry=1, files=(io.BytesIO(jpeg_with_gps()), "x.png"))
    set_now(app, NOW)
    assert resp.status_code == 200
    f = next(db.query("select * from complaint_files"))
    assert f["content_type"] == "image/jpeg"
    staff_client = app.test_client()
    login(staff_client, "clerk")
    served = staff_client.get(f"/staff/complaints/{f['complaint_id']}/files/{f['id']}")
    assert served.status_code == 200 and b"PhoneMaker" not in served.data
    assert reporter.get(f"/staff/complaints/{f['complaint_id']}/files/{f['id']}").status_code == 302


def test_reporter_adds_information(reporter, db, staff):
    code = receipt(file_report(reporter, staff["village_a"]))
    resp = reporter.post("/complaints/track/add", data={"code": code, "text": "车牌是湘G开头"},
                         content_type="multipart/form-data", follow_redirects=True)
    assert resp.status_code == 200 and "已收到您补充的情况" in resp.get_data(as_text=True)
    empty = reporter.post("/complaints/track/add", data={"code": code, "text": ""}, content_type="multipart/form-data")
    assert empty.status_code == 400 and "请填写补充情况" in empty.get_data(as_text=True)
    wrong = reporter.post("/complaints/track/add", data={"code": "AAAA-BBBB-CCCC-DDDD-EEEE", "text": "x"},
                          content_type="multipart/form-data")
    assert wrong.status_code == 404
    assert db["complaint_events"].count == 2


def test_reports_about_the_committee_go_to_the_township(reporter, db, staff):
    file_report(reporter, staff["village_a"], about_committee="y")
    file_report(reporter, staff["village_a"], ground="favouritism")
    file_report(reporter, staff["township"])
    handlers = [r["handler_region"] for r in db.query("select handler_region from complaints order by id")]
    assert handlers == ["430811100", "430811100", "430811100"]


def test_staff_assign_conclude_and_the_public_sees_the_reply(app, reporter, db, staff):
    set_now(app, IN_VILLAGE_WINDOW)       # a village case: filed while 双星村's list is open
    code = receipt(file_report(reporter, staff["village_a"], entry=1, anonymous="", name="赵举报"))
    set_now(app, NOW)
    cid = next(db.query("select id from complaints"))["id"]
    clerk = app.test_client()
    login(clerk, "clerk")
    page = clerk.get(f"/staff/complaints/{cid}").get_data(as_text=True)
    investigator = next(db.query("select id from users where username = 'investigator'"))["id"]
    assert "调查员" in page
    past = clerk.post(f"/staff/complaints/{cid}/assign", data={"investigator": investigator, "due_on": "2026-11-20"},
                      follow_redirects=True)
    assert "办结期限不能早于今天" in past.get_data(as_text=True)
    assert next(db.query("select status from complaints"))["status"] == "received"
    assert clerk.post(f"/staff/complaints/{cid}/assign", data={"investigator": investigator,
                                                               "due_on": "2026-11-25"}).status_code == 303
    set_now(app, "2026-11-26T10:00:00+08:00")
    login(clerk, "clerk")                           # three days on: the session has ended
    assert "已超期" in clerk.get("/staff/complaints").get_data(as_text=True)
    assert "已超过办结期限" in clerk.get("/staff/").get_data(as_text=True)
    inv = app.test_client()
    login(inv, "investigator")
    no_reply = inv.post(f"/staff/complaints/{cid}/conclude", data={"outcome": "upheld", "findings": "核实有车"})
    assert no_reply.status_code == 303 and next(db.query("select status from complaints"))["status"] == "investigating"
    done = inv.post(f"/staff/complaints/{cid}/conclude", data={
        "outcome": "upheld", "findings": "车管所核实：有一辆价值 8 万元的车", "public_reply": "经核实，该户有车辆，不符合条件。"})
    assert done.status_code == 303
    public = reporter.get(f"/lists/{staff['village_a']}").get_data(as_text=True)
    assert "共收到举报 1 件" in public and "查实（含部分属实）1 件" in public and "该户有车辆" in public
    assert "赵举报" not in public and "车管所" not in public                     # findings stay internal
    status = reporter.post("/complaints/track", data={"code": code}).get_data(as_text=True)
    assert "已办结" in status and "该户有车辆" in status
    actions = [r["action"] for r in db.query("select action from audit_log where object_type = 'complaint'")]
    assert actions == ["complaint.file", "complaint.assign", "complaint.conclude"]
    filed = next(db.query("select * from audit_log where action = 'complaint.file'"))
    assert filed["actor"] == "公众" and "赵举报" not in str(filed) and "车" not in (filed["after"] or "")


def test_open_complaint_in_the_window_holds_the_next_level(app, db, county):
    import datetime as dt

    from portal.domain.complaints import file_complaint
    from portal.domain.publishing import PublishError, publish_list

    from .conftest import TODAY
    c = county["campaign"]
    a = publish_list(db, campaign_id=c, region_code="430811100001", kind="identify",
                     start=TODAY - dt.timedelta(days=9), today=None, key=ID_KEY, clock=CLOCK)
    publish_list(db, campaign_id=c, region_code="430811100002", kind="identify", start=TODAY - dt.timedelta(days=9),
                 today=None, key=ID_KEY, clock=CLOCK)
    cid, _ = file_complaint(db, list_id=a, household_id=None, region_code=None, ground="procedure", text="没开会",
                            about_committee=False, anonymous=True, name="", phone="", files=[], key=ID_KEY,
                            clock=clock_at(NOW_AT - dt.timedelta(days=7)))       # filed inside the village window
    with pytest.raises(PublishError, match="1 件举报没有办结"):
        publish_list(db, campaign_id=c, region_code="430811100", kind="identify", start=TODAY, today=TODAY, key=ID_KEY, clock=CLOCK)
    # The console applies the same rule: the windows have closed, but the township is not ready.
    from portal.domain.campaigns import get_campaign
    from portal.domain.publishing import readiness
    from portal.domain.regions import get_region_row
    with app.app_context():
        ready = readiness(db, get_campaign(db, c), get_region_row(db, "430811100"), TODAY)
    assert not ready["ready"] and any("1 件举报没有办结" in p for p in ready["problems"])
    db.execute("update complaints set status = 'concluded', outcome = 'dismissed' where id = ?", [cid])
    assert publish_list(db, campaign_id=c, region_code="430811100", kind="identify", start=TODAY, today=TODAY,
                        key=ID_KEY, clock=CLOCK)


def test_upheld_case_replacement_through_the_console(app, db, county):
    """A village list still open (no township list yet): an upheld report replaces in rank order."""
    import datetime as dt

    from portal.domain.accounts import create_user
    from portal.domain.campaigns import add_household
    from portal.domain.publishing import publish_list

    from .conftest import PASSWORD, TODAY
    c = county["campaign"]
    extra = add_household(db, campaign_id=c, village_code="430811100001", head_name="甲户主", size=3,
                          applied_on=dt.date(2026, 3, 1), votes=4, voters_present=32, clock=CLOCK)
    list_id = publish_list(db, campaign_id=c, region_code="430811100001", kind="identify", start=TODAY, today=TODAY,
                           key=ID_KEY, clock=CLOCK)
    create_user(db, username="rev", display_name="审核员", role="township_reviewer", region_code="430811100",
                password=PASSWORD, actor="t", actor_role="cli", key=ID_KEY, clock=CLOCK)
    app.config["WTF_CSRF_ENABLED"] = False
    reporter = app.test_client()
    file_report(reporter, list_id, entry=2)                               # 李秀英 (3 persons)
    cid = next(db.query("select id from complaints"))["id"]
    rev = app.test_client()
    login(rev, "rev")
    # The case belongs to the village; the township reviewer takes it on as its investigator.
    assert rev.post(f"/staff/complaints/{cid}/conclude", data={"outcome": "upheld", "findings": "属实",
                                                               "public_reply": "x"}).status_code == 403
    rev_id = next(db.query("select id from users where username = 'rev'"))["id"]
    rev.post(f"/staff/complaints/{cid}/assign", data={"investigator": rev_id, "due_on": "2026-11-28"})
    rev.post(f"/staff/complaints/{cid}/conclude", data={"outcome": "upheld", "findings": "属实",
                                                        "public_reply": "经核实，该户不符合条件，已取消资格。"})
    page = rev.get(f"/staff/complaints/{cid}/replace").get_data(as_text=True)
    proposed = page[page.index("<ol>"):page.index("</ol>")]
    assert "甲户主" in proposed and "王明" not in proposed               # 王明 (4) does not fit the 3 freed
    assert "排名在前、没有递补的：王明（4 人，超出空出的 3 人）" in page       # and the page says so (item 11)
    resp = rev.post(f"/staff/complaints/{cid}/replace", data={"expected": str(extra), "start": "2026-11-24"})
    assert resp.status_code == 302
    data = reporter.get(f"/lists/{list_id}.json").get_json()
    marked = [e for e in data["entries"] if e["mark"] == "递补"]
    assert [e["name"] for e in marked] == ["甲*主"] and data["window"]["start"] == "2026-11-23"   # the list's, kept
    assert marked[0]["window"] == {"start": "2026-11-24", "end": "2026-11-30"}                   # the row's own
    assert data["replacement_window"]["start"] == "2026-11-24" and data["replacement_window"]["status"] == "not_open"
    # 李秀英 stays visible in version 2, struck through, under the number she had (issue 16, item 10).
    (gone,) = [e for e in data["entries"] if e["name"] == "李*英"]
    assert gone["removed"] and gone["mark"] == "取消资格（举报查实）" and gone["ref"] == 2
    assert not any(e["removed"] for e in data["entries"] if e["name"] != "李*英")
    assert "递补" in reporter.get(f"/lists/{list_id}/print").get_data(as_text=True)
    assert next(db.query("select complaint_id from disqualifications"))["complaint_id"] == cid
    again = rev.post(f"/staff/complaints/{cid}/replace", data={"expected": "", "start": "2026-11-24"})
    assert again.status_code == 400 and "不在名单" in again.get_data(as_text=True)


def test_staff_register_offline_reports(app, db, staff):
    clerk = app.test_client()
    login(clerk, "clerk")
    resp = clerk.post("/staff/complaints/new", data={"channel": "phone", "list_id": str(staff["village_a"]),
                                                     "region": "430811100001", "ground": "nominal",
                                                     "text": "电话反映：该户常年在外", "name": ""})
    assert resp.status_code == 302
    row = next(db.query("select * from complaints"))
    assert row["channel"] == "phone" and row["operator"] == "clerk" and row["anonymous"] == 1
    outside = clerk.post("/staff/complaints/new", data={"channel": "letter", "list_id": str(staff["other_list"]),
                                                        "region": "430811100001", "ground": "other", "text": "x"})
    assert outside.status_code == 403
    assert next(db.query("select count(*) as n from audit_log where action = 'complaint.register'"))["n"] == 1


def test_oversized_evidence_is_refused(reporter, db, staff):
    big = (io.BytesIO(b"%PDF-1.4\n" + b"0" * (10 * 1024 * 1024)), "big.pdf")
    resp = file_report(reporter, staff["village_a"], files=big)
    assert resp.status_code in (400, 413) and db["complaints"].count == 0


def _omission_case(app, db, county, ground="omission"):
    import datetime as dt

    from portal.domain.accounts import create_user
    from portal.domain.campaigns import add_household
    from portal.domain.complaints import file_complaint
    from portal.domain.publishing import publish_list

    from .conftest import PASSWORD, TODAY
    c = county["campaign"]
    list_id = publish_list(db, campaign_id=c, region_code="430811100002", kind="identify", start=TODAY, today=TODAY,
                           key=ID_KEY, clock=CLOCK)                  # 河口村: quota 6, 田玉梅 3 + 彭光辉 2 = 5 used
    small = add_household(db, campaign_id=c, village_code="430811100002", head_name="补一户", size=1,
                          applied_on=dt.date(2026, 3, 1), votes=2, voters_present=33, clock=CLOCK)
    large = add_household(db, campaign_id=c, village_code="430811100002", head_name="补二户", size=4,
                          applied_on=dt.date(2026, 3, 1), votes=1, voters_present=33, clock=CLOCK)
    cid, _ = file_complaint(db, list_id=list_id, household_id=None, region_code=None, ground=ground, text="漏评了",
                            about_committee=False, anonymous=True, name="", phone="", files=[], key=ID_KEY, clock=CLOCK)
    db.execute("update complaints set status = 'concluded', outcome = 'upheld' where id = ?", [cid])
    for name, role, region in [("rev", "township_reviewer", "430811100"), ("adm", "county_admin", "430811")]:
        create_user(db, username=name, display_name=name, role=role, region_code=region, password=PASSWORD,
                    actor="t", actor_role="cli", key=ID_KEY, clock=CLOCK)
    app.config["WTF_CSRF_ENABLED"] = False
    return list_id, cid, small, large


def name_omitted(db, complaint_id, household_id, outcome="upheld"):
    """Conclude a 漏评 case as the investigator would, naming the household found left out."""
    db.execute("update complaints set status = 'concluded', outcome = ?, household_id = ? where id = ?",
               [outcome, household_id, complaint_id])


def test_upheld_omission_adds_the_named_household_from_unused_quota_or_the_county_reserve(app, db, county):
    from portal.domain.complaints import file_complaint

    list_id, cid, small, large = _omission_case(app, db, county)
    name_omitted(db, cid, small)
    rev = app.test_client()
    login(rev, "rev")
    page = rev.get(f"/staff/complaints/{cid}/omission").get_data(as_text=True)
    assert "补一户" in page and "补二户" not in page                 # only the household the case names
    other = rev.post(f"/staff/complaints/{cid}/omission", data={"household": large, "start": "2026-11-24"})
    assert other.status_code == 400 and db["lists"].get(list_id)["current_version"] == 1
    ok = rev.post(f"/staff/complaints/{cid}/omission", data={"household": small, "start": "2026-11-24"})
    assert ok.status_code == 302
    row = next(db.query("select mark from list_entries where list_id = ? and household_id = ? and version = 2",
                        [list_id, small]))
    assert row["mark"] == "补录"
    twice = rev.post(f"/staff/complaints/{cid}/omission", data={"household": small, "start": "2026-11-24"})
    assert twice.status_code == 400 and "已经补录过一户" in twice.get_data(as_text=True)
    cid2, _ = file_complaint(db, list_id=list_id, household_id=None, region_code=None, ground="omission",
                             text="还有一户漏评", about_committee=False, anonymous=True, name="", phone="", files=[],
                             key=ID_KEY, clock=CLOCK)
    name_omitted(db, cid2, large)
    too_big = rev.post(f"/staff/complaints/{cid2}/omission", data={"household": large, "start": "2026-11-23"})
    assert too_big.status_code == 400 and "县扶贫办批准" in too_big.get_data(as_text=True)
    assert rev.post(f"/staff/complaints/{cid2}/omission",
                    data={"household": large, "start": "2026-11-23", "use_reserve": "y"}).status_code == 403
    adm = app.test_client()
    login(adm, "adm")
    reserve_before = next(db.query("select reserve from quotas where region_code = '430811'"))["reserve"]
    ok = adm.post(f"/staff/complaints/{cid2}/omission", data={"household": large, "start": "2026-11-24", "use_reserve": "y"})
    assert ok.status_code == 302
    quotas = {r["region_code"]: r for r in db.query("select * from quotas")}
    assert quotas["430811"]["reserve"] == reserve_before - 4          # 补一户 took the last free person
    assert quotas["430811100002"]["persons"] == 10 and quotas["430811100"]["persons"] == 44
    assert next(db.query("select count(*) as n from audit_log where action = 'list.add_omitted'"))["n"] == 2


def test_an_omission_is_concluded_naming_the_household_and_partly_upheld_adds_nobody(app, db, county):
    """Issue 16 item 13: the conclusion records which household was left out; 补录 is for that one
    household of an upheld report, never for any vote loser, and not after 部分属实."""
    list_id, cid, small, large = _omission_case(app, db, county)
    db.execute("update complaints set status = 'investigating', outcome = null where id = ?", [cid])
    rev = app.test_client()
    login(rev, "rev")
    rev_id = next(db.query("select id from users where username = 'rev'"))["id"]
    rev.post(f"/staff/complaints/{cid}/assign", data={"investigator": rev_id, "due_on": "2026-11-28"})
    fields = {"outcome": "upheld", "findings": "入户核实，符合条件", "public_reply": "经核实，有一户被漏评，予以补录。"}
    page = rev.get(f"/staff/complaints/{cid}").get_data(as_text=True)
    assert "查实被漏评的农户" in page and "补二户" in page
    unnamed = rev.post(f"/staff/complaints/{cid}/conclude", data=fields, follow_redirects=True)
    assert "请选择被漏评的农户" in unnamed.get_data(as_text=True)
    assert db["complaints"].get(cid)["status"] == "investigating"
    rev.post(f"/staff/complaints/{cid}/conclude", data={**fields, "omitted": small})
    case = db["complaints"].get(cid)
    assert (case["status"], case["household_id"]) == ("concluded", small)
    assert "补录查实被漏评的农户（补一户）" in rev.get(f"/staff/complaints/{cid}").get_data(as_text=True)
    name_omitted(db, cid, small, outcome="partly")
    assert rev.get(f"/staff/complaints/{cid}/omission").status_code == 404


def test_omission_page_only_for_upheld_omissions(app, db, county):
    list_id, cid, small, large = _omission_case(app, db, county, ground="vehicle")
    rev = app.test_client()
    login(rev, "rev")
    assert rev.get(f"/staff/complaints/{cid}/omission").status_code == 404


def test_identity_and_conclusion_belong_to_the_handling_staff(app, db, staff):
    from portal.domain.complaints import file_complaint
    cid, _ = file_complaint(db, list_id=staff["village_a"], household_id=None, region_code=None, ground="vehicle",
                            text="有车", about_committee=False, anonymous=False, name="赵举报", phone="138", files=[],
                            key=ID_KEY, clock=CLOCK)
    overseer = app.test_client()
    login(overseer, "reviewer")                # township reviewer: oversees the area, does not handle it
    page = overseer.get(f"/staff/complaints/{cid}").get_data(as_text=True)
    assert "赵举报" not in page and "实名（只有承办单位" in page
    assert overseer.post(f"/staff/complaints/{cid}/conclude", data={
        "outcome": "dismissed", "findings": "x", "public_reply": "x"}).status_code == 403
    clerk = app.test_client()
    login(clerk, "clerk")                      # the village handles its own list's household reports
    assert "赵举报" in clerk.get(f"/staff/complaints/{cid}").get_data(as_text=True)


def test_the_registrar_cannot_conclude_their_own_registration(app, db, staff):
    clerk = app.test_client()
    login(clerk, "clerk")
    clerk.post("/staff/complaints/new", data={"channel": "phone", "list_id": str(staff["village_a"]), "entry": "1",
                                              "region": "430811100001", "ground": "vehicle", "text": "电话反映"})
    cid = next(db.query("select id, household_id from complaints"))
    assert cid["household_id"] == staff["households"]["张建国"]
    resp = clerk.post(f"/staff/complaints/{cid['id']}/conclude", data={"outcome": "upheld", "findings": "x",
                                                                        "public_reply": "x"})
    assert resp.status_code == 403


def test_replacement_only_for_upheld_household_grounds(app, db, staff):
    from portal.domain.complaints import file_complaint
    cid, _ = file_complaint(db, list_id=staff["village_a"], household_id=staff["households"]["张建国"],
                            region_code=None, ground="procedure", text="程序", about_committee=False, anonymous=True,
                            name="", phone="", files=[], key=ID_KEY, clock=CLOCK)
    db.execute("update complaints set status = 'concluded', outcome = 'upheld' where id = ?", [cid])
    reviewer = app.test_client()
    login(reviewer, "reviewer")              # procedure reports go to the township
    assert reviewer.get(f"/staff/complaints/{cid}/replace").status_code == 404


def test_a_row_link_from_an_older_version_names_the_same_household_or_says_the_list_changed(app, staff):
    """Issue 16 item 10: row numbers last across versions (the current version is 2)."""
    app.config["WTF_CSRF_ENABLED"] = False
    client = app.test_client()
    same = client.get(f"/complaints/new?list={staff['village_a']}&v=1&entry=1")
    assert same.status_code == 200 and "张*国" in same.get_data(as_text=True)
    gone = client.get(f"/complaints/new?list={staff['village_a']}&v=1&entry=4")      # 欧阳德胜, taken off in v2
    assert gone.status_code == 409 and "名单已经更新" in gone.get_data(as_text=True)
    assert client.get(f"/complaints/new?list={staff['village_a']}&v=2&entry=4").status_code == 404


def test_decompression_bombs_are_refused(app, staff):
    from PIL import Image

    from portal.domain.evidence import EvidenceError, reencode
    out = io.BytesIO()
    Image.new("1", (9000, 9000)).save(out, "PNG")
    with pytest.raises(EvidenceError, match="像素太大"):
        reencode(out.getvalue(), "png")


def test_reloading_the_receipt_or_progress_page_files_nothing_twice(reporter, db, staff, monkeypatch):
    from portal.web import complaints

    url = f"/complaints/new?list={staff['village_a']}&entry=1"
    posted = reporter.post(url, data={"list": str(staff["village_a"]), "entry": "1", "ground": "vehicle",
                                      "text": "他家去年买了一辆新车", "anonymous": "y"}, content_type="multipart/form-data")
    assert posted.status_code == 303 and posted.headers["Location"].endswith("/complaints/received")
    assert "Cache-Control" in posted.headers and "no-store" in posted.headers["Cache-Control"]
    first, again = reporter.get("/complaints/received"), reporter.get("/complaints/received")     # a reload
    code = receipt(first)
    assert receipt(again) == code and db["complaints"].count == 1
    assert code not in posted.headers["Location"]
    added = reporter.post("/complaints/track/add", data={"code": code, "text": "车牌是湘G开头"},
                          content_type="multipart/form-data")
    assert added.status_code == 303 and code not in added.headers["Location"]
    shown = reporter.get(added.headers["Location"]).get_data(as_text=True)
    reloaded = reporter.get(added.headers["Location"]).get_data(as_text=True)
    assert "已收到您补充的情况" in shown and "已收到您补充的情况" not in reloaded and "车牌是湘G开头" in reloaded
    assert db["complaint_events"].count_where("kind = 'info_added'") == 1
    other = reporter.application.test_client()                                  # another phone: nothing to see
    assert "回执已不再显示" in other.get("/complaints/received").get_data(as_text=True)
    assert other.get("/complaints/track/progress").status_code == 302
    monkeypatch.setattr(complaints, "SHOWN_SECONDS", -1)                        # half an hour later
    assert "回执已不再显示" in reporter.get("/complaints/received").get_data(as_text=True)
    assert code not in reporter.get("/complaints/received").get_data(as_text=True)


def test_a_report_about_a_place_counts_for_the_open_list_there_and_can_be_resolved(app, reporter, db, staff):
    """Issue 16 item 6: a 漏评 report with a region and no list is tied to the list of that place that
    is open when filed (龙尾巴村's), holds the next level, and its omission page works."""
    resp = reporter.post("/complaints/new", data={"region": "430811200001", "ground": "omission",
                                                  "text": "我家符合条件但没有评上", "anonymous": "y"},
                         content_type="multipart/form-data", follow_redirects=True)
    assert resp.status_code == 200 and receipt(resp)
    row = next(db.query("select * from complaints order by id desc limit 1"))
    assert (row["list_id"], row["within_window"]) == (staff["other_list"], 1)
    from portal.domain.campaigns import get_campaign
    from portal.domain.publishing import PublishError, publish_list
    later = TODAY + dt.timedelta(days=8)                   # 龙尾巴村's window has closed by then
    with pytest.raises(PublishError, match="1 件举报没有办结"):
        publish_list(db, campaign_id=get_campaign(db, staff["campaign"])["id"], region_code="430811200",
                     kind="identify", start=later, today=later, key=ID_KEY, clock=CLOCK)
    from portal.domain.campaigns import add_household
    left_out = add_household(db, campaign_id=staff["campaign"], village_code="430811200001", head_name="漏评户",
                             size=1, applied_on=TODAY, clock=CLOCK)
    db.execute("update complaints set status = 'concluded', outcome = 'upheld', household_id = ? where id = ?",
               [left_out, row["id"]])
    admin = app.test_client()
    login(admin, "admin")
    assert admin.get(f"/staff/complaints/{row['id']}/omission").status_code == 200


def test_a_report_on_a_closed_village_entry_holds_the_county_while_the_township_is_open(reporter, db, staff):
    """Issue 16 item 7: filed against 双星村's entry while 索溪峪镇's list carries the household and is
    open, the report counts for the township window, so the county list waits for it."""
    from portal.domain.publishing import PublishError, publish_list
    file_report(reporter, staff["village_a"], entry=1)
    township_end = dt.date.fromisoformat(db["list_versions"].get((staff["township"], 1))["window_end"])
    after = township_end + dt.timedelta(days=1)
    with pytest.raises(PublishError, match="1 件举报没有办结"):
        publish_list(db, campaign_id=staff["campaign"], region_code="430811", kind="identify", start=after,
                     today=after, key=ID_KEY, clock=CLOCK)


def test_an_upheld_report_reaches_the_highest_list_carrying_the_household(app, db, staff):
    """Issue 16 item 2: a report on 河口村's entry, filed in its village window and upheld once 索溪峪镇's
    list is out, changes the township list (the village list is frozen and annotated)."""
    from portal.domain.complaints import file_complaint

    h = staff["households"]
    cid, _ = file_complaint(db, list_id=staff["village_b"], household_id=h["田玉梅"], region_code=None,
                            ground="vehicle", text="有车", about_committee=False, anonymous=True, name="", phone="",
                            files=[], key=ID_KEY, clock=clock_at("2026-11-18T10:00:00+08:00"))
    assert db["complaints"].get(cid)["list_id"] == staff["village_b"]
    db.execute("update complaints set status = 'concluded', outcome = 'upheld' where id = ?", [cid])
    admin = app.test_client()
    login(admin, "admin")
    page = admin.get(f"/staff/complaints/{cid}/replace")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "确认后将发布新版本的名单：<strong>索溪峪镇审核公示名单" in text
    assert "已由这份上一级名单汇总" in text and "宋海波" in text                # 河口村's next in line
    expected = re.search(r'name="expected" type="hidden" value="([^"]*)"', text).group(1)
    resp = admin.post(f"/staff/complaints/{cid}/replace", data={"expected": expected, "start": "2026-11-23"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/staff/lists/{staff['township']}")
    township = db["lists"].get(staff["township"])
    entries = {r["household_id"]: r["mark"] for r in db.query(
        "select household_id, mark from list_entries where list_id = ? and version = 2", [township["id"]])}
    assert township["current_version"] == 2 and h["田玉梅"] not in entries and entries[h["宋海波"]] == "递补"
    assert db["lists"].get(staff["village_b"])["current_version"] == 1        # the village list is frozen ...
    assert "已在上一级名单上取消资格" in app.test_client().get(f"/lists/{staff['village_b']}").get_data(as_text=True)


def test_a_name_typed_under_anonymous_is_not_silently_dropped(reporter, db, staff):
    """Issue 17, item 12: 匿名反映 ticked (the default) with a name or phone typed is asked about."""
    for typed in ({"name": "王五"}, {"phone": "13800000000"}):
        resp = file_report(reporter, staff["village_a"], **typed)
        assert resp.status_code == 400 and "您勾选了“匿名反映”，又填了姓名或电话" in resp.get_data(as_text=True)
    assert db["complaints"].count == 0
    resp = file_report(reporter, staff["village_a"], anonymous="", name="王五", phone="13800000000")
    code = receipt(resp)
    assert re.fullmatch(r"([0-9A-Z]{4}-){4}[0-9A-Z]{4}", code)
    assert resp.get_data(as_text=True).count('<span class="group">') == 5
    assert next(db.query("select reporter_name from complaints"))["reporter_name"] == "王五"


# --- Issue 17, item 11: who acts next, and deadlines in working days ----------------------------


def test_after_an_upheld_conclusion_the_investigator_is_told_who_confirms_and_they_see_it(app, reporter, db, staff):
    set_now(app, IN_VILLAGE_WINDOW)       # a village case: filed while 双星村's list is open
    file_report(reporter, staff["village_a"], entry=1)
    set_now(app, NOW)
    cid = next(db.query("select id from complaints"))["id"]
    investigator = next(db.query("select id from users where username = 'investigator'"))["id"]
    clerk, inv, rev = app.test_client(), app.test_client(), app.test_client()
    for client, name in ((clerk, "clerk"), (inv, "investigator"), (rev, "reviewer")):
        login(client, name)
    clerk.post(f"/staff/complaints/{cid}/assign", data={"investigator": investigator, "due_on": "2026-11-30"})
    assert "等待您确认" not in rev.get("/staff/").get_data(as_text=True)
    done = inv.post(f"/staff/complaints/{cid}/conclude", data={"outcome": "upheld", "findings": "有车",
                                                               "public_reply": "经核实，该户有车辆。"},
                    follow_redirects=True).get_data(as_text=True)
    # The investigator may not change the list: told who does, nearest first, and given no link.
    assert "下一步由 clerk（村委会文书）、reviewer（乡镇审核员）、admin（县扶贫办） 确认递补" in done
    assert "请在本页确认递补或补录" not in done and f"/staff/complaints/{cid}/replace" not in done
    page = inv.get(f"/staff/complaints/{cid}").get_data(as_text=True)
    assert "这一步由 clerk（村委会文书）、reviewer（乡镇审核员）、admin（县扶贫办） 办理" in page
    # ... and their dashboards say so, with a link to the case, which has the button.
    for client in (clerk, rev):
        board = client.get("/staff/").get_data(as_text=True)
        assert "1 件举报已查实，等待您确认" in board and f'href="/staff/complaints/{cid}">第 {cid} 件</a>' in board
        assert f"/staff/complaints/{cid}/replace" in client.get(f"/staff/complaints/{cid}").get_data(as_text=True)
    assert "等待您确认" not in inv.get("/staff/").get_data(as_text=True)
    page = rev.get(f"/staff/complaints/{cid}/replace").get_data(as_text=True)
    expected = re.search(r'name="expected"[^>]*value="([^"]*)"', page)
    resp = rev.post(f"/staff/complaints/{cid}/replace",
                    data={"expected": expected.group(1) if expected else "", "start": "2026-11-24"})
    assert resp.status_code == 302
    assert "等待您确认" not in rev.get("/staff/").get_data(as_text=True)


def test_the_reviewer_who_concludes_is_sent_to_the_replacement_on_the_same_page(app, reporter, db, staff):
    file_report(reporter, staff["village_a"], entry=1)
    cid = next(db.query("select id from complaints"))["id"]
    db.execute("update complaints set handler_region = '430811100' where id = ?", [cid])    # the township's case
    rev = app.test_client()
    login(rev, "reviewer")
    done = rev.post(f"/staff/complaints/{cid}/conclude", data={"outcome": "upheld", "findings": "有车",
                                                               "public_reply": "经核实，该户有车辆。"},
                    follow_redirects=True).get_data(as_text=True)
    assert "举报查实，请在本页确认递补" in done and f"/staff/complaints/{cid}/replace" in done


def test_the_due_date_is_counted_in_working_days_with_holidays_and_make_up_days(app, db, staff, monkeypatch):
    from portal.domain import workdays

    set_now(app, IN_VILLAGE_WINDOW)
    file_report(app.test_client(), staff["village_a"], entry=1)
    cid = next(db.query("select id from complaints"))["id"]
    clerk = app.test_client()
    login(clerk, "clerk")
    # 2026: 1–7 October off, Saturday 10 October worked (调休). Five working days after 29 September:
    # 30 Sep, 8 Oct, 9 Oct, 10 Oct (Saturday), 12 Oct.
    set_now(app, "2026-09-29T10:00:00+08:00")
    login(clerk, "clerk")
    page = clerk.get(f"/staff/complaints/{cid}").get_data(as_text=True)
    assert 'value="2026-10-12"' in page and "不算周末和法定节假日" in page
    # A year whose schedule the package does not know yet: Monday to Friday, and the page says so.
    monkeypatch.setattr(workdays, "is_working_day", lambda day: None)
    set_now(app, "2026-12-24T10:00:00+08:00")                          # a Thursday
    login(clerk, "clerk")
    page = clerk.get(f"/staff/complaints/{cid}").get_data(as_text=True)
    assert 'value="2026-12-31"' in page and "2026 年的节假日安排还没有收录" in page


def test_working_days_fall_back_to_monday_to_friday_beyond_the_known_years():
    from portal.domain.workdays import add_working_days, is_working_day

    assert is_working_day(dt.date(2099, 1, 1)) is None
    assert add_working_days(dt.date(2099, 12, 24), 5) == (dt.date(2099, 12, 31), False)   # Thu → next Thu
    assert add_working_days(dt.date(2026, 2, 13), 5) == (dt.date(2026, 2, 27), True)      # over 春节


def test_the_receipt_promises_the_configured_working_days(app, reporter, staff):
    app.config["COMPLAINT_DUE_DAYS"] = 7
    page = file_report(reporter, staff["village_a"], entry=1).get_data(as_text=True)
    assert "一般在 7 个工作日内办结（不算周末和法定节假日）" in page

