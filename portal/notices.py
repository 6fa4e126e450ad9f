"""Notices (公告): staff write them in markdown; they go public at their scheduled time on the home
page, at ``/notices/<id>`` and in the feeds. The markdown is sanitised with nh3 on the way out."""

from __future__ import annotations

from flask import Blueprint, abort, render_template

from . import audit, clock, search
from .db import get_db, write_transaction
from .home import render_markdown
from .regions import ancestors

bp = Blueprint("notices", __name__)


def create_notice(db, *, region_code: str, title: str, body: str, publish_at: str, actor: str, role: str,
                  clock) -> int:
    """Save a notice, its audit row and its search outbox row in one transaction."""
    now = clock.stamp()
    with write_transaction(db):
        notice_id = db["notices"].insert({
            "region_code": region_code, "title": title.strip(), "body": body, "publish_at": publish_at,
            "author": actor, "created_at": now, "updated_at": now}).last_pk
        audit.record(db, actor=actor, role=role, action="notice.create", object_type="notice", object_id=notice_id,
                     region_code=region_code, after={"title": title, "publish_at": publish_at}, clock=clock)
        search.enqueue(db, f"notice:{notice_id}", clock=clock)
    return notice_id


def published_notices(region_code: str | None = None, limit: int = 10) -> list[dict]:
    """Notices whose time has come, newest first, for the site or a region's subtree."""
    now = clock.local_stamp()
    sql = "select n.*, r.name as region_name from notices n join regions r on r.code = n.region_code where n.publish_at <= ?"
    params: list = [now]
    if region_code:
        sql += " and n.region_code >= ? and n.region_code < ? || ':'"
        params += [region_code, region_code]
    sql += " order by n.publish_at desc, n.id desc limit ?"
    return list(get_db().query(sql, params + [limit]))


@bp.get("/notices/<id:notice_id>")
def notice(notice_id):
    row = next(get_db().query("select * from notices where id = ?", [notice_id]), None)
    if row is None or row["publish_at"] > clock.local_stamp():
        abort(404)           # a scheduled notice does not exist for the public until its time
    return render_template("notice.html", n=row, body=render_markdown(row["body"]),
                           crumbs=ancestors(get_db(), row["region_code"]))
