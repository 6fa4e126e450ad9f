"""Publishing and amending publicity lists, with 规模控制 and the chain rule enforced.

Plain functions over a sqlite-utils Database (no Flask): the demo loader, tests and the staff
console call the same code. A refused publication raises ``PublishError`` (or ``QuotaError``)
with a Chinese message for the user; nothing is written in that case.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3

from ..db import write_transaction
from . import adjustments, audit, rules, sampling
from .campaigns import (
    applicants_of,
    get_campaign,
    get_quota,
    village_selection,
)
from .complaints import open_in_window
from .regions import ancestor_codes, get_region_row
from .rules import PublishError
from .versions import write_version
from .waiting_list import check_amendment


def _step(campaign: dict, level: str, kind: str = "identify") -> dict:
    for step in rules.chain_of(campaign, kind):
        if step["level"] == level:
            return step
    raise PublishError(f"本批次{rules.LIST_KINDS[kind]}名单的公示程序没有{rules.LEVEL_NAMES[level]}一级。")


#: The step names of lists that change the register, when the campaign gives the kind no chain of its own.
ADJUSTMENT_STEP_NAMES = {"village": "公示", "township": "审核公示", "county": "公告"}


def default_title(campaign: dict, region: dict, kind: str, step: dict) -> str:
    if kind == "identify":
        return f"{region['name']}{step['name']}名单（{campaign['name']}）"
    kind_name = rules.LIST_KINDS[kind]
    name = step["name"] if kind in campaign.get("chains", {}) else ADJUSTMENT_STEP_NAMES[region["level"]]
    # A step named after its kind (退出公示) joins the kind's name without repeating it: 脱贫退出公示.
    overlap = max((k for k in range(len(name) + 1) if kind_name.endswith(name[:k])), default=0)
    return f"{region['name']}{kind_name}{name[overlap:]}名单（{campaign['name']}）"


def default_body(region: dict) -> str:
    if region["level"] == "village":
        return f"{region['name']}村民委员会"
    if region["level"] == "township":
        return f"{region['name']}人民政府"
    return f"{region['name']}扶贫开发领导小组办公室"


def _snapshot(db, household_ids: list[int], campaign_id: int, region_code: str, kind: str = "identify") -> list[dict]:
    """Entry rows for these households as they stand now, in ranking order within each village.

    Every household must lie inside the list's region and belong to this campaign — or, on a list that
    changes the register (剔除, 脱贫退出, 返贫纳入), have a proposal of this campaign (it may have been
    filed in an earlier round).
    """
    if len(set(household_ids)) != len(household_ids):
        raise PublishError("名单中同一户出现了不止一次。")
    # One JSON array parameter, however many households (no limit on SQL variables to chunk around).
    rows = list(db.query(
        """
        select h.id, h.village_code, coalesce(g.name, '') as group_name, h.head_name, h.size,
               h.causes, v.votes, v.voters_present, h.campaign_id, h.income_per_capita, h.applied_on,
               h.disabled_member + h.single_child + h.all_daughters as priority_count, h.dibao, h.wubao
        from households h
        left join votes v on v.household_id = h.id
        left join regions g on g.code = h.group_code
        where h.id in (select value from json_each(?))
        """,
        [json.dumps(household_ids)],
    ))
    found = {r["id"]: r for r in rows}
    if kind in rules.ADJUSTMENT_KINDS:      # an exit, removal or re-entry is not decided by a vote
        for r in rows:
            r["votes"] = r["voters_present"] = None
    if kind in rules.ADJUSTMENT_KINDS:
        proposed = {r["household_id"] for r in db.query(
            "select household_id from adjustments where campaign_id = ? and kind = ? and status != 'withdrawn'",
            [campaign_id, kind])}
        missing = [i for i in household_ids if i not in found or i not in proposed]
    else:
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
    units = list(db.query(child_sql + " order by 1", [region["code"]]))
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


def chain_check(db, campaign: dict, level: str, lower: list[tuple[str, dict | None]], on: dt.date,
                kind: str = "identify") -> list[str]:
    """Why a list of ``level`` over these lower lists may not be published on ``on``: the chain rule
    (rule 6) and the spot checks of the lists below (rule 12)."""
    return rules.chain_problems(level=level, chain=rules.chain_of(campaign, kind), on=on,
                                lower_windows=lower_windows(lower),
                                open_complaints=open_in_window(db, [r["id"] for _, r in lower if r])) + (
        sampling.problems(db, campaign, level, lower) if lower else [])


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
    actor: str | None = None,
    role: str | None = None,
    clock,
) -> int:
    """Publish version 1 of a list and return its id; with an ``actor`` (a staff member, not the demo
    loader or a test's fixture) the audit row is written in the same transaction.

    Village lists of kind 识别纳入 default to the village's selection within its quota; township
    and county lists gather the current entries of the level below. ``today`` is the day of
    publication and guards against windows that start too early (before today, or today after
    ``rules.SAME_DAY_CUTOFF``; a day other than the clock's is taken at its first minute); only the
    demo loader passes None (with the ``published_at`` it pretends).
    All checks and writes run in one write transaction, so two clerks cannot race past them.
    """
    with write_transaction(db):
        try:
            list_id = _publish(db, campaign_id, region_code, kind, start, today, household_ids, key, title,
                               approving_body, published_at, clock)
        except sqlite3.IntegrityError as error:
            raise PublishError("本批次在该地已经公示过这类名单；如需修改，请发布新版本。") from error
        if actor:
            audit.record(db, actor=actor, role=role, action="list.publish", object_type="list", object_id=list_id,
                         region_code=region_code, after=version_record(db, list_id), key=key, clock=clock)
        return list_id


def version_record(db, list_id: int) -> dict:
    """What the audit log keeps of a list's current version."""
    return next(db.query(
        "select l.id as list_id, l.region_code, l.level, l.kind, v.version, v.window_start, v.window_end, "
        "v.change_note, v.content_hash, (select count(*) from list_entries e where e.list_id = l.id "
        "and e.version = v.version) as households from lists l join list_versions v on v.list_id = l.id "
        "and v.version = l.current_version where l.id = ?", [list_id]))


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
    step = _step(campaign, level, kind)
    _check_start(start, today, clock)
    window = rules.Window.of_days(start, int(step["days"]))

    below = rules.lower_level(rules.chain_of(campaign, kind), level)
    lower = lower_lists(db, campaign, region, kind, below) if below else []
    # Only the demo loader passes today=None: it pretends each list was published before its start.
    problems = chain_check(db, campaign, level, lower, today if today is not None else start, kind)
    if kind == "identify" and level == "village" and (waiting := adjustments.pending_removals(db, campaign_id,
                                                                                             region_code)):
        problems.append(f"先退后进：本村还有{'、'.join(waiting)}的剔除没有公示，请先公示剔除名单，再公示新识别的名单。")
    if problems:
        raise PublishError("现在还不能公示本级名单：" + "".join(problems))

    if household_ids is None and below:
        entries = _published_entries(db, [r["id"] for _, r in sorted(lower, key=lambda x: x[1]["id"] if x[1] else 0) if r])
        entries.sort(key=lambda e: e["village_code"])   # stable: each village keeps its published order
    else:
        if kind in rules.ADJUSTMENT_KINDS:
            ready = adjustments.ready(db, campaign_id, region_code, kind)
            if household_ids is None:
                household_ids = ready
            if not household_ids:
                raise PublishError(f"本村没有可以列入{rules.LIST_KINDS[kind]}名单的农户。")
            if not_ready := set(household_ids) - set(ready):
                raise PublishError(f"有 {len(not_ready)} 户的{rules.LIST_KINDS[kind]}还没有走完前面的步骤"
                                   "（核实、农户确认），不能列入名单。")
        elif household_ids is None:
            if kind != "identify":
                raise PublishError("请选择要列入名单的农户。")
            household_ids = [a.id for a in village_selection(db, campaign_id, region_code).selected]
        entries = _snapshot(db, household_ids, campaign_id, region_code, kind)
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
    if kind == "identify":
        marks = _scope_marks(db, campaign, entries)
    elif kind in rules.ADJUSTMENT_KINDS:
        marks = {e["id"]: e.get("mark") or "" for e in entries if e.get("mark")} if below else adjustments.marks(
            db, campaign_id, kind, [e["id"] for e in entries])
    else:
        marks = {}
    write_version(db, list_id, 1, window, "首次公示", entries, marks=marks, key=key, published_at=published_at,
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
    ids = json.dumps([e["id"] for e in entries])
    return {r["id"]: mark for r in db.query(
        "select id from households where dibao = 1 and id in (select value from json_each(?))", [ids])}


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

    What an amendment may do (rule 8, ``waiting_list.check_amendment``): take off households whose
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
        entries = _snapshot(db, household_ids, lst["campaign_id"], lst["region_code"], lst["kind"])
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
            days = int(_step(get_campaign(db, lst["campaign_id"]), lst["level"], lst["kind"])["days"])
            own = rules.Window.of_days(start, days)
            for e in entries:
                if e["id"] in added:
                    e["window_start"], e["window_end"] = own.start.isoformat(), own.end.isoformat()
        check_amendment(db, lst, before, entries, omitted)
        marks = {e["id"]: e.get("mark") or "" for e in entries if e["id"] in before}
        marks |= {hid: "补录" if hid == omitted else "递补" for hid in added}
        version = lst["current_version"] + 1
        write_version(db, list_id, version, window, note, entries, marks=marks, key=key, published_at=published_at,
                       clock=clock)
        db.execute("update lists set current_version = ? where id = ?", [version, list_id])
    return version


def readiness(db, campaign: dict, region: dict, today: dt.date) -> dict:
    """Whether this region's 识别纳入 list can be published on ``today``: its own list, and the level below."""
    own = next(db.query("select id from lists where campaign_id = ? and region_code = ? and kind = 'identify'",
                        [campaign["id"], region["code"]]), None)
    levels = [step["level"] for step in campaign["chain"]]
    if region["level"] not in levels:
        return {"own": own, "lower": [], "in_chain": False, "ready": False}
    below = rules.lower_level(campaign["chain"], region["level"])
    rows = lower_lists(db, campaign, region, "identify", below) if below else []
    lower = [{"name": name, "list_id": row["id"] if row else None,
              "closed": row is not None and dt.date.fromisoformat(row["window_end"]) < today} for name, row in rows]
    # The same check as publishing: lower windows closed and every report filed in them concluded.
    problems = chain_check(db, campaign, region["level"], rows, today) if below else []
    earliest = rules.earliest_publication(lower_windows(rows)) if below else None
    ready = own is None and not problems
    return {"own": own, "lower": lower, "in_chain": True, "ready": ready, "problems": problems,
            "earliest": earliest if earliest and earliest > today else None}
