"""Publishing and amending lists from the console, the board print with full names, board photos."""

from __future__ import annotations

from flask import (
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_login import current_user

from .. import clock
from ..domain import audit, rules
from ..domain.campaigns import above_line, get_campaign, village_selection
from ..domain.evidence import EvidenceError, add_board_photo, read_upload
from ..domain.numbers import parse_int
from ..domain.publishing import PublishError, publish_list, readiness
from ..domain.regions import ancestors, get_region_row
from ..domain.replacement import confirm, propose
from ..runtime import evidence_folder, get_db, id_key
from ..web.forms import choices
from ..web.lists import list_context, qr_svg
from .console import chosen_campaign
from .forms import CorrectListForm, PublishListForm, UploadPhotoForm
from .routing import staff_route


@staff_route("/r/<code>/publish", permission="lists.publish", target="region", methods=("GET", "POST"))
def publish(code):
    db = get_db()
    region = get_region_row(db, code)
    campaign = chosen_campaign(db, code)
    if campaign is None or region["level"] not in rules.LIST_LEVELS:
        abort(404)
    form = PublishListForm()
    if not form.is_submitted():
        form.start.data = rules.earliest_start(clock.now())
        if request.args.get("kind") in rules.ADJUSTMENT_KINDS:
            form.kind.data = request.args["kind"]
    problem = None
    if form.validate_on_submit():
        try:
            list_id = publish_list(db, campaign_id=campaign["id"], region_code=code, kind=form.kind.data,
                                   start=form.start.data, today=clock.today(), key=id_key(),
                                   actor=current_user.username, role=current_user.role, clock=clock.current())
        except (PublishError, rules.QuotaError) as error:
            problem = str(error)
        else:
            flash("名单已发布，公示期按设定的日期自动开始和结束。请打印张贴版，张贴后上传照片留存。")
            return redirect(url_for("staff.list_view", list_id=list_id))
    preview, ready = None, readiness(db, campaign, region, clock.today())
    if region["level"] == "village":
        try:
            preview = village_selection(db, campaign["id"], code)
        except rules.QuotaError as error:
            problem = problem or str(error)
        flagged = above_line(db, campaign, [a.id for a in preview.selected] if preview else [])
    else:
        flagged = above_line(db, campaign, _current_households(db, [x["list_id"] for x in ready["lower"] if x["list_id"]]))
    step = next((s for s in campaign["chain"] if s["level"] == region["level"]), None)
    return render_template("staff/publish.html", form=form, region=region, crumbs=ancestors(db, code),
                           campaign=campaign, preview=preview, step=step, problem=problem, flagged=flagged,
                           readiness=ready), 400 if (problem or form.errors) else 200


def _current_households(db, list_ids) -> list[int]:
    """The households on the current versions of these lists, list by list in row order."""
    return [r["household_id"] for list_id in list_ids for r in db.query(
        "select e.household_id from list_entries e join lists l on l.id = e.list_id and e.version = l.current_version "
        "where l.id = ? order by e.position", [list_id])]


@staff_route("/lists/<id:list_id>", permission="lists.view", target="list")
def list_view(list_id):
    db = get_db()
    ctx = list_context(list_id, name_policy="full", exact_causes=True)
    photos = list(db.query("select * from board_photos where list_id = ? order by id", [list_id]))
    campaign = get_campaign(db, ctx["lst"]["campaign_id"])
    return render_template("staff/list.html", photos=photos, upload=UploadPhotoForm(),
                           flagged=above_line(db, campaign, _current_households(db, [list_id])), campaign=campaign,
                           can_amend=current_user.can("lists.publish", g.target_region, g.target_level),
                           can_record=current_user.can("lists.record", g.target_region, g.target_level),
                           history=audit.entries_for(db, "list", list_id), **ctx)


@staff_route("/lists/<id:list_id>/amend", permission="lists.publish", target="list", methods=("GET", "POST"))
def amend(list_id):
    """更正: take one household off with its recorded ground; the replacements are the rule's, shown
    first and confirmed second (a list is never rewritten here: that is a new list through the chain)."""
    db = get_db()
    ctx = list_context(list_id, name_policy="full")
    lst = ctx["lst"]
    form = CorrectListForm()
    form.household.choices = choices([("", "请选择农户"), *_on_list(db, lst)])
    if not form.is_submitted():
        form.start.data = rules.earliest_start(clock.now())
    problem = proposal = None
    if form.validate_on_submit():
        try:
            proposal = propose(db, list_id, form.household.data)
            seen = tuple(n for x in (form.expected.data or "").split(",") if (n := parse_int(x)) is not None)
            if form.expected.data and "confirm" in request.form:
                confirm(db, list_id=list_id, household_id=form.household.data, expected=seen, actor=current_user.username,
                        role=current_user.role, key=id_key(), today=clock.today(), start=form.start.data,
                        ground=f"更正：{form.reason.data.strip()}（批准：{form.approved_by.data.strip()}）",
                        correction=True, clock=clock.current())
                flash("已发布新版本；旧版本仍可查看。")
                return redirect(url_for("staff.list_view", list_id=list_id))
            form.expected.data = ",".join(map(str, proposal.replacements)) or "none"
        except (PublishError, rules.QuotaError) as error:
            problem, proposal = str(error), None
    names = dict(_labels(db, [*proposal.replacements, *(hid for hid, _, _ in proposal.skipped)])) if proposal else {}
    return render_template("staff/amend.html", form=form, problem=problem, proposal=proposal, names=names,
                           **ctx), 400 if (problem or form.errors) else 200


def _on_list(db, lst: dict) -> list[tuple[int, str]]:
    return _labels(db, _current_households(db, [lst["id"]]))


def _labels(db, household_ids) -> list[tuple[int, str]]:
    rows = {r["id"]: r for r in db.query(
        "select h.id, h.head_name, h.size, coalesce(v.votes, 0) as votes, r.name as village from households h "
        "left join votes v on v.household_id = h.id join regions r on r.code = h.village_code "
        f"where h.id in ({','.join('?' for _ in household_ids)})", list(household_ids))} if household_ids else {}
    return [(hid, f"{rows[hid]['village']} {rows[hid]['head_name']}（{rows[hid]['size']} 人，{rows[hid]['votes']} 票）")
            for hid in household_ids if hid in rows]


@staff_route("/lists/<id:list_id>/board", "/lists/<id:list_id>/v<id:version>/board",
             permission="lists.view", target="list")
def board(list_id, version=None):
    ctx = list_context(list_id, version, name_policy="full")
    return render_template("lists/print.html", qr_svg=qr_svg(ctx["version_url"]), board=True, **ctx)


@staff_route("/lists/<id:list_id>/photos", permission="lists.record", target="list", methods=("POST",))
def upload_photo(list_id):
    db = get_db()
    form = UploadPhotoForm()
    if not form.validate_on_submit():
        flash("；".join(e for errors in form.errors.values() for e in errors))
        return redirect(url_for("staff.list_view", list_id=list_id)), 303
    try:
        data, content_type, ext = read_upload(form.photo.data.stream, allow_pdf=False)
    except EvidenceError as error:
        flash(str(error))
    else:
        _store_photo(db, list_id, data, content_type, ext)
        flash("照片已上传，作为张榜留存记录（已去除照片里的位置等信息）。")
    return redirect(url_for("staff.list_view", list_id=list_id)), 303


def _store_photo(db, list_id: int, data: bytes, content_type: str, ext: str) -> None:
    add_board_photo(db, list_id, data, content_type, ext, folder=evidence_folder("boards"),
                    actor=current_user.username, role=current_user.role, key=id_key(), clock=clock.current())


@staff_route("/photos/<id:photo_id>", permission="lists.view", target="photo")
def photo(photo_id):
    row = next(get_db().query("select * from board_photos where id = ?", [photo_id]))
    path = evidence_folder("boards") / row["stored_name"]
    if not path.is_file():
        abort(404)
    return send_file(path, mimetype=row["content_type"], max_age=0, as_attachment=True,
                     download_name=f"张榜照片{photo_id}.{row['stored_name'].rsplit('.', 1)[-1]}")
