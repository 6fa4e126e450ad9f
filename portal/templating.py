"""Template filters and globals shared by every page: dates in Chinese, settings, the stylesheet."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

from flask import current_app, url_for


def cn_date(value) -> str:
    """2026-11-23 → 2026年11月23日."""
    if not value:
        return ""
    if isinstance(value, str):
        value = dt.date.fromisoformat(value[:10])
    return f"{value.year}年{value.month}月{value.day}日"


def static_url(filename: str) -> str:
    """URL of a static file with a content hash in the query, so browsers may cache it for long."""
    cache = current_app.extensions.setdefault("static_hashes", {})
    if filename not in cache:
        path = Path(current_app.static_folder) / filename
        cache[filename] = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    return url_for("static", filename=filename, v=cache[filename])


def init_app(app) -> None:
    app.jinja_env.filters["cn_date"] = cn_date
    app.jinja_env.globals["static_url"] = static_url
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True

    @app.context_processor
    def settings():
        c = current_app.config
        return {
            "site_name": c["SITE_NAME"],
            "channels": {
                "hotline": c["COMPLAINT_HOTLINE"],
                "email": c["COMPLAINT_EMAIL"],
                "address": c["COMPLAINT_ADDRESS"],
                "national": c["NATIONAL_HOTLINE"],
            },
        }
