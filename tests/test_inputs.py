"""Malformed input answers 400 in Chinese, never 500 (issue 17, item 6): Unicode digits that pass
``str.isdigit()``, numbers past 64 bits and bytes that are not UTF-8, sent to every route of the URL
map as a citizen and as staff, in the query string, the path and form bodies."""

import csv
import io

import pytest

from portal.domain.numbers import parse_int

from .conftest import ROLE_USERS, login
from .test_staff_matrix import _import_token, build, targets  # noqa: F401  (fixture)

BAD_NUMBERS = ["²", "①", "𐩀", "٣", "99999999999999999999", "-1", "1e3", " 1", "0x10"]
PARAMS = ["campaign", "page", "list", "entry", "v", "village", "q", "level", "kind", "state", "next", "code", "region"]
NOT_UTF8 = ["q=%FF%FE", "q=\xff\xfe", "campaign=%C0%AF"]


def test_parse_int():
    assert [parse_int(v) for v in ("0", "42", "9223372036854775807")] == [0, 42, 2**63 - 1]
    assert all(parse_int(v) is None for v in [*BAD_NUMBERS, "", None, "9223372036854775808"])
    assert parse_int("5", low=1, high=4) is None and parse_int("4", low=1, high=4) == 4


def _routes(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, method


def _check(response, what):
    assert response.status_code < 500, f"{what}: {response.status_code}"
    if response.status_code == 400:     # the portal's Chinese page (an error page or the form with its errors)
        body = response.get_data(as_text=True)
        assert 'lang="zh-CN"' in body and "Bad Request" not in body, what


@pytest.mark.parametrize("role", [None, "county_admin", "village_clerk"])
def test_no_shape_of_input_gets_a_500_anywhere(app, db, role, targets, staff):  # noqa: F811
    inside, _, _ = targets
    inside = {**inside, "name": "portal.css", "slug": "faq", "fmt": "atom", "notice_id": 1}
    client = app.test_client()
    if role:
        login(client, ROLE_USERS[role][0])
        inside = {**inside, "token": _import_token(app, db, ROLE_USERS[role][0], inside["code"])}
    sent = 0
    for rule, method in _routes(app):
        if rule.endpoint in ("accounts.logout",):
            continue
        url = build(app, rule, inside)
        shapes = [f"?{'&'.join(f'{p}={v}' for p in PARAMS)}" for v in BAD_NUMBERS]
        shapes += [f"?list={inside['list_id']}&entry={v}" for v in BAD_NUMBERS[:5]]
        shapes += [f"?list={inside['list_id']}&entry=1&v={v}" for v in BAD_NUMBERS[:5]]
        for shape in shapes:
            if method == "GET":
                _check(client.get(url + shape), f"GET {url}{shape}")
            else:
                data = {name: BAD_NUMBERS[len(shape) % len(BAD_NUMBERS)] for name in
                        ("list_id", "entry", "size", "votes", "voters_present", "income_per_capita", "household",
                         "investigator", "persons", "reserve", "start", "due_on", "expected", "ground", "text")}
                _check(client.open(url + shape, method=method, data=data), f"{method} {url}{shape}")
            sent += 1
        for query in NOT_UTF8:
            response = client.open(url, method=method, environ_overrides={"QUERY_STRING": query})
            assert response.status_code == 400 and "请求有误" in response.get_data(as_text=True), (url, query)
        if method == "POST":
            response = client.post(url, data=b"text=%FF%FE&name=\xff", content_type="application/x-www-form-urlencoded")
            assert response.status_code == 400, url
    response = client.get("/", environ_overrides={"PATH_INFO": "/lists/\xff\xfe"})
    assert response.status_code == 400 and "请求有误" in response.get_data(as_text=True)
    assert sent > 500


def test_offline_registration_with_unicode_digits(app, client, staff):
    login(client, "reviewer")
    for field, value in (("list_id", "²"), ("list_id", "99999999999999999999"), ("entry", "①")):
        data = {"channel": "phone", "list_id": str(staff["township"]), "entry": "", "region": "430811100",
                "ground": "procedure", "text": "电话反映", field: value}
        response = client.post("/staff/complaints/new", data=data)
        assert response.status_code == 400, (field, value)


def _csv(path, size):
    out = io.StringIO()
    csv.writer(out).writerows([["户主姓名", "身份证号", "家庭人口", "得票数", "参评人数"],
                               ["钱一", "430899199001010013", size, 10, 30]])
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


# ("²" and "①" are folded to "2" and "1" by the reader's NFKC, like full-width digits.)
@pytest.mark.parametrize("size", ["𐩀", "٣", "99999999999999999999", "3.5"])
def test_import_with_a_strange_number_names_the_cell(runner, app, county, tmp_path, size):
    result = runner.invoke(args=["import", str(_csv(tmp_path / "a.csv", size)), "--kind", "applicants",
                                 "--campaign", str(county["campaign"]), "--region", "430811100001"])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert "第 2 行" in result.output and "家庭人口" in result.output, result.output


def test_console_import_with_a_strange_number(app, client, staff, tmp_path):
    login(client, "clerk")
    path = _csv(tmp_path / "a.csv", "𐩀")
    with open(path, "rb") as f:
        response = client.post(f"/staff/r/430811100001/import?campaign={staff['campaign']}",
                               data={"kind": "applicants", "file": (f, "a.csv")}, content_type="multipart/form-data")
    page = response.get_data(as_text=True)
    assert response.status_code < 500 and "家庭人口" in page and "应填整数" in page
