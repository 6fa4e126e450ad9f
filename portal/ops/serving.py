"""Running the portal: ``flask serve`` starts the web server together with its one search indexer."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

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
