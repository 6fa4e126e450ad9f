"""The staff journey in a real browser, JavaScript off: a county admin creates the township and
village users; the clerk of 中湖村 enters 20 applicants with votes, previews the selection and
publishes the village list; with the clock moved past every window of 中湖乡, its reviewer
publishes the township list."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from ..conftest import han
from .conftest import NOW, flask_cli, running_portal

PASSWORD = "a long enough secret"
LATER = "2026-12-10T09:00:00+08:00"     # every 中湖乡 village window has closed by then


def log_in(page, base, username, password=PASSWORD):
    page.goto(base + "/staff/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
    assert page.url.endswith("/staff/"), page.url


def test_admin_clerk_and_reviewer_publish_through_the_chain(open_context, shots, tmp_path):
    instance = tmp_path / "instance"
    flask_cli(instance, "init-db")
    flask_cli(instance, "create-user", "wly-admin", "--role", "county_admin", "--region", "430811",
              "--name", "县扶贫办", stdin=PASSWORD + "\n")
    rng = random.Random(7)

    with running_portal(instance, NOW) as base:
        # The county admin creates the township reviewer and the village clerk.
        admin = open_context(javascript=False).new_page()
        log_in(admin, base, "wly-admin")
        for username, name, role, region in [("zh-reviewer", "中湖乡审核员", "township_reviewer", "430811201"),
                                             ("zhc-clerk", "中湖村文书", "village_clerk", "430811201005")]:
            admin.goto(base + "/staff/users/new")
            admin.get_by_label("用户名").fill(username)
            admin.get_by_label("姓名").fill(name)
            admin.get_by_label("角色").select_option(role)
            admin.get_by_label("所属区划").select_option(region)
            admin.get_by_label("初始密码").fill(PASSWORD)
            admin.get_by_role("button", name="创建").click()
            assert "已创建账号" in admin.content()
        admin.screenshot(path=shots / "staff-1-users.png", full_page=True)

        # The clerk of 中湖村 enters 20 applicants with their votes.
        clerk = open_context(javascript=False).new_page()
        log_in(clerk, base, "zhc-clerk")
        clerk.goto(base + "/staff/r/430811201005/applicants/new")
        for i in range(20):
            clerk.get_by_label("户主姓名").fill(f"中湖{'甲乙丙丁戊己庚辛壬癸'[i % 10]}{han(i, 2)}")   # names are Han
            clerk.get_by_label("家庭人口").fill(str(rng.randint(1, 6)))
            clerk.check(f"input[value={rng.choice(['capital', 'skills', 'land', 'illness'])}]")
            clerk.get_by_label("家庭人均纯收入（元）").fill(str(rng.randint(900, 2700)))
            clerk.get_by_label("得票数").fill(str(40 + i % 7))     # above the demo applicants' votes
            clerk.get_by_label("参评人数").fill("46")
            clerk.get_by_role("button", name="保存").click()
            clerk.wait_for_load_state()      # content() read while the next page loads can be empty (seen on a busy CI)
            assert "已录入" in clerk.content(), clerk.content()
        clerk.screenshot(path=shots / "staff-2-applicant.png", full_page=True)
        clerk.goto(base + "/staff/r/430811201005/selection")
        preview = clerk.inner_text("main")
        assert "入选" in preview and "候补第 1 位" in preview and "中湖甲〇〇" in preview
        clerk.screenshot(path=shots / "staff-3-selection.png", full_page=True)
        clerk.goto(base + "/staff/r/430811201005/publish")
        clerk.get_by_role("button", name="发布").click()
        assert "名单已发布" in clerk.content()
        village_list = clerk.url.rsplit("/", 1)[1]
        clerk.screenshot(path=shots / "staff-4-published.png", full_page=True)

        # Before the windows close, the township cannot publish yet.
        reviewer = open_context(javascript=False).new_page()
        log_in(reviewer, base, "zh-reviewer")
        # Issue 16 item 1: the dashboard and the form say why and from which day, and a start date
        # after the village windows does not get round it.
        assert "最早 2026年12月2日 可以发布本级名单" in reviewer.inner_text("main")
        reviewer.goto(base + "/staff/r/430811201/publish")
        assert "现在还不能发布本级名单" in reviewer.inner_text("main")
        assert "从 2026年12月2日 起可以发布" in reviewer.inner_text("main")
        reviewer.get_by_label("公示开始日期").fill("2026-12-05")
        reviewer.get_by_role("button", name="发布").click()
        assert "现在还不能公示本级名单" in reviewer.content() and "中湖村的公示到" in reviewer.content()

    # Time passes: a new server process on the same database with the clock moved on.
    with running_portal(instance, LATER) as base:
        reviewer = open_context(javascript=False).new_page()
        log_in(reviewer, base, "zh-reviewer")
        assert "还没有经过乡镇抽查复核" in reviewer.content()          # the dashboard says what is missing
        # Rule 12 (issue 20): the township spot-checks every village list first, and cannot publish
        # until each check is complete.
        reviewer.goto(base + "/staff/r/430811201/publish")
        reviewer.get_by_role("button", name="发布").click()
        assert "中湖村的名单还没有经过乡镇抽查复核" in reviewer.content()
        checks = [a.get_attribute("href") for a in reviewer.get_by_role("link", name=re.compile("^抽查复核")).all()]
        assert len(checks) == 5
        for n, href in enumerate(checks):
            reviewer.goto(base + href)
            reviewer.get_by_role("button", name=re.compile("^抽取第 1 版名单的样本")).click()
            assert "已抽取样本" in reviewer.content()
            text = reviewer.inner_text("main")
            drawn = int(re.search(r"共 (\d+) 户，抽取 (\d+) 户", text).group(2))
            total = int(re.search(r"共 (\d+) 户，抽取", text).group(1))
            assert drawn == max(1, -(-total * 20 // 100))
            if n == 0:
                reviewer.screenshot(path=shots / "staff-5a-spotcheck.png", full_page=True)
            for i in range(drawn):
                if n == len(checks) - 1 and i == drawn - 1:
                    # The last result still missing: the township list is refused, naming what is left.
                    reviewer.goto(base + "/staff/r/430811201/publish")
                    reviewer.get_by_role("button", name="发布").click()
                    assert "抽查复核还有 1 户没有登记结果" in reviewer.content()
                    reviewer.goto(base + href)
                reviewer.get_by_role("button", name="登记").first.click()
                assert "已登记抽查结果" in reviewer.content()
        reviewer.goto(base + "/staff/")
        assert "可以发布本级名单" in reviewer.content()
        reviewer.screenshot(path=shots / "staff-5-reviewer-dashboard.png", full_page=True)
        reviewer.goto(base + "/staff/r/430811201/publish")
        reviewer.get_by_role("button", name="发布").click()
        assert "名单已发布" in reviewer.content()
        township_list = reviewer.url.rsplit("/", 1)[1]
        public_text = open_context(javascript=False).new_page()
        public_text.goto(f"{base}/lists/{village_list}")
        assert "乡镇按不少于 20% 抽查了第 1 版" in public_text.inner_text("main")

        public = open_context(javascript=False).new_page()
        public.goto(f"{base}/lists/{township_list}")
        public.get_by_role("navigation", name="按村查看").get_by_role("link", name="中湖村").click()
        text = public.inner_text("main")
        assert "中湖乡审核公示名单" in text and "公示中" in text and "中湖村" in text and "中***〇" in text
        assert "中湖甲〇〇" not in text
        public.goto(f"{base}/lists/{village_list}")
        assert "已结束" in public.inner_text("main")

    log = flask_cli(instance, "verify-log")
    assert "intact" in log


STAFF_PAGES = {
    "county_admin": ["/staff/", "/staff/r/430811", "/staff/users", "/staff/users/new", "/staff/r/430811/quotas",
                     "/staff/campaigns/new", "/staff/audit", "/staff/lists/16", "/staff/lists/16/board",
                     "/staff/password", "/staff/r/430811/households", "/staff/lists/16/spotcheck"],
    "village_clerk": ["/staff/", "/staff/r/430811100001", "/staff/r/430811100001/selection", "/staff/lists/1",
                      "/staff/lists/1/amend", "/staff/r/430811100001/applicants/new",
                      "/staff/r/430811100001/households", "/staff/lists/1/spotcheck"],
}


def test_console_pages_are_valid_and_accessible(live_server, live_instance, open_context, tmp_path):
    """Console pages meet the public pages' HTML and accessibility bar (weight is not checked:
    staff work on them in an office, and they are never cached)."""
    from .checks import axe_violations, vnu_errors

    users = {"county_admin": ("check-admin", "430811"), "village_clerk": ("check-clerk", "430811100001")}
    files, problems = [], {}
    for role, (username, region) in users.items():
        flask_cli(live_instance, "create-user", username, "--role", role, "--region", region, stdin=PASSWORD + "\n")
        page = open_context().new_page()
        log_in(page, live_server, username)
        for path in STAFF_PAGES[role]:
            resp = page.goto(live_server + path)
            assert resp.status == 200, path
            f = tmp_path / f"{role}-{len(files)}.html"
            f.write_text(resp.text(), encoding="utf-8")     # as served, before axe is injected
            files.append((path, f))
            if violations := axe_violations(page):
                problems[path] = violations
        # A form sent back with errors must also be valid and accessible.
        page.goto(live_server + STAFF_PAGES[role][-1 if role == "village_clerk" else 3])
        page.get_by_role("button").last.click()
        if violations := axe_violations(page):
            problems["error form " + role] = violations
    errors = vnu_errors([f for _, f in files])
    invalid = {path: errors[f.name] for path, f in files if errors[f.name]}
    assert problems == {} and invalid == {}


SAMPLE = Path(__file__).resolve().parents[2] / "import" / "samples" / "中湖村申请户-GBK.csv"


def test_clerk_imports_the_gbk_sample_and_a_bad_row_37_stops_everything(live_server, live_instance, open_context,
                                                                         shots, tmp_path):
    flask_cli(live_instance, "create-user", "zhc-import", "--role", "village_clerk", "--region", "430811201005",
              stdin=PASSWORD + "\n")
    page = open_context(javascript=False).new_page()
    log_in(page, live_server, "zhc-import")
    before = page.goto(live_server + "/staff/r/430811201005").text()

    # A copy of the sample whose row 37 (as the spreadsheet numbers it) has a mistyped ID.
    lines = SAMPLE.read_bytes().decode("gbk").splitlines(keepends=True)
    cells = lines[36].split(",")
    cells[1] = cells[1][:-1] + ("1" if cells[1][-1] != "1" else "2")
    lines[36] = ",".join(cells)
    bad = tmp_path / "有错的表.csv"
    bad.write_bytes("".join(lines).encode("gbk"))
    page.goto(live_server + "/staff/r/430811201005/import")
    page.get_by_label("表格文件").set_input_files(str(bad))
    page.get_by_role("button", name="上传并检查").click()
    main = page.inner_text("main")
    assert "整个文件没有导入" in main and "37" in main and "校验位不对" in main
    assert page.locator("table tbody tr").count() == 1
    assert page.get_by_role("button", name="确认导入").count() == 0
    page.screenshot(path=shots / "import-1-bad-row-37.png", full_page=True)

    page.get_by_label("表格文件").set_input_files(str(SAMPLE))
    page.get_by_role("button", name="上传并检查").click()
    main = page.inner_text("main")
    assert "GBK" in main and "将导入新增 40" in main
    page.screenshot(path=shots / "import-2-preview.png", full_page=True)
    page.get_by_role("button", name="确认导入").click()
    assert "已导入新增 40" in page.inner_text("main")
    after = page.inner_text("main")
    assert "杨庆春" in after and "杨庆春" not in before
    page.screenshot(path=shots / "import-3-done.png", full_page=True)


XLSX_SAMPLE = Path(__file__).resolve().parents[2] / "import" / "samples" / "中湖乡申请户-合并表头.xlsx"


def test_reviewer_uploads_the_merged_header_xlsx_under_any_name(live_server, live_instance, open_context, shots,
                                                               tmp_path):
    """Issue 19: the console read only CSV ("xlsx 文件打不开（InvalidFileException）"). The township's
    reviewer uploads the two-row-header sample, renamed as old Excel, on a phone, and imports it."""
    flask_cli(live_instance, "create-user", "zhx-import", "--role", "township_reviewer", "--region", "430811201",
              stdin=PASSWORD + "\n")
    page = open_context(javascript=False, viewport={"width": 360, "height": 740}).new_page()
    log_in(page, live_server, "zhx-import")
    renamed = tmp_path / "中湖乡申请户.xls"
    renamed.write_bytes(XLSX_SAMPLE.read_bytes())
    page.goto(live_server + "/staff/r/430811201/import")
    page.get_by_label("表格文件").set_input_files(str(renamed))
    page.get_by_role("button", name="上传并检查").click()
    page.wait_for_load_state()
    main = page.inner_text("main")
    assert "xlsx" in main and "将导入新增 25" in main, main[:500]
    page.screenshot(path=shots / "import-4-xlsx-preview.png", full_page=True)
    page.get_by_role("button", name="确认导入").click()
    page.wait_for_load_state()
    assert "已导入新增 25" in page.inner_text("main")


@pytest.mark.parametrize("fmt", ["xlsx", "xls", "ods", "csv"])
def test_a_clerk_uploads_a_two_row_header_in_every_format(live_server, live_instance, open_context, tmp_path, fmt):
    """Issue 19: generated files of every format, a header drawn over two rows, through the console."""
    from .. import books
    from ..test_import_formats import book, grouped

    user = f"fmt-{fmt}"
    flask_cli(live_instance, "create-user", user, "--role", "village_clerk", "--region", "430811201005",
              stdin=PASSWORD + "\n")
    page = open_context(javascript=False).new_page()
    log_in(page, live_server, user)
    path, _ = book(tmp_path, grouped, fmt, name=f"中湖村申请户.{fmt}")
    assert path.suffix == f".{fmt}" and fmt in books.FORMATS
    page.goto(live_server + "/staff/r/430811201005/import")
    page.get_by_label("表格文件").set_input_files(str(path))
    page.get_by_role("button", name="上传并检查").click()
    page.wait_for_load_state()
    assert "将导入新增 6" in page.inner_text("main")


def test_a_clerk_downloads_the_marked_book_fixes_it_and_imports_it(live_server, live_instance, open_context, shots,
                                                                  tmp_path):
    """Issue 19, item 4: the problems come back inside the clerk's own file."""
    import openpyxl

    from ..test_import_formats import book, grouped
    from ..test_importer import valid_id

    flask_cli(live_instance, "create-user", "fmt-marked", "--role", "village_clerk", "--region", "430811201005",
              stdin=PASSWORD + "\n")
    page = open_context(javascript=False).new_page()
    log_in(page, live_server, "fmt-marked")
    path, first = book(tmp_path, grouped, "xls", bad=4, name="有错的表.xls")
    page.goto(live_server + "/staff/r/430811201005/import")
    page.get_by_label("表格文件").set_input_files(str(path))
    page.get_by_role("button", name="上传并检查").click()
    page.wait_for_load_state()
    assert "整个文件没有导入" in page.inner_text("main")
    with page.expect_download() as info:
        page.get_by_role("link", name="下载标出问题的原表（xlsx）").click()
    marked = tmp_path / "back.xlsx"
    info.value.save_as(marked)
    assert info.value.suggested_filename == "有错的表-问题说明.xlsx"
    sheet = openpyxl.load_workbook(marked).active
    assert "校验位" in sheet.cell(row=first + 4, column=sheet.max_column).value
    fixed = openpyxl.load_workbook(marked)
    fixed.active[f"C{first + 4}"] = valid_id(4)
    fixed.save(marked)
    page.get_by_label("表格文件").set_input_files(str(marked))
    page.get_by_role("button", name="上传并检查").click()
    page.wait_for_load_state()
    assert "将导入新增 6" in page.inner_text("main")
    page.screenshot(path=shots / "import-5-marked-fixed.png", full_page=True)


def test_clerk_corrects_a_list_and_villagers_see_who_left_and_who_came_in(open_context, shots, tmp_path):
    """Issue 16 items 3 and 10: the clerk of 龙尾巴村 takes one household off with its ground and
    approver; the console shows the ranking's replacement before the button and offers no way to
    pick households by hand. On a phone the villager then sees every household under its old
    number, the one taken off struck through, the replacement under the next number with its own
    window, and an old 举报 link still naming the same household."""
    instance = tmp_path / "instance"
    flask_cli(instance, "init-db")
    flask_cli(instance, "create-user", "lwb-clerk", "--role", "village_clerk", "--region", "430811200001",
              stdin=PASSWORD + "\n")
    with running_portal(instance, NOW) as base:
        villager = open_context(javascript=False, viewport={"width": 360, "height": 740}).new_page()
        villager.goto(base + "/lists/8")
        first = villager.locator("#p1 td").nth(2).inner_text()
        second = villager.locator("#p2 td").nth(2).inner_text()
        old_link = villager.locator("#p2 a").first.get_attribute("href")
        count = villager.locator("tbody tr").count()

        clerk = open_context(javascript=False).new_page()
        log_in(clerk, base, "lwb-clerk")
        clerk.goto(base + "/staff/lists/8")
        clerk.get_by_role("link", name="更正名单").click()
        assert clerk.locator("input[type=checkbox]").count() == 0       # nobody is added by hand
        clerk.get_by_label("要取消资格的农户").select_option(index=1)     # the first household of the list
        clerk.get_by_label("查实的问题").fill("家中有财政供养人员，经乡里核实。")
        clerk.get_by_label("批准人").fill("协合乡 王乡长")
        clerk.get_by_label("递补户的公示开始日期").fill("2026-11-24")
        clerk.get_by_role("button", name="查看递补人选").click()
        proposal = clerk.inner_text("main")
        assert "按票决排名依次递补" in proposal or "没有放得进空出名额的候补户" in proposal
        clerk.screenshot(path=shots / "staff-6-correction.png", full_page=True)
        clerk.get_by_role("button", name="确认更正并发布新版本").click()
        clerk.wait_for_load_state()
        assert "已发布新版本" in clerk.content()

        villager.goto(base + "/lists/8")
        text = villager.inner_text("main")
        assert "第 2 版" in text and "经核实更正" in text
        assert villager.locator("#p1.removed del").inner_text() == first     # struck through, same number
        assert "取消资格（核实更正）" in villager.locator("#p1").inner_text()
        assert villager.locator("#p2 td").nth(2).inner_text() == second      # unchanged number
        replacement = villager.locator("tr.marked").first
        if replacement.count():
            assert int(replacement.get_attribute("id")[1:]) > count and "公示至11月30日" in replacement.inner_text()
        villager.screenshot(path=shots / "villager-4-corrected.png", full_page=True)
        assert villager.evaluate("document.documentElement.scrollWidth") <= 360
        villager.goto(base + old_link)                                        # the 举报 link from version 1
        assert second in villager.inner_text("main")
