"""The only door to SQLite: one connection per request on ``g``, numbered migrations, init-db.

Times are ISO 8601 text, all from the portal's clock: instants (``*_at`` columns, audit rows) in UTC
(``Clock.stamp``); window days (``window_start``/``window_end``) as calendar dates in the portal's
zone; a notice's ``publish_at`` in the portal's zone with its offset (``Clock.local_stamp``).
"""

from __future__ import annotations

import contextlib
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
    if db.execute("pragma page_count").fetchone()[0] == 0:
        # A new file: 16 KiB pages (fixed by the first write). Bulk imports and index builds ran
        # 18 % faster than with 4 KiB (bench/import); rows here are small, lists read many at once.
        db.execute("pragma page_size = 16384")
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


@contextlib.contextmanager
def write_transaction(db: sqlite_utils.Database):
    """A write transaction that takes the write lock at once (BEGIN IMMEDIATE).

    Staff writes read the audit chain's last hash and append to it; taking the lock first means two
    workers can never both read the same last row; and a deferred transaction that reads first and
    writes later fails at once (SQLITE_BUSY, no waiting) when another worker wrote in between.
    Nested inside another transaction it becomes a savepoint.
    """
    if db.conn.in_transaction:
        with db.atomic():
            yield db
        return
    db.conn.execute("begin immediate")
    try:
        yield db
    except BaseException:
        db.conn.rollback()
        raise
    else:
        db.conn.commit()


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


@migrations(name="0002_staff_audit")
def m0002_staff_audit(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        create table users (
            id integer primary key,
            username text not null unique collate nocase,
            display_name text not null,
            role text not null check (role in ('county_admin', 'township_reviewer', 'village_clerk', 'investigator')),
            region_code text not null references regions(code),
            password_hash text not null,
            session_version integer not null default 1,
            active integer not null default 1,
            created_at text not null
        );
        create index users_region on users(region_code);

        -- Append-only: each row carries SHA-256 over its content and the previous row's hash.
        create table audit_log (
            id integer primary key,
            at text not null,
            actor text not null,
            role text not null,
            action text not null,
            object_type text not null,
            object_id text not null,
            region_code text,
            before text,
            after text,
            prev_hash text not null unique,
            hash text not null
        );
        create trigger audit_log_no_update before update on audit_log
            begin select raise(abort, 'audit_log is append-only'); end;
        create trigger audit_log_no_delete before delete on audit_log
            begin select raise(abort, 'audit_log is append-only'); end;
        -- A new row must extend the chain: the next id and the last row's hash (this also stops
        -- INSERT OR REPLACE, which would delete a row without firing the delete trigger).
        create trigger audit_log_extend_only before insert on audit_log
            when new.id != coalesce((select max(id) from audit_log), 0) + 1
              or new.prev_hash != coalesce((select hash from audit_log order by id desc limit 1), printf('%064d', 0))
            begin select raise(abort, 'audit_log rows must extend the chain'); end;

        create table board_photos (
            id integer primary key,
            list_id integer not null references lists(id),
            version integer not null,
            stored_name text not null unique,
            content_type text not null,
            size integer not null,
            sha256 text not null,
            uploaded_by text not null,
            uploaded_at text not null,
            foreign key (list_id, version) references list_versions(list_id, version)
        );

        alter table list_versions add column content_hash text;

        -- Small facts about this database, e.g. that it holds the demo county.
        create table meta (key text primary key, value text not null);
        """
    )
    # A published version is a record: its window, note, hash and entries never change.
    db.executescript(
        """
        create trigger list_versions_no_update before update on list_versions
            begin select raise(abort, 'a published list version cannot be changed'); end;
        create trigger list_entries_no_update before update on list_entries
            begin select raise(abort, 'a published list version cannot be changed'); end;
        -- Nor is it deleted, except while load-demo --reset empties a demo database.
        create trigger list_versions_no_delete before delete on list_versions
            when not exists (select 1 from meta where key = 'resetting')
            begin select raise(abort, 'a published list version cannot be deleted'); end;
        create trigger list_entries_no_delete before delete on list_entries
            when not exists (select 1 from meta where key = 'resetting')
            begin select raise(abort, 'a published list version cannot be deleted'); end;
        """
    )


@migrations(name="0003_disqualifications")
def m0003_disqualifications(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        -- A household that lost its place (取消资格), with the ground; at most once per household.
        create table disqualifications (
            id integer primary key,
            household_id integer not null unique references households(id),
            list_id integer not null references lists(id),
            ground text not null check (length(trim(ground)) > 0),
            complaint_id integer,
            decided_by text not null,
            decided_at text not null
        );
        """
    )


@migrations(name="0004_complaints")
def m0004_complaints(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        create table complaints (
            id integer primary key,
            receipt_hash text not null unique,       -- HMAC of the receipt code; the code itself is never stored
            list_id integer references lists(id),
            list_version integer,
            household_id integer references households(id),
            handler_region text not null references regions(code),
            ground text not null,
            text text not null,
            about_committee integer not null default 0,
            anonymous integer not null default 1,
            reporter_name text,
            reporter_phone text,
            channel text not null default 'online' check (channel in ('online', 'phone', 'letter', 'meeting')),
            operator text,
            within_window integer not null default 0,
            status text not null default 'received' check (status in ('received', 'investigating', 'concluded')),
            investigator_id integer references users(id),
            due_on text,
            outcome text check (outcome in ('upheld', 'partly', 'dismissed')),
            findings text,
            public_reply text,
            resolved_household_id integer references households(id),  -- the 递补 removal or 补录 addition it led to
            filed_at text not null,
            concluded_at text
        );
        create index complaints_list on complaints(list_id, status);
        create index complaints_handler on complaints(handler_region, status);

        -- What the reporter added later, and each staff step, in order.
        create table complaint_events (
            id integer primary key,
            complaint_id integer not null references complaints(id),
            at text not null,
            actor text not null,
            kind text not null,
            text text not null default ''
        );
        create index complaint_events_complaint on complaint_events(complaint_id, id);

        create table complaint_files (
            id integer primary key,
            complaint_id integer not null references complaints(id),
            stored_name text not null unique,
            content_type text not null,
            size integer not null,
            sha256 text not null,
            added_at text not null
        );
        """
    )


@migrations(name="0005_notices")
def m0005_notices(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        -- 公告 written by staff in markdown; public from publish_at on (a scheduled time, ISO 8601 in the
        -- portal's zone, e.g. 2026-11-22T09:00:00+08:00: compared as text with the clock's local_stamp).
        create table notices (
            id integer primary key,
            region_code text not null references regions(code),
            title text not null check (length(trim(title)) > 0),
            body text not null,
            publish_at text not null,
            author text not null,
            created_at text not null,
            updated_at text not null
        );
        create index notices_publish on notices(publish_at, region_code);
        """
    )


@migrations(name="0006_search")
def m0006_search(db: sqlite_utils.Database) -> None:
    from . import search

    db.executescript(
        """
        -- Documents the search indexer must (re)write; written in the publication's transaction.
        create table search_outbox (
            id integer primary key autoincrement,
            doc text not null,        -- list:<id>, notice:<id>, pages or all
            at text not null
        );
        -- Name keys (characters, full pinyin, initials; every suffix) of households on published lists.
        create table search_names (
            key text not null,
            household_id integer not null,
            primary key (key, household_id)
        ) without rowid;
        create table search_places (
            key text not null,
            code text not null,
            primary key (key, code)
        ) without rowid;
        """
    )
    search.rebuild_keys(db)
    # No outbox row is needed for the documents: no index existed before this migration, and the
    # indexer builds a missing index from the whole database when it starts.


@migrations(name="0007_lookup_indexes")
def m0007_lookup_indexes(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        -- Found missing at province scale (bench/make_province, bench/serve): each was a full scan.
        create index quotas_region on quotas(region_code, campaign_id);
        create index regions_level on regions(level, code);
        create index households_village_only on households(village_code);
        create index list_versions_start on list_versions(window_start);
        """
    )


@migrations(name="0008_rankings")
def m0008_rankings(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        -- The ranking of record (票决): every applicant of a village as ranked when its first list was
        -- published, with what the rule ranked by. 依次递补 walks this, not the households as edited
        -- later, and an applicant entered after publication is not in it (DOMAIN §11 rules 4, 8).
        create table rankings (
            list_id integer not null references lists(id),
            rank integer not null,
            household_id integer not null references households(id),
            size integer not null,
            votes integer not null,
            priority_count integer not null,
            income_per_capita real not null,
            applied_on text not null,
            primary key (list_id, rank),
            unique (list_id, household_id)
        );
        create index rankings_household on rankings(household_id);
        create trigger rankings_no_update before update on rankings
            begin select raise(abort, 'a published ranking cannot be changed'); end;
        create trigger rankings_no_delete before delete on rankings
            when not exists (select 1 from meta where key = 'resetting')
            begin select raise(abort, 'a published ranking cannot be deleted'); end;

        -- Lists published before this migration: their villages' applicants as they stand now.
        insert into rankings (list_id, rank, household_id, size, votes, priority_count, income_per_capita, applied_on)
        select l.id,
               row_number() over (partition by l.id order by v.votes desc,
                   h.disabled_member + h.single_child + h.all_daughters desc, h.income_per_capita, h.applied_on, h.id),
               h.id, h.size, v.votes, h.disabled_member + h.single_child + h.all_daughters, h.income_per_capita,
               h.applied_on
        from lists l
        join households h on h.campaign_id = l.campaign_id and h.village_code = l.region_code
        join votes v on v.household_id = h.id
        where l.level = 'village' and l.kind = 'identify';
        """
    )


@migrations(name="0009_row_windows")
def m0009_row_windows(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        -- A household added by an amendment (递补, 补录) is publicised in a window of its own, carried by
        -- later versions; the list keeps its window. NULL: the row is under the list's window.
        alter table list_entries add column window_start text;
        alter table list_entries add column window_end text;
        -- The latest such row window of a version (NULL when it has none): the version is open for
        -- objections until max(window_end, rows_until).
        alter table list_versions add column rows_from text;
        alter table list_versions add column rows_until text;
        """
    )


@migrations(name="0010_row_refs")
def m0010_row_refs(db: sqlite_utils.Database) -> None:
    """Each household keeps one row number (序号) on a list across its versions: anchors (#p3),
    举报 links (entry=3) and search results made from version 1 still point at the same household.
    Rows published before this migration get the numbers they would have had: a household's
    position when it first appeared, later arrivals numbered after the list's highest so far."""
    db.execute("alter table list_entries add column row_ref integer")
    db.execute("drop trigger list_entries_no_update")
    for (list_id,) in db.execute("select id from lists order by id").fetchall():
        refs: dict[int, int] = {}
        for version, position, household in db.execute(
                "select version, position, household_id from list_entries where list_id = ? order by version, position",
                [list_id]).fetchall():
            if household not in refs:
                refs[household] = position if version == 1 else max(refs.values(), default=0) + 1
            db.execute("update list_entries set row_ref = ? where list_id = ? and version = ? and position = ?",
                       [refs[household], list_id, version, position])
    db.executescript(
        """
        create trigger list_entries_no_update before update on list_entries
            begin select raise(abort, 'a published list version cannot be changed'); end;
        create index list_entries_ref on list_entries(list_id, version, row_ref);
        """
    )


@migrations(name="0011_scope_flags")
def m0011_scope_flags(db: sqlite_utils.Database) -> None:
    """低保/五保 as civil affairs registered them, on each household and in the ranking of record, so
    a campaign's scope rules can be applied (issue 16, item 12); the 低保 rule becomes three-way."""
    db.executescript(
        """
        alter table households add column dibao integer not null default 0 check (dibao in (0, 1));
        alter table households add column wubao integer not null default 0 check (wubao in (0, 1));
        alter table rankings add column dibao integer not null default 0;
        alter table rankings add column wubao integer not null default 0;
        update campaigns set scope = json_object(
            'dibao', case when json_extract(scope, '$.dibao_included') then 'included' else 'excluded' end,
            'wubao_excluded', json(case when json_extract(scope, '$.wubao_excluded') then 'true' else 'false' end))
        where json_extract(scope, '$.dibao') is null;
        """
    )


@migrations(name="0012_failed_logins")
def m0012_failed_logins(db: sqlite_utils.Database) -> None:
    """Wrong passwords since the owner's last login, so the next login can tell them (issue 17, item 4)."""
    db.executescript(
        """
        alter table users add column failed_logins integer not null default 0;
        alter table users add column last_failed_at text;
        """
    )


@migrations(name="0013_whole_name_keys")
def m0013_whole_name_keys(db: sqlite_utils.Database) -> None:
    """Name keys for the whole name only (issue 17, item 8): drop the suffix keys of 0006, with which
    张建 found 张建国 and gave away the character the list hides."""
    from . import search

    search.rebuild_keys(db)
