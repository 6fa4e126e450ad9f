"""Public figures (issue 21, item 1): per county, township or village, for the county's newest
campaign (this year's round) — quota and its use, lists by kind and state, complaints and how long
they took, replacements and omissions, spot checks, and the 漏评/错评/错退 counts. Counts only, never
a name; the page, its CSV and its JSON are all made from ``region_figures``."""

from __future__ import annotations

import datetime as dt
import json
import math
import statistics

from . import register, rules

#: Every figure of a region's row, in the order the page, the CSV and the JSON give them.
FIGURES = (
    ("quota", "规模指标", "人"),
    ("used", "村级名单人数", "人"),
    ("lists", "名单", "份"),
    ("lists_open", "公示中的名单", "份"),
    ("complaints", "收到举报", "件"),
    ("upheld", "查实", "件"),
    ("partly", "部分属实", "件"),
    ("dismissed", "不属实", "件"),
    ("open", "未办结", "件"),
    ("overdue", "超期未办结", "件"),
    ("days_median", "办结用时中位数", "天"),
    ("days_p90", "办结用时 90% 分位", "天"),
    ("replacements", "依次递补", "户"),
    ("omissions", "漏评补录", "户"),
    # A household checked by the township and again by the county counts twice.
    ("sampled", "抽查户次", "户次"),
    ("sample_wrong", "抽查发现不属实", "户"),
    ("omission", "漏评（查实）", "户"),
    ("wrong_inclusion", "错评（剔除）", "户"),
    ("wrong_exit", "错退（重新纳入）", "户"),
)
FIGURE_NAMES = {key: name for key, name, _ in FIGURES}
STATES = (rules.NOT_OPEN, rules.OPEN, rules.CLOSED)


def nearest_rank(values: list[float], q: float) -> float | None:
    """The q-quantile by the nearest-rank method (a value that occurred), None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(math.ceil(q * len(ordered)) - 1, 0)]


def campaign_of(db, code: str) -> dict | None:
    """The newest campaign of the county a region belongs to."""
    return next(db.query("select id, name, county_code from campaigns where county_code = ? order by id desc limit 1",
                         [code[:6]]), None)


def _complaints(db, campaign_id: int, code: str, today: str) -> dict:
    rows = list(db.query(
        """select c.status, c.outcome, c.due_on, c.filed_at, c.concluded_at,
                  julianday(c.concluded_at) - julianday(c.filed_at) as took
           from complaints c left join lists l on l.id = c.list_id
           where coalesce((select h.village_code from households h where h.id = c.household_id), l.region_code,
                          c.handler_region) like ?
             and (l.campaign_id = ? or c.list_id is null)""",
        [code + "%", campaign_id]))
    took = [r["took"] for r in rows if r["status"] == "concluded" and r["took"] is not None]

    def days(value):
        return None if value is None else round(value, 1)

    return {"complaints": len(rows),
            **{o: sum(r["outcome"] == o for r in rows) for o in ("upheld", "partly", "dismissed")},
            "open": sum(r["status"] != "concluded" for r in rows),
            "overdue": sum(r["status"] != "concluded" and bool(r["due_on"]) and r["due_on"] < today for r in rows),
            "days_median": days(statistics.median(took)) if took else None, "days_p90": days(nearest_rank(took, 0.9))}


def _lists(db, campaign_id: int, code: str, today: dt.date) -> dict[str, dict[str, int]]:
    """Lists of the campaign in the region, by kind and by the state of their window today."""
    out = {kind: dict.fromkeys(STATES, 0) for kind in rules.LIST_KINDS}
    for r in db.query("select l.kind, v.window_start, v.window_end from lists l join list_versions v "
                      "on v.list_id = l.id and v.version = l.current_version "
                      "where l.campaign_id = ? and l.region_code like ?", [campaign_id, code + "%"]):
        window = rules.Window(dt.date.fromisoformat(r["window_start"]), dt.date.fromisoformat(r["window_end"]))
        out[r["kind"]][rules.window_state(window, today).status] += 1
    return out


def _marked(db, campaign_id: int, code: str, mark: str) -> int:
    return next(db.query(
        "select count(distinct e.household_id) as n from lists l join list_entries e on e.list_id = l.id "
        "and e.version = l.current_version where l.campaign_id = ? and e.village_code like ? and e.mark = ?",
        [campaign_id, code + "%", mark]))["n"]


def _spot_checks(db, campaign_id: int, code: str) -> dict:
    row = next(db.query(
        "select coalesce(sum(c.size), 0) as sampled, "
        "(select count(*) from spot_check_items i join spot_checks k on k.id = i.check_id join lists m on m.id = k.list_id "
        " where m.campaign_id = ?1 and m.region_code like ?2 and i.result = 'false') as wrong "
        "from spot_checks c join lists l on l.id = c.list_id where l.campaign_id = ?1 and l.region_code like ?2",
        [campaign_id, code + "%"]))
    return {"sampled": row["sampled"], "sample_wrong": row["wrong"]}


def _quota(db, campaign_id: int, code: str) -> tuple[int | None, int]:
    quota = next(db.query("select persons from quotas where campaign_id = ? and region_code = ?",
                          [campaign_id, code]), None)
    used = next(db.query(
        "select coalesce(sum(e.size), 0) as n from lists l join list_entries e on e.list_id = l.id "
        "and e.version = l.current_version where l.campaign_id = ? and l.kind = 'identify' and l.level = 'village' "
        "and l.region_code like ?", [campaign_id, code + "%"]))["n"]
    return (quota["persons"] if quota else None), used


def figures_of(db, region: dict, today: dt.date, registers: dict | None = None) -> dict | None:
    """One region's row: its figures for its county's newest campaign, or None before any campaign.
    ``registers``: the register of each campaign already read for a region above (campaign id ->
    ``register_of``), so that a page of many rows reads each register once."""
    campaign = campaign_of(db, region["code"])
    if campaign is None:
        return None
    code = region["code"]
    entries = None
    if registers is not None:
        if campaign["id"] not in registers:
            registers[campaign["id"]] = register.register_of(db, campaign["id"], today, campaign["county_code"])
        entries = {k: e for k, e in registers[campaign["id"]].items() if e.village_code.startswith(code)}
    lists = _lists(db, campaign["id"], code, today)
    quota, used = _quota(db, campaign["id"], code)
    rates = register.rates(db, campaign["id"], today, code, entries)
    values = {"quota": quota, "used": used,
              "lists": sum(sum(s.values()) for s in lists.values()),
              "lists_open": sum(s[rules.OPEN] for s in lists.values()),
              **_complaints(db, campaign["id"], code, today.isoformat()),
              "replacements": _marked(db, campaign["id"], code, "递补"),
              "omissions": _marked(db, campaign["id"], code, "补录"),
              **_spot_checks(db, campaign["id"], code),
              "omission": rates["omission"]["count"], "wrong_inclusion": rates["wrong_inclusion"]["count"],
              "wrong_exit": rates["wrong_exit"]["count"]}
    return {"code": code, "name": region["name"], "level": region["level"], "campaign": campaign["name"],
            "values": {key: values[key] for key, _, _ in FIGURES}, "lists_by_kind": lists}


def region_figures(db, region: dict | None, today: dt.date, as_of: str) -> dict:
    """The region's own row (none for the whole site) and one row per child region (counties for the
    site, townships for a county, villages for a township), with the figures' names and units."""
    if region is None:
        children = list(db.query("select * from regions where level = 'county' order by code"))
    elif region["level"] in ("county", "township"):
        children = list(db.query("select * from regions where parent_code = ? order by code", [region["code"]]))
    else:
        children = []
    registers: dict = {}
    own = figures_of(db, region, today, registers) if region else None
    rows = [r for r in (figures_of(db, c, today, registers) for c in children) if r]
    total = own or _sum(rows)
    return {"as_of": as_of, "region": region, "own": total, "rows": rows,
            "figures": [{"key": k, "name": n, "unit": u} for k, n, u in FIGURES],
            "kinds": rules.LIST_KINDS, "states": {s: rules.STATUS_NAMES[s] for s in STATES}}


def _sum(rows: list[dict]) -> dict | None:
    """The whole site's row: the counties' figures added (the quantiles are not additive: left out)."""
    if not rows:
        return None
    values = {}
    for key, _, _ in FIGURES:
        present = [r["values"][key] for r in rows if r["values"][key] is not None]
        values[key] = None if key.startswith("days_") or not present else sum(present)
    kinds = {k: {s: sum(r["lists_by_kind"][k][s] for r in rows) for s in STATES} for k in rules.LIST_KINDS}
    return {"code": "", "name": "全部地区", "level": "", "campaign": "", "values": values, "lists_by_kind": kinds}


def tidy_rows(data: dict) -> list[list]:
    """Every figure of the page as rows of (region code, region, figure, value, unit): the CSV."""
    out = []
    units = {k: u for k, _, u in FIGURES}
    for row in ([data["own"]] if data["own"] else []) + data["rows"]:
        for key, name, _ in FIGURES:
            out.append([row["code"], row["name"], name, row["values"][key], units[key]])
    if data["own"]:
        for kind, states in data["own"]["lists_by_kind"].items():
            for state, n in states.items():
                out.append([data["own"]["code"], data["own"]["name"],
                            f"{rules.LIST_KINDS[kind]}名单（{rules.STATUS_NAMES[state]}）", n, "份"])
    return out


def as_json(data: dict) -> str:
    body = {"as_of": data["as_of"], "region": ({"code": data["region"]["code"], "name": data["region"]["name"]}
                                               if data["region"] else None),
            "figures": data["figures"], "total": data["own"], "rows": data["rows"],
            "list_kinds": data["kinds"], "list_states": data["states"]}
    return json.dumps(body, ensure_ascii=False, indent=1)
