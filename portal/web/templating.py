"""Template filters and globals shared by every page: dates in Chinese, settings, the stylesheet."""

from __future__ import annotations

import datetime as dt

from flask import current_app
from markupsafe import Markup

from .. import clock
from ..domain import audit, pages, rules
from ..runtime import get_db
from .caching import static_url


def _local(value) -> dt.date | dt.datetime:
    """A date as is; a timestamp (ISO text or datetime) converted to the portal's zone."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value) if len(value) > 10 else dt.date.fromisoformat(value)
    if isinstance(value, dt.datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
        return aware.astimezone(clock.zone())
    return value


def cn_date(value) -> str:
    """2026-11-23 (or a UTC timestamp, shown in Asia/Shanghai) → 2026年11月23日."""
    if not value:
        return ""
    value = _local(value)
    return f"{value.year}年{value.month}月{value.day}日"


def cn_datetime(value) -> str:
    """A UTC timestamp → 2026年11月23日 10:05 in the portal's zone."""
    if not value:
        return ""
    value = _local(value)
    return f"{value.year}年{value.month}月{value.day}日 {value:%H:%M}"


def short_hash(value) -> str:
    """The first 16 hex digits of a content hash in groups of four, easy to compare by eye."""
    value = (value or "")[:16]
    return " ".join(value[i:i + 4] for i in range(0, len(value), 4))


def _demo_since() -> str | None:
    """When this database holds the demo county, the day it was loaded (for the banner)."""
    row = next(get_db().query("select value from meta where key = 'demo'"), None)
    return row["value"] if row else None


def window_state(window):
    """A list window's state today (Asia/Shanghai), for templates given a bare window."""
    return rules.window_state(window, clock.today())


def init_app(app) -> None:
    app.jinja_env.filters["window_state"] = window_state
    app.jinja_env.filters["cn_date"] = cn_date
    app.jinja_env.filters["cn_datetime"] = cn_datetime
    app.jinja_env.filters["short_hash"] = short_hash
    app.jinja_env.filters["action_name"] = audit.action_name
    app.jinja_env.filters["object_name"] = audit.object_name
    app.jinja_env.globals["static_url"] = static_url
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True

    @app.context_processor
    def settings():
        c = current_app.config
        return {
            "site_name": c["SITE_NAME"],
            "demo_since": _demo_since(),
            "channels": {
                "hotline": c["COMPLAINT_HOTLINE"],
                "email": c["COMPLAINT_EMAIL"],
                "address": c["COMPLAINT_ADDRESS"],
                "national": c["NATIONAL_HOTLINE"],
            },
        }


def render_markdown(text: str) -> Markup:
    """Markdown to sanitised HTML (``domain.pages``), marked safe for templates."""
    return Markup(pages.render_markdown(text))
