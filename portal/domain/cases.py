"""The staff's case workflow for a complaint: register a report taken offline, assign it, conclude
it, and resolve an upheld one (依次递补 for a listed household, 补录 for one left out).

Each step re-reads the case under the write lock, refuses what its state does not allow
(``CaseError``, in Chinese), writes its timeline event and its audit row in one transaction.
Who may take a step (permissions, the handling unit) is checked by the console before it calls.
"""

from __future__ import annotations

import datetime as dt

from ..db import write_transaction
from . import audit, ledger
from .accounts import ROLE_PERMISSIONS, ROLES
from .complaints import GROUNDS, NOT_ABOUT_A_HOUSEHOLD, OUTCOMES, file_complaint
from .regions import ancestor_codes
from .replacement import add_omitted, confirm, omitted_candidates

#: Grounds about a listed household: only these can cost it its place (递补).
HOUSEHOLD_GROUNDS = frozenset(GROUNDS) - NOT_ABOUT_A_HOUSEHOLD


class CaseError(ValueError):
    """A case step its state does not allow; the message is for the user, in Chinese."""


def get_case(db, complaint_id: int) -> dict | None:
    """A complaint with the names its pages show (handling unit, list, investigator, household)."""
    return next(db.query(
        "select c.*, r.name as handler_name, l.title as list_title, l.region_code as list_region, "
        "u.display_name as investigator_name, h.head_name as household_name, h.village_code as household_village "
        "from complaints c join regions r on r.code = c.handler_region left join lists l on l.id = c.list_id "
        "left join users u on u.id = c.investigator_id left join households h on h.id = c.household_id "
        "where c.id = ?", [complaint_id]), None)


def add_event(db, complaint_id: int, kind: str, text: str, *, actor: str, clock) -> None:
    """One line of the case timeline (``filed``, ``info_added``, ``assigned``, ``concluded``)."""
    db["complaint_events"].insert({"complaint_id": complaint_id, "at": clock.stamp(), "actor": actor,
                                   "kind": kind, "text": text})


def _open_case(db, complaint_id: int) -> dict:
    case = get_case(db, complaint_id)
    if case is None:
        raise CaseError("没有这件举报。")
    if case["status"] == "concluded":
        raise CaseError("这件举报已经办结。")
    return case


def register(db, *, list_id: int | None, household_id: int | None, region_code: str, ground: str, text: str,
             name: str, phone: str, channel: str, actor: str, role: str, key: bytes, clock) -> int:
    """A report taken by phone, letter or at a meeting, recorded with the staff member who took it
    (who may then not conclude it). Anonymous unless a name is given."""
    with write_transaction(db):
        complaint_id, _ = file_complaint(
            db, list_id=list_id, household_id=household_id, region_code=region_code, ground=ground, text=text,
            about_committee=False, anonymous=not name.strip(), name=name, phone=phone, files=[], key=key,
            clock=clock, channel=channel, operator=actor)
        audit.record(db, actor=actor, role=role, action="complaint.register", object_type="complaint",
                     object_id=complaint_id, region_code=region_code,
                     after={"channel": channel, "list_id": list_id, "ground": ground}, key=key, clock=clock)
    return complaint_id


def assign(db, complaint_id: int, *, investigator_id: int, due_on: dt.date, actor: str, role: str, key: bytes,
           clock) -> None:
    """Send a case to an investigator with the day it is due."""
    with write_transaction(db):
        case = _open_case(db, complaint_id)
        db.execute("update complaints set status = 'investigating', investigator_id = ?, due_on = ? where id = ?",
                   [investigator_id, due_on.isoformat(), complaint_id])
        add_event(db, complaint_id, "assigned", f"已安排调查，预计{due_on.month}月{due_on.day}日前办结",
                  actor=actor, clock=clock)
        audit.record(db, actor=actor, role=role, action="complaint.assign", object_type="complaint",
                     object_id=complaint_id, region_code=case["handler_region"], before={"status": case["status"]},
                     after={"status": "investigating", "investigator_id": investigator_id,
                            "due_on": due_on.isoformat()}, key=key, clock=clock)


def conclude(db, complaint_id: int, *, outcome: str, findings: str, public_reply: str,
             omitted_household: int | None, actor: str, role: str, key: bytes, clock) -> dict:
    """Close a case as 查实 / 部分属实 / 不属实 with internal findings and a public reply. An upheld 漏评
    report names the household that was left out (one of the village's unlisted applicants).
    Returns the case as concluded."""
    with write_transaction(db):
        case = _open_case(db, complaint_id)
        named = None
        if case["ground"] == "omission" and outcome == "upheld":
            allowed = {r["id"] for r in omitted_candidates(db, case["list_id"])} if case["list_id"] else set()
            if omitted_household not in allowed:
                raise CaseError("漏评查实的，请选择被漏评的农户（还没有录入的，请先由村里录入申请户）。")
            named = omitted_household
        db.execute("update complaints set status = 'concluded', outcome = ?, findings = ?, public_reply = ?, "
                   "concluded_at = ?, household_id = coalesce(?, household_id) where id = ?",
                   [outcome, findings.strip(), public_reply.strip(), clock.stamp(), named, complaint_id])
        add_event(db, complaint_id, "concluded", OUTCOMES[outcome], actor=actor, clock=clock)
        audit.record(db, actor=actor, role=role, action="complaint.conclude", object_type="complaint",
                     object_id=complaint_id, region_code=case["handler_region"], before={"status": case["status"]},
                     after={"status": "concluded", "outcome": outcome, "public_reply": public_reply,
                            **({"omitted_household": named} if named else {})}, key=key, clock=clock)
        ledger.record_reply(db, complaint_id, clock=clock)
        return get_case(db, complaint_id)


def resolve_by_replacement(db, case: dict, *, list_id: int, expected: tuple[int, ...], start: dt.date,
                           today: dt.date, actor: str, role: str, key: bytes, clock) -> None:
    """An upheld report against a listed household: it loses its place on ``list_id`` (the highest
    list carrying it) and the next in rank order come in (``replacement.confirm``)."""
    with write_transaction(db):
        confirm(db, list_id=list_id, household_id=case["household_id"], ground=GROUNDS[case["ground"]],
                expected=expected, actor=actor, role=role, key=key, today=today, start=start,
                complaint_id=case["id"], clock=clock)
        db.execute("update complaints set resolved_household_id = ? where id = ?", [case["household_id"], case["id"]])


def resolve_by_omission(db, case: dict, *, household_id: int, use_reserve: bool, start: dt.date, today: dt.date,
                        actor: str, role: str, key: bytes, clock) -> None:
    """An upheld 漏评 report: the household left out is added (``replacement.add_omitted``), once."""
    with write_transaction(db):
        if get_case(db, case["id"])["resolved_household_id"]:      # re-checked under the lock
            raise CaseError("这件举报已经补录过一户。")
        add_omitted(db, list_id=case["list_id"], household_id=household_id, use_reserve=use_reserve, actor=actor,
                    role=role, key=key, today=today, start=start, complaint_id=case["id"], clock=clock)
        db.execute("update complaints set resolved_household_id = ? where id = ?", [household_id, case["id"]])


def awaits_action(case: dict, disqualified: bool = False) -> str | None:
    """What an upheld case still needs from the staff who may change the list: "replace" (the
    household loses its place, 依次递补), "omission" (补录 the household left out), or None."""
    if case["outcome"] != "upheld" or not case["list_id"] or not case["household_id"] \
            or case["resolved_household_id"]:
        return None
    if case["ground"] == "omission":
        return "omission"
    return "replace" if case["ground"] in HOUSEHOLD_GROUNDS and not disqualified else None


def awaiting_in(db, region_code: str) -> list[dict]:
    """Upheld cases in an area whose 递补 or 补录 is not confirmed yet (the dashboard's to-do)."""
    rows = db.query("""select c.*, l.title as list_title, h.head_name as household_name,
                              exists (select 1 from disqualifications d where d.household_id = c.household_id)
                                  as disqualified
                       from complaints c left join lists l on l.id = c.list_id
                       left join households h on h.id = c.household_id
                       where c.handler_region like ? and c.status = 'concluded' and c.outcome = 'upheld'
                         and c.resolved_household_id is null and c.household_id is not null
                         and c.list_id is not null
                       order by c.concluded_at, c.id""", [region_code + "%"])
    return [{**r, "action": action} for r in rows if (action := awaits_action(r, bool(r["disqualified"])))]


def next_actors(db, case: dict) -> list[str]:
    """Who may confirm the 递补 or 补录 of an upheld case: active staff with that permission whose
    area holds the handling unit, nearest first ("张文书（村委会文书）")."""
    roles = ROLE_PERMISSIONS["complaints.replace"]
    areas = [*ancestor_codes(case["handler_region"]), case["handler_region"]]
    rows = db.query(f"""select display_name, role from users where active = 1
                        and role in ({",".join("?" for _ in roles)})
                        and region_code in ({",".join("?" for _ in areas)})
                        order by length(region_code) desc, id""", [*sorted(roles), *areas])
    return [f"{r['display_name']}（{ROLES[r['role']]}）" for r in rows]
