"""Search, behind three doors: ``record_publication`` (inside a publication's transaction, from
``portal.domain.keys``),
``run_indexer`` (the single process that writes the whoosh index) and ``search`` (what the page calls).

Two stores, chosen by measurement (README, "Search"):

* **Household names** live in SQLite beside the entries: ``search_names`` holds, for every household
  on a published list, its whole name in characters, full pinyin and initials
  (``portal.domain.pinyin``); a query word is one probe of that ordered key. ``portal.domain.keys``
  writes it in the same transaction as the publication, so it is never behind. Place names hold
  every suffix (``search_places``), so a fragment is a prefix range scan.
* **Lists, notices and content pages** live in a whoosh index of character 1-2-grams plus the pinyin
  keys of their places, in ``instance/search/``. Web workers never write it: a publication or notice
  adds a row to ``search_outbox`` in its own transaction, and one indexer process (``flask indexer``,
  guarded by a file lock) applies the outbox in batches. ``reindex`` builds a fresh index directory
  and swaps a symlink to it atomically; the indexer rebuilds a missing or corrupt index the same way.

Only published material is indexed: current versions of lists, notices whose time has come, content
pages. Drafts, withdrawn versions and complaint texts never reach either store.
"""

from __future__ import annotations

from ..domain.keys import enqueue, rebuild_keys, record_publication, record_region
from .commands import indexer_command, reindex_command
from .documents import MAX_QUERY, PER_PAGE, SCHEMA, SCHEMA_VERSION
from .query import Results, highlight, search
from .store import (
                    apply_outbox,
                    current_dir,
                    indexed_ids,
                    indexer_lock,
                    merge_when_idle,
                    prune_outbox,
                    rebuild,
                    run_indexer,
                    search_dir,
)

__all__ = ["MAX_QUERY", "PER_PAGE", "SCHEMA", "SCHEMA_VERSION", "Results", "apply_outbox", "current_dir",
           "enqueue", "highlight", "indexed_ids", "indexer_command", "indexer_lock", "merge_when_idle",
           "prune_outbox", "rebuild", "rebuild_keys", "record_publication", "record_region", "reindex_command",
           "run_indexer", "search", "search_dir"]
