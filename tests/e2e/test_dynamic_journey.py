"""Dynamic management in a real browser (issue 20), JavaScript off: the clerk of 中湖村 proposes the exit
of 庹志刚 (filed last year), the work team verifies it, the household agrees; the exit list runs the
chain by the clock with its spot checks; a citizen objects on the village list and the objection is
dismissed; when the county announcement closes, the household is deregistered (已脱贫)."""

from __future__ import annotations

import re

from .conftest import NOW, PHONE, flask_cli, running_portal
from .test_staff_journey import PASSWORD, log_in

VILLAGE, TOWNSHIP, COUNTY = "430811201005", "430811201", "430811"
#: The clock, day by day: the village window (11-23 to 11-29) closed; the township's (11-30 to 12-06);
#: the county's (12-07 to 12-21).
TOWNSHIP_DAY, COUNTY_DAY, AFTER = ("2026-11-30T09:00:00+08:00", "2026-12-07T09:00:00+08:00",
                                   "2026-12-22T09:00:00+08:00")


def spot_check_lower(page, base, code, kind="identify"):
    """As the reviewer of ``code``: spot-check every list below it (from the publish page's links),
    recording each sampled household 属实."""
    page.goto(f"{base}/staff/r/{code}/publish?kind={kind}")
    links = [a.get_attribute("href") for a in page.get_by_role("link", name=re.compile("^抽查复核")).all()]
    assert links
    for href in links:
        _spot_check_all(page, base, href.rsplit("/", 2)[-2])


def _spot_check_all(page, base, list_id):
    page.goto(f"{base}/staff/lists/{list_id}/spotcheck")
    page.get_by_role("button", name=re.compile("^抽取第")).click()
    assert "已抽取样本" in page.content()
    while page.get_by_role("button", name="登记").count():
        page.get_by_role("button", name="登记").first.click()
        assert "已登记抽查结果" in page.content()


def _publish(page, base, code, start):
    page.goto(f"{base}/staff/r/{code}/publish?kind=exit")
    assert page.get_by_label("名单类型").input_value() == "exit"
    page.get_by_label("公示开始日期").fill(start)
    page.get_by_role("button", name="发布").click()
    assert "名单已发布" in page.content(), page.inner_text("main")
    return page.url.rsplit("/", 1)[1]


def test_an_exit_with_the_households_agreement_runs_the_chain(open_context, shots, tmp_path):
    from .test_complaint_journey import photo  # (that module imports this one's helper)
    instance = tmp_path / "instance"
    flask_cli(instance, "init-db")
    for username, role, region in (("zhc-clerk", "village_clerk", VILLAGE), ("zh-reviewer", "township_reviewer", TOWNSHIP),
                                   ("wly-admin", "county_admin", COUNTY)):
        flask_cli(instance, "create-user", username, "--role", role, "--region", region, stdin=PASSWORD + "\n")

    with running_portal(instance, NOW) as base:
        clerk = open_context(javascript=False).new_page()
        log_in(clerk, base, "zhc-clerk")
        clerk.goto(f"{base}/staff/r/{VILLAGE}/households")
        register = clerk.inner_text("main")
        assert "庹志刚" in register and "在册" in register and "上一年度扶贫对象识别" in register
        household = clerk.locator("tr", has_text="庹志刚").locator("td").first.inner_text()
        clerk.get_by_label("调整类型").select_option("exit")
        clerk.get_by_label("农户编号").fill(household)
        clerk.get_by_role("button", name="提出").click()
        assert "还不符合退出条件" in clerk.content()                  # no condition ticked: refused, nothing kept
        clerk.get_by_label("调整类型").select_option("exit")
        clerk.get_by_label("农户编号").fill(household)
        for box in clerk.locator("input[name=conditions]").all():
            box.check()
        clerk.get_by_label("核查认定的情况").fill("两口子在县城务工，全年收入稳定，住房已改造。")
        clerk.get_by_role("button", name="提出").click()
        assert "已提出脱贫退出" in clerk.content()

        reviewer = open_context(javascript=False).new_page()
        log_in(reviewer, base, "zh-reviewer")
        reviewer.goto(f"{base}/staff/r/{VILLAGE}/households")
        reviewer.get_by_label("工作队核实情况").fill("驻村工作队入户核实：收入和住房属实。")
        reviewer.get_by_role("button", name="登记核实").click()
        assert "已登记工作队核实" in reviewer.content()

        clerk.goto(f"{base}/staff/r/{VILLAGE}/households")
        clerk.get_by_label("农户意见", exact=True).select_option("yes")
        clerk.get_by_label("确认日期").fill("2026-11-23")
        clerk.get_by_label("同意的方式").select_option("signed")
        clerk.get_by_label("签字确认书照片（可选，JPG 或 PNG）").set_input_files(str(photo(tmp_path / "确认书.jpg")))
        clerk.get_by_role("button", name="登记农户意见").click()
        assert "已登记农户意见" in clerk.content() and "农户已同意" in clerk.inner_text("main")
        assert clerk.get_by_role("link", name="签字确认书照片").count() == 1
        clerk.screenshot(path=shots / "dynamic-1-exit-proposed.png", full_page=True)
        village_list = _publish(clerk, base, VILLAGE, "2026-11-23")

        # A villager objects on the public exit list, from a phone.
        villager = open_context(javascript=False, viewport=PHONE).new_page()
        villager.goto(f"{base}/lists/{village_list}")
        text = villager.inner_text("main")
        assert "脱贫退出" in text and "本户同意退出" in text and "公示中" in text and "务工" not in text
        villager.screenshot(path=shots / "dynamic-2-exit-list-phone.png", full_page=True)
        villager.locator(f"a[href*=\"list={village_list}&\"][href$=\"entry=1\"]").click()
        villager.check("input[value=other]")
        villager.get_by_label("具体情况").fill("这户去年才盖的房子还欠着钱，收入不稳定，不该退出。")
        villager.get_by_role("button", name="提交").click()
        assert "回执码" in villager.inner_text("main")

        # The village handles it: found not true, with a public reply.
        clerk.goto(f"{base}/staff/complaints")
        clerk.get_by_role("link", name=re.compile("^第 \\d+ 件")).first.click()
        clerk.check("input[value=dismissed]")
        clerk.get_by_label("调查经过和结果").fill("入户核对收入台账和务工证明，收入稳定超过标准。")
        clerk.get_by_label("公开答复").fill("经核实，该户收入稳定超过扶贫标准，符合退出条件。")
        clerk.get_by_role("button", name="办结").click()
        assert "已办结" in clerk.inner_text("main")

    with running_portal(instance, TOWNSHIP_DAY) as base:
        reviewer = open_context(javascript=False).new_page()
        log_in(reviewer, base, "zh-reviewer")
        reviewer.goto(f"{base}/staff/r/{TOWNSHIP}/publish?kind=exit")
        reviewer.get_by_label("公示开始日期").fill("2026-11-30")
        reviewer.get_by_role("button", name="发布").click()
        assert "中湖村的名单还没有经过乡镇抽查复核" in reviewer.content()
        _spot_check_all(reviewer, base, village_list)
        reviewer.screenshot(path=shots / "dynamic-3-spotcheck.png", full_page=True)
        township_list = _publish(reviewer, base, TOWNSHIP, "2026-11-30")

    with running_portal(instance, COUNTY_DAY) as base:
        admin = open_context(javascript=False).new_page()
        log_in(admin, base, "wly-admin")
        _spot_check_all(admin, base, township_list)
        county_list = _publish(admin, base, COUNTY, "2026-12-07")
        public = open_context(javascript=False).new_page()
        public.goto(f"{base}/lists/{county_list}")
        assert "武陵源区脱贫退出公告名单" in public.inner_text("main") and "庹*刚" in public.inner_text("main")
        public.goto(f"{base}/lists/{township_list}")
        assert "县（区）按不少于 5% 抽查了第 1 版 1 户中的 1 户，已全部核查，发现不属实 0 户" in public.inner_text("main")
        public.goto(f"{base}/r/{VILLAGE}")
        assert "已脱贫：0 户" in public.inner_text("main")        # the announcement is still open

    with running_portal(instance, AFTER) as base:
        clerk = open_context(javascript=False).new_page()
        log_in(clerk, base, "zhc-clerk")
        clerk.goto(f"{base}/staff/r/{VILLAGE}/households")
        row = clerk.locator("tr", has_text="庹志刚").inner_text()
        assert "已脱贫" in row and "在册" in row                      # the status, and the history before it
        assert clerk.locator("tr", has_text="庹志刚").get_by_role("link", name=re.compile("退出")).count() == 1
        clerk.screenshot(path=shots / "dynamic-4-deregistered.png", full_page=True)
        public = open_context(javascript=False, viewport=PHONE).new_page()
        public.goto(f"{base}/r/{VILLAGE}")
        text = public.inner_text("main")
        assert "已脱贫：1 户 4 人" in text and "庹志刚" not in text and "庹*刚" not in text
