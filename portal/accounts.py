"""Staff accounts: roles bound to a region, argon2 passwords, login, logout, password change.

Who may do what where is decided by ``allowed`` — a plain function — and enforced for every
console route by ``staff.staff_route``.
"""

from __future__ import annotations

import datetime as dt
import sys

import click
import flask_login
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
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

from . import audit, clock, lockout, rules
from .db import get_db, write_transaction
from .inputs import parse_int
from .regions import get_region_row

bp = Blueprint("accounts", __name__, url_prefix="/staff")
login_manager = flask_login.LoginManager()
hasher = PasswordHasher()

ROLES = {
    "county_admin": "县扶贫办",
    "township_reviewer": "乡镇审核员",
    "village_clerk": "村委会文书",
    "investigator": "调查员",
}
#: The levels of region each role may be bound to.
ROLE_LEVELS = {
    "county_admin": ("county",),
    "township_reviewer": ("township",),
    "village_clerk": ("village",),
    "investigator": ("township", "county"),
}
#: Who publishes, amends and keeps the board record of a list at each level.
PUBLISHER = {"village": "village_clerk", "township": "township_reviewer", "county": "county_admin"}
#: Permissions that do not depend on the level of the target.
ROLE_PERMISSIONS = {
    "console.view": set(ROLES),
    "lists.view": set(ROLES),
    "applicants.edit": {"village_clerk"},
    "selection.preview": {"village_clerk", "township_reviewer", "county_admin"},
    "imports.run": {"village_clerk", "township_reviewer", "county_admin"},
    "complaints.view": set(ROLES),
    "complaints.manage": {"village_clerk", "township_reviewer", "county_admin"},
    "complaints.conclude": set(ROLES),
    "complaints.replace": {"village_clerk", "township_reviewer", "county_admin"},
    "notices.write": {"township_reviewer", "county_admin"},
    "admin.users": {"county_admin"},
    "admin.quotas": {"county_admin"},
    "admin.campaigns": {"county_admin"},
}
LEVEL_PERMISSIONS = {"lists.publish", "lists.record"}
#: What each role may import (regions and quotas shape the whole county: the county office's job).
IMPORT_KINDS = {
    "village_clerk": ("applicants",),
    "township_reviewer": ("applicants",),
    "county_admin": ("applicants", "quotas", "regions"),
}
MIN_PASSWORD = 10


def in_jurisdiction(user_region: str, target_region: str) -> bool:
    """Region codes nest (a village's code starts with its township's), so a subtree is a prefix."""
    return bool(target_region) and target_region.startswith(user_region)


def allowed(role: str, user_region: str, permission: str, target_region: str, target_level: str | None = None) -> bool:
    """May a user with ``role`` bound to ``user_region`` do ``permission`` on ``target_region``?"""
    if not in_jurisdiction(user_region, target_region):
        return False
    if permission in LEVEL_PERMISSIONS:
        return PUBLISHER.get(target_level) == role
    return role in ROLE_PERMISSIONS.get(permission, set())


# --- Users ---------------------------------------------------------------------------------------


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


def get_user_row(db, username: str) -> dict | None:
    return next(db.query("select * from users where username = ?", [username.strip()]), None)


class AccountError(ValueError):
    """Why an account cannot be made as asked, in Chinese, with the form field it is about."""

    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.field = field


def check_password_rules(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"密码至少要 {MIN_PASSWORD} 位。", "password")


def create_user(db, *, username: str, display_name: str, role: str, region_code: str, password: str,
                actor: str, actor_role: str, key: bytes | None = None, clock) -> int:
    """Create a staff account (audited; the password is stored only as an argon2 hash)."""
    username = username.strip()
    if not username or len(username) > 40 or any(c.isspace() for c in username):
        raise AccountError("用户名不能为空、不能有空格，最长 40 个字符。", "username")
    if role not in ROLES:
        raise AccountError(f"未知角色：{role}（可选：{'、'.join(f'{k}（{v}）' for k, v in ROLES.items())}）", "role")
    region = get_region_row(db, region_code)
    if region is None:
        raise AccountError(f"区划代码 {region_code} 不存在。", "region_code")
    if region["level"] not in ROLE_LEVELS[role]:
        levels = "或".join(rules.LEVEL_NAMES[lv] for lv in ROLE_LEVELS[role])
        raise AccountError(f"{ROLES[role]}只能绑定到{levels}一级的区划；{region['name']}是"
                           f"{rules.LEVEL_NAMES[region['level']]}一级。", "region_code")
    check_password_rules(password)
    with write_transaction(db):
        if get_user_row(db, username):
            raise AccountError(f"用户名 {username} 已经有人用了。", "username")
        user_id = db["users"].insert({
            "username": username, "display_name": display_name.strip() or username, "role": role,
            "region_code": region_code, "password_hash": hasher.hash(password), "session_version": 1,
            "active": 1, "created_at": clock.stamp(),
        }).last_pk
        audit.record(db, actor=actor, role=actor_role, action="user.create", object_type="user", object_id=user_id,
                     region_code=region_code,
                     after={"username": username, "display_name": display_name, "role": role, "region_code": region_code},
                     key=key, clock=clock)
    return user_id


def verify_login(db, username: str, password: str) -> dict | None:
    """The user row when the password matches an active account; None otherwise (same work either way)."""
    row = get_user_row(db, username or "")
    if row is None or not row["active"]:
        # Hash anyway so that a wrong user name takes as long as a wrong password.
        try:
            hasher.verify(_DUMMY_HASH, password or "")
        except VerificationError:
            pass
        return None
    try:
        hasher.verify(row["password_hash"], password or "")
    except (VerificationError, InvalidHashError):
        return None
    return row


_DUMMY_HASH = hasher.hash("not a password of anyone")


def change_password(db, user: User, old: str, new: str, *, clock) -> None:
    if verify_login(db, user.username, old) is None:
        raise ValueError("原密码不对。")
    check_password_rules(new)
    with write_transaction(db):
        db.execute("update users set password_hash = ?, session_version = session_version + 1 where id = ?",
                   [hasher.hash(new), user.id])
        audit.record(db, actor=user.username, role=user.role, action="user.password", object_type="user",
                     object_id=user.id, region_code=user.region_code, clock=clock)


# --- Views ---------------------------------------------------------------------------------------


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
        with write_transaction(get_db()) as db:
            db.execute("update users set session_version = session_version + 1 where id = ?",
                       [flask_login.current_user.id])
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
            change_password(get_db(), flask_login.current_user, form.old.data, form.new.data, clock=clock.current())
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


# --- CLI ---------------------------------------------------------------------------------------


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
                              clock=clock.current())
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
