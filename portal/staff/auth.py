"""Logging in to the console: Flask-Login sessions (ended by a password change, by inactivity and
``SESSION_MAX_AGE`` after the password was typed), the login, logout and password pages, and the
``create-user`` command. Guessing is bounded by ``portal.staff.lockout``.
"""

from __future__ import annotations

import datetime as dt
import sys

import click
import flask_login
from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.cli import with_appcontext
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from .. import clock
from ..domain.accounts import (
    MIN_PASSWORD,
    ROLES,
    AccountError,
    allowed,
    change_password,
    create_user,
    end_sessions,
    verify_login,
)
from ..domain.numbers import parse_int
from ..runtime import get_db, id_key
from . import lockout

bp = Blueprint("accounts", __name__, url_prefix="/staff")
login_manager = flask_login.LoginManager()


class User(flask_login.UserMixin):
    def __init__(self, row: dict):
        self.row = row
        self.id = row["id"]
        self.username = row["username"]
        self.display_name = row["display_name"]
        self.role = row["role"]
        self.region_code = row["region_code"]

    def get_id(self) -> str:
        # The session version changes with the password: older sessions stop working.
        return f"{self.id}:{self.row['session_version']}"

    @property
    def role_name(self) -> str:
        return ROLES[self.role]

    def can(self, permission: str, target_region: str, target_level: str | None = None) -> bool:
        return allowed(self.role, self.region_code, permission, target_region, target_level)


@login_manager.user_loader
def load_user(token: str):
    # However active, a session ends SESSION_MAX_AGE seconds after the password was typed.
    if int(clock.current().timestamp()) - session.get("login_at", 0) > int(current_app.config["SESSION_MAX_AGE"]):
        return None
    user_id, _, version = token.partition(":")
    user_id, version = parse_int(user_id), parse_int(version)
    if user_id is None or version is None:
        return None
    row = next(get_db().query(
        "select * from users where id = ? and session_version = ? and active = 1", [user_id, version]), None)
    return User(row) if row else None


class LoginForm(FlaskForm):
    username = StringField("用户名", validators=[DataRequired("请填写用户名。"), Length(max=40)])
    password = PasswordField("密码", validators=[DataRequired("请填写密码。"), Length(max=200)])


class ChangePasswordForm(FlaskForm):
    old = PasswordField("原密码", validators=[DataRequired("请填写原密码。")])
    new = PasswordField("新密码", validators=[DataRequired("请填写新密码。"), Length(min=MIN_PASSWORD, max=200, message=f"新密码至少要 {MIN_PASSWORD} 位。")])
    repeat = PasswordField("再输一遍新密码", validators=[EqualTo("new", message="两次输入的新密码不一样。")])


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    if form.validate_on_submit():
        db = get_db()
        attempt = lockout.attempt(form.username.data)
        row = verify_login(db, form.username.data, form.password.data)
        if row:
            failures, last = lockout.succeeded(db, attempt)
            session.clear()
            session.permanent = True
            session["login_at"] = int(clock.current().timestamp())
            flask_login.login_user(User(row))
            if failures:
                when = dt.datetime.fromisoformat(last).astimezone(clock.zone())
                flash(f"自您上次登录以来，有人用您的账号输错密码 {failures} 次（最近一次在 "
                      f"{when.month}月{when.day}日 {when:%H:%M}）。如果不是您本人，请修改密码，并告诉县扶贫办。")
            next_url = request.args.get("next", "")
            if not next_url.startswith("/staff") or next_url.startswith("//"):
                next_url = url_for("staff.dashboard")
            response = redirect(next_url)
            lockout.remember_device(response, attempt)
            return response
        lockout.failed(db, attempt, clock.current())
        flash("用户名或密码不对。")
        return render_template("staff/login.html", form=form), 401
    return render_template("staff/login.html", form=form), 400 if form.errors else 200


@bp.post("/logout")
def logout():
    if flask_login.current_user.is_authenticated:
        # End this account's sessions on the server too: a copied cookie stops working.
        end_sessions(get_db(), flask_login.current_user.id)
    flask_login.logout_user()
    session.clear()
    flash("已退出登录。")
    return redirect(url_for("accounts.login"))


@bp.route("/password", methods=["GET", "POST"])
@flask_login.login_required
def password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        attempt = lockout.attempt(flask_login.current_user.username)
        try:
            change_password(get_db(), flask_login.current_user.row, form.old.data, form.new.data, key=id_key(),
                            clock=clock.current())
        except AccountError as error:      # the new password breaks a rule
            form.new.errors.append(str(error))
        except ValueError as error:        # the old password is wrong: a failed attempt
            lockout.failed(get_db(), attempt, clock.current())
            form.old.errors.append(str(error))
        else:
            flask_login.logout_user()
            session.clear()
            flash("密码已修改，请用新密码重新登录。")
            return redirect(url_for("accounts.login"))
    return render_template("staff/password.html", form=form), 400 if form.errors else 200


@click.command("create-user")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(list(ROLES)))
@click.option("--region", "region_code", required=True, help="Region code the user is bound to.")
@click.option("--name", "display_name", default="", help="Display name (defaults to USERNAME).")
@with_appcontext
def create_user_command(username, role, region_code, display_name):
    """Create a staff user; asks for the password, or reads it from standard input for scripts."""
    if sys.stdin.isatty():
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\n")
    try:
        user_id = create_user(get_db(), username=username, display_name=display_name, role=role,
                              region_code=region_code, password=password, actor="命令行", actor_role="cli",
                              key=id_key(), clock=clock.current())
    except ValueError as error:
        raise click.ClickException(str(error))
    click.echo(f"Created user {username} (id {user_id}, {role}, region {region_code}).")


def init_app(app) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = "请先登录。"
    login_manager.session_protection = "basic"
    app.register_blueprint(bp)
    app.cli.add_command(create_user_command)
