"""The home page, markdown content pages and the health check."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import markdown
import nh3
from flask import Blueprint, abort, current_app, jsonify, render_template
from markupsafe import Markup

from . import clock
from .db import get_db
from .lists import lists_where

bp = Blueprint("home", __name__)

CLOSING_SOON_DAYS = 3
RECENT_DAYS = 30
UPCOMING_DAYS = 14
SECTION_LIMIT = 30


def home_sections(today: dt.date) -> dict[str, list[dict]]:
    """Lists closing soon, open, about to open and recently closed, relative to ``today``."""
    t = today.isoformat()
    soon = (today + dt.timedelta(days=CLOSING_SOON_DAYS - 1)).isoformat()
    upcoming = (today + dt.timedelta(days=UPCOMING_DAYS)).isoformat()
    recent = (today - dt.timedelta(days=RECENT_DAYS)).isoformat()
    return {
        "closing": lists_where(
            "v.window_start <= ? and v.window_end >= ? and v.window_end <= ?",
            [t, t, soon], order="v.window_end, l.id", limit=SECTION_LIMIT,
        ),
        "open": lists_where(
            "v.window_start <= ? and v.window_end > ?",
            [t, soon], order="v.window_end, l.id", limit=SECTION_LIMIT,
        ),
        "upcoming": lists_where(
            "v.window_start > ? and v.window_start <= ?",
            [t, upcoming], order="v.window_start, l.id", limit=SECTION_LIMIT,
        ),
        "closed": lists_where(
            "v.window_end < ? and v.window_end >= ?",
            [t, recent], order="v.window_end desc, l.id", limit=SECTION_LIMIT,
        ),
    }


@bp.get("/")
def index():
    from .notices import published_notices

    counties = list(get_db().query("select code, name from regions where level = 'county' order by code"))
    return render_template("home.html", sections=home_sections(clock.today()), counties=counties,
                           notices=published_notices(limit=5))


def content_dir() -> Path:
    return Path(current_app.config["CONTENT_DIR"])


@dataclasses.dataclass(frozen=True)
class Page:
    slug: str
    title: str
    date: str
    summary: str
    body: Markup


def parse_front_matter(text: str) -> tuple[dict, str]:
    """``---``-fenced ``key: value`` lines at the top of a page, and the markdown after them."""
    if not text.startswith("---\n"):
        return {}, text
    head, sep, body = text[4:].partition("\n---\n")
    if not sep:
        return {}, text
    meta = {}
    for line in head.splitlines():
        key, colon, value = line.partition(":")
        if colon:
            meta[key.strip()] = value.strip()
    return meta, body


def render_markdown(text: str) -> Markup:
    """Markdown to HTML, sanitised with nh3: content pages today, staff-written notices later."""
    clean = nh3.clean(markdown.markdown(text, extensions=["tables"]),
                      tags=nh3.ALLOWED_TAGS | {"table", "thead", "tbody", "tr", "th", "td"})
    # A wide table scrolls inside its own box on a phone, not the whole page (added after cleaning:
    # the wrapper is ours, the text inside it is sanitised).
    return Markup(clean.replace("<table>", TABLE_WRAP + "<table>").replace("</table>", "</table></div>"))


TABLE_WRAP = '<div class="table-wrap" tabindex="0" role="region" aria-label="表格（可左右滑动）">'


def load_page(slug: str) -> Page | None:
    """A markdown page from ``content/`` with its front matter (title, date, summary)."""
    if not slug.replace("-", "").isalnum() or not slug.isascii():
        return None
    path = content_dir() / f"{slug}.md"
    if not path.is_file():
        return None
    meta, body = parse_front_matter(path.read_text(encoding="utf-8"))
    return Page(slug, meta.get("title", slug), meta.get("date", ""), meta.get("summary", ""), render_markdown(body))


def list_pages() -> list[dict]:
    """Slug, title and summary of every content page (front matter only: no bodies rendered)."""
    pages = []
    for path in sorted(content_dir().glob("*.md")):
        meta, _ = parse_front_matter(path.read_text(encoding="utf-8"))
        pages.append({"slug": path.stem, "title": meta.get("title", path.stem), "summary": meta.get("summary", "")})
    return pages


@bp.get("/pages/<slug>")
def page(slug):
    page = load_page(slug)
    if page is None:
        abort(404)
    return render_template("page.html", page=page, others=[p for p in list_pages() if p["slug"] != slug])


@bp.get("/robots.txt")
def robots():
    """Search engines may index guides and region pages, never lists with names or the console."""
    return current_app.response_class("User-agent: *\nDisallow: /lists/\nDisallow: /staff/\n", mimetype="text/plain")


@bp.get("/healthz")
def healthz():
    get_db().execute("select 1").fetchone()
    return jsonify(status="ok")
