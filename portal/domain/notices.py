"""Notices (公告): written by the township or county, published at their time."""

from __future__ import annotations

from ..db import write_transaction
from . import audit, keys


def create_notice(db, *, region_code: str, title: str, body: str, publish_at: str, actor: str, role: str,
                  key: bytes, clock) -> int:
    """Save a notice, its audit row and its search outbox row in one transaction."""
    now = clock.stamp()
    with write_transaction(db):
        notice_id = db["notices"].insert({
            "region_code": region_code, "title": title.strip(), "body": body, "publish_at": publish_at,
            "author": actor, "created_at": now, "updated_at": now}).last_pk
        audit.record(db, actor=actor, role=role, action="notice.create", object_type="notice", object_id=notice_id,
                     region_code=region_code, after={"title": title, "publish_at": publish_at}, key=key, clock=clock)
        keys.enqueue(db, f"notice:{notice_id}", clock=clock)
    return notice_id
