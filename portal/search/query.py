"""``search()``: households by whole name from the SQLite keys, then lists, notices and pages from whoosh."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

from flask import current_app
from markupsafe import Markup, escape
from whoosh import query as wq
from whoosh import sorting

from .. import clock
from ..domain import pinyin, rules
from ..domain.privacy import mask_name
from ..runtime import get_db
from .documents import (
    MAX_NAME_MATCHES,
    MAX_PLACES,
    MAX_QUERY,
    PER_PAGE,
    SCAN_LIMIT,
    SCHEMA,
)
from .store import searcher


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
        where l.names_withheld_at is null and (? = '' or l.level = ?) and (? = '' or l.kind = ?)
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


#: Up to this many matching documents are ordered here, from their stored titles; more, by whoosh.
SMALL_RESULTS = 60


def _ordered_docs(s, words: list[str], doc_filter, need: int) -> tuple[int, list[dict]]:
    """How many documents match, and the stored fields of the first ``need`` in ``_doc_order``. A
    query matching few documents (a village's name) is read newest first and its title matches put
    in front here: whoosh's facet for them ran the title query again over the whole index, which at
    province scale took half the search (2.4 → 1.3 ms for a village's name)."""
    query, han = _doc_query(words), [w for w in words if pinyin.is_han(w)]
    if han:
        results = s.search(query, limit=SMALL_RESULTS, filter=doc_filter, sortedby=sorting.FieldFacet("start", reverse=True))
        if len(results) <= SMALL_RESULTS:
            docs = [dict(hit) for hit in results]
            in_title = [d for d in docs if all(w in d["title"] for w in han)]
            return len(docs), (in_title + [d for d in docs if not all(w in d["title"] for w in han)])[:need]
    results = s.search(query, limit=need, filter=doc_filter, sortedby=_doc_order(words))
    return len(results), [dict(hit) for hit in results[:need]]


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
    with searcher() as s:
        if s is None:
            index_ok = False
        else:
            need = start + per_page - len(names)
            docs_total, docs = _ordered_docs(s, ws, _doc_filter(filters, clock.today()), max(need, 1))
            if need > 0:
                hits += [_doc_hit(stored, ws) for stored in docs[max(0, start - len(names)):need]]
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
