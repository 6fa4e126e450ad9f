"""Feeds checked against a strict reading of RSS 2.0 and Atom (RFC 4287), not only "it parses"."""

import datetime as dt
import email.utils
import xml.etree.ElementTree as ET

import pytest

from .conftest import set_now

ATOM = "{http://www.w3.org/2005/Atom}"
LATER = "2026-11-30T12:00:00+08:00"


@pytest.fixture
def later(app, published):
    set_now(app, LATER)
    return published


def rfc822(text: str) -> dt.datetime:
    value = email.utils.parsedate_to_datetime(text)
    assert value.tzinfo is not None, text
    return value


def rfc3339(text: str) -> dt.datetime:
    assert "T" in text and (text.endswith("Z") or text[-6] in "+-"), text
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))



def test_rss_channel_and_items_are_complete(client, later):
    resp = client.get("/feeds/430811100.rss")
    assert resp.status_code == 200 and resp.mimetype == "application/rss+xml"
    root = ET.fromstring(resp.data)
    assert root.tag == "rss" and root.get("version") == "2.0"
    channel = root.find("channel")
    for required in ("title", "link", "description"):
        assert channel.findtext(required), required
    assert channel.findtext("link") == "https://gongshi.example.cn/r/430811100"
    self_link = channel.find(f"{ATOM}link[@rel='self']")
    assert self_link is not None and self_link.get("href") == "https://gongshi.example.cn/feeds/430811100.rss"
    rfc822(channel.findtext("lastBuildDate"))
    items = channel.findall("item")
    assert items
    guids = [i.findtext("guid") for i in items]
    assert len(guids) == len(set(guids))
    dates = [rfc822(i.findtext("pubDate")) for i in items]
    assert dates == sorted(dates, reverse=True)
    for item in items:
        assert item.findtext("title") and item.findtext("link").startswith("https://gongshi.example.cn/lists/")
        assert item.find("guid").get("isPermaLink") == "false"
    titles = [i.findtext("title") for i in items]
    assert any(t.startswith("开始公示：索溪峪镇审核公示名单") for t in titles)
    assert any(t.startswith("名单更新（第 2 版）：双星村") for t in titles)
    assert any(t.startswith("公示结束：河口村") for t in titles)
    amended = next(i for i in items if i.findtext("title").startswith("名单更新"))
    assert "一户举报属实" in amended.findtext("description")


def test_atom_feed_is_complete(client, later):
    root = ET.fromstring(client.get("/feeds/all.atom").data)
    assert root.tag == f"{ATOM}feed"
    assert root.findtext(f"{ATOM}id").startswith("urn:uuid:") and root.findtext(f"{ATOM}title")
    rfc3339(root.findtext(f"{ATOM}updated"))
    assert root.find(f"{ATOM}author/{ATOM}name").text
    assert root.find(f"{ATOM}link[@rel='self']").get("href") == "https://gongshi.example.cn/feeds/all.atom"
    entries = root.findall(f"{ATOM}entry")
    ids = [e.findtext(f"{ATOM}id") for e in entries]
    assert entries and len(ids) == len(set(ids)) and all(i.startswith("urn:uuid:") for i in ids)
    for e in entries:
        assert e.findtext(f"{ATOM}title")
        rfc3339(e.findtext(f"{ATOM}updated"))
        # A list's event, or the ledger's head at the end of a past day (issue 21).
        link = e.find(f"{ATOM}link").get("href")
        assert link.startswith("https://gongshi.example.cn/lists/") or (
            link == "https://gongshi.example.cn/ledger" and e.findtext(f"{ATOM}title").startswith("公开账本校验值"))
    assert any(e.findtext(f"{ATOM}title").startswith("公开账本校验值") for e in entries)


def test_guids_are_stable_and_only_past_events_appear(app, client, published):
    set_now(app, "2026-11-23T10:00:00+08:00")
    first = {i.findtext("guid") for i in ET.fromstring(client.get("/feeds/all.rss").data).iter("item")}
    titles = [i.findtext("title") for i in ET.fromstring(client.get("/feeds/all.rss").data).iter("item")]
    assert not any(t.startswith("公示结束：索溪峪镇") for t in titles)      # still open on the 23rd
    set_now(app, LATER)
    second = {i.findtext("guid") for i in ET.fromstring(client.get("/feeds/all.rss").data).iter("item")}
    assert first <= second and len(second) > len(first)


def test_region_feed_covers_its_subtree_only(client, later):
    titles = [i.findtext("title") for i in ET.fromstring(client.get("/feeds/430811100002.rss").data).iter("item")]
    assert titles and all("河口村" in t for t in titles)


@pytest.mark.parametrize("url", ["/feeds/999999.rss", "/feeds/430811100001001.atom", "/feeds/abc.rss",
                                 "/feeds/430811.xml"])
def test_unknown_region_feed_is_a_404(client, published, url):
    assert client.get(url).status_code == 404


def test_autodiscovery_and_subscribe_links(client, published):
    region = client.get("/r/430811100").get_data(as_text=True)
    assert '<link rel="alternate" type="application/rss+xml" title="索溪峪镇公示动态（RSS）" href="/feeds/430811100.rss">' in region
    assert 'href="/feeds/430811100.atom">Atom</a>' in region
    home = client.get("/").get_data(as_text=True)
    assert 'href="/feeds/all.rss"' in home
    lst = client.get(f"/lists/{published['village_a']}").get_data(as_text=True)
    assert 'href="/feeds/430811100001.rss">RSS</a>' in lst


def test_a_notice_item_carries_readable_html_with_absolute_links(app, client, db, published):
    """Issue 17, item 10: not raw markdown, not a relative link."""
    import xml.etree.ElementTree as ET

    from portal.domain.notices import create_notice

    from .conftest import CLOCK, ID_KEY

    with app.app_context():
        create_notice(db, region_code="430811100", title="延长公示", body="公示延长 **7 天**。请[网上举报](/complaints/new)。"
                      "<script>alert(1)</script>", publish_at="2026-11-22T09:00:00+08:00", actor="t",
                      role="county_admin", key=ID_KEY, clock=CLOCK)
    atom = ET.fromstring(client.get("/feeds/430811100.atom").data)
    ns = {"a": "http://www.w3.org/2005/Atom"}
    entry = next(e for e in atom.findall("a:entry", ns) if "延长公示" in e.find("a:title", ns).text)
    content = entry.find("a:content", ns)
    assert content.get("type") == "html"
    assert "<strong>7 天</strong>" in content.text and 'href="https://gongshi.example.cn/complaints/new"' in content.text
    assert "**" not in content.text and "<script>" not in content.text
    summary = entry.find("a:summary", ns).text
    assert summary.startswith("公示延长 7 天。请网上举报。") and "<" not in summary and "**" not in summary
    rss = client.get("/feeds/430811100.rss").get_data(as_text=True)
    item = rss[rss.index("公告：延长公示"):]
    item = item[:item.index("</item>")]
    assert "<content:encoded><![CDATA[" in item and 'href="https://gongshi.example.cn/complaints/new"' in item
    assert "<description>公示延长 7 天。请网上举报。" in item
