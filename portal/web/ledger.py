"""The public ledger on the web (issue 21): the page that explains it, the entries as JSON (paged),
the head, the verifier anyone can download, and the index of every list the verifier walks."""

from __future__ import annotations

import json
from pathlib import Path

from flask import Blueprint, current_app, render_template, request, url_for

from ..domain import ledger
from ..domain.numbers import parse_int
from ..runtime import get_db

bp = Blueprint("ledger", __name__)

PAGE = 500
VERIFIER = Path(__file__).resolve().parent.parent / "verify.py"


def _json(body, status: int = 200):
    return current_app.response_class(json.dumps(body, ensure_ascii=False, indent=1), status=status,
                                      mimetype="application/json")


@bp.get("/ledger")
def ledger_page():
    db = get_db()
    head = ledger.head(db)
    return render_template("ledger.html", head=head, kinds=ledger.KIND_NAMES,
                           recent=list(reversed(ledger.page(db, max(head["size"] - 10, 0), 10))))


@bp.get("/ledger.json")
def ledger_json():
    """Entries after ``?after=`` (default 0), at most ``?limit=`` (default and most 500), oldest first."""
    db = get_db()
    after = parse_int(request.args.get("after", "0")) if request.args.get("after") else 0
    limit = parse_int(request.args.get("limit", str(PAGE)), low=1, high=PAGE) if request.args.get("limit") else PAGE
    if after is None or limit is None:
        return _json({"error": "after 和 limit 须为整数，limit 为 1 到 500。"}, 400)
    entries = ledger.page(db, after, limit)
    head = ledger.head(db)
    last = entries[-1]["seq"] if entries else after
    return _json({
        "format": "gongshi-ledger-v1",
        "hash_rule": 'sha256("gongshi-ledger-v1\\n" + JSON of {seq, at, kind, ref, content, prev}, '
                     "keys sorted, separators (',', ':'), UTF-8 unescaped)",
        "head": head,
        "entries": entries,
        "next": url_for("ledger.ledger_json", after=last, limit=limit, _external=True) if last < head["size"] else None,
    })


@bp.get("/ledger/head.json")
def head_json():
    return _json(ledger.head(get_db()))


@bp.get("/ledger/verify.py")
def verifier():
    return current_app.response_class(VERIFIER.read_text(encoding="utf-8"), mimetype="text/x-python",
                                      headers={"Content-Disposition": 'inline; filename="verify.py"'})


@bp.get("/lists.json")
def lists_index():
    """Every published list with its current version and 校验码: what the verifier walks."""
    rows = get_db().query(
        "select l.id, l.title, l.level, l.kind, l.region_code, l.current_version, v.content_hash, "
        "v.window_start, v.window_end from lists l "
        "join list_versions v on v.list_id = l.id and v.version = l.current_version order by l.id")
    return _json({"lists": [
        {"id": r["id"], "title": r["title"], "level": r["level"], "kind": r["kind"], "region": r["region_code"],
         "version": r["current_version"], "content_hash": r["content_hash"],
         "window": {"start": r["window_start"], "end": r["window_end"]},
         "url": url_for("lists.list_page", list_id=r["id"]),
         "json": url_for("lists.list_json", list_id=r["id"], version=r["current_version"])}
        for r in rows]})
