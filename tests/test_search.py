"""Search: names (SQLite keys) and lists/notices/pages (whoosh), only published material, the index
lifecycle (outbox, rebuild, atomic swap, repair) and bad input."""

import datetime as dt
import re

import pytest

from portal import search
from portal.domain.campaigns import add_household, set_quota
from portal.domain.notices import create_notice
from portal.domain.publishing import publish_list
from portal.domain.regions import add_region
from portal.search import store as search_store

from .conftest import CLOCK, ID_KEY, NOW_AT, TODAY, set_now


@pytest.fixture
def indexed(app, published):
    with app.app_context():
        search.rebuild()
    return published


def add_notice(app, db, **fields):
    with app.app_context():
        return create_notice(db, actor="t", role="county_admin", **fields, key=ID_KEY, clock=CLOCK)


def find(app, q, **filters):
    with app.test_request_context():
        return search.search(q, **filters)


def entry_hits(results):
    return [(h["list_id"], h["name"]) for h in results.hits if h["type"] == "entry"]


def doc_ids(results):
    return [f'{h["type"]}:{h["key"]}' for h in results.hits if h["type"] != "entry"]


def test_full_name_finds_every_current_list_masked_as_on_the_list_page(app, client, indexed):
    a, t = indexed["village_a"], indexed["township"]
    assert entry_hits(find(app, "张建国")) == [(a, "张*国"), (t, "张*国")]
    page = client.get("/search", query_string={"q": "张建国"}).get_data(as_text=True)
    assert f'href="/lists/{a}#p1">张*国</a>' in page
    listed = client.get(f"/lists/{a}").get_data(as_text=True)
    assert '<tr id="p1">' in listed and "<td>张*国</td>" in listed


@pytest.mark.parametrize("typed", ["zhangjianguo", "zjg", "ZJG", "ｚｊｇ", "张建国 双星村", "zjg sxc", "双星 张建国"])
def test_the_whole_name_in_characters_pinyin_or_initials_finds_the_household(app, indexed, typed):
    assert (indexed["village_a"], "张*国") in entry_hits(find(app, typed))


@pytest.mark.parametrize("typed", ["建国", "张建", "国", "张", "jianguo", "zhangjian", "zhangj", "zj", "jg",
                                   "张 双星村", "建国 双星村", "张建国国", "zhangjianguoo"])
def test_part_of_a_name_finds_no_household(app, indexed, typed):
    """Issue 17, item 8: the list shows 张*国; if 张建 or zj found it, anyone could recover the hidden
    character by trying common ones."""
    assert entry_hits(find(app, typed)) == []


def test_a_guess_at_the_hidden_character_is_a_whole_name_like_any_other(app, indexed):
    assert entry_hits(find(app, "张明国")) == []
    assert entry_hits(find(app, "张建国")) != []


def test_fragments_still_find_places_and_their_lists(app, indexed):
    for typed in ("双星", "星村", "sx", "shuangxing"):
        assert f"list:{indexed['village_a']}" in doc_ids(find(app, typed)), typed


def test_name_lookups_are_limited_per_address_but_place_searches_are_not(app, client, indexed):
    app.config["NAME_SEARCH_LIMIT_PER_ADDRESS"] = "3 per day"
    for typed in ("张建国", "zjg", "张明国"):
        assert client.get("/search", query_string={"q": typed}).status_code == 200
    for typed in ("双星村", "sxc", "双星"):        # place words only: not a guess at a name
        assert client.get("/search", query_string={"q": typed}).status_code == 200
    refused = client.get("/search", query_string={"q": "张建国 双星村"})
    assert refused.status_code == 429
    page = refused.get_data(as_text=True)
    assert "查找姓名的次数太多了" in page and "张*国" not in page
    places = client.get("/search", query_string={"q": "双星村"})       # lists are still found by their place
    assert places.status_code == 200 and f'href="/lists/{indexed["village_a"]}"' in places.get_data(as_text=True)
    other = client.get("/search", query_string={"q": "张建国"}, environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert other.status_code == 200 and "张*国" in other.get_data(as_text=True)


def test_name_search_can_be_narrowed_to_characters_or_turned_off(app, client, indexed):
    assert "zhangjianguo、zjg" in client.get("/search").get_data(as_text=True)        # the hint offers pinyin
    app.config["NAME_SEARCH"] = "characters"
    assert entry_hits(find(app, "zjg")) == [] and entry_hits(find(app, "zhangjianguo")) == []
    assert entry_hits(find(app, "张建国")) != []
    assert "zhangjianguo" not in client.get("/search").get_data(as_text=True)        # ... only when it works
    app.config["NAME_SEARCH"] = "off"
    assert entry_hits(find(app, "张建国")) == []
    assert f"list:{indexed['village_a']}" in doc_ids(find(app, "双星村"))


def test_an_unknown_name_search_setting_refuses_to_start(tmp_path):
    from portal import create_app

    with pytest.raises(RuntimeError, match="PORTAL_NAME_SEARCH"):
        create_app({"INSTANCE_PATH": str(tmp_path), "NAME_SEARCH": "partial", "LOAD_DEMO": False})


def test_names_in_parts_and_rare_characters_are_found_whole_only(app, db, indexed):
    c = indexed["campaign"]
    add_region(db, "430811100003", "李家岗村", "430811100")
    set_quota(db, c, "430811100003", 10)
    for name, votes in (("阿依古丽·买买提", 20), ("王\U00020000明", 19)):
        add_household(db, campaign_id=c, village_code="430811100003", head_name=name, size=2,
                      applied_on=dt.date(2026, 3, 1), votes=votes, voters_present=30, clock=CLOCK)
    lst = publish_list(db, campaign_id=c, region_code="430811100003", kind="identify", start=TODAY, today=TODAY,
                       key=ID_KEY, clock=CLOCK)
    for typed in ("阿依古丽·买买提", "阿依古丽・买买提", "阿依古丽买买提", "ayigulimaimaiti", "王\U00020000明",
                  "wangheming"):
        assert lst in [h["list_id"] for h in find(app, typed).hits if h["type"] == "entry"], typed
    for typed in ("买买提", "阿依古丽", "王明", "wangming", "maimaiti"):
        assert entry_hits(find(app, typed)) == [], typed


def test_a_place_word_that_is_not_where_the_household_lives_finds_nothing(app, indexed):
    assert entry_hits(find(app, "张建国 河口村")) == []


def test_surname_read_as_a_surname_is_found(app, db, indexed):
    c = indexed["campaign"]
    add_region(db, "430811100003", "李家岗村", "430811100")
    set_quota(db, c, "430811100003", 10)
    add_household(db, campaign_id=c, village_code="430811100003", head_name="单雄信", size=2,
                  applied_on=dt.date(2026, 3, 1), votes=20, voters_present=30, clock=CLOCK)
    lst = publish_list(db, campaign_id=c, region_code="430811100003", kind="identify", start=TODAY, today=TODAY,
                       key=ID_KEY, clock=CLOCK)
    with app.app_context():
        search.apply_outbox()
    for typed in ("shanxiongxin", "sxx", "danxiongxin", "dxx", "单雄信", "ljg"):
        assert lst in [h.get("list_id") or int(h["key"]) for h in find(app, typed).hits], typed


def test_only_current_published_versions_are_found(app, db, indexed):
    assert entry_hits(find(app, "欧阳德胜")) == []     # on version 1 of village A only, removed in version 2
    assert entry_hits(find(app, "王明")) == []         # an applicant who was never on a published list
    add_household(db, campaign_id=indexed["campaign"], village_code="430811100002", head_name="赵卫东", size=1,
                  applied_on=dt.date(2026, 3, 1), votes=1, voters_present=33, clock=CLOCK)
    assert entry_hits(find(app, "赵卫东")) == []       # a draft: entered, not published
    assert db.execute("select count(*) from search_names where key = '王明'").fetchone()[0] == 0


def test_lists_are_found_by_place_and_pinyin_initials_with_filters(app, indexed):
    a, b, t = indexed["village_a"], indexed["village_b"], indexed["township"]
    assert doc_ids(find(app, "sxc")) == [f"list:{a}"]
    assert set(doc_ids(find(app, "索溪峪"))) == {f"list:{a}", f"list:{b}", f"list:{t}"}
    assert doc_ids(find(app, "索溪峪", state="open")) == [f"list:{t}"]
    assert set(doc_ids(find(app, "索溪峪", state="closed"))) == {f"list:{a}", f"list:{b}"}
    assert doc_ids(find(app, "索溪峪", level="township")) == [f"list:{t}"]
    assert doc_ids(find(app, "索溪峪", region="430811100002")) == [f"list:{b}"]
    assert doc_ids(find(app, "索溪峪", kind="exit")) == []
    assert entry_hits(find(app, "张建国", state="open")) == [(t, "张*国")]
    assert entry_hits(find(app, "张建国", level="village")) == [(a, "张*国")]
    assert entry_hits(find(app, "张建国", region="430811100002")) == []


def test_the_matching_words_are_highlighted_and_escaped(app, client, indexed):
    page = client.get("/search", query_string={"q": "双星"}).get_data(as_text=True)
    assert "<mark>双星</mark>村" in page
    assert search.highlight("<b>双星</b>", ["双星"]) == "&lt;b&gt;<mark>双星</mark>&lt;/b&gt;"


def test_pages_of_results_add_up_to_all_results(app, db, indexed):
    # A notice naming 张建国, published before the clock's now: his name finds both.
    add_notice(app, db, region_code="430811100001", title="张建国户情况说明", body="经核实。",
               publish_at="2026-01-05T09:00:00+08:00")
    with app.app_context():
        search.apply_outbox()
    for q in ("索溪峪", "z", "sx", "张建国"):
        whole = find(app, q, per_page=100)
        paged = []
        assert find(app, q, per_page=1).pages == len(whole.hits) == whole.total > 0
        for page in range(1, whole.total + 2):
            paged += find(app, q, page=page, per_page=1).hits
        assert [repr(h) for h in paged] == [repr(h) for h in whole.hits], q
    mixed = find(app, "张建国", per_page=100)
    assert [h["type"] for h in mixed.hits] == ["entry", "entry", "notice"]


def test_content_pages_are_found(app, indexed):
    assert "page:faq" in doc_ids(find(app, "县里"))


def test_a_notice_is_found_only_once_its_time_has_come(app, db, indexed):
    nid = add_notice(app, db, region_code="430811100", title="关于延长公示期的说明", body="因**大雪**延长三天。",
                     publish_at="2026-11-24T09:00:00+08:00")
    with app.app_context():
        search.apply_outbox()
    assert f"notice:{nid}" not in doc_ids(find(app, "延长公示"))
    assert f"notice:{nid}" not in search_ids(app)
    set_now(app, "2026-11-24T09:00:00+08:00")
    with app.app_context():
        search.apply_outbox()
    assert doc_ids(find(app, "延长公示")) == [f"notice:{nid}"]
    assert doc_ids(find(app, "大雪")) == [f"notice:{nid}"]


def search_ids(app):
    with app.app_context():
        return search.indexed_ids()


def test_the_index_holds_exactly_the_published_lists_notices_and_pages(app, db, indexed):
    lists = {f"list:{r[0]}" for r in db.execute("select id from lists")}
    pages = {f"page:{p.stem}" for p in __import__("pathlib").Path(app.config["CONTENT_DIR"]).glob("*.md")}
    assert search_ids(app) == lists | pages


@pytest.mark.parametrize("q", ["", " ", "AND", "OR NOT", '"', "*", "(", ")", "[", "\\", "x" * 201, "张" * 201,
                               "a" * 200, "'; drop table lists; --", "<script>", "%", "_"])
def test_bad_queries_get_a_clear_page_never_a_500(client, indexed, q):
    response = client.get("/search", query_string={"q": q, "page": "abc", "level": "nope", "region": "x"})
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert "<script>" not in text
    assert re.search(r"请输入|太长|没有找到|共找到", text), q


def test_the_search_form_is_a_get_form_without_a_token(client, indexed):
    page = client.get("/search").get_data(as_text=True)
    assert 'method="get"' in page and "csrf_token" not in page and "搜索结果" not in page


def test_a_failed_publication_leaves_no_outbox_row_and_no_name_keys(app, db, indexed):
    before = [db.execute(f"select count(*) from {t}").fetchone()[0] for t in ("search_outbox", "search_names")]
    add_household(db, campaign_id=indexed["campaign"], village_code="430811100002", head_name="钱多多", size=30,
                  applied_on=dt.date(2026, 3, 1), votes=33, voters_present=33, clock=CLOCK)
    with pytest.raises(Exception):
        publish_list(db, campaign_id=indexed["campaign"], region_code="430811100002", kind="identify", start=TODAY,
                     today=TODAY, key=ID_KEY, clock=CLOCK)
    after = [db.execute(f"select count(*) from {t}").fetchone()[0] for t in ("search_outbox", "search_names")]
    assert after == before


# --- Index lifecycle ---------------------------------------------------------------------------


def test_reindex_swaps_in_a_new_directory_atomically(app, runner, indexed):
    with app.app_context():
        first = search.current_dir()
    result = runner.invoke(args=["reindex", "--keys"])
    assert result.exit_code == 0, result.output
    assert "Search index rebuilt: 3 lists" in result.output
    with app.app_context():
        second = search.current_dir()
    assert second != first and first.exists() and (first.parent / "current").is_symlink()
    assert doc_ids(find(app, "sxc")) == [f"list:{indexed['village_a']}"]


@pytest.mark.parametrize("damage", ["garble", "delete"])
def test_a_broken_index_is_reported_then_rebuilt_while_names_still_work(app, client, indexed, damage):
    with app.app_context():
        ix_dir = search.current_dir()
    for f in ix_dir.iterdir():
        if damage == "garble":
            f.write_bytes(b"\0garbage" * 10)
        else:
            f.unlink()
    search_store._reader.clear()
    page = client.get("/search", query_string={"q": "张建国"}).get_data(as_text=True)
    assert "正在重建" in page and "张*国" in page
    with app.app_context():
        search.run_indexer(once=True)
    page = client.get("/search", query_string={"q": "sxc"}).get_data(as_text=True)
    assert "正在重建" not in page and "双星" in page


def test_a_searcher_kept_open_across_updates_answers_as_a_fresh_one(app, db, indexed):
    queries = ["索溪峪", "sxc", "公告", "延长", "双星", "wly"]
    find(app, "索溪峪")                                # open and keep a searcher
    for i in range(12):
        add_notice(app, db, region_code="430811100", title=f"公告第{i}号 延长", body="正文" * i,
                   publish_at="2026-11-20T09:00:00+08:00")
        with app.app_context():
            search.apply_outbox(batch=1 + i % 3)
    kept = [[repr(h) for h in find(app, q, per_page=100).hits] for q in queries]
    search_store._reader.clear()                               # forget it: the next search opens a fresh one
    fresh = [[repr(h) for h in find(app, q, per_page=100).hits] for q in queries]
    assert kept == fresh
    assert len([h for h in fresh[2] if "notice" in h]) == 12


def test_a_word_that_is_both_a_place_and_initials_still_finds_the_household(app, db, indexed):
    # 张建国's initials zjg; a village whose initials are also zjg makes the word ambiguous.
    add_region(db, "430811100004", "张家岗村", "430811100")
    assert (indexed["village_a"], "张*国") in entry_hits(find(app, "zjg sxc"))
    assert (indexed["village_a"], "张*国") in entry_hits(find(app, "sxc zjg"))
    # ... and a place alone lists the place's lists, not everyone who lives there.
    assert entry_hits(find(app, "sxc")) == []


def test_applied_outbox_rows_are_pruned_after_a_week(app, db, indexed, monkeypatch):
    def ago(days):          # days before the app's (stopped) clock, as the outbox stores times
        return (NOW_AT - dt.timedelta(days=days)).astimezone(dt.UTC).isoformat(timespec="microseconds")

    list_id = next(db.query("select id from lists order by id"))["id"]
    for days in (10, 9, 8, 1):
        db.execute("insert into search_outbox (doc, at) values (?, ?)", [f"list:{list_id}", ago(days)])
    db.conn.commit()
    monkeypatch.setattr(search_store, "_next_prune", 0.0)
    with app.app_context():
        assert search.apply_outbox() == 1                  # the four rows are applied (one document) ...
        assert db["search_outbox"].count >= 4              # ... and nothing is pruned while there was work
        assert search.apply_outbox() == 0                  # idle: the applied rows older than a week go
    left = [r["at"] for r in db.query("select at from search_outbox")]
    assert len(left) >= 1 and all(at > ago(7) for at in left)
    assert search_store._next_prune > 0                          # and not again for an hour
    db.execute("insert into search_outbox (doc, at) values (?, ?)", ["pages", ago(30)])
    db.conn.commit()
    newest = db.execute("select max(id) from search_outbox").fetchone()[0]
    assert search.prune_outbox(db, newest - 1, CLOCK) == 0        # not applied yet: kept, however old
    assert search.prune_outbox(db, newest, CLOCK) == 1


def test_migration_0013_drops_the_fragment_keys_of_older_databases(tmp_path):
    from portal.db import connect, migrations
    from portal.runtime import upgrade

    db = connect(str(tmp_path / "old.db"))
    migrations.apply(db, stop_before="0013_whole_name_keys")
    db.execute("delete from meta")                        # an older portal had rebuilt its keys then
    db.execute("insert into search_names (key, household_id) values ('建国', 1), ('jg', 1)")
    db.conn.commit()
    assert upgrade(db)[:1] == ["0013_whole_name_keys"]       # (later migrations follow it)
    assert db.execute("select count(*) from search_names").fetchone()[0] == 0     # no list published yet
    db.close()


def test_a_start_that_died_before_the_key_rebuild_rebuilds_at_the_next(tmp_path):
    """The migration leaves its mark in its own transaction; the rebuild clears it in another."""
    from portal.db import KEYS_STALE, connect, migrations
    from portal.runtime import upgrade

    db = connect(str(tmp_path / "old.db"))
    migrations.apply(db)                                  # migrated, then the process died
    assert next(db.query("select 1 from meta where key = ?", [KEYS_STALE]), None)
    db.execute("insert into search_names (key, household_id) values ('建国', 1)")
    db.conn.commit()
    assert upgrade(db) == []                              # nothing left to migrate, but the mark is seen
    assert db.execute("select count(*) from search_names").fetchone()[0] == 0
    assert next(db.query("select 1 from meta where key = ?", [KEYS_STALE]), None) is None
    db.close()


def test_few_matches_are_ordered_as_whoosh_orders_many(tmp_path, monkeypatch):
    """Queries matching few documents are put in order from their stored titles (query._ordered_docs);
    the order is the one whoosh's facets give: title matches first, then the newest."""
    from portal import create_app
    from portal.search import query as search_query

    app = create_app({"INSTANCE_PATH": str(tmp_path / "i"), "LOAD_DEMO": True, "NOW": "2026-11-23T10:00:00+08:00",
                      "TESTING": True})
    queries = ["双星村", "公示", "名单", "脱贫", "村 公示", "石家峪", "演示", "返贫"]

    def answers():
        with app.test_request_context():
            return {q: [(h["type"], h.get("key")) for h in search.search(q, per_page=100).hits] for q in queries}

    with app.app_context():
        search.rebuild()
    here = answers()
    monkeypatch.setattr(search_query, "SMALL_RESULTS", 1)           # whoosh orders all (but a single hit)
    assert answers() == here
    assert [q for q in queries if not here[q]] == []
    titles_first = here["双星村"]
    assert titles_first and titles_first[0][0] == "list"
