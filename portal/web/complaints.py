"""The public side of complaints: the report form (anonymous by default), the receipt shown once,
tracking by receipt code and adding information; each rate-limited."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_limiter.util import get_remote_address
from flask_wtf import FlaskForm
from flask_wtf.file import MultipleFileField
from wtforms import (
    BooleanField,
    RadioField,
    StringField,
    TextAreaField,
    ValidationError,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, Regexp

from .. import clock
from ..domain.complaints import (
    GROUNDS,
    MAX_FILES,
    MAX_TEXT,
    add_information,
    file_complaint,
    find_by_code,
    new_receipt_code,
    track_view,
)
from ..domain.evidence import EvidenceError, read_upload
from ..domain.numbers import parse_int
from ..domain.privacy import mask_name
from ..runtime import evidence_folder, get_db, id_key
from . import security

bp = Blueprint("complaints", __name__)


def read_files(storages) -> list[tuple[bytes, str, str]]:
    """Read and clean up to MAX_FILES uploads; raises EvidenceError with a Chinese message."""
    chosen = [f for f in (storages or []) if f and f.filename]
    if len(chosen) > MAX_FILES:
        raise EvidenceError(f"最多上传 {MAX_FILES} 个文件。")
    return [read_upload(f.stream) for f in chosen]


class FileComplaintForm(FlaskForm):
    ground = RadioField("反映什么问题", choices=[SelectChoice(k, v) for k, v in GROUNDS.items()],
                        validators=[DataRequired("请选择要反映的问题。")])
    text = TextAreaField(f"具体情况（{MAX_TEXT} 字以内；写清楚是谁、什么事、怎么知道的）",
                         validators=[DataRequired("请写明具体情况。"), Length(max=MAX_TEXT, message=f"最多 {MAX_TEXT} 字。")])
    about_committee = BooleanField("反映的是村委会（村干部）的问题：交乡镇处理")
    files = MultipleFileField("证据（可不传；照片 JPEG/PNG 或 PDF，最多 5 个，每个不超过 10 MB）")
    anonymous = BooleanField("匿名反映（不留姓名和电话）", default=True)
    name = StringField("姓名（实名反映时填写，只有办理人员能看到）", validators=[Optional(), Length(max=40)])
    phone = StringField("联系电话", validators=[Optional(), Length(max=30), Regexp(r"^[0-9+\- ]*$", message="电话只能有数字。")])
    website = StringField("网址（请不要填写）", validators=[Optional()])   # a honeypot for robots

    def validate_anonymous(self, field):
        # Checked here, not on the name: an empty optional field skips its own inline validator.
        typed = (self.name.data or "").strip() or (self.phone.data or "").strip()
        if not field.data and not (self.name.data or "").strip():
            raise ValidationError("实名反映请填写姓名，或勾选“匿名反映”。")
        if field.data and typed:     # never drop what was typed without a word (issue 17, item 12)
            raise ValidationError("您勾选了“匿名反映”，又填了姓名或电话：要实名反映，请取消勾选；"
                                  "要匿名反映，请把姓名和电话清空。")


class TrackForm(FlaskForm):
    code = StringField("回执码（20 位，例如 7K2M-QXR9-…）", validators=[DataRequired("请输入回执码。"), Length(max=60)])


class AddInfoForm(FlaskForm):
    code = StringField(validators=[DataRequired()])
    text = TextAreaField("补充情况", validators=[Optional(), Length(max=MAX_TEXT, message=f"最多 {MAX_TEXT} 字。")])
    files = MultipleFileField("补充证据（照片或 PDF）")


def _target_from_request(db):
    """The list (and household) a report concerns, from ?list=<id>&entry=<row number>[&v=<version>]."""
    raw_list, raw_entry = request.values.get("list", ""), request.values.get("entry", "")
    raw_version = request.values.get("v", "")
    if not raw_list:
        return None, None
    list_id, entry_ref, version = parse_int(raw_list), parse_int(raw_entry), parse_int(raw_version)
    if list_id is None or (raw_entry and entry_ref is None) or (raw_version and version is None):
        abort(404)      # no list or row has such a number
    lst = next(db.query("select l.*, r.name as region_name from lists l join regions r on r.code = l.region_code "
                        "where l.id = ?", [list_id]), None)
    if lst is None:
        abort(404)
    entry = None
    if raw_entry:
        # Row numbers (序号) last across a list's versions, so a link made from an older version still
        # names the same household — unless it has left the list since: then say the list changed.
        entry = next(db.query("select household_id, head_name from list_entries where list_id = ? and version = ? "
                              "and row_ref = ?", [lst["id"], lst["current_version"], entry_ref]), None)
        if entry is None:
            abort(409 if version is not None and version != lst["current_version"] else 404)
        entry["masked"] = mask_name(entry["head_name"],
                                    "withheld" if lst["names_withheld_at"] else current_app.config["NAME_DISPLAY"])
    return lst, entry


def _limited(keys_and_limits) -> bool:
    """Count one filing against each (key, limit); True when any is used up."""
    ok = True
    for key, limit in keys_and_limits:
        ok = security.hit(limit, key) and ok
    return not ok


@bp.route("/complaints/new", methods=["GET", "POST"])
def new():
    db = get_db()
    lst, entry = _target_from_request(db)
    form = FileComplaintForm()
    regions = [] if lst else list(db.query(
        "select code, name, level from regions where level in ('township', 'village') order by code"))
    problem = None
    if form.validate_on_submit():
        if form.website.data:          # only robots fill the hidden field: pretend all is well, keep nothing
            session["receipt"] = {"code": new_receipt_code(), "list_id": lst["id"] if lst else None,
                                  "at": clock.current().timestamp()}
            return redirect(url_for("complaints.received"), 303)
        region_code = request.form.get("region", "") if not lst else None
        # Tight per list and household, but per sender: one person cannot use up everyone's reports.
        address = get_remote_address()
        limits = [("complaint-address:" + address, current_app.config["COMPLAINT_LIMIT_PER_ADDRESS"])]
        if lst:
            limits.append((f"complaint-list:{lst['id']}:{address}", current_app.config["COMPLAINT_LIMIT_PER_LIST"]))
        if entry:
            limits.append((f"complaint-household:{entry['household_id']}:{address}",
                           current_app.config["COMPLAINT_LIMIT_PER_HOUSEHOLD"]))
        if _limited(limits):
            abort(429)
        try:
            files = read_files(form.files.data)
            _, code = file_complaint(
                db, list_id=lst["id"] if lst else None, household_id=entry["household_id"] if entry else None,
                region_code=region_code, ground=form.ground.data, text=form.text.data,
                about_committee=form.about_committee.data, anonymous=form.anonymous.data, name=form.name.data or "",
                phone=form.phone.data or "", files=files, key=id_key(), clock=clock.current(),
                folder=evidence_folder("complaints"))
        except (EvidenceError, ValueError) as error:
            problem = str(error)
        else:
            # Post/redirect/get: reloading the receipt page must not file the report again. The code
            # waits in the (signed, HttpOnly) session cookie, never in a URL.
            session["receipt"] = {"code": code, "list_id": lst["id"] if lst else None, "at": clock.current().timestamp()}
            return redirect(url_for("complaints.received"), 303)
    status = 400 if (problem or form.errors) else 200
    return render_template("complaints/new.html", form=form, lst=lst, entry=entry, regions=regions,
                           problem=problem), status


SHOWN_SECONDS = 30 * 60      # how long the receipt and the progress page survive a reload


def _fresh(key: str) -> dict | None:
    kept = session.get(key)
    if kept and clock.current().timestamp() - kept.get("at", 0) <= SHOWN_SECONDS:
        return kept
    session.pop(key, None)
    return None


@bp.get("/complaints/received")
def received():
    """The receipt after filing (reloadable for a while; a shared phone forgets it after that)."""
    kept = _fresh("receipt")
    lst = {"id": kept["list_id"]} if kept and kept["list_id"] else None
    return render_template("complaints/received.html", code=kept["code"] if kept else None, lst=lst)


@bp.route("/complaints/track", methods=["GET", "POST"])
def track():
    db = get_db()
    form = TrackForm()
    if form.validate_on_submit():
        if _limited([("track-address:" + get_remote_address(), current_app.config["TRACK_LIMIT_PER_ADDRESS"])]):
            abort(429)
        complaint = find_by_code(db, form.code.data, id_key())
        if complaint is None:
            form.code.errors.append("没有找到这个回执码。请核对后重新输入（注意区分数字和字母）。")
        else:
            response = current_app.make_response(render_template(
                "complaints/status.html", add=AddInfoForm(code=form.code.data), **track_view(db, complaint)))
            response.headers["Cache-Control"] = "no-store"
            return response
    return render_template("complaints/track.html", form=form), 400 if form.errors else 200


@bp.post("/complaints/track/add")
def add_info():
    db = get_db()
    form = AddInfoForm()
    if not form.validate_on_submit():
        abort(400)
    if _limited([("track-address:" + get_remote_address(), current_app.config["TRACK_LIMIT_PER_ADDRESS"])]):
        abort(429)
    complaint = find_by_code(db, form.code.data, id_key())
    if complaint is None:
        abort(404)
    try:
        if complaint["status"] == "concluded":      # said before reading the files
            raise ValueError("这件举报已经办结，不能再补充；如有新情况，请重新提出。")
        add_information(db, complaint, form.text.data or "", read_files(form.files.data),
                        folder=evidence_folder("complaints"), clock=clock.current())
    except (EvidenceError, ValueError) as error:
        response = current_app.make_response((render_template(
            "complaints/status.html", add=AddInfoForm(code=form.code.data), problem=str(error),
            **track_view(db, complaint)), 400))
        response.headers["Cache-Control"] = "no-store"
        return response
    session["progress"] = {"code": form.code.data, "at": clock.current().timestamp(), "added": True}
    return redirect(url_for("complaints.progress"), 303)      # a reload must not add it twice


@bp.get("/complaints/track/progress")
def progress():
    """The progress page again after 补充情况 (post/redirect/get), for the code kept in the session."""
    kept = _fresh("progress")
    complaint = find_by_code(get_db(), kept["code"], id_key()) if kept else None
    if complaint is None:
        return redirect(url_for("complaints.track"))
    added = kept.pop("added", False)
    session["progress"] = kept
    response = current_app.make_response(render_template(
        "complaints/status.html", add=AddInfoForm(code=kept["code"]), added=added, **track_view(get_db(), complaint)))
    response.headers["Cache-Control"] = "no-store"
    return response
