"""The demo's objections (issue 21): a few reports on this year's closed village lists, filed and
concluded on past days, so the statistics pages show real figures (counts, days to conclusion) and
retention has a reporter's name and phone to erase. One report, filed after its window, is still open.
None of them is upheld, so no list changes and the rest of the demo stays as it was."""

from __future__ import annotations

import datetime as dt

from ..domain import cases
from ..domain.clock import Clock
from ..domain.complaints import file_complaint

ACTOR = {"actor": "演示数据", "role": "cli"}
#: (ground, named reporter?, days after the window opened, days to conclude or None, outcome, reply)
CASES = [
    ("vehicle", False, 1, 3, "dismissed", "经入户核查和车辆登记查询，该户没有车辆，反映情况不属实。"),
    ("town_house", False, 2, 6, "partly", "该户在镇上租房务工，没有购房，评议结果不变。"),
    ("procedure", False, 2, 9, "dismissed", "经核查，评议会议到会人数和计票符合规定。"),
    ("employs", True, 3, 12, "dismissed", "该户农忙时请亲戚帮工，不属于长期雇人，评议结果不变。"),
]


def load_cases(db, clock, key: bytes) -> int:
    today = clock.today()
    closed = list(db.query(
        "select l.id, l.region_code, v.window_start, v.window_end from lists l "
        "join list_versions v on v.list_id = l.id and v.version = l.current_version "
        "join campaigns c on c.id = l.campaign_id "
        "where l.level = 'village' and l.kind = 'identify' and v.window_end < ? "
        "and c.id = (select max(id) from campaigns) order by l.id limit 2", [today.isoformat()]))
    if not closed:
        return 0

    def at(day: dt.date, hour: int) -> Clock:
        return Clock(clock.zone, dt.datetime.combine(day, dt.time(hour), clock.zone))

    for n, (ground, named, filed_after, took, outcome, reply) in enumerate(CASES):
        lst = closed[n % len(closed)]
        start = dt.date.fromisoformat(lst["window_start"])
        household = None if ground == "procedure" else next(db.query(
            "select household_id from list_entries e join lists l on l.id = e.list_id "
            "where l.id = ? and e.version = l.current_version order by e.position limit 1 offset ?",
            [lst["id"], n]))["household_id"]
        filed = start + dt.timedelta(days=filed_after)
        complaint_id, _ = file_complaint(
            db, list_id=lst["id"], household_id=household, region_code=None, ground=ground,
            text="（演示）反映该户情况，请核查。" if household else "（演示）评议会议到会人数不够。",
            about_committee=False, anonymous=not named, name="滕子健" if named else "",
            phone="13907441234" if named else "", files=[], key=key, clock=at(filed, 10))
        cases.conclude(db, complaint_id, outcome=outcome, findings="入户核查（演示）", public_reply=reply,
                       omitted_household=None, key=key, clock=at(filed + dt.timedelta(days=took), 16), **ACTOR)
    late = closed[0]
    file_complaint(db, list_id=late["id"], household_id=None, region_code=None, ground="other",
                   text="（演示）公示栏的名单被雨水打湿，看不清楚。", about_committee=False, anonymous=True, name="",
                   phone="", files=[], key=key, clock=clock)
    return len(CASES) + 1
