"""Taking a household off a removal, exit or re-entry list (issue 20): when an objection to it is
upheld, its proposal is withdrawn and the highest list of that kind carrying it gets a new version
without it (the lower ones are frozen and keep showing it), in one transaction with its audit row."""

from __future__ import annotations

import datetime as dt

from ..db import write_transaction
from . import audit, rules
from .publishing import amend_list
from .replacement import highest_list_carrying
from .rules import PublishError


def take_off(db, *, list_id: int, household_id: int, reason: str, complaint_id: int | None, actor: str, role: str,
             key: bytes, today: dt.date | None, clock) -> int:
    """Withdraw the household's proposal and publish the list's next version without it; returns the version."""
    reason = (reason or "").strip()
    if not reason:
        raise PublishError("请写明理由（例如：异议查实，该户还没有达到退出条件）。")
    with write_transaction(db):
        target = highest_list_carrying(db, list_id, household_id)
        if target["kind"] not in rules.ADJUSTMENT_KINDS:
            raise PublishError("这一步只用于剔除、退出和返贫纳入名单。")
        proposal = next(db.query(
            "select a.id, h.head_name from adjustments a join households h on h.id = a.household_id "
            "where a.campaign_id = ? and a.kind = ? and a.household_id = ? and a.status != 'withdrawn'",
            [target["campaign_id"], target["kind"], household_id]), None)
        current = [r["household_id"] for r in db.query(
            "select household_id from list_entries where list_id = ? and version = ? order by position",
            [target["id"], target["current_version"]])]
        if proposal is None or household_id not in current:
            raise PublishError("这一户不在这份名单上。")
        db.execute("update adjustments set status = 'withdrawn', withdrawn_reason = ?, updated_at = ? where id = ?",
                   [reason, clock.stamp(), proposal["id"]])
        version = amend_list(db, target["id"], household_ids=[h for h in current if h != household_id],
                             note=f"{proposal['head_name']}：{reason}", key=key, today=today, clock=clock)
        if complaint_id is not None:
            db.execute("update complaints set resolved_household_id = ? where id = ?", [household_id, complaint_id])
        audit.record(db, actor=actor, role=role, action="adjustment.take_off", object_type="list",
                     object_id=target["id"], region_code=target["region_code"],
                     after={"household_id": household_id, "adjustment_id": proposal["id"], "version": version,
                            "complaint_id": complaint_id, "reason": reason}, key=key, clock=clock)
        return version
