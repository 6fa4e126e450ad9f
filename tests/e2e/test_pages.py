"""Every public page: valid HTML (Nu checker), axe WCAG 2.1 AA, ≤ 30 KB over the wire, no JS."""

from __future__ import annotations

import pytest

from portal import create_app

from .checks import axe_violations, vnu_errors, weigh
from .pages import DATA_ROUTES, ERROR_PAGES, HTML_PAGES, STAFF_PAGES

ALL_PAGES = [p for paths in HTML_PAGES.values() for p in paths] + ERROR_PAGES + STAFF_PAGES


def test_every_public_route_has_checks(tmp_path):
    """A new route fails here until it is listed in pages.py with sample pages (or as data)."""
    app = create_app({"INSTANCE_PATH": str(tmp_path), "LOAD_DEMO": False})
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()
                 if not rule.rule.startswith("/staff")}
    unlisted = endpoints - set(HTML_PAGES) - set(DATA_ROUTES)
    assert not unlisted, f"public routes without page checks: {sorted(unlisted)}"
    assert not (set(HTML_PAGES) | set(DATA_ROUTES)) - endpoints, "pages.py lists routes that no longer exist"


def test_pages_are_valid_html(live_server, tmp_path):
    files = []
    for i, path in enumerate(ALL_PAGES):
        f = tmp_path / f"page{i}.html"
        f.write_text(weigh(live_server + path).html, encoding="utf-8")
        files.append(f)
    errors = vnu_errors(files)
    found = {ALL_PAGES[i]: errors[f.name] for i, f in enumerate(files) if errors[f.name]}
    assert found == {}


@pytest.mark.parametrize("path", ALL_PAGES)
def test_page_weight_and_no_javascript(live_server, path):
    report = weigh(live_server + path)
    assert report.problems == [], report.problems
    assert 'lang="zh-CN"' in report.html


@pytest.mark.parametrize("path", ALL_PAGES)
def test_page_has_no_accessibility_violations(live_server, open_context, path):
    page = open_context().new_page()
    page.goto(live_server + path)
    assert axe_violations(page) == []


@pytest.mark.parametrize("path", ALL_PAGES)
def test_page_fits_a_phone_without_sideways_scrolling(live_server, open_context, path):
    page = open_context(javascript=True).new_page()
    page.goto(live_server + path)
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
