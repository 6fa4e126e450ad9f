"""Complaints (举报/质疑): grounds, receipt codes, where a report goes and which window it counts for,
filing it with its evidence, and what its reporter may see (DOMAIN §3, §11 rules 7–9).

Plain functions over the database; the public forms are ``portal.web.complaints`` and the staff's
case pages ``portal.staff.cases``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from pathlib import Path

from ..db import write_transaction
from . import audit
from .evidence import store
from .regions import ancestor_codes, get_region_row

#: The ten removal situations of S3, omission, procedure, other (DOMAIN §3, §11 rules 7–9).
GROUNDS = {
    "payroll": "家里有财政供养人员（吃财政饭）",
    "cadre": "家里有现任村干部（村三委）",
    "vehicle": "有价值 3 万元以上的车",
    "town_house": "在城镇买了或自建了住房、门面",
    "employs": "长期雇人干活",
    "business": "开有正常经营的公司、企业",
    "split": "为享受政策故意拆户、并户",
    "nominal": "空挂户（户口挂在本村，人不在本村生活）",
    "departed": "户里有已去世、失踪或不在一起生活的人",
    "favouritism": "优亲厚友、弄虚作假",
    "omission": "漏评：符合条件的农户没有评上",
    "procedure": "程序违规：没有评议、公示时间不够等",
    "other": "其他",
}
#: Grounds not about a listed household: only the others can cost a household its place (递补).
NOT_ABOUT_A_HOUSEHOLD = frozenset({"omission", "procedure", "other"})
#: Grounds that accuse the village committee itself: the township handles them (conflict of interest).
COMMITTEE_GROUNDS = {"cadre", "favouritism", "procedure"}
STATUS = {"received": "已受理", "investigating": "调查中", "concluded": "已办结"}
OUTCOMES = {"upheld": "查实", "partly": "部分属实", "dismissed": "不属实"}
CHANNELS = {"online": "网上举报", "phone": "电话", "letter": "来信", "meeting": "会议或当面反映"}
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"   # no 0/O, 1/I/L, U
CODE_LENGTH = 20                                     # 20 × log2(30) ≈ 98 bits
MAX_FILES = 5
MAX_TEXT = 5000


def new_receipt_code() -> str:
    """A code to copy by hand: five groups of four, e.g. 7K2M-QXR9-…"""
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return "-".join(raw[i:i + 4] for i in range(0, CODE_LENGTH, 4))


def normalise_code(text: str) -> str | None:
    """The code without spaces or dashes, upper-case; None when it cannot be a code at all."""
    value = "".join(ch for ch in (text or "").upper() if ch not in " -－—\u3000")
    if len(value) != CODE_LENGTH or any(ch not in CODE_ALPHABET for ch in value):
        return None
    return value


def code_hash(code: str, key: bytes) -> str:
    return hmac.new(key + b"|receipt", code.encode(), hashlib.sha256).hexdigest()


def handler_region(db, list_row: dict | None, region_code: str, ground: str, about_committee: bool) -> str:
    """Who handles a report: the level of the list — except reports about a village committee
    (or a village list's procedure), which go to the township."""
    code = list_row["region_code"] if list_row else region_code
    region = get_region_row(db, code)
    if region["level"] == "group":
        region = get_region_row(db, region["parent_code"])
    if region["level"] == "village" and (about_committee or ground in COMMITTEE_GROUNDS or list_row is None):
        return region["parent_code"]
    return region["code"]


def list_complaint_counts(db, list_id: int) -> dict:
    row = next(db.query(
        "select count(*) as received, "
        "coalesce(sum(status != 'concluded'), 0) as open, "
        "coalesce(sum(status = 'concluded'), 0) as concluded, "
        "coalesce(sum(outcome in ('upheld', 'partly')), 0) as upheld "
        "from complaints where list_id = ?", [list_id]))
    return row


def public_replies(db, list_id: int) -> list[dict]:
    """Concluded cases of a list: ground, outcome, date and the public reply — never the reporter."""
    return [
        {**r, "ground_name": GROUNDS.get(r["ground"], r["ground"]), "outcome_name": OUTCOMES.get(r["outcome"], "")}
        for r in db.query(
            "select id, ground, outcome, public_reply, concluded_at from complaints "
            "where list_id = ? and status = 'concluded' order by concluded_at", [list_id])
    ]


def open_in_window(db, list_ids: list[int]) -> int:
    """Complaints filed inside these lists' windows that are not concluded (they hold the next level)."""
    if not list_ids:
        return 0
    marks = ",".join("?" for _ in list_ids)
    return next(db.query(
        f"select count(*) as n from complaints where list_id in ({marks}) and within_window = 1 "
        "and status != 'concluded'", list_ids))["n"]


def _window(db, list_row: dict) -> dict:
    """A version's window, open for objections until its last replacement row's window has ended too."""
    return next(db.query("select window_start, max(window_end, coalesce(rows_until, '')) as window_end "
                         "from list_versions where list_id = ? and version = ?",
                         [list_row["id"], list_row["current_version"]]))


def _open_list_carrying(db, list_row: dict, household_id: int, today: str) -> dict | None:
    """The list of the same campaign and kind whose current version carries the household and whose
    window is open today (the next level up, once the lower window has closed)."""
    return next(db.query(
        "select l.* from lists l join list_versions v on v.list_id = l.id and v.version = l.current_version "
        "join list_entries e on e.list_id = l.id and e.version = l.current_version "
        "where l.campaign_id = ? and l.kind = ? and l.id != ? and e.household_id = ? "
        "and v.window_start <= ? and max(v.window_end, coalesce(v.rows_until, '')) >= ? "
        "order by length(l.region_code) desc limit 1",
        [list_row["campaign_id"], list_row["kind"], list_row["id"], household_id, today, today]), None)


def _list_covering(db, region_code: str, today: str) -> dict | None:
    """For a report about a place: the identification list covering it that is open today, the most
    local first; else the one published last (the report is then filed after its window)."""
    covering = [*ancestor_codes(region_code), region_code]
    return next(db.query(
        "select l.* from lists l join list_versions v on v.list_id = l.id and v.version = l.current_version "
        f"where l.region_code in ({','.join('?' for _ in covering)}) and l.kind = 'identify' and v.window_start <= ? "
        "order by max(v.window_end, coalesce(v.rows_until, '')) >= ? desc, length(l.region_code) desc, "
        "v.published_at desc, l.id desc limit 1",
        [*covering, today, today]), None)


def file_complaint(db, *, list_id: int | None, household_id: int | None, region_code: str | None, ground: str,
                   text: str, about_committee: bool, anonymous: bool, name: str, phone: str, files: list,
                   key: bytes, clock, channel: str = "online", operator: str | None = None,
                   folder: Path | None = None) -> tuple[int, str]:
    """Record a complaint with its evidence; returns (id, receipt code). The code is shown once.

    The report counts for the window of the list it is tied to (``within_window``: filed before that
    window ended), and such reports hold the next level until concluded (rule 7). A report on an
    entry whose list has closed counts for the higher list carrying the household that is open now;
    a report about a place counts for the list covering that place that is open now.
    """
    list_row = next(db.query("select * from lists where id = ?", [list_id]), None) if list_id else None
    if list_id and list_row is None:
        raise ValueError("这份名单不存在。")
    today = clock.today().isoformat()
    if list_row:
        if household_id and not next(db.query(
                "select 1 from list_entries where list_id = ? and version = ? and household_id = ?",
                [list_id, list_row["current_version"], household_id]), None):
            raise ValueError("这户不在这份名单上。")
        if household_id and _window(db, list_row)["window_end"] < today:
            list_row = _open_list_carrying(db, list_row, household_id, today) or list_row
        region_code = list_row["region_code"]
        handler = handler_region(db, list_row, region_code, ground, about_committee)
    elif not region_code or get_region_row(db, region_code) is None:
        raise ValueError("请选择要反映的地方。")
    else:
        handler = handler_region(db, None, region_code, ground, about_committee)
        list_row = _list_covering(db, region_code, today)
    version = list_row["current_version"] if list_row else None
    # Filed before the window ends (even before it opens): it must be settled before the next level.
    within = int(bool(list_row) and today <= _window(db, list_row)["window_end"])
    list_id = list_row["id"] if list_row else None
    code = new_receipt_code()
    now = clock.stamp()
    with write_transaction(db):
        complaint_id = db["complaints"].insert({
            "receipt_hash": code_hash(normalise_code(code), key), "list_id": list_id, "list_version": version,
            "household_id": household_id, "handler_region": handler, "ground": ground, "text": text.strip(),
            "about_committee": int(about_committee), "anonymous": int(anonymous),
            "reporter_name": None if anonymous else name.strip() or None,
            "reporter_phone": None if anonymous else phone.strip() or None,
            "channel": channel, "operator": operator, "within_window": within, "status": "received",
            "filed_at": now,
        }).last_pk
        add_files(db, complaint_id, files, folder=folder, clock=clock)
        db["complaint_events"].insert({"complaint_id": complaint_id, "at": now, "actor": operator or "举报人",
                                       "kind": "filed", "text": CHANNELS[channel]})
        # The filing itself is on the record too: when, about what, where — never who.
        audit.record(db, actor=operator or "公众", role="staff" if operator else "public", action="complaint.file",
                     object_type="complaint", object_id=complaint_id, region_code=handler, key=key, clock=clock,
                     after={"list_id": list_id, "household_id": household_id, "ground": ground, "channel": channel,
                            "within_window": within, "files": len(files)})
    return complaint_id, code


def add_files(db, complaint_id: int, files: list, *, folder: Path | None, clock) -> None:
    """Store already-read evidence (data, content type, ext) for a complaint in ``folder``."""
    if files and folder is None:
        raise ValueError("evidence files need the folder to keep them in")
    for data, content_type, ext in files:
        stored, digest = store(folder, str(complaint_id), data, ext)
        if not next(db.query("select 1 from complaint_files where stored_name = ?", [stored]), None):
            db["complaint_files"].insert({"complaint_id": complaint_id, "stored_name": stored, "content_type": content_type,
                                          "size": len(data), "sha256": digest, "added_at": clock.stamp()})


def find_by_code(db, raw: str, key: bytes) -> dict | None:
    """The complaint a receipt code opens; the same work is done for a wrong code."""
    code = normalise_code(raw)
    # A malformed code takes the same path as a wrong one: hash, look up, find nothing.
    digest = code_hash(code or "-" * CODE_LENGTH, key)
    found = next(db.query("select * from complaints where receipt_hash = ?", [digest]), None)
    return found if code else None


def track_view(db, complaint: dict) -> dict:
    events = list(db.query("select at, actor, kind, text from complaint_events where complaint_id = ? order by id",
                           [complaint["id"]]))
    lst = next(db.query("select id, title from lists where id = ?", [complaint["list_id"]]), None) \
        if complaint["list_id"] else None
    return {"c": complaint, "events": [e for e in events if e["kind"] in ("filed", "info_added", "assigned", "concluded")],
            "lst": lst, "status": STATUS, "outcomes": OUTCOMES, "grounds": GROUNDS,
            "files": db["complaint_files"].count_where("complaint_id = ?", [complaint["id"]])}


def add_information(db, complaint: dict, text: str, files: list, *, folder: Path, clock) -> None:
    """The reporter adds what they know (and evidence) to an open report, with the receipt code."""
    if complaint["status"] == "concluded":
        raise ValueError("这件举报已经办结，不能再补充；如有新情况，请重新提出。")
    if not text.strip() and not files:
        raise ValueError("请填写补充情况或选择文件。")
    with write_transaction(db):
        add_files(db, complaint["id"], files, folder=folder, clock=clock)
        db["complaint_events"].insert({"complaint_id": complaint["id"], "at": clock.stamp(), "actor": "举报人",
                                       "kind": "info_added",
                                       "text": text.strip() + (f"（附 {len(files)} 个文件）" if files else "")})
