"""The public statistics pages (/stats, /stats/<code>) and their data as CSV and JSON (issue 21).
The page, the CSV and the JSON are made from the same figures (``domain.stats.region_figures``)."""

from __future__ import annotations

import io

from flask import Blueprint, Response, abort, current_app, render_template
from markupsafe import Markup

from .. import clock
from ..domain import spreadsheet, stats
from ..domain.regions import ancestors
from ..runtime import get_db
from .charts import paired_bars, stacked_bars
from .regions import get_region

bp = Blueprint("stats", __name__)

OUTCOMES = ("upheld", "partly", "dismissed", "open")


def _data(code: str | None) -> dict:
    region = None
    if code is not None:
        region = get_region(code)
        if region["level"] == "group":
            abort(404)
    now = clock.current()
    return stats.region_figures(get_db(), region, now.today(), now.local_stamp())


def charts(data: dict) -> dict[str, Markup]:
    """The charts of a page: quota use and complaints per row (the children, or the region itself),
    and the region's lists by kind and state."""
    rows = data["rows"] or ([data["own"]] if data["own"] else [])
    names = {k: n for k, n, _ in stats.FIGURES}
    out = {}
    if rows:
        quota_rows = [(r["name"], r["values"]["quota"], r["values"]["used"]) for r in rows]
        used = sum(u for _, _, u in quota_rows)
        quota = sum(q or 0 for _, q, _ in quota_rows)
        out["quota"] = paired_bars("chart-quota", "规模指标和村级名单人数", f"共 {quota} 人的规模指标，村级名单上 {used} 人。"
                                   "每一行浅色长条是规模指标，深色短条是名单人数。", quota_rows, ("规模指标", "名单人数"))
        complaint_rows = [(r["name"], [r["values"][k] for k in OUTCOMES]) for r in rows]
        total = sum(sum(v) for _, v in complaint_rows)
        out["complaints"] = stacked_bars(
            "chart-complaints", "举报办理结果", f"共收到举报 {total} 件，按办理结果分段：" +
            "、".join(f"{names[k]} {sum(r['values'][k] for r in rows)} 件" for k in OUTCOMES) + "。",
            complaint_rows, [names[k] for k in OUTCOMES])
    if data["own"]:
        kinds = data["own"]["lists_by_kind"]
        list_rows = [(data["kinds"][k], [s[st] for st in stats.STATES]) for k, s in kinds.items() if sum(s.values())]
        if list_rows:
            out["lists"] = stacked_bars(
                "chart-lists", "各类名单的公示状态", "各类名单份数，按公示状态分段：" + "；".join(
                    f"{label} {sum(v)} 份" for label, v in list_rows) + "。", list_rows,
                [data["states"][st] for st in stats.STATES])
    return out


def _page(code: str | None):
    data = _data(code)
    region = data["region"]
    return render_template("stats.html", data=data, charts=charts(data), region=region,
                           crumbs=ancestors(get_db(), region["code"]) if region else [],
                           code=code, outcomes=OUTCOMES)


def _csv(code: str | None):
    data = _data(code)
    out = io.StringIO()
    out.write("\ufeff")
    writer = spreadsheet.writer(out)
    writer.writerow(["地区代码", "地区", "指标", "数值", "单位"])
    for row in stats.tidy_rows(data):
        writer.writerow(["" if v is None else v for v in row])
    name = f"stats-{code or 'all'}.csv"
    return Response(out.getvalue(), mimetype="text/csv", headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _json(code: str | None):
    return current_app.response_class(stats.as_json(_data(code)), mimetype="application/json")


@bp.get("/stats")
def site_page():
    return _page(None)


@bp.get("/stats.csv")
def site_csv():
    return _csv(None)


@bp.get("/stats.json")
def site_json():
    return _json(None)


@bp.get("/stats/<code>")
def region_page(code):
    return _page(code)


@bp.get("/stats/<code>.csv")
def region_csv(code):
    return _csv(code)


@bp.get("/stats/<code>.json")
def region_json(code):
    return _json(code)
