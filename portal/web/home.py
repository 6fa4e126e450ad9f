"""The home page, the guide pages, robots.txt and the health check."""

from __future__ import annotations

import dataclasses
import datetime as dt

from flask import Blueprint, abort, current_app, jsonify, render_template
from markupsafe import Markup

from .. import clock
from ..domain import pages
from ..domain.notices import published_notices
from ..runtime import content_dir, get_db
from .caching import cached_page
from .lists import closed_since, closing_soon, open_beyond, opening_by

bp = Blueprint("home", __name__)


CLOSING_SOON_DAYS = 3
RECENT_DAYS = 30
UPCOMING_DAYS = 14
SECTION_LIMIT = 30


def home_sections(today: dt.date) -> dict[str, list[dict]]:
    """Lists closing soon, open, about to open and recently closed, relative to ``today``."""
    soon = today + dt.timedelta(days=CLOSING_SOON_DAYS - 1)
    return {
        "closing": closing_soon(today, soon, SECTION_LIMIT),
        "open": open_beyond(today, soon, SECTION_LIMIT),
        "upcoming": opening_by(today, today + dt.timedelta(days=UPCOMING_DAYS), SECTION_LIMIT),
        "closed": closed_since(today, today - dt.timedelta(days=RECENT_DAYS), SECTION_LIMIT),
    }


@bp.get("/")
@cached_page
def index():
    counties = list(get_db().query("select code, name from regions where level = 'county' order by code"))
    return render_template("home.html", sections=home_sections(clock.today()), counties=counties,
                           notices=published_notices(get_db(), clock.local_stamp(), limit=5))


def load_page(slug: str) -> pages.Page | None:
    """A guide page from ``CONTENT_DIR``, its body ready for a template."""
    page = pages.load_page(content_dir(), slug)
    return dataclasses.replace(page, body=Markup(page.body)) if page else None


def list_pages() -> list[dict]:
    return pages.list_pages(content_dir())


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
