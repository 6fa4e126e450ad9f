"""Journeys as people make them, in Chromium with JavaScript off; screenshots go to screenshots/."""

from __future__ import annotations

import csv
import io

import pytest

from .conftest import PHONE


@pytest.mark.parametrize("javascript", [False, True], ids=["no-js", "js"])
def test_villager_finds_their_village_list_and_time_left(live_server, open_context, shots, javascript):
    page = open_context(javascript=javascript, viewport=PHONE).new_page()
    page.goto(live_server + "/")
    page.screenshot(path=shots / "villager-1-home.png")
    page.get_by_role("link", name="武陵源区", exact=True).first.click()
    page.get_by_role("link", name="协合乡", exact=True).click()
    page.get_by_role("link", name="龙尾巴村", exact=True).click()
    assert page.get_by_role("heading", level=1).inner_text() == "龙尾巴村"
    page.screenshot(path=shots / "villager-2-village.png")
    page.get_by_role("link", name="龙尾巴村初选公示名单（演示批次）").click()
    assert page.url.endswith("/lists/8")
    status = page.locator(".window .status").inner_text()
    assert "公示中" in status and "距公示结束还有 2 天" in status and "11月24日24时结束" in status
    assert page.locator("table.entries tbody tr").count() > 10
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.screenshot(path=shots / "villager-3-list.png", full_page=True)


def test_print_view_fits_a4_and_shows_the_qr_code(live_server, open_context, shots):
    a4_content_width = round((210 - 24) / 25.4 * 96)       # A4 less the 12 mm margins, in CSS px
    context = open_context(javascript=False, viewport={"width": a4_content_width, "height": 1000})
    page = context.new_page()
    page.emulate_media(media="print")
    page.goto(live_server + "/lists/1/print")
    assert page.evaluate("document.documentElement.scrollWidth") <= a4_content_width
    qr = page.locator("figure.qr svg").bounding_box()
    assert qr and qr["width"] >= 90 and qr["x"] + qr["width"] <= a4_content_width
    assert "/lists/1/v2" in page.locator("figure.qr figcaption").inner_text()
    assert "0744-5616963" in page.inner_text("body")
    page.screenshot(path=shots / "print-a4.png", full_page=True)
    pdf = page.pdf(format="A4", prefer_css_page_size=True)
    assert pdf.startswith(b"%PDF")


def test_csv_download(live_server, open_context, tmp_path):
    page = open_context(javascript=False).new_page()
    page.goto(live_server + "/lists/1")
    rows_on_page = page.locator("table.entries tbody tr").count()
    with page.expect_download() as info:
        page.get_by_role("link", name="下载表格（CSV）").click()
    download = info.value
    assert download.suggested_filename == "双星村-初选公示名单-第2版.csv"
    text = open(download.path(), encoding="utf-8").read()
    assert text.startswith("\ufeff序号,村,村民小组,户主")
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert len(rows) == rows_on_page
    assert all("*" in r["户主"] for r in rows)
    assert any(r["备注"] == "递补" for r in rows)


def wait_for_index(page, url: str) -> None:
    """The indexer builds the index when the server starts; give it a few seconds on a cold start."""
    for _ in range(50):
        page.goto(url)
        if "正在重建" not in page.inner_text("main"):
            return
        page.wait_for_timeout(200)
    raise AssertionError("the search index was not built")


@pytest.mark.parametrize("javascript", [False, True], ids=["no-js", "js"])
def test_villager_finds_their_village_list_by_pinyin_initials(live_server, open_context, shots, javascript):
    page = open_context(javascript=javascript, viewport=PHONE).new_page()
    wait_for_index(page, live_server + "/search?q=lwb")
    page.goto(live_server + "/")
    page.get_by_label("查名单：输入姓名、村名或拼音首字母").fill("lwb")
    page.get_by_role("button", name="搜索").click()
    page.wait_for_load_state()       # the URL changes before the new document exists (seen once in CI)
    assert "/search?q=lwb" in page.url
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.screenshot(path=shots / "search-1-pinyin.png", full_page=True)
    page.get_by_role("link", name="龙尾巴村初选公示名单（演示批次）").click()
    assert page.url.endswith("/lists/8")
    assert "距公示结束还有 2 天" in page.locator(".window .status").inner_text()


def test_villager_types_their_own_name_and_finds_their_row_masked(live_server, open_context, shots):
    import csv as _csv
    from pathlib import Path

    from portal.domain.privacy import mask_name

    rows = _csv.DictReader(open(Path(__file__).parents[2] / "import/demo/applicants.csv", encoding="utf-8"))
    me = max((r for r in rows if r["村"] == "龙尾巴村"), key=lambda r: int(r["得票数"]))
    name = me["户主姓名"]
    page = open_context(javascript=False, viewport=PHONE).new_page()
    wait_for_index(page, live_server + "/search?q=lwb")
    page.goto(live_server + "/search")
    page.get_by_label("姓名、村名或拼音").fill(name)
    page.get_by_role("button", name="搜索").click()
    masked = mask_name(name)
    link = page.get_by_role("link", name=masked).first
    assert name not in page.locator(".results").inner_text()
    page.screenshot(path=shots / "search-2-own-name.png", full_page=True)
    link.click()
    assert "/lists/8#p" in page.url
    row = page.locator("tr:target")
    assert masked in row.inner_text()


def test_every_report_link_is_a_thumb_sized_target_that_can_be_reached(live_server, open_context, shots):
    """Issue 17, item 12: at 360 px the 举报 link of a row (also one marked 递补) is at least 44×44 px,
    and scrolling the table's own box brings it fully into view (nothing cuts it off)."""
    page = open_context(javascript=False, viewport=PHONE).new_page()
    page.goto(live_server + "/lists/8")
    page.wait_for_load_state()
    links = page.locator("table.entries a.report")
    assert links.count() > 10
    for i in (0, links.count() - 1):
        link = links.nth(i)
        link.scroll_into_view_if_needed()
        box, wrap = link.bounding_box(), page.locator(".table-wrap").first.bounding_box()
        assert box["width"] >= 44 and box["height"] >= 44, box
        assert wrap["x"] - 1 <= box["x"] and box["x"] + box["width"] <= wrap["x"] + wrap["width"] + 1, (box, wrap)
    page.screenshot(path=shots / "villager-report-links.png")
