"""Household heads' names are names (issue 17, item 3), and no spreadsheet the portal writes runs a
formula (OWASP CSV injection)."""

import csv
import io

import pytest

from portal.domain import spreadsheet
from portal.domain.campaigns import add_household
from portal.domain.privacy import name_problem, normalise_name
from portal.domain.publishing import publish_list
from portal.importer import Scope, import_file

from .conftest import CLOCK, ID_KEY, TODAY, login

W = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
VILLAGE_A = "430811100001"


@pytest.mark.parametrize("raw, stored", [
    ("张建国", "张建国"), ("  欧阳德胜 ", "欧阳德胜"), ("𠀀𪚥", "𠀀𪚥"),            # CJK extension B
    ("䶮", "䶮"), ("阿依古丽·买买提", "阿依古丽·买买提"), ("阿依古丽・买买提", "阿依古丽·买买提"),
    ("热依拉•吐尔逊", "热依拉·吐尔逊"), ("李〇", "李〇"),
])
def test_names_people_have_are_accepted_with_the_dot_made_one(raw, stored):
    assert normalise_name(raw) == stored and name_problem(stored) is None


@pytest.mark.parametrize("raw, says", [
    ("<script>alert(1)</script>", "“<”"), ("=HYPERLINK(\"http://x\")", "“=”"), ("张\x07三", "控制字符 U+0007"),
    ("张\u202e三", "控制字符 U+202E"), ("赵甲01", "“0”"), ("John", "拉丁字母"), ("·张三", "只能用在姓名中间"),
    ("张··三", "只能用在姓名中间"), ("张 三", "不能有空格"), ("", "不能为空"), ("王" * 31, "太长"),
])
def test_anything_else_is_refused_in_chinese(raw, says):
    assert says in name_problem(normalise_name(raw))


def test_latin_letters_only_with_the_setting():
    assert name_problem("John Smith") is not None and name_problem("John Smith", latin=True) is None
    assert name_problem("John  Smith", latin=True) is not None and name_problem("=cmd", latin=True) is not None


def _id(n: int) -> str:
    body = f"43089919900101{n:03d}"
    return body + "10X98765432"[sum(int(x) * w for x, w in zip(body, W)) % 11]


def _import(db, county, tmp_path, names, latin=False):
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["户主姓名", "身份证号", "家庭人口", "得票数", "参评人数"])
    writer.writerows([name, _id(i), 2, 10, 30] for i, name in enumerate(names))
    path = tmp_path / "names.csv"
    path.write_text(out.getvalue(), encoding="utf-8")
    return import_file(db, path, kind="applicants",
                       scope=Scope(county["campaign"], VILLAGE_A, "t", "village_clerk", ID_KEY, CLOCK, latin))


def test_import_names_the_rows_with_bad_names_and_writes_nothing(db, county, tmp_path):
    before = db["households"].count
    report = _import(db, county, tmp_path, ["钱一", "<script>alert(1)</script>", "=HYPERLINK(\"x\")", "钱\x07二",
                                            "阿依古丽・买买提", "John Smith"])
    assert not report.ok and db["households"].count == before
    rows = {p.row: p for p in report.errors}
    assert sorted(rows) == [3, 4, 5, 7]
    assert "“<”" in rows[3].message and "“=”" in rows[4].message and "控制字符" in rows[5].message
    assert "拉丁字母" in rows[7].message
    assert rows[5].value == "钱?二"                                 # no control character in the report
    report_csv = report.csv_text()
    assert "'=HYPERLINK" in report_csv and ",=HYPERLINK" not in report_csv and '"=HYPERLINK' not in report_csv


def test_import_stores_the_normalised_name_and_latin_with_the_setting(db, county, tmp_path):
    report = _import(db, county, tmp_path, ["阿依古丽・买买提", "John Smith"], latin=True)
    assert report.ok, report.problems
    names = {r["head_name"] for r in db.query("select head_name from households")}
    assert {"阿依古丽·买买提", "John Smith"} <= names


def test_entry_form_refuses_a_bad_name_and_normalises_a_good_one(app, client, db, staff):
    login(client, "clerk")
    form = {"size": 2, "income_per_capita": 1800, "applied_on": "2026-03-01", "votes": 3, "voters_present": 30,
            "group_code": ""}
    url = f"/staff/r/{VILLAGE_A}/applicants/new?campaign={staff['campaign']}"
    response = client.post(url, data={**form, "head_name": "=HYPERLINK(\"x\")"})
    assert response.status_code == 400 and "户主姓名里有不能用的字符" in response.get_data(as_text=True)
    assert client.post(url, data={**form, "head_name": "阿依古丽・买买提"}).status_code == 302
    assert next(db.query("select 1 from households where head_name = '阿依古丽·买买提'"), None)
    app.config["NAME_LATIN"] = True
    assert client.post(url, data={**form, "head_name": "John Smith"}).status_code == 302
    with pytest.raises(ValueError, match="拉丁字母"):
        add_household(db, campaign_id=staff["campaign"], village_code=VILLAGE_A, head_name="Jane", size=1,
                      applied_on=TODAY, clock=CLOCK)


def test_safe_cell():
    assert [spreadsheet.safe_cell(v) for v in ("=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx", "张三", 5, -5, "")] == \
        ["'=1+1", "'+1", "'-1", "'@SUM(A1)", "'\tx", "'\rx", "张三", 5, -5, ""]


def test_public_csv_of_a_name_stored_before_the_check_runs_no_formula(app, client, db, county):
    """A name imported before names were checked stays on record; its CSV cell is quoted."""
    hid = add_household(db, campaign_id=county["campaign"], village_code=VILLAGE_A, head_name="钱多", size=1,
                        applied_on=TODAY, votes=31, voters_present=32, clock=CLOCK)
    db.execute("update households set head_name = '=HYPERLINK(\"http://evil\")' where id = ?", [hid])
    db.conn.commit()
    list_id = publish_list(db, campaign_id=county["campaign"], region_code=VILLAGE_A, kind="identify", start=TODAY,
                           today=TODAY, key=ID_KEY, clock=CLOCK)
    app.config["NAME_DISPLAY"] = "full"
    rows = list(csv.reader(io.StringIO(client.get(f"/lists/{list_id}.csv").get_data(as_text=True).lstrip("\ufeff"))))
    names = [r[3] for r in rows[1:]]
    assert "'=HYPERLINK(\"http://evil\")" in names and not any(n.startswith("=") for n in names)
