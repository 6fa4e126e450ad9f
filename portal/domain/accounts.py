"""Staff accounts: roles bound to a region, who may do what where (``allowed``), argon2 passwords.

Plain functions over the database; the login itself (sessions, forms, views) is ``portal.staff.auth``,
and every console route is checked with ``allowed`` by ``portal.staff.routing.staff_route``.
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from ..db import write_transaction
from . import audit, rules
from .regions import get_region_row

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
    # Dynamic management (issue 20): the village proposes and records the household's word; the work
    # team (township reviewer, investigator, county office) verifies; township or county may exit a
    # household that refused, with a reason; the level above a list spot-checks it.
    "register.view": set(ROLES),
    "adjustments.propose": {"village_clerk"},
    "adjustments.verify": {"township_reviewer", "investigator", "county_admin"},
    "adjustments.override": {"township_reviewer", "county_admin"},
    "spotcheck.record": {"township_reviewer", "county_admin"},
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
                actor: str, actor_role: str, key: bytes, clock) -> int:
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


def change_password(db, user: dict, old: str, new: str, *, key: bytes, clock) -> None:
    """Change a user's password (``user``: their ``users`` row); ends their other sessions."""
    if verify_login(db, user["username"], old) is None:
        raise ValueError("原密码不对。")
    check_password_rules(new)
    with write_transaction(db):
        db.execute("update users set password_hash = ?, session_version = session_version + 1 where id = ?",
                   [hasher.hash(new), user["id"]])
        audit.record(db, actor=user["username"], role=user["role"], action="user.password", object_type="user",
                     object_id=user["id"], region_code=user["region_code"], key=key, clock=clock)


def deactivate_user(db, user_id: int, *, actor: str, role: str, key: bytes, clock) -> dict:
    """Stop an account at once (its sessions end with the version bump); audited. Returns its row."""
    with write_transaction(db):
        row = next(db.query("select username, region_code, active from users where id = ?", [user_id]))
        db.execute("update users set active = 0, session_version = session_version + 1 where id = ?", [user_id])
        audit.record(db, actor=actor, role=role, action="user.deactivate", object_type="user", object_id=user_id,
                     region_code=row["region_code"], before={"active": row["active"]}, after={"active": 0}, key=key,
                     clock=clock)
    return row


def end_sessions(db, user_id: int) -> None:
    """End every session of an account (logging out ends copies of the cookie too)."""
    with write_transaction(db):
        db.execute("update users set session_version = session_version + 1 where id = ?", [user_id])


def note_failed_login(db, username: str, *, clock) -> None:
    """Keep a wrong password on the account (if there is one), for its owner to be told."""
    with write_transaction(db):
        db.execute("update users set failed_logins = failed_logins + 1, last_failed_at = ? where username = ?",
                   [clock.stamp(), username])


def take_failed_logins(db, username: str) -> tuple[int, str | None]:
    """(wrong passwords since the last login, when the last one was), and reset the count."""
    with write_transaction(db):
        row = next(db.query("select failed_logins, last_failed_at from users where username = ?", [username]))
        if row["failed_logins"]:
            db.execute("update users set failed_logins = 0 where username = ?", [username])
    return row["failed_logins"], row["last_failed_at"]

