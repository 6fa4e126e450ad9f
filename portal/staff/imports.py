"""Uploading spreadsheets in the console: preview (a dry run) first, then import all or nothing."""

from __future__ import annotations

import io
import json
import re
import secrets
from pathlib import Path

from flask import (
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    send_file,
    url_for,
)
from flask_login import current_user

from .. import clock
from ..domain.accounts import IMPORT_KINDS
from ..domain.regions import ancestors, get_region_row
from ..importer import ImportFileError, Problem, Scope, import_file
from ..importer.marked import blank_template, marked_copy
from ..runtime import evidence_folder, get_db, id_key
from ..web.forms import choices
from .console import chosen_campaign
from .forms import ConfirmImportForm, UploadImportForm
from .routing import staff_route

KIND_NAMES = {"applicants": "申请户和得票", "quotas": "规模指标", "regions": "行政区划"}
TOKEN = re.compile(r"^[0-9a-f]{32}$")


def _folder() -> Path:
    return evidence_folder("imports")


def _upload_meta(token: str, code: str) -> dict:
    """The stored upload behind a token, only for the user and region that made it."""
    if not TOKEN.match(token):
        abort(404)
    path = _folder() / f"{token}.json"
    if not path.is_file():
        abort(404)
    meta = json.loads(path.read_text())
    if meta["user_id"] != current_user.id or meta["region_code"] != code:
        abort(404)
    return meta


def _run(db, meta: dict, dry_run: bool):
    scope = Scope(meta["campaign_id"], meta["region_code"], current_user.username, current_user.role, id_key(),
                  clock.current(), current_app.config["NAME_LATIN"])
    return import_file(db, _folder() / meta["stored"], kind=meta["kind"], scope=scope, dry_run=dry_run,
                       filename=meta["filename"])


@staff_route("/r/<code>/import", permission="imports.run", target="region", methods=("GET", "POST"))
def upload(code):
    db = get_db()
    region = get_region_row(db, code)
    campaign = chosen_campaign(db, code)
    kinds = IMPORT_KINDS[current_user.role]
    form = UploadImportForm()
    form.kind.choices = choices((k, KIND_NAMES[k]) for k in kinds)
    report, token, problem = None, None, None
    if form.validate_on_submit():
        if form.kind.data not in ("regions",) and campaign is None:
            abort(404)
        token = secrets.token_hex(16)
        name = Path(form.file.data.filename or "upload").name[:100]
        stored = f"{token}.upload"
        form.file.data.save(_folder() / stored)
        meta = {"user_id": current_user.id, "region_code": code, "kind": form.kind.data, "filename": name,
                "stored": stored, "campaign_id": campaign["id"] if campaign else None}
        (_folder() / f"{token}.json").write_text(json.dumps(meta, ensure_ascii=False))
        try:
            report = _run(db, meta, dry_run=True)
        except ImportFileError as error:
            problem = str(error)
        else:
            (_folder() / f"{token}.csv").write_text(report.csv_text(), encoding="utf-8")
            (_folder() / f"{token}.problems.json").write_text(json.dumps(
                {"problems": report.problem_records(), "header_rows": report.header_rows}, ensure_ascii=False))
    status = 400 if (problem or form.errors or (report and not report.ok)) else 200
    return render_template("staff/import.html", form=form, region=region, crumbs=ancestors(db, code), campaign=campaign,
                           report=report, token=token, problem=problem, confirm=ConfirmImportForm(token=token),
                           kind_names=KIND_NAMES), status


@staff_route("/r/<code>/import/confirm", permission="imports.run", target="region", methods=("POST",))
def confirm_import(code):
    form = ConfirmImportForm()
    if not form.validate_on_submit():
        abort(400)
    meta = _upload_meta(form.token.data, code)
    if meta["kind"] not in IMPORT_KINDS[current_user.role]:
        abort(403)
    report = _run(get_db(), meta, dry_run=False)
    for suffix in (".upload", ".json", ".problems.json"):
        (_folder() / f"{form.token.data}{suffix}").unlink(missing_ok=True)
    flash(f"{meta['filename']}：{report.summary()}")
    return redirect(url_for("staff.region", code=code, campaign=meta["campaign_id"]))


@staff_route("/r/<code>/import/<token>.csv", permission="imports.run", target="region")
def import_report(code, token):
    _upload_meta(token, code)
    path = _folder() / f"{token}.csv"
    if not path.is_file():
        abort(404)
    return current_app.response_class(path.read_text(encoding="utf-8"), mimetype="text/csv", headers={
        "Content-Disposition": 'attachment; filename="import-report.csv"'})


@staff_route("/r/<code>/import/<token>.xlsx", permission="imports.run", target="region")
def import_marked(code, token):
    """The clerk's own file with its problems written in, to fix in their office suite and upload again."""
    meta = _upload_meta(token, code)
    upload, kept = _folder() / meta.get("stored", ""), _folder() / f"{token}.problems.json"
    if not (upload.is_file() and kept.is_file()):
        abort(404)
    record = json.loads(kept.read_text())
    problems = [Problem(*p) for p in record["problems"]]
    data = marked_copy(upload, problems, record["header_rows"])
    stem = Path(meta["filename"]).stem or "表格"
    return send_file(io.BytesIO(data), as_attachment=True, download_name=f"{stem}-问题说明.xlsx", max_age=0,
                     mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


def _template(kind: str, ext: str):
    if kind not in KIND_NAMES:
        abort(404)
    source = Path(current_app.config["IMPORT_DIR"]) / "templates" / f"{kind}.csv"
    name = f"{KIND_NAMES[kind]}（空白表）.{ext}"
    if ext == "csv":
        return send_file(source, as_attachment=True, download_name=name, mimetype="text/csv", max_age=0)
    return send_file(io.BytesIO(blank_template(source)), as_attachment=True, download_name=name, max_age=0,
                     mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


@staff_route("/import/templates/<kind>.xlsx", permission="imports.run")
def import_template_xlsx(kind):
    """A blank table of each kind as XLSX, its ID and code columns already formatted as text."""
    return _template(kind, "xlsx")


@staff_route("/import/templates/<kind>.csv", permission="imports.run")
def import_template_csv(kind):
    """A blank table of each kind as CSV (UTF-8 with BOM, as Excel opens it)."""
    return _template(kind, "csv")
