"""A journalist's journey (issue 21) on a phone with JavaScript off: from the footer to the county's
figures, the CSV that matches them, then the public ledger, whose verifier — downloaded from the page —
passes against the live portal after everything the other journeys did to it."""

from __future__ import annotations

import csv
import io
import subprocess
import sys

from .conftest import PHONE


def test_journalist_reads_the_figures_and_verifies_the_ledger(live_server, open_context, shots, tmp_path):
    page = open_context(javascript=False, viewport=PHONE).new_page()
    page.goto(live_server + "/")
    page.get_by_role("link", name="统计数据").click()
    assert page.get_by_role("heading", level=1).inner_text() == "统计数据：全部地区"
    page.get_by_role("link", name="武陵源区").first.click()
    page.wait_for_url("**/stats/430811")
    page.wait_for_load_state("load")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.screenshot(path=shots / "stats-county-phone.png", full_page=True)
    shown = {}
    for cell in page.locator("table.figures td[data-figure]").all():
        code = cell.locator("xpath=../th").get_attribute("data-code")
        shown[(code, cell.get_attribute("data-figure"))] = cell.inner_text()
    with page.expect_download() as info:
        page.get_by_role("link", name="CSV（表格软件可以打开）").click()
    rows = list(csv.reader(io.StringIO(open(info.value.path(), encoding="utf-8").read().lstrip("\ufeff"))))
    names = {h: k for k, h in (("complaints", "收到举报"), ("quota", "规模指标"), ("days_median", "办结用时中位数"),
                                ("sampled", "抽查户次"), ("replacements", "依次递补"))}
    checked = 0
    for code, _, figure, value, _ in rows[1:]:
        if figure in names:
            assert shown[(code, names[figure])] == (value or "—")
            checked += 1
    assert checked >= 5 * 3

    page.get_by_role("link", name="公开账本").click()
    assert page.get_by_role("heading", level=1).inner_text() == "公开账本"
    page.screenshot(path=shots / "ledger-phone.png", full_page=True)
    with page.expect_download() as info:
        page.get_by_role("link", name="verify.py").click()
    verifier = tmp_path / "verify.py"
    info.value.save_as(verifier)
    result = subprocess.run([sys.executable, "-I", "-S", str(verifier), live_server], capture_output=True, text=True,
                            timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    assert "核对通过" in result.stdout
