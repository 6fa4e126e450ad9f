"""Inputs from the wire: one number parser, and malformed requests turned into a Chinese 400 page
(issue 17, item 6) rather than a 500 somewhere inside a view.

- ``parse_int`` accepts ASCII digits only (``"²".isdigit()`` and ``"①".isdigit()`` are true, and
  ``int()`` refuses them), of bounded length and value (SQLite integers are 64-bit);
- ``MalformedInput`` (WSGI middleware) marks a request whose query string or path is not UTF-8
  once percent-decoded, and empties them so that nothing downstream trips over them; a
  ``before_request`` hook answers it, a urlencoded form body that is not UTF-8, and a Host header
  the portal does not serve (``PORTAL_HOSTS``, after any trusted proxy's X-Forwarded-Host), with 400.
"""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

from flask import abort, current_app, request

FLAG = "portal.malformed"


def _utf8(raw: str) -> bool:
    """Whether a WSGI string (bytes as latin-1) is UTF-8 once its %-escapes are decoded."""
    try:
        unquote_to_bytes(raw.encode("latin-1").replace(b"+", b" ")).decode("utf-8")
    except (UnicodeDecodeError, UnicodeEncodeError):
        return False
    return True


def host_name(host: str) -> str:
    """A Host header's name without the port, lower-case; IPv6 addresses without their brackets."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:host.find("]")] if "]" in host else ""
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class MalformedInput:
    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        if not _utf8(environ.get("QUERY_STRING", "")) or not _utf8(environ.get("PATH_INFO", "")):
            environ[FLAG] = True
            environ["QUERY_STRING"] = ""
            environ["PATH_INFO"] = "/"
        return self.app(environ, start_response)


def refuse_malformed():
    if request.environ.get(FLAG) or host_name(request.host) not in current_app.config["PORTAL_HOSTS"]:
        abort(400)
    if request.method == "POST" and request.mimetype == "application/x-www-form-urlencoded" \
            and not _utf8(request.get_data(cache=True).decode("latin-1")):
        abort(400)


def init_app(app) -> None:
    app.wsgi_app = MalformedInput(app.wsgi_app)
    # First of all hooks: CSRF and the rate limiter read the form and the query string too.
    app.before_request_funcs.setdefault(None, []).insert(0, refuse_malformed)
