"""Running the portal: ``flask serve`` starts the web server together with its one search indexer."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time

import click
from flask import current_app
from flask.cli import with_appcontext
from werkzeug.serving import run_simple


def start_indexer() -> subprocess.Popen:
    """The search indexer as a child process with the same instance and settings."""
    env = {**os.environ, "PORTAL_INSTANCE": current_app.instance_path, "PORTAL_INDEXER_PARENT": str(os.getpid())}
    return subprocess.Popen([sys.executable, "-m", "flask", "--app", "portal", "indexer"], env=env)


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True)
@with_appcontext
def serve_command(host, port):
    """Run the development server and the search indexer (use gunicorn in production, see README)."""
    indexer = start_indexer()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))    # so that `finally` stops the indexer
    try:
        run_simple(host, port, current_app._get_current_object(), threaded=True)
    finally:
        indexer.terminate()
        indexer.wait(timeout=10)


class BodyDeadline:
    """WSGI middleware for gunicorn: read a request's body (up to ``max_length``; a larger one is left
    to the app, which refuses it with 413 without reading) within ``seconds`` in all, or answer 408.
    The deadline is set on gunicorn's client socket before each read (under gevent the wait yields to
    other greenlets); the body then reaches the app from memory, so the app never waits on a client."""

    MESSAGE = "请求内容迟迟没有传完，已断开。网络不好时请稍后再试。".encode()

    def __init__(self, app, seconds: float, max_length: int = 16 * 1024 * 1024):
        self.app, self.seconds, self.max_length = app, seconds, max_length

    def __call__(self, environ, start_response):
        # Under gevent (time patched) this lets every other ready connection run first: a greenlet
        # never yields while it computes, and without this a few busy keep-alive connections were
        # served again and again while others waited seconds (p90 587 ms where sync had 27 ms).
        time.sleep(0)
        raw = environ.get("CONTENT_LENGTH") or "0"
        length = int(raw) if raw.isdigit() else 0
        if 0 < length <= self.max_length:
            body = self._read(environ, length)
            if body is None:
                start_response("408 Request Timeout", [("Content-Type", "text/plain; charset=utf-8"),
                                                       ("Connection", "close")])
                return [self.MESSAGE]
            environ["wsgi.input"] = io.BytesIO(body)
        return self.app(environ, start_response)

    def _read(self, environ, length: int) -> bytes | None:
        sock = environ.get("gunicorn.socket")
        before = sock.gettimeout() if sock else None
        deadline = time.monotonic() + self.seconds
        chunks, left = [], length
        try:
            while left:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                if sock:
                    sock.settimeout(remaining)
                chunk = environ["wsgi.input"].read(min(left, 65536))
                if not chunk:
                    break
                chunks.append(chunk)
                left -= len(chunk)
        except OSError:         # the deadline passed (socket.timeout), or the client went away
            return None
        finally:
            if sock:
                sock.settimeout(before)
        return b"".join(chunks)
