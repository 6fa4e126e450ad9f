"""Clocks: real time in one zone, or a fixed instant that can be moved (tests, screenshots, demos).

The running app keeps one (``portal/clock.py``); the domain's functions that write times are handed
it as a ``clock`` argument and never read the wall clock themselves.
"""

from __future__ import annotations

import datetime as dt
import time
from zoneinfo import ZoneInfo


def _parse(value: dt.datetime | str, zone: ZoneInfo) -> dt.datetime:
    when = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    return when if when.tzinfo else when.replace(tzinfo=zone)


class Clock:
    """Real time in one zone, or a fixed instant (tests, screenshots, demos) that can be moved."""

    def __init__(self, zone: str | ZoneInfo = "Asia/Shanghai", fixed: dt.datetime | str | None = None):
        self.zone = zone if isinstance(zone, ZoneInfo) else ZoneInfo(zone)
        self._fixed = _parse(fixed, self.zone) if fixed else None

    def __repr__(self) -> str:
        return f"Clock({self.zone.key!r}, fixed={self._fixed.isoformat() if self._fixed else None})"

    @property
    def frozen(self) -> bool:
        return self._fixed is not None

    def freeze(self, when: dt.datetime | str) -> None:
        """Stop the clock at ``when`` (a naive time is read in the portal's zone)."""
        self._fixed = _parse(when, self.zone)

    def advance(self, delta: dt.timedelta) -> None:
        """Move a frozen clock on (tests: "a day later")."""
        if self._fixed is None:
            raise RuntimeError("only a frozen clock can be moved")
        self._fixed += delta

    def now(self) -> dt.datetime:
        """The current instant, aware, in the portal's zone."""
        if self._fixed is not None:
            return self._fixed.astimezone(self.zone)
        return dt.datetime.now(self.zone)

    def today(self) -> dt.date:
        """The calendar day in the portal's zone (Asia/Shanghai): windows are whole local days."""
        return self.now().date()

    def stamp(self, timespec: str = "seconds") -> str:
        """Now as stored in ``created_at``/``published_at``/audit columns: UTC, ISO 8601."""
        return self.now().astimezone(dt.timezone.utc).isoformat(timespec=timespec)

    def local_stamp(self) -> str:
        """Now in the portal's zone, ISO 8601 to the second (compared with ``publish_at`` of notices)."""
        return self.now().isoformat(timespec="seconds")

    def timestamp(self) -> float:
        """Now as POSIX seconds: session ages, and file ages compared with ``st_mtime``."""
        if self._fixed is not None:
            return self._fixed.timestamp()
        return time.time()
