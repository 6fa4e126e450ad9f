"""HTTP caching that stays correct as the clock moves: validators (ETag) on every public GET, a short
max-age for pages whose window state changes with the day, nothing stored for forms and the
console, and content-hashed static file names that may be cached for a year."""

from __future__ import annotations

import collections
import functools
import hashlib
import os
import sqlite3
import threading
from pathlib import Path

from flask import (
    Blueprint,
    abort,
    current_app,
    redirect,
    request,
    send_from_directory,
    url_for,
)

from .. import clock
from ..db import connect
from ..db.pool import file_identity

bp = Blueprint("assets", __name__)

YEAR = 365 * 24 * 3600
# Public pages show "N days left" and complaint counts: a minute of staleness at most.
PAGE_MAX_AGE = 60
FEED_MAX_AGE = 300
PRIVATE_PREFIXES = ("/staff", "/complaints")


def asset_hash(filename: str) -> str:
    """The first 12 hex digits of a static file's SHA-256, remembered per process."""
    cache = current_app.extensions.setdefault("static_hashes", {})
    if filename not in cache:
        path = Path(current_app.static_folder) / filename
        cache[filename] = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    return cache[filename]


def static_url(filename: str) -> str:
    """``/assets/portal.3f2a9c1d0b7e.css``: the name changes whenever the content does."""
    stem, dot, ext = filename.rpartition(".")
    return url_for("assets.asset", name=f"{stem}.{asset_hash(filename)}.{ext}")


@bp.get("/assets/<name>")
def asset(name):
    stem, _, rest = name.partition(".")
    digest, _, ext = rest.partition(".")
    filename = f"{stem}.{ext}"
    if "/" in filename or not (Path(current_app.static_folder) / filename).is_file():
        abort(404)
    if digest != asset_hash(filename):
        # A page cached from before a deployment: send it to the current file.
        return redirect(static_url(filename), 302)
    response = send_from_directory(current_app.static_folder, filename, max_age=YEAR)
    response.cache_control.immutable = True
    response.cache_control.public = True
    return response


def cache_headers(response):
    if "Cache-Control" in response.headers and request.endpoint == "assets.asset":
        return response
    private = request.path.startswith(PRIVATE_PREFIXES) or request.method not in ("GET", "HEAD")
    if private or response.status_code != 200 or "Set-Cookie" in response.headers:
        response.headers["Cache-Control"] = "no-store" if private else "no-cache"
        return response
    response.cache_control.public = True
    response.cache_control.max_age = FEED_MAX_AGE if request.path.startswith("/feeds/") else PAGE_MAX_AGE
    if not response.is_streamed and not response.direct_passthrough:
        response.add_etag()
        response.make_conditional(request)
    return response


# --- Rendered pages, cached under the page generation -------------------------------------------

class PageCache:
    """The last ``size`` responses of this process, least recently used first out, holding at most
    ``max_bytes`` of bodies; a body over a sixteenth of that (a county list's CSV) is not kept."""

    def __init__(self, size: int, max_bytes: int = 64 * 1024 * 1024):
        self.size, self.max_bytes, self.items, self.lock = size, max_bytes, collections.OrderedDict(), threading.Lock()
        self.bytes = self.hits = self.misses = 0

    def get(self, key):
        with self.lock:
            found = self.items.get(key)
            if found is None:
                self.misses += 1
                return None
            self.items.move_to_end(key)
            self.hits += 1
            return found[0]

    def clear(self) -> None:
        """Forget every page (a test that patches the code: in production new code is a new process)."""
        with self.lock:
            self.items.clear()
            self.bytes = 0

    def put(self, key, value, nbytes: int = 0) -> bool:
        if nbytes > self.max_bytes // 16:
            return False
        with self.lock:
            old = self.items.pop(key, None)
            self.bytes += nbytes - (old[1] if old else 0)
            self.items[key] = (value, nbytes)
            while len(self.items) > self.size or self.bytes > self.max_bytes:
                _, (_, gone) = self.items.popitem(last=False)
                self.bytes -= gone
        return True


CACHEABLE = "portal.page_cacheable"


def cached_page(view):
    """Mark a public GET view's response as one the page cache (``FrontCache``) may keep: it depends
    only on the request line, the host, the accepted encodings and ``page_state``."""
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        request.environ[CACHEABLE] = True
        return view(*args, **kwargs)
    return wrapper


def page_state(db, stamp: str) -> tuple:
    """What a cacheable public page depends on besides the request and the day, at ``stamp`` (now in
    the portal's zone): the page generation (changed by a trigger on every write a public page could
    show, ``migrations_0014.m0018``) and the newest notice whose time has come — with no write, the set
    of due notices only grows, by notices scheduled after the last one due — and the next scheduled
    notice's time, until which that stays so. Index probes only (a count walked every notice)."""
    return db.execute(
        "select (select n from page_generation), "
        "(select publish_at from notices where publish_at <= ? order by publish_at desc limit 1), "
        "(select publish_at from notices where publish_at > ? order by publish_at limit 1)", [stamp, stamp]).fetchone()


class PageState:
    """``page_state`` for this process, read again only when it may have changed: on a connection
    of its own, whose ``pragma data_version`` changes whenever any other connection, in any process,
    commits; and not past the next scheduled notice's time. The connection is opened again when the
    database file is another (a replica swaps in a restored copy) and in a forked child (which never
    uses or closes its parent's)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.db = self.ident = self.pid = self.memo = None
        self.inherited = []

    def read(self, path: str, read_only: bool, portal_clock) -> tuple:
        ident = file_identity(path, read_only)
        now = portal_clock.now()
        stamp = now.isoformat(timespec="seconds")
        with self.lock:
            if self.db is None or self.ident != ident or self.pid != os.getpid():
                if self.db is not None and self.pid == os.getpid():
                    self.db.close()
                elif self.db is not None:
                    self.inherited.append(self.db)
                self.db, self.ident, self.pid, self.memo = connect(path, read_only=read_only), ident, os.getpid(), None
            version = self.db.execute("pragma data_version").fetchone()[0]
            memo = self.memo
            if (memo is None or memo[0] != version or (memo[2] is not None and stamp < memo[2])    # clock set back
                    or (memo[3] is not None and stamp >= memo[3])):
                memo = self.memo = (version, *page_state(self.db, stamp))
        # The file's identity too: a replica's restored copy may come from a primary that was itself
        # restored, where the same generation number may mean other rows.
        return ident, memo[1], now.date().isoformat(), memo[2]


#: Request headers that make the answer differ from the stored 200 (conditional or partial requests:
#: Flask answers those itself, from the same rendering).
_CONDITIONAL = ("HTTP_IF_NONE_MATCH", "HTTP_IF_MODIFIED_SINCE", "HTTP_IF_MATCH", "HTTP_IF_UNMODIFIED_SINCE",
                "HTTP_RANGE", "HTTP_IF_RANGE")
#: What of the request goes into the key as it arrives, before any middleware: the path, query,
#: scheme and host (and the proxy headers that may rewrite them), and the accepted encodings.
_KEYED = ("SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "wsgi.url_scheme", "HTTP_HOST", "SERVER_NAME",
          "SERVER_PORT", "HTTP_X_FORWARDED_HOST", "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_PORT",
          "HTTP_X_FORWARDED_PREFIX", "HTTP_ACCEPT_ENCODING")


class FrontCache:
    """WSGI middleware outside the whole app (issue 22, item 1): a GET without a session cookie whose
    request, as it arrived, was answered with a cacheable 200 (``cached_page``, no cookie set) under
    the same ``page_state`` gets the same status, headers and (compressed) body again, without Flask.

    Correct by construction: the key holds every input such a page reads — the request fields of
    ``_KEYED`` and ``page_state`` — and the state is read *before* the page is rendered, so a write
    during rendering can only make the kept page newer than its key, never older. Requests with a
    session cookie (flashed messages, staff) and conditional ones go to Flask every time.

    ``page_state`` is read through ``PageState`` (only when something may have changed); the
    database file's identity is in the key as well."""

    def __init__(self, wsgi_app, flask_app):
        self.wsgi_app, self.flask_app = wsgi_app, flask_app
        self.cookie = flask_app.config.get("SESSION_COOKIE_NAME") or "session"
        self.state = PageState()

    def _state(self) -> tuple:
        config = self.flask_app.config
        return self.state.read(config["DATABASE"], bool(config.get("READ_ONLY")),
                               self.flask_app.extensions[clock.EXTENSION])

    def __call__(self, environ, start_response):
        cache = self.flask_app.extensions.get("page_cache")
        cookie = environ.get("HTTP_COOKIE", "")
        if (cache is None or environ.get("REQUEST_METHOD") != "GET" or self.cookie in cookie
                or any(h in environ for h in _CONDITIONAL)):
            return self.wsgi_app(environ, start_response)
        try:
            key = (*(environ.get(h) for h in _KEYED), *self._state())
        except (OSError, sqlite3.Error):
            return self.wsgi_app(environ, start_response)   # no database yet: Flask shows the error page
        found = cache.get(key)
        if found is not None:
            status, headers, body = found
            start_response(status, list(headers))
            return [body]
        seen = {}

        def remember(status, headers, exc_info=None):
            seen.update(status=status, headers=headers)
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        result = self.wsgi_app(environ, remember)
        headers = seen.get("headers") or []
        if not (environ.get(CACHEABLE) and seen.get("status", "").startswith("200 ")
                and not any(name.lower() == "set-cookie" for name, _ in headers)):
            return result
        try:
            body = b"".join(result)
        finally:
            if hasattr(result, "close"):
                result.close()
        cache.put(key, (seen["status"], list(headers), body), len(body))
        return [body]


def init_app(app) -> None:
    if app.config.get("PAGE_CACHE_SIZE"):
        app.extensions["page_cache"] = PageCache(int(app.config["PAGE_CACHE_SIZE"]),
                                                 int(app.config["PAGE_CACHE_MB"]) * 1024 * 1024)
    app.register_blueprint(bp)
    # Registered after Flask-Compress, so it runs before it: the ETag is taken over the plain body
    # and Flask-Compress marks it per encoding (…:gzip) and answers If-None-Match for those.
    app.after_request(cache_headers)


def init_front(app) -> None:
    """Put the page cache outside every other middleware, so that it keys the request as it arrived."""
    app.wsgi_app = FrontCache(app.wsgi_app, app)
