"""The public notice page, and the notices whose time has come (home page, region pages, feeds)."""

from __future__ import annotations

from flask import Blueprint, abort, render_template

from .. import clock
from ..domain.regions import ancestors
from ..runtime import get_db
from .templating import render_markdown

bp = Blueprint("notices", __name__)


@bp.get("/notices/<id:notice_id>")
def notice(notice_id):
    row = next(get_db().query("select * from notices where id = ?", [notice_id]), None)
    if row is None or row["publish_at"] > clock.local_stamp():
        abort(404)           # a scheduled notice does not exist for the public until its time
    return render_template("notice.html", n=row, body=render_markdown(row["body"]),
                           crumbs=ancestors(get_db(), row["region_code"]))
