"""Handling complaints in the console: assign an investigator with a due date, conclude with an
outcome and a public reply, confirm the 依次递补 replacement, register reports taken offline."""

from __future__ import annotations

from flask import (
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    send_file,
    url_for,
)
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
    ValidationError,
)
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from .. import clock
from ..domain import cases as workflow
from ..domain import rules
from ..domain.accounts import ROLES
from ..domain.cases import (
    HOUSEHOLD_GROUNDS,
    CaseError,
    awaits_action,
    get_case,
    next_actors,
)
from ..domain.complaints import CHANNELS, GROUNDS, OUTCOMES, STATUS
from ..domain.numbers import parse_int
from ..domain.publishing import PublishError
from ..domain.regions import get_region_row
from ..domain.register import ON_REGISTER, status_of
from ..domain.replacement import highest_list_carrying, omitted_candidates, propose
from ..domain.rules import QuotaError
from ..domain.workdays import add_working_days
from ..runtime import evidence_folder, get_db, id_key
from ..web.forms import choices
from .console import jurisdiction_choices
from .routing import staff_route


class AssignForm(FlaskForm):
    investigator = SelectField("调查人员", coerce=int, choices=[])
    due_on = DateField("办结期限", validators=[InputRequired("请填写办结期限。")])

    def validate_due_on(self, field):
        if field.data < clock.today():
            raise ValidationError("办结期限不能早于今天。")


class ConcludeForm(FlaskForm):
    outcome = RadioField("结论", choices=choices(OUTCOMES.items()), validators=[DataRequired("请选择结论。")])
    findings = TextAreaField("调查经过和结果（内部，不公开）", validators=[DataRequired("请写明调查情况。"), Length(max=5000)])
    public_reply = TextAreaField("公开答复（会显示在名单页面；不写举报人和农户全名）",
                                 validators=[DataRequired("请写公开答复。"), Length(max=1000)])
    # 漏评 reports only: the household the investigation found wrongly left out (recorded on the case).
    omitted = SelectField("查实被漏评的农户（漏评查实时必选；还没有录入的，请先由村里录入）",
                          coerce=lambda v: int(v) if v not in ("", None) else None, choices=[], validate_choice=False)


class RegisterForm(FlaskForm):
    channel = SelectField("收到的方式", choices=choices((k, v) for k, v in CHANNELS.items() if k != "online"))
    list_id = StringField("名单编号（网址 /lists/ 后面的数字；反映具体名单时填）", validators=[Optional(), Length(max=12)])
    entry = StringField("名单上的序号（反映具体某一户时填）", validators=[Optional(), Length(max=6)])
    region = SelectField("反映哪里的问题（没有名单编号时）", choices=[])
    ground = SelectField("反映什么问题", choices=choices(GROUNDS.items()))
    text = TextAreaField("具体情况", validators=[DataRequired("请记录具体情况。"), Length(max=5000)])
    name = StringField("反映人姓名（可不填）", validators=[Optional(), Length(max=40)])
    phone = StringField("联系电话（可不填）", validators=[Optional(), Length(max=30)])


class OmissionForm(FlaskForm):
    household = SelectField("补录哪一户", coerce=int, choices=[])
    start = DateField("补录户公示开始日期", validators=[InputRequired("请填写公示开始日期。")])
    use_reserve = BooleanField("本村指标不够时，动用县预留机动名额（县扶贫办批准）")


class ReplaceForm(FlaskForm):
    expected = StringField(validators=[Optional()])
    start = DateField("递补户公示开始日期", validators=[InputRequired("请填写公示开始日期。")])


#: How the case timeline names each event (complaint_events.kind), and what a file is.
EVENT_NAMES = {"filed": "收到举报", "info_added": "举报人补充情况", "assigned": "安排调查", "concluded": "办结"}
FILE_KINDS = {"image/jpeg": "照片", "image/png": "图片", "application/pdf": "PDF 文件"}

def handles(c: dict) -> bool:
    """The staff handling a case: its assigned investigator, or the handling unit itself (not a
    superior that merely oversees the area). Only they see the reporter and conclude it."""
    return current_user.id == c["investigator_id"] or (
        current_user.region_code == c["handler_region"] and current_user.role != "investigator")


@staff_route("/complaints", permission="complaints.view")
def cases():
    rows = list(get_db().query(
        "select c.id, c.ground, c.status, c.due_on, c.filed_at, c.channel, c.within_window, r.name as handler_name, "
        "l.title as list_title from complaints c join regions r on r.code = c.handler_region "
        "left join lists l on l.id = c.list_id where c.handler_region like ? "
        "order by c.status = 'concluded', c.due_on is null, c.due_on, c.id", [current_user.region_code + "%"]))
    return render_template("staff/cases.html", rows=rows, today=clock.today().isoformat(), grounds=GROUNDS,
                           status=STATUS, channel_names=CHANNELS)


@staff_route("/complaints/<id:complaint_id>", permission="complaints.view", target="complaint")
def case(complaint_id):
    db = get_db()
    c = get_case(get_db(), complaint_id)
    assign = AssignForm()
    assign.investigator.choices = _investigators(db, c["handler_region"])
    days = int(current_app.config["COMPLAINT_DUE_DAYS"])
    assign.due_on.data, known = add_working_days(clock.today(), days)
    due_hint = (f"已按 {days} 个工作日预填（不算周末和法定节假日，调休上班的日子算工作日）。" if known else
                f"已按 {days} 个工作日预填。{assign.due_on.data.year} 年的节假日安排还没有收录，"
                "这段时间按周一至周五计算，请对照放假通知核对。")
    disqualified = bool(c["household_id"] and next(db.query(
        "select 1 from disqualifications where household_id = ?", [c["household_id"]]), None))
    action = awaits_action(c, disqualified)
    if action == "replace" and _registered(db, c):
        action = "remove"       # already on the register: the path is 剔除 through its own list (issue 20)
    if c["outcome"] == "upheld" and c["household_id"] and not c["resolved_household_id"] and next(db.query(
            "select 1 from lists where id = ? and kind in ('remove', 'exit', 'reenter')", [c["list_id"]]), None):
        action = "take_off"     # an objection to a removal, exit or re-entry upheld (issue 20)
    return render_template(
        "staff/case.html", c=c, grounds=GROUNDS, status=STATUS, outcomes=OUTCOMES, channel_names=CHANNELS,
        event_names=EVENT_NAMES, file_kinds=FILE_KINDS,
        events=list(db.query("select * from complaint_events where complaint_id = ? order by id", [complaint_id])),
        files=list(db.query("select * from complaint_files where complaint_id = ? order by id", [complaint_id])),
        assign=assign, due_hint=due_hint, conclude=_conclude_form(db, c), today=clock.today().isoformat(),
        handles=handles(c), can=lambda p: current_user.can(p, g.target_region, g.target_level),
        action=action, next_actors=next_actors(db, c) if action else [])


def _registered(db, c: dict) -> bool:
    """Whether the case's household is a filed household (建档立卡户) of its list's campaign today."""
    lst = next(db.query("select campaign_id from lists where id = ?", [c["list_id"]]), None)
    return bool(lst) and status_of(db, lst["campaign_id"], c["household_id"], clock.today()) in ON_REGISTER


def _investigators(db, handler_region: str) -> list:
    """Staff who may investigate: investigators (and reviewers) whose area contains the case."""
    rows = db.query("select id, display_name, role, region_code from users where active = 1 and role in "
                    "('investigator', 'township_reviewer', 'county_admin') order by role, id")
    return choices((r["id"], f"{r['display_name']}（{ROLES[r['role']]}）")
                   for r in rows if handler_region.startswith(r["region_code"]))


def _case_step(complaint_id: int, form, step, done, guard=lambda c: True):
    """One step of a case (``step(db, case)``, a ``domain.cases`` workflow that re-reads the case under
    the write lock), after the permission's ``guard``; its message or its refusal is flashed."""
    db = get_db()
    c = get_case(db, complaint_id)
    if c["status"] == "concluded":
        flash("这件举报已经办结。")
    elif not guard(c):
        abort(403)
    elif not form.validate_on_submit():
        flash("；".join(e for errors in form.errors.values() for e in errors))
    else:
        try:
            result = step(db, c)
        except CaseError as error:
            flash(str(error))
        else:
            flash(done(result) if callable(done) else done)
    return redirect(url_for("staff.case", complaint_id=complaint_id)), 303


@staff_route("/complaints/<id:complaint_id>/assign", permission="complaints.manage", target="complaint",
             methods=("POST",))
def assign(complaint_id):
    form = AssignForm()
    form.investigator.choices = _investigators(get_db(), g.target_region)

    def step(db, c):
        workflow.assign(db, complaint_id, investigator_id=form.investigator.data, due_on=form.due_on.data,
                        actor=current_user.username, role=current_user.role, key=id_key(), clock=clock.current())

    return _case_step(complaint_id, form, step, "已安排调查。")


def _conclude_form(db, c: dict) -> ConcludeForm:
    form = ConcludeForm()
    if c["ground"] == "omission" and c["list_id"]:
        form.omitted.choices = choices([("", "（不是漏评查实，不选）")] + [
            (r["id"], f"{r['head_name']}（{r['size']} 人，{r['votes']} 票）") for r in omitted_candidates(db, c["list_id"])])
    return form


@staff_route("/complaints/<id:complaint_id>/conclude", permission="complaints.conclude", target="complaint",
             methods=("POST",))
def conclude(complaint_id):
    form = _conclude_form(get_db(), get_case(get_db(), complaint_id))

    def step(db, c):
        return workflow.conclude(db, complaint_id, outcome=form.outcome.data, findings=form.findings.data,
                                 public_reply=form.public_reply.data, omitted_household=form.omitted.data,
                                 actor=current_user.username, role=current_user.role, key=id_key(),
                                 clock=clock.current())

    def done(c) -> str:
        action = awaits_action(c)
        if action is None:
            return "已办结。"
        what = "确认递补" if action == "replace" else "补录被漏评的农户"
        if current_user.can("complaints.replace", g.target_region, g.target_level):
            return f"已办结。举报查实，请在本页{what}。"
        who = "、".join(next_actors(get_db(), c)) or "县扶贫办"
        return f"已办结。举报查实，下一步由 {who} {what}；他们的工作台会提示这件举报。"

    # Only the staff handling the case conclude it, and not the person who registered it themselves.
    return _case_step(complaint_id, form, step, done,
                      guard=lambda c: handles(c) and c["operator"] != current_user.username)


@staff_route("/complaints/<id:complaint_id>/replace", permission="complaints.replace", target="complaint",
             methods=("GET", "POST"))
def replace(complaint_id):
    db = get_db()
    c = get_case(get_db(), complaint_id)
    if not (c["outcome"] == "upheld" and c["ground"] in HOUSEHOLD_GROUNDS and c["household_id"] and c["list_id"]):
        abort(404)
    form = ReplaceForm()
    problem = None
    # The disqualification reaches the highest published list that carries the household.
    target = highest_list_carrying(db, c["list_id"], c["household_id"])
    try:
        proposal = propose(db, target["id"], c["household_id"])
    except PublishError as error:
        proposal, problem = None, str(error)
    if proposal and form.validate_on_submit():
        expected = tuple(n for x in (form.expected.data or "").split(",") if (n := parse_int(x)) is not None)
        try:
            workflow.resolve_by_replacement(db, c, list_id=target["id"], expected=expected, start=form.start.data,
                                            today=clock.today(), actor=current_user.username, role=current_user.role,
                                            key=id_key(), clock=clock.current())
        except PublishError as error:
            problem = str(error)
        else:
            flash("已取消该户资格并发布新版本，递补户另行公示。")
            return redirect(url_for("staff.list_view", list_id=target["id"]))
    if not form.is_submitted():
        form.start.data = rules.earliest_start(clock.now())
    names = {}
    if proposal:
        form.expected.data = ",".join(map(str, proposal.replacements))
        ids = list(proposal.replacements) + [hid for hid, _, _ in proposal.skipped]
        if ids:
            names = {r["id"]: r for r in db.query(
                f"select h.id, h.head_name, h.size, v.votes from households h join votes v on v.household_id = h.id "
                f"where h.id in ({','.join('?' for _ in ids)})", ids)}
    return render_template("staff/replace.html", c=c, proposal=proposal, names=names, form=form, problem=problem,
                           target=target), 400 if problem else 200


@staff_route("/complaints/<id:complaint_id>/omission", permission="complaints.replace", target="complaint",
             methods=("GET", "POST"))
def omission(complaint_id):
    """An upheld 漏评 report: add the household that was left out (rule 9)."""
    db = get_db()
    c = get_case(get_db(), complaint_id)
    # Only for the household an upheld 漏评 report named (rule 9): 补录 is no way round the ranking.
    if not (c["ground"] == "omission" and c["outcome"] == "upheld" and c["list_id"] and c["household_id"]):
        abort(404)
    if c["resolved_household_id"]:
        problem = "这件举报已经补录过一户；另有漏评的，请另行登记举报。"
        return render_template("staff/omission.html", c=c, form=OmissionForm(), problem=problem, candidates=[]), 400
    form = OmissionForm()
    candidates = [r for r in omitted_candidates(db, c["list_id"]) if r["id"] == c["household_id"]]
    form.household.choices = choices((r["id"], f"{r['head_name']}（{r['size']} 人，{r['votes']} 票）") for r in candidates)
    problem = None
    if form.validate_on_submit():
        if form.use_reserve.data and current_user.role != "county_admin":
            abort(403)   # only the county office may spend the reserve
        try:
            workflow.resolve_by_omission(db, c, household_id=form.household.data, use_reserve=form.use_reserve.data,
                                         start=form.start.data, today=clock.today(), actor=current_user.username,
                                         role=current_user.role, key=id_key(), clock=clock.current())
        except (PublishError, QuotaError, CaseError) as error:
            problem = str(error) + ("" if form.use_reserve.data else " 本村指标不够的，可请县扶贫办批准动用预留机动名额。")
        else:
            flash("已补录并发布新版本，补录户另行公示。")
            return redirect(url_for("staff.list_view", list_id=c["list_id"]))
    if not form.is_submitted():
        form.start.data = rules.earliest_start(clock.now())
    return render_template("staff/omission.html", c=c, form=form, problem=problem, candidates=candidates), \
        400 if (problem or form.errors) else 200


@staff_route("/complaints/<id:complaint_id>/files/<id:file_id>", permission="complaints.view", target="complaint")
def case_file(complaint_id, file_id):
    """A reporter's evidence: only for the staff handling the case (``handles``), not for everyone
    who may see the case in their area (issue 17, item 1)."""
    if not handles(get_case(get_db(), complaint_id)):
        abort(403)
    row = next(get_db().query("select * from complaint_files where id = ? and complaint_id = ?",
                              [file_id, complaint_id]), None)
    if row is None:
        abort(404)
    path = evidence_folder("complaints") / row["stored_name"]
    if not path.is_file():
        abort(404)
    # Always a download with the type sniffed at upload: never rendered inside the portal's origin.
    return send_file(path, mimetype=row["content_type"], max_age=0, as_attachment=True,
                     download_name=f"举报{complaint_id}-证据{file_id}.{row['stored_name'].rsplit('.', 1)[-1]}")


@staff_route("/complaints/new", permission="complaints.manage", methods=("GET", "POST"))
def register():
    db = get_db()
    form = RegisterForm()
    form.region.choices = jurisdiction_choices(db)
    problem = None
    if form.validate_on_submit():
        list_id = parse_int((form.list_id.data or "").strip())
        lst = next(db.query("select region_code, current_version from lists where id = ?", [list_id]), None) \
            if list_id else None
        target = lst["region_code"] if lst else form.region.data
        entry = (form.entry.data or "").strip()
        household = next(db.query("select household_id from list_entries where list_id = ? and version = ? and "
                                  "row_ref = ?", [list_id, lst["current_version"], parse_int(entry)]), None) \
            if lst and parse_int(entry) is not None else None
        if form.list_id.data and list_id is None:
            problem = "名单编号应是网址 /lists/ 后面的数字。"
        elif list_id and lst is None:
            problem = "没有这个编号的名单。"
        elif entry and household is None:
            problem = "名单上没有这个序号。"
        elif not current_user.can("complaints.manage", target, get_region_row(db, target)["level"]):
            abort(403)
        else:
            complaint_id = workflow.register(
                db, list_id=list_id, household_id=household["household_id"] if household else None,
                region_code=target, ground=form.ground.data, text=form.text.data, name=form.name.data or "",
                phone=form.phone.data or "", channel=form.channel.data, actor=current_user.username,
                role=current_user.role, key=id_key(), clock=clock.current())
            flash("已登记。举报人如需查询进度，可电话询问经办人。")
            return redirect(url_for("staff.case", complaint_id=complaint_id))
    return render_template("staff/register.html", form=form, problem=problem), 400 if (problem or form.errors) else 200
