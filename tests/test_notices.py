"""Notices: written in the console with a preview, public at their scheduled time, sanitised,
on the home page and in the feeds."""

import xml.etree.ElementTree as ET

from .conftest import login, set_now


def write(client, **extra):
    data = {"title": "关于公示期延长的说明", "region": "430811100", "publish_at": "2026-11-23T09:00",
            "body": "## 说明\n\n因大雪，**公示期**顺延。<script>alert(1)</script>", "action": "save", **extra}
    return client.post("/staff/notices/new", data=data)


def test_preview_saves_nothing_and_is_sanitised(app, db, staff):
    admin = app.test_client()
    login(admin, "admin")
    resp = write(admin, action="preview")
    page = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "<strong>公示期</strong>" in page and "<script>alert" not in page
    assert db["notices"].count == 0


def test_notice_goes_public_at_its_time(app, db, staff):
    admin = app.test_client()
    login(admin, "admin")
    assert write(admin, publish_at="2026-11-24T08:00").status_code == 302
    nid = next(db.query("select id from notices"))["id"]
    public = app.test_client()
    assert public.get(f"/notices/{nid}").status_code == 404            # scheduled for tomorrow
    assert "关于公示期延长" not in public.get("/").get_data(as_text=True)
    set_now(app, "2026-11-24T08:00:00+08:00")
    page = public.get(f"/notices/{nid}").get_data(as_text=True)
    assert "<h2>说明</h2>" in page and "<script>alert" not in page
    assert "关于公示期延长" in public.get("/").get_data(as_text=True)
    titles = [i.findtext("title") for i in ET.fromstring(public.get("/feeds/430811100.rss").data).iter("item")]
    assert "公告：关于公示期延长的说明" in titles
    assert next(db.query("select count(*) as n from audit_log where action = 'notice.create'"))["n"] == 1


def test_only_reviewers_and_admins_write_notices_in_their_area(app, db, staff):
    clerk = app.test_client()
    login(clerk, "clerk")
    assert clerk.get("/staff/notices/new").status_code == 403
    reviewer = app.test_client()
    login(reviewer, "reviewer")
    assert write(reviewer, region="430811").status_code == 400          # the county is not in its choices
    assert write(reviewer, region="430811100").status_code == 302


def test_bad_notice_input(app, db, staff):
    admin = app.test_client()
    login(admin, "admin")
    for change, message in [({"title": ""}, "请填写标题"), ({"body": ""}, "请填写正文"), ({"publish_at": "tomorrow"}, "")]:
        resp = write(admin, **change)
        assert resp.status_code == 400 and message in resp.get_data(as_text=True)
    assert db["notices"].count == 0
