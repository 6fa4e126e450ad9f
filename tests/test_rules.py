"""The domain rules (DOMAIN §11) tested directly, with hand-made cases and no Flask."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from portal.domain import rules
from portal.domain.rules import Applicant, Window

D = dt.date
SHANGHAI = ZoneInfo("Asia/Shanghai")


def ids(applicants):
    return [a.id for a in applicants]


# --- Ranking -----------------------------------------------------------------------------------

def test_rank_by_votes_highest_first():
    a = [Applicant(1, 3, 10), Applicant(2, 3, 30), Applicant(3, 3, 20)]
    assert ids(rules.rank(a)) == [2, 3, 1]


def test_tie_on_votes_broken_by_more_priority_flags():
    a = [Applicant(1, 3, 20, priority_count=0), Applicant(2, 3, 20, priority_count=2),
         Applicant(3, 3, 20, priority_count=1)]
    assert ids(rules.rank(a)) == [2, 3, 1]


def test_tie_on_votes_and_flags_broken_by_lower_income():
    a = [Applicant(1, 3, 20, 1, 2500.0), Applicant(2, 3, 20, 1, 1800.0), Applicant(3, 3, 20, 1, 2100.0)]
    assert ids(rules.rank(a)) == [2, 3, 1]


def test_tie_on_votes_flags_income_broken_by_earlier_application():
    a = [Applicant(1, 3, 20, 1, 2000.0, D(2026, 3, 5)), Applicant(2, 3, 20, 1, 2000.0, D(2026, 3, 1)),
         Applicant(3, 3, 20, 1, 2000.0, D(2026, 3, 3))]
    assert ids(rules.rank(a)) == [2, 3, 1]


def test_full_tie_is_still_deterministic_by_id():
    a = [Applicant(9, 3, 20, 1, 2000.0, D(2026, 3, 1)), Applicant(4, 3, 20, 1, 2000.0, D(2026, 3, 1))]
    assert ids(rules.rank(a)) == [4, 9]
    assert ids(rules.rank(reversed(a))) == [4, 9]


def test_votes_outrank_every_tie_break():
    a = [Applicant(1, 3, 19, priority_count=3, income_per_capita=0.0, applied_on=D(2000, 1, 1)),
         Applicant(2, 3, 20, priority_count=0, income_per_capita=9999.0, applied_on=D(2026, 1, 1))]
    assert ids(rules.rank(a)) == [2, 1]


# --- Selection within a quota counted in persons -----------------------------------------------

def test_selection_skips_a_household_that_does_not_fit_and_goes_on():
    a = [Applicant(1, 4, 30), Applicant(2, 3, 28), Applicant(3, 4, 25), Applicant(4, 2, 20), Applicant(5, 1, 5)]
    s = rules.select_within_quota(a, 10)
    assert ids(s.selected) == [1, 2, 4, 5]   # 4 + 3 + 2 + 1 = 10; household 3 (4 persons) does not fit
    assert ids(s.waiting) == [3]
    assert s.persons == 10 and s.unused == 0


def test_selection_can_stop_at_the_first_household_that_does_not_fit():
    a = [Applicant(1, 4, 30), Applicant(2, 3, 28), Applicant(3, 4, 25), Applicant(4, 2, 20)]
    s = rules.select_within_quota(a, 10, stop_at_first_misfit=True)
    assert ids(s.selected) == [1, 2]
    assert ids(s.waiting) == [3, 4]          # waiting list keeps rank order
    assert s.unused == 3


def test_selection_exactly_filling_quota_and_zero_quota():
    a = [Applicant(1, 5, 3), Applicant(2, 5, 2)]
    assert ids(rules.select_within_quota(a, 10).selected) == [1, 2]
    empty = rules.select_within_quota(a, 0)
    assert empty.selected == () and ids(empty.waiting) == [1, 2]
    with pytest.raises(ValueError):
        rules.select_within_quota(a, -1)


def test_a_single_household_larger_than_the_quota_is_never_selected():
    s = rules.select_within_quota([Applicant(1, 8, 40), Applicant(2, 2, 1)], 6)
    assert ids(s.selected) == [2] and ids(s.waiting) == [1]


def test_check_selection_within_quota_names_quota_and_total():
    rules.check_selection_within_quota(10, 10, "双星村")
    with pytest.raises(rules.QuotaError) as err:
        rules.check_selection_within_quota(12, 10, "双星村")
    assert "10 人" in str(err.value) and "12 人" in str(err.value) and "双星村" in str(err.value)
    with pytest.raises(rules.QuotaError, match="尚未下达"):
        rules.check_selection_within_quota(1, None, "双星村")


def test_quota_split_children_plus_reserve_within_parent():
    rules.check_quota_split("武陵源区", 6200, [("索溪峪镇", 1028), ("协合乡", 1732), ("中湖乡", 2495),
                                              ("天子山镇", 645)], reserve=300)
    with pytest.raises(rules.QuotaError) as err:
        rules.check_quota_split("武陵源区", 6200, [("索溪峪镇", 5000), ("协合乡", 1000)], reserve=300)
    assert "6200 人" in str(err.value) and "6300 人" in str(err.value)
    with pytest.raises(rules.QuotaError):
        rules.check_quota_split("x", 10, [("y", -1)])


# --- Windows: whole calendar days in Asia/Shanghai ---------------------------------------------

def state_at(window, iso):
    return rules.window_state(window, rules.local_date(dt.datetime.fromisoformat(iso), SHANGHAI))


def test_window_of_days_counts_the_first_day():
    w = Window.of_days(D(2026, 11, 3), 7)
    assert w.end == D(2026, 11, 9) and w.days == 7
    with pytest.raises(ValueError):
        Window.of_days(D(2026, 11, 3), 0)
    with pytest.raises(ValueError):
        Window(D(2026, 11, 3), D(2026, 11, 2))


def test_window_opens_at_midnight_shanghai_time():
    w = Window.of_days(D(2026, 11, 3), 7)
    assert state_at(w, "2026-11-02T23:59:59+08:00").status == rules.NOT_OPEN
    assert state_at(w, "2026-11-03T00:00:00+08:00").status == rules.OPEN
    # 16:00 UTC on the 2nd is already midnight of the 3rd in Shanghai.
    assert state_at(w, "2026-11-02T16:00:00+00:00").status == rules.OPEN
    assert state_at(w, "2026-11-02T15:59:59+00:00").status == rules.NOT_OPEN


def test_window_closes_at_24_00_of_the_last_day():
    w = Window.of_days(D(2026, 11, 3), 7)
    last = state_at(w, "2026-11-09T23:59:59+08:00")
    assert last.status == rules.OPEN and last.days == 1 and "最后一天" in last.text
    after = state_at(w, "2026-11-10T00:00:00+08:00")
    assert after.status == rules.CLOSED and "11月9日24时" in after.text


def test_days_left_text():
    w = Window.of_days(D(2026, 11, 21), 7)   # 21st .. 27th
    s = state_at(w, "2026-11-23T10:00:00+08:00")
    assert s.days == 5 and "距公示结束还有 5 天" in s.text
    soon = state_at(Window.of_days(D(2026, 11, 25), 7), "2026-11-23T10:00:00+08:00")
    assert soon.status == rules.NOT_OPEN and soon.days == 2 and "11月25日" in soon.text
    tomorrow = state_at(Window.of_days(D(2026, 11, 24), 7), "2026-11-23T10:00:00+08:00")
    assert "明天" in tomorrow.text


def test_window_across_month_end():
    w = Window.of_days(D(2026, 1, 28), 7)
    assert w.end == D(2026, 2, 3)
    assert state_at(w, "2026-01-31T12:00:00+08:00").days == 4
    assert state_at(w, "2026-02-03T12:00:00+08:00").status == rules.OPEN
    assert state_at(w, "2026-02-04T00:00:00+08:00").status == rules.CLOSED


def test_window_across_year_end_and_leap_day():
    w = Window.of_days(D(2026, 12, 27), 15)
    assert w.end == D(2027, 1, 10)
    assert state_at(w, "2026-12-31T23:00:00+08:00").days == 11
    # New Year's Eve 17:00 UTC is already 1 January in Shanghai.
    assert state_at(w, "2026-12-31T17:00:00+00:00").days == 10
    leap = Window.of_days(D(2028, 2, 25), 7)
    assert leap.end == D(2028, 3, 2)


def test_local_date_needs_an_aware_time():
    with pytest.raises(ValueError):
        rules.local_date(dt.datetime(2026, 1, 1), SHANGHAI)


# --- The chain rule ----------------------------------------------------------------------------

CHAIN = rules.DEFAULT_CHAIN


def test_first_level_has_no_lower_level():
    assert rules.lower_level(CHAIN, "village") is None
    assert rules.lower_level(CHAIN, "township") == "village"
    assert rules.lower_level(CHAIN, "county") == "township"
    assert rules.chain_problems(level="village", chain=CHAIN, on=D(2026, 1, 1), lower_windows=[]) == []


def test_level_opens_only_the_day_after_every_lower_window_closed():
    closed = Window(D(2026, 11, 3), D(2026, 11, 9))
    assert rules.chain_problems(level="township", chain=CHAIN, on=D(2026, 11, 10),
                                lower_windows=[("双星村", closed), ("河口村", closed)]) == []
    problems = rules.chain_problems(level="township", chain=CHAIN, on=D(2026, 11, 9),
                                    lower_windows=[("双星村", closed)])
    assert len(problems) == 1 and "双星村" in problems[0] and "2026-11-10 才能发布" in problems[0]


def test_level_waits_for_missing_lower_lists_and_open_complaints():
    closed = Window(D(2026, 11, 3), D(2026, 11, 9))
    problems = rules.chain_problems(level="township", chain=CHAIN, on=D(2026, 11, 20),
                                    lower_windows=[("双星村", closed), ("河口村", None)], open_complaints=2)
    assert any("河口村" in p for p in problems) and any("2 件" in p for p in problems)
    assert rules.chain_problems(level="county", chain=CHAIN, on=D(2026, 11, 20), lower_windows=[])


def test_configurable_chain_five_plus_five():
    chain = [{"level": "village", "name": "初选公示", "days": 5}, {"level": "township", "name": "审核公示", "days": 5}]
    assert rules.lower_level(chain, "township") == "village"
    with pytest.raises(ValueError):
        rules.lower_level(chain, "county")


def test_a_window_starting_today_needs_the_whole_day():
    """Issue 16 item 14: published at 23:59 with start = today, 6 days and a minute of a '7-day' window."""
    zone = dt.timezone(dt.timedelta(hours=8))
    morning = dt.datetime(2026, 11, 23, 9, 0, tzinfo=zone)
    night = dt.datetime(2026, 11, 23, 23, 59, tzinfo=zone)
    assert rules.start_problem(D(2026, 11, 23), morning) is None
    assert "公示最早从明天（2026-11-24）开始" in rules.start_problem(D(2026, 11, 23), night)
    assert rules.start_problem(D(2026, 11, 24), night) is None
    assert rules.start_problem(D(2026, 11, 22), morning) == "公示开始日期不能早于今天。"
    assert rules.earliest_start(night) == D(2026, 11, 24) and rules.earliest_start(morning) == D(2026, 11, 23)
