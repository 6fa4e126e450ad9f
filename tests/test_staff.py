"""The staff console end to end (test client): applicants, selection, publishing, amending,
board print, photos, quotas, campaigns, users — and refusals that leave nothing written."""

import datetime as dt
import io
import re

import pytest
from flask import url_for

from portal.domain.accounts import create_user
from portal.domain.campaigns import add_household
from portal.domain.rules import PUBLIC_CAUSES_NOTE

from .conftest import CLOCK, ID_KEY, PASSWORD, login, set_now

APPLICANT = {"head_name": "赵春华", "id_number": "", "size": 2, "group_code": "", "causes": ["capital", "illness"],
             "income_per_capita": 1500, "applied_on": "2026-03-05", "votes": 18, "voters_present": 32}


def audit_count(db):
    return db["audit_log"].count


@pytest.fixture
def clerk(app, staff):
    client = app.test_client()
    login(client, "clerk")
    return client


@pytest.fixture
def admin(app, staff):
    client = app.test_client()
    login(client, "admin")
    return client


def test_clerk_enters_an_applicant_with_votes(clerk, db):
    before = audit_count(db)
    resp = clerk.post("/staff/r/430811100001/applicants/new", data={**APPLICANT, "id_number": "430811197205051237"})
    assert resp.status_code == 302
    row = next(db.query("select h.*, v.votes from households h join votes v on v.household_id = h.id "
                        "where head_name = '赵春华'"))
    assert row["votes"] == 18 and row["id_masked"] == "**************1237" and row["village_code"] == "430811100001"
    assert audit_count(db) == before + 1


@pytest.mark.parametrize("change, message", [
    ({"votes": 40}, "得票数不能多于参评人数"),
    ({"size": 0}, "家庭人口应在 1 到 30 之间"),
    ({"head_name": ""}, "请填写户主姓名"),
    ({"id_number": "430811196002021231"}, "校验位不对"),
    ({"id_number": "4.30811E+17"}, "科学计数法"),
    ({"id_number": "12345"}, "应为 18 位"),
    ({"income_per_capita": -5}, "收入不能为负数"),
])
def test_bad_applicant_input_is_refused_with_a_message(clerk, db, change, message):
    count, logged = db["households"].count, audit_count(db)
    resp = clerk.post("/staff/r/430811100001/applicants/new", data={**APPLICANT, **change})
    assert resp.status_code == 400 and message in resp.get_data(as_text=True)
    assert db["households"].count == count and audit_count(db) == logged


def test_duplicate_id_in_the_campaign_is_refused(clerk, db):
    resp = clerk.post("/staff/r/430811100001/applicants/new", data={**APPLICANT, "id_number": "430811195001011234"})
    assert resp.status_code == 400 and "拆户或空挂户" in resp.get_data(as_text=True)
    assert next(db.query("select count(*) as n from households where head_name = '赵春华'"))["n"] == 0


def test_clerk_edits_an_applicant(clerk, db, staff):
    # Entered after 双星村's list was published, so not in its ranking of record: still editable.
    hid = add_household(db, campaign_id=staff["campaign"], village_code="430811100001", head_name="向后来", size=2,
                        applied_on=dt.date(2026, 11, 20), votes=20, voters_present=32, clock=CLOCK)
    page = clerk.get(f"/staff/applicants/{hid}").get_data(as_text=True)
    assert 'value="向后来"' in page and "不能在这里修改" not in page
    resp = clerk.post(f"/staff/applicants/{hid}", data={**APPLICANT, "head_name": "向后来", "votes": 21})
    assert resp.status_code == 302
    assert next(db.query("select votes from votes where household_id = ?", [hid]))["votes"] == 21


def test_selection_preview_shows_rank_quota_and_waiting_list(clerk):
    page = clerk.get("/staff/r/430811100001/selection").get_data(as_text=True)
    # 欧阳德胜 lost his place by an upheld report (the fixture): the preview follows the current list.
    assert "规模指标 10 人" in page and "入选 3 户" in page and "候补第 1 位" in page
    assert page.index("张建国") < page.index("李秀英") < page.index("王明")


def new_village_with_clerk(app, db, staff):
    from portal.domain.campaigns import set_quota
    from portal.domain.regions import add_region
    add_region(db, "430811100003", "高云村", "430811100")
    set_quota(db, staff["campaign"], "430811100003", 8)
    create_user(db, username="gaoyun", display_name="高云村文书", role="village_clerk", region_code="430811100003",
                password=PASSWORD, actor="test", actor_role="cli", key=ID_KEY, clock=CLOCK)
    client = app.test_client()
    login(client, "gaoyun")
    return client


def test_clerk_publishes_the_village_list(app, db, staff):
    client = new_village_with_clerk(app, db, staff)
    for name, size, votes in [("甲一", 3, 30), ("乙二", 4, 28), ("丙三", 2, 25)]:
        client.post("/staff/r/430811100003/applicants/new",
                    data={**APPLICANT, "head_name": name, "size": size, "votes": votes})
    form = client.get("/staff/r/430811100003/publish").get_data(as_text=True)
    assert "入选 2 户 7 人（指标 8 人）" in form
    back = client.post("/staff/r/430811100003/publish", data={"kind": "identify", "start": "2026-11-22"})
    assert back.status_code == 400 and "不能早于今天" in back.get_data(as_text=True)
    resp = client.post("/staff/r/430811100003/publish", data={"kind": "identify", "start": "2026-11-24"})
    assert resp.status_code == 302
    list_id = int(resp.headers["Location"].rsplit("/", 1)[1])
    public = client.get(f"/lists/{list_id}").get_data(as_text=True)
    assert "甲*" in public and "乙*" in public and "丙三" not in public and "尚未开始" in public
    audit = next(db.query("select * from audit_log where action = 'list.publish' order by id desc limit 1"))
    assert audit["actor"] == "gaoyun" and audit["object_id"] == str(list_id)
    again = client.post("/staff/r/430811100003/publish", data={"kind": "identify", "start": "2026-11-24"})
    assert again.status_code == 400 and "已经公示过" in again.get_data(as_text=True)


def test_township_list_waits_for_the_chain_then_publishes(app, db, staff):
    create_user(db, username="xiehe", display_name="协合乡审核员", role="township_reviewer", region_code="430811200",
                password=PASSWORD, actor="test", actor_role="cli", key=ID_KEY, clock=CLOCK)
    client = app.test_client()
    login(client, "xiehe")
    logged = audit_count(db)
    early = client.post("/staff/r/430811200/publish", data={"kind": "identify", "start": "2026-11-25"})
    assert early.status_code == 400 and "龙尾巴村的公示到 2026-11-29 才结束" in early.get_data(as_text=True)
    # A start date after the village window does not help either, and the console says from when.
    ahead = client.post("/staff/r/430811200/publish", data={"kind": "identify", "start": "2026-12-05"})
    assert ahead.status_code == 400 and "本级名单最早 2026-11-30 才能发布" in ahead.get_data(as_text=True)
    assert audit_count(db) == logged and db["lists"].count == 5
    assert "最早 2026年11月30日 可以发布本级名单" in client.get("/staff/").get_data(as_text=True)
    page = client.get("/staff/r/430811200/publish").get_data(as_text=True)
    assert "现在还不能发布本级名单" in page and "从 2026年11月30日 起可以发布" in page
    set_now(app, "2026-12-01T09:00:00+08:00")      # the village window has closed
    # Eight days on, by the portal's clock, the session is long past SESSION_MAX_AGE: log in again.
    assert client.get("/staff/").status_code == 302
    login(client, "xiehe")
    assert "下一级公示已全部结束，可以发布本级名单" in client.get("/staff/").get_data(as_text=True)
    assert "现在还不能发布" not in client.get("/staff/r/430811200/publish").get_data(as_text=True)
    resp = client.post("/staff/r/430811200/publish", data={"kind": "identify", "start": "2026-12-01"})
    assert resp.status_code == 302


def test_a_correction_takes_one_household_off_and_the_ranking_fills_its_place(clerk, db, staff):
    """Issue 16 item 3: the console corrects a list (a household off, with its ground and approver);
    the replacements are the ranking's, shown before the button, never chosen by hand."""
    h = staff["households"]
    list_id = staff["village_a"]
    # Township 索溪峪镇 has published, so the village list is frozen; lift that for this test.
    db.execute("insert into meta (key, value) values ('resetting', '1')")
    db.execute("delete from list_entries where list_id = ?", [staff["township"]])
    db.execute("delete from list_versions where list_id = ?", [staff["township"]])
    db.execute("delete from lists where id = ?", [staff["township"]])
    db.execute("delete from meta where key = 'resetting'")
    url = f"/staff/lists/{list_id}/amend"
    form = clerk.get(url).get_data(as_text=True)
    assert 'name="households"' not in form and "王明" not in form      # nobody can be added by hand
    nobody = clerk.post(url, data={"household": "", "reason": "x", "approved_by": "y"})
    assert nobody.status_code == 400 and "请选择要取消资格的农户" in nobody.get_data(as_text=True)
    bare = clerk.post(url, data={"household": h["李秀英"], "start": "2026-11-23"})
    assert bare.status_code == 400 and "请写明取消资格的理由" in bare.get_data(as_text=True)
    assert "请填写批准这次更正的人" in bare.get_data(as_text=True)
    fields = {"household": h["李秀英"], "reason": "家中有财政供养人员", "approved_by": "王乡长", "start": "2026-11-23"}
    versions = db["list_versions"].count
    preview = clerk.post(url, data=fields)
    page = preview.get_data(as_text=True)
    # 李秀英 (3) off leaves 4 free: 王明 (4, 25 票) is next in the ranking of record.
    assert preview.status_code == 200 and "按票决排名依次递补 1 户：双星村 王明（4 人，25 票）" in page
    assert db["list_versions"].count == versions                       # a preview writes nothing
    expected = re.search(r'name="expected" type="hidden" value="([^"]*)"', page).group(1)
    assert expected == str(h["王明"])
    resp = clerk.post(url, data={**fields, "expected": expected, "confirm": "1"})
    assert resp.status_code == 302
    page = clerk.get(f"/lists/{list_id}").get_data(as_text=True)
    assert "第 3 版" in page and "递补" in page and "经核实更正" in page
    ground = db.execute("select ground from disqualifications where household_id = ?", [h["李秀英"]]).fetchone()[0]
    assert ground == "更正：家中有财政供养人员（批准：王乡长）"
    assert db.execute("select action from audit_log order by id desc limit 1").fetchone()[0] == "list.correct"
    assert "已有更新的版本" in clerk.get(f"/lists/{list_id}/v2").get_data(as_text=True)
    # Item 11: the staff view follows the current version: 王明 is listed now, not a 候补.
    selection = clerk.get("/staff/r/430811100001/selection").get_data(as_text=True)
    assert "入选 3 户 <strong>10 人</strong>" in selection and "未入选 0 户" in selection
    assert re.search(r"<td>王明</td><td>4</td><td>25/32</td><td>入选</td>", selection)


def test_a_correction_after_the_next_level_published_is_refused_before_the_button(clerk, db, staff):
    h = staff["households"]
    logged = audit_count(db)
    resp = clerk.post(f"/staff/lists/{staff['village_a']}/amend",
                      data={"household": h["张建国"], "reason": "更正", "approved_by": "王乡长", "start": "2026-11-23"})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 400 and "上一级" in page and "确认更正" not in page
    assert audit_count(db) == logged


def test_board_print_has_full_names_and_the_public_print_does_not(clerk, staff):
    board = clerk.get(f"/staff/lists/{staff['village_a']}/board").get_data(as_text=True)
    public = clerk.get(f"/lists/{staff['village_a']}/print").get_data(as_text=True)
    assert "张建国" in board and "张建国" not in public and "张*国" in public
    # The board is posted in the village: causes read as on the web (issue 17, item 2).
    assert "家庭原因" in board and "因病" not in board.replace(PUBLIC_CAUSES_NOTE, "")
    assert "因病" not in public.replace(PUBLIC_CAUSES_NOTE, "")
    code = board.split("校验码 ")[1][:19]
    assert code in public                          # the same version carries the same code


def jpeg_with_gps() -> bytes:
    from PIL import Image
    image = Image.new("RGB", (40, 30), (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"                       # Make
    exif[0x8825] = {1: "N", 2: (29.0, 20.0, 0.0)}     # GPS latitude
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


def test_board_photo_upload_sniffs_and_cleans(clerk, db, staff, app):
    url = f"/staff/lists/{staff['village_a']}/photos"
    page = lambda: clerk.get(f"/staff/lists/{staff['village_a']}").get_data(as_text=True)
    fake = clerk.post(url, data={"photo": (io.BytesIO(b"MZ not a picture"), "board.jpg")},
                      content_type="multipart/form-data")
    assert fake.status_code == 303 and db["board_photos"].count == 0 and "只能上传 JPEG、PNG 照片" in page()
    broken = clerk.post(url, data={"photo": (io.BytesIO(b"\xff\xd8\xff<html><script>x</script>"), "a.jpg")},
                        content_type="multipart/form-data")
    assert broken.status_code == 303 and db["board_photos"].count == 0 and "不是真正的图片" in page()
    big = clerk.post(url, data={"photo": (io.BytesIO(b"\xff\xd8\xff" + b"0" * (10 * 1024 * 1024)), "big.jpg")},
                     content_type="multipart/form-data")
    assert big.status_code == 303 and db["board_photos"].count == 0 and "超过 10 MB" in page()
    original = jpeg_with_gps()
    assert b"PhoneMaker" in original
    ok = clerk.post(url, data={"photo": (io.BytesIO(original), "board.txt")}, content_type="multipart/form-data")
    assert ok.status_code == 303 and db["board_photos"].count == 1
    photo = next(db.query("select * from board_photos"))
    served = clerk.get(f"/staff/photos/{photo['id']}")
    assert served.status_code == 200 and served.mimetype == "image/jpeg"
    assert served.data.startswith(b"\xff\xd8\xff") and b"PhoneMaker" not in served.data   # EXIF gone
    assert app.test_client().get(f"/staff/photos/{photo['id']}").status_code == 302   # not public


def test_quota_split_over_the_parent_is_refused(admin, db, staff):
    logged = audit_count(db)
    resp = admin.post("/staff/r/430811/quotas", data={"q_430811100": 95, "q_430811200": 20, "reserve": 10})
    assert resp.status_code == 400 and "武陵源区的规模指标为 100 人" in resp.get_data(as_text=True)
    assert next(db.query("select persons from quotas where region_code = '430811100'"))["persons"] == 40
    assert audit_count(db) == logged
    ok = admin.post("/staff/r/430811/quotas", data={"q_430811100": 50, "q_430811200": 30, "reserve": 20})
    assert ok.status_code == 302
    assert next(db.query("select reserve from quotas where region_code = '430811'"))["reserve"] == 20
    assert audit_count(db) == logged + 1


def test_admin_creates_a_campaign(admin, db):
    resp = admin.post("/staff/campaigns/new", data={"name": "2027年动态调整", "reference_date": "2026-12-31",
                                                    "income_line": 4000, "village_days": 5, "township_days": 5,
                                                    "county_days": 15, "dibao_included": "y"})
    assert resp.status_code == 302
    row = next(db.query("select * from campaigns where name = '2027年动态调整'"))
    assert row["county_code"] == "430811" and '"days": 5' in row["chain"]


def test_admin_manages_users_of_the_county_only(admin, app, db, staff):
    form = {"username": "newclerk", "display_name": "新文书", "role": "village_clerk",
            "region_code": "430811100002", "password": "a long enough secret"}
    assert admin.post("/staff/users/new", data=form).status_code == 302
    outside = admin.post("/staff/users/new", data={**form, "username": "x", "region_code": "511022100001"})
    assert outside.status_code == 403
    wrong_level = admin.post("/staff/users/new", data={**form, "username": "y", "region_code": "430811100"})
    assert wrong_level.status_code == 400 and "只能绑定到" in wrong_level.get_data(as_text=True)
    assert next(db.query("select count(*) as n from users where username in ('x', 'y')"))["n"] == 0
    new_client = app.test_client()
    assert login(new_client, "newclerk", "a long enough secret").status_code == 302
    uid = next(db.query("select id from users where username = 'newclerk'"))["id"]
    assert admin.post(f"/staff/users/{uid}/deactivate").status_code == 302
    assert new_client.get("/staff/").status_code == 302               # signed out at once
    assert login(app.test_client(), "newclerk", "a long enough secret").status_code == 401


def test_every_post_route_refuses_a_missing_csrf_token(app, db, staff):
    client = app.test_client()
    login(client, "admin")
    app.config["WTF_CSRF_ENABLED"] = True
    logged, lists = audit_count(db), db["lists"].count
    posts = [rule for rule in app.url_map.iter_rules() if "POST" in rule.methods]
    assert len(posts) >= 10
    values = {"code": "430811100001", "list_id": staff["village_a"], "household_id": staff["households"]["王明"],
              "user_id": staff["near_user"], "photo_id": 1, "version": 1, "token": "0" * 32, "complaint_id": 1,
              "file_id": 1, "adjustment_id": 1, "position": 1}
    for rule in posts:
        with app.test_request_context():
            url = url_for(rule.endpoint, **{a: values[a] for a in rule.arguments})
        resp = client.post(url, data={"username": "admin", "password": PASSWORD, "note": "x"})
        assert resp.status_code == 400, url
        assert "页面已过期或来源不明" in resp.get_data(as_text=True), url
    assert audit_count(db) == logged and db["lists"].count == lists


def test_dashboard_shows_open_windows_and_quota_bars(admin):
    page = admin.get("/staff/").get_data(as_text=True)
    assert "辖区内正在公示" in page and "索溪峪镇审核公示名单" in page
    assert '<meter min="0" max="10" value="9"' in page     # 双星村: 9 of 10 persons on its current list


def test_audit_page_for_the_county_admin(admin):
    page = admin.get("/staff/audit").get_data(as_text=True)
    assert "校验链完整" in page and "新建账号" in page and "user.create" not in page   # issue 17, item 5


def test_a_list_published_late_in_the_day_starts_tomorrow(app, db, staff):
    """Issue 16 item 14: at 23:59 the form offers tomorrow, and today is refused with the cut-off."""
    set_now(app, "2026-11-23T23:59:00+08:00")
    client = new_village_with_clerk(app, db, staff)
    add_household(db, campaign_id=staff["campaign"], village_code="430811100003", head_name="高一户", size=2,
                  applied_on=dt.date(2026, 3, 1), votes=20, voters_present=30, clock=CLOCK)
    form = client.get("/staff/r/430811100003/publish").get_data(as_text=True)
    assert 'value="2026-11-24"' in form
    late = client.post("/staff/r/430811100003/publish", data={"kind": "identify", "start": "2026-11-23"})
    assert late.status_code == 400 and "今天已过 12:00" in late.get_data(as_text=True)
    assert client.post("/staff/r/430811100003/publish", data={"kind": "identify", "start": "2026-11-24"}).status_code == 302
