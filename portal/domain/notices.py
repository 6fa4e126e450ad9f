"""Notices (公告): written by the township or county, published at their time."""

from __future__ import annotations

from ..db import write_transaction
from . import audit, keys, ledger


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
        ledger.record_notice(db, notice_id, clock=clock)
    return notice_id


def published_notices(db, now: str, region_code: str | None = None, limit: int = 10) -> list[dict]:
    """Notices whose time (``publish_at``, in the portal's zone) has come by ``now``, newest first,
    for the site or a region's subtree."""
    sql = "select n.*, r.name as region_name from notices n join regions r on r.code = n.region_code where n.publish_at <= ?"
    params: list = [now]
    if region_code:
        sql += " and n.region_code >= ? and n.region_code < ? || ':'"
        params += [region_code, region_code]
    sql += " order by n.publish_at desc, n.id desc limit ?"
    return list(db.query(sql, params + [limit]))
