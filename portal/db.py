"""The only door to SQLite: one connection per request on ``g``, numbered migrations, init-db."""

from __future__ import annotations

import sqlite3

import click
import sqlite_utils
from flask import current_app, g
from flask.cli import with_appcontext
from sqlite_utils.migrations import Migrations

migrations = Migrations("portal")


def connect(path: str) -> sqlite_utils.Database:
    """Open the database with the settings every connection needs."""
    conn = sqlite3.connect(path, timeout=15, check_same_thread=False)
    db = sqlite_utils.Database(conn)
    db.execute("pragma foreign_keys = on")
    db.execute("pragma busy_timeout = 15000")
    if db.journal_mode != "wal":
        db.enable_wal()
    return db


def get_db() -> sqlite_utils.Database:
    if "db" not in g:
        g.db = connect(current_app.config["DATABASE"])
    return g.db


def close_db(exc=None) -> None:
    db = g.pop("db", None)
    if db is not None:
        db.close()


def migrate(db: sqlite_utils.Database) -> list[str]:
    """Apply pending migrations; returns the names applied (empty when up to date)."""
    pending = [m.name for m in migrations.pending(db)]
    migrations.apply(db)
    return pending


def init_app(app) -> None:
    app.teardown_appcontext(close_db)
    app.cli.add_command(init_db_command)
    db = connect(app.config["DATABASE"])
    try:
        migrate(db)
    finally:
        db.close()


@click.command("init-db")
@with_appcontext
def init_db_command():
    """Create or upgrade the schema (safe to run any number of times)."""
    applied = migrate(get_db())
    if applied:
        click.echo("Applied migrations: " + ", ".join(applied))
    else:
        click.echo("Database is up to date.")


# --- Migrations: append new ones at the end; never edit one that has shipped. -----------------


@migrations(name="0001_initial")
def m0001_initial(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        create table regions (
            code text primary key,
            name text not null,
            level text not null check (level in ('county', 'township', 'village', 'group')),
            parent_code text references regions(code),
            check ((level = 'county') = (parent_code is null))
        );
        create index regions_parent on regions(parent_code, code);

        create table campaigns (
            id integer primary key,
            county_code text not null references regions(code),
            name text not null,
            reference_date text not null,
            income_line integer not null check (income_line > 0),
            chain text not null,          -- JSON: [{"level", "name", "days"}, ...]
            scope text not null,          -- JSON: {"dibao_included": bool, "wubao_excluded": bool}
            stop_at_first_misfit integer not null default 0,
            created_at text not null
        );

        create table quotas (
            campaign_id integer not null references campaigns(id),
            region_code text not null references regions(code),
            persons integer not null check (persons >= 0),
            reserve integer not null default 0 check (reserve >= 0),
            primary key (campaign_id, region_code)
        );

        create table households (
            id integer primary key,
            campaign_id integer not null references campaigns(id),
            village_code text not null references regions(code),
            group_code text references regions(code),
            head_name text not null check (length(trim(head_name)) > 0),
            size integer not null check (size >= 1),
            causes text not null default '[]',   -- JSON list of keys of rules.CAUSES
            income_per_capita real not null default 0,
            disabled_member integer not null default 0,
            single_child integer not null default 0,
            all_daughters integer not null default 0,
            applied_on text not null,
            id_hash text,
            id_masked text,
            created_at text not null
        );
        create index households_village on households(campaign_id, village_code);
        create unique index households_id_hash on households(campaign_id, id_hash)
            where id_hash is not null;

        create table votes (
            household_id integer primary key references households(id),
            votes integer not null check (votes >= 0),
            voters_present integer not null check (voters_present >= votes),
            voted_on text
        );

        create table lists (
            id integer primary key,
            campaign_id integer not null references campaigns(id),
            region_code text not null references regions(code),
            level text not null check (level in ('village', 'township', 'county')),
            kind text not null check (kind in ('identify', 'exit', 'remove', 'replace')),
            title text not null,
            approving_body text not null,
            current_version integer not null default 1,
            created_at text not null
        );
        create unique index lists_region on lists(region_code, campaign_id, kind);
        create index lists_campaign_level on lists(campaign_id, level, kind);

        create table list_versions (
            list_id integer not null references lists(id),
            version integer not null check (version >= 1),
            window_start text not null,
            window_end text not null check (window_end >= window_start),
            change_note text not null default '',
            published_at text not null,
            primary key (list_id, version)
        );
        create index list_versions_window on list_versions(window_end, window_start);

        -- Entries are a snapshot of what was published, so an old version reads as it was.
        create table list_entries (
            list_id integer not null,
            version integer not null,
            position integer not null,
            household_id integer not null references households(id),
            village_code text not null references regions(code),
            group_name text not null default '',
            head_name text not null,
            size integer not null,
            causes text not null,
            votes integer,
            voters_present integer,
            mark text not null default '',
            primary key (list_id, version, position),
            foreign key (list_id, version) references list_versions(list_id, version)
        );
        create index list_entries_household on list_entries(household_id);
        """
    )
