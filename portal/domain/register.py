"""The register of filed households (建档立卡户) of a county's campaign, derived from its lists.

A household enters the register when the last level of an identification (or re-entry) list that
carries it closes, and leaves it when the last level of an exit or removal list closes — by the
clock, with no one clicking (rule 6). Nothing is stored that the lists do not already say, so the
register cannot disagree with what was published; every status names the list version that made it.
A campaign that follows another (``previous_id``, 动态调整) carries that round's register.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

from . import rules
from .campaigns import get_campaign

STATUS = {"registered": "在册", "exited": "已脱贫", "removed": "已剔除", "continued": "继续帮扶"}
#: The status the closing of each kind's last level gives its households.
KIND_STATUS = {"identify": "registered", "reenter": "registered", "exit": "exited", "remove": "removed"}
#: On the same closing day corrections come first (先退后进): removals, exits, then entries.
KIND_ORDER = {"remove": 0, "exit": 1, "reenter": 2, "identify": 3}
#: Statuses of households that are filed (can exit or be removed); an exited one can come back.
ON_REGISTER = ("registered", "continued")


@dataclasses.dataclass(frozen=True)
class Change:
    household_id: int
    status: str
    campaign_id: int
    list_id: int
    version: int
    kind: str
    title: str
    closed_on: dt.date

    @property
    def status_name(self) -> str:
        return STATUS[self.status]


@dataclasses.dataclass(frozen=True)
class Entry:
    household_id: int
    village_code: str
    head_name: str
    size: int
    status: str
    history: tuple[Change, ...]

    @property
    def change(self) -> Change:
        return self.history[-1]

    @property
    def status_name(self) -> str:
        return STATUS[self.status]


def rounds(db, campaign_id: int) -> list[dict]:
    """The campaign and the rounds it follows, oldest first."""
    out, seen = [], set()
    campaign = get_campaign(db, campaign_id)
    while campaign and campaign["id"] not in seen:
        out.append(campaign)
        seen.add(campaign["id"])
        campaign = get_campaign(db, campaign["previous_id"]) if campaign.get("previous_id") else None
    return out[::-1]


def _closed_rows(db, campaign: dict, today: dt.date, region_code: str):
    for kind in KIND_STATUS:
        final = rules.chain_of(campaign, kind)[-1]["level"]
        yield from db.query(
            """
            select l.id as list_id, l.current_version as version, l.kind, l.title,
                   max(v.window_end, coalesce(v.rows_until, '')) as until,
                   e.household_id, e.village_code, e.head_name, e.size,
                   (select a.ground from adjustments a where a.campaign_id = l.campaign_id and a.kind = 'reenter'
                      and a.household_id = e.household_id and a.status != 'withdrawn') as reentry_ground
            from lists l
            join list_versions v on v.list_id = l.id and v.version = l.current_version
            join list_entries e on e.list_id = l.id and e.version = l.current_version
            where l.campaign_id = ? and l.kind = ? and l.level = ? and e.village_code like ?
              and max(v.window_end, coalesce(v.rows_until, '')) < ?
            """,
            [campaign["id"], kind, final, region_code + "%", today.isoformat()])


def register_of(db, campaign_id: int, today: dt.date, region_code: str = "") -> dict[int, Entry]:
    """Every household the campaign's register (and the rounds before it) has held, by id, with its
    status on ``today`` and its history; ``region_code`` narrows it to a township or village."""
    events = []
    for order, campaign in enumerate(rounds(db, campaign_id)):
        for row in _closed_rows(db, campaign, today, region_code):
            status = KIND_STATUS[row["kind"]]
            if row["kind"] == "reenter" and row["reentry_ground"] == "continued":
                status = "continued"
            events.append((row["until"], order, KIND_ORDER[row["kind"]], row, status, campaign["id"]))
    events.sort(key=lambda e: e[:3])
    folded: dict[int, Entry] = {}
    for until, _, _, row, status, cid in events:
        change = Change(row["household_id"], status, cid, row["list_id"], row["version"], row["kind"], row["title"],
                        dt.date.fromisoformat(until))
        previous = folded.get(row["household_id"])
        folded[row["household_id"]] = Entry(row["household_id"], row["village_code"], row["head_name"], row["size"],
                                            status, (previous.history if previous else ()) + (change,))
    return folded


def status_of(db, campaign_id: int, household_id: int, today: dt.date) -> str | None:
    """The household's register status in this campaign on ``today`` (None: never filed)."""
    household = next(db.query("select village_code from households where id = ?", [household_id]), None)
    if household is None:
        return None
    entry = register_of(db, campaign_id, today, household["village_code"]).get(household_id)
    return entry.status if entry else None


def counts(db, campaign_id: int, today: dt.date, region_code: str = "", entries: dict | None = None
           ) -> dict[str, dict[str, dict]]:
    """Per village code: households and persons by status (the public sees these, never the names);
    ``entries``: the ``register_of`` already read for the same arguments."""
    out: dict[str, dict[str, dict]] = {}
    if entries is None:
        entries = register_of(db, campaign_id, today, region_code)
    for entry in entries.values():
        village = out.setdefault(entry.village_code, {s: {"households": 0, "persons": 0} for s in STATUS})
        village[entry.status]["households"] += 1
        village[entry.status]["persons"] += entry.size
    return out


def public_totals(db, region_code: str, today: dt.date) -> dict | None:
    """What the public region page says of the register: the county's newest campaign, households and
    persons by status inside the region (counts only, never names); None before anyone is filed."""
    campaign = next(db.query("select id, name from campaigns where county_code = ? order by id desc limit 1",
                             [region_code[:6]]), None)
    if campaign is None:
        return None
    entries = register_of(db, campaign["id"], today, region_code)       # read once for both figures
    by_village = counts(db, campaign["id"], today, region_code, entries)
    if not by_village:
        return None
    totals = {s: {"households": sum(v[s]["households"] for v in by_village.values()),
                  "persons": sum(v[s]["persons"] for v in by_village.values())} for s in STATUS}
    return {"campaign": campaign["name"], "totals": totals, "statuses": STATUS,
            "rates": rates(db, campaign["id"], today, region_code, entries)}


#: [EXT] thresholds of the county-exit evaluation (DOMAIN §6); none was found for 错评.
THRESHOLDS = {"wrong_exit": 2.0, "omission": 2.0}


def rates(db, campaign_id: int, today: dt.date, region_code: str = "", entries: dict | None = None) -> dict:
    """漏评, 错评 and 错退 in a region (DOMAIN §6, issue 20 item 7), as counts and, where the portal
    holds a denominator, as percentages beside the thresholds:

    - 漏评: upheld omission complaints on the round's lists, per household ever filed (the documents
      divide by the non-filed rural population of the sampled villages, which the portal does not hold);
    - 错评: households removed (剔除 closed at its last level), per household ever filed;
    - 错退: households re-filed as 错退 (a closed re-entry list, ground wrong_exit), per household that exited.
    """
    if entries is None:
        entries = register_of(db, campaign_id, today, region_code)
    filed = len(entries)
    exited = {e.household_id for e in entries.values() if any(ch.status == "exited" for ch in e.history)}
    reentered = [e.household_id for e in entries.values() if any(ch.kind == "reenter" for ch in e.history)]
    wrong = next(db.query(
        "select count(distinct household_id) as n from adjustments where kind = 'reenter' and ground = 'wrong_exit' "
        "and status != 'withdrawn' and household_id in (select value from json_each(?))",
        [json.dumps(reentered)]))["n"] if reentered else 0
    ids = [c["id"] for c in rounds(db, campaign_id)]
    omitted = next(db.query(
        "select count(*) as n from complaints c join lists l on l.id = c.list_id where c.ground = 'omission' "
        "and c.outcome = 'upheld' and l.campaign_id in (select value from json_each(?)) "
        "and coalesce((select h.village_code from households h where h.id = c.household_id), l.region_code) like ?",
        [json.dumps(ids), region_code + "%"]))["n"]
    removed = sum(1 for e in entries.values() if e.status == "removed")

    def pct(n, d):
        return round(100 * n / d, 1) if d else None

    return {"filed": filed, "exited": len(exited),
            "omission": {"count": omitted, "rate": pct(omitted, filed), "threshold": THRESHOLDS["omission"]},
            "wrong_inclusion": {"count": removed, "rate": pct(removed, filed), "threshold": None},
            "wrong_exit": {"count": wrong, "rate": pct(wrong, len(exited)), "threshold": THRESHOLDS["wrong_exit"]}}
