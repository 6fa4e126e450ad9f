"""The ``reindex`` and ``indexer`` commands."""

from __future__ import annotations

import os

import click
from flask.cli import with_appcontext

from ..domain.keys import rebuild_keys
from ..runtime import get_db
from .store import indexer_lock, rebuild, run_indexer

# --- Commands ---------------------------------------------------------------------------------


@click.command("reindex")
@click.option("--keys", is_flag=True, help="Also rebuild the name and place key tables in SQLite.")
@with_appcontext
def reindex_command(keys):
    """Rebuild the search index into a new directory and swap it in (the portal keeps serving)."""
    if keys:
        names, places = rebuild_keys(get_db())
        click.echo(f"Name keys: {names}; place keys: {places}.")
    counts = rebuild()
    click.echo("Search index rebuilt: {list} lists, {notice} notices, {page} pages.".format(**counts))


@click.command("indexer")
@click.option("--once", is_flag=True, help="Apply what is pending, then exit.")
@with_appcontext
def indexer_command(once):
    """Run the single search indexer: applies the outbox, rebuilds a missing or corrupt index."""
    with indexer_lock() as mine:
        if not mine:
            click.echo("Another indexer is running for this instance; nothing to do.")
            return
        parent = os.environ.get("PORTAL_INDEXER_PARENT")
        # Started by `serve` or gunicorn: end with the server, even if it was killed outright.
        run_indexer(once=once, stop=(lambda: str(os.getppid()) != parent) if parent else None)
