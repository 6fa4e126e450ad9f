"""Village clerks enter and edit applicant households and their votes; staff preview the selection."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3

from flask import abort, current_app, flash, redirect, render_template, url_for
from flask_login import current_user

from .. import clock
from ..domain import rules
from ..domain.campaigns import (
    above_line,
    add_household,
    get_quota,
    household_snapshot,
    in_published_ranking,
    published_selection,
    update_household,
    village_selection,
)
from ..domain.regions import ancestors, get_region_row
from ..runtime import get_db, id_key
from ..web.forms import choices
from .console import chosen_campaign
from .forms import EditApplicantForm
from .routing import staff_route

DUPLICATE_ID = "这个身份证号已经登记在本批次的另一户（可能是拆户或空挂户），不能重复登记。"


def _group_choices(db, village_code: str) -> list:
    return choices([("", "（不分组）")] + [(r["code"], r["name"]) for r in db.query(
        "select code, name from regions where parent_code = ? order by code", [village_code])])


def village_and_campaign(db, code: str) -> tuple[dict, dict]:
    """The village the URL names and the campaign chosen for it; 404 for other levels or none."""
    region = get_region_row(db, code)
    campaign = chosen_campaign(db, code)
    if region["level"] != "village" or campaign is None:
        abort(404)
    return region, campaign


@staff_route("/r/<code>/applicants/new", permission="applicants.edit", target="region", methods=("GET", "POST"))
def new_applicant(code):
    db = get_db()
    region, campaign = village_and_campaign(db, code)
    form = EditApplicantForm()
    form.group_code.choices = _group_choices(db, code)
    if not form.is_submitted():
        form.applied_on.data = clock.today()
    if form.validate_on_submit():
        try:
            add_household(
                db, campaign_id=campaign["id"], village_code=code, group_code=form.group_code.data or None,
                head_name=form.head_name.data, size=form.size.data, applied_on=form.applied_on.data,
                id_number=form.id_number.data or None, id_key=id_key(), causes=form.causes.data,
                income_per_capita=float(form.income_per_capita.data), disabled_member=form.disabled_member.data,
                single_child=form.single_child.data, all_daughters=form.all_daughters.data,
                dibao=form.dibao.data, wubao=form.wubao.data, latin_names=current_app.config["NAME_LATIN"],
                votes=form.votes.data, voters_present=form.voters_present.data, actor=current_user.username,
                role=current_user.role, clock=clock.current())
        except sqlite3.IntegrityError:
            form.id_number.errors.append(DUPLICATE_ID)
        else:
            flash(f"已录入：{form.head_name.data.strip()}。可以接着录入下一户。")
            return redirect(url_for("staff.new_applicant", code=code, campaign=campaign["id"]))
    return render_template("staff/applicant.html", form=form, region=region, crumbs=ancestors(db, code),
                           campaign=campaign, household=None), 400 if form.errors else 200


@staff_route("/applicants/<id:household_id>", permission="applicants.edit", target="household", methods=("GET", "POST"))
def edit_applicant(household_id):
    db = get_db()
    before = household_snapshot(db, household_id)
    region = get_region_row(db, before["village_code"])
    form = EditApplicantForm()
    form.group_code.choices = _group_choices(db, region["code"])
    if not form.is_submitted():
        _fill(form, before)
    ranked = in_published_ranking(db, household_id)
    if ranked and form.is_submitted():
        form.head_name.errors = [RANKED]
    elif form.validate_on_submit():
        try:
            update_household(db, household_id, _household_fields(form), id_number=form.id_number.data or None,
                             votes=form.votes.data, voters_present=form.voters_present.data,
                             actor=current_user.username, role=current_user.role, key=id_key(), clock=clock.current())
        except sqlite3.IntegrityError:
            form.id_number.errors.append(DUPLICATE_ID)
        else:
            flash("已保存修改。已公示的名单不受影响；如需更正名单，请发布新版本。")
            return redirect(url_for("staff.region", code=region["code"], campaign=before["campaign_id"]))
    return render_template("staff/applicant.html", form=form, region=region, crumbs=ancestors(db, region["code"]),
                           campaign={"id": before["campaign_id"]}, household=before, ranked=ranked
                           ), 400 if (form.errors or (ranked and form.is_submitted())) else 200


#: Why a ranked household's data cannot be edited (issue 16, item 5: the vote of record).
RANKED = "这户已列入公示时的票决排名：排名和递补都以公示时的信息为准，不能在这里修改。如登记有误，请按程序更正名单。"


def _fill(form: EditApplicantForm, row: dict) -> None:
    form.head_name.data = row["head_name"]
    form.size.data = row["size"]
    form.group_code.data = row["group_code"] or ""
    form.causes.data = json.loads(row["causes"])
    form.income_per_capita.data = row["income_per_capita"]
    form.disabled_member.data = bool(row["disabled_member"])
    form.single_child.data = bool(row["single_child"])
    form.all_daughters.data = bool(row["all_daughters"])
    form.dibao.data = bool(row["dibao"])
    form.wubao.data = bool(row["wubao"])
    form.applied_on.data = dt.date.fromisoformat(row["applied_on"])
    form.votes.data = row["votes"]
    form.voters_present.data = row["voters_present"]


def _household_fields(form: EditApplicantForm) -> dict:
    """The household columns the entry form edits."""
    return {
        "head_name": form.head_name.data.strip(), "size": form.size.data, "group_code": form.group_code.data or None,
        "causes": json.dumps(form.causes.data), "income_per_capita": float(form.income_per_capita.data),
        "disabled_member": int(form.disabled_member.data), "single_child": int(form.single_child.data),
        "all_daughters": int(form.all_daughters.data), "dibao": int(form.dibao.data), "wubao": int(form.wubao.data),
        "applied_on": form.applied_on.data.isoformat(),
    }


@staff_route("/r/<code>/selection", permission="selection.preview", target="region")
def selection(code):
    db = get_db()
    region, campaign = village_and_campaign(db, code)
    names = {r["id"]: r for r in db.query(
        "select h.id, h.head_name, h.size, v.votes, v.voters_present, "
        "h.disabled_member + h.single_child + h.all_daughters as priority_count, h.income_per_capita, h.applied_on "
        "from households h left join votes v on v.household_id = h.id where h.campaign_id = ? and h.village_code = ?",
        [campaign["id"], code])}
    published = published_selection(db, campaign["id"], code)
    try:
        result = published or village_selection(db, campaign["id"], code)
    except rules.QuotaError as error:
        result, problem = None, str(error)
    else:
        problem = None
    scope = rules.Scope.of(campaign)
    flagged = {r["id"] for r in above_line(db, campaign, [a.id for a in result.selected])} if result else set()
    return render_template("staff/selection.html", region=region, crumbs=ancestors(db, code), campaign=campaign,
                           result=result, problem=problem, names=names, published=published is not None,
                           quota=get_quota(db, campaign["id"], code), ranking_rule=rules.RANKING_RULE_TEXT,
                           scope=scope, flagged=flagged)
