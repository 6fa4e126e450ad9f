"""The documents of the whoosh index (lists, notices, content pages) and its schema."""

from __future__ import annotations

import datetime as dt
import functools

import markdown
import nh3
from whoosh import fields

from .. import clock
from ..domain import pinyin
from ..domain.regions import ancestors
from ..runtime import content_dir

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
    from ..domain.pages import parse_front_matter

    docs = []
    for path in sorted(content_dir().glob("*.md")):
        meta, body = parse_front_matter(path.read_text(encoding="utf-8"))
        docs.append({"id": f"page:{path.stem}", "type": "page", "title": meta.get("title", path.stem),
                     "text": _plain(body), "summary": meta.get("summary", ""), "level": "", "kind": "",
                     "py": "", "regions": "", "path": "", "start": 0, "end": 0})
    return docs


def _now_text() -> str:
    return clock.current().local_stamp()
