"""Search, behind three doors: ``record_publication`` (inside a publication's transaction),
``run_indexer`` (the single process that writes the whoosh index) and ``search`` (what the page calls).

Two stores, chosen by measurement (README, "Search"):

* **Household names** live in SQLite beside the entries: ``search_names`` holds, for every household
  on a published list, each suffix of its name in characters, full pinyin and initials
  (``portal.pinyin``); a query word is a prefix range scan on that ordered key. It is written in the
  same transaction as the publication, so it is never behind. Place names likewise (``search_places``).
* **Lists, notices and content pages** live in a whoosh index of character 1-2-grams plus the pinyin
  keys of their places, in ``instance/search/``. Web workers never write it: a publication or notice
  adds a row to ``search_outbox`` in its own transaction, and one indexer process (``flask indexer``,
  guarded by a file lock) applies the outbox in batches. ``reindex`` builds a fresh index directory
  and swaps a symlink to it atomically; the indexer rebuilds a missing or corrupt index the same way.

Only published material is indexed: current versions of lists, notices whose time has come, content
pages. Drafts, withdrawn versions and complaint texts never reach either store.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import fcntl
import functools
import json
import os
import shutil
import threading
import time
from pathlib import Path

import click
import markdown
import nh3
from flask import current_app
from flask.cli import with_appcontext
from markupsafe import Markup, escape
from whoosh import fields, index, sorting, writing
from whoosh import query as wq

from . import clock, pinyin, rules
from .db import connect, get_db, write_transaction
from .privacy import mask_name

PER_PAGE = 20
MAX_QUERY = 200
# A name word matching more households than this is too vague to list: ask for more of the name.
MAX_NAME_MATCHES = 2000
# ... and a word that could be the start of more names than this is not looked through at all.
SCAN_LIMIT = 20000
# A word naming more places than this (a common two-letter run) is not used to list their households.
MAX_PLACES = 200

# Bump when SCHEMA changes: the indexer then rebuilds an index made with the old one.
SCHEMA_VERSION = 2
SCHEMA = fields.Schema(
    id=fields.ID(unique=True, stored=True),            # list:5, notice:3, page:faq
    type=fields.ID(stored=True),
    title=fields.NGRAM(minsize=1, maxsize=2, stored=True),
    # Region path and body text: bigrams only (a one-character query searches titles), which
    # halves the postings of long notices.
    text=fields.NGRAM(minsize=2, maxsize=2),
    py=fields.KEYWORD(),                                # pinyin keys of the places
    regions=fields.KEYWORD(),                           # codes of the region and its ancestors
    level=fields.ID(stored=True),
    kind=fields.ID(stored=True),
    start=fields.NUMERIC(stored=True, sortable=True),   # window (or publication) day as an ordinal
    end=fields.NUMERIC(stored=True),
    path=fields.STORED(),
    summary=fields.STORED(),
)


# --- Writing: in the publication's transaction ------------------------------------------------


def enqueue(db, doc: str, *, clock) -> None:
    """Ask the indexer to (re)index one document (``list:5``, ``notice:3``, ``pages``) or ``all``."""
    db.execute("insert into search_outbox (doc, at) values (?, ?)", [doc, clock.stamp("microseconds")])


def record_publication(db, list_id: int, entries: list[dict], *, clock) -> None:
    """Called inside the transaction that writes a list version: name keys of its households, and an
    outbox row for the list's document."""
    rows = {(key, e["household_id"]) for e in entries for key in pinyin.name_keys(e["head_name"])}
    db.conn.executemany("insert or ignore into search_names (key, household_id) values (?, ?)", rows)
    enqueue(db, f"list:{list_id}", clock=clock)


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
                                join lists l on l.id = e.list_id and e.version = l.current_version""")
        db.conn.executemany("insert into scratch_names values (?, ?)",
                            ((key, hid) for hid, name in entries for key in pinyin.name_keys(name)))
        db.execute("insert or ignore into search_names select key, household_id from scratch_names "
                   "order by key, household_id")
        db.execute("drop table temp.scratch_names")
        return (db.execute("select count(*) from search_names").fetchone()[0],
                db.execute("select count(*) from search_places").fetchone()[0])


# --- Documents for the whoosh index ------------------------------------------------------------


def _plain(md: str) -> str:
    return " ".join(nh3.clean(markdown.markdown(md), tags=set()).split())


@functools.lru_cache(maxsize=65536)
def _ascii_place_keys(name: str) -> frozenset[str]:
    return frozenset(k for k in pinyin.place_keys(name) if k.isascii())


def _places(db, code: str, memo: dict | None = None) -> dict:
    """Text, pinyin keys, codes and display path of a region's chain; ``memo`` saves the lookups
    across one rebuild, where thousands of lists share their townships and county."""
    if memo is not None and code in memo:
        return memo[code]
    from .regions import ancestors     # regions imports this module to record place keys

    path = ancestors(db, code)
    places = {"text": " ".join(r["name"] for r in path),
            "py": " ".join(sorted({k for r in path for k in _ascii_place_keys(r["name"])})),
            "regions": " ".join(r["code"] for r in path),
            "path": " › ".join(r["name"] for r in path)}
    if memo is not None:
        memo[code] = places
    return places


def list_doc(db, list_id: int, memo: dict | None = None) -> dict | None:
    row = next(db.query("""select l.id, l.title, l.level, l.kind, l.region_code, l.current_version,
                                  v.window_start, v.window_end
                           from lists l join list_versions v on v.list_id = l.id and v.version = l.current_version
                           where l.id = ?""", [list_id]), None)
    if row is None:
        return None
    start, end = dt.date.fromisoformat(row["window_start"]), dt.date.fromisoformat(row["window_end"])
    places = _places(db, row["region_code"], memo)
    return {"id": f"list:{list_id}", "type": "list", "title": row["title"], "level": row["level"],
            "kind": row["kind"], "start": start.toordinal(), "end": end.toordinal(),
            "summary": f"第 {row['current_version']} 版", **places}


def notice_doc(db, notice_id: int, now: str, memo: dict | None = None) -> dict | None:
    row = next(db.query("select * from notices where id = ? and publish_at <= ?", [notice_id, now]), None)
    if row is None:
        return None
    places = _places(db, row["region_code"], memo)
    body = _plain(row["body"])
    day = dt.date.fromisoformat(row["publish_at"][:10]).toordinal()
    return {"id": f"notice:{notice_id}", "type": "notice", "title": row["title"], "level": "", "kind": "",
            "start": day, "end": day, "summary": body[:120], **places, "text": places["text"] + " " + body}


def page_docs() -> list[dict]:
    from .home import content_dir, parse_front_matter

    docs = []
    for path in sorted(content_dir().glob("*.md")):
        meta, body = parse_front_matter(path.read_text(encoding="utf-8"))
        docs.append({"id": f"page:{path.stem}", "type": "page", "title": meta.get("title", path.stem),
                     "text": _plain(body), "summary": meta.get("summary", ""), "level": "", "kind": "",
                     "py": "", "regions": "", "path": "", "start": 0, "end": 0})
    return docs


def _now_text() -> str:
    return clock.current().local_stamp()


# --- The index on disk: instance/search/current -> ix-<n>, with ix-<n>.json beside it ---------


def search_dir() -> Path:
    return Path(current_app.instance_path) / "search"


def _state_path(ix_dir: Path) -> Path:
    return ix_dir.with_name(ix_dir.name + ".json")


def _read_state(ix_dir: Path) -> dict:
    return json.loads(_state_path(ix_dir).read_text())


def _write_state(ix_dir: Path, state: dict) -> None:
    tmp = _state_path(ix_dir).with_suffix(".tmp")
    tmp.write_text(json.dumps(state))
    os.replace(tmp, _state_path(ix_dir))


def current_dir() -> Path | None:
    link = search_dir() / "current"
    return Path(os.path.realpath(link)) if link.is_symlink() else None


def rebuild() -> dict:
    """Build a complete new index from a consistent snapshot of the database, then swap it in."""
    base = search_dir()
    base.mkdir(parents=True, exist_ok=True)
    new = _new_index_dir(base)
    ix = index.create_in(str(new), SCHEMA)
    db = connect(current_app.config["DATABASE"])
    counts = {"list": 0, "notice": 0, "page": 0}
    memo: dict = {}
    try:
        db.execute("begin")    # one read snapshot: the documents and the outbox position agree
        mark = db.execute("select coalesce(max(id), 0) from search_outbox").fetchone()[0]
        now = _now_text()
        writer = ix.writer(limitmb=256)
        for (list_id,) in db.execute("select id from lists").fetchall():
            doc = list_doc(db, list_id, memo)
            if doc:
                writer.add_document(**doc)
                counts["list"] += 1
        for (notice_id,) in db.execute("select id from notices where publish_at <= ?", [now]).fetchall():
            writer.add_document(**notice_doc(db, notice_id, now, memo))
            counts["notice"] += 1
        db.conn.rollback()
        for doc in page_docs():
            writer.add_document(**doc)
            counts["page"] += 1
        writer.commit()
    finally:
        db.close()
    _write_state(new, {"position": mark, "notices_until": now, "schema": SCHEMA_VERSION})
    tmp_link = base / f"current.{os.getpid()}.tmp"
    with contextlib.suppress(FileNotFoundError):
        tmp_link.unlink()
    os.symlink(new.name, tmp_link)
    os.replace(tmp_link, base / "current")
    _remove_old(base, keep={new.name})
    return counts


def _index_dirs(base: Path) -> list[Path]:
    """Index directories, oldest first (``ix-<n>``, numbered in the order they were made)."""
    return sorted((p for p in base.glob("ix-*") if p.is_dir() and p.name[3:].isdigit()), key=lambda p: int(p.name[3:]))


def _new_index_dir(base: Path) -> Path:
    """The next ``ix-<n>``, made here; two rebuilds at once get different numbers."""
    made = _index_dirs(base)
    n = int(made[-1].name[3:]) + 1 if made else 1
    while True:
        try:
            (base / f"ix-{n}").mkdir()
            return base / f"ix-{n}"
        except FileExistsError:
            n += 1


def _remove_old(base: Path, keep: set[str]) -> None:
    """Delete index directories older than the previous one (a reader may still hold the previous)."""
    for old in _index_dirs(base)[:-2]:
        if old.name not in keep:
            shutil.rmtree(old, ignore_errors=True)
            with contextlib.suppress(FileNotFoundError):
                _state_path(old).unlink()


def _healthy(ix_dir: Path | None) -> bool:
    try:
        ix = index.open_dir(str(ix_dir))
        with ix.searcher() as s:
            s.search(wq.Every(), limit=1)
        return _read_state(ix_dir).get("schema") == SCHEMA_VERSION
    except Exception:  # noqa: BLE001 - anything unreadable means: build a new one
        return False


def apply_outbox(batch: int = 500) -> int:
    """Apply pending outbox rows (and notices whose time has come) to the current index; returns how
    many documents were written. Only the indexer calls this."""
    ix_dir = current_dir()
    state = _read_state(ix_dir)
    db = connect(current_app.config["DATABASE"])
    try:
        rows = db.execute("select id, doc from search_outbox where id > ? order by id limit ?",
                          [state["position"], batch]).fetchall()
        now = _now_text()
        due = [f"notice:{r[0]}" for r in db.execute(
            "select id from notices where publish_at > ? and publish_at <= ?", [state["notices_until"], now])]
        docs = list(dict.fromkeys([doc for _, doc in rows] + due))
        if "all" in docs:
            rebuild()
            return len(docs)
        if not docs:
            if now != state["notices_until"]:
                _write_state(ix_dir, {**state, "notices_until": now})
            global _next_prune
            if time.monotonic() >= _next_prune:
                prune_outbox(db, state["position"], clock.current())
                _next_prune = time.monotonic() + 3600
            return 0
        writer = index.open_dir(str(ix_dir)).writer()
        try:
            for doc in docs:
                kind, _, key = doc.partition(":")
                if kind == "pages":
                    writer.delete_by_term("type", "page")
                    for d in page_docs():
                        writer.add_document(**d)
                    continue
                made = list_doc(db, int(key)) if kind == "list" else notice_doc(db, int(key), now)
                if made:
                    writer.update_document(**made)
                else:
                    writer.delete_by_term("id", doc)
        except BaseException:
            writer.cancel()
            raise
        writer.commit(mergetype=writing.NO_MERGE)   # merging waits for a quiet moment (merge_when_idle)
        _write_state(ix_dir, {**state, "position": rows[-1][0] if rows else state["position"], "notices_until": now})
        return len(docs)
    finally:
        db.close()


OUTBOX_KEEP_DAYS = 7
_next_prune = 0.0          # monotonic time of the indexer's next prune (at most hourly, when idle)


def prune_outbox(db, position: int, clock) -> int:
    """Delete outbox rows the index has applied (id <= its position) once they are a week old.
    A rebuild reads its position from one snapshot and builds for minutes, not days, so no index
    still to be swapped in can need them. Returns how many rows went."""
    cutoff = (clock.now() - dt.timedelta(days=OUTBOX_KEEP_DAYS)).astimezone(dt.timezone.utc)
    cutoff = cutoff.isoformat(timespec="microseconds")      # as enqueue stores times
    with write_transaction(db):
        return db.execute("delete from search_outbox where id <= ? and at < ?", [position, cutoff]).rowcount


def merge_when_idle(max_segments: int = 8) -> bool:
    """Merge small segments once the outbox is empty, so that a publication never waits behind a
    merge (one took 1.6 s here when commits merged as they went)."""
    ix = index.open_dir(str(current_dir()))
    if len(ix._segments()) <= max_segments:
        return False
    ix.writer().commit(mergetype=writing.MERGE_SMALL)
    return True


@contextlib.contextmanager
def indexer_lock(wait: bool = False):
    """The one-indexer guard: an exclusive lock on instance/search/indexer.lock, released by the OS
    if the process dies. Yields False when another indexer holds it and ``wait`` is false."""
    search_dir().mkdir(parents=True, exist_ok=True)
    with open(search_dir() / "indexer.lock", "w") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        yield True


def run_indexer(*, once: bool = False, poll: float = 0.1, health_every: float = 5.0, stop=None) -> None:
    """Keep the index in step with the outbox; rebuild it when missing or unreadable. ``stop`` is
    a function asked after every round whether to end."""
    checked = 0.0
    while True:
        if time.monotonic() - checked > health_every:
            if not _healthy(current_dir()):
                click.echo("search index missing or unreadable: rebuilding", err=True)
                rebuild()
            checked = time.monotonic()
        try:
            written = apply_outbox()
            merged = not written and merge_when_idle()
        except Exception as exc:  # noqa: BLE001 - keep serving; check the index at once and retry
            click.echo(f"search indexer: {exc!r}; checking the index", err=True)
            checked, written, merged = 0.0, 0, False
        if once and not written:
            return
        if stop is not None and stop():
            return
        if not written and not merged:
            time.sleep(poll)


# --- Reading ----------------------------------------------------------------------------------

_reader_lock = threading.Lock()
_reader: dict = {}


def _fresh(s) -> bool:
    """Whether a kept searcher still shows the latest index (False too when it can no longer tell:
    closed, or its files gone)."""
    try:
        return s.up_to_date()
    except Exception:  # noqa: BLE001 - ReaderClosed, OSError ...: open a new one
        return False


@contextlib.contextmanager
def _searcher():
    """A searcher on the current index, reopened (never ``refresh()``-ed: whoosh forks return stale
    and duplicate hits from it) when the index changed. Yields None when there is no usable index."""
    with _reader_lock:
        target = current_dir()
        s = _reader.get("searcher")
        if s is not None and (_reader.get("dir") != target or not _fresh(s)):
            with contextlib.suppress(Exception):    # it may be closed already
                s.close()
            s = None
        if s is None and target is not None:
            try:
                s = index.open_dir(str(target)).searcher()
            except Exception:  # noqa: BLE001 - a broken index must not break the page
                s = None
            _reader.update(searcher=s, dir=target)
        yield s


@dataclasses.dataclass
class Results:
    query: str
    words: list[str]
    hits: list[dict]
    total: int
    page: int
    pages: int
    names_total: int = 0
    too_many_names: bool = False
    names_refused: bool = False         # the address used up its name lookups
    index_ok: bool = True
    problem: str = ""


def highlight(text: str, words: list[str]) -> Markup:
    """Escape ``text`` and wrap the Chinese query words found in it in <mark>."""
    out = str(escape(text))
    for w in sorted({w for w in words if pinyin.is_han(w)}, key=len, reverse=True):
        out = out.replace(w, f"<mark>{w}</mark>")
    return Markup(out)


def _range(word: str) -> tuple[str, str]:
    return word, word + "\U0010ffff"


def _state_days(state: str | None, today: dt.date) -> tuple[str, list]:
    t = today.isoformat()
    return {"open": ("v.window_start <= ? and v.window_end >= ?", [t, t]),
            "upcoming": ("v.window_start > ?", [t]),
            "closed": ("v.window_end < ?", [t])}.get(state or "", ("1", []))


def _in_places(column: str) -> str:
    """SQL: ``column`` (a village code) lies in one of the regions whose codes are the JSON array ``?``."""
    return f"exists (select 1 from json_each(?) p where {column} >= p.value and {column} < p.value || ':')"


def _name_words(words: list[str], spelling: str) -> list[str]:
    """The query words that could be a whole name under ``NAME_SEARCH`` (``full``: characters, full
    pinyin or initials; ``characters``: characters only; ``off``: none)."""
    if spelling == "off":
        return []
    return [w for w in words if pinyin.is_han(w) or (spelling == "full" and w.isalpha() and len(w) >= 2)]


def _name_hits(db, words: list[str], filters: dict, may_look_up) -> tuple[list[dict], bool, bool]:
    """Entries of current list versions whose household's *whole* name is one of the words (张建国,
    zhangjianguo, zjg), every other word naming a place on its village's path (张建国 双星村, zjg sxc)
    or its name again. A fragment (建国, zhangj) finds no one, so the character a list hides cannot be
    found by trying common ones; ``may_look_up()`` is asked (and counts one lookup against the
    address's limit) before any name is looked up. Returns (hits, too many to list, refused)."""
    words = [w for w in words if not (w.isdigit() or (w.isascii() and len(w) < 2))]  # too short for a name
    candidates = _name_words(words, current_app.config["NAME_SEARCH"])
    if not candidates:
        return [], False, False
    places = {w: {r[0] for r in db.execute("select code from search_places where key >= ? and key < ?", _range(w))}
              for w in words}
    # A query of place words only (双星村, sxc) is not counted against the limit: it is looking for places.
    if not all(places[w] for w in words) and not may_look_up():
        return [], False, True
    counts = {w: db.execute("select count(*) from (select 1 from search_names where key = ? limit ?)",
                            [w, SCAN_LIMIT + 1]).fetchone()[0] for w in candidates}
    name_words = [w for w in candidates if counts[w]]
    if not name_words or any(not counts.get(w) and not places[w] for w in words):
        return [], False, False
    select = """select k.household_id, h.head_name, h.village_code from search_names k
                join households h on h.id = k.household_id where k.key = ?"""
    found, too_many = set(), False
    for w in name_words:                    # w as the name, every other word as a place or the name
        others = [u for u in words if u != w]
        if counts[w] <= SCAN_LIMIT:
            rows = db.execute(select, [w])
        else:                               # a common set of initials: only within a place named too
            narrow = next((u for u in others if 0 < len(places[u]) <= MAX_PLACES), None)
            if narrow is None:
                too_many = True
                continue
            rows = db.execute(f"{select} and {_in_places('h.village_code')} limit ?",
                              [w, json.dumps(sorted(places[narrow])), SCAN_LIMIT + 1]).fetchall()
            if len(rows) > SCAN_LIMIT:
                too_many = True
                continue
        for household_id, name, village in rows:
            keys, path = pinyin.name_keys(name), {village[:6], village[:9], village}
            if all(u in keys or path & places[u] for u in others):
                found.add(household_id)
    if len(found) > MAX_NAME_MATCHES:
        return [], True, False
    return _entries(db, sorted(found), filters), too_many and not found, False


def _entries(db, households: list[int], filters: dict) -> list[dict]:
    """The rows of current list versions that hold these households, masked as on the list page."""
    state_sql, state_params = _state_days(filters.get("state"), clock.today())
    rows = db.query(f"""
        select e.list_id, e.position, coalesce(e.row_ref, e.position) as row_ref, e.head_name, e.village_code,
               e.group_name, l.title, l.level, l.kind,
               l.region_code, v.window_start, v.window_end, r.name as village_name
        from json_each(?) h
        join list_entries e on e.household_id = h.value
        join lists l on l.id = e.list_id and e.version = l.current_version
        join list_versions v on v.list_id = l.id and v.version = l.current_version
        join regions r on r.code = e.village_code
        where (? = '' or l.level = ?) and (? = '' or l.kind = ?)
          and (? = '' or e.village_code like ? || '%') and {state_sql}
        order by e.village_code, case l.level when 'village' then 0 when 'township' then 1 else 2 end, l.id, e.position
        """, [json.dumps(households), filters.get("level") or "", filters.get("level") or "",
              filters.get("kind") or "", filters.get("kind") or "", filters.get("region") or "",
              filters.get("region") or "", *state_params])
    policy = current_app.config["NAME_DISPLAY"]
    return [{"type": "entry", "list_id": r["list_id"], "position": r["row_ref"],
             "name": mask_name(r["head_name"], policy), "village": r["village_name"],
             "village_code": r["village_code"], "group": r["group_name"], "title": r["title"],
             "level": r["level"],
             "window": rules.Window(dt.date.fromisoformat(r["window_start"]), dt.date.fromisoformat(r["window_end"]))}
            for r in rows]


def _doc_query(words: list[str]):
    parts = []
    for w in words:
        if pinyin.is_han(w):
            parts.append(wq.Or([SCHEMA["title"].parse_query("title", w, boost=3.0),
                                SCHEMA["text"].parse_query("text", w)]))
        elif w.isdigit():
            parts.append(wq.Or([wq.Prefix("regions", w), SCHEMA["title"].parse_query("title", w)]))
        else:
            parts.append(wq.Prefix("py", w))
    return wq.And(parts)


def _doc_order(words: list[str]):
    """Documents whose title holds every Chinese word first, then the newest first. (BM25 scoring
    of thousands of notices took 55 ms for two common words; this order takes a third of that.)"""
    han = [w for w in words if pinyin.is_han(w)]
    newest = sorting.FieldFacet("start", reverse=True)
    if not han:
        return newest
    in_title = wq.And([SCHEMA["title"].parse_query("title", w) for w in han])
    return sorting.MultiFacet([sorting.QueryFacet({0: in_title}, other=1), newest])


def _doc_filter(filters: dict, today: dt.date):
    terms = []
    if filters.get("region"):
        terms.append(wq.Term("regions", filters["region"]))
    for name in ("level", "kind"):
        if filters.get(name):
            terms.append(wq.Term(name, filters[name]))
    day = today.toordinal()
    state = filters.get("state")
    if state:
        terms.append(wq.Term("type", "list"))
        if state == "open":
            terms += [wq.NumericRange("start", None, day), wq.NumericRange("end", day, None)]
        elif state == "upcoming":
            terms.append(wq.NumericRange("start", day + 1, None))
        elif state == "closed":
            terms.append(wq.NumericRange("end", None, day - 1))
    return wq.And(terms) if terms else None


def search(q: str, *, region: str = "", level: str = "", kind: str = "", state: str = "", page: int = 1,
           per_page: int = PER_PAGE, may_look_up_names=lambda: True) -> Results:
    """Households on published lists first, then lists, notices and pages, ``per_page`` at a time.
    ``may_look_up_names`` is called once, only when a word could be a name (the page's rate limit)."""
    q = (q or "").strip()
    if len(q) > MAX_QUERY:
        return Results(q, [], [], 0, 1, 0, problem=f"搜索内容太长了，请不要超过 {MAX_QUERY} 个字。")
    ws = pinyin.words(q)[:10]
    if not ws:
        problem = "请输入要找的姓名、村名或拼音。" if not q else "请输入汉字、拼音或数字。"
        return Results(q, [], [], 0, 1, 0, problem=problem)
    filters = {"region": region, "level": level, "kind": kind, "state": state}
    names, too_many, refused = _name_hits(get_db(), ws, filters, may_look_up_names)
    start = (page - 1) * per_page
    hits = names[start:start + per_page]
    docs_total, index_ok = 0, True
    with _searcher() as s:
        if s is None:
            index_ok = False
        else:
            need = start + per_page - len(names)
            results = s.search(_doc_query(ws), limit=max(need, 1), filter=_doc_filter(filters, clock.today()),
                               sortedby=_doc_order(ws))
            docs_total = len(results)
            if need > 0:
                for hit in results[max(0, start - len(names)):need]:
                    hits.append(_doc_hit(dict(hit), ws))
    total = len(names) + docs_total
    return Results(q, ws, hits, total, page, max(1, -(-total // per_page)), names_total=len(names),
                   too_many_names=too_many, names_refused=refused, index_ok=index_ok)


def _doc_hit(stored: dict, ws: list[str]) -> dict:
    kind, _, key = stored["id"].partition(":")
    hit = {"type": kind, "key": key, "title": highlight(stored["title"], ws), "path": stored.get("path", ""),
           "summary": highlight(stored.get("summary", ""), ws)}
    if kind == "list":
        hit["level"], hit["kind"] = stored["level"], stored["kind"]
        hit["window"] = rules.Window(dt.date.fromordinal(stored["start"]), dt.date.fromordinal(stored["end"]))
    elif kind == "notice":
        hit["day"] = dt.date.fromordinal(stored["start"])
    return hit


def indexed_ids() -> set[str]:
    """Every document id in the current index (tests and the benchmark compare it with the database)."""
    with _searcher() as s:
        return {f["id"] for f in s.all_stored_fields()} if s is not None else set()


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
