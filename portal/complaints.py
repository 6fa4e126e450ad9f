"""Complaints (举报/质疑): filing online (anonymously if wished), receipt codes, tracking.

Query helpers and the rules of routing and counting live here too; the staff side of the
workflow is in ``staff/cases.py``. A reporter's identity is stored for the staff handling the case
only and never appears on a public page.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from flask import Blueprint, abort, current_app, redirect, render_template, request, session, url_for
from flask_limiter.util import get_remote_address
from flask_wtf import FlaskForm
from flask_wtf.file import MultipleFileField
from limits import parse as parse_limit
from wtforms import BooleanField, RadioField, StringField, TextAreaField, ValidationError
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, Regexp

from . import audit, clock
from .campaigns import id_key
from .db import get_db, write_transaction
from .evidence import EvidenceError, read_upload, store
from .inputs import parse_int
from .privacy import mask_name
from .regions import ancestor_codes, get_region_row
from .security import limiter

bp = Blueprint("complaints", __name__)

#: The ten removal situations of S3, omission, procedure, other (DOMAIN §3, §11 rules 7–9).
GROUNDS = {
    "payroll": "家里有财政供养人员（吃财政饭）",
    "cadre": "家里有现任村干部（村三委）",
    "vehicle": "有价值 3 万元以上的车",
    "town_house": "在城镇买了或自建了住房、门面",
    "employs": "长期雇人干活",
    "business": "开有正常经营的公司、企业",
    "split": "为享受政策故意拆户、并户",
    "nominal": "空挂户（户口挂在本村，人不在本村生活）",
    "departed": "户里有已去世、失踪或不在一起生活的人",
    "favouritism": "优亲厚友、弄虚作假",
    "omission": "漏评：符合条件的农户没有评上",
    "procedure": "程序违规：没有评议、公示时间不够等",
    "other": "其他",
}
#: Grounds that accuse the village committee itself: the township handles them (conflict of interest).
COMMITTEE_GROUNDS = {"cadre", "favouritism", "procedure"}
STATUS = {"received": "已受理", "investigating": "调查中", "concluded": "已办结"}
OUTCOMES = {"upheld": "查实", "partly": "部分属实", "dismissed": "不属实"}
CHANNELS = {"online": "网上举报", "phone": "电话", "letter": "来信", "meeting": "会议或当面反映"}

CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"   # no 0/O, 1/I/L, U
CODE_LENGTH = 20                                     # 20 × log2(30) ≈ 98 bits
MAX_FILES = 5
MAX_TEXT = 5000


# --- Receipt codes --------------------------------------------------------------------------------


def new_receipt_code() -> str:
    """A code to copy by hand: five groups of four, e.g. 7K2M-QXR9-…"""
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return "-".join(raw[i:i + 4] for i in range(0, CODE_LENGTH, 4))


def normalise_code(text: str) -> str | None:
    """The code without spaces or dashes, upper-case; None when it cannot be a code at all."""
    value = "".join(ch for ch in (text or "").upper() if ch not in " -－—\u3000")
    if len(value) != CODE_LENGTH or any(ch not in CODE_ALPHABET for ch in value):
        return None
    return value


def code_hash(code: str, key: bytes) -> str:
    return hmac.new(key + b"|receipt", code.encode(), hashlib.sha256).hexdigest()


# --- Rules ----------------------------------------------------------------------------------------


def handler_region(db, list_row: dict | None, region_code: str, ground: str, about_committee: bool) -> str:
    """Who handles a report: the level of the list — except reports about a village committee
    (or a village list's procedure), which go to the township."""
    code = list_row["region_code"] if list_row else region_code
    region = get_region_row(db, code)
    if region["level"] == "group":
        region = get_region_row(db, region["parent_code"])
    if region["level"] == "village" and (about_committee or ground in COMMITTEE_GROUNDS or list_row is None):
        return region["parent_code"]
    return region["code"]


def list_complaint_counts(db, list_id: int) -> dict:
    row = next(db.query(
        "select count(*) as received, "
        "coalesce(sum(status != 'concluded'), 0) as open, "
        "coalesce(sum(status = 'concluded'), 0) as concluded, "
        "coalesce(sum(outcome in ('upheld', 'partly')), 0) as upheld "
        "from complaints where list_id = ?", [list_id]))
    return row


def public_replies(db, list_id: int) -> list[dict]:
    """Concluded cases of a list: ground, outcome, date and the public reply — never the reporter."""
    return [
        {**r, "ground_name": GROUNDS.get(r["ground"], r["ground"]), "outcome_name": OUTCOMES.get(r["outcome"], "")}
        for r in db.query(
            "select id, ground, outcome, public_reply, concluded_at from complaints "
            "where list_id = ? and status = 'concluded' order by concluded_at", [list_id])
    ]


def open_in_window(db, list_ids: list[int]) -> int:
    """Complaints filed inside these lists' windows that are not concluded (they hold the next level)."""
    if not list_ids:
        return 0
    marks = ",".join("?" for _ in list_ids)
    return next(db.query(
        f"select count(*) as n from complaints where list_id in ({marks}) and within_window = 1 "
        "and status != 'concluded'", list_ids))["n"]


def _window(db, list_row: dict) -> dict:
    """A version's window, open for objections until its last replacement row's window has ended too."""
    return next(db.query("select window_start, max(window_end, coalesce(rows_until, '')) as window_end "
                         "from list_versions where list_id = ? and version = ?",
                         [list_row["id"], list_row["current_version"]]))


def _open_list_carrying(db, list_row: dict, household_id: int, today: str) -> dict | None:
    """The list of the same campaign and kind whose current version carries the household and whose
    window is open today (the next level up, once the lower window has closed)."""
    return next(db.query(
        "select l.* from lists l join list_versions v on v.list_id = l.id and v.version = l.current_version "
        "join list_entries e on e.list_id = l.id and e.version = l.current_version "
        "where l.campaign_id = ? and l.kind = ? and l.id != ? and e.household_id = ? "
        "and v.window_start <= ? and max(v.window_end, coalesce(v.rows_until, '')) >= ? "
        "order by length(l.region_code) desc limit 1",
        [list_row["campaign_id"], list_row["kind"], list_row["id"], household_id, today, today]), None)


def _list_covering(db, region_code: str, today: str) -> dict | None:
    """For a report about a place: the identification list covering it that is open today, the most
    local first; else the one published last (the report is then filed after its window)."""
    covering = [*ancestor_codes(region_code), region_code]
    return next(db.query(
        "select l.* from lists l join list_versions v on v.list_id = l.id and v.version = l.current_version "
        f"where l.region_code in ({','.join('?' for _ in covering)}) and l.kind = 'identify' and v.window_start <= ? "
        "order by max(v.window_end, coalesce(v.rows_until, '')) >= ? desc, length(l.region_code) desc, "
        "v.published_at desc, l.id desc limit 1",
        [*covering, today, today]), None)


def file_complaint(db, *, list_id: int | None, household_id: int | None, region_code: str | None, ground: str,
                   text: str, about_committee: bool, anonymous: bool, name: str, phone: str, files: list,
                   key: bytes, clock, channel: str = "online", operator: str | None = None) -> tuple[int, str]:
    """Record a complaint with its evidence; returns (id, receipt code). The code is shown once.

    The report counts for the window of the list it is tied to (``within_window``: filed before that
    window ended), and such reports hold the next level until concluded (rule 7). A report on an
    entry whose list has closed counts for the higher list carrying the household that is open now;
    a report about a place counts for the list covering that place that is open now.
    """
    list_row = next(db.query("select * from lists where id = ?", [list_id]), None) if list_id else None
    if list_id and list_row is None:
        raise ValueError("这份名单不存在。")
    today = clock.today().isoformat()
    if list_row:
        if household_id and not next(db.query(
                "select 1 from list_entries where list_id = ? and version = ? and household_id = ?",
                [list_id, list_row["current_version"], household_id]), None):
            raise ValueError("这户不在这份名单上。")
        if household_id and _window(db, list_row)["window_end"] < today:
            list_row = _open_list_carrying(db, list_row, household_id, today) or list_row
        region_code = list_row["region_code"]
        handler = handler_region(db, list_row, region_code, ground, about_committee)
    elif not region_code or get_region_row(db, region_code) is None:
        raise ValueError("请选择要反映的地方。")
    else:
        handler = handler_region(db, None, region_code, ground, about_committee)
        list_row = _list_covering(db, region_code, today)
    version = list_row["current_version"] if list_row else None
    # Filed before the window ends (even before it opens): it must be settled before the next level.
    within = int(bool(list_row) and today <= _window(db, list_row)["window_end"])
    list_id = list_row["id"] if list_row else None
    code = new_receipt_code()
    now = clock.stamp()
    with write_transaction(db):
        complaint_id = db["complaints"].insert({
            "receipt_hash": code_hash(normalise_code(code), key), "list_id": list_id, "list_version": version,
            "household_id": household_id, "handler_region": handler, "ground": ground, "text": text.strip(),
            "about_committee": int(about_committee), "anonymous": int(anonymous),
            "reporter_name": None if anonymous else name.strip() or None,
            "reporter_phone": None if anonymous else phone.strip() or None,
            "channel": channel, "operator": operator, "within_window": within, "status": "received",
            "filed_at": now,
        }).last_pk
        add_files(db, complaint_id, files, clock=clock)
        db["complaint_events"].insert({"complaint_id": complaint_id, "at": now, "actor": operator or "举报人",
                                       "kind": "filed", "text": CHANNELS[channel]})
        # The filing itself is on the record too: when, about what, where — never who.
        audit.record(db, actor=operator or "公众", role="staff" if operator else "public", action="complaint.file",
                     object_type="complaint", object_id=complaint_id, region_code=handler, key=key, clock=clock,
                     after={"list_id": list_id, "household_id": household_id, "ground": ground, "channel": channel,
                            "within_window": within, "files": len(files)})
    return complaint_id, code


def add_files(db, complaint_id: int, files: list, *, clock) -> None:
    """Store already-read evidence (data, content type, ext) for a complaint."""
    for data, content_type, ext in files:
        stored, digest = store("complaints", str(complaint_id), data, ext)
        if not next(db.query("select 1 from complaint_files where stored_name = ?", [stored]), None):
            db["complaint_files"].insert({"complaint_id": complaint_id, "stored_name": stored, "content_type": content_type,
                                          "size": len(data), "sha256": digest, "added_at": clock.stamp()})


def read_files(storages) -> list[tuple[bytes, str, str]]:
    """Read and clean up to MAX_FILES uploads; raises EvidenceError with a Chinese message."""
    chosen = [f for f in (storages or []) if f and f.filename]
    if len(chosen) > MAX_FILES:
        raise EvidenceError(f"最多上传 {MAX_FILES} 个文件。")
    return [read_upload(f) for f in chosen]


# --- Forms ----------------------------------------------------------------------------------------


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


# --- Views ----------------------------------------------------------------------------------------


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
        entry["masked"] = mask_name(entry["head_name"], current_app.config["NAME_DISPLAY"])
    return lst, entry


def _limited(keys_and_limits) -> bool:
    """Count one filing against each (key, limit); True when any is used up."""
    ok = True
    for key, limit in keys_and_limits:
        ok = limiter.limiter.hit(parse_limit(limit), key) and ok
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
                phone=form.phone.data or "", files=files, key=id_key(), clock=clock.current())
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


def find_by_code(db, raw: str) -> dict | None:
    """The complaint a receipt code opens; the same work is done for a wrong code."""
    code = normalise_code(raw)
    # A malformed code takes the same path as a wrong one: hash, look up, find nothing.
    digest = code_hash(code or "-" * CODE_LENGTH, id_key())
    found = next(db.query("select * from complaints where receipt_hash = ?", [digest]), None)
    return found if code else None


def track_view(db, complaint: dict) -> dict:
    events = list(db.query("select at, actor, kind, text from complaint_events where complaint_id = ? order by id",
                           [complaint["id"]]))
    lst = next(db.query("select id, title from lists where id = ?", [complaint["list_id"]]), None) \
        if complaint["list_id"] else None
    return {"c": complaint, "events": [e for e in events if e["kind"] in ("filed", "info_added", "assigned", "concluded")],
            "lst": lst, "status": STATUS, "outcomes": OUTCOMES, "grounds": GROUNDS,
            "files": db["complaint_files"].count_where("complaint_id = ?", [complaint["id"]])}


@bp.route("/complaints/track", methods=["GET", "POST"])
def track():
    db = get_db()
    form = TrackForm()
    if form.validate_on_submit():
        if _limited([("track-address:" + get_remote_address(), current_app.config["TRACK_LIMIT_PER_ADDRESS"])]):
            abort(429)
        complaint = find_by_code(db, form.code.data)
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
    complaint = find_by_code(db, form.code.data)
    if complaint is None:
        abort(404)
    try:
        if complaint["status"] == "concluded":
            raise ValueError("这件举报已经办结，不能再补充；如有新情况，请重新提出。")
        files = read_files(form.files.data)
        if not (form.text.data or "").strip() and not files:
            raise ValueError("请填写补充情况或选择文件。")
        with write_transaction(db):
            add_files(db, complaint["id"], files, clock=clock.current())
            db["complaint_events"].insert({"complaint_id": complaint["id"], "at": clock.current().stamp(),
                                           "actor": "举报人",
                                           "kind": "info_added",
                                           "text": (form.text.data or "").strip() + (f"（附 {len(files)} 个文件）" if files else "")})
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
    complaint = find_by_code(get_db(), kept["code"]) if kept else None
    if complaint is None:
        return redirect(url_for("complaints.track"))
    added = kept.pop("added", False)
    session["progress"] = kept
    response = current_app.make_response(render_template(
        "complaints/status.html", add=AddInfoForm(code=kept["code"]), added=added, **track_view(get_db(), complaint)))
    response.headers["Cache-Control"] = "no-store"
    return response
