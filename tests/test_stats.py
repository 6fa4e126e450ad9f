"""The public statistics pages (issue 21, item 1): figures of the demo, the CSV and JSON matching
the page, and the pages staying small and free of names."""

from __future__ import annotations

import csv
import io
import json
import statistics
import re

import pytest

from portal import create_app
from portal.domain import stats
from portal.ops.demo_cases import CASES

from .conftest import NOW

COUNTY, TOWNSHIP, VILLAGE = "430811", "430811100", "430811100001"


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    app = create_app({"INSTANCE_PATH": str(tmp_path_factory.mktemp("stats") / "i"), "LOAD_DEMO": True, "NOW": NOW,
                      "TESTING": True})
    return app.test_client()


def page_figures(html: str) -> dict[tuple[str, str], str]:
    """(region code, figure key) -> the cell's text, from every figures table of a page."""
    out = {}
    for code, cells in re.findall(r'<tr><th scope="row" data-code="(\d*)">.*?</th>(.*?)</tr>', html, flags=re.DOTALL):
        for key, value in re.findall(r'<td data-figure="(\w+)">([^<]*)</td>', cells):
            out[(code, key)] = value
    return out


def csv_figures(body: str) -> dict[tuple[str, str], str]:
    names = {name: key for key, name, _ in stats.FIGURES}
    rows = list(csv.reader(io.StringIO(body.lstrip("\ufeff"))))
    assert rows[0] == ["地区代码", "地区", "指标", "数值", "单位"]
    return {(r[0], names[r[2]]): r[3] for r in rows[1:] if r[2] in names}


@pytest.mark.parametrize("path", ["/stats", f"/stats/{COUNTY}", f"/stats/{TOWNSHIP}", f"/stats/{VILLAGE}"])
def test_each_page_matches_its_csv_and_json(client, path):
    page = client.get(path)
    assert page.status_code == 200 and len(page.data) < 30_000
    html = page.get_data(as_text=True)
    assert f'href="{path}.csv"' in html and f'href="{path}.json"' in html      # the page links its data
    shown = page_figures(html)
    assert len(shown) >= len(stats.FIGURES)
    from_csv = csv_figures(client.get(path + ".csv").get_data(as_text=True))
    assert {k: ("—" if v == "" else v) for k, v in from_csv.items()} == shown
    data = json.loads(client.get(path + ".json").data)
    for row in ([data["total"]] if data["total"] else []) + data["rows"]:
        for key, value in row["values"].items():
            assert shown[(row["code"], key)] == ("—" if value is None else str(value))


def test_county_figures_are_the_demo_s(client):
    data = json.loads(client.get(f"/stats/{COUNTY}.json").data)
    values = data["total"]["values"]
    took = sorted(days + 0.25 for _, _, _, days, _, _ in CASES)     # filed at 10:00, concluded at 16:00
    assert values["complaints"] == len(CASES) + 1 and values["open"] == 1 and values["overdue"] == 0
    assert values["dismissed"] == sum(c[4] == "dismissed" for c in CASES) and values["partly"] == 1
    assert values["days_median"] == round(statistics.median(took), 1)
    assert values["days_p90"] == round(took[-1], 1)
    assert values["quota"] == 6200 and 0 < values["used"] <= values["quota"]
    assert values["sampled"] > 0 and values["sample_wrong"] == 0
    assert values["replacements"] == 1
    assert sum(r["values"]["complaints"] for r in data["rows"]) == values["complaints"]
    kinds = data["total"]["lists_by_kind"]
    assert sum(sum(s.values()) for s in kinds.values()) == values["lists"]
    assert kinds["identify"]["open"] + kinds["exit"]["open"] + kinds["remove"]["open"] == values["lists_open"]


def test_charts_are_inline_svg_with_title_and_summary(client):
    html = client.get(f"/stats/{COUNTY}").get_data(as_text=True)
    assert "<script" not in html
    charts = re.findall(r'<svg class="chart".*?</svg>', html, flags=re.DOTALL)
    assert len(charts) == 3
    for svg in charts:
        assert 'role="img"' in svg and "<title id=" in svg and "<desc id=" in svg


def test_no_names_on_the_figures(client):
    for path in ("/stats", "/stats.csv", "/stats.json", f"/stats/{COUNTY}", f"/stats/{COUNTY}.csv", f"/stats/{COUNTY}.json"):
        body = client.get(path).get_data(as_text=True)
        assert "滕子健" not in body and "*" not in body


@pytest.mark.parametrize("path", ["/stats/430811100001001", "/stats/999999", "/stats/abc", "/stats/999999.csv"])
def test_groups_and_unknown_regions_are_not_found(client, path):
    assert client.get(path).status_code == 404


def test_nearest_rank():
    assert stats.nearest_rank([], 0.5) is None
    assert stats.nearest_rank([5.0], 0.9) == 5.0
    assert stats.nearest_rank([4, 1, 3, 2], 0.5) == 2 and stats.nearest_rank([4, 1, 3, 2], 0.9) == 4
    assert stats.nearest_rank(list(range(1, 11)), 0.9) == 9
