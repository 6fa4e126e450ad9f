"""The portal's clock: real time in the configured zone, or a fixed instant set for tests/demos.

Set ``NOW`` (``PORTAL_NOW``) to an ISO timestamp to freeze the clock; window states are always
computed from this clock, so no one has to click anything at midnight.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from flask import current_app

from . import rules


def zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["TIME_ZONE"])


def now() -> dt.datetime:
    fixed = current_app.config.get("NOW")
    if fixed:
        value = fixed if isinstance(fixed, dt.datetime) else dt.datetime.fromisoformat(str(fixed))
        return value if value.tzinfo else value.replace(tzinfo=zone())
    return dt.datetime.now(zone())


def today() -> dt.date:
    return rules.local_date(now(), zone())
