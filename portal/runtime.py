"""What the running app hands the layers below it: one database connection per request (on ``g``,
taken from the process's pool and given back at teardown), the keys from the instance folder, the evidence folder, and ``upgrade`` (the
migrations, then the search keys when a migration asks for them). The db layer and the domain know
nothing of Flask; everything above them reaches the app's state through here (and ``portal.clock``).
"""

from __future__ import annotations

from pathlib import Path

import click
import sqlite_utils
from flask import current_app, g
from flask.cli import with_appcontext

from . import clock
from .db import KEYS_STALE, LEDGER_STALE, connect, migrate, write_transaction
from .db.pool import POOL
from .domain import keys, ledger


def get_db() -> sqlite_utils.Database:
    """The request's (or command's) connection, taken from the process's pool (``portal.db.pool``)."""
    if "db" not in g:
        g.db = POOL.take(current_app.config["DATABASE"], read_only=bool(current_app.config.get("READ_ONLY")))
    return g.db


def close_db(exc=None) -> None:
    db = g.pop("db", None)
    if db is not None:
        POOL.give(db, broken=exc is not None)


def upgrade(db: sqlite_utils.Database, key: bytes | None = None, portal_clock=None) -> list[str]:
    """Apply pending migrations, then rebuild the search key tables if a migration (now or in a
    run that died before it got here) asked for it: the rebuild and clearing the mark are one
    transaction. With the instance ``key``, a ledger created by a migration is filled from what
    was published before it (also one transaction with clearing its mark)."""
    applied = migrate(db)
    if next(db.query("select 1 from meta where key = ?", [KEYS_STALE]), None):
        with write_transaction(db):
            keys.rebuild_keys(db)
            db.execute("delete from meta where key = ?", [KEYS_STALE])
    if key and next(db.query("select 1 from meta where key = ?", [LEDGER_STALE]), None):
        with write_transaction(db):
            ledger.backfill(db, key, clock=portal_clock or clock.current())
            db.execute("delete from meta where key = ?", [LEDGER_STALE])
    return applied


def id_key() -> bytes:
    """The instance's key for hashing ID numbers and chaining the audit log."""
    return current_app.config["ID_HASH_KEY"].encode()


def evidence_folder(name: str) -> Path:
    """A folder under ``EVIDENCE_DIR`` (complaint evidence, board photos, uploaded spreadsheets)."""
    path = Path(current_app.config["EVIDENCE_DIR"]) / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def content_dir() -> Path:
    """The guide pages' folder (``CONTENT_DIR``)."""
    return Path(current_app.config["CONTENT_DIR"])


def init_app(app) -> None:
    app.teardown_appcontext(close_db)
    app.cli.add_command(init_db_command)
    if app.config.get("READ_ONLY"):
        return          # a replica: its database is a restored copy of the primary's, never migrated here
    db = connect(app.config["DATABASE"])
    try:
        upgrade(db, app.config["ID_HASH_KEY"].encode(), app.extensions[clock.EXTENSION])
    finally:
        db.close()


@click.command("init-db")
@with_appcontext
def init_db_command():
    """Create or upgrade the schema (safe to run any number of times)."""
    applied = upgrade(get_db(), id_key())
    if applied:
        click.echo("Applied migrations: " + ", ".join(applied))
    else:
        click.echo("Database is up to date.")
