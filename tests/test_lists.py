"""The public list pages, print view and downloads: content, masking, versions, 404s."""

import csv
import io
import json

import pytest

from portal.domain.rules import PUBLIC_CAUSES_NOTE

FULL_NAMES = ["张建国", "李秀英", "向春华", "欧阳德胜", "田玉梅"]
SECRETS = ["430811195001011234", "43081119600202123X", "2000", "1500", "因病", "因残"]


def text(resp):
    return resp.get_data(as_text=True)


def test_list_page_shows_window_rule_and_masked_entries(client, published):
    resp = client.get(f"/lists/{published['village_b']}")
    assert resp.status_code == 200
    page = text(resp)
    assert "河口村初选公示名单" in page and "河口村村民委员会" in page
    assert "公示已于11月20日24时结束" in page           # 14th..20th, today the 23rd
    assert "2026年11月14日 至 2026年11月20日" in page
    assert "按得票数从高到低排序" in page
    assert "田*梅" in page and "31/33" in page
    assert "规模指标 6 人" in page
    assert 'lang="zh-CN"' in page and '<meta name="robots" content="noindex">' in page


def test_open_list_shows_days_left_computed_on_server(client, published):
    page = text(client.get(f"/lists/{published['township']}"))
    assert "距公示结束还有 5 天（含今天），11月27日24时结束" in page   # 21st..27th
    assert "双星村" in page and "河口村" in page                       # village column on township lists


def test_public_pages_never_show_ids_full_names_income_or_health(client, published):
    for url in [f"/lists/{published['village_a']}", f"/lists/{published['village_a']}/v1",
                f"/lists/{published['township']}", f"/lists/{published['village_a']}/print",
                f"/lists/{published['township']}.csv", f"/lists/{published['township']}.json",
                f"/lists/{published['village_a']}/v1.json"]:
        body = text(client.get(url))
        for value in FULL_NAMES + SECRETS[:2]:
            assert value not in body, (url, value)
        for value in SECRETS[2:4]:
            assert f">{value}<" not in body and f'"{value}"' not in body and f",{value}," not in body
        cells = body.replace(PUBLIC_CAUSES_NOTE, "")
        assert "因残" not in cells and "因病" not in cells


def test_sensitive_causes_cannot_be_told_apart(client, published):
    rows = list(csv.DictReader(io.StringIO(text(client.get(f"/lists/{published['village_a']}/v1.csv")).lstrip("\ufeff"))))
    by_name = {r["户主"]: r["致贫原因"] for r in rows}
    assert by_name["张*国"] == "家庭原因"          # 因病 and 缺劳力 share one public label
    assert by_name["李*英"] == "缺资金"
    b = json.loads(text(client.get(f"/lists/{published['village_b']}.json")))
    assert {e["causes"] for e in b["entries"]} == {"家庭原因"}   # 因残 looks like 因学 or 缺劳力
    assert "家庭原因" in text(client.get(f"/lists/{published['village_b']}"))


def test_versions_stay_readable_and_link_to_each_other(client, published):
    a = published["village_a"]
    latest = text(client.get(f"/lists/{a}"))
    assert "第 2 版" in latest and "一户举报属实，取消其资格" in latest
    # 欧阳德胜, taken off in version 2, stays visible there struck through (issue 16, item 10).
    assert "<del>欧阳*胜</del>" in latest and "取消资格（举报查实）" in latest and f'href="/lists/{a}/v1"' in latest
    old = text(client.get(f"/lists/{a}/v1"))
    assert "欧阳*胜" in old and "已有更新的版本" in old and f'href="/lists/{a}"' in old
    assert text(client.get(f"/lists/{a}/v2")).count("已有更新的版本") == 0


def test_print_view_has_window_channels_and_qr_of_this_version(client, published):
    a = published["village_a"]
    page = text(client.get(f"/lists/{a}/v1/print"))
    assert "2026年11月13日0时 至 2026年11月19日24时" in page
    assert "0744-5616963" in page and "12317" in page
    assert "<svg" in page and 'role="img"' in page
    assert f"https://gongshi.example.cn/lists/{a}/v1" in page
    assert "欧阳*胜" in page
    latest = text(client.get(f"/lists/{a}/print"))
    assert f"https://gongshi.example.cn/lists/{a}/v2" in latest


def test_qr_code_encodes_the_version_url():
    import segno

    from portal.web.lists import qr_svg
    svg = str(qr_svg("https://gongshi.example.cn/lists/7/v2"))
    assert svg == str(qr_svg("https://gongshi.example.cn/lists/7/v2"))
    assert svg != str(qr_svg("https://gongshi.example.cn/lists/7/v1"))
    expected = segno.make("https://gongshi.example.cn/lists/7/v2", error="m").svg_inline(scale=4, title="本名单网址二维码")
    assert svg.endswith(expected[len("<svg "):])


def test_csv_download_matches_the_page(client, published):
    resp = client.get(f"/lists/{published['township']}.csv")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    disposition = resp.headers["Content-Disposition"]
    assert disposition.startswith("attachment;") and "filename*=UTF-8''" in disposition
    assert "%E7%B4%A2%E6%BA%AA%E5%B3%AA%E9%95%87" in disposition      # 索溪峪镇, percent-encoded
    assert resp.headers["X-Robots-Tag"] == "noindex, nofollow"
    body = text(resp)
    assert body.startswith("\ufeff序号,村,村民小组,户主,家庭人口,致贫原因,得票,参评人数,备注")
    rows = list(csv.DictReader(io.StringIO(body.lstrip("\ufeff"))))
    assert [r["户主"] for r in rows] == ["张*国", "李*英", "向*华", "田*梅", "彭*辉"]
    assert rows[0]["村民小组"] == "一组" and rows[0]["得票"] == "30" and rows[0]["参评人数"] == "32"


def test_json_download(client, published):
    data = json.loads(text(client.get(f"/lists/{published['village_a']}.json")))
    assert data["version"] == 2 and data["latest_version"] == 2
    assert data["window"] == {"start": "2026-11-13", "end": "2026-11-19", "status": "closed",
                              "text": "公示已于11月19日24时结束"}
    assert data["region"]["path"] == ["武陵源区", "索溪峪镇", "双星村"]
    assert data["quota_persons"] == 10 and data["kind_name"] == "识别纳入"
    assert [(e["name"], e["ref"], e["removed"]) for e in data["entries"]] == [
        ("张*国", 1, False), ("李*英", 2, False), ("向*华", 3, False), ("欧阳*胜", 4, True)]


def test_name_policy_is_a_setting(app, client, published):
    app.config["NAME_DISPLAY"] = "surname"
    assert "张**" in text(client.get(f"/lists/{published['village_a']}"))


@pytest.mark.parametrize("url", [
    "/lists/999", "/lists/999/v1", "/lists/1/v99", "/lists/abc", "/lists/1/v0", "/lists/-1",
    "/lists/999/print", "/lists/999.csv", "/lists/999.json", "/lists/1/vx", "/lists/99999999999999999999999",
])
def test_unknown_or_malformed_lists_get_the_chinese_404(client, published, url):
    resp = client.get(url)
    assert resp.status_code == 404
    assert "找不到这个页面" in text(resp)


def test_a_large_upper_list_is_shown_one_village_at_a_time(client, published, monkeypatch):
    from portal.web import lists

    monkeypatch.setattr(lists, "LARGE_LIST", 2)
    t = published["township"]
    whole = client.get(f"/lists/{t}").get_data(as_text=True)
    assert 'href="?village=430811100001"' in whole and 'href="?village=430811100002"' in whole
    assert "<table" not in whole                               # no village chosen yet: the villages only
    one = client.get(f"/lists/{t}?village=430811100001").get_data(as_text=True)
    assert one.count('<tr id="p') == 3 and "<strong>双星村</strong>" in one and "河口村" in one
    assert "张*国" in one and "田*梅" not in one
    assert "<table" not in client.get(f"/lists/{t}?village=999").get_data(as_text=True)
    printed = client.get(f"/lists/{t}/print").get_data(as_text=True)
    assert printed.count('<tr id="p') == 5                    # the board print stays whole
    monkeypatch.setattr(lists, "LARGE_LIST", 300)
    client.application.extensions["page_cache"].clear()        # the code changed under the cache
    assert client.get(f"/lists/{t}").get_data(as_text=True).count('<tr id="p') == 5


def test_rows_keep_their_number_across_versions(app, client, db, county):
    """Issue 16 item 10: after 张建国 (No. 1) loses his place and 王明 comes in, every household keeps
    its number (anchor, 举报 link, search result); 王明 gets the next one; 张建国 stays, struck through."""
    from portal.domain.publishing import publish_list
    from portal.domain.replacement import confirm

    from .conftest import CLOCK, ID_KEY, TODAY

    h = county["households"]
    list_id = publish_list(db, campaign_id=county["campaign"], region_code="430811100001", kind="identify",
                           start=TODAY, today=TODAY, key=ID_KEY, clock=CLOCK)
    confirm(db, list_id=list_id, household_id=h["张建国"], ground="空挂户", expected=(h["王明"],), actor="r", role="r",
            key=ID_KEY, today=TODAY, start=TODAY, clock=CLOCK)
    page = text(client.get(f"/lists/{list_id}"))
    row = lambda n: page[page.index(f'id="p{n}"'):page.index("</tr>", page.index(f'id="p{n}"'))]  # noqa: E731
    assert "李*英" in row(2) and "向*华" in row(3) and "欧阳*胜" in row(4)
    assert "王*" in row(5) and "递补" in row(5) and "entry=5" in row(5)
    assert "<del>张*国</del>" in row(1) and "取消资格（举报查实）" in row(1) and "entry=1" not in row(1)
    assert 'class="removed"' in page[page.index('id="p1"') - 30:page.index('id="p1"') + 30]
    csv_rows = text(client.get(f"/lists/{list_id}.csv")).splitlines()
    assert csv_rows[1].startswith("2,") and any(r.startswith("5,") and "递补" in r for r in csv_rows)


def test_illness_and_disability_stay_off_every_public_surface_whatever_the_name_policy(app, client, published, staff):
    """Issue 17, item 2: with full names online, and on the board posted in the village, causes are
    still 家庭原因; only the console's own list page (staff only) names them."""
    from .conftest import login

    app.config["NAME_DISPLAY"] = "full"
    a, b = published["village_a"], published["village_b"]
    for url in (f"/lists/{a}", f"/lists/{a}/v1", f"/lists/{a}/print", f"/lists/{a}/v1.csv", f"/lists/{a}.json",
                f"/lists/{b}", f"/lists/{b}.csv", f"/lists/{b}.json", f"/lists/{published['township']}/print"):
        body = text(client.get(url)).replace(PUBLIC_CAUSES_NOTE, "")
        assert "张建国" in body or "田玉梅" in body, url          # the policy does show full names
        assert "因病" not in body and "因残" not in body, url
    login(client, "clerk")
    board = text(client.get(f"/staff/lists/{a}/board")).replace(PUBLIC_CAUSES_NOTE, "")
    assert "张建国" in board and "家庭原因" in board and "因病" not in board and PUBLIC_CAUSES_NOTE in text(
        client.get(f"/staff/lists/{a}/board"))
    assert "因病" in text(client.get(f"/staff/lists/{a}"))      # the console's own page, staff only
