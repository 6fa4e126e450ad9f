"""The public search page (/search): a GET form that works without JavaScript, over
``portal.search`` (which alone knows about whoosh and reads the key tables)."""

from __future__ import annotations

import re

from flask import Blueprint, current_app, render_template, request
from flask_limiter.util import get_remote_address
from flask_wtf import FlaskForm
from limits import parse_many
from wtforms import SearchField, SelectField
from wtforms.validators import Length, Optional

from .. import clock, search
from ..domain import rules
from ..domain.numbers import parse_int
from ..domain.regions import get_region_row
from ..runtime import get_db
from . import security
from .forms import choices

bp = Blueprint("search", __name__)

STATES = {"open": "公示中", "upcoming": "尚未开始", "closed": "已结束"}
LEVELS = {k: v for k, v in rules.LEVEL_NAMES.items() if k != "group"}
ALLOWED = {"level": LEVELS, "kind": rules.LIST_KINDS, "state": STATES}


class SearchForm(FlaskForm):
    """GET form: no CSRF token (nothing is written), so a search URL can be shared and bookmarked."""

    class Meta:
        csrf = False

    q = SearchField("姓名、村名或拼音", validators=[Length(max=search.MAX_QUERY)])
    level = SelectField("级别", choices=choices([("", "全部"), *LEVELS.items()]), validators=[Optional()])
    kind = SelectField("名单类别", choices=choices([("", "全部"), *rules.LIST_KINDS.items()]), validators=[Optional()])
    state = SelectField("公示状态", choices=choices([("", "全部"), *STATES.items()]), validators=[Optional()])


def _page_number(raw: str | None) -> int:
    """The page asked for; a mangled one (from a link cut short, say) is the first page."""
    return parse_int(raw, low=1, high=1000) or 1


def _may_look_up_names() -> bool:
    """Count one name lookup against this address; False once a limit is used up (each lookup could
    be a guess at the character a list hides)."""
    key = "name-search:" + get_remote_address()
    limits = parse_many(current_app.config["NAME_SEARCH_LIMIT_PER_ADDRESS"])
    counted = [security.hit(limit, key) for limit in limits]     # every limit counts this one
    return all(counted)


@bp.get("/search")
def search_page():
    form = SearchForm(request.args)
    region_code = request.args.get("region", "")
    region = get_region_row(get_db(), region_code) if re.fullmatch(r"[0-9]{6,15}", region_code) else None
    results = None
    if "q" in request.args:
        choice = {name: value if (value := request.args.get(name, "")) in allowed else ""
                  for name, allowed in ALLOWED.items()}
        results = search.search(request.args.get("q", ""), region=region["code"] if region else "",
                                page=_page_number(request.args.get("page")),
                                may_look_up_names=_may_look_up_names, **choice)
    page = render_template("search.html", form=form, region=region, results=results, today=clock.today(),
                           states=STATES)
    return page, 429 if results is not None and results.names_refused else 200
