"""The numbered migrations (steps in ``migrations_0001.py`` and ``migrations_0006.py``): append new
ones at the end; never change what one that has shipped does to the schema. Data steps that need the portal's own code (the search keys) are not done here:
``REBUILDS_SEARCH_KEYS`` names the migrations after which the caller rebuilds the key tables."""

from __future__ import annotations

from sqlite_utils.migrations import Migrations

migrations = Migrations("portal")

#: Migrations after which the search key tables must be rebuilt from the published lists.
REBUILDS_SEARCH_KEYS = frozenset({"0006_search", "0013_whole_name_keys"})
