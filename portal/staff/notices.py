"""Writing notices (公告) in the console: markdown with a preview, a scheduled publication time."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import DateTimeLocalField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length

from .. import clock
from ..domain.notices import create_notice
from ..runtime import get_db, id_key
from ..web.templating import render_markdown
from .console import jurisdiction_choices
from .routing import staff_route


class EditNoticeForm(FlaskForm):
    title = StringField("标题", validators=[DataRequired("请填写标题。"), Length(max=100)])
    region = SelectField("发布范围", choices=[])
    publish_at = DateTimeLocalField("发布时间（到时自动公开）", format="%Y-%m-%dT%H:%M",
                                    validators=[InputRequired("请填写发布时间。")])
    body = TextAreaField("正文（可用 Markdown：# 标题、- 列表、**加粗**）",
                         validators=[DataRequired("请填写正文。"), Length(max=20000)])


@staff_route("/notices", permission="notices.write")
def notices():
    rows = list(get_db().query("select n.*, r.name as region_name from notices n join regions r on "
                               "r.code = n.region_code where n.region_code like ? order by n.publish_at desc",
                               [current_user.region_code + "%"]))
    now = clock.local_stamp()
    return render_template("staff/notices.html", rows=rows, now=now)


@staff_route("/notices/new", permission="notices.write", methods=("GET", "POST"))
def new_notice():
    db = get_db()
    form = EditNoticeForm()
    form.region.choices = jurisdiction_choices(db)
    if not form.is_submitted():
        form.publish_at.data = clock.now().replace(tzinfo=None, second=0, microsecond=0)
    preview = None
    if form.validate_on_submit():
        if not current_user.can("notices.write", form.region.data):
            abort(403)
        if request.form.get("action") == "preview":
            preview = render_markdown(form.body.data)
        else:
            publish_at = form.publish_at.data.replace(tzinfo=clock.zone()).isoformat(timespec="seconds")
            create_notice(db, region_code=form.region.data, title=form.title.data, body=form.body.data,
                          publish_at=publish_at, actor=current_user.username, role=current_user.role,
                          key=id_key(), clock=clock.current())
            flash("公告已保存，到发布时间自动公开。")
            return redirect(url_for("staff.notices"))
    return render_template("staff/notice_new.html", form=form, preview=preview), 400 if form.errors else 200
