"""The home page, markdown content pages and the health check."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import markdown
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
    counties = list(get_db().query("select code, name from regions where level = 'county' order by code"))
    return render_template("home.html", sections=home_sections(clock.today()), counties=counties)


def content_dir() -> Path:
    return Path(current_app.config["CONTENT_DIR"])


def load_page(slug: str) -> tuple[str, Markup] | None:
    """A markdown page from ``content/``: its first heading as title, the rest as HTML."""
    if not slug.replace("-", "").isalnum() or not slug.isascii():
        return None
    path = content_dir() / f"{slug}.md"
    if not path.is_file():
        return None
    text = path.read_text(encoding="utf-8")
    first, _, rest = text.partition("\n")
    title = first.lstrip("# ").strip()
    # Content pages are written by the team and reviewed in git, not by the public.
    return title, Markup(markdown.markdown(rest, extensions=["tables"]))


@bp.get("/pages/<slug>")
def page(slug):
    loaded = load_page(slug)
    if loaded is None:
        abort(404)
    title, body = loaded
    return render_template("page.html", title=title, body=body)


@bp.get("/robots.txt")
def robots():
    """Search engines may index guides and region pages, never lists with names or the console."""
    return current_app.response_class("User-agent: *\nDisallow: /lists/\nDisallow: /staff/\n", mimetype="text/plain")


@bp.get("/healthz")
def healthz():
    get_db().execute("select 1").fetchone()
    return jsonify(status="ok")
