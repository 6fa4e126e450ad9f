"""Dynamic management in the console (issue 20): the register of a region, proposals to change it
(剔除, 脱贫退出, 返贫纳入) and their steps, and the spot checks (抽查复核) of a list."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user

from .. import clock
from ..domain import adjustments, corrections, register, rules, sampling
from ..domain.campaigns import get_campaign
from ..domain.evidence import EvidenceError, read_upload
from ..domain.numbers import parse_int
from ..domain.regions import ancestors, get_region_row
from ..runtime import evidence_folder, get_db, id_key
from .console import chosen_campaign
from .forms import AgreementForm, ProposeAdjustmentForm, SpotResultForm, StepNoteForm
from .routing import staff_route


def _actor() -> dict:
    return {"actor": current_user.username, "role": current_user.role, "key": id_key(), "clock": clock.current()}


@staff_route("/r/<code>/households", permission="register.view", target="region", methods=("GET", "POST"))
def households(code):
    """The register of a region (names for staff only) and the proposals of the campaign; a village's
    clerk proposes from here."""
    db = get_db()
    region = get_region_row(db, code)
    campaign = chosen_campaign(db, code)
    if campaign is None:
        abort(404)
    form, problem = ProposeAdjustmentForm(), None
    if not form.is_submitted() and (household := parse_int(request.args.get("household", ""))) is not None:
        form.kind.data, form.household_id.data = "remove", household      # from an upheld complaint's case page
        form.complaint_id.data = parse_int(request.args.get("complaint", "")) or ""
    if form.validate_on_submit():
        if not current_user.can("adjustments.propose", code, region["level"]) or region["level"] != "village":
            abort(403)
        household = next(db.query("select village_code from households where id = ?", [form.household_id.data]), None)
        try:
            if household is None or household["village_code"] != code:
                raise rules.PublishError("本村没有这一户。")
            adjustments.propose(db, campaign_id=campaign["id"], household_id=form.household_id.data,
                                kind=form.kind.data, ground=form.ground.data or "", finding=form.finding.data,
                                conditions={k: True for k in form.conditions.data or ()}, today=clock.today(),
                                complaint_id=parse_int(form.complaint_id.data or "") if form.kind.data == "remove"
                                else None, **_actor())
        except rules.PublishError as error:
            problem = str(error)
        else:
            flash(f"已提出{adjustments.KINDS[form.kind.data]}。")
            return redirect(url_for("staff.households", code=code, campaign=campaign["id"]))
    elif form.is_submitted():
        problem = "请检查下面标出的问题。"
    filed = register.register_of(db, campaign["id"], clock.today(), code)
    entries = sorted(filed.values(), key=lambda e: (e.village_code, e.household_id))
    villages = {r["code"]: r["name"] for r in db.query("select code, name from regions where code like ?",
                                                        [code + "%"])}
    return render_template(
        "staff/households.html", region=region, crumbs=ancestors(db, code), campaign=campaign, form=form,
        problem=problem, entries=entries, villages=villages, proposals=adjustments.of_region(db, campaign["id"], code),
        counts=register.counts(db, campaign["id"], clock.today(), code, filed), statuses=register.STATUS,
        rates=register.rates(db, campaign["id"], clock.today(), code, filed),
        adjustment_status=adjustments.STATUS, kinds=adjustments.KINDS,
        previous=get_campaign(db, campaign["previous_id"]) if campaign.get("previous_id") else None,
        agreement_form=AgreementForm(), note_form=StepNoteForm(),
        can=lambda permission: current_user.can(permission, code, region["level"]),
    ), 400 if problem else 200


def _step_view(adjustment_id: int, form, do, done: str):
    db = get_db()
    row = adjustments.get(db, adjustment_id)
    if form.validate_on_submit():
        try:
            do(db, row)
        except rules.PublishError as error:
            flash(str(error), "error")
        else:
            flash(done)
    else:
        flash("；".join(e for errors in form.errors.values() for e in errors) or "请检查填写的内容。", "error")
    return redirect(url_for("staff.households", code=row["village_code"], campaign=row["campaign_id"]))


@staff_route("/adjustments/<id:adjustment_id>/verify", permission="adjustments.verify", target="adjustment",
             methods=("POST",))
def adjustment_verify(adjustment_id):
    form = StepNoteForm()
    return _step_view(adjustment_id, form, lambda db, row: adjustments.verify_exit(
        db, adjustment_id, note=form.note.data, **_actor()), "已登记工作队核实。")


@staff_route("/adjustments/<id:adjustment_id>/agreement", permission="adjustments.propose", target="adjustment",
             methods=("POST",))
def adjustment_agreement(adjustment_id):
    form = AgreementForm()

    def record(db, row):
        photo = None
        if form.photo.data and getattr(form.photo.data, "filename", ""):
            try:
                photo = read_upload(form.photo.data.stream, allow_pdf=False)
            except EvidenceError as error:
                raise rules.PublishError(str(error)) from error
        adjustments.record_agreement(db, adjustment_id, agreed=form.agreed.data == "yes", on=form.on.data,
                                     how=form.how.data or "", note=form.note.data, today=clock.today(), photo=photo,
                                     folder=evidence_folder("agreements"), **_actor())

    return _step_view(adjustment_id, form, record, "已登记农户意见。")


@staff_route("/adjustments/<id:adjustment_id>/agreement.photo", permission="register.view", target="adjustment")
def agreement_photo(adjustment_id):
    """The signed exit form's photo, for staff only, as an attachment."""
    row = adjustments.get(get_db(), adjustment_id)
    path = evidence_folder("agreements") / row["agreement_file"] if row["agreement_file"] else None
    if path is None or not path.is_file():
        abort(404)
    return send_file(path, mimetype=row["agreement_file_type"], max_age=0, as_attachment=True,
                     download_name=f"退出确认书{adjustment_id}.{row['agreement_file'].rsplit('.', 1)[-1]}")


@staff_route("/adjustments/<id:adjustment_id>/override", permission="adjustments.override", target="adjustment",
             methods=("POST",))
def adjustment_override(adjustment_id):
    form = StepNoteForm()
    return _step_view(adjustment_id, form, lambda db, row: adjustments.override_refusal(
        db, adjustment_id, reason=form.note.data, **_actor()), "已记录理由，可以列入退出名单。")


@staff_route("/adjustments/<id:adjustment_id>/withdraw", permission="adjustments.propose", target="adjustment",
             methods=("POST",))
def adjustment_withdraw(adjustment_id):
    form = StepNoteForm()
    return _step_view(adjustment_id, form, lambda db, row: adjustments.withdraw(
        db, adjustment_id, reason=form.note.data, **_actor()), "已撤回。")


def _list_and_campaign(db, list_id: int):
    lst = next(db.query("select * from lists where id = ?", [list_id]), None)
    return lst, get_campaign(db, lst["campaign_id"])


@staff_route("/lists/<id:list_id>/spotcheck", permission="lists.view", target="list")
def spotcheck(list_id):
    db = get_db()
    lst, campaign = _list_and_campaign(db, list_id)
    level = sampling.checking_level(campaign, lst)
    check = sampling.latest(db, list_id)
    may_record = level is not None and current_user.can("spotcheck.record", lst["region_code"], lst["level"]) \
        and get_region_row(db, current_user.region_code)["level"] == level
    return render_template(
        "staff/spotcheck.html", lst=lst, campaign=campaign, level=level, check=check, may_record=may_record,
        crumbs=ancestors(db, lst["region_code"]), results=sampling.RESULTS, method=sampling.METHOD_TEXT,
        form=SpotResultForm(), level_names=rules.LEVEL_NAMES,
        percent=campaign["sampling"].get(level) if level else None,
        drawn_version=check and check["version"] == lst["current_version"])


def _checker_or_refuse(db, lst, campaign) -> str | None:
    """Why the logged-in user may not record this list's spot check (the level above it checks)."""
    level = sampling.checking_level(campaign, lst)
    if level is None:
        return "这份名单不需要抽查复核。"
    if get_region_row(db, current_user.region_code)["level"] != level:
        return f"这份名单由{rules.LEVEL_NAMES[level]}抽查复核。"
    return None


@staff_route("/lists/<id:list_id>/spotcheck/draw", permission="spotcheck.record", target="list", methods=("POST",))
def spotcheck_draw(list_id):
    db = get_db()
    lst, campaign = _list_and_campaign(db, list_id)
    refusal = _checker_or_refuse(db, lst, campaign)
    try:
        if refusal:
            raise rules.PublishError(refusal)
        sampling.draw_check(db, campaign=campaign, list_id=list_id, **_actor())
    except rules.PublishError as error:
        flash(str(error), "error")
    else:
        flash("已抽取样本，请逐户核查并登记结果。")
    return redirect(url_for("staff.spotcheck", list_id=list_id))


@staff_route("/lists/<id:list_id>/spotcheck/<int:position>", permission="spotcheck.record", target="list",
             methods=("POST",))
def spotcheck_result(list_id, position):
    db = get_db()
    lst, campaign = _list_and_campaign(db, list_id)
    form = SpotResultForm()
    check = sampling.latest(db, list_id)
    refusal = _checker_or_refuse(db, lst, campaign) or (None if check else "还没有抽取样本。")
    if form.validate_on_submit():
        try:
            if refusal:
                raise rules.PublishError(refusal)
            sampling.record_result(db, check_id=check["id"], position=position, result=form.result.data,
                                   note=form.note.data, **_actor())
        except rules.PublishError as error:
            flash(str(error), "error")
        else:
            flash("已登记抽查结果。")
    else:
        flash("请选择抽查结果。", "error")
    return redirect(url_for("staff.spotcheck", list_id=list_id))


@staff_route("/complaints/<id:complaint_id>/take-off", permission="complaints.replace", target="complaint",
             methods=("POST",))
def take_off(complaint_id):
    """An upheld objection to a household on a removal, exit or re-entry list: its proposal is withdrawn
    and the list republished without it (the household keeps its register status)."""
    db = get_db()
    c = next(db.query("select * from complaints where id = ?", [complaint_id]))
    form = StepNoteForm()
    if not form.validate_on_submit():
        flash("请写明理由。", "error")
    elif c["outcome"] != "upheld" or not c["household_id"] or not c["list_id"]:
        flash("只有查实、并且针对名单上某一户的异议，才能这样处理。", "error")
    else:
        try:
            corrections.take_off(db, list_id=c["list_id"], household_id=c["household_id"], reason=form.note.data,
                                 complaint_id=complaint_id, today=clock.today(), **_actor())
        except rules.PublishError as error:
            flash(str(error), "error")
        else:
            flash("已撤回该户的调整事项，并发布了新版本的名单。")
    return redirect(url_for("staff.case", complaint_id=complaint_id))
