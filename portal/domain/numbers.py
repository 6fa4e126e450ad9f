"""Numbers typed by people: ASCII digits only, bounded (``²``, ``①`` and ``𐩀`` pass ``str.isdigit`` but
are not numbers anyone meant; ``int()`` of them fails or surprises)."""

from __future__ import annotations

MAX_ROWID = 2**63 - 1


def parse_int(text: str | None, *, low: int = 0, high: int = MAX_ROWID) -> int | None:
    """The integer in ``text`` when it is plain ASCII digits within [low, high]; None otherwise."""
    if not text or len(text) > 19 or not (text.isascii() and text.isdigit()):
        return None
    value = int(text)
    return value if low <= value <= high else None
