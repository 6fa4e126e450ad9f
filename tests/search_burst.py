"""A web worker's burst of publications, for tests/test_search_indexer.py to kill mid-way.

    python -m tests.search_burst INSTANCE WORKER COUNT

Each round adds a village with two applicants, publishes its list (the real publication path, with
its outbox row in the same transaction) and, every other round, a notice.
"""

import datetime as dt
import sys

from portal import create_app
from portal.domain.campaigns import add_household, create_campaign, set_quota
from portal.domain.notices import create_notice
from portal.domain.publishing import publish_list
from portal.domain.regions import add_region
from portal.runtime import get_db


def HAN(n: int) -> str:
    return "".join("〇一二三四五六七八九"[int(d)] for d in str(n))

NOW = "2026-11-23T10:00:00+08:00"
KEY = b"test-key"


def main(instance: str, worker: int, count: int) -> None:
    app = create_app({"INSTANCE_PATH": instance, "LOAD_DEMO": False, "NOW": NOW, "ID_HASH_KEY": KEY.decode()})
    with app.app_context():
        db = get_db()
        county, township = f"4309{worker:02d}", f"4309{worker:02d}100"
        add_region(db, county, f"测试{worker}县")
        add_region(db, township, f"测试{worker}镇", county)
        campaign = create_campaign(db, county_code=county, name="压力测试", reference_date=dt.date(2025, 12, 31),
                                   income_line=2736, clock=app.extensions["portal.clock"])
        set_quota(db, campaign, county, 100000)
        set_quota(db, campaign, township, 100000)
        for i in range(count):
            village = f"{township}{i + 1:03d}"
            add_region(db, village, f"第{worker}组{i}村", township)
            set_quota(db, campaign, village, 10)
            for name in ("甲", "乙"):
                add_household(db, campaign_id=campaign, village_code=village, head_name=f"测{name}{HAN(worker)}号{HAN(i)}",
                              size=2, applied_on=dt.date(2026, 3, 1), votes=10, voters_present=20, clock=app.extensions["portal.clock"])
            publish_list(db, campaign_id=campaign, region_code=village, kind="identify",
                         start=dt.date(2026, 11, 23), today=None, key=KEY, clock=app.extensions["portal.clock"])
            if i % 2 == 0:
                create_notice(db, region_code=village, title=f"第{worker}组第{i}号公告", body="正文",
                              publish_at="2026-11-22T09:00:00+08:00", actor="burst", role="county_admin",
                              key=app.config["ID_HASH_KEY"].encode(), clock=app.extensions["portal.clock"])
            print(i, flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
