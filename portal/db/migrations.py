"""The numbered migrations (steps in ``migrations_0001.py`` and ``migrations_0006.py``): append new
ones at the end; never change what one that has shipped does to the schema. Data steps that need the portal's own code (the search keys) are not done here:
such a migration records ``KEYS_STALE`` in ``meta``, in its own transaction, and the caller
(``runtime.upgrade``) rebuilds the key tables and clears the mark in one transaction — so a process
that dies in between leaves the mark, and the next start rebuilds."""

from __future__ import annotations

from sqlite_utils.migrations import Migrations

migrations = Migrations("portal")

#: The ``meta`` row that says the search key tables must be rebuilt from the published lists.
KEYS_STALE = "search_keys_stale"


def mark_keys_stale(db) -> None:
    db.execute("insert or replace into meta (key, value) values (?, '1')", [KEYS_STALE])
