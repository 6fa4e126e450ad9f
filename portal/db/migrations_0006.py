"""Migrations 0006 onwards: search tables, lookup indexes, rankings of record, row windows and
numbers, scope flags, failed logins, whole-name keys. Append new ones at the end of this file."""

from __future__ import annotations

import sqlite_utils

from .migrations import mark_keys_stale, migrations


@migrations(name="0006_search")
def m0006_search(db: sqlite_utils.Database) -> None:
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
    mark_keys_stale(db)     # the caller fills the key tables (migrations.KEYS_STALE). No outbox row is needed for the
    # documents: no index existed before this migration, and the indexer builds a missing index from
    # the whole database when it starts.


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
    张建 found 张建国 and gave away the character the list hides. The caller rebuilds the keys
    (migrations.KEYS_STALE); nothing changes in the schema."""
    mark_keys_stale(db)
