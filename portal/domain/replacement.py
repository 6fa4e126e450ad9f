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

from ..db import write_transaction
from . import audit, rules
from .campaigns import draw_reserve, get_campaign, get_quota
from .publishing import PublishError, amend_list, check_not_superseded
from .waiting_list import ranking_walk


@dataclasses.dataclass(frozen=True)
class Proposal:
    list_id: int
    removed: int
    replacements: tuple[int, ...]
    quota: int
    persons_after: int
    #: Waiting households ranked above the last one taken that were passed over: (id, size, free then).
    skipped: tuple[tuple[int, int, int], ...] = ()

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


def highest_list_carrying(db, list_id: int, household_id: int) -> dict:
    """The list a disqualification must change (issue 16, item 2): of the lists of this list's campaign
    and kind whose current version carries the household, the one of the highest level. Lower lists
    are frozen once it is out; they keep showing the household, annotated, on their pages."""
    lst = next(db.query("select * from lists where id = ?", [list_id]), None)
    if lst is None:
        raise PublishError("名单不存在。")
    return next(db.query(
        "select l.* from lists l join list_entries e on e.list_id = l.id and e.version = l.current_version "
        "where l.campaign_id = ? and l.kind = ? and e.household_id = ? order by length(l.region_code), l.id limit 1",
        [lst["campaign_id"], lst["kind"], household_id]), None) or lst


def propose(db, list_id: int, household_id: int) -> Proposal:
    """Who the rule would bring in if ``household_id`` lost its place on this list."""
    lst, entries = _current(db, list_id)
    if lst["kind"] not in ("identify", "replace"):
        raise PublishError("只有识别纳入名单才按得票依次递补。")
    check_not_superseded(db, lst)
    removed = next((e for e in entries if e["household_id"] == household_id), None)
    if removed is None:
        raise PublishError("这户不在名单的当前版本上。")
    quota = get_quota(db, lst["campaign_id"], lst["region_code"])
    if quota is None:
        raise PublishError("本地尚未下达规模指标。")
    kept = [e for e in entries if e["household_id"] != household_id]
    # The ranking of record of the removed household's own village (同村依次递补).
    walk = ranking_walk(db, lst, [{**e, "id": e["household_id"]} for e in kept], removed["village_code"])
    chosen = [a for a, taken, _ in walk if taken]
    last = max((i for i, (_, taken, _) in enumerate(walk) if taken), default=-1)
    # Those ranked above the last one taken, or (nobody taken) the first few: why they were passed over.
    skipped = tuple((a.id, a.size, free) for a, taken, free in (walk[:last] if last >= 0 else walk[:3]) if not taken)
    persons = sum(e["size"] for e in kept)
    return Proposal(list_id, household_id, tuple(a.id for a in chosen), quota["persons"],
                    persons + sum(a.size for a in chosen), skipped)


def confirm(db, *, list_id: int, household_id: int, ground: str, expected: tuple[int, ...] | None,
            actor: str, role: str, key: bytes, today: dt.date | None, start: dt.date,
            complaint_id: int | None = None, published_at: str | None = None, correction: bool = False,
            clock) -> Proposal:
    """Disqualify the household and publish the replacements as a new version, atomically.

    ``expected`` is the proposal the staff member saw; if the list changed meanwhile (another
    disposition in the same village), nothing is written and they are asked to look again.
    ``correction`` marks a registered correction by staff (its ground names who approved it) rather
    than an upheld report: the public note and the audit action say so.
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
            note=(("经核实更正，一户不符合条件，取消其资格；" if correction else "经调查核实，一户举报属实，取消其资格；") +
                  ("空出的名额按得票从高到低依次递补，递补户另行公示。" if proposal.replacements
                   else "没有能放进空出名额的候补户，名额暂时空出。")))
        audit.record(db, actor=actor, role=role, action="list.correct" if correction else "list.replace",
                     object_type="list", object_id=list_id,
                     region_code=lst["region_code"], key=key, clock=clock,
                     after={"disqualified": household_id, "ground": ground, "replacements": list(proposal.replacements),
                            "version": version, "complaint_id": complaint_id, "unused": proposal.unused})
    return proposal


def omitted_candidates(db, list_id: int) -> list[dict]:
    """Households of the list's area that are not on it (nor disqualified, nor out of the campaign's
    scope), best ranked first."""
    lst, entries = _current(db, list_id)
    on_list = {e["household_id"] for e in entries}
    scope = rules.Scope.of(get_campaign(db, lst["campaign_id"]))
    rows = list(db.query(
        "select h.id, h.head_name, h.size, h.village_code, coalesce(v.votes, 0) as votes, h.dibao, h.wubao "
        "from households h "
        "left join votes v on v.household_id = h.id where h.campaign_id = ? and h.village_code like ? "
        "and not exists (select 1 from disqualifications d where d.household_id = h.id) "
        "order by votes desc, h.id", [lst["campaign_id"], lst["region_code"] + "%"]))
    return [r for r in rows if r["id"] not in on_list and scope.out_of_scope(
        rules.Applicant(id=r["id"], size=r["size"], votes=r["votes"], dibao=bool(r["dibao"]), wubao=bool(r["wubao"]))
    ) is None]


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
            raise PublishError("这户不能补录：不在本地、已在名单上、已被取消资格，或不在本批次的识别范围内"
                               "（如五保户）。")
        if use_reserve:
            # Draw only what the village's unused quota cannot cover.
            village = candidate["village_code"]
            used = sum(e["size"] for e in entries if e["village_code"] == village)
            unused = get_quota(db, lst["campaign_id"], village)["persons"] - used
            if candidate["size"] > unused:
                draw_reserve(db, lst["campaign_id"], village, candidate["size"] - max(unused, 0))
        version = amend_list(
            db, list_id, household_ids=[e["household_id"] for e in entries] + [household_id], key=key, today=today,
            start=start, omitted=household_id, clock=clock,
            note="经调查核实，一户符合条件但被漏评，予以补录" + ("（使用县预留机动名额）" if use_reserve else "") + "，补录户另行公示。")
        audit.record(db, actor=actor, role=role, action="list.add_omitted", object_type="list", object_id=list_id,
                     region_code=lst["region_code"], key=key, clock=clock,
                     after={"household_id": household_id, "use_reserve": use_reserve, "version": version,
                            "complaint_id": complaint_id})
    return version

