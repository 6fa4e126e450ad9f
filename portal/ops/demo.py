"""The demo county: 武陵源区 with the documents' real quotas (S0) and invented villages and households.

Loaded from ``import/demo/`` when the database is empty at first start, or on demand with
``flask --app portal load-demo``. Publicity windows are placed relative to the portal clock's today, so the site
always shows lists that are open now, about to open and already closed.
"""

from __future__ import annotations

import csv
import datetime as dt
import sqlite3
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from .. import clock, search
from ..db import write_transaction
from .demo_cases import load_cases
from ..domain import rules
from ..domain.campaigns import (
    add_household,
    create_campaign,
    get_campaign,
    set_quota,
    village_selection,
)
from ..domain.notices import create_notice
from ..domain.publishing import publish_list
from ..domain.regions import add_region
from ..domain.replacement import confirm
from ..runtime import get_db, id_key
from .demo_rounds import (
    create_last_year,
    load_last_year,
    load_this_year,
    published_at,
    spot_check,
)

CAUSE_KEYS = {label: key for key, (label, _) in rules.CAUSES.items()}
COUNTY = "430811"

# Offsets in days from today for the first day of each village's window, by township.
# 索溪峪镇 and 天子山镇 have finished the village round and published their township lists.
VILLAGE_STARTS = {"430811100": -20, "430811101": -30, "430811200": -5, "430811201": 2}
TOWNSHIP_STARTS = {"430811100": -4, "430811101": -22}
# 中湖村 is still evaluating: its applicants are entered but no list is published yet.
UNPUBLISHED = {"430811201005"}
# 双星村's replacement households are publicised from this day, after its first window closed.
REPLACEMENT_START = -13
# Villages whose round runs on its own timetable, to show more states at once.
VILLAGE_OVERRIDES = {"430811200002": -2, "430811201001": -1, "430811201002": -1}


def _read(path: Path) -> list[dict]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def _yes(value: str) -> bool:
    return value.strip() in ("是", "√", "1", "Y", "y")


def _shifted(applied_on: str, today: dt.date) -> dt.date:
    """Application dates in the file run from 1 March; the demo places them 30 to 70 days ago."""
    return today - dt.timedelta(days=70) + (dt.date.fromisoformat(applied_on) - dt.date(2014, 3, 1))


def load_demo(db, demo_dir: Path, clock, id_key: bytes) -> dict:
    """Load the demo into an empty database, its windows placed around ``clock``'s today; returns
    counts of what was loaded."""
    today = clock.today()
    if next(db.query("select 1 from regions limit 1"), None):
        raise click.ClickException("数据库里已经有数据：演示数据只能载入空数据库（load-demo --reset 可清空后重载）。")
    with write_transaction(db):
        regions = _read(demo_dir / "regions.csv")
        for r in regions:
            add_region(db, r["区划代码"], r["名称"], r["上级代码"] or None)
        db["meta"].upsert({"key": "demo", "value": today.isoformat()}, pk="key")
        last_year = create_last_year(db, clock)
        campaign_id = create_campaign(
            db,
            county_code=COUNTY,
            name="演示批次",
            reference_date=dt.date(today.year - 1, 12, 31),
            income_line=2736,
            previous_id=last_year,
            clock=clock,
        )
        reserve = 0
        quota_rows = _read(demo_dir / "quotas.csv")
        for q in quota_rows:
            if not q["区划代码"] and q["名称"] in ("预留机动名额", "预留", "机动"):
                reserve = int(q["规模"])
        for q in quota_rows:  # parents before children, as the file lists them
            if q["区划代码"]:
                set_quota(db, campaign_id, q["区划代码"], int(q["规模"]),
                          reserve if q["区划代码"] == COUNTY else 0)
        by_name = {(r["上级代码"], r["名称"]): r["区划代码"] for r in regions}
        township_code = {r["名称"]: r["区划代码"] for r in regions if len(r["区划代码"]) == 9}
        households = 0
        for a in _read(demo_dir / "applicants.csv"):
            village = by_name[(township_code[a["乡镇"]], a["村"])]
            add_household(
                db,
                campaign_id=campaign_id,
                village_code=village,
                group_code=by_name.get((village, a["村民小组"])),
                head_name=a["户主姓名"],
                size=int(a["家庭人口"]),
                id_number=a["身份证号"],
                id_key=id_key,
                causes=[CAUSE_KEYS[c] for c in a["致贫原因"].split("、") if c],
                income_per_capita=float(a["人均纯收入"]),
                disabled_member=_yes(a["残疾"]),
                single_child=_yes(a["独生子女"]),
                all_daughters=_yes(a["纯女户"]),
                dibao=_yes(a.get("低保户", "")),
                wubao=_yes(a.get("五保户", "")),
                applied_on=_shifted(a["申请日期"], today),
                votes=int(a["得票数"]),
                voters_present=int(a["参评人数"]),
                clock=clock,
            )
            households += 1
        lists = _publish_demo_lists(db, campaign_id, clock, id_key)
        filed = load_last_year(db, last_year, clock, id_key)
        load_this_year(db, campaign_id, filed, clock, id_key)
        load_cases(db, clock, id_key)
        _demo_notice(db, clock, id_key)
    return {"regions": len(regions), "households": households, "lists": lists}


def _publish_demo_lists(db, campaign_id: int, clock, key: bytes) -> int:
    day = lambda offset: clock.today() + dt.timedelta(days=offset)  # noqa: E731
    count = 0
    villages = list(db.query("select code, parent_code from regions where level = 'village' order by code"))
    for v in villages:
        if v["code"] in UNPUBLISHED:
            continue
        start = day(VILLAGE_OVERRIDES.get(v["code"], VILLAGE_STARTS[v["parent_code"]]))
        publish_list(db, campaign_id=campaign_id, region_code=v["code"], kind="identify", start=start,
                     today=None, key=key, published_at=published_at(start), clock=clock)
        count += 1
    _demo_replacement(db, campaign_id, "430811100001", day(REPLACEMENT_START), key, clock)
    campaign = get_campaign(db, campaign_id)
    for township, offset in TOWNSHIP_STARTS.items():
        for lst in db.query("select id from lists where campaign_id = ? and region_code like ? and level = 'village' "
                            "and kind = 'identify'",
                            [campaign_id, township + "%"]):
            spot_check(db, campaign, lst["id"], key, clock)
        publish_list(db, campaign_id=campaign_id, region_code=township, kind="identify", start=day(offset),
                     today=None, key=key, published_at=published_at(day(offset)), clock=clock)
        count += 1
    return count


def _demo_replacement(db, campaign_id: int, village_code: str, start: dt.date, key: bytes, clock) -> None:
    """One upheld report in 双星村: its second household loses its place and the waiting list
    fills the freed quota in rank order (依次递补); the replacements get a window of their own."""
    lst = next(db.query("select id from lists where campaign_id = ? and region_code = ? and kind = 'identify'",
                        [campaign_id, village_code]))
    selection = village_selection(db, campaign_id, village_code)
    removed = next(a for a in selection.selected[1:] if a.size <= 3)
    confirm(db, list_id=lst["id"], household_id=removed.id, ground="家中有财政供养人员（演示）", expected=None,
            actor="演示数据", role="cli", key=key, today=None, start=start, published_at=published_at(start),
            clock=clock)


def _demo_notice(db, clock, key: bytes) -> None:
    yesterday = dt.datetime.combine(clock.today() - dt.timedelta(days=1), dt.time(9), clock.zone)
    create_notice(db, region_code=COUNTY, title="关于扶贫对象识别名单公示的公告（演示）", body=DEMO_NOTICE,
                  publish_at=yesterday.isoformat(timespec="seconds"), actor="演示数据", role="cli", key=key, clock=clock)


DEMO_NOTICE = """各村、乡镇的扶贫对象识别名单正在陆续公示，请大家留意本村的名单。

- 村里的名单公示 **7 天**，乡镇审核后再公示 7 天，县里最后公告。
- 对名单有异议，可以在本网站 [网上举报](/complaints/new)，也可以打电话或当面反映。
- 可以不留姓名，我们为反映人保密。
"""


def demo_dir() -> Path:
    return Path(current_app.config["IMPORT_DIR"]) / "demo"


def load_demo_if_empty(db) -> None:
    """At first start, fill an empty database with the demo (a race between workers is harmless)."""
    if next(db.query("select 1 from regions limit 1"), None):
        return
    try:
        load_demo(db, demo_dir(), clock.current(), id_key())
    except sqlite3.IntegrityError:  # another worker loaded it at the same moment
        current_app.logger.info("demo data loaded by another worker")


def is_demo_only(db) -> bool:
    """True when every region in the database belongs to the demo county."""
    return next(db.query("select 1 from regions where code not like ?", [COUNTY + "%"]), None) is None


def clear_all(db, clock) -> None:
    """Delete every row of portal data, children before parents, in one transaction."""
    with write_transaction(db):
        db["meta"].upsert({"key": "resetting", "value": "1"}, pk="key")
        for table in ("ledger", "search_names", "search_places", "notices", "spot_check_items", "spot_checks", "adjustments",
                      "complaint_files", "complaint_events", "complaints",
                      "board_photos", "disqualifications", "rankings", "list_entries", "list_versions", "lists", "votes", "households", "quotas",
                      "campaigns", "users", "meta"):
            db.execute(f"delete from {table}")
        for level in ("group", "village", "township", "county"):
            db.execute("delete from regions where level = ?", [level])
        search.enqueue(db, "all", clock=clock)


@click.command("load-demo")
@click.option("--reset", is_flag=True, help="Delete all data first, even data that is not the demo (asks).")
@with_appcontext
def load_demo_command(reset):
    """Load the demo county (武陵源区), replacing an earlier demo so its windows start from today."""
    db = get_db()
    if reset:
        click.confirm("这会删除数据库中的全部数据，确定吗？", abort=True)
    elif not is_demo_only(db):
        raise click.ClickException("数据库里有演示县以外的数据，不能载入演示数据（确需清空请加 --reset）。")
    with write_transaction(db):
        clear_all(db, clock.current())
        counts = load_demo(db, demo_dir(), clock.current(), id_key())
    click.echo("Demo loaded: {regions} regions, {households} households, {lists} lists.".format(**counts))
