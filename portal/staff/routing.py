"""The staff console under /staff/: every route declares its permission and its target region.

``staff_route`` registers a view and, before it runs, requires a login, finds the region the
request acts on (from the URL: a region code, a list, a household, a user or a photo) and checks
``accounts.allowed`` on the server. The matrix test reads the same declarations from the URL map.
"""

from __future__ import annotations

import functools

from flask import Blueprint, abort, g
from flask_login import current_user

from ..domain.regions import level_of_code
from ..runtime import get_db
from .auth import login_manager

bp = Blueprint("staff", __name__, url_prefix="/staff")


TARGETS = ("none", "region", "list", "household", "user", "photo", "complaint", "adjustment")


def resolve_target(target: str, kwargs: dict) -> tuple[str, str]:
    """(region code, level) the request acts on; 404 when the object does not exist."""
    db = get_db()
    if target == "none":
        code = current_user.region_code
        return code, level_of_code(code)
    if target == "region":
        code = kwargs["code"]
        if level_of_code(code) is None:
            abort(404)
        row = next(db.query("select code, level from regions where code = ?", [code]), None)
    elif target == "list":
        row = next(db.query("select region_code as code, level from lists where id = ?", [kwargs["list_id"]]), None)
    elif target == "household":
        row = next(db.query("select village_code as code, 'village' as level from households where id = ?",
                            [kwargs["household_id"]]), None)
    elif target == "user":
        row = next(db.query("select u.region_code as code, r.level from users u join regions r on r.code = u.region_code "
                            "where u.id = ?", [kwargs["user_id"]]), None)
    elif target == "photo":
        row = next(db.query("select l.region_code as code, l.level from board_photos p join lists l on l.id = p.list_id "
                            "where p.id = ?", [kwargs["photo_id"]]), None)
    elif target == "complaint":
        row = next(db.query("select c.handler_region as code, r.level from complaints c join regions r "
                            "on r.code = c.handler_region where c.id = ?", [kwargs["complaint_id"]]), None)
    elif target == "adjustment":
        row = next(db.query("select village_code as code, 'village' as level from adjustments where id = ?",
                            [kwargs["adjustment_id"]]), None)
    else:
        raise ValueError(f"unknown target {target!r}")
    if row is None:
        abort(404)
    return row["code"], row["level"]


def staff_route(*rules: str, permission: str, target: str = "none", methods=("GET",)):
    """Register a console view (under one or more URL rules) that only a logged-in user with
    ``permission`` on the target may use."""
    if target not in TARGETS:
        raise ValueError(f"unknown target {target!r}")

    def decorator(view):
        @functools.wraps(view)
        def guarded(**kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            code, level = resolve_target(target, kwargs)
            if not current_user.can(permission, code, level):
                abort(403)
            g.target_region, g.target_level = code, level
            return view(**kwargs)

        guarded.permission = permission
        guarded.target = target
        for rule in rules:
            bp.add_url_rule(rule, view.__name__, guarded, methods=list(methods))
        return guarded

    return decorator


@bp.after_request
def no_store(response):
    """Console pages show names and working data: never cache them."""
    response.headers["Cache-Control"] = "no-store"
    return response
