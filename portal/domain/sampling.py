"""抽查复核 (spot checks, DOMAIN §5 and §11 rule 12): before a list goes up a level, the level above
draws a reproducible sample of its entries and records a result for each; the next level cannot be
published until that check is complete.

The draw can be recomputed by anyone from the public list page alone:

- the seed is SHA-256 of ``抽查复核|<checking level>|<校验码 of the list version>``;
- each row's draw number is SHA-256 of ``<seed>|<序号>``; the sample is the rows with the smallest
  numbers (as hexadecimal text), as many as ``sample_size`` says: the percentage of the checking
  level rounded up, at least one.
"""

from __future__ import annotations

import hashlib
import json

from ..db import write_transaction
from . import audit, ledger
from .rules import LEVEL_NAMES, PublishError, chain_of

RESULTS = {"true": "属实", "false": "不属实"}
METHOD_TEXT = ("抽样方法：种子 = SHA-256(“抽查复核|级别|名单校验码”)，级别为 township（乡镇）或 county（县）；"
               "每户的抽签号 = SHA-256(“种子|序号”)，抽签号最小的若干户入选。完整的校验码和序号在名单的 JSON 下载中，"
               "任何人都可以重新计算。")


def sample_size(population: int, percent: int) -> int:
    """At least ``percent`` % of ``population`` entries, rounded up, and at least one (none of none)."""
    if population <= 0:
        return 0
    return max(1, -(-population * percent // 100))


def seed_of(content_hash: str, level: str) -> str:
    return hashlib.sha256(f"抽查复核|{level}|{content_hash}".encode()).hexdigest()


def draw(row_refs, seed: str, size: int) -> list[int]:
    """The ``size`` row numbers (序号) whose draw numbers are smallest, in draw order."""
    return sorted(row_refs, key=lambda ref: hashlib.sha256(f"{seed}|{ref}".encode()).hexdigest())[:size]


def checking_level(campaign: dict, lst: dict) -> str | None:
    """Who spot-checks this list before the next level, with the campaign's rate: the level above it in
    its kind's chain, when the campaign asks that level to check; None when nobody must."""
    levels = [step["level"] for step in chain_of(campaign, lst["kind"])]
    if lst["level"] not in levels or levels.index(lst["level"]) == len(levels) - 1:
        return None
    above = levels[levels.index(lst["level"]) + 1]
    return above if campaign.get("sampling", {}).get(above) else None


def latest(db, list_id: int) -> dict | None:
    """The newest spot check of a list, with its items and counts."""
    check = next(db.query("select * from spot_checks where list_id = ? order by version desc limit 1", [list_id]),
                 None)
    if check is None:
        return None
    check["items"] = list(db.query(
        "select i.*, e.head_name, r.name as village from spot_check_items i "
        "left join list_entries e on e.list_id = ? and e.version = ? and e.household_id = i.household_id "
        "left join regions r on r.code = e.village_code where i.check_id = ? order by i.position",
        [list_id, check["version"], check["id"]]))
    check["done"] = sum(1 for i in check["items"] if i["result"])
    check["wrong"] = sum(1 for i in check["items"] if i["result"] == "false")
    check["complete"] = check["done"] == len(check["items"])
    check["level_name"] = LEVEL_NAMES[check["level"]]
    return check


def draw_check(db, *, campaign: dict, list_id: int, actor: str, role: str, key: bytes, clock) -> int:
    """Draw the sample of a list's current version for the level above (once per version); audited."""
    with write_transaction(db):
        lst = next(db.query("select * from lists where id = ?", [list_id]), None)
        if lst is None:
            raise PublishError("名单不存在。")
        level = checking_level(campaign, lst)
        if level is None:
            raise PublishError("这份名单不需要抽查复核。")
        if next(db.query("select 1 from spot_checks where list_id = ? and version = ?",
                         [list_id, lst["current_version"]]), None):
            raise PublishError("这一版名单已经抽查过了。")
        version = next(db.query("select content_hash from list_versions where list_id = ? and version = ?",
                                [list_id, lst["current_version"]]))
        rows = {r["row_ref"]: r["household_id"] for r in db.query(
            "select row_ref, household_id from list_entries where list_id = ? and version = ?",
            [list_id, lst["current_version"]])}
        percent = int(campaign["sampling"][level])
        seed = seed_of(version["content_hash"], level)
        chosen = draw(rows, seed, sample_size(len(rows), percent))
        check_id = db["spot_checks"].insert({
            "list_id": list_id, "version": lst["current_version"], "level": level, "percent": percent, "seed": seed,
            "population": len(rows), "size": len(chosen), "drawn_by": actor, "drawn_at": clock.stamp()}).last_pk
        db["spot_check_items"].insert_all(
            [{"check_id": check_id, "position": i, "household_id": rows[ref], "row_ref": ref}
             for i, ref in enumerate(chosen, start=1)])
        audit.record(db, actor=actor, role=role, action="spotcheck.draw", object_type="list", object_id=list_id,
                     region_code=lst["region_code"],
                     after={"version": lst["current_version"], "seed": seed, "population": len(rows),
                            "percent": percent, "rows": chosen}, key=key, clock=clock)
        ledger.record_spot_check(db, list_id, "spotcheck.draw", public_summary(db, list_id), clock=clock)
        return check_id


def record_result(db, *, check_id: int, position: int, result: str, note: str, actor: str, role: str, key: bytes,
                  clock) -> None:
    """The result of one sampled entry (属实 / 不属实 with a note); a 不属实 needs the note, and then the
    household must leave the list by the usual path (取消资格 and 依次递补, or removal) before the
    next level. A result, once recorded, stays: the audit log keeps who found what."""
    note = (note or "").strip()
    if result not in RESULTS:
        raise PublishError("请选择抽查结果：属实或不属实。")
    if result == "false" and not note:
        raise PublishError("不属实的，必须写明核查发现的情况。")
    with write_transaction(db):
        item = next(db.query(
            "select i.*, c.list_id, l.region_code from spot_check_items i join spot_checks c on c.id = i.check_id "
            "join lists l on l.id = c.list_id where i.check_id = ? and i.position = ?", [check_id, position]), None)
        if item is None:
            raise PublishError("抽查记录不存在。")
        if item["result"]:
            raise PublishError("这一户的抽查结果已经登记过了。")
        db.execute("update spot_check_items set result = ?, note = ?, decided_by = ?, decided_at = ? "
                   "where check_id = ? and position = ?", [result, note, actor, clock.stamp(), check_id, position])
        audit.record(db, actor=actor, role=role, action="spotcheck.result", object_type="list",
                     object_id=item["list_id"], region_code=item["region_code"],
                     after={"check_id": check_id, "row_ref": item["row_ref"], "household_id": item["household_id"],
                            "result": result, "note": note}, key=key, clock=clock)
        ledger.record_spot_check(db, item["list_id"], "spotcheck.result", public_summary(db, item["list_id"]),
                                 clock=clock)


def problems(db, campaign: dict, level: str, lower: list[tuple[str, dict | None]]) -> list[str]:
    """Why the spot checks of the lists below stop a list of ``level`` (rule 12), in Chinese."""
    if not campaign.get("sampling", {}).get(level):
        return []
    out = []
    for name, row in lower:
        if row is None:
            continue
        check = latest(db, row["id"])
        if check is None:
            out.append(f"{name}的名单还没有经过{LEVEL_NAMES[level]}抽查复核。")
            continue
        if not check["complete"]:
            out.append(f"{name}的抽查复核还有 {len(check['items']) - check['done']} 户没有登记结果。")
        wrong = [i["household_id"] for i in check["items"] if i["result"] == "false"]
        still = next(db.query(
            "select count(*) as n from list_entries e join lists l on l.id = e.list_id and e.version = l.current_version "
            "where l.id = ? and e.household_id in (select value from json_each(?))",
            [row["id"], json.dumps(wrong)]))["n"] if wrong else 0
        if still:
            out.append(f"{name}抽查发现不属实的 {still} 户还在名单上，请先依程序取消其资格或剔除。")
    return out


def public_summary(db, list_id: int) -> dict | None:
    """What the public list page says of the spot checks: who checked, how many, how many wrong — never who."""
    check = latest(db, list_id)
    if check is None:
        return None
    return {"level_name": check["level_name"], "percent": check["percent"], "population": check["population"],
            "size": check["size"], "done": check["done"], "wrong": check["wrong"], "complete": check["complete"],
            "seed": check["seed"], "version": check["version"]}

