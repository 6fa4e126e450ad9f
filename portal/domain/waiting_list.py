"""The waiting list of a village (依次递补, rule 8): who comes next in rank order within the freed
quota, the walk behind it for staff to read, and the check that an amendment corrects a list
rather than rewriting it."""

from __future__ import annotations

from . import rules
from .campaigns import applicants_of, get_campaign, get_quota, ranking_of_record
from .rules import PublishError


def disqualified_in(db, campaign_id: int) -> dict[int, str]:
    """Households of the campaign that lost their place (取消资格): id -> head's name."""
    return {r["id"]: r["head_name"] for r in db.query(
        "select h.id, h.head_name from disqualifications d join households h on h.id = d.household_id "
        "where h.campaign_id = ?", [campaign_id])}


def next_in_line(db, lst: dict, kept: list[dict], village_code: str) -> list[rules.Applicant]:
    """依次递补 (rule 8): the households of the village's ranking of record, in rank order, that fit
    what ``kept`` (the entries staying on the list) leaves free of the list's quota — and, on a
    township or county list, of the village's own quota. Households on the list's current version
    and disqualified ones are not candidates."""
    return [a for a, taken, _ in ranking_walk(db, lst, kept, village_code) if taken]


def ranking_walk(db, lst: dict, kept: list[dict], village_code: str) -> list[tuple[rules.Applicant, bool, int]]:
    """The walk behind ``next_in_line``, for staff to read: each waiting household in rank order,
    whether it is taken, and the persons still free when the walk reached it."""
    quota = get_quota(db, lst["campaign_id"], lst["region_code"])
    free = (quota["persons"] if quota else 0) - sum(e["size"] for e in kept)
    if lst["level"] != "village":
        village_quota = get_quota(db, lst["campaign_id"], village_code)
        free = min(free, (village_quota["persons"] if village_quota else 0)
                   - sum(e["size"] for e in kept if e["village_code"] == village_code))
    on_list = {r["household_id"] for r in db.query(
        "select household_id from list_entries where list_id = ? and version = ?", [lst["id"], lst["current_version"]])}
    ranking = ranking_of_record(db, lst["campaign_id"], village_code)
    if ranking is None:     # no village list published (only possible for data made by hand)
        ranking = applicants_of(db, lst["campaign_id"], village_code)
    campaign = get_campaign(db, lst["campaign_id"])
    scope = rules.Scope.of(campaign)
    waiting = scope.walk(a for a in ranking if a.id not in on_list)
    chosen = {a.id for a in rules.replacements(waiting, max(free, 0), scope=scope,
                                              stop_at_first_misfit=bool(campaign["stop_at_first_misfit"]))}
    walk, free = [], max(free, 0)
    for a in waiting:
        walk.append((a, a.id in chosen, free))
        free -= a.size if a.id in chosen else 0
    return walk


def check_amendment(db, lst: dict, before: set[int], entries: list[dict], omitted: int | None) -> None:
    """Refuse a new version that rewrites the list instead of correcting it (rule 8)."""
    after = {e["id"] for e in entries}
    removed, added = before - after, after - before
    if lst["kind"] in rules.ADJUSTMENT_KINDS:
        _check_adjustment_amendment(db, lst, removed, added)
        return
    disqualified = disqualified_in(db, lst["campaign_id"])
    if removed - disqualified.keys():
        raise PublishError("从名单上去掉一户，必须先登记取消资格的理由（举报查实，或经批准的更正）；"
                           "其他修改请重新按程序公示。")
    back = [disqualified[h] for h in after & disqualified.keys()]
    if back:
        raise PublishError(f"{'、'.join(back)}已被取消资格，不能再列入本批次的名单。")
    scope = rules.Scope.of(get_campaign(db, lst["campaign_id"]))
    for e in entries:
        if e["id"] in added and (why := scope.out_of_scope(rules.Applicant(
                id=e["id"], size=e["size"], votes=0, dibao=bool(e["dibao"]), wubao=bool(e["wubao"])))):
            raise PublishError(f"{e['head_name']}：{why}，不能列入名单。")
    if omitted is not None:
        if removed or added != {omitted}:
            raise PublishError("补录只能增加举报查实被漏评的那一户，不能同时做其他修改。")
        return
    kept = [e for e in entries if e["id"] in before]
    village_of = {e["id"]: e["village_code"] for e in entries}
    old = {r["household_id"]: r["village_code"] for r in db.query(
        "select household_id, village_code from list_entries where list_id = ? and version = ?",
        [lst["id"], lst["current_version"]])}
    villages = {old[h] for h in removed} | {village_of[h] for h in added}
    if len(villages) > 1:
        raise PublishError("一次只能更正一个村的农户。")
    for village in villages:
        expected = next_in_line(db, lst, kept, village)
        if {a.id for a in expected} != {h for h in added if village_of[h] == village}:
            names = "、".join(r["head_name"] for a in expected for r in db.query(
                "select head_name from households where id = ?", [a.id])) or "（没有放得进的候补户）"
            raise PublishError("递补必须按票决排名从高到低，依次取放得进空出名额的候补户，"
                               f"这次应为：{names}。")


def _check_adjustment_amendment(db, lst: dict, removed: set[int], added: set[int]) -> None:
    """A removal, exit or re-entry list may only lose households whose proposal was withdrawn on
    record (an upheld objection); a new proposal waits for the next list of its kind."""
    if added:
        raise PublishError(f"{rules.LIST_KINDS[lst['kind']]}名单公示后不能再增加农户。")
    active = {r["household_id"] for r in db.query(
        "select household_id from adjustments where campaign_id = ? and kind = ? and status != 'withdrawn'",
        [lst["campaign_id"], lst["kind"]])}
    if removed & active:
        raise PublishError("从名单上去掉一户，必须先撤回它的调整事项并写明理由（例如异议查实）。")
