"""Publishing and amending publicity lists, with 规模控制 and the chain rule enforced.

Plain functions over a sqlite-utils Database (no Flask): the demo loader, tests and the staff
console call the same code. A refused publication raises ``PublishError`` (or ``QuotaError``)
with a Chinese message for the user; nothing is written in that case.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import sqlite3

from . import rules, search
from .campaigns import applicants_of, get_campaign, get_quota, ranking_of_record, village_selection
from .complaints import open_in_window
from .db import write_transaction
from .regions import ancestor_codes, get_region_row


class PublishError(ValueError):
    """A list that may not be published as asked; the message is for the user, in Chinese."""


def _step(campaign: dict, level: str) -> dict:
    for step in campaign["chain"]:
        if step["level"] == level:
            return step
    raise PublishError(f"本批次的公示程序没有{rules.LEVEL_NAMES[level]}一级。")


def default_title(campaign: dict, region: dict, kind: str, step: dict) -> str:
    kind_name = "" if kind == "identify" else rules.LIST_KINDS[kind]
    return f"{region['name']}{kind_name}{step['name']}名单（{campaign['name']}）"


def default_body(region: dict) -> str:
    if region["level"] == "village":
        return f"{region['name']}村民委员会"
    if region["level"] == "township":
        return f"{region['name']}人民政府"
    return f"{region['name']}扶贫开发领导小组办公室"


def _snapshot(db, household_ids: list[int], campaign_id: int, region_code: str) -> list[dict]:
    """Entry rows for these households as they stand now, in ranking order within each village.

    Every household must belong to this campaign and lie inside the list's region.
    """
    if len(set(household_ids)) != len(household_ids):
        raise PublishError("名单中同一户出现了不止一次。")
    rows = []
    for chunk in range(0, len(household_ids), 500):
        part = household_ids[chunk:chunk + 500]
        placeholders = ",".join("?" for _ in part)
        rows += db.query(
            f"""
            select h.id, h.village_code, coalesce(g.name, '') as group_name, h.head_name, h.size,
                   h.causes, v.votes, v.voters_present, h.campaign_id, h.income_per_capita, h.applied_on,
                   h.disabled_member + h.single_child + h.all_daughters as priority_count, h.dibao, h.wubao
            from households h
            left join votes v on v.household_id = h.id
            left join regions g on g.code = h.group_code
            where h.id in ({placeholders})
            """,
            part,
        )
    found = {r["id"]: r for r in rows}
    missing = [i for i in household_ids if i not in found or found[i]["campaign_id"] != campaign_id]
    if missing:
        raise PublishError(f"名单中有不属于本批次的农户（编号 {missing}）。")
    outside = [found[i]["head_name"] for i in household_ids if not found[i]["village_code"].startswith(region_code)]
    if outside:
        raise PublishError(f"名单中有不属于本地的农户：{'、'.join(outside)}。")
    return sorted(found.values(), key=_entry_order)


def _entry_order(row: dict):
    """Village by village (by code), and within a village the ranking of DOMAIN §11 rule 4."""
    applicant = rules.Applicant(
        id=row["id"], size=row["size"], votes=row["votes"] if row["votes"] is not None else -1,
        priority_count=row["priority_count"], income_per_capita=row["income_per_capita"],
        applied_on=dt.date.fromisoformat(row["applied_on"]))
    return (row["village_code"], rules.rank_key(applicant))


PUBLISHED_FIELDS = ("village_code", "group_name", "head_name", "size", "causes", "votes", "voters_present")
#: What a row of a list keeps from version to version of that list (not into the next level's list).
ROW_FIELDS = ("mark", "window_start", "window_end")


def _published_entries(db, list_ids: list[int]) -> list[dict]:
    """The entries exactly as the current versions of these lists published them, list by list.

    Higher levels carry what the level below publicised, not the household rows as they stand now:
    an edit made after a window closed must not reach the township or county list unseen.
    """
    rows = []
    for list_id in list_ids:
        rows += db.query(
            "select e.household_id as id, e.village_code, e.group_name, e.head_name, e.size, e.causes, e.votes, "
            "e.voters_present, e.mark, e.window_start, e.window_end from list_entries e join lists l on l.id = e.list_id "
            "and e.version = l.current_version where l.id = ? order by e.position",
            [list_id],
        )
    return rows


def lower_lists(db, campaign: dict, region: dict, kind: str, below: str) -> list[tuple[str, dict | None]]:
    """Each child unit of ``region`` at level ``below``, paired with its list of ``kind`` (or None)."""
    if below == "village" and region["level"] == "county":
        child_sql = "select r.code, r.name from regions r join regions t on t.code = r.parent_code where t.parent_code = ?"
    else:
        child_sql = "select code, name from regions where parent_code = ?"
    units = list(db.query(child_sql + " order by code", [region["code"]]))
    if kind in ("identify", "replace"):
        # Every unit with a quota must have published its list.
        with_quota = {
            r["region_code"]
            for r in db.query("select region_code from quotas where campaign_id = ?", [campaign["id"]])
        }
        units = [u for u in units if u["code"] in with_quota]
    out = []
    for unit in units:
        row = next(
            db.query(
                # A version is open for objections until its last replacement row's window has ended too.
                "select l.id, v.window_start, max(v.window_end, coalesce(v.rows_until, '')) as window_end "
                "from lists l join list_versions v "
                "on v.list_id = l.id and v.version = l.current_version "
                "where l.campaign_id = ? and l.region_code = ? and l.kind = ?",
                [campaign["id"], unit["code"], kind],
            ),
            None,
        )
        if row is None and kind not in ("identify", "replace"):
            continue  # exit/removal lists exist only where a unit has cases
        out.append((unit["name"], row))
    return out


def lower_windows(lower: list[tuple[str, dict | None]]) -> list[tuple[str, rules.Window | None]]:
    """``lower_lists`` rows as (name, window) pairs for the chain rule."""
    return [(name, rules.Window(dt.date.fromisoformat(r["window_start"]), dt.date.fromisoformat(r["window_end"]))
             if r else None) for name, r in lower]


def chain_check(db, campaign: dict, level: str, lower: list[tuple[str, dict | None]], on: dt.date) -> list[str]:
    """Why a list of ``level`` over these lower lists may not be published on ``on`` (rule 6)."""
    return rules.chain_problems(level=level, chain=campaign["chain"], on=on, lower_windows=lower_windows(lower),
                                open_complaints=open_in_window(db, [r["id"] for _, r in lower if r]))


def publish_list(
    db,
    *,
    campaign_id: int,
    region_code: str,
    kind: str,
    start: dt.date,
    today: dt.date | None,
    household_ids: list[int] | None = None,
    key: bytes,
    title: str | None = None,
    approving_body: str | None = None,
    published_at: str | None = None,
    clock,
) -> int:
    """Publish version 1 of a list and return its id.

    Village lists of kind 识别纳入 default to the village's selection within its quota; township
    and county lists gather the current entries of the level below. ``today`` is the day of
    publication and guards against windows that start too early (before today, or today after
    ``rules.SAME_DAY_CUTOFF``; a day other than the clock's is taken at its first minute); only the
    demo loader passes None (with the ``published_at`` it pretends).
    All checks and writes run in one write transaction, so two clerks cannot race past them.
    """
    with write_transaction(db):
        try:
            return _publish(db, campaign_id, region_code, kind, start, today, household_ids, key, title,
                            approving_body, published_at, clock)
        except sqlite3.IntegrityError as error:
            raise PublishError("本批次在该地已经公示过这类名单；如需修改，请发布新版本。") from error


def _publish(db, campaign_id, region_code, kind, start, today, household_ids, key, title, approving_body,
             published_at, clock) -> int:
    campaign = get_campaign(db, campaign_id)
    region = get_region_row(db, region_code)
    if campaign is None or region is None:
        raise PublishError("批次或区划不存在。")
    if kind not in rules.LIST_KINDS:
        raise PublishError(f"未知的名单类型：{kind}")
    if region["level"] not in rules.LIST_LEVELS:
        raise PublishError("只能在村、乡镇、县三级公示名单。")
    level = region["level"]
    step = _step(campaign, level)
    _check_start(start, today, clock)
    window = rules.Window.of_days(start, int(step["days"]))

    below = rules.lower_level(campaign["chain"], level)
    lower = lower_lists(db, campaign, region, kind, below) if below else []
    # Only the demo loader passes today=None: it pretends each list was published before its start.
    problems = chain_check(db, campaign, level, lower, today if today is not None else start)
    if problems:
        raise PublishError("现在还不能公示本级名单：" + "".join(problems))

    if household_ids is None and below:
        entries = _published_entries(db, [r["id"] for _, r in sorted(lower, key=lambda x: x[1]["id"] if x[1] else 0) if r])
        entries.sort(key=lambda e: e["village_code"])   # stable: each village keeps its published order
    else:
        if household_ids is None:
            if kind != "identify":
                raise PublishError("请选择要列入名单的农户。")
            household_ids = [a.id for a in village_selection(db, campaign_id, region_code).selected]
        entries = _snapshot(db, household_ids, campaign_id, region_code)
    if kind in ("identify", "replace"):
        quota = get_quota(db, campaign_id, region_code)
        rules.check_selection_within_quota(
            sum(e["size"] for e in entries), quota["persons"] if quota else None, region["name"]
        )

    if next(
        db.query(
            "select 1 from lists where campaign_id = ? and region_code = ? and kind = ?",
            [campaign_id, region_code, kind],
        ),
        None,
    ):
        raise PublishError("本批次在该地已经公示过这类名单；如需修改，请发布新版本。")
    list_id = db["lists"].insert(
        {
            "campaign_id": campaign_id,
            "region_code": region_code,
            "level": level,
            "kind": kind,
            "title": title or default_title(campaign, region, kind, step),
            "approving_body": approving_body or default_body(region),
            "current_version": 1,
            "created_at": clock.stamp(),
        }
    ).last_pk
    marks = _scope_marks(db, campaign, entries) if kind == "identify" else {}
    _write_version(db, list_id, 1, window, "首次公示", entries, marks=marks, key=key, published_at=published_at,
                   clock=clock)
    if level == "village" and kind == "identify":
        _record_ranking(db, list_id, campaign_id, region_code)
    return list_id


def _scope_marks(db, campaign: dict, entries: list[dict]) -> dict[int, str]:
    """The public note on each row a scope rule took rather than the vote (a 低保 household under
    "全部纳入"), on the first version of every level's list."""
    mark = rules.Scope.of(campaign).mark(rules.Applicant(id=0, size=0, votes=0, dibao=True))
    if not mark:        # the campaign ranks 低保 households like anyone: no row needs a note
        return {}
    ids = [e["id"] for e in entries]
    marks = {}
    for chunk in range(0, len(ids), 500):
        part = ids[chunk:chunk + 500]
        for r in db.query(f"select id from households where dibao = 1 and id in ({','.join('?' for _ in part)})", part):
            marks[r["id"]] = mark
    return marks


def _check_start(start: dt.date, today: dt.date | None, clock) -> None:
    """Refuse a window that starts before it can count whole days (``today`` None: the demo's back-dating)."""
    if today is None:
        return
    now = clock.now() if today == clock.today() else dt.datetime.combine(today, dt.time())
    if problem := rules.start_problem(start, now):
        raise PublishError(problem)


def _record_ranking(db, list_id: int, campaign_id: int, village_code: str) -> None:
    """Keep the village's whole ranking as published (the vote of record) for 依次递补."""
    ranked = rules.rank(applicants_of(db, campaign_id, village_code))
    db.conn.executemany(
        "insert into rankings (list_id, rank, household_id, size, votes, priority_count, income_per_capita, "
        "applied_on, dibao, wubao) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(list_id, i, a.id, a.size, a.votes, a.priority_count, a.income_per_capita, a.applied_on.isoformat(),
          int(a.dibao), int(a.wubao)) for i, a in enumerate(ranked, start=1)])


def check_not_superseded(db, lst: dict) -> None:
    """Once the next level has published its list, this one can no longer change (rule 6)."""
    above = ancestor_codes(lst["region_code"])
    upper = next(db.query(
        "select r.name from lists l join regions r on r.code = l.region_code where l.campaign_id = ? "
        f"and l.kind = ? and l.region_code in ({','.join('?' for _ in above)})",
        [lst["campaign_id"], lst["kind"], *above]), None) if above else None
    if upper:
        raise PublishError(f"上一级（{upper['name']}）的名单已经公示，本级名单不能再修改；请在上一级名单上更正。")


def amend_list(
    db,
    list_id: int,
    *,
    household_ids: list[int],
    note: str,
    key: bytes,
    today: dt.date | None,
    start: dt.date | None = None,
    published_at: str | None = None,
    omitted: int | None = None,
    clock,
) -> int:
    """Publish a new version of a list with a required change note; older versions stay readable.

    The list keeps its window. Households added by the amendment (递补, or 补录 with ``omitted``) are
    publicised for the full length of this level's window from ``start``, on their own rows; later
    versions carry those row windows and marks. Once the next level has published its list, this
    level can no longer be amended.

    What an amendment may do (rule 8, ``_check_amendment``): take off households whose
    disqualification is on record, and add the next households of the village's ranking of record
    that fit the freed quota — or, with ``omitted``, add the one household an upheld 漏评 report named.
    Anything else is a new list through the chain.
    """
    note = (note or "").strip()
    if not note:
        raise PublishError("修改名单必须填写修改说明。")
    with write_transaction(db):
        lst = next(db.query("select * from lists where id = ?", [list_id]), None)
        if lst is None:
            raise PublishError("名单不存在。")
        check_not_superseded(db, lst)
        current = next(db.query("select * from list_versions where list_id = ? and version = ?",
                                [list_id, lst["current_version"]]))
        before = {r["household_id"] for r in db.query(
            "select household_id from list_entries where list_id = ? and version = ?", [list_id, lst["current_version"]])}
        entries = _snapshot(db, household_ids, lst["campaign_id"], lst["region_code"])
        published = {e["id"]: e for e in _published_entries(db, [list_id])}
        for e in entries:   # households kept on the list keep what was publicised for them, mark and window too
            if e["id"] in published:
                e.update({k: published[e["id"]][k] for k in (*PUBLISHED_FIELDS, *ROW_FIELDS)})
        entries.sort(key=_entry_order)
        if lst["kind"] in ("identify", "replace"):
            region = get_region_row(db, lst["region_code"])
            quota = get_quota(db, lst["campaign_id"], lst["region_code"])
            rules.check_selection_within_quota(
                sum(e["size"] for e in entries), quota["persons"] if quota else None, region["name"])
            if lst["level"] != "village":     # every village inside a township or county list keeps its quota
                for village in {e["village_code"] for e in entries}:
                    vq = get_quota(db, lst["campaign_id"], village)
                    rules.check_selection_within_quota(
                        sum(e["size"] for e in entries if e["village_code"] == village), vq["persons"] if vq else None,
                        get_region_row(db, village)["name"])
        added = [e["id"] for e in entries if e["id"] not in before]
        # The list keeps its window (rule 8): only the households added now get a window of their own,
        # of the level's full length, shown on their rows; later versions carry it.
        window = rules.Window(dt.date.fromisoformat(current["window_start"]),
                              dt.date.fromisoformat(current["window_end"]))
        if added:
            if start is None:
                raise PublishError("名单新增了农户，需要为新版本设定公示开始日期。")
            _check_start(start, today, clock)
            days = int(_step(get_campaign(db, lst["campaign_id"]), lst["level"])["days"])
            own = rules.Window.of_days(start, days)
            for e in entries:
                if e["id"] in added:
                    e["window_start"], e["window_end"] = own.start.isoformat(), own.end.isoformat()
        _check_amendment(db, lst, before, entries, omitted)
        marks = {e["id"]: e.get("mark") or "" for e in entries if e["id"] in before}
        marks |= {hid: "补录" if hid == omitted else "递补" for hid in added}
        version = lst["current_version"] + 1
        _write_version(db, list_id, version, window, note, entries, marks=marks, key=key, published_at=published_at,
                       clock=clock)
        db.execute("update lists set current_version = ? where id = ?", [version, list_id])
    return version


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


def _check_amendment(db, lst: dict, before: set[int], entries: list[dict], omitted: int | None) -> None:
    """Refuse a new version that rewrites the list instead of correcting it (rule 8)."""
    after = {e["id"] for e in entries}
    removed, added = before - after, after - before
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


ENTRY_FIELDS = ("position", "household_id", "village_code", "group_name", "head_name", "size", "causes",
                "votes", "voters_present", "mark")
LIST_FIELDS = ("id", "campaign_id", "region_code", "level", "kind", "title", "approving_body")


def content_hash(key: bytes, lst: dict, version: int, window_start: str, window_end: str, note: str,
                 entries: list[dict]) -> str:
    """HMAC-SHA256 over a version's content with full names, printed on the board and shown online,
    so the paper and the page can be checked against each other.

    Keyed, because a plain hash of a short list could be reversed by trying every masked name.
    """
    canonical = json.dumps(
        {
            "list": {k: lst[k] for k in LIST_FIELDS},
            "version": version,
            "window": [window_start, window_end],
            "note": note,
            # A row's own window (递补) is hashed when it has one, so older versions keep their hashes.
            "entries": [[e[k] for k in ENTRY_FIELDS] + ([e["window_start"], e["window_end"]] if e.get("window_end") else [])
                        for e in entries],
        },
        ensure_ascii=False, sort_keys=True, separators=(",", ":"),
    )
    return hmac.new(key + b"|list-content", canonical.encode(), hashlib.sha256).hexdigest()


def version_hash(db, list_id: int, version: int, key: bytes) -> str:
    """Recompute a stored version's content hash from its rows."""
    lst = next(db.query("select * from lists where id = ?", [list_id]))
    v = next(db.query("select * from list_versions where list_id = ? and version = ?", [list_id, version]))
    entries = list(db.query(
        "select * from list_entries where list_id = ? and version = ? order by position", [list_id, version]))
    return content_hash(key, lst, version, v["window_start"], v["window_end"], v["change_note"], entries)


def _number_rows(db, list_id: int, version: int, rows: list[dict]) -> None:
    """Give each row its lasting number on this list (序号, ``row_ref``): what it had before, or the
    next number after the list's highest for a household new to the list (item 10)."""
    known = {r["household_id"]: r["row_ref"] for r in db.query(
        "select household_id, max(row_ref) as row_ref from list_entries where list_id = ? group by household_id",
        [list_id])} if version > 1 else {}
    top = max(known.values(), default=0)
    for r in rows:
        if version == 1:
            r["row_ref"] = r["position"]
        elif r["household_id"] in known:
            r["row_ref"] = known[r["household_id"]]
        else:
            top += 1
            r["row_ref"] = top


def _write_version(db, list_id, version, window, note, entries, marks, key, published_at=None, *, clock) -> None:
    rows = [
        {
            "list_id": list_id,
            "version": version,
            "position": i,
            "household_id": e["id"],
            "village_code": e["village_code"],
            "group_name": e["group_name"],
            "head_name": e["head_name"],
            "size": e["size"],
            "causes": e["causes"] if isinstance(e["causes"], str) else json.dumps(e["causes"]),
            "votes": e["votes"],
            "voters_present": e["voters_present"],
            "mark": marks.get(e["id"], ""),
            "window_start": e.get("window_start") if version > 1 else None,
            "window_end": e.get("window_end") if version > 1 else None,
        }
        for i, e in enumerate(entries, start=1)
    ]
    _number_rows(db, list_id, version, rows)
    latest = max((r for r in rows if r["window_end"]), key=lambda r: r["window_end"], default=None)
    lst = next(db.query("select * from lists where id = ?", [list_id]))
    start, end = window.start.isoformat(), window.end.isoformat()
    db["list_versions"].insert(
        {
            "list_id": list_id,
            "version": version,
            "window_start": start,
            "window_end": end,
            "change_note": note,
            "published_at": published_at or clock.stamp(),
            "content_hash": content_hash(key, lst, version, start, end, note, rows),
            "rows_from": latest["window_start"] if latest else None,
            "rows_until": latest["window_end"] if latest else None,
        }
    )
    db["list_entries"].insert_all(rows)
    search.record_publication(db, list_id, rows, clock=clock)
