"""The search key tables, written inside the transaction that publishes (so names are never behind):
``search_names`` holds each household's whole name in characters, full pinyin and initials;
``search_places`` every suffix of each place name; ``search_outbox`` the documents the indexer must
(re)write. ``portal.search`` reads them; the domain writes them.
"""

from __future__ import annotations

from ..db import write_transaction
from . import pinyin


def enqueue(db, doc: str, *, clock) -> None:
    """Ask the indexer to (re)index one document (``list:5``, ``notice:3``, ``pages``) or ``all``."""
    db.execute("insert into search_outbox (doc, at) values (?, ?)", [doc, clock.stamp("microseconds")])


def record_publication(db, list_id: int, entries: list[dict], *, clock) -> None:
    """Called inside the transaction that writes a list version: name keys of its households, and an
    outbox row for the list's document."""
    rows = {(key, e["household_id"]) for e in entries for key in pinyin.name_keys(e["head_name"])}
    db.conn.executemany("insert or ignore into search_names (key, household_id) values (?, ?)", rows)
    enqueue(db, f"list:{list_id}", clock=clock)


def forget_withheld_names(db) -> None:
    """Drop the name keys of households that are only on lists whose names retention has withheld,
    so that searching a name no longer finds them (issue 21, item 4)."""
    db.execute("""delete from search_names where household_id not in (
                    select e.household_id from list_entries e
                    join lists l on l.id = e.list_id and e.version = l.current_version
                    where l.names_withheld_at is null)""")


def record_region(db, code: str, name: str) -> None:
    db.conn.executemany("insert or ignore into search_places (key, code) values (?, ?)",
                        [(key, code) for key in pinyin.place_keys(name)])


def rebuild_keys(db) -> tuple[int, int]:
    """Rebuild both key tables from the published lists and the regions, in one transaction.
    Keys go to an unindexed scratch table first and are copied over in key order: a B-tree filled
    in order is written about twice as fast as one filled at random."""
    with write_transaction(db):
        db.execute("delete from search_names")
        db.execute("delete from search_places")
        for r in db.query("select code, name from regions"):
            record_region(db, r["code"], r["name"])
        db.execute("create temp table scratch_names (key text, household_id integer)")
        entries = db.execute("""select distinct e.household_id, e.head_name from list_entries e
                                join lists l on l.id = e.list_id and e.version = l.current_version
                                where l.names_withheld_at is null""")
        db.conn.executemany("insert into scratch_names values (?, ?)",
                            ((key, hid) for hid, name in entries for key in pinyin.name_keys(name)))
        db.execute("insert or ignore into search_names select key, household_id from scratch_names "
                   "order by key, household_id")
        db.execute("drop table temp.scratch_names")
        return (db.execute("select count(*) from search_names").fetchone()[0],
                db.execute("select count(*) from search_places").fetchone()[0])
