"""Proposals that change the register (动态管理, DOMAIN §3, §4 Exit, §6): removal of the wrongly
included (剔除, one of the ten grounds and a finding), exit (脱贫退出: conditions, the work team's
verification, the household's agreement) and re-entry (返贫 / 错退). A ready proposal goes on its
village's list of that kind; the register changes when that list's last level closes
(``register``). Every step is one transaction with its audit row.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from ..db import write_transaction
from . import audit, register
from .complaints import GROUNDS, NOT_ABOUT_A_HOUSEHOLD
from .evidence import store
from .rules import PublishError

KINDS = {"remove": "剔除", "exit": "脱贫退出", "reenter": "返贫纳入"}
REMOVAL_GROUNDS = {k: v for k, v in GROUNDS.items() if k not in NOT_ABOUT_A_HOUSEHOLD}
REENTRY_GROUNDS = {
    "returned": "返贫：脱贫后因病、因灾等原因重新陷入贫困",
    "wrong_exit": "错退：退出时并没有真正脱贫",
    "continued": "继续帮扶：已经退出，但还没有达到“两不愁三保障”",
}
#: The exit condition (2016 exit mechanism): income stably above the line and 两不愁三保障.
EXIT_CONDITIONS = {
    "income": "家庭人均纯收入稳定超过扶贫标准",
    "food": "不愁吃",
    "clothing": "不愁穿",
    "education": "义务教育有保障",
    "medical": "基本医疗有保障",
    "housing": "住房安全有保障",
}
AGREEMENT_HOW = {"signed": "户主在退出确认书上签字（已存照片或原件）", "statement": "户主当面表态同意，有记录"}
STATUS = {"proposed": "已提出", "verified": "工作队已核实", "agreed": "农户已同意", "refused": "农户不同意",
          "overridden": "农户不同意，已记录理由", "withdrawn": "已撤回"}
#: Statuses that let a proposal go on its list.
READY = {"remove": ("proposed",), "exit": ("agreed", "overridden"), "reenter": ("proposed",)}
#: The public mark a row of each kind carries.
MARKS = {"exit": "本户同意退出", "reenter": {"returned": "返贫", "wrong_exit": "错退", "continued": "继续帮扶"}}


def get(db, adjustment_id: int) -> dict | None:
    row = next(db.query(
        "select a.*, h.head_name, h.size, r.name as village from adjustments a join households h on h.id = a.household_id "
        "join regions r on r.code = a.village_code where a.id = ?", [adjustment_id]), None)
    if row:
        row["conditions"] = json.loads(row["conditions"])
    return row


def of_region(db, campaign_id: int, region_code: str) -> list[dict]:
    """The proposals of a campaign inside a region, newest first, each with the list it is on (if any)."""
    rows = list(db.query(
        "select a.*, h.head_name, h.size, r.name as village, "
        "(select l.id from lists l join list_entries e on e.list_id = l.id and e.version = l.current_version "
        "  where l.campaign_id = a.campaign_id and l.kind = a.kind and l.region_code = a.village_code "
        "  and e.household_id = a.household_id) as list_id "
        "from adjustments a join households h on h.id = a.household_id join regions r on r.code = a.village_code "
        "where a.campaign_id = ? and a.village_code like ? order by a.id desc", [campaign_id, region_code + "%"]))
    for row in rows:
        row["conditions"] = json.loads(row["conditions"])
    return rows


def ready(db, campaign_id: int, village_code: str, kind: str) -> list[int]:
    """Households whose proposal of ``kind`` may go on the village's list, in the order proposed."""
    statuses = READY[kind]
    return [r["household_id"] for r in db.query(
        f"select household_id from adjustments where campaign_id = ? and village_code = ? and kind = ? "
        f"and status in ({','.join('?' for _ in statuses)}) order by id",
        [campaign_id, village_code, kind, *statuses])]


def pending_removals(db, campaign_id: int, village_code: str) -> list[str]:
    """Heads of households proposed for removal in the village and not yet on a published removal list:
    先退后进 keeps the village's new identification list back until they are."""
    return [r["head_name"] for r in db.query(
        "select h.head_name from adjustments a join households h on h.id = a.household_id "
        "where a.campaign_id = ? and a.village_code = ? and a.kind = 'remove' and a.status != 'withdrawn' "
        "and not exists (select 1 from lists l join list_entries e on e.list_id = l.id and e.version = l.current_version "
        "  where l.campaign_id = a.campaign_id and l.kind = 'remove' and e.household_id = a.household_id) "
        "order by a.id", [campaign_id, village_code])]


def marks(db, campaign_id: int, kind: str, household_ids) -> dict[int, str]:
    """The public note on each row of an adjustment list: the removal ground, the exit agreement, the
    kind of re-entry (no finding, no income, no name of who reported)."""
    rows = db.query(
        "select household_id, ground from adjustments where campaign_id = ? and kind = ? and status != 'withdrawn' "
        "and household_id in (select value from json_each(?))", [campaign_id, kind, json.dumps(list(household_ids))])
    if kind == "remove":
        return {r["household_id"]: "剔除：" + REMOVAL_GROUNDS.get(r["ground"], r["ground"]) for r in rows}
    if kind == "exit":
        return {r["household_id"]: MARKS["exit"] for r in rows}
    return {r["household_id"]: MARKS["reenter"].get(r["ground"], "") for r in rows}


def propose(db, *, campaign_id: int, household_id: int, kind: str, ground: str = "", finding: str = "",
            conditions: dict | None = None, complaint_id: int | None = None, today: dt.date, actor: str, role: str,
            key: bytes, clock) -> int:
    """A village's proposal; checks what the kind needs and that the household's register status allows it."""
    finding = (finding or "").strip()
    if kind not in KINDS:
        raise PublishError(f"未知的调整类型：{kind}")
    with write_transaction(db):
        household = next(db.query("select id, village_code, head_name from households where id = ?", [household_id]),
                         None)
        if household is None:
            raise PublishError("农户不存在。")
        status = register.status_of(db, campaign_id, household_id, today)
        name = household["head_name"]
        if kind in ("remove", "exit") and status not in register.ON_REGISTER:
            raise PublishError(f"{name}不在建档立卡户名册上（{register.STATUS.get(status, '未建档')}），不能{KINDS[kind]}。")
        if kind == "reenter" and status != "exited":
            raise PublishError(f"{name}不是已脱贫退出的农户（{register.STATUS.get(status, '未建档')}），不能返贫纳入。")
        if next(db.query("select 1 from adjustments where campaign_id = ? and household_id = ? and kind = ? "
                         "and status != 'withdrawn'", [campaign_id, household_id, kind]), None):
            raise PublishError(f"本批次已经为{name}提出过{KINDS[kind]}。")
        conditions = {k: bool((conditions or {}).get(k)) for k in EXIT_CONDITIONS} if kind == "exit" else {}
        if kind == "remove":
            if ground not in REMOVAL_GROUNDS:
                raise PublishError("请选择剔除的理由（十种情形之一）。")
            if not finding:
                raise PublishError("请写明核查认定的情况。")
            if complaint_id is not None:
                complaint = next(db.query("select outcome, household_id from complaints where id = ?", [complaint_id]),
                                 None)
                if complaint is None or complaint["household_id"] != household_id or complaint["outcome"] != "upheld":
                    raise PublishError("只有针对这一户、已经查实的举报，才能作为剔除的依据。")
        elif kind == "exit":
            missing = [label for k, label in EXIT_CONDITIONS.items() if not conditions[k]]
            if missing:
                raise PublishError("还不符合退出条件：" + "、".join(missing) + "。")
        else:
            if ground not in REENTRY_GROUNDS:
                raise PublishError("请选择返贫纳入的情形。")
            if not finding:
                raise PublishError("请写明核查认定的情况。")
        now = clock.stamp()
        adjustment_id = db["adjustments"].insert({
            "campaign_id": campaign_id, "household_id": household_id, "village_code": household["village_code"],
            "kind": kind, "ground": ground if kind != "exit" else "", "finding": finding,
            "conditions": json.dumps(conditions), "complaint_id": complaint_id, "status": "proposed",
            "proposed_by": actor, "proposed_at": now, "updated_at": now}).last_pk
        audit.record(db, actor=actor, role=role, action="adjustment.propose", object_type="adjustment",
                     object_id=adjustment_id, region_code=household["village_code"],
                     after={"kind": kind, "household_id": household_id, "ground": ground, "finding": finding,
                            "conditions": conditions, "complaint_id": complaint_id}, key=key, clock=clock)
        return adjustment_id


def _step(db, adjustment_id: int, *, expect: tuple[str, ...], kind: str | None, fields: dict, action: str, actor: str,
          role: str, key: bytes, clock) -> None:
    with write_transaction(db):
        row = get(db, adjustment_id)
        if row is None:
            raise PublishError("调整事项不存在。")
        if kind and row["kind"] != kind:
            raise PublishError(f"这一步只用于{KINDS[kind]}。")
        if row["status"] not in expect:
            raise PublishError(f"这件事项现在是“{STATUS[row['status']]}”，不能做这一步。")
        fields = {**fields, "updated_at": clock.stamp()}
        db["adjustments"].update(adjustment_id, fields)
        audit.record(db, actor=actor, role=role, action=action, object_type="adjustment", object_id=adjustment_id,
                     region_code=row["village_code"], before={"status": row["status"]}, after=fields, key=key,
                     clock=clock)


def verify_exit(db, adjustment_id: int, *, note: str, actor: str, role: str, key: bytes, clock) -> None:
    """村两委 and the work team verify the exit condition (the second step of the exit procedure)."""
    note = (note or "").strip()
    if not note:
        raise PublishError("请写明核实的情况（入户核实了什么）。")
    _step(db, adjustment_id, expect=("proposed",), kind="exit", action="adjustment.verify", actor=actor, role=role,
          key=key, clock=clock,
          fields={"status": "verified", "verified_by": actor, "verified_at": clock.stamp(), "verify_note": note})


def record_agreement(db, adjustment_id: int, *, agreed: bool, on: dt.date, how: str, note: str, today: dt.date,
                     actor: str, role: str, key: bytes, clock, photo: tuple[bytes, str, str] | None = None,
                     folder: Path | None = None) -> None:
    """The household's word on its exit (户认可): agreed (with the date and how it was given, and the
    photo of the signed form when there is one: ``photo`` (data, content type, ext) already cleaned by
    ``evidence.read_upload``, kept in ``folder``) or refused (with what the household said); a refused
    exit does not go on the list unless a reason is recorded."""
    note = (note or "").strip()
    if on > today:
        raise PublishError("确认日期不能晚于今天。")
    if agreed and how not in AGREEMENT_HOW:
        raise PublishError("请选择农户同意的方式。")
    if not agreed and not note:
        raise PublishError("农户不同意退出的，请记下农户的意见。")
    fields = {"status": "agreed" if agreed else "refused", "agreement_on": on.isoformat(),
              "agreement_how": how if agreed else None, "agreement_note": note}
    if photo and agreed:
        data, content_type, ext = photo
        stored, digest = store(folder, f"exit-{adjustment_id}", data, ext)
        fields |= {"agreement_file": stored, "agreement_file_type": content_type, "agreement_sha256": digest}
    _step(db, adjustment_id, expect=("verified",), kind="exit", action="adjustment.agreement", actor=actor, role=role,
          key=key, clock=clock, fields=fields)


def override_refusal(db, adjustment_id: int, *, reason: str, actor: str, role: str, key: bytes, clock) -> None:
    """Exit a household that refused, only with the reason on record (e.g. income well above the line,
    verified twice, explained to the household)."""
    reason = (reason or "").strip()
    if len(reason) < 10:
        raise PublishError("农户不同意仍要退出的，必须写明理由（不少于 10 个字）。")
    _step(db, adjustment_id, expect=("refused",), kind="exit", action="adjustment.override", actor=actor, role=role,
          key=key, clock=clock, fields={"status": "overridden", "override_reason": reason})


def withdraw(db, adjustment_id: int, *, reason: str, actor: str, role: str, key: bytes, clock) -> None:
    """Drop a proposal that is not yet on a published list."""
    reason = (reason or "").strip()
    if not reason:
        raise PublishError("请写明撤回的理由。")
    with write_transaction(db):     # the check and the step under one lock: no list can come out between
        row = get(db, adjustment_id)
        if row and next(db.query(
                "select 1 from lists l join list_entries e on e.list_id = l.id and e.version = l.current_version "
                "where l.campaign_id = ? and l.kind = ? and e.household_id = ?",
                [row["campaign_id"], row["kind"], row["household_id"]]), None):
            raise PublishError("这一户已经在公示的名单上，不能直接撤回。")
        _step(db, adjustment_id, expect=tuple(s for s in STATUS if s != "withdrawn"), kind=None,
              action="adjustment.withdraw", actor=actor, role=role, key=key, clock=clock,
              fields={"status": "withdrawn", "withdrawn_reason": reason})
