"""The staff console under /staff/: every route declares its permission and its target region
(``routing.staff_route``); each module registers its routes on the one blueprint."""

from __future__ import annotations

from .routing import bp


def init_app(app) -> None:
    from . import admin, applicants, cases, console, dynamic, imports, notices, publish  # noqa: F401  (they register routes)

    app.register_blueprint(bp)
