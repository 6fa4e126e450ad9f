"""HTTP caching that stays correct as the clock moves: validators (ETag) on every public GET, a short
max-age for pages whose window state changes with the day, nothing stored for forms and the
console, and content-hashed static file names that may be cached for a year."""

from __future__ import annotations

import hashlib
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


def init_app(app) -> None:
    app.register_blueprint(bp)
    # Registered after Flask-Compress, so it runs before it: the ETag is taken over the plain body
    # and Flask-Compress marks it per encoding (…:gzip) and answers If-None-Match for those.
    app.after_request(cache_headers)
