"""The portal's one clock: every "now" the portal uses or stores comes from here.

``create_app`` builds one ``Clock`` from the configuration (``TIME_ZONE``; ``NOW``/``PORTAL_NOW``,
an ISO timestamp, freezes it) and keeps it on the app; views and commands reach it through
``current()`` (or the ``now()``/``today()``/``zone()`` shortcuts), and the plain functions that
write times are handed it as a ``clock`` argument. No other module reads the wall clock: a test
greps for it. Window states are computed from this clock, so nobody has to click at midnight.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from flask import current_app

from .domain.clock import Clock

__all__ = ["EXTENSION", "Clock", "current", "from_config", "local_stamp", "now", "today", "zone"]

EXTENSION = "portal.clock"


def from_config(config) -> Clock:
    """The app's clock: ``TIME_ZONE``, stopped at ``NOW`` when that is set."""
    return Clock(config["TIME_ZONE"], config.get("NOW") or None)


def current() -> Clock:
    """The clock of the running app (inside a request or a CLI command)."""
    return current_app.extensions[EXTENSION]


def now() -> dt.datetime:
    return current().now()


def today() -> dt.date:
    return current().today()


def zone() -> ZoneInfo:
    return current().zone


def local_stamp() -> str:
    return current().local_stamp()
