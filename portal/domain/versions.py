"""Writing a list version: its rows with their lasting numbers (序号), the search keys, and the
校验码 (a keyed hash of everything the version shows) that anyone can check from the public site."""

from __future__ import annotations

import hashlib
import hmac
import json

from . import keys, ledger

ENTRY_FIELDS = ("position", "household_id", "village_code", "group_name", "head_name", "size", "causes",
                "votes", "voters_present", "mark")
LIST_FIELDS = ("id", "campaign_id", "region_code", "level", "kind", "title", "approving_body")


def content_hash(key: bytes, lst: dict, version: int, window_start: str, window_end: str, note: str,
                 entries: list[dict]) -> str:
    """HMAC-SHA256 over a version's content with full names, printed on the board and shown online,
    so the paper and the page can be checked against each other.

    Keyed, because a plain hash of a short list could be reversed by trying every masked name.
    """
    canonical = json.dumps(
        {
            "list": {k: lst[k] for k in LIST_FIELDS},
            "version": version,
            "window": [window_start, window_end],
            "note": note,
            # A row's own window (递补) is hashed when it has one, so older versions keep their hashes.
            "entries": [[e[k] for k in ENTRY_FIELDS] + ([e["window_start"], e["window_end"]] if e.get("window_end") else [])
                        for e in entries],
        },
        ensure_ascii=False, sort_keys=True, separators=(",", ":"),
    )
    return hmac.new(key + b"|list-content", canonical.encode(), hashlib.sha256).hexdigest()


def version_hash(db, list_id: int, version: int, key: bytes) -> str:
    """Recompute a stored version's content hash from its rows."""
    lst = next(db.query("select * from lists where id = ?", [list_id]))
    v = next(db.query("select * from list_versions where list_id = ? and version = ?", [list_id, version]))
    entries = list(db.query(
        "select * from list_entries where list_id = ? and version = ? order by position", [list_id, version]))
    return content_hash(key, lst, version, v["window_start"], v["window_end"], v["change_note"], entries)


def _number_rows(db, list_id: int, version: int, rows: list[dict]) -> None:
    """Give each row its lasting number on this list (序号, ``row_ref``): what it had before, or the
    next number after the list's highest for a household new to the list (item 10)."""
    known = {r["household_id"]: r["row_ref"] for r in db.query(
        "select household_id, max(row_ref) as row_ref from list_entries where list_id = ? group by household_id",
        [list_id])} if version > 1 else {}
    top = max(known.values(), default=0)
    for r in rows:
        if version == 1:
            r["row_ref"] = r["position"]
        elif r["household_id"] in known:
            r["row_ref"] = known[r["household_id"]]
        else:
            top += 1
            r["row_ref"] = top


def write_version(db, list_id, version, window, note, entries, marks, key, published_at=None, *, clock) -> None:
    rows = [
        {
            "list_id": list_id,
            "version": version,
            "position": i,
            "household_id": e["id"],
            "village_code": e["village_code"],
            "group_name": e["group_name"],
            "head_name": e["head_name"],
            "size": e["size"],
            "causes": e["causes"] if isinstance(e["causes"], str) else json.dumps(e["causes"]),
            "votes": e["votes"],
            "voters_present": e["voters_present"],
            "mark": marks.get(e["id"], ""),
            "window_start": e.get("window_start") if version > 1 else None,
            "window_end": e.get("window_end") if version > 1 else None,
        }
        for i, e in enumerate(entries, start=1)
    ]
    _number_rows(db, list_id, version, rows)
    latest = max((r for r in rows if r["window_end"]), key=lambda r: r["window_end"], default=None)
    lst = next(db.query("select * from lists where id = ?", [list_id]))
    start, end = window.start.isoformat(), window.end.isoformat()
    db["list_versions"].insert(
        {
            "list_id": list_id,
            "version": version,
            "window_start": start,
            "window_end": end,
            "change_note": note,
            "published_at": published_at or clock.stamp(),
            "content_hash": content_hash(key, lst, version, start, end, note, rows),
            "rows_from": latest["window_start"] if latest else None,
            "rows_until": latest["window_end"] if latest else None,
        }
    )
    db["list_entries"].insert_all(rows)
    keys.record_publication(db, list_id, rows, clock=clock)
    ledger.record_version(db, list_id, version, key, clock=clock)
