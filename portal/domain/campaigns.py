"""Campaigns (批次), quotas (规模指标) and applicant households: writes and their checks.

Plain functions over a sqlite-utils Database, used by the demo loader, the CLI and (later) the
staff console. Every write runs inside ``write_transaction`` (BEGIN IMMEDIATE) so nothing is half-written.
"""

from __future__ import annotations

import datetime as dt
import json

from ..db import write_transaction
from . import audit, rules
from .privacy import hash_id, mask_id, name_problem, normalise_name
from .regions import get_region_row

#: Rule 12 (S0): the township checks at least 20 % of a village's entries, the county 5 % of a township's.
DEFAULT_SAMPLING = {"township": 20, "county": 5}


def create_campaign(
    db,
    *,
    county_code: str,
    name: str,
    reference_date: dt.date,
    income_line: int,
    chain=rules.DEFAULT_CHAIN,
    dibao: str = "included",
    wubao_excluded: bool = True,
    stop_at_first_misfit: bool = False,
    chains: dict | None = None,
    sampling: dict | None = None,
    previous_id: int | None = None,
    actor: str | None = None,
    role: str | None = None,
    key: bytes | None = None,
    clock,
) -> int:
    """A campaign (识别批次) of a county: its reference date, income line, publicity chain and scope
    rules; ``chains`` gives list kinds a chain of their own (e.g. exit: village → county),
    ``sampling`` the spot-check percentages by checking level (default ``DEFAULT_SAMPLING``, rule 12),
    ``previous_id`` the round it follows (its register carries over). With an ``actor`` its audit row
    is written in the same transaction."""
    county = get_region_row(db, county_code)
    if county is None or county["level"] != "county":
        raise ValueError(f"{county_code} is not a county")
    levels = [step["level"] for step in chain]
    if not levels or any(lv not in rules.LIST_LEVELS for lv in levels) or len(set(levels)) != len(levels):
        raise ValueError("the publicity chain must name village/township/county levels once each")
    if dibao not in rules.DIBAO_RULES:
        raise ValueError(f"unknown 低保 rule {dibao!r}")
    if any(int(step["days"]) < 1 for step in chain):
        raise ValueError("every publicity step lasts at least one day")
    chains = {k: list(v) for k, v in (chains or {}).items()}
    for kind, own in chains.items():
        own_levels = [step["level"] for step in own]
        if kind not in rules.LIST_KINDS or not own_levels or len(set(own_levels)) != len(own_levels) or any(
                lv not in rules.LIST_LEVELS for lv in own_levels) or any(int(s["days"]) < 1 for s in own):
            raise ValueError(f"the publicity chain of {kind!r} must name levels once each, a day or more")
    sampling = dict(DEFAULT_SAMPLING if sampling is None else sampling)
    if any(level not in ("township", "county") or not 1 <= int(p) <= 100 for level, p in sampling.items()):
        raise ValueError("spot-check rates are 1–100 % for the township and county levels")
    if previous_id is not None:
        previous = get_campaign(db, previous_id)
        if previous is None or previous["county_code"] != county_code:
            raise ValueError("the previous round must be a campaign of the same county")
    with write_transaction(db):
        campaign_id = db["campaigns"].insert(
            {
                "county_code": county_code,
                "name": name,
                "reference_date": reference_date.isoformat(),
                "income_line": income_line,
                "chain": json.dumps(list(chain), ensure_ascii=False),
                "scope": json.dumps(
                    {"dibao": dibao, "wubao_excluded": wubao_excluded}
                ),
                "stop_at_first_misfit": int(stop_at_first_misfit),
                "chains": json.dumps(chains, ensure_ascii=False),
                "sampling": json.dumps(sampling),
                "previous_id": previous_id,
                "created_at": clock.stamp(),
            }
        ).last_pk
        if actor:
            audit.record(db, actor=actor, role=role, action="campaign.create", object_type="campaign",
                         object_id=campaign_id, region_code=county_code,
                         after={"name": name, "chain": list(chain), "income_line": income_line,
                                "scope": {"dibao": dibao, "wubao_excluded": wubao_excluded},
                                "chains": chains, "sampling": sampling, "previous_id": previous_id},
                         key=key, clock=clock)
        return campaign_id


def get_campaign(db, campaign_id: int) -> dict | None:
    row = next(db.query("select * from campaigns where id = ?", [campaign_id]), None)
    if row:
        row["chain"] = json.loads(row["chain"])
        row["scope"] = json.loads(row["scope"])
        row["chains"] = json.loads(row.get("chains") or "{}")
        row["sampling"] = json.loads(row.get("sampling") or "{}")
    return row


def get_quota(db, campaign_id: int, region_code: str) -> dict | None:
    return next(
        db.query(
            "select persons, reserve from quotas where campaign_id = ? and region_code = ?",
            [campaign_id, region_code],
        ),
        None,
    )


def set_quota(db, campaign_id: int, region_code: str, persons: int, reserve: int = 0) -> None:
    """Set a region's quota in persons, refusing any split that breaks children + reserve ≤ parent."""
    region = get_region_row(db, region_code)
    campaign = get_campaign(db, campaign_id)
    if region is None or campaign is None:
        raise ValueError(f"unknown region {region_code} or campaign {campaign_id}")
    if not region_code.startswith(campaign["county_code"]):
        raise rules.QuotaError(f"{region['name']}不在本批次所属的县。")
    if region["parent_code"] and get_quota(db, campaign_id, region["parent_code"]) is None:
        raise rules.QuotaError(f"{region['name']}的上级还没有规模指标：指标要从上往下逐级分解。")
    with write_transaction(db):
        db.execute(
            "insert into quotas (campaign_id, region_code, persons, reserve) values (?, ?, ?, ?) "
            "on conflict (campaign_id, region_code) do update set persons = excluded.persons, "
            "reserve = excluded.reserve",
            [campaign_id, region_code, persons, reserve],
        )
        # Check this region's own split, then its parent's split with the new figure in it.
        _check_split(db, campaign_id, region)
        if region["parent_code"]:
            _check_split(db, campaign_id, get_region_row(db, region["parent_code"]))
        _check_published(db, campaign_id, region, persons)


def _check_published(db, campaign_id: int, region: dict, persons: int) -> None:
    """A quota may not fall below what a current published list already holds in that region (its own
    list, or its villages' part of a township or county list): the list would stand above its quota."""
    fullest = next(db.query(
        "select l.title, sum(e.size) as persons from lists l join list_entries e "
        "on e.list_id = l.id and e.version = l.current_version "
        "where l.campaign_id = ? and l.kind in ('identify', 'replace') and e.village_code like ? "
        "group by l.id order by persons desc, l.id limit 1", [campaign_id, region["code"] + "%"]), None)
    if fullest and fullest["persons"] > persons:
        raise rules.QuotaError(
            f"{region['name']}的规模指标不能改为 {persons} 人：已公示的《{fullest['title']}》中本地已有 "
            f"{fullest['persons']} 人。请先依程序更正名单，再调整指标。")


def draw_reserve(db, campaign_id: int, village_code: str, persons: int) -> None:
    """Move persons from the county reserve (预留机动名额) to a village, through its township, so
    every split still holds (DOMAIN §11 rule 9: only with the county's approval)."""
    county, township = village_code[:6], village_code[:9]
    own = get_quota(db, campaign_id, county)
    if own is None or own["reserve"] < persons:
        left = own["reserve"] if own else 0
        raise rules.QuotaError(f"县预留机动名额只剩 {left} 人，不够补录 {persons} 人。")
    with write_transaction(db):
        set_quota(db, campaign_id, county, own["persons"], own["reserve"] - persons)
        for code in (township, village_code):
            q = get_quota(db, campaign_id, code)
            set_quota(db, campaign_id, code, q["persons"] + persons, q["reserve"])


def _check_split(db, campaign_id: int, region: dict) -> None:
    own = get_quota(db, campaign_id, region["code"])
    if own is None:
        return
    children = list(
        db.query(
            "select r.name, q.persons from quotas q join regions r on r.code = q.region_code "
            "where q.campaign_id = ? and r.parent_code = ?",
            [campaign_id, region["code"]],
        )
    )
    rules.check_quota_split(
        region["name"], own["persons"], [(c["name"], c["persons"]) for c in children], own["reserve"]
    )


BOTH_DIBAO_AND_WUBAO = "同一户不能既是低保户又是五保户，请核对民政部门的认定。"


def add_household(
    db,
    *,
    campaign_id: int,
    village_code: str,
    head_name: str,
    size: int,
    applied_on: dt.date,
    id_number: str | None = None,
    id_key: bytes = b"",
    group_code: str | None = None,
    causes=(),
    income_per_capita: float = 0.0,
    disabled_member: bool = False,
    single_child: bool = False,
    all_daughters: bool = False,
    dibao: bool = False,
    wubao: bool = False,
    votes: int | None = None,
    voters_present: int | None = None,
    latin_names: bool = False,
    actor: str | None = None,
    role: str | None = None,
    clock,
) -> int:
    """Register an applicant household (and its vote result, when known). The head's name must be a
    name (``privacy.name_problem``; ``latin_names`` is the deployment's NAME_LATIN setting). With an
    ``actor`` (a clerk's entry) the audit row is written in the same transaction."""
    head_name = normalise_name(head_name)
    if problem := name_problem(head_name, latin_names):
        raise ValueError(problem)
    unknown = [c for c in causes if c not in rules.CAUSES]
    if unknown:
        raise ValueError(f"unknown causes of poverty: {unknown}")
    if dibao and wubao:
        raise ValueError(BOTH_DIBAO_AND_WUBAO)
    with write_transaction(db):
        household_id = db["households"].insert(
            {
                "campaign_id": campaign_id,
                "village_code": village_code,
                "group_code": group_code,
                "head_name": head_name,
                "size": size,
                "causes": json.dumps(list(causes)),
                "income_per_capita": income_per_capita,
                "disabled_member": int(disabled_member),
                "single_child": int(single_child),
                "all_daughters": int(all_daughters),
                "dibao": int(dibao),
                "wubao": int(wubao),
                "applied_on": applied_on.isoformat(),
                "id_hash": hash_id(id_number, id_key) if id_number else None,
                "id_masked": mask_id(id_number) if id_number else None,
                "created_at": clock.stamp(),
            }
        ).last_pk
        if votes is not None:
            db["votes"].insert(
                {"household_id": household_id, "votes": votes, "voters_present": voters_present}
            )
        if actor:
            if not id_key:
                raise ValueError("an audited entry needs the instance key (id_key) to chain its audit row")
            audit.record(db, actor=actor, role=role, action="household.create", object_type="household",
                         object_id=household_id, region_code=village_code, after=household_snapshot(db, household_id),
                         key=id_key, clock=clock)
    return household_id


def household_snapshot(db, household_id: int) -> dict:
    """A household as the audit log records it: never the ID number, only its masked form."""
    row = next(db.query(
        "select h.*, v.votes, v.voters_present from households h left join votes v on v.household_id = h.id "
        "where h.id = ?", [household_id]))
    row.pop("id_hash", None)
    row.pop("created_at", None)
    return row


def update_household(db, household_id: int, fields: dict, *, id_number: str | None, votes: int, voters_present: int,
                     actor: str, role: str, key: bytes, clock) -> None:
    """Correct an applicant's entry before it is ranked (``fields``: household columns); an empty
    ``id_number`` keeps the one on file. Audited with the entry before and after."""
    with write_transaction(db):
        before = household_snapshot(db, household_id)
        if id_number:
            fields = {**fields, "id_hash": hash_id(id_number, key), "id_masked": mask_id(id_number)}
        db["households"].update(household_id, fields)
        db.execute("insert into votes (household_id, votes, voters_present) values (?, ?, ?) on conflict "
                   "(household_id) do update set votes = excluded.votes, voters_present = excluded.voters_present",
                   [household_id, votes, voters_present])
        audit.record(db, actor=actor, role=role, action="household.update", object_type="household",
                     object_id=household_id, region_code=before["village_code"], before=before,
                     after=household_snapshot(db, household_id), key=key, clock=clock)


def applicants_of(db, campaign_id: int, village_code: str) -> list[rules.Applicant]:
    """The village's applicants with a vote result, as the ranking rule sees them (households
    disqualified after an upheld report are no longer applicants)."""
    return [
        rules.Applicant(
            id=row["id"],
            size=row["size"],
            votes=row["votes"],
            priority_count=row["priority_count"],
            income_per_capita=row["income_per_capita"],
            applied_on=dt.date.fromisoformat(row["applied_on"]),
            dibao=bool(row["dibao"]),
            wubao=bool(row["wubao"]),
        )
        for row in db.query(
            "select h.id, h.size, v.votes, h.income_per_capita, h.applied_on, h.dibao, h.wubao, "
            "h.disabled_member + h.single_child + h.all_daughters as priority_count "
            "from households h join votes v on v.household_id = h.id "
            "where h.campaign_id = ? and h.village_code = ? "
            "and not exists (select 1 from disqualifications d where d.household_id = h.id)",
            [campaign_id, village_code],
        )
    ]


def ranking_of_record(db, campaign_id: int, village_code: str) -> list[rules.Applicant] | None:
    """The village's ranking as published with its first list (the vote of record), without the
    households disqualified since; None while the village has published no list."""
    rows = list(db.query(
        "select r.household_id as id, r.size, r.votes, r.priority_count, r.income_per_capita, r.applied_on, "
        "r.dibao, r.wubao "
        "from rankings r join lists l on l.id = r.list_id "
        "where l.campaign_id = ? and l.region_code = ? and l.kind = 'identify' "
        "and not exists (select 1 from disqualifications d where d.household_id = r.household_id) "
        "order by r.rank", [campaign_id, village_code]))
    if not rows and not next(db.query("select 1 from lists where campaign_id = ? and region_code = ? "
                                      "and kind = 'identify'", [campaign_id, village_code]), None):
        return None
    return [rules.Applicant(id=r["id"], size=r["size"], votes=r["votes"], priority_count=r["priority_count"],
                            income_per_capita=r["income_per_capita"], applied_on=dt.date.fromisoformat(r["applied_on"]),
                            dibao=bool(r["dibao"]), wubao=bool(r["wubao"]))
            for r in rows]


def published_selection(db, campaign_id: int, village_code: str) -> rules.Selection | None:
    """Once the village's list is out, who is on its current version and who still waits, from the
    ranking of record (replacements and 补录 included, disqualified households gone); None before."""
    ranking = ranking_of_record(db, campaign_id, village_code)
    if ranking is None:
        return None
    entries = list(db.query(
        "select e.household_id, e.size, coalesce(e.votes, 0) as votes from list_entries e join lists l "
        "on l.id = e.list_id and e.version = l.current_version "
        "where l.campaign_id = ? and l.region_code = ? and l.kind = 'identify'", [campaign_id, village_code]))
    on_list, ranked = {e["household_id"] for e in entries}, {a.id for a in ranking}
    selected = [a for a in ranking if a.id in on_list] + [
        rules.Applicant(id=e["household_id"], size=e["size"], votes=e["votes"]) for e in entries
        if e["household_id"] not in ranked]
    quota = get_quota(db, campaign_id, village_code)
    scope = rules.Scope.of(get_campaign(db, campaign_id))
    rest = [a for a in ranking if a.id not in on_list]
    return rules.Selection(tuple(selected), tuple(scope.walk(rest)), quota["persons"] if quota else 0,
                           tuple((a, why) for a in rest if (why := scope.out_of_scope(a))))


def in_published_ranking(db, household_id: int) -> bool:
    """Whether a published ranking holds this household: its data is then the record, not to be edited."""
    return next(db.query("select 1 from rankings where household_id = ?", [household_id]), None) is not None


def village_selection(db, campaign_id: int, village_code: str) -> rules.Selection:
    """Ranking and selection of one village within its quota (the preview staff publish from)."""
    campaign = get_campaign(db, campaign_id)
    quota = get_quota(db, campaign_id, village_code)
    if quota is None:
        region = get_region_row(db, village_code)
        raise rules.QuotaError(f"{region['name'] if region else village_code}尚未下达规模指标。")
    return rules.select_within_quota(
        applicants_of(db, campaign_id, village_code),
        quota["persons"],
        stop_at_first_misfit=bool(campaign["stop_at_first_misfit"]),
        scope=rules.Scope.of(campaign),
    )


def above_line(db, campaign: dict, household_ids) -> list[dict]:
    """The households among these whose declared per-capita income is above the campaign's line:
    not dropped, flagged for the reviewer to check (issue 16, item 12)."""
    ids = list(household_ids)
    if not ids:
        return []
    return list(db.query(
        "select h.id, h.head_name, r.name as village, h.income_per_capita from households h "
        "join regions r on r.code = h.village_code where h.id in (select value from json_each(?)) "
        "and h.income_per_capita > ? order by h.village_code, h.id", [json.dumps(ids), campaign["income_line"]]))


def split_quotas(db, campaign: dict, region: dict, quotas: dict[str, int], reserve: int | None, *, actor: str,
                 role: str, key: bytes, clock) -> None:
    """Split a county's or township's quota among the regions under it (``quotas``: code -> persons),
    and set the county's reserve (``reserve``, county only), checked by 规模控制; audited."""
    own = get_quota(db, campaign["id"], region["code"])
    if own is None:
        raise rules.QuotaError(f"{region['name']}本身还没有规模指标，请先在上一级下达。")
    with write_transaction(db):
        before = {code: (get_quota(db, campaign["id"], code) or {}).get("persons") for code in quotas}
        if reserve is not None:
            before["reserve"] = own["reserve"]
            # Lower the reserve first if it shrinks, so the split check sees the new figures.
            set_quota(db, campaign["id"], region["code"], own["persons"], reserve=0)
        for code, persons in quotas.items():
            set_quota(db, campaign["id"], code, persons)
        after = dict(quotas)
        if reserve is not None:
            set_quota(db, campaign["id"], region["code"], own["persons"], reserve=reserve)
            after["reserve"] = reserve
        audit.record(db, actor=actor, role=role, action="quota.split", object_type="region", object_id=region["code"],
                     region_code=region["code"], before={"campaign_id": campaign["id"], **before},
                     after={"campaign_id": campaign["id"], **after}, key=key, clock=clock)


def campaigns_of(db, region_code: str) -> list[dict]:
    """The campaigns of the county a region lies in, newest first."""
    return list(db.query("select id, name from campaigns where county_code = ? order by id desc",
                         [region_code[:6]]))


def quota_use(db, campaign_id: int, region_code: str) -> list[dict]:
    """Villages under a region: quota and persons on their current 识别纳入 list."""
    return list(db.query(
        """
        select r.code, r.name, q.persons as quota,
               (select coalesce(sum(e.size), 0) from lists l
                  join list_entries e on e.list_id = l.id and e.version = l.current_version
                 where l.region_code = r.code and l.campaign_id = q.campaign_id and l.kind = 'identify') as used,
               (select count(*) from lists l where l.region_code = r.code and l.campaign_id = q.campaign_id
                   and l.kind = 'identify') as listed
        from regions r join quotas q on q.region_code = r.code and q.campaign_id = ?
        where r.level = 'village' and r.code like ? order by r.code
        """,
        [campaign_id, region_code + "%"],
    ))


def open_next_round(db, *, previous_id: int, carry_quotas: bool, actor: str | None = None, role: str | None = None,
                    key: bytes | None = None, clock, **settings) -> int:
    """The next round (动态调整) of a county from the previous one: a campaign that carries its
    register (``previous_id``) and, with ``carry_quotas``, its quotas as they stood (to be re-split
    from the quotas page if need be); one transaction, audited."""
    previous = get_campaign(db, previous_id)
    if previous is None:
        raise ValueError(f"unknown campaign {previous_id}")
    with write_transaction(db):
        campaign_id = create_campaign(db, county_code=previous["county_code"], previous_id=previous_id, actor=actor,
                                      role=role, key=key, clock=clock, **settings)
        if carry_quotas:
            db.execute("insert into quotas (campaign_id, region_code, persons, reserve) "
                       "select ?, region_code, persons, reserve from quotas where campaign_id = ?",
                       [campaign_id, previous_id])
            if actor:
                audit.record(db, actor=actor, role=role, action="quota.carry", object_type="campaign",
                             object_id=campaign_id, region_code=previous["county_code"],
                             after={"from_campaign": previous_id, "regions": db.execute(
                                 "select count(*) from quotas where campaign_id = ?", [campaign_id]).fetchone()[0]},
                             key=key, clock=clock)
        return campaign_id
