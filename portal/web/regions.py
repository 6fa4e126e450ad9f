"""The public region page (/r/<code>): its quotas, the regions under it and the lists that cover it."""

from __future__ import annotations

from flask import Blueprint, abort, render_template

from .. import clock
from ..domain.regions import (
    ancestors,
    children_with_quotas,
    get_region_row,
    level_of_code,
    quotas_of,
)
from ..domain.register import public_totals
from ..runtime import get_db
from .caching import cached_page
from .lists import lists_above, lists_of_region

bp = Blueprint("regions", __name__)


def get_region(code: str) -> dict:
    """The region or a 404 (malformed codes never reach the database)."""
    if level_of_code(code) is None:
        abort(404)
    region = get_region_row(get_db(), code)
    if region is None:
        abort(404)
    return region


@bp.get("/r/<code>")
@cached_page
def region_page(code):
    region = get_region(code)
    db = get_db()
    return render_template(
        "region.html",
        region=region,
        crumbs=ancestors(db, code),
        quotas=quotas_of(db, code),
        children=children_with_quotas(db, code),
        lists=lists_of_region(code),
        upper_lists=lists_above(code),
        register=public_totals(db, code, clock.today()),
    )
