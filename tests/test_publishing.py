"""Publishing lists: quota control, the chain rule, versions, and nothing half-written."""

import datetime as dt

import pytest

from portal.domain import rules
from portal.domain.campaigns import set_quota, village_selection
from portal.domain.publishing import PublishError, amend_list, publish_list

from .conftest import CLOCK, ID_KEY, TODAY, disqualify

VILLAGE_A, VILLAGE_B, TOWNSHIP = "430811100001", "430811100002", "430811100"


def count(db, table):
    return db[table].count


def test_village_selection_ranks_and_fills_quota(db, county):
    h = county["households"]
    s = village_selection(db, county["campaign"], VILLAGE_A)
    assert [a.id for a in s.selected] == [h["张建国"], h["李秀英"], h["向春华"], h["欧阳德胜"]]
    assert [a.id for a in s.waiting] == [h["王明"]]
    assert s.persons == 10


def test_publish_village_list_defaults_to_selection(db, county):
    list_id = publish_list(db, campaign_id=county["campaign"], region_code=VILLAGE_A, kind="identify",
                           start=TODAY, today=TODAY, key=ID_KEY, clock=CLOCK)
    row = db["lists"].get(list_id)
    assert row["level"] == "village" and row["current_version"] == 1
    assert row["title"] == "双星村初选公示名单（2026年扶贫对象识别）"
    v = db["list_versions"].get((list_id, 1))
    assert (v["window_start"], v["window_end"]) == ("2026-11-23", "2026-11-29")
    names = [r["head_name"] for r in db.query(
        "select head_name from list_entries where list_id = ? order by position", [list_id])]
    assert names == ["张建国", "李秀英", "向春华", "欧阳德胜"]


def test_over_quota_list_is_refused_and_nothing_written(db, county):
    h = county["households"]
    with pytest.raises(rules.QuotaError) as err:
        publish_list(db, campaign_id=county["campaign"], region_code=VILLAGE_A, kind="identify",
                     start=TODAY, today=TODAY, key=ID_KEY, household_ids=[h["张建国"], h["李秀英"], h["王明"]], clock=CLOCK)
    assert "10 人" in str(err.value) and "11 人" in str(err.value)
    assert count(db, "lists") == 0 and count(db, "list_versions") == 0 and count(db, "list_entries") == 0


def test_back_dated_window_and_duplicate_list_are_refused(db, county):
    with pytest.raises(PublishError, match="早于今天"):
        publish_list(db, campaign_id=county["campaign"], region_code=VILLAGE_A, kind="identify",
                     start=TODAY - dt.timedelta(days=1), today=TODAY, key=ID_KEY, clock=CLOCK)
    publish_list(db, campaign_id=county["campaign"], region_code=VILLAGE_A, kind="identify", start=TODAY, today=TODAY, key=ID_KEY, clock=CLOCK)
    with pytest.raises(PublishError, match="已经公示过"):
        publish_list(db, campaign_id=county["campaign"], region_code=VILLAGE_A, kind="identify", start=TODAY, today=TODAY, key=ID_KEY, clock=CLOCK)
    assert count(db, "lists") == 1


def test_list_without_quota_is_refused(db, county):
    from portal.domain.regions import add_region
    add_region(db, "430811100003", "高云村", TOWNSHIP)
    with pytest.raises(rules.QuotaError, match="尚未下达"):
        publish_list(db, campaign_id=county["campaign"], region_code="430811100003", kind="identify",
                     start=TODAY, today=TODAY, key=ID_KEY, household_ids=[], clock=CLOCK)


def test_township_list_waits_for_every_village_window_to_close(db, county):
    c = county["campaign"]
    start = TODAY
    publish_list(db, campaign_id=c, region_code=VILLAGE_A, kind="identify", start=start, today=TODAY, key=ID_KEY,
                 clock=CLOCK)
    with pytest.raises(PublishError, match="河口村还没有公示名单"):
        publish_list(db, campaign_id=c, region_code=TOWNSHIP, kind="identify", start=start + dt.timedelta(days=7),
                     today=TODAY, key=ID_KEY, clock=CLOCK)
    publish_list(db, campaign_id=c, region_code=VILLAGE_B, kind="identify", start=start + dt.timedelta(days=1),
                 today=TODAY, key=ID_KEY, clock=CLOCK)
    # Village B's 7 days run from start+1 to start+7 (2026-11-30).
    day = lambda n: start + dt.timedelta(days=n)  # noqa: E731
    with pytest.raises(PublishError, match="河口村的公示到 2026-11-30 才结束，本级名单最早 2026-12-01 才能发布"):
        publish_list(db, campaign_id=c, region_code=TOWNSHIP, kind="identify", start=day(8), today=day(7),
                     key=ID_KEY, clock=CLOCK)
    list_id = publish_list(db, campaign_id=c, region_code=TOWNSHIP, kind="identify", start=day(8), today=day(8),
                           key=ID_KEY, clock=CLOCK)
    entries = list(db.query("select village_code from list_entries where list_id = ?", [list_id]))
    assert len(entries) == 4 + 2   # both villages' selections gathered
    # The county level waits for the township in turn.
    with pytest.raises(PublishError, match="索溪峪镇的公示到 2026-12-07"):
        publish_list(db, campaign_id=c, region_code="430811", kind="identify", start=day(20), today=day(10),
                     key=ID_KEY, clock=CLOCK)


def test_the_next_level_cannot_be_scheduled_while_the_level_below_is_still_open(db, county):
    """Issue 16 item 1: a start date after the lower windows does not help while they are open: the
    upper list would be built from village lists that can still change."""
    c = county["campaign"]
    for village in (VILLAGE_A, VILLAGE_B):
        publish_list(db, campaign_id=c, region_code=village, kind="identify", start=TODAY, today=TODAY, key=ID_KEY,
                     clock=CLOCK)
    later = TODAY + dt.timedelta(days=30)
    with pytest.raises(PublishError, match="本级名单最早 2026-11-30 才能发布"):
        publish_list(db, campaign_id=c, region_code=TOWNSHIP, kind="identify", start=later, today=TODAY,
                     key=ID_KEY, clock=CLOCK)
    assert db["lists"].count == 2


def test_amend_makes_a_new_version_and_keeps_the_old_one(db, county):
    h = county["households"]
    list_id = publish_list(db, campaign_id=county["campaign"], region_code=VILLAGE_A, kind="identify",
                           start=TODAY, today=TODAY, key=ID_KEY, clock=CLOCK)
    with pytest.raises(PublishError, match="修改说明"):
        amend_list(db, list_id, household_ids=[h["张建国"]], note="  ", key=ID_KEY, today=TODAY, clock=CLOCK)
    # 欧阳德胜 (1 person) removed; 王明 (4 persons) cannot fit the 10-person quota, so nobody else is added.
    disqualify(db, list_id, h["欧阳德胜"])
    version = amend_list(db, list_id, household_ids=[h["张建国"], h["李秀英"], h["向春华"]],
                         note="一户举报属实，取消资格", key=ID_KEY, today=TODAY, clock=CLOCK)
    assert version == 2 and db["lists"].get(list_id)["current_version"] == 2
    v1 = [r["head_name"] for r in db.query("select head_name from list_entries where list_id = ? and version = 1", [list_id])]
    v2 = [r["head_name"] for r in db.query("select head_name from list_entries where list_id = ? and version = 2 order by position", [list_id])]
    assert "欧阳德胜" in v1 and v2 == ["张建国", "李秀英", "向春华"]
    windows = list(db.query("select version, window_start, window_end from list_versions where list_id = ?", [list_id]))
    assert windows[0]["window_start"] == windows[1]["window_start"]     # a removal keeps the window
    with pytest.raises(rules.QuotaError):
        amend_list(db, list_id, household_ids=[h["张建国"], h["李秀英"], h["王明"]], note="超额", key=ID_KEY,
                   today=TODAY, start=TODAY, clock=CLOCK)
    assert db["lists"].get(list_id)["current_version"] == 2


def test_replacement_gets_its_own_window_and_rank_order(db, county):
    h = county["households"]
    list_id = publish_list(db, campaign_id=county["campaign"], region_code=VILLAGE_A, kind="identify",
                           start=TODAY - dt.timedelta(days=8), today=None, key=ID_KEY, clock=CLOCK)
    keep = [h["张建国"], h["欧阳德胜"]]             # 李秀英 (3) and 向春华 (2) out: 王明 (4) fits
    with pytest.raises(PublishError, match="公示开始日期"):
        amend_list(db, list_id, household_ids=keep + [h["王明"]], note="递补", key=ID_KEY, today=TODAY, clock=CLOCK)
    with pytest.raises(PublishError, match="早于今天"):
        amend_list(db, list_id, household_ids=keep + [h["王明"]], note="递补", key=ID_KEY, today=TODAY,
                   start=TODAY - dt.timedelta(days=1), clock=CLOCK)
    disqualify(db, list_id, h["李秀英"], h["向春华"])
    amend_list(db, list_id, household_ids=[h["欧阳德胜"], h["张建国"], h["王明"]], note="一户举报属实，依次递补",
               key=ID_KEY, today=TODAY, start=TODAY, clock=CLOCK)
    v2 = list(db.query("select head_name, mark from list_entries where list_id = ? and version = 2 order by position",
                       [list_id]))
    assert [r["head_name"] for r in v2] == ["张建国", "王明", "欧阳德胜"]   # rank order, not order of entry
    assert {r["head_name"]: r["mark"] for r in v2}["王明"] == "递补"
    # The list keeps its window (published 8 days ago); 王明's row has one of its own (item 9).
    window = db["list_versions"].get((list_id, 2))
    assert (window["window_start"], window["window_end"]) == ("2026-11-15", "2026-11-21")
    assert (window["rows_from"], window["rows_until"]) == ("2026-11-23", "2026-11-29")
    assert db.execute("select window_start, window_end from list_entries where list_id = ? and version = 2 "
                      "and head_name = '王明'", [list_id]).fetchone() == ("2026-11-23", "2026-11-29")


def test_a_replacement_window_is_shown_on_the_row_in_the_header_and_downloads_and_holds_the_next_level(
        app, client, db, county):
    """Issue 16 item 9: version 2 keeps the list's window; the page header, the row, CSV, JSON and the
    print view state the 递补 window; the feed announces an amendment; the township waits for it."""
    h = county["households"]
    list_id = publish_list(db, campaign_id=county["campaign"], region_code=VILLAGE_A, kind="identify",
                           start=TODAY - dt.timedelta(days=8), today=None, key=ID_KEY, clock=CLOCK)
    publish_list(db, campaign_id=county["campaign"], region_code=VILLAGE_B, kind="identify",
                 start=TODAY - dt.timedelta(days=8), today=None, key=ID_KEY, clock=CLOCK)
    disqualify(db, list_id, h["李秀英"], h["向春华"])
    amend_list(db, list_id, household_ids=[h["欧阳德胜"], h["张建国"], h["王明"]], note="一户举报属实，依次递补",
               key=ID_KEY, today=TODAY, start=TODAY, clock=CLOCK)
    page = client.get(f"/lists/{list_id}").get_data(as_text=True)
    assert "公示时间：2026年11月15日 至 2026年11月21日（共 7 天）" in page
    assert "递补户公示至 2026年11月29日" in page and "距公示结束还有 7 天" in page
    assert '递补<span class="row-window">公示至11月29日</span>' in page
    assert "递补户公示时间：2026年11月23日0时 至 2026年11月29日24时" in client.get(f"/lists/{list_id}/print").get_data(as_text=True)
    csv_text = client.get(f"/lists/{list_id}.csv").get_data(as_text=True)
    assert "本户公示开始,本户公示结束" in csv_text and "递补,2026-11-23,2026-11-29" in csv_text
    feed = client.get("/feeds/all.atom").get_data(as_text=True)
    assert feed.count("开始公示：双星村") == 1 and "递补户公示时间 2026-11-23 至 2026-11-29" in feed
    # The village list stays open for objections to the replacement until the 29th: no township yet.
    day = TODAY + dt.timedelta(days=3)
    with pytest.raises(PublishError, match="双星村的公示到 2026-11-29 才结束"):
        publish_list(db, campaign_id=county["campaign"], region_code=TOWNSHIP, kind="identify", start=day, today=day,
                     key=ID_KEY, clock=CLOCK)


def test_households_must_belong_to_the_lists_region(db, county):
    h = county["households"]
    with pytest.raises(PublishError, match="不属于本地"):
        publish_list(db, campaign_id=county["campaign"], region_code=VILLAGE_A, kind="identify", start=TODAY,
                     today=TODAY, key=ID_KEY, household_ids=[h["张建国"], h["田玉梅"]], clock=CLOCK)
    assert db["lists"].count == 0


def test_a_level_cannot_be_amended_once_the_next_level_published(db, published):
    h = published["households"]
    with pytest.raises(PublishError, match="上一级"):
        amend_list(db, published["village_b"], household_ids=[h["田玉梅"]], note="更正", key=ID_KEY, today=TODAY, clock=CLOCK)


def test_content_hash_is_keyed_and_recomputable(db, published):
    from portal.domain.versions import version_hash
    row = db["list_versions"].get((published["village_a"], 2))
    assert len(row["content_hash"]) == 64
    assert version_hash(db, published["village_a"], 2, ID_KEY) == row["content_hash"]
    assert version_hash(db, published["village_a"], 2, b"other key") != row["content_hash"]
    assert version_hash(db, published["village_a"], 1, ID_KEY) != row["content_hash"]


def test_published_versions_cannot_be_edited_in_place(db, published):
    import sqlite3
    for sql in ("update list_entries set head_name = 'x' where list_id = ?",
                "update list_versions set window_end = '2030-01-01' where list_id = ?"):
        with pytest.raises(sqlite3.IntegrityError, match="cannot be changed"):
            db.execute(sql, [published["village_a"]])


def test_quota_split_over_parent_is_refused_and_rolled_back(db, county):
    c = county["campaign"]
    with pytest.raises(rules.QuotaError) as err:
        set_quota(db, c, VILLAGE_B, 31)   # 10 + 31 > township 40
    assert "40 人" in str(err.value) and "41 人" in str(err.value)
    assert db.execute("select persons from quotas where region_code = ?", [VILLAGE_B]).fetchone()[0] == 6
    with pytest.raises(rules.QuotaError):
        set_quota(db, c, "430811", 100, reserve=61)   # 40 + 61 > 100
    with pytest.raises(rules.QuotaError):
        set_quota(db, c, TOWNSHIP, 15)   # its villages already hold 16
    from portal.domain.regions import add_region
    add_region(db, "430811200", "协合乡", "430811")
    add_region(db, "430811200001", "龙尾巴村", "430811200")
    with pytest.raises(rules.QuotaError, match="上级还没有规模指标"):
        set_quota(db, c, "430811200001", 5)   # its township has no quota yet
    add_region(db, "511022", "青川县")
    with pytest.raises(rules.QuotaError, match="不在本批次"):
        set_quota(db, c, "511022", 5)


def test_household_and_vote_constraints(db, county):
    import sqlite3

    from portal.domain.campaigns import add_household
    with pytest.raises(sqlite3.IntegrityError):
        add_household(db, campaign_id=county["campaign"], village_code=VILLAGE_A, head_name="赵六", size=0,
                      applied_on=TODAY, clock=CLOCK)
    with pytest.raises(sqlite3.IntegrityError):
        add_household(db, campaign_id=county["campaign"], village_code=VILLAGE_A, head_name="赵六", size=2,
                      applied_on=TODAY, votes=40, voters_present=32, clock=CLOCK)
    with pytest.raises(sqlite3.IntegrityError):   # the same ID twice in one campaign
        add_household(db, campaign_id=county["campaign"], village_code=VILLAGE_B, head_name="张建国", size=2,
                      applied_on=TODAY, id_number="430811195001011234", id_key=b"test-key", clock=CLOCK)
    assert db["households"].count == 8


def test_higher_levels_carry_what_the_village_published(db, county):
    c, h = county["campaign"], county["households"]
    publish_list(db, campaign_id=c, region_code=VILLAGE_A, kind="identify", start=TODAY - dt.timedelta(days=10),
                 today=None, key=ID_KEY, clock=CLOCK)
    publish_list(db, campaign_id=c, region_code=VILLAGE_B, kind="identify", start=TODAY - dt.timedelta(days=10),
                 today=None, key=ID_KEY, clock=CLOCK)
    # After the village window closed, someone edits a household that is on the list.
    db.execute("update households set head_name = '张改名', size = 1 where id = ?", [h["张建国"]])
    township = publish_list(db, campaign_id=c, region_code=TOWNSHIP, kind="identify", start=TODAY, today=TODAY,
                            key=ID_KEY, clock=CLOCK)
    row = next(db.query("select head_name, size from list_entries where list_id = ? and household_id = ?",
                        [township, h["张建国"]]))
    assert row == {"head_name": "张建国", "size": 4}


def test_a_quota_cannot_fall_below_a_published_list(db, published):
    """Issue 16 item 8: village A's current list holds 9 persons (张建国 4, 李秀英 3, 向春华 2)."""
    from portal.domain.campaigns import get_quota, set_quota

    c = published["campaign"]
    with pytest.raises(rules.QuotaError, match="双星村的规模指标不能改为 5 人：已公示的《双星村.*》中本地已有 9 人"):
        set_quota(db, c, VILLAGE_A, 5)
    assert get_quota(db, c, VILLAGE_A)["persons"] == 10           # nothing written
    set_quota(db, c, VILLAGE_A, 9)                                  # down to what is listed: allowed
    assert get_quota(db, c, VILLAGE_A)["persons"] == 9
