"""Migrations 0001–0005: regions, campaigns, households and lists; staff and the audit log;
disqualifications; complaints; notices."""

from __future__ import annotations

import sqlite_utils

from .migrations import migrations


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
