"""The public notice page, and the notices whose time has come (home page, region pages, feeds)."""

from __future__ import annotations

from flask import Blueprint, abort, render_template

from .. import clock
from ..domain.regions import ancestors
from ..runtime import get_db
from .templating import render_markdown

bp = Blueprint("notices", __name__)


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
