import datetime as dt

from portal.domain.publishing import publish_list

from .conftest import CLOCK, TODAY, set_now


def test_home_groups_lists_by_window_state(client, db, published):
    # Add one list that opens in two days, in a new village.
    from portal.domain.campaigns import set_quota
    from portal.domain.regions import add_region
    add_region(db, "430811100003", "高云村", "430811100")
    set_quota(db, published["campaign"], "430811100003", 4)
    publish_list(db, campaign_id=published["campaign"], region_code="430811100003", kind="identify",
                 start=TODAY + dt.timedelta(days=2), today=TODAY, household_ids=[], key=b"k", clock=CLOCK)
    page = client.get("/").get_data(as_text=True)
    sections = {name: page.split(f'id="{name}-h"')[1].split("</section>")[0]
                for name in ("closing", "open", "upcoming", "closed")}
    assert "索溪峪镇审核公示名单" in sections["open"]        # ends the 27th: 5 days left
    assert "高云村" in sections["upcoming"] and "2 天后" in sections["upcoming"]
    assert "双星村初选公示名单" in sections["closed"] and "河口村初选公示名单" in sections["closed"]
    assert "近 3 天内没有要结束的公示" in sections["closing"]
    assert "如何提出异议" in page and "0744-5616963" in page
    assert 'href="/r/430811"' in page


def test_home_closing_soon(client, app, published):
    set_now(app, "2026-11-26T08:00:00+08:00")          # the township list ends on the 27th
    page = client.get("/").get_data(as_text=True)
    closing = page.split('id="closing-h"')[1].split("</section>")[0]
    assert "索溪峪镇审核公示名单" in closing and "距公示结束还有 2 天" in closing


def test_empty_site_home(client):
    page = client.get("/").get_data(as_text=True)
    assert "还没有录入地区" in page


def test_healthz(client):
    resp = client.get("/healthz")
    assert resp.status_code == 200 and resp.get_json() == {"status": "ok"}


def test_content_pages(client):
    page = client.get("/pages/how-to-object").get_data(as_text=True)
    assert "<h1>如何提出异议、查看办理进度</h1>" in page and "12317" in page and "<h2>" in page
    assert "更新于 2026年11月23日" in page and "---" not in page.split("<main")[1]
    faq = client.get("/pages/faq").get_data(as_text=True)
    assert "乡镇不受理我的申请，我能直接到县里申请吗" in faq and 'href="/pages/grounds"' in faq
    assert "<table>" in client.get("/pages/grounds").get_data(as_text=True)
    assert client.get("/pages/about").status_code == 200
    for slug in ("nope", "..%2Fpyproject", "how_to_object", "%E4%B8%AD"):
        assert client.get(f"/pages/{slug}").status_code == 404


def test_unknown_route_and_wrong_method(client):
    assert "找不到这个页面" in client.get("/nowhere").get_data(as_text=True)
    resp = client.post("/healthz")
    assert resp.status_code in (400, 405)


def test_robots_txt_keeps_lists_and_console_out_of_search_engines(client):
    resp = client.get("/robots.txt")
    assert resp.mimetype == "text/plain"
    assert "Disallow: /lists/" in resp.get_data(as_text=True) and "Disallow: /staff/" in resp.get_data(as_text=True)


def test_markdown_is_sanitised():
    from portal.domain.pages import parse_front_matter, render_markdown
    html = str(render_markdown("hi <script>alert(1)</script> [x](javascript:alert(1)) <img src=x onerror=alert(1)>"))
    assert "<script" not in html and "javascript:" not in html and "onerror" not in html
    meta, body = parse_front_matter("---\ntitle: 标题\ndate: 2026-01-02\n---\n正文")
    assert meta == {"title": "标题", "date": "2026-01-02"} and body == "正文"
    assert parse_front_matter("no front matter") == ({}, "no front matter")
