"""The demo's second year (issue 20, item 8): last year's round, closed, with its register and one
exit; and this year's round (the demo campaign) with a removal, an exit and a re-entry in every state.

Last year covers two villages only (双星村; 中湖村, which has not published this year's list yet, so the
removal there comes first, 先退后进). All of it is placed relative to the clock's today, like the rest
of the demo: last year's lists closed about a year ago; this year's removal list is at the county now,
its exit list open in the village, its re-entry list opens in three days. Last year's lists are
published after this year's identification lists, so those keep the list numbers they always had.
"""

from __future__ import annotations

import datetime as dt

from ..domain import adjustments, sampling
from ..domain.campaigns import add_household, create_campaign, get_campaign, set_quota
from ..domain.publishing import publish_list

COUNTY, TOWNSHIP, ZHONGHU_TOWNSHIP = "430811", "430811100", "430811201"
SHUANGXING, ZHONGHU = "430811100001", "430811201005"
#: Last year's filed households: (village, head, size, votes).
LAST_YEAR = [
    (SHUANGXING, "舒德和", 4, 35), (SHUANGXING, "田秋菊", 3, 33), (SHUANGXING, "卓玉兰", 2, 31),
    (SHUANGXING, "龚家福", 5, 30), (ZHONGHU, "向金梅", 3, 34), (ZHONGHU, "庹志刚", 4, 32), (ZHONGHU, "符桂英", 2, 29),
]
EXIT_CONDITIONS = {k: True for k in adjustments.EXIT_CONDITIONS}
ACTOR = {"actor": "演示数据", "role": "cli"}


def create_last_year(db, clock) -> int:
    """Last year's campaign (before this year's, which follows it)."""
    return create_campaign(db, county_code=COUNTY, name="上一年度扶贫对象识别（演示）",
                           reference_date=dt.date(clock.today().year - 2, 12, 31), income_line=2736, clock=clock)


def load_last_year(db, campaign_id: int, clock, key: bytes) -> dict[str, int]:
    """Last year's round, run to the end (register filed about a year ago; 舒德和 exited since)."""
    today = clock.today()
    day = lambda n: today + dt.timedelta(days=n)
    for code, persons in ((COUNTY, 40), (TOWNSHIP, 20), (ZHONGHU_TOWNSHIP, 20), (SHUANGXING, 14), (ZHONGHU, 9)):
        set_quota(db, campaign_id, code, persons)
    homes = {name: add_household(db, campaign_id=campaign_id, village_code=village, head_name=name, size=size,
                                 applied_on=day(-420), votes=votes, voters_present=40, clock=clock)
             for village, name, size, votes in LAST_YEAR}
    _chain(db, campaign_id, "identify", ((SHUANGXING, -400), (ZHONGHU, -400), (TOWNSHIP, -390),
                                         (ZHONGHU_TOWNSHIP, -390), (COUNTY, -380)), clock, key)
    # 舒德和 left poverty in the same year: proposed, verified, agreed, publicised to the county.
    exit_id = adjustments.propose(db, campaign_id=campaign_id, household_id=homes["舒德和"], kind="exit",
                                  conditions=EXIT_CONDITIONS, today=day(-360), key=key, clock=clock, **ACTOR)
    adjustments.verify_exit(db, exit_id, note="村两委和驻村工作队入户核实：务工收入稳定（演示）", key=key, clock=clock, **ACTOR)
    adjustments.record_agreement(db, exit_id, agreed=True, on=day(-358), how="signed", note="", today=today, key=key,
                                 clock=clock, **ACTOR)
    _chain(db, campaign_id, "exit", ((SHUANGXING, -350), (TOWNSHIP, -340), (COUNTY, -330)), clock, key)
    return homes


def load_this_year(db, campaign_id: int, homes: dict[str, int], clock, key: bytes) -> None:
    """This year's removal (its county announcement open now; 中湖村's new identification list, still to
    come, waits for it: 先退后进), exit (open in the village), a second exit waiting for the household's
    word, and a re-entry (its village list opens in three days)."""
    today = clock.today()
    day = lambda n: today + dt.timedelta(days=n)
    adjustments.propose(db, campaign_id=campaign_id, household_id=homes["向金梅"], kind="remove", ground="vehicle",
                        finding="车辆登记显示家中有一辆价值约 8 万元的轿车（演示）", today=day(-31), key=key, clock=clock,
                        **ACTOR)
    _chain(db, campaign_id, "remove", ((ZHONGHU, -30), (ZHONGHU_TOWNSHIP, -22), (COUNTY, -12)), clock, key)
    for name, agreed in (("田秋菊", True), ("卓玉兰", None)):
        exit_id = adjustments.propose(db, campaign_id=campaign_id, household_id=homes[name], kind="exit",
                                      conditions=EXIT_CONDITIONS, today=day(-6), key=key, clock=clock, **ACTOR)
        adjustments.verify_exit(db, exit_id, note="入户核实收入和住房（演示）", key=key, clock=clock, **ACTOR)
        if agreed:
            adjustments.record_agreement(db, exit_id, agreed=True, on=day(-5), how="signed", note="", today=today,
                                         key=key, clock=clock, **ACTOR)
    _publish(db, campaign_id, SHUANGXING, "exit", day(-3), clock, key)
    adjustments.propose(db, campaign_id=campaign_id, household_id=homes["舒德和"], kind="reenter", ground="wrong_exit",
                        finding="复核发现退出时务工收入并不稳定，人均纯收入未达标（演示）", today=today, key=key,
                        clock=clock, **ACTOR)
    _publish(db, campaign_id, SHUANGXING, "reenter", day(3), clock, key)


def _chain(db, campaign_id: int, kind: str, steps, clock, key: bytes) -> None:
    """Publish a kind's lists level by level, each spot-checked (all 属实) before the next level."""
    campaign = get_campaign(db, campaign_id)
    for code, offset in steps:
        list_id = _publish(db, campaign_id, code, kind, clock.today() + dt.timedelta(days=offset), clock, key)
        if sampling.checking_level(campaign, db["lists"].get(list_id)):
            spot_check(db, campaign, list_id, key, clock)


def published_at(start: dt.date) -> str:
    """The demo pretends each version was published at 09:00 the day before its window opened."""
    moment = dt.datetime.combine(start - dt.timedelta(days=1), dt.time(9), tzinfo=dt.timezone(dt.timedelta(hours=8)))
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds")


def _publish(db, campaign_id: int, code: str, kind: str, start: dt.date, clock, key: bytes) -> int:
    return publish_list(db, campaign_id=campaign_id, region_code=code, kind=kind, start=start, today=None, key=key,
                        published_at=published_at(start), clock=clock)


def spot_check(db, campaign: dict, list_id: int, key: bytes, clock) -> None:
    """The level above's 抽查复核 of a list before its own (rule 12): every sampled entry 属实."""
    check_id = sampling.draw_check(db, campaign=campaign, list_id=list_id, key=key, clock=clock, **ACTOR)
    for item in sampling.latest(db, list_id)["items"]:
        sampling.record_result(db, check_id=check_id, position=item["position"], result="true",
                               note="入户核查，情况属实（演示）", key=key, clock=clock, **ACTOR)
