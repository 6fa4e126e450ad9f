"""Security defaults for every response: headers, CSP, cookies, rate limits, CSRF errors."""

from __future__ import annotations

import threading

from flask import render_template
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFError
from limits import parse as parse_limit
from werkzeug.middleware.proxy_fix import ProxyFix

limiter = Limiter(key_func=get_remote_address)

# The counters the portal keeps by hand (logins, reports, receipt codes, name lookups) go through
# these three functions, one at a time per process: the limits package's in-memory storage checks
# its expiry timer with Thread.is_alive(), which on Python 3.11 raised "release unlocked lock" when
# two request threads did it at once (seen in CI under the threaded test server).
_counters = threading.Lock()


def _item(limit):
    return parse_limit(limit) if isinstance(limit, str) else limit


def hit(limit, key: str) -> bool:
    """Count one against ``limit`` (a string like "5 per day" or a parsed item); False once used up."""
    with _counters:
        return limiter.limiter.hit(_item(limit), key)


def test(limit, key: str) -> bool:
    """Whether ``limit`` still has room for ``key``, without counting."""
    with _counters:
        return limiter.limiter.test(_item(limit), key)


def clear(limit, key: str) -> None:
    with _counters:
        limiter.limiter.clear(_item(limit), key)

# No inline scripts or styles anywhere: the portal needs no JavaScript at all.
CSP = ("default-src 'self'; script-src 'none'; style-src 'self'; img-src 'self' data:; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")

HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


def init_app(app) -> None:
    if app.config.get("HTTPS"):
        app.config["SESSION_COOKIE_SECURE"] = True
        app.config["REMEMBER_COOKIE_SECURE"] = True
    hops = int(app.config.get("PROXY_HOPS") or 0)
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    limiter.init_app(app)

    @app.after_request
    def security_headers(response):
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        if app.config.get("HTTPS"):
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response

    @app.errorhandler(CSRFError)
    def csrf_error(error):
        return render_template("error.html", code=400,
                               message="页面已过期或来源不明，没有保存。请返回上一页，刷新后重新提交。"), 400

    @app.errorhandler(429)
    def too_many(error):
        return render_template("error.html", code=429,
                               message=getattr(error, "message", None) or "尝试次数太多，请过一会儿再试。"), 429
