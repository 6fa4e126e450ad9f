"""HTTP caching that stays correct as the clock moves: validators (ETag) on every public GET, a short
max-age for pages whose window state changes with the day, nothing stored for forms and the
console, and content-hashed static file names that may be cached for a year."""

from __future__ import annotations

import collections
import functools
import hashlib
import threading
from pathlib import Path

from flask import (
    Blueprint,
    abort,
    current_app,
    make_response,
    redirect,
    request,
    send_from_directory,
    session,
    url_for,
)

from .. import clock
from ..runtime import get_db

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
    """The last ``size`` rendered responses of this process (body, status, headers), least recently
    used first out."""

    def __init__(self, size: int):
        self.size, self.items, self.lock = size, collections.OrderedDict(), threading.Lock()
        self.hits = self.misses = 0

    def get(self, key):
        with self.lock:
            found = self.items.get(key)
            if found is None:
                self.misses += 1
                return None
            self.items.move_to_end(key)
            self.hits += 1
            return found

    def clear(self) -> None:
        """Forget every page (a test that patches the code: in production new code is a new process)."""
        with self.lock:
            self.items.clear()

    def put(self, key, value) -> None:
        with self.lock:
            self.items[key] = value
            self.items.move_to_end(key)
            while len(self.items) > self.size:
                self.items.popitem(last=False)


def page_key() -> tuple:
    """Everything a cacheable public page depends on besides its URL: the page generation (changed by
    a trigger on every write a public page could show, ``migrations_0014.m0018``), the calendar day
    (windows, "N days left"), how many notices have reached their time (scheduled ones appear without
    a write), and the host (absolute URLs in QR codes and feeds when PUBLIC_URL is unset)."""
    db = get_db()
    now = clock.current()
    generation = db.execute("select n from page_generation").fetchone()[0]
    notices = db.execute("select count(*) from notices where publish_at <= ?", [now.local_stamp()]).fetchone()[0]
    return generation, now.today().isoformat(), notices, request.host_url


def cached_page(view):
    """Serve a public GET view from the page cache when nothing it shows can have changed; render it
    (and keep it) otherwise. Pages with a flashed message are never cached."""
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        cache = current_app.extensions.get("page_cache")
        if cache is None or request.method != "GET" or session.get("_flashes"):
            return view(*args, **kwargs)
        key = (request.endpoint, request.full_path, *page_key())
        found = cache.get(key)
        if found is not None:
            body, status, headers = found
            return current_app.response_class(body, status=status, headers=headers)
        response = make_response(view(*args, **kwargs))
        if response.status_code == 200 and not response.is_streamed and not response.direct_passthrough:
            cache.put(key, (response.get_data(), response.status_code, list(response.headers)))
        return response
    return wrapper


def init_app(app) -> None:
    if app.config.get("PAGE_CACHE_SIZE"):
        app.extensions["page_cache"] = PageCache(int(app.config["PAGE_CACHE_SIZE"]))
    app.register_blueprint(bp)
    # Registered after Flask-Compress, so it runs before it: the ETag is taken over the plain body
    # and Flask-Compress marks it per encoding (…:gzip) and answers If-None-Match for those.
    app.after_request(cache_headers)
