"""The public ledger (公开账本, issue 21): every public state change appended to an unkeyed SHA-256
chain that anyone can download and recompute with ``verify.py`` (served at ``/ledger/verify.py``).

An entry is ``{seq, at, kind, ref, content, prev}`` and its ``hash`` is SHA-256 over
``"gongshi-ledger-v1\\n"`` and the canonical JSON of those six fields (keys sorted, no spaces, UTF-8).
``content`` holds only what the public pages already show, or its SHA-256, and never a name: a list
version carries its rows without names, plus *hiding commitments* to the names as the page masks
them (SHA-256 over a salt the list's JSON shows while the names are public). Retention withholds the
names and stops showing the salt; no entry changes, so the chain still verifies afterwards.

Window openings and closings follow from the published windows and the clock, so they need no entry.
Entries are appended inside the transaction of the change they record (like the audit log).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json

from .privacy import mask_name, public_causes

GENESIS = "0" * 64
PREFIX = "gongshi-ledger-v1\n"
FIELDS = ("seq", "at", "kind", "ref", "content", "prev")
#: The masked forms a public page may show; a version commits to its names in each.
NAME_FORMS = ("mask", "surname")

KIND_NAMES = {
    "list.publish": "发布公示名单",
    "list.amend": "名单更新（递补、补录、取消资格或更正）",
    "complaint.reply": "举报办结答复",
    "spotcheck.draw": "抽查复核抽样",
    "spotcheck.result": "抽查复核结果",
    "notice": "发布公告",
}


def canonical(value) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def entry_hash(entry: dict) -> str:
    """The hash of one entry; ``entry["content"]`` is the parsed content (a dict)."""
    return sha256_text(PREFIX + canonical({k: entry[k] for k in FIELDS}))


def append(db, kind: str, ref: str, content: dict, *, clock) -> dict:
    """Append one entry; must run inside the write's transaction (the trigger keeps the chain)."""
    if not db.conn.in_transaction:
        raise RuntimeError("ledger.append must run inside the write's transaction")
    last = next(db.query("select seq, hash, at from ledger order by seq desc limit 1"), None)
    # Times never go back along the chain (a write dated in the past is recorded when it is made).
    at = max(clock.stamp(), last["at"]) if last else clock.stamp()
    entry = {"seq": (last["seq"] + 1) if last else 1, "at": at, "kind": kind, "ref": ref,
             "content": json.loads(canonical(content)), "prev": last["hash"] if last else GENESIS}
    entry["hash"] = entry_hash(entry)
    db["ledger"].insert({**entry, "content": canonical(entry["content"])})
    return entry


def _public(row: dict) -> dict:
    return {**row, "content": json.loads(row["content"])}


def page(db, after: int = 0, limit: int = 500) -> list[dict]:
    """Entries with ``seq`` greater than ``after``, oldest first."""
    return [_public(r) for r in db.query("select * from ledger where seq > ? order by seq limit ?", [after, limit])]


def head(db, before: str | None = None) -> dict:
    """The size and last hash of the ledger (of the entries stamped before ``before``, if given)."""
    sql, params = "select seq, hash, at from ledger", []
    if before:
        sql, params = sql + " where at < ?", [before]
    row = next(db.query(sql + " order by seq desc limit 1", params), None)
    return {"size": row["seq"], "hash": row["hash"], "at": row["at"]} if row else {"size": 0, "hash": GENESIS, "at": None}


def entry_for(db, ref: str) -> dict | None:
    row = next(db.query("select * from ledger where ref = ? order by seq limit 1", [ref]), None)
    return _public(row) if row else None


def first_break(db) -> int | None:
    """The seq of the first entry that does not recompute (the server-side twin of ``verify.py``)."""
    prev, expected = GENESIS, 1
    for row in db.query("select * from ledger order by seq"):
        entry = _public(row)
        if entry["seq"] != expected or entry["prev"] != prev or entry_hash(entry) != entry["hash"]:
            return entry["seq"]
        prev, expected = entry["hash"], expected + 1
    return None


# --- What each kind of change puts in the ledger ----------------------------------------------

def names_salt(key: bytes, list_id: int, version: int, form: str) -> str:
    """The salt of a version's commitment to its names in one masked ``form``, derived from the
    instance key (so it needs no storage and is unguessable). The list's JSON shows the salt of the
    form the page shows, and only while names are public: the commitment to a more revealing form
    (张*明 when the page shows 张**) can then never be tested by guessing."""
    return hmac.new(key + b"|ledger-names", f"{list_id}:{version}:{form}".encode(), hashlib.sha256).hexdigest()[:32]


def names_commitment(salt: str, names: list[str]) -> str:
    return sha256_text(f"names|{salt}|" + canonical(names))


def public_row(e: dict) -> list:
    """One stored row as the public JSON shows it, without the name, in the order the ledger hashes."""
    window = [e["window_start"], e["window_end"]] if e.get("window_end") else None
    return [e["row_ref"] if e["row_ref"] is not None else e["position"], e["position"], e["village_code"], e["group_name"], e["size"],
            public_causes(e["causes"]), e["votes"], e["voters_present"], e["mark"], window]


def rows_digest(rows: list[list]) -> str:
    return sha256_text("rows|" + canonical(rows))


def version_content(db, list_id: int, version: int, key: bytes) -> dict:
    lst = next(db.query("select * from lists where id = ?", [list_id]))
    v = next(db.query("select * from list_versions where list_id = ? and version = ?", [list_id, version]))
    entries = list(db.query("select * from list_entries where list_id = ? and version = ? order by position",
                            [list_id, version]))
    return {
        "list": list_id, "version": version, "title": lst["title"], "region": lst["region_code"],
        "level": lst["level"], "kind": lst["kind"], "approving_body": lst["approving_body"],
        # The note is staff's free text: its hash, so that a name written there is not kept for good.
        "window": [v["window_start"], v["window_end"]], "note_sha256": sha256_text(v["change_note"] or ""),
        "content_hash": v["content_hash"], "count": len(entries),
        "rows": rows_digest([public_row(e) for e in entries]),
        "names": {form: names_commitment(names_salt(key, list_id, version, form),
                                         [mask_name(e["head_name"], form) for e in entries])
                  for form in NAME_FORMS},
    }


def record_version(db, list_id: int, version: int, key: bytes, *, clock) -> dict:
    return append(db, "list.publish" if version == 1 else "list.amend", f"/lists/{list_id}/v{version}",
                  version_content(db, list_id, version, key), clock=clock)


def record_reply(db, complaint_id: int, *, clock) -> dict | None:
    """A concluded case's public reply, as the list page shows it (ground, outcome, the reply's hash)."""
    c = next(db.query("select id, list_id, ground, outcome, public_reply, concluded_at from complaints "
                      "where id = ?", [complaint_id]))
    if not c["list_id"]:
        return None        # a report about no list is answered to its reporter only
    return append(db, "complaint.reply", f"/lists/{c['list_id']}#reply-{c['id']}",
                  {"complaint": c["id"], "list": c["list_id"], "ground": c["ground"], "outcome": c["outcome"],
                   "reply_sha256": sha256_text(c["public_reply"] or "")}, clock=clock)


def record_spot_check(db, list_id: int, kind: str, summary: dict, *, clock) -> dict | None:
    """A draw, or the results once every sampled household is checked: the public summary of the
    list's spot check (counts, never who). Results are not recorded one by one: with the draw
    reproducible from its seed, a count that grew by one at a known time would say whose result it was."""
    if kind == "spotcheck.result" and not summary["complete"]:
        return None
    fields = ("version", "level_name", "percent", "population", "size", "seed", "done", "wrong")
    return append(db, kind, f"/lists/{list_id}#spot-check",
                  {"list": list_id, **{k: summary[k] for k in fields}}, clock=clock)


def record_notice(db, notice_id: int, *, clock) -> dict:
    """A notice: its time and the hash of its title and text (it may be published later than written)."""
    n = next(db.query("select id, region_code, title, body, publish_at from notices where id = ?", [notice_id]))
    return append(db, "notice", f"/notices/{notice_id}",
                  {"notice": n["id"], "region": n["region_code"], "publish_at": n["publish_at"],
                   "sha256": notice_digest(n["title"], n["body"])}, clock=clock)


def notice_digest(title: str, body: str) -> str:
    return sha256_text("notice|" + canonical([title, body]))


def backfill(db, key: bytes, *, clock) -> int:
    """Fill an empty ledger from what was published before it existed, in publication order, each
    entry stamped now (its content keeps the original times). Returns the entries written."""
    if next(db.query("select 1 from ledger limit 1"), None):
        return 0
    events = [(v["published_at"], 0, v["list_id"], v["version"])
              for v in db.query("select list_id, version, published_at from list_versions")]
    events += [(c["concluded_at"], 1, c["id"], 0) for c in db.query(
        "select id, concluded_at from complaints where status = 'concluded' and list_id is not null")]
    events += [(n["created_at"], 2, n["id"], 0) for n in db.query("select id, created_at from notices")]
    for _, what, ident, version in sorted(events):
        if what == 0:
            record_version(db, ident, version, key, clock=clock)
        elif what == 1:
            record_reply(db, ident, clock=clock)
        else:
            record_notice(db, ident, clock=clock)
    return len(events)


def day_heads(db, days: list[dt.date], zone) -> list[tuple[dt.date, dict]]:
    """The head at the end of each day (midnight in the portal's zone), for days the ledger had grown by."""
    out = []
    for day in days:
        end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=zone).astimezone(dt.UTC)
        h = head(db, before=end.isoformat(timespec="seconds"))
        if h["size"]:
            out.append((day, h))
    return out
