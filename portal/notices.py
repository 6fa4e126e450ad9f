"""Notices (公告): staff write them in markdown; they go public at their scheduled time on the home
page, at ``/notices/<id>`` and in the feeds. The markdown is sanitised with nh3 on the way out."""

from __future__ import annotations

from flask import Blueprint, abort, render_template

from . import clock
from .db import get_db
from .home import render_markdown
from .regions import ancestors

bp = Blueprint("notices", __name__)


def published_notices(region_code: str | None = None, limit: int = 10) -> list[dict]:
    """Notices whose time has come, newest first, for the site or a region's subtree."""
    now = clock.now().astimezone(clock.zone()).isoformat(timespec="seconds")
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
    if row is None or row["publish_at"] > clock.now().astimezone(clock.zone()).isoformat(timespec="seconds"):
        abort(404)           # a scheduled notice does not exist for the public until its time
    return render_template("notice.html", n=row, body=render_markdown(row["body"]),
                           crumbs=ancestors(get_db(), row["region_code"]))
