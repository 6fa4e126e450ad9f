"""依次递补: disqualifying a listed household and replacing it from the waiting list (rule 8).

``propose`` shows staff what the rule picks; ``confirm`` re-derives the same proposal inside one
BEGIN IMMEDIATE transaction and writes the disqualification, the new list version (replacements
marked 递补, with a window of their own) and the audit row together. Because the proposal is
recomputed under the write lock, concurrent dispositions in one village can never exceed the quota
or pick the same replacement twice.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from . import audit, rules
from .campaigns import applicants_of, draw_reserve, get_campaign, get_quota
from .db import write_transaction
from .publishing import PublishError, amend_list


@dataclasses.dataclass(frozen=True)
class Proposal:
    list_id: int
    removed: int
    replacements: tuple[int, ...]
    quota: int
    persons_after: int

    @property
    def unused(self) -> int:
        return self.quota - self.persons_after


def _current(db, list_id: int) -> tuple[dict, list[dict]]:
    lst = next(db.query("select * from lists where id = ?", [list_id]), None)
    if lst is None:
        raise PublishError("名单不存在。")
    entries = list(db.query(
        "select household_id, village_code, size from list_entries where list_id = ? and version = ? "
        "order by position", [list_id, lst["current_version"]]))
    return lst, entries


def propose(db, list_id: int, household_id: int) -> Proposal:
    """Who the rule would bring in if ``household_id`` lost its place on this list."""
    lst, entries = _current(db, list_id)
    if lst["kind"] not in ("identify", "replace"):
        raise PublishError("只有识别纳入名单才按得票依次递补。")
    removed = next((e for e in entries if e["household_id"] == household_id), None)
    if removed is None:
        raise PublishError("这户不在名单的当前版本上。")
    quota = get_quota(db, lst["campaign_id"], lst["region_code"])
    if quota is None:
        raise PublishError("本地尚未下达规模指标。")
    campaign = get_campaign(db, lst["campaign_id"])
    on_list = {e["household_id"] for e in entries}
    persons = sum(e["size"] for e in entries) - removed["size"]
    free = quota["persons"] - persons
    if lst["level"] != "village":
        # On a township or county list the replacement also has to fit its own village's quota.
        village = removed["village_code"]
        village_quota = get_quota(db, lst["campaign_id"], village)
        village_persons = sum(e["size"] for e in entries if e["village_code"] == village) - removed["size"]
        free = min(free, (village_quota["persons"] if village_quota else 0) - village_persons)
    # The waiting list of the removed household's own village (同村依次递补).
    waiting = [a for a in applicants_of(db, lst["campaign_id"], removed["village_code"])
               if a.id not in on_list]
    chosen = rules.replacements(waiting, max(free, 0), stop_at_first_misfit=bool(campaign["stop_at_first_misfit"]))
    return Proposal(list_id, household_id, tuple(a.id for a in chosen), quota["persons"],
                    persons + sum(a.size for a in chosen))


def confirm(db, *, list_id: int, household_id: int, ground: str, expected: tuple[int, ...] | None,
            actor: str, role: str, key: bytes, today: dt.date | None, start: dt.date,
            complaint_id: int | None = None, published_at: str | None = None, clock) -> Proposal:
    """Disqualify the household and publish the replacements as a new version, atomically.

    ``expected`` is the proposal the staff member saw; if the list changed meanwhile (another
    disposition in the same village), nothing is written and they are asked to look again.
    """
    ground = (ground or "").strip()
    if not ground:
        raise PublishError("请写明取消资格的理由（查实的问题）。")
    with write_transaction(db):
        proposal = propose(db, list_id, household_id)
        if expected is not None and tuple(expected) != proposal.replacements:
            raise PublishError("名单刚刚有了变化，递补人选也随之变化：请重新查看后再确认。")
        lst, entries = _current(db, list_id)
        db["disqualifications"].insert({
            "household_id": household_id, "list_id": list_id, "ground": ground, "complaint_id": complaint_id,
            "decided_by": actor, "decided_at": clock.stamp()})
        kept = [e["household_id"] for e in entries if e["household_id"] != household_id]
        version = amend_list(
            db, list_id, household_ids=kept + list(proposal.replacements), key=key, today=today,
            start=start if proposal.replacements else None, published_at=published_at, clock=clock,
            note=("经调查核实，一户举报属实，取消其资格；" +
                  ("空出的名额按得票从高到低依次递补，递补户另行公示。" if proposal.replacements
                   else "没有能放进空出名额的候补户，名额暂时空出。")))
        audit.record(db, actor=actor, role=role, action="list.replace", object_type="list", object_id=list_id,
                     region_code=lst["region_code"], key=key, clock=clock,
                     after={"disqualified": household_id, "ground": ground, "replacements": list(proposal.replacements),
                            "version": version, "complaint_id": complaint_id, "unused": proposal.unused})
    return proposal


def omitted_candidates(db, list_id: int) -> list[dict]:
    """Households of the list's area that are not on it (nor disqualified), best ranked first."""
    lst, entries = _current(db, list_id)
    on_list = {e["household_id"] for e in entries}
    rows = list(db.query(
        "select h.id, h.head_name, h.size, h.village_code, coalesce(v.votes, 0) as votes from households h "
        "left join votes v on v.household_id = h.id where h.campaign_id = ? and h.village_code like ? "
        "and not exists (select 1 from disqualifications d where d.household_id = h.id) "
        "order by votes desc, h.id", [lst["campaign_id"], lst["region_code"] + "%"]))
    return [r for r in rows if r["id"] not in on_list]


def add_omitted(db, *, list_id: int, household_id: int, use_reserve: bool, actor: str, role: str, key: bytes,
                today: dt.date | None, start: dt.date, complaint_id: int | None = None, clock) -> int:
    """漏评 upheld (rule 9): add the household from the unused quota — or, with the county's approval,
    from the county reserve — as a new version that publicises it for a full window."""
    with write_transaction(db):
        lst, entries = _current(db, list_id)
        if lst["kind"] not in ("identify", "replace"):
            raise PublishError("只有识别纳入名单才能补录。")
        candidate = next((c for c in omitted_candidates(db, list_id) if c["id"] == household_id), None)
        if candidate is None:
            raise PublishError("这户不能补录：不在本地、已在名单上或已被取消资格。")
        if use_reserve:
            # Draw only what the village's unused quota cannot cover.
            village = candidate["village_code"]
            used = sum(e["size"] for e in entries if e["village_code"] == village)
            unused = get_quota(db, lst["campaign_id"], village)["persons"] - used
            if candidate["size"] > unused:
                draw_reserve(db, lst["campaign_id"], village, candidate["size"] - max(unused, 0))
        version = amend_list(
            db, list_id, household_ids=[e["household_id"] for e in entries] + [household_id], key=key, today=today,
            start=start, marks={household_id: "补录"}, clock=clock,
            note="经调查核实，一户符合条件但被漏评，予以补录" + ("（使用县预留机动名额）" if use_reserve else "") + "，补录户另行公示。")
        audit.record(db, actor=actor, role=role, action="list.add_omitted", object_type="list", object_id=list_id,
                     region_code=lst["region_code"], key=key, clock=clock,
                     after={"household_id": household_id, "use_reserve": use_reserve, "version": version,
                            "complaint_id": complaint_id})
    return version
