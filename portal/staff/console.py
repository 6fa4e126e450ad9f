"""The console's overview pages: the dashboard and the staff view of a region."""

from __future__ import annotations

from flask import abort, g, render_template, request
from flask_login import current_user

from .. import clock
from ..domain import rules
from ..domain.accounts import PUBLISHER
from ..domain.campaigns import campaigns_of, get_campaign, get_quota, quota_use
from ..domain.cases import awaiting_in
from ..domain.numbers import parse_int
from ..domain.publishing import readiness
from ..domain.regions import ancestors, get_region_row
from ..runtime import get_db
from ..web.forms import choices
from ..web.lists import lists_of_region, open_lists_within
from .routing import staff_route


def jurisdiction_choices(db) -> list:
    """The county, townships and villages the logged-in user may act on, for a select field."""
    return choices((r["code"], r["name"]) for r in db.query(
        "select code, name from regions where code like ? and level in ('county', 'township', 'village') order by code",
        [current_user.region_code + "%"]))


def chosen_campaign(db, region_code: str) -> dict | None:
    """The campaign named by ?campaign=, else the county's latest; 404 for one of another county."""
    raw = request.args.get("campaign", "")
    if raw:
        campaign_id = parse_int(raw)
        if campaign_id is None:
            abort(404)      # no campaign has such a number
        campaign = get_campaign(db, campaign_id)
        if campaign is None or campaign["county_code"] != region_code[:6]:
            abort(404)
        return campaign
    latest = campaigns_of(db, region_code)
    return get_campaign(db, latest[0]["id"]) if latest else None


@staff_route("/", permission="console.view")
def dashboard():
    db = get_db()
    region = get_region_row(db, current_user.region_code)
    campaign = chosen_campaign(db, region["code"])
    today = clock.today().isoformat()
    return render_template(
        "staff/dashboard.html",
        region=region,
        crumbs=ancestors(db, region["code"]),
        campaign=campaign,
        campaigns=campaigns_of(db, region["code"]),
        open_lists=open_lists_within(region["code"], clock.today()),
        waiting=_waiting_for_me(db, campaign, region),
        villages=quota_use(db, campaign["id"], region["code"]) if campaign else [],
        cases=_open_cases(db, region["code"], today),
        awaiting=awaiting_in(db, region["code"]) if current_user.can("complaints.replace", region["code"],
                                                                     region["level"]) else [],
    )


def _open_cases(db, region_code: str, today: str) -> dict:
    """Open complaints in the jurisdiction; overdue ones are listed so they stand out."""
    rows = list(db.query("select id, due_on, status from complaints where handler_region like ? "
                         "and status != 'concluded' order by due_on is null, due_on, id", [region_code + "%"]))
    return {"open": len(rows), "overdue": [r for r in rows if r["due_on"] and r["due_on"] < today],
            "unassigned": sum(r["status"] == "received" for r in rows)}


def _waiting_for_me(db, campaign, region) -> list[dict]:
    """Regions in the user's jurisdiction at the level the user publishes, with their readiness."""
    if campaign is None:
        return []
    level = next((lv for lv, role in PUBLISHER.items() if role == current_user.role), None)
    if level is None:
        return []
    rows = db.query("select * from regions where level = ? and code like ? order by code",
                    [level, region["code"] + "%"])
    return [{"region": r, **readiness(db, campaign, r, clock.today())} for r in rows]


@staff_route("/r/<code>", permission="console.view", target="region")
def region(code):
    db = get_db()
    region = get_region_row(db, code)
    campaign = chosen_campaign(db, code)
    applicants = []
    if campaign and region["level"] == "village":
        applicants = list(db.query(
            """
            select h.id, h.head_name, h.size, h.id_masked, v.votes, v.voters_present, h.applied_on,
                   coalesce(gr.name, '') as group_name
            from households h left join votes v on v.household_id = h.id
            left join regions gr on gr.code = h.group_code
            where h.campaign_id = ? and h.village_code = ? order by v.votes desc, h.id
            """,
            [campaign["id"], code]))
    return render_template(
        "staff/region.html",
        region=region,
        crumbs=ancestors(db, code),
        campaign=campaign,
        campaigns=campaigns_of(db, code),
        quota=get_quota(db, campaign["id"], code) if campaign else None,
        children=list(db.query("select code, name, level from regions where parent_code = ? order by code", [code])),
        villages=quota_use(db, campaign["id"], code) if campaign and region["level"] != "group" else [],
        lists=lists_of_region(code, newest_first=False),
        applicants=applicants,
        readiness=readiness(db, campaign, region, clock.today()) if campaign and region["level"] in rules.LIST_LEVELS else None,
        can=lambda permission, level=region["level"]: current_user.can(permission, code, level),
        target_level=g.target_level,
    )
