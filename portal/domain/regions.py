"""Regions (县 → 乡镇 → 村 → 村民小组): codes, the chain above a region, adding one, its quotas."""

from __future__ import annotations

import re

from ..db import write_transaction

# 6-digit county, +3 township, +3 village, +3 villager group (DOMAIN §11 rule 1).
CODE_RE = re.compile(r"^\d{6}(?:\d{3}){0,3}$")
LEVEL_BY_LENGTH = {6: "county", 9: "township", 12: "village", 15: "group"}


def level_of_code(code: str) -> str | None:
    """The level a well-formed code stands for, or None for a malformed code."""
    return LEVEL_BY_LENGTH.get(len(code)) if CODE_RE.match(code or "") else None


def ancestor_codes(code: str) -> list[str]:
    """Codes of the regions above this one (county first): they are prefixes of its code."""
    return [code[:n] for n in (6, 9, 12) if n < len(code)]


def get_region_row(db, code: str) -> dict | None:
    return next(db.query("select * from regions where code = ?", [code]), None)


def ancestors(db, code: str) -> list[dict]:
    """The chain from the county down to (and including) this region, for breadcrumbs."""
    rows = list(
        db.query(
            """
            with recursive up(code, name, level, parent_code, depth) as (
                select code, name, level, parent_code, 0 from regions where code = ?
                union all
                select r.code, r.name, r.level, r.parent_code, up.depth + 1
                from regions r join up on r.code = up.parent_code
            )
            select code, name, level from up order by depth desc
            """,
            [code],
        )
    )
    return rows


def add_region(db, code: str, name: str, parent_code: str | None = None) -> None:
    """Insert a region; its level follows from its code, and the parent must be one level up."""
    level = level_of_code(code)
    if level is None:
        raise ValueError(f"区划代码 {code} 格式不对：应为 6、9、12 或 15 位数字。")
    if level == "county":
        parent_code = None
    else:
        if not parent_code or not code.startswith(parent_code) or len(parent_code) != len(code) - 3:
            raise ValueError(f"区划代码 {code} 与上级代码 {parent_code} 不相符。")
    from . import (
        keys,  # here, not at the top: the import checker process needs regions, not pinyin
    )

    with write_transaction(db):
        db["regions"].insert({"code": code, "name": name.strip(), "level": level, "parent_code": parent_code})
        keys.record_region(db, code, name.strip())


def children_with_quotas(db, code: str) -> list[dict]:
    """Child regions with their quota in the county's latest campaign and their list count."""
    return list(
        db.query(
            """
            select r.code, r.name, r.level,
                   (select q.persons from quotas q
                     where q.region_code = r.code order by q.campaign_id desc limit 1) as quota,
                   (select count(*) from lists l
                     where l.region_code >= r.code and l.region_code < r.code || ':') as list_count
            from regions r where r.parent_code = ? order by r.code
            """,
            [code],
        )
    )


def quotas_of(db, code: str) -> list[dict]:
    return list(
        db.query(
            "select c.id as campaign_id, c.name as campaign_name, q.persons, q.reserve "
            "from quotas q join campaigns c on c.id = q.campaign_id "
            "where q.region_code = ? order by c.id desc",
            [code],
        )
    )
