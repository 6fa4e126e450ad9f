"""County administration: users of the county, quotas, campaigns, and the audit log."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import IntegerField
from wtforms.validators import InputRequired, NumberRange

from .. import clock
from ..domain import audit, rules
from ..domain.accounts import ROLES, AccountError, create_user
from ..domain.accounts import deactivate_user as deactivate_account
from ..domain.campaigns import (
    campaigns_of,
    create_campaign,
    get_quota,
    open_next_round,
    split_quotas,
)
from ..domain.regions import ancestors, get_region_row
from ..runtime import get_db, id_key
from ..web.forms import choices
from .console import chosen_campaign
from .forms import DeactivateUserForm, NewCampaignForm, NewUserForm
from .routing import staff_route

LEVEL_LABELS = {"county": "县", "township": "乡镇", "village": "村"}


@staff_route("/users", permission="admin.users")
def users():
    rows = list(get_db().query(
        "select u.id, u.username, u.display_name, u.role, u.active, r.name as region_name, u.region_code "
        "from users u join regions r on r.code = u.region_code where u.region_code like ? order by u.region_code, u.id",
        [current_user.region_code + "%"]))
    return render_template("staff/users.html", users=rows, roles=ROLES, deactivate=DeactivateUserForm())


@staff_route("/users/new", permission="admin.users", methods=("GET", "POST"))
def new_user():
    db = get_db()
    form = NewUserForm()
    form.region_code.choices = choices(
        (r["code"], "　" * ("county township village".split().index(r["level"])) + r["name"])
        for r in db.query("select code, name, level from regions where code like ? and level != 'group' order by code",
                          [current_user.region_code + "%"]))
    submitted_region = request.form.get("region_code", "")
    if form.is_submitted() and submitted_region and not current_user.can("admin.users", submitted_region):
        abort(403)   # a form posted for a region outside the admin's county
    if form.validate_on_submit():
        try:
            create_user(db, username=form.username.data, display_name=form.display_name.data, role=form.role.data,
                        region_code=form.region_code.data, password=form.password.data,
                        actor=current_user.username, actor_role=current_user.role, key=id_key(),
                        clock=clock.current())
        except AccountError as error:
            form[error.field].errors.append(str(error))
        else:
            flash(f"已创建账号 {form.username.data}。请把初始密码当面告诉本人，并提醒登录后修改。")
            return redirect(url_for("staff.users"))
    return render_template("staff/user_new.html", form=form), 400 if form.errors else 200


@staff_route("/users/<id:user_id>/deactivate", permission="admin.users", target="user", methods=("POST",))
def deactivate_user(user_id):
    db = get_db()
    if not DeactivateUserForm().validate_on_submit():
        abort(400)
    if user_id == current_user.id:
        flash("不能停用自己的账号。")
        return redirect(url_for("staff.users"))
    row = deactivate_account(db, user_id, actor=current_user.username, role=current_user.role, key=id_key(),
                          clock=clock.current())
    flash(f"已停用账号 {row['username']}，该账号的登录立即失效。")
    return redirect(url_for("staff.users"))


def quota_form_class(children: list[dict], with_reserve: bool):
    """A form with one quota field per child region (and the reserve for a county)."""
    fields = {f"q_{c['code']}": IntegerField(c["name"], validators=[
        InputRequired(f"请填写{c['name']}的规模。"), NumberRange(0, 10_000_000, "规模不能为负数。")]) for c in children}
    if with_reserve:
        fields["reserve"] = IntegerField("预留机动名额（因灾、因病新致贫返贫用）",
                                         validators=[InputRequired("请填写预留名额（没有填 0）。"), NumberRange(0, 10_000_000)])
    return type("EditQuotasForm", (FlaskForm,), fields)


@staff_route("/r/<code>/quotas", permission="admin.quotas", target="region", methods=("GET", "POST"))
def quotas(code):
    db = get_db()
    region = get_region_row(db, code)
    campaign = chosen_campaign(db, code)
    if campaign is None or region["level"] not in ("county", "township"):
        abort(404)
    own = get_quota(db, campaign["id"], code)
    children = list(db.query("select code, name from regions where parent_code = ? order by code", [code]))
    form = quota_form_class(children, region["level"] == "county")()
    if not form.is_submitted():
        for c in children:
            q = get_quota(db, campaign["id"], c["code"])
            form[f"q_{c['code']}"].data = q["persons"] if q else 0
        if "reserve" in form:
            form.reserve.data = own["reserve"] if own else 0
    problem = None
    if form.validate_on_submit():
        try:
            _save_quotas(db, campaign, region, own, children, form)
        except rules.QuotaError as error:
            problem = str(error)
        else:
            flash("规模指标已保存。")
            return redirect(url_for("staff.region", code=code, campaign=campaign["id"]))
    return render_template("staff/quotas.html", form=form, region=region, crumbs=ancestors(db, code), own=own,
                           campaign=campaign, children=children, problem=problem), 400 if (problem or form.errors) else 200


def _save_quotas(db, campaign, region, own, children, form) -> None:
    split_quotas(db, campaign, region, {c["code"]: form[f"q_{c['code']}"].data for c in children},
                 form.reserve.data if "reserve" in form else None, actor=current_user.username,
                 role=current_user.role, key=id_key(), clock=clock.current())


@staff_route("/campaigns/new", permission="admin.campaigns", methods=("GET", "POST"))
def new_campaign():
    db = get_db()
    form = NewCampaignForm()
    county = current_user.region_code[:6]
    form.previous_id.choices = choices([("", "不接续（第一次识别）"),
                                        *((str(c["id"]), c["name"]) for c in campaigns_of(db, county))])
    if form.validate_on_submit():
        chain = [{"level": "village", "name": "初选公示", "days": form.village_days.data},
                 {"level": "township", "name": "审核公示", "days": form.township_days.data},
                 {"level": "county", "name": "审定公告", "days": form.county_days.data}]
        chains = {"exit": [{"level": "village", "name": "退出公示", "days": form.village_days.data},
                           {"level": "county", "name": "退出公告", "days": form.county_days.data}]} \
            if form.exit_skip_township.data else {}
        settings = dict(name=form.name.data.strip(), reference_date=form.reference_date.data,
                        income_line=form.income_line.data, chain=chain, chains=chains, dibao=form.dibao.data,
                        wubao_excluded=form.wubao_excluded.data, stop_at_first_misfit=form.stop_at_first_misfit.data,
                        sampling={"township": form.township_percent.data or 20, "county": form.county_percent.data or 5},
                        actor=current_user.username, role=current_user.role, key=id_key(), clock=clock.current())
        if form.previous_id.data:
            campaign_id = open_next_round(db, previous_id=int(form.previous_id.data),
                                          carry_quotas=form.carry_quotas.data, **settings)
            flash("已建立下一轮批次，上一轮的名册已经带入。" + ("规模指标已沿用，可以重新分解。" if form.carry_quotas.data
                                                     else "请先下达县级规模指标，再分解到乡镇和村。"))
            return redirect(url_for("staff.dashboard", campaign=campaign_id))
        campaign_id = create_campaign(db, county_code=county, **settings)
        flash("已建立新批次。请先下达县级规模指标，再分解到乡镇和村。")
        return redirect(url_for("staff.dashboard", campaign=campaign_id))
    return render_template("staff/campaign_new.html", form=form), 400 if form.errors else 200


@staff_route("/audit", permission="admin.users")
def audit_log():
    db = get_db()
    rows = list(db.query("select * from audit_log where region_code like ? order by id desc limit 200",
                         [current_user.region_code + "%"]))
    return render_template("staff/audit.html", rows=rows, broken=audit.first_broken_row(db, id_key()))
