"""扶贫对象公示平台: the public publicity portal for rural poverty registration."""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

from flask import Flask, render_template
from flask_compress import Compress
from flask_wtf.csrf import CSRFProtect
from werkzeug.routing import IntegerConverter

PACKAGE = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """``content`` or ``import``: beside the package in a checkout (and an editable install), inside
    it (``portal/_data/<name>``) in an installed wheel. ``PORTAL_CONTENT_DIR``/``PORTAL_IMPORT_DIR``
    point elsewhere."""
    bundled = PACKAGE / "_data" / name
    return bundled if bundled.is_dir() else PACKAGE.parent / name


DEFAULTS = {
    "SITE_NAME": "扶贫对象公示平台",
    "TIME_ZONE": "Asia/Shanghai",
    # How a household head's name shows on public pages: mask (张*明), surname (张**) or full.
    "NAME_DISPLAY": "mask",
    # Retention (README, 保存期限): names on a list are withheld from every public surface this many
    # days after its campaign's county announcement closed; a reporter's name, phone and evidence
    # files are erased this many days after the case was concluded. ``flask retention`` applies them.
    "RETENTION_NAMES_DAYS": 180,
    "RETENTION_REPORTER_DAYS": 180,
    # A read-only replica (README, Replicas): serves the public pages from a copy kept current by
    # ``flask replica`` and sends staff, reports and search to the primary at PRIMARY_URL.
    "READ_ONLY": False,
    # Rendered public pages kept per worker process (0: none); see caching.FrontCache.
    "PAGE_CACHE_SIZE": 512,
    # ... holding at most this many MB of (compressed) bodies; one over a sixteenth of it is not kept.
    "PAGE_CACHE_MB": 64,
    "PRIMARY_URL": None,
    # The Litestream binary (``flask replicate``/``replica``); None: beside Python, or on the PATH.
    "LITESTREAM": None,
    # Household heads' names are Han characters (· between the parts of names like 阿依古丽·买买提);
    # true also accepts Latin letters and single spaces (a county with foreign-born residents).
    "NAME_LATIN": False,
    # What finds a household in /search (always its whole name, never part of it): full (characters,
    # full pinyin or initials), characters (the characters only), off (lists and notices only).
    "NAME_SEARCH": "full",
    # Name lookups per address (each one could be a guess at the character a list hides).
    "NAME_SEARCH_LIMIT_PER_ADDRESS": "30 per 10 minutes; 200 per day",
    # Complaint channels printed on every list and board (the demo county's, from document S0).
    "COMPLAINT_HOTLINE": "0744-5616963",
    "COMPLAINT_EMAIL": "zjjwzr@sina.com",
    "COMPLAINT_ADDRESS": "武陵源区扶贫开发领导小组办公室",
    "NATIONAL_HOTLINE": "12317",
    # Absolute base URL printed in QR codes, e.g. https://gongshi.example.gov.cn; None = this host.
    "PUBLIC_URL": None,
    # The guide pages (markdown) and the import folder (demo data, samples, blank templates).
    "CONTENT_DIR": str(data_dir("content")),
    "IMPORT_DIR": str(data_dir("import")),
    "LOAD_DEMO": True,
    # A fixed ISO timestamp freezes the clock (tests, screenshots); None = real time.
    "NOW": None,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "MAX_CONTENT_LENGTH": 16 * 1024 * 1024,
    # Staff sessions end after this much inactivity (the cookie is re-signed on each request).
    "PERMANENT_SESSION_LIFETIME": 30 * 60,
    "SESSION_REFRESH_EACH_REQUEST": True,
    # ... and at the latest this long after logging in, however active.
    "SESSION_MAX_AGE": 12 * 3600,
    # A form's CSRF token lasts this long (Flask-WTF's default is one hour): a villager who takes
    # longer to write a report must not lose it on 提交. Staff sessions still end as above.
    "WTF_CSRF_TIME_LIMIT": 12 * 3600,
    # Set true behind HTTPS: Secure cookies and HSTS.
    "HTTPS": False,
    # Number of reverse proxies in front whose X-Forwarded-* headers are trusted.
    "PROXY_HOPS": 0,
    # Password guesses (portal/staff/lockout.py): per account and place (device cookie or address), every
    # attempt; per address, failures only; per account, failures from places it never logged in from.
    "LOGIN_LIMIT_PER_ACCOUNT": "5 per 15 minutes",
    "LOGIN_LIMIT_PER_ACCOUNT_SLOW": "20 per day",
    # Reports: tight per list and per household, generous per address (a village may share one).
    "COMPLAINT_LIMIT_PER_HOUSEHOLD": "5 per day",
    "COMPLAINT_LIMIT_PER_LIST": "60 per day",
    "COMPLAINT_LIMIT_PER_ADDRESS": "300 per day",
    "TRACK_LIMIT_PER_ADDRESS": "30 per hour",
    # Days an investigation may take, counted from assignment.
    "COMPLAINT_DUE_DAYS": 5,
    "LOGIN_LIMIT_PER_ADDRESS": "60 per 15 minutes",
    "RATELIMIT_STRATEGY": "moving-window",
    # Flask-Limiter storage; memory:// counts per worker process. Use redis:// with several workers.
    "RATELIMIT_STORAGE_URI": "memory://",
    "RATELIMIT_HEADERS_ENABLED": False,
    "COMPRESS_MIMETYPES": ["text/html", "text/css", "text/csv", "application/json", "image/svg+xml"],
    "COMPRESS_MIN_SIZE": 300,
}

csrf = CSRFProtect()
compress = Compress()


class RowIdConverter(IntegerConverter):
    """A positive integer in ASCII digits, without leading zeros, that fits an SQLite rowid:
    one URL per list, and anything else is a 404, never a 500."""

    regex = r"[1-9][0-9]{0,18}"

    def __init__(self, url_map):
        super().__init__(url_map, min=1, max=2**63 - 1)


def _instance_secret(instance: Path, name: str) -> str:
    """A random secret kept in the instance folder, made on first start and never committed."""
    path = instance / name
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass  # made earlier, or by another worker starting at the same moment
    else:
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
    for _ in range(50):  # another worker may be writing it right now
        value = path.read_text().strip()
        if value:
            return value
        time.sleep(0.01)
    raise RuntimeError(f"{path} is empty: delete it and start again")


LOOPBACK = ["localhost", "127.0.0.1", "::1"]


def trusted_hosts(config) -> list[str]:
    """The Host headers the portal answers (issue 17, item 9); any other gets the 400 page, so a
    forged Host can never reach a QR code, a feed link or a cached page. ``PORTAL_TRUSTED_HOSTS``
    (comma-separated) if set; else the host of ``PORTAL_PUBLIC_URL``; and always loopback, where the
    demo and the tests run. A deployment serving real names must set one of the two."""
    configured = config.get("TRUSTED_HOSTS")
    if isinstance(configured, str):
        configured = [h.strip() for h in configured.split(",") if h.strip()]
    hosts = list(configured or [])
    if config.get("PUBLIC_URL"):
        from urllib.parse import urlsplit

        hosts.append(urlsplit(config["PUBLIC_URL"]).hostname)
    return list(dict.fromkeys(h.lower() for h in [*hosts, *LOOPBACK]))


CHOICES = {"NAME_DISPLAY": ("mask", "surname", "full"), "NAME_SEARCH": ("full", "characters", "off")}


def _check_choices(config) -> None:
    """A setting with a fixed set of values refuses to start with any other (a typo in
    ``PORTAL_NAME_DISPLAY`` must not show full names or crash the first list page)."""
    for name, allowed in CHOICES.items():
        if config.get(name) not in allowed:
            raise RuntimeError(f"PORTAL_{name} must be one of {', '.join(allowed)}, not {config.get(name)!r}")


def create_app(test_config: dict | None = None) -> Flask:
    """Build the portal: defaults, then instance config.py, then PORTAL_* variables, then blueprints."""
    instance = (test_config or {}).get("INSTANCE_PATH") or os.environ.get("PORTAL_INSTANCE")
    app = Flask(__name__, instance_path=str(Path(instance).resolve()) if instance else None,
                instance_relative_config=True)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.config.from_mapping(DEFAULTS, DATABASE=str(Path(app.instance_path) / "portal.db"),
                            EVIDENCE_DIR=str(Path(app.instance_path) / "evidence"))
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_prefixed_env("PORTAL")
    if test_config:
        app.config.from_mapping(test_config)
    # Checked by inputs.refuse_malformed (Flask's own TRUSTED_HOSTS check fails before its error
    # page can be drawn).
    _check_choices(app.config)
    app.config["PORTAL_HOSTS"] = trusted_hosts(app.config)
    app.config["TRUSTED_HOSTS"] = None
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret(Path(app.instance_path), "secret_key")
    if not app.config.get("ID_HASH_KEY"):
        app.config["ID_HASH_KEY"] = _instance_secret(Path(app.instance_path), "id_hash_key")

    from . import clock

    app.extensions[clock.EXTENSION] = clock.from_config(app.config)
    csrf.init_app(app)
    compress.init_app(app)
    app.url_map.converters["id"] = RowIdConverter

    from . import importer, runtime, search, staff
    from .ops import backup, commands, demo, export_static, replica, serving
    from .staff import auth
    from .web import (
        caching,
        complaints,
        feeds,
        home,
        inputs,
        ledger,
        lists,
        notices,
        regions,
        search_page,
        security,
        stats,
        templating,
    )

    runtime.init_app(app)
    security.init_app(app)
    caching.init_app(app)
    templating.init_app(app)
    for blueprint in (home.bp, regions.bp, lists.bp, ledger.bp, complaints.bp, feeds.bp, notices.bp,
                      search_page.bp, stats.bp):
        app.register_blueprint(blueprint)
    auth.init_app(app)
    staff.init_app(app)
    for command in (demo.load_demo_command, commands.verify_log_command, commands.retention_command, importer.import_command,
                    backup.backup_command, backup.restore_command, export_static.export_static_command,
                    search.reindex_command, search.indexer_command, serving.serve_command):
        app.cli.add_command(command)

    replica.init_app(app)
    inputs.init_app(app)     # after CSRF and the limiter: its check runs before theirs
    caching.init_front(app)  # last: the outermost middleware

    for code in (400, 403, 404, 405, 409, 413, 500):
        app.register_error_handler(code, _error_page)

    if app.config["LOAD_DEMO"] and not app.config.get("READ_ONLY"):
        with app.app_context():
            demo.load_demo_if_empty(runtime.get_db())
    return app


def _error_page(error):
    code = getattr(error, "code", 500) or 500
    return render_template("error.html", code=code), code
