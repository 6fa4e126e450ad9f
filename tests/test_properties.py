"""Property tests of the rules (issue 16): random campaigns, quotas, votes, reports and staff actions
in random order, and after every step the invariants hold —

- a list never holds more persons than its quota (nor a village's part of an upper list more than
  the village's quota);
- a list never holds a disqualified household, nor one out of the campaign's scope (五保);
- every household added after the first version is the next fitting household of its village's
  ranking as published (recomputed here from the ``rankings`` rows, independently of the portal:
  低保 households first, 五保 households never — the default scope of a campaign);
- a level never opens while a lower window is open or a report filed inside one is still open.

Seeded and bounded (derandomize, a fixed number of examples): the same cases run on every machine.
"""

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portal.db import connect, migrate, write_transaction
from portal.domain import rules, sampling
from portal.domain.campaigns import add_household, create_campaign, get_campaign, get_quota, set_quota
from portal.domain.complaints import file_complaint
from portal.domain.publishing import PublishError, amend_list, publish_list
from portal.domain.regions import add_region
from portal.domain.replacement import confirm

from .conftest import CLOCK, ID_KEY, TODAY, clock_at, disqualify, han

TOWNSHIP = "430811100"
SETTINGS = settings(max_examples=40, derandomize=True, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

# (size, votes, civil-affairs status: mostly none, some 低保, some 五保)
applicant = st.tuples(st.integers(1, 6), st.integers(0, 40), st.sampled_from(["", "", "", "dibao", "wubao"]))
village = st.tuples(st.integers(3, 16), st.lists(applicant, min_size=1, max_size=7))   # (quota, applicants)
action = st.one_of(
    st.tuples(st.just("uphold"), st.integers(0, 99), st.integers(0, 9)),         # which list, which entry
    st.tuples(st.just("amend"), st.integers(0, 99), st.lists(st.integers(0, 99), max_size=8)),
    st.tuples(st.just("report"), st.integers(0, 99), st.integers(0, 9)),         # which list, which day
    st.tuples(st.just("conclude"), st.integers(0, 99)),
    st.tuples(st.just("spotcheck"), st.integers(0, 99)),                          # the township checks a list
    st.tuples(st.just("township"), st.integers(0, 20), st.integers(0, 10)),      # publish on a day, start later
)


def build(db, villages):
    add_region(db, "430811", "武陵源区")
    add_region(db, TOWNSHIP, "索溪峪镇", "430811")
    campaign = create_campaign(db, county_code="430811", name="性质测试", reference_date=dt.date(2025, 12, 31),
                               income_line=2736, clock=CLOCK)
    set_quota(db, campaign, "430811", 1000)
    set_quota(db, campaign, TOWNSHIP, sum(q for q, _ in villages))
    codes = []
    for i, (quota, people) in enumerate(villages):
        code = f"{TOWNSHIP}{i + 1:03d}"
        add_region(db, code, f"第{i + 1}村", TOWNSHIP)
        set_quota(db, campaign, code, quota)
        for j, (size, votes, status) in enumerate(people):
            add_household(db, campaign_id=campaign, village_code=code, head_name=f"户{han(i)}{han(j)}", size=size,
                          applied_on=dt.date(2026, 3, 1 + j), votes=votes, voters_present=40,
                          dibao=status == "dibao", wubao=status == "wubao", clock=CLOCK)
        codes.append(code)
    return campaign, codes


def current_entries(db, list_id):
    return list(db.query("select e.household_id, e.village_code, e.size from list_entries e join lists l "
                         "on l.id = e.list_id and e.version = l.current_version where l.id = ? order by e.position",
                         [list_id]))


def check_invariants(db, campaign):
    disqualified = {r[0] for r in db.execute("select household_id from disqualifications")}
    disqualified |= {r[0] for r in db.execute("select id from households where wubao = 1")}
    for lst in db.query("select * from lists where campaign_id = ?", [campaign]):
        entries = current_entries(db, lst["id"])
        assert sum(e["size"] for e in entries) <= get_quota(db, campaign, lst["region_code"])["persons"]
        for code in {e["village_code"] for e in entries}:
            assert sum(e["size"] for e in entries if e["village_code"] == code) <= get_quota(db, campaign, code)["persons"]
        assert not {e["household_id"] for e in entries} & disqualified


def township_may_open(db, campaign, codes, day):
    """Independently of the portal: every village list closed before ``day`` and no report filed in
    a village window still open."""
    for code in codes:
        row = next(db.query("select l.id, v.window_end from lists l join list_versions v on v.list_id = l.id "
                            "and v.version = l.current_version where l.region_code = ?", [code]), None)
        if row is None or dt.date.fromisoformat(row["window_end"]) >= day:
            return False
        if db.execute("select count(*) from complaints where list_id = ? and within_window = 1 "
                      "and status != 'concluded'", [row["id"]]).fetchone()[0]:
            return False
        # Rule 12: the township has spot-checked the list and recorded every sampled entry (all 属实 here).
        if not db.execute("select count(*) from spot_checks c where c.list_id = ? and not exists (select 1 from "
                          "spot_check_items i where i.check_id = c.id and i.result is null)", [row["id"]]).fetchone()[0]:
            return False
    return True


@SETTINGS
@given(villages=st.lists(village, min_size=1, max_size=3), actions=st.lists(action, max_size=12))
def test_no_sequence_of_staff_actions_breaks_the_rules(tmp_path_factory, villages, actions):
    db = connect(str(tmp_path_factory.mktemp("prop") / "p.db"))
    migrate(db)
    try:
        campaign, codes = build(db, villages)
        lists = [publish_list(db, campaign_id=campaign, region_code=code, kind="identify", start=TODAY, today=TODAY,
                              key=ID_KEY, clock=CLOCK) for code in codes]
        check_invariants(db, campaign)
        for list_id, code in zip(lists, codes):     # the first version is the scope rules' walk of the ranking
            first = {e["household_id"] for e in current_entries(db, list_id)}
            assert first == next_fitting(db, campaign, db["lists"].get(list_id), [], code, 0)
        for act in actions:
            run(db, campaign, codes, lists, act)
            check_invariants(db, campaign)
    finally:
        db.close()


def run(db, campaign, codes, lists, act):
    kind = act[0]
    day = lambda n: TODAY + dt.timedelta(days=n)  # noqa: E731
    if kind in ("uphold", "amend"):
        lst = db["lists"].get(lists[act[1] % len(lists)])
        entries = current_entries(db, lst["id"])
        if kind == "uphold" and entries:
            target = entries[act[2] % len(entries)]
            kept = [e for e in entries if e["household_id"] != target["household_id"]]
            want = next_fitting(db, campaign, lst, kept, target["village_code"], lst["current_version"])
            try:
                p = confirm(db, list_id=lst["id"], household_id=target["household_id"], ground="举报查实",
                            expected=None, actor="t", role="t", key=ID_KEY, today=TODAY, start=TODAY, clock=CLOCK)
            except PublishError:
                return                       # e.g. the next level has published: refused, nothing written
            assert set(p.replacements) == want
        elif kind == "amend":
            # Any set of the campaign's households, marking the dropped ones as disqualified half the time.
            everyone = [r[0] for r in db.execute("select id from households where campaign_id = ?", [campaign])]
            chosen = sorted({everyone[i % len(everyone)] for i in act[2]})
            before = {e["household_id"] for e in entries}
            version = lst["current_version"]
            try:
                with write_transaction(db):     # the ground and the amendment stand or fall together
                    if act[1] % 2:
                        gone = before - set(chosen) - {r[0] for r in db.execute("select household_id from disqualifications")}
                        disqualify(db, lst["id"], *gone)
                    amend_list(db, lst["id"], household_ids=chosen, note="更正", key=ID_KEY, today=TODAY, start=TODAY,
                               clock=CLOCK)
            except (PublishError, rules.QuotaError):
                assert db["lists"].get(lst["id"])["current_version"] == version
                return
            added, removed = set(chosen) - before, before - set(chosen)
            village_of = {r[0]: r[1] for r in db.execute("select id, village_code from households where campaign_id = ?",
                                                         [campaign])}
            touched = {village_of[h] for h in added | removed}
            # The portal let it through: a new version that is exactly rule 8 for the one village it touched.
            assert db["lists"].get(lst["id"])["current_version"] == version + 1 and len(touched) <= 1
            kept = [e for e in entries if e["household_id"] in set(chosen)]
            for code in touched:
                assert added == next_fitting(db, campaign, lst, kept, code, version)
    elif kind == "report":
        lst = db["lists"].get(lists[act[1] % len(lists)])
        try:
            file_complaint(db, list_id=lst["id"], household_id=None, region_code=None, ground="procedure", text="程序有问题",
                           about_committee=False, anonymous=True, name="", phone="", files=[], key=ID_KEY,
                           clock=clock_at(dt.datetime.combine(day(act[2]), dt.time(10), tzinfo=CLOCK.zone)))
        except ValueError:
            pass
    elif kind == "spotcheck":
        list_id = lists[act[1] % len(lists)]
        try:
            check_id = sampling.draw_check(db, campaign=get_campaign(db, campaign), list_id=list_id, actor="t",
                                           role="township_reviewer", key=ID_KEY, clock=CLOCK)
        except PublishError as error:           # once per version
            assert "已经抽查过" in str(error)
        else:
            check = sampling.latest(db, list_id)
            population = len(current_entries(db, list_id))
            assert check["size"] == (max(1, -(-population * 20 // 100)) if population else 0)
            for item in check["items"]:
                sampling.record_result(db, check_id=check_id, position=item["position"], result="true", note="",
                                       actor="t", role="township_reviewer", key=ID_KEY, clock=CLOCK)
    elif kind == "conclude":
        open_ids = [r[0] for r in db.execute("select id from complaints where status != 'concluded' order by id")]
        if open_ids:
            db.execute("update complaints set status = 'concluded', outcome = 'dismissed' where id = ?",
                       [open_ids[act[1] % len(open_ids)]])
            db.conn.commit()
    elif kind == "township":
        on = day(act[1])
        allowed = township_may_open(db, campaign, codes, on)
        try:
            publish_list(db, campaign_id=campaign, region_code=TOWNSHIP, kind="identify", start=on + dt.timedelta(days=act[2]), today=on,
                         key=ID_KEY, clock=clock_at(dt.datetime.combine(on, dt.time(9), tzinfo=CLOCK.zone)))
        except PublishError as error:
            assert not allowed or "已经公示过" in str(error), str(error)
        else:
            assert allowed


def next_fitting(db, campaign, lst, kept, village_code, version):
    """Rule 8 recomputed from the ranking of record: walk it in rank order and take each household
    that fits what ``kept`` leaves free (households on ``version`` and disqualified ones are not
    candidates)."""
    ranking = list(db.query("select r.household_id, r.size from rankings r join lists l on l.id = r.list_id "
                            "where l.campaign_id = ? and l.region_code = ? and not r.wubao order by not r.dibao, r.rank",
                            [campaign, village_code]))
    disqualified = {r[0] for r in db.execute("select household_id from disqualifications")}
    on_list = {r[0] for r in db.execute("select household_id from list_entries where list_id = ? and version = ?",
                                        [lst["id"], version])}
    free = get_quota(db, campaign, lst["region_code"])["persons"] - sum(e["size"] for e in kept)
    if lst["level"] != "village":
        free = min(free, get_quota(db, campaign, village_code)["persons"]
                   - sum(e["size"] for e in kept if e["village_code"] == village_code))
    taken = set()
    for r in ranking:
        if r["household_id"] not in on_list and r["household_id"] not in disqualified and r["size"] <= free:
            taken.add(r["household_id"])
            free -= r["size"]
    return taken


def test_the_property_test_sees_a_broken_rule():
    """The checks bite: a list over its quota is caught by check_invariants."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        db = connect(folder + "/p.db")
        migrate(db)
        campaign, codes = build(db, [(5, [(3, 10, ""), (2, 9, ""), (4, 8, "")])])
        publish_list(db, campaign_id=campaign, region_code=codes[0], kind="identify", start=TODAY, today=TODAY,
                     key=ID_KEY, clock=CLOCK)
        db.execute("update quotas set persons = 4 where region_code = ?", [codes[0]])   # behind the rules' back
        with pytest.raises(AssertionError):
            check_invariants(db, campaign)
        db.close()
