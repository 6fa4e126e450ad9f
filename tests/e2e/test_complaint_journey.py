"""The complaint journey in a real browser: a villager on a phone (JavaScript off) reports a listed
household with a photo, writes down the receipt code and tracks the report; the investigator
concludes it upheld; the township reviewer confirms the replacement; the public list, its JSON and
its print view show the 递补 entry with its own window; the audit log still verifies."""

from __future__ import annotations

import json
import re

from .checks import vnu_errors
from .test_dynamic_journey import spot_check_lower
from .conftest import NOW, PHONE, flask_cli, running_portal

PASSWORD = "a long enough secret"


def photo(path):
    from PIL import Image
    Image.new("RGB", (64, 48), (30, 120, 30)).save(path, "JPEG")
    return path


def log_in(page, base, username):
    page.goto(base + "/staff/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    assert page.url.endswith("/staff/")


def newest_case(instance) -> int:
    """The report the villager just filed (the demo has objections of its own before it)."""
    from portal.db import connect
    db = connect(str(instance / "portal.db"))
    try:
        return db.execute("select max(id) from complaints").fetchone()[0]
    finally:
        db.close()


def xiehe_instance(tmp_path):
    """A demo instance with 协合乡's investigator (xh-inv) and township reviewer (xh-rev)."""
    instance = tmp_path / "instance"
    flask_cli(instance, "init-db")
    for username, role in (("xh-inv", "investigator"), ("xh-rev", "township_reviewer")):
        flask_cli(instance, "create-user", username, "--role", role, "--region", "430811200", stdin=PASSWORD + "\n")
    return instance


def test_report_investigate_replace(open_context, shots, tmp_path):
    instance = xiehe_instance(tmp_path)
    with running_portal(instance, NOW) as base:
        villager = open_context(javascript=False, viewport=PHONE).new_page()
        villager.goto(base + "/lists/8")                       # 龙尾巴村, open now
        before = json.loads(villager.goto(base + "/lists/8.json").text())
        villager.goto(base + "/lists/8")
        villager.locator("a[href*=\"list=8&\"][href$=\"entry=3\"]").click()
        villager.check("input[value=vehicle]")
        villager.get_by_label("具体情况").fill("这户今年买了一辆小轿车，全村都知道。")
        villager.get_by_label("证据").set_input_files(str(photo(tmp_path / "车.jpg")))
        villager.screenshot(path=shots / "complaint-1-form.png", full_page=True)
        villager.get_by_role("button", name="提交").click()
        code = villager.locator(".receipt strong").inner_text()
        assert re.fullmatch(r"([0-9A-Z]{4}-){4}[0-9A-Z]{4}", code)
        villager.screenshot(path=shots / "complaint-2-receipt.png", full_page=True)
        # ... writes it down, and later tracks it by typing it in lower case with spaces.
        villager.goto(base + "/complaints/track")
        villager.get_by_label("回执码").fill(code.lower().replace("-", " "))
        villager.get_by_role("button", name="查看").click()
        assert "已受理" in villager.inner_text("main") and "证据文件" in villager.inner_text("main")
        (tmp_path / "status.html").write_text(villager.content(), encoding="utf-8")

        # The township reviewer sends the village's case to the township investigator.
        reviewer = open_context(javascript=False).new_page()
        log_in(reviewer, base, "xh-rev")
        reviewer.goto(base + f"/staff/complaints/{newest_case(instance)}")
        reviewer.get_by_label("调查人员").select_option(label="xh-inv（调查员）")
        reviewer.get_by_role("button", name="安排").click()
        assert "调查中" in reviewer.inner_text("main")

        investigator = open_context(javascript=False).new_page()
        log_in(investigator, base, "xh-inv")
        investigator.goto(base + "/staff/complaints")
        investigator.get_by_role("link", name=f"第 {newest_case(instance)} 件").click()
        assert "小轿车" in investigator.inner_text("main")
        investigator.check("input[value=upheld]")
        investigator.get_by_label("调查经过和结果").fill("经车管所查询，该户户主名下有一辆小轿车，购于今年。")
        investigator.get_by_label("公开答复").fill("经核实，该户有价值 3 万元以上的车辆，不符合识别条件。")
        investigator.get_by_role("button", name="办结").click()
        assert "已办结" in investigator.inner_text("main")

        reviewer.goto(base + f"/staff/complaints/{newest_case(instance)}")
        reviewer.get_by_role("link", name="取消该户资格并确认递补").click()
        reviewer.get_by_label("递补户公示开始日期").fill("2026-11-24")
        proposed = reviewer.inner_text("main")
        reviewer.screenshot(path=shots / "complaint-3-replace.png", full_page=True)
        reviewer.get_by_role("button", name="确认并发布新版本").click()
        assert "已取消该户资格" in reviewer.inner_text("main")

        villager.goto(base + "/lists/8")
        page = villager.inner_text("main")
        # The list keeps its window; the replacement has one of its own (issue 16, item 9).
        assert "第 2 版" in page and "递补" in page and "递补户公示至 2026年11月30日" in page
        assert "公示时间：2026年11月18日 至 2026年11月24日" in page
        assert "共收到举报 1 件" in page and "不符合识别条件" in page
        villager.screenshot(path=shots / "complaint-4-list.png", full_page=True)
        after = json.loads(villager.goto(base + "/lists/8.json").text())
        marked = [e for e in after["entries"] if e["mark"] == "递补"]
        assert marked and all(e["window"] == {"start": "2026-11-24", "end": "2026-11-30"} for e in marked)
        assert (after["window"]["start"], after["window"]["end"]) == (before["window"]["start"], before["window"]["end"])
        assert after["replacement_window"]["start"] == "2026-11-24" and after["replacement_window"]["end"] == "2026-11-30"
        assert before["entries"][2] not in after["entries"]           # the reported household is gone
        assert len(after["entries"]) >= len(before["entries"]) - 1
        assert "合计" in proposed and "规模指标" in proposed
        print_view = villager.goto(base + "/lists/8/print").text()
        assert "递补" in print_view and "递补户公示时间：2026年11月24日0时 至 2026年11月30日24时" in print_view
        villager.goto(base + "/complaints/track")
        villager.get_by_label("回执码").fill(code)
        villager.get_by_role("button", name="查看").click()
        assert "已办结" in villager.inner_text("main") and "不符合识别条件" in villager.inner_text("main")
    assert vnu_errors([tmp_path / "status.html"]) == {"status.html": []}
    assert "intact" in flask_cli(instance, "verify-log")


def test_an_upheld_report_reaches_the_township_list_once_it_is_out(open_context, shots, tmp_path):
    """Issue 16 item 2: a report filed in 龙尾巴村's village window is upheld; by the time the reviewer
    confirms, 协合乡's list is out. The confirmation changes the township list, says so before the
    button, and the frozen village list shows the household as taken off above."""
    instance = xiehe_instance(tmp_path)
    with running_portal(instance, NOW) as base:
        villager = open_context(javascript=False, viewport=PHONE).new_page()
        villager.goto(base + "/lists/8")                       # 龙尾巴村, open now
        reported = villager.locator("#p3 td").nth(2).inner_text()
        villager.locator("a[href*=\"list=8&\"][href$=\"entry=3\"]").click()
        villager.check("input[value=vehicle]")
        villager.get_by_label("具体情况").fill("这户今年买了一辆小轿车。")
        villager.get_by_role("button", name="提交").click()
        assert villager.locator(".receipt strong").inner_text()
        reviewer = open_context(javascript=False).new_page()
        log_in(reviewer, base, "xh-rev")
        reviewer.goto(base + f"/staff/complaints/{newest_case(instance)}")
        reviewer.get_by_label("调查人员").select_option(label="xh-inv（调查员）")
        reviewer.get_by_role("button", name="安排").click()
        investigator = open_context(javascript=False).new_page()
        log_in(investigator, base, "xh-inv")
        investigator.goto(base + f"/staff/complaints/{newest_case(instance)}")
        investigator.check("input[value=upheld]")
        investigator.get_by_label("调查经过和结果").fill("车管所查询属实。")
        investigator.get_by_label("公开答复").fill("经核实，该户有车辆，不符合识别条件。")
        investigator.get_by_role("button", name="办结").click()
        assert "已办结" in investigator.inner_text("main")

    # A week on, every 协合乡 village window has closed and the reviewer publishes the township list.
    with running_portal(instance, "2026-12-01T09:00:00+08:00") as base:
        reviewer = open_context(javascript=False).new_page()
        log_in(reviewer, base, "xh-rev")
        spot_check_lower(reviewer, base, "430811200")          # rule 12 first (issue 20)
        reviewer.goto(base + "/staff/r/430811200/publish")
        reviewer.get_by_role("button", name="发布").click()
        reviewer.wait_for_load_state()
        assert "名单已发布" in reviewer.content()
        township = reviewer.url.rsplit("/", 1)[1]
        reviewer.goto(base + f"/staff/complaints/{newest_case(instance)}")
        reviewer.get_by_role("link", name="取消该户资格并确认递补").click()
        text = reviewer.inner_text("main")
        assert "确认后将发布新版本的名单：协合乡审核公示名单" in text and "已由这份上一级名单汇总" in text
        reviewer.get_by_label("递补户公示开始日期").fill("2026-12-01")
        reviewer.screenshot(path=shots / "complaint-5-replace-upper.png", full_page=True)
        reviewer.get_by_role("button", name="确认并发布新版本").click()
        reviewer.wait_for_load_state()
        assert "已取消该户资格" in reviewer.inner_text("main")
        assert reviewer.url.endswith(f"/staff/lists/{township}")

        villager = open_context(javascript=False, viewport=PHONE).new_page()
        villager.goto(f"{base}/lists/{township}?village=430811200001")
        page = villager.inner_text("main")
        assert "第 2 版" in page and "递补户公示至 2026年12月7日" in page
        villager.goto(base + "/lists/8")
        row = villager.locator("#p3").inner_text()
        assert reported in row and "已在上一级名单上取消资格" in row
        assert "第 2 版" not in villager.inner_text("main")                  # the village list stays as it was
