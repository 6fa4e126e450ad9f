"""Publicity lists (公示名单): query helpers and the public pages, print view and downloads.

One helper (``list_context``) feeds the HTML page, the print view, the CSV and the JSON alike, so
all four show the same entries with the same masking.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from urllib.parse import quote

import segno
from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    render_template,
    request,
    url_for,
)
from markupsafe import Markup

from .. import clock
from ..domain import ledger, rules, sampling, spreadsheet
from ..domain.campaigns import get_quota
from ..domain.complaints import list_complaint_counts, public_replies
from ..domain.privacy import mask_name, public_causes
from ..domain.regions import ancestor_codes, ancestors
from ..runtime import get_db, id_key
from .caching import cached_page

bp = Blueprint("lists", __name__)


@bp.after_request
def not_for_search_engines(response):
    """Lists carry names: keep them out of search engines and bulk harvesting (DOMAIN §8)."""
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


# --- Query helpers -----------------------------------------------------------------------------

_LIST_SELECT = """
    select l.id, l.title, l.level, l.kind, l.region_code, l.campaign_id, l.approving_body,
           l.current_version, l.names_withheld_at, r.name as region_name, c.name as campaign_name, p.name as parent_name,
           c.scope as campaign_scope, c.income_line,
           v.version, v.window_start, v.window_end, v.change_note, v.published_at, v.content_hash,
           v.rows_from, v.rows_until,
           (select count(*) from list_entries e
             where e.list_id = l.id and e.version = v.version) as households,
           (select coalesce(sum(e.size), 0) from list_entries e
             where e.list_id = l.id and e.version = v.version) as persons
    from lists l
    join regions r on r.code = l.region_code
    left join regions p on p.code = r.parent_code
    join campaigns c on c.id = l.campaign_id
    join list_versions v on v.list_id = l.id
"""


def annotate(row: dict, today: dt.date) -> dict:
    """Add the window, its state on ``today`` and display names to a list row."""
    window = rules.Window(dt.date.fromisoformat(row["window_start"]), dt.date.fromisoformat(row["window_end"]))
    row["window"] = window
    row["state"] = rules.window_state(window, today)
    # The window of the households added by amendments (递补、补录), when this version has any.
    row["rows_window"] = rules.Window(dt.date.fromisoformat(row["rows_from"]), dt.date.fromisoformat(row["rows_until"])) \
        if row.get("rows_until") else None
    row["rows_state"] = rules.window_state(row["rows_window"], today) if row["rows_window"] else None
    row["level_name"] = rules.LEVEL_NAMES[row["level"]]
    row["kind_name"] = rules.LIST_KINDS[row["kind"]]
    return row


def _lists_where(where: str, params, *, order: str = "l.id", limit: int | None = None) -> list[dict]:
    """Current versions of lists matching a fixed SQL condition (on ``l`` and ``v``; parameters
    bound, never formatted). The matching ids are found and limited first, so the per-list counts
    are computed only for the rows shown."""
    db = get_db()
    sql = ("select l.id from lists l join list_versions v on v.list_id = l.id and v.version = l.current_version"
           " where " + where + " order by " + order)
    if limit:
        sql += f" limit {int(limit)}"
    ids = [r[0] for r in db.execute(sql, params)]
    if not ids:
        return []
    rows = {r["id"]: r for r in db.query(
        _LIST_SELECT + " where v.version = l.current_version and l.id in (select value from json_each(?))",
        [json.dumps(ids)])}
    today = clock.today()
    return [annotate(rows[i], today) for i in ids]


def lists_of_region(code: str, *, newest_first: bool = True) -> list[dict]:
    """The lists published by one region (newest window first, or newest list first)."""
    order = "v.window_start desc, l.id desc" if newest_first else "l.id desc"
    return _lists_where("l.region_code = ?", [code], order=order)


def lists_within(code: str) -> list[dict]:
    """Every list in a region's subtree (the whole portal for ""), oldest first."""
    return _lists_where("l.region_code like ?", [code + "%"])


def lists_above(code: str) -> list[dict]:
    """Lists of the township and county above this region, which include its households too."""
    above = ancestor_codes(code)
    if not above:
        return []
    return _lists_where("l.region_code in (select value from json_each(?))", [json.dumps(above)],
                        order="v.window_start desc, l.id desc")


def open_lists_within(code: str, today: dt.date) -> list[dict]:
    """Lists in a region's subtree whose window is open on ``today``, closing first."""
    t = today.isoformat()
    return _lists_where("l.region_code like ? and v.window_start <= ? and v.window_end >= ?",
                        [code + "%", t, t], order="v.window_end, l.id")


def closing_soon(today: dt.date, last_day: dt.date, limit: int) -> list[dict]:
    """Lists open on ``today`` whose window ends by ``last_day``, closing first."""
    return _lists_where("v.window_start <= ? and v.window_end >= ? and v.window_end <= ?",
                        [today.isoformat(), today.isoformat(), last_day.isoformat()], order="v.window_end, l.id",
                        limit=limit)


def open_beyond(today: dt.date, after: dt.date, limit: int) -> list[dict]:
    """Lists open on ``today`` whose window ends after ``after``, closing first."""
    return _lists_where("v.window_start <= ? and v.window_end > ?", [today.isoformat(), after.isoformat()],
                        order="v.window_end, l.id", limit=limit)


def opening_by(today: dt.date, last_day: dt.date, limit: int) -> list[dict]:
    """Lists whose window opens after ``today`` and by ``last_day``, soonest first."""
    return _lists_where("v.window_start > ? and v.window_start <= ?", [today.isoformat(), last_day.isoformat()],
                        order="v.window_start, l.id", limit=limit)


def closed_since(today: dt.date, first_day: dt.date, limit: int) -> list[dict]:
    """Lists whose window ended before ``today`` and on or after ``first_day``, latest first."""
    return _lists_where("v.window_end < ? and v.window_end >= ?", [today.isoformat(), first_day.isoformat()],
                        order="v.window_end desc, l.id", limit=limit)


def get_list_version(list_id: int, version: int | None = None) -> dict:
    """A list at one version (the current one by default), or a 404."""
    db = get_db()
    row = next(
        db.query(
            _LIST_SELECT + " where l.id = ? and v.version = coalesce(?, l.current_version)",
            [list_id, version],
        ),
        None,
    )
    if row is None:
        abort(404)
    return annotate(row, clock.today())


def versions_of(list_id: int) -> list[dict]:
    return list(
        get_db().query(
            "select version, window_start, window_end, change_note, published_at, content_hash "
            "from list_versions where list_id = ? order by version",
            [list_id],
        )
    )


DISQUALIFIED_ABOVE = "已在上一级名单上取消资格"


def entries_of(list_id: int, version: int, name_policy: str, village: str | None = None, *,
               exact_causes: bool = False) -> list[dict]:
    """Entries of one version (of one village, if given), with names shown as ``name_policy`` says.

    Each row carries its lasting number on the list (``ref``, the 序号 shown and linked). Households
    this list took off in an earlier version stay visible, struck through (``removed``), each after
    the rows of its village, so a number once printed never points at another household."""
    db = get_db()
    rows = list(db.query(
        """
        select e.position, e.row_ref, e.head_name, e.size, e.causes, e.votes, e.voters_present, e.mark,
               e.window_start, e.window_end, e.group_name, e.village_code, r.name as village_name,
               d.list_id as disqualified_on, 0 as removed, '' as ground
        from list_entries e join regions r on r.code = e.village_code
        left join disqualifications d on d.household_id = e.household_id and d.list_id != e.list_id
        where e.list_id = ?1 and e.version = ?2 and (?3 is null or e.village_code = ?3) order by e.position
        """,
        [list_id, version, village],
    ))
    if version > 1:
        rows += db.query(
            """
            select e.position, e.row_ref, e.head_name, e.size, e.causes, e.votes, e.voters_present, e.mark,
                   e.window_start, e.window_end, e.group_name, e.village_code, r.name as village_name,
                   null as disqualified_on, 1 as removed, d.ground
            from disqualifications d
            join list_entries e on e.household_id = d.household_id and e.list_id = d.list_id
                 and e.version = (select max(x.version) from list_entries x where x.list_id = e.list_id
                                  and x.household_id = e.household_id and x.version < ?2)
            join regions r on r.code = e.village_code
            where d.list_id = ?1 and (?3 is null or e.village_code = ?3)
              and not exists (select 1 from list_entries y where y.list_id = ?1 and y.version = ?2
                              and y.household_id = d.household_id)
            order by e.row_ref
            """,
            [list_id, version, village],
        )
    order = {}
    for r in rows:
        order.setdefault(r["village_code"], len(order))
    rows.sort(key=lambda r: (order[r["village_code"]], r["removed"], r["position"] if not r["removed"] else r["row_ref"]))
    return [
        {
            "position": r["position"],
            "ref": r["row_ref"] if r["row_ref"] is not None else r["position"],
            "village": r["village_name"],
            "village_code": r["village_code"],
            "group": r["group_name"],
            "name": mask_name(r["head_name"], name_policy),
            "size": r["size"],
            "causes": public_causes(r["causes"], full=exact_causes),
            "votes": r["votes"],
            "voters_present": r["voters_present"],
            "removed": bool(r["removed"]),
            # A household disqualified on a higher list stays on this (frozen) list, annotated; one
            # this list took off shows why (never the ground itself: that is for staff).
            "mark": (REMOVED_BY_CORRECTION if r["ground"].startswith("更正") else REMOVED_BY_REPORT) if r["removed"]
            else "、".join(filter(None, [r["mark"], DISQUALIFIED_ABOVE if r["disqualified_on"] else ""])),
            # The mark as published in this version (what the public ledger hashes; ``mark`` adds
            # what happened since).
            "recorded_mark": r["mark"],
            # Its own window when added by an amendment (递补、补录); None: the list's window.
            "window": {"start": r["window_start"], "end": r["window_end"]} if r["window_end"] and not r["removed"] else None,
        }
        for r in rows
    ]


REMOVED_BY_REPORT = "取消资格（举报查实）"
REMOVED_BY_CORRECTION = "取消资格（核实更正）"


# A township or county list longer than this is shown one village at a time on the web page (a
# county list of 6,000 households is 2 MB of HTML); the print view and downloads stay whole.
LARGE_LIST = 300


def villages_of(list_id: int, version: int) -> list[dict]:
    """The villages of a version with their households and persons, in list order."""
    return list(get_db().query(
        """select e.village_code as code, r.name, count(*) as households, sum(e.size) as persons
           from list_entries e join regions r on r.code = e.village_code
           where e.list_id = ? and e.version = ? group by e.village_code order by min(e.position)""",
        [list_id, version]))


def list_context(list_id: int, version: int | None = None, *, name_policy: str | None = None,
                 by_village: bool = False, exact_causes: bool = False) -> dict:
    """Everything the list page, print view, CSV and JSON show about one list version. With
    ``by_village`` a large upper-level list shows the village chosen by ``?village=`` only, or
    none (the page then offers the villages). ``exact_causes`` only for console pages: the board
    posted in the village is public and shows causes as the web does."""
    lst = get_list_version(list_id, version)
    db = get_db()
    quota = get_quota(db, lst["campaign_id"], lst["region_code"])
    policy = name_policy or current_app.config["NAME_DISPLAY"]
    if lst["names_withheld_at"] and name_policy is None:
        policy = "withheld"         # retention has run on this list (issue 21, item 4); staff's board print keeps them
    large = by_village and lst["level"] != "village" and lst["households"] > LARGE_LIST
    villages = villages_of(list_id, lst["version"]) if lst["level"] != "village" else []
    chosen = request.args.get("village") if large else None
    if chosen not in {v["code"] for v in villages}:
        chosen = None
    entries = entries_of(list_id, lst["version"], policy, chosen, exact_causes=exact_causes) \
        if (chosen or not large) else []
    return {
        "lst": lst,
        "crumbs": ancestors(db, lst["region_code"]),
        "versions": versions_of(list_id),
        "entries": entries,
        "villages": villages,
        "large": large,
        "village": next((v for v in villages if v["code"] == chosen), None),
        "complaints": list_complaint_counts(db, list_id),
        "replies": public_replies(db, list_id),
        "quota": quota["persons"] if quota and lst["kind"] in ("identify", "replace") else None,
        "show_village": lst["level"] != "village",
        "masked": policy != "full",
        "name_policy": policy,
        "ledger_entry": ledger.entry_for(db, f"/lists/{list_id}/v{lst['version']}"),
        "ledger_head": ledger.head(db),
        "causes_note": "" if exact_causes else rules.PUBLIC_CAUSES_NOTE,
        "ranking_rule": rules.RANKING_RULE_TEXT,
        "scope_rule": rules.Scope.of({"scope": json.loads(lst["campaign_scope"]), "income_line": lst["income_line"]}).text()
        if lst["kind"] == "identify" else "",
        "version_url": public_url("lists.list_version", list_id=list_id, version=lst["version"]),
        "spot_check": sampling.public_summary(db, list_id),
        "spot_method": sampling.METHOD_TEXT,
    }


def public_url(endpoint: str, **values) -> str:
    """Absolute URL for printing (QR codes): the configured PUBLIC_URL if set, else this host."""
    base = current_app.config.get("PUBLIC_URL")
    path = url_for(endpoint, **values)
    return base.rstrip("/") + path if base else request.host_url.rstrip("/") + path


# --- Views -------------------------------------------------------------------------------------



@bp.get("/lists/<id:list_id>")
@cached_page
def list_page(list_id):
    return render_template("lists/list.html", report_links=True, **list_context(list_id, by_village=True))


@bp.get("/lists/<id:list_id>/v<id:version>")
@cached_page
def list_version(list_id, version):
    ctx = list_context(list_id, version, by_village=True)
    return render_template("lists/list.html", report_links=ctx["lst"]["version"] == ctx["lst"]["current_version"], **ctx)


@bp.get("/lists/<id:list_id>/print")
@bp.get("/lists/<id:list_id>/v<id:version>/print")
@cached_page
def print_view(list_id, version=None):
    ctx = list_context(list_id, version)
    return render_template("lists/print.html", qr_svg=qr_svg(ctx["version_url"]), **ctx)


def qr_svg(url: str) -> Markup:
    """An inline SVG QR code of ``url``, labelled for screen readers."""
    svg = segno.make(url, error="m").svg_inline(scale=4, title="本名单网址二维码")
    return Markup(svg.replace("<svg ", '<svg role="img" aria-label="本名单网址二维码" ', 1))


CSV_HEADER = ["序号", "村", "村民小组", "户主", "家庭人口", "致贫原因", "得票", "参评人数", "备注",
              "本户公示开始", "本户公示结束"]


@bp.get("/lists/<id:list_id>.csv")
@bp.get("/lists/<id:list_id>/v<id:version>.csv")
@cached_page
def list_csv(list_id, version=None):
    ctx = list_context(list_id, version)
    out = io.StringIO()
    out.write("\ufeff")  # so that Excel and WPS open the Chinese text as UTF-8
    writer = spreadsheet.writer(out)
    writer.writerow(CSV_HEADER)
    for e in ctx["entries"]:
        writer.writerow(
            [e["ref"], e["village"], e["group"], e["name"], e["size"], e["causes"],
             e["votes"] if e["votes"] is not None else "", e["voters_present"] if e["voters_present"] is not None else "", e["mark"],
             *((e["window"]["start"], e["window"]["end"]) if e["window"] else ("", ""))]
        )
    lst = ctx["lst"]
    return Response(out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": download_disposition(lst, "csv")})


def download_disposition(lst: dict, ext: str) -> str:
    """A file name a villager can recognise (双星村-初选公示名单-第2版.csv), with an ASCII fallback."""
    name = f"{lst['region_name']}-{lst['title'].split('（')[0].removeprefix(lst['region_name'])}-第{lst['version']}版.{ext}"
    return f"attachment; filename=\"list-{lst['id']}-v{lst['version']}.{ext}\"; filename*=UTF-8''{quote(name)}"


@bp.get("/lists/<id:list_id>.json")
@bp.get("/lists/<id:list_id>/v<id:version>.json")
@cached_page
def list_json(list_id, version=None):
    ctx = list_context(list_id, version)
    lst = ctx["lst"]
    body = {
        "id": lst["id"],
        "title": lst["title"],
        "version": lst["version"],
        "latest_version": lst["current_version"],
        "url": ctx["version_url"],
        "level": lst["level"],
        "level_name": lst["level_name"],
        "kind": lst["kind"],
        "kind_name": lst["kind_name"],
        "region": {"code": lst["region_code"], "path": [c["name"] for c in ctx["crumbs"]]},
        "campaign": lst["campaign_name"],
        "approving_body": lst["approving_body"],
        "window": {
            "start": lst["window_start"],
            "end": lst["window_end"],
            "status": lst["state"].status,
            "text": lst["state"].text,
        },
        # The window of the households added by amendments (递补、补录), each also on its entry.
        "replacement_window": {"start": lst["rows_from"], "end": lst["rows_until"], "status": lst["rows_state"].status,
                               "text": lst["rows_state"].text} if lst["rows_state"] else None,
        "quota_persons": ctx["quota"],
        "ranking_rule": ctx["ranking_rule"],
        "scope_rule": ctx["scope_rule"],
        "spot_check": ctx["spot_check"],
        "change_note": lst["change_note"],
        # The whole 校验码 (pages print its first 16 digits): the seed of a spot check is made from it.
        "content_hash": lst["content_hash"],
        # What the public ledger recorded of this version, and the salt of its name commitments
        # while the names are public (verify.py checks both; see portal/domain/ledger.py).
        "ledger": {"seq": ctx["ledger_entry"]["seq"], "hash": ctx["ledger_entry"]["hash"]} if ctx["ledger_entry"] else None,
        "names": {"policy": ctx["name_policy"],
                  "salt": ledger.names_salt(id_key(), lst["id"], lst["version"], ctx["name_policy"])
                  if ctx["name_policy"] in ledger.NAME_FORMS else None},
        "replies": [{"id": r["id"], "ground": r["ground"], "outcome": r["outcome"], "reply": r["public_reply"],
                     "concluded_at": r["concluded_at"]} for r in ctx["replies"]],
        "entries": ctx["entries"],
    }
    return current_app.response_class(json.dumps(body, ensure_ascii=False, indent=1), mimetype="application/json")
