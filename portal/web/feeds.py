"""RSS 2.0 and Atom feeds for the whole site and for every region's subtree (feedgen).

An item for each list that opens, is amended (with its change note) and closes. Events are derived
from the published versions and the clock, so nothing extra is stored and a GUID never changes.
"""

from __future__ import annotations

import datetime as dt
import html
import re
import uuid

import nh3
from feedgen.feed import FeedGenerator
from flask import Blueprint, abort, current_app

from .. import clock
from ..domain import ledger
from ..domain.notices import published_notices
from ..domain.pages import render_markdown
from ..runtime import get_db
from .caching import cached_page
from .lists import public_url
from .regions import get_region

bp = Blueprint("feeds", __name__)

GUID_NAMESPACE = uuid.UUID("6f1c3e52-4d1b-5c2e-9a77-1b8e0c9d2f10")
MAX_ITEMS = 50
LOOKBACK_DAYS = 120


def _midnight(day: str, zone) -> dt.datetime:
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(), tzinfo=zone)


def list_events(region_code: str | None) -> list[dict]:
    """Opened / amended / closed events of lists, and notices, in a region's subtree, up to now."""
    zone, now = clock.zone(), clock.now()
    since = (clock.today() - dt.timedelta(days=LOOKBACK_DAYS)).isoformat()
    where, params = "", [since, since]
    if region_code:
        where, params = " and l.region_code >= ? and l.region_code < ? || ':'", params + [region_code, region_code]
    rows = get_db().query(
        "select l.id, l.title, l.kind, v.version, v.window_start, v.window_end, v.change_note, v.published_at, "
        "v.rows_from, v.rows_until "
        "from list_versions v join lists l on l.id = v.list_id "
        "where (v.window_end >= ? or v.published_at >= ?)" + where + " order by v.published_at desc limit 400",
        params)
    events = []
    for r in rows:
        url = public_url("lists.list_version", list_id=r["id"], version=r["version"])
        opened = _midnight(r["window_start"], zone)
        closed = _midnight(r["window_end"], zone) + dt.timedelta(days=1)
        if r["version"] == 1:
            candidates = [("opened", opened, f"开始公示：{r['title']}",
                           f"公示时间 {r['window_start']} 至 {r['window_end']}，期间可以提出异议。"),
                          ("closed", closed, f"公示结束：{r['title']}", f"公示已于 {r['window_end']} 24 时结束。")]
        else:
            # An amendment is announced as one: the list keeps its window; only the rows it added
            # (递补、补录) have a window of their own.
            published = dt.datetime.fromisoformat(r["published_at"])
            rows = f"递补户公示时间 {r['rows_from']} 至 {r['rows_until']}，期间可以对递补户提出异议。" if r["rows_until"] else ""
            candidates = [("amended", published, f"名单更新（第 {r['version']} 版）：{r['title']}",
                           "".join(filter(None, [r["change_note"], rows])))]
        for kind, when, title, text in candidates:
            if when <= now:
                key = f"list/{r['id']}/v{r['version']}/{kind}"
                events.append({"id": f"urn:uuid:{uuid.uuid5(GUID_NAMESPACE, key)}", "when": when, "title": title,
                               "text": text, "url": url})
    for n in published_notices(get_db(), clock.local_stamp(), region_code, limit=MAX_ITEMS):
        guid = uuid.uuid5(GUID_NAMESPACE, "notice/" + str(n["id"]))
        content = feed_html(n["body"])
        events.append({"id": f"urn:uuid:{guid}",
                       "when": dt.datetime.fromisoformat(n["publish_at"]), "title": f"公告：{n['title']}",
                       "text": plain_summary(content), "html": content,
                       "url": public_url("notices.notice", notice_id=n["id"])})
    if region_code is None:
        events += ledger_heads()
    events.sort(key=lambda e: (e["when"], e["id"]), reverse=True)
    return events[:MAX_ITEMS]


#: The site feed carries the ledger's head at the end of each of these many past days (issue 21).
HEAD_DAYS = 7


def ledger_heads() -> list[dict]:
    """One item per past day: the public ledger's size and last hash at midnight, so that anyone
    subscribed keeps dated copies to check the ledger against later (``verify.py --head``)."""
    zone, today = clock.zone(), clock.today()
    days = [today - dt.timedelta(days=n) for n in range(1, HEAD_DAYS + 1)]
    url = public_url("ledger.ledger_page")
    out = []
    for day, head in ledger.day_heads(get_db(), days, zone):
        out.append({"id": f"urn:uuid:{uuid.uuid5(GUID_NAMESPACE, f'ledger/{day.isoformat()}')}",
                    "when": _midnight(day.isoformat(), zone) + dt.timedelta(days=1),
                    "title": f"公开账本校验值（{day.month}月{day.day}日）",
                    "text": f"截至 {day.isoformat()} 24 时，公开账本共 {head['size']} 条，末条校验值 {head['hash']}。"
                            f"核对：python3 verify.py 网站地址 --head {head['size']}:{head['hash']}",
                    "url": url})
    return out


def feed_html(markdown_text: str) -> str:
    """A notice as feed readers show it (issue 17, item 10): the page's sanitised HTML, with links
    made absolute (a reader has no page to resolve "/complaints/new" against)."""
    base = public_url("home.index").rstrip("/")
    return re.sub(r'(href|src)="/(?!/)', lambda m: f'{m.group(1)}="{base}/', str(render_markdown(markdown_text)))


def plain_summary(content_html: str, limit: int = 200) -> str:
    """The first ``limit`` characters of the text, without markup (the item's description)."""
    text = " ".join(html.unescape(nh3.clean(content_html, tags=set())).split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def build_feed(region: dict | None, fmt: str) -> str:
    name = current_app.config["SITE_NAME"]
    scope = region["name"] if region else "全部地区"
    code = region["code"] if region else "all"
    fg = FeedGenerator()
    fg.load_extension("base", atom=True, rss=True)
    fg.id(f"urn:uuid:{uuid.uuid5(GUID_NAMESPACE, 'feed/' + code)}")
    fg.title(f"{name}：{scope}公示动态")
    fg.description(f"{scope}扶贫对象名单的公示开始、更新和结束。")
    fg.language("zh-CN")
    fg.author({"name": name})
    # feedgen takes the RSS channel <link> from the last link added: self first, the page last.
    fg.link(href=public_url("feeds.feed", code=code, fmt=fmt), rel="self")
    fg.link(href=public_url("regions.region_page", code=region["code"]) if region else public_url("home.index"),
            rel="alternate")
    events = list_events(region["code"] if region else None)
    fg.updated(events[0]["when"] if events else clock.now().replace(microsecond=0))
    for e in reversed(events):       # feedgen lists entries in reverse order of adding
        entry = fg.add_entry()
        entry.id(e["id"])
        entry.guid(e["id"], permalink=False)
        entry.title(e["title"])
        entry.link(href=e["url"])
        if e.get("html"):       # a notice: its text as HTML, and a plain summary
            entry.content(e["html"], type="CDATA" if fmt == "rss" else "html")
            entry.description(e["text"], isSummary=True)
        else:
            entry.description(e["text"] or e["title"])
        entry.published(e["when"])
        entry.updated(e["when"])
    return (fg.rss_str(pretty=True) if fmt == "rss" else fg.atom_str(pretty=True)).decode()


@bp.get("/feeds/<code>.<any(rss, atom):fmt>")
@cached_page
def feed(code, fmt):
    region = None if code == "all" else get_region(code)
    if region is not None and region["level"] == "group":
        abort(404)
    mimetype = "application/rss+xml" if fmt == "rss" else "application/atom+xml"
    return current_app.response_class(build_feed(region, fmt), mimetype=mimetype,
                                      headers={"Cache-Control": "public, max-age=300"})
