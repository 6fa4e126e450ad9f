"""Migrations 0014 onwards: dynamic management (issue 20) — the re-entry list kind, campaigns that
follow one another, adjustments (剔除, 脱贫退出, 返贫/错退) and spot checks (抽查复核); then the public
ledger and retention marks (issue 21). Append new ones at the end of this file."""

from __future__ import annotations

import sqlite_utils

from .migrations import migrations

LIST_KINDS = "('identify', 'exit', 'remove', 'replace', 'reenter')"


@migrations(name="0014_reenter_kind", transactional=False)
def m0014_reenter_kind(db: sqlite_utils.Database) -> None:
    """Lists of kind ``reenter`` (返贫/错退纳入). SQLite cannot change a CHECK constraint in place, so
    ``lists`` is rebuilt (the documented twelve steps: foreign keys off, copy, swap, check, on),
    in a transaction of its own; it runs again harmlessly if the process died before it was recorded."""
    sql = db.execute("select sql from sqlite_master where type = 'table' and name = 'lists'").fetchone()[0]
    if "'reenter'" in sql:
        return
    db.execute("pragma foreign_keys = off")
    try:
        db.conn.execute("begin immediate")
        try:
            db.conn.execute(f"""
                create table lists_new (
                    id integer primary key,
                    campaign_id integer not null references campaigns(id),
                    region_code text not null references regions(code),
                    level text not null check (level in ('village', 'township', 'county')),
                    kind text not null check (kind in {LIST_KINDS}),
                    title text not null,
                    approving_body text not null,
                    current_version integer not null default 1,
                    created_at text not null
                )""")
            db.conn.execute("insert into lists_new select id, campaign_id, region_code, level, kind, title, "
                            "approving_body, current_version, created_at from lists")
            db.conn.execute("drop table lists")
            db.conn.execute("alter table lists_new rename to lists")
            db.conn.execute("create unique index lists_region on lists(region_code, campaign_id, kind)")
            db.conn.execute("create index lists_campaign_level on lists(campaign_id, level, kind)")
            broken = db.conn.execute("pragma foreign_key_check").fetchall()
            if broken:
                raise RuntimeError(f"foreign keys broken by the rebuild of lists: {broken[:5]}")
        except BaseException:
            db.conn.rollback()
            raise
        db.conn.commit()
    finally:
        db.execute("pragma foreign_keys = on")


@migrations(name="0015_dynamic_management")
def m0015_dynamic_management(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        -- The round a campaign follows (动态调整: the register carries over); publicity chains per list
        -- kind (JSON {kind: chain}, a kind not named uses ``chain``); spot-check rates in percent by
        -- the level that checks (JSON {"township": 20, "county": 5}). Campaigns made before rule 12
        -- came to the portal keep '{}': no spot check was asked of them.
        alter table campaigns add column previous_id integer references campaigns(id);
        alter table campaigns add column chains text not null default '{}';
        alter table campaigns add column sampling text not null default '{}';

        -- A proposal to change the register (剔除, 脱贫退出, 返贫/错退) and its steps. It reaches a list of
        -- its kind once ready; the register itself follows from the lists whose last level has closed.
        create table adjustments (
            id integer primary key,
            campaign_id integer not null references campaigns(id),
            household_id integer not null references households(id),
            village_code text not null references regions(code),
            kind text not null check (kind in ('exit', 'remove', 'reenter')),
            ground text not null default '',          -- 剔除: a ground key; 返贫/错退: returned, wrong_exit, continued
            finding text not null default '',
            conditions text not null default '{}',    -- 脱贫退出: JSON of the exit conditions checked
            complaint_id integer references complaints(id),
            status text not null default 'proposed'
                check (status in ('proposed', 'verified', 'agreed', 'refused', 'overridden', 'withdrawn')),
            verified_by text,
            verified_at text,
            verify_note text not null default '',
            agreement_on text,
            agreement_how text,
            agreement_note text not null default '',
            override_reason text not null default '',
            withdrawn_reason text not null default '',
            proposed_by text not null,
            proposed_at text not null,
            updated_at text not null
        );
        create index adjustments_village on adjustments(campaign_id, village_code, kind, status);
        create index adjustments_household on adjustments(household_id);
        create unique index adjustments_once on adjustments(campaign_id, household_id, kind)
            where status != 'withdrawn';

        -- 抽查复核 (rule 12): a reproducible draw from one list version before the next level.
        create table spot_checks (
            id integer primary key,
            list_id integer not null references lists(id),
            version integer not null,
            level text not null check (level in ('township', 'county')),
            percent integer not null,
            seed text not null,
            population integer not null,
            size integer not null,
            drawn_by text not null,
            drawn_at text not null,
            foreign key (list_id, version) references list_versions(list_id, version),
            unique (list_id, version)
        );
        create table spot_check_items (
            check_id integer not null references spot_checks(id),
            position integer not null,
            household_id integer not null references households(id),
            row_ref integer not null,
            result text check (result in ('true', 'false')),
            note text not null default '',
            decided_by text,
            decided_at text,
            primary key (check_id, position)
        );
        create index spot_check_items_household on spot_check_items(household_id);
        """
    )


@migrations(name="0016_agreement_photo")
def m0016_agreement_photo(db: sqlite_utils.Database) -> None:
    """The photo of the household's signed exit form (退出确认书), kept beside its agreement."""
    db.executescript(
        """
        alter table adjustments add column agreement_file text;
        alter table adjustments add column agreement_file_type text;
        alter table adjustments add column agreement_sha256 text;
        """
    )


#: The ``meta`` row that says the ledger must be filled from what was published before it existed
#: (``runtime.upgrade`` does it with the domain's code, like ``KEYS_STALE``).
LEDGER_STALE = "ledger_backfill"


@migrations(name="0017_public_ledger")
def m0017_public_ledger(db: sqlite_utils.Database) -> None:
    """The public ledger (公开账本): an unkeyed hash chain of every public state change, append-only
    like the audit log. ``content`` is the canonical JSON the entry's hash covers."""
    db.executescript(
        f"""
        create table ledger (
            seq integer primary key,
            at text not null,
            kind text not null,
            ref text not null,
            content text not null,
            prev text not null unique,
            hash text not null unique
        );
        create index ledger_ref on ledger(ref);
        create trigger ledger_no_update before update on ledger
            begin select raise(abort, 'ledger is append-only'); end;
        -- Nor is an entry deleted, except while load-demo --reset empties a demo database.
        create trigger ledger_no_delete before delete on ledger
            when not exists (select 1 from meta where key = 'resetting')
            begin select raise(abort, 'ledger is append-only'); end;
        create trigger ledger_extend_only before insert on ledger
            when new.seq != coalesce((select max(seq) from ledger), 0) + 1
              or new.prev != coalesce((select hash from ledger order by seq desc limit 1), printf('%064d', 0))
            begin select raise(abort, 'ledger entries must extend the chain'); end;

        -- Retention (issue 21, item 4): when a list's names were withheld from every public surface,
        -- and when a complaint's reporter details and evidence files were erased.
        alter table lists add column names_withheld_at text;
        alter table complaints add column reporter_erased_at text;
        insert or replace into meta (key, value) values ('{LEDGER_STALE}', '1');
        """
    )


#: Tables whose rows no public page reads (or that change with every search or login); every other
#: table bumps ``page_generation`` on each insert, update and delete.
UNCOUNTED_TABLES = frozenset({"meta", "_sqlite_migrations", "sqlite_sequence", "search_outbox", "audit_log", "users",
                              "page_generation"})


def count_changes_of(db: sqlite_utils.Database, table: str) -> None:
    """Make every write to ``table`` bump the page generation (call it for each new table)."""
    for op in ("insert", "update", "delete"):
        db.execute(f"create trigger if not exists page_generation_{op}_{table} after {op} on {table} "
                   "begin update page_generation set n = n + 1; end")


@migrations(name="0018_page_generation")
def m0018_page_generation(db: sqlite_utils.Database) -> None:
    """A number that changes with every committed write a public page could show (issue 22, item 1):
    rendered pages are cached under it, so a cached page is stale by construction never. It has a
    table of its own, so ``load-demo --reset`` (which empties ``meta``) cannot lose it."""
    db.executescript("""
        create table page_generation (id integer primary key check (id = 1), n integer not null);
        insert into page_generation (id, n) values (1, 0);
    """)
    for (table,) in db.execute("select name from sqlite_master where type = 'table'").fetchall():
        if table not in UNCOUNTED_TABLES:
            count_changes_of(db, table)
