"""Every public route is exercised somewhere: a new route without a test here fails the suite."""

import re
from pathlib import Path

from portal import create_app

# Each URL rule of the app, with a sample path that the tests in this folder request.
COVERED = {
    "/": "test_home",
    "/healthz": "test_home",
    "/robots.txt": "test_home",
    "/pages/<slug>": "test_home",
    "/r/<code>": "test_regions",
    "/lists/<id:list_id>": "test_lists",
    "/lists/<id:list_id>/v<id:version>": "test_lists",
    "/lists/<id:list_id>/print": "test_lists",
    "/lists/<id:list_id>/v<id:version>/print": "test_lists",
    "/lists/<id:list_id>.csv": "test_lists",
    "/lists/<id:list_id>/v<id:version>.csv": "test_lists",
    "/lists/<id:list_id>.json": "test_lists",
    "/lists/<id:list_id>/v<id:version>.json": "test_lists",
    "/static/<path:filename>": "test_routes",
    "/assets/<name>": "test_caching",
    "/complaints/new": "test_complaints",
    "/notices/<id:notice_id>": "test_notices",
    "/feeds/<code>.<any(rss, atom):fmt>": "test_feeds",
    "/complaints/track": "test_complaints",
    "/complaints/track/add": "test_complaints",
    "/complaints/received": "test_complaints",
    "/complaints/track/progress": "test_complaints",
    "/search": "test_search",
    "/stats": "test_stats",
    "/stats.csv": "test_stats",
    "/stats.json": "test_stats",
    "/stats/<code>": "test_stats",
    "/stats/<code>.csv": "test_stats",
    "/stats/<code>.json": "test_stats",
    "/ledger": "test_ledger",
    "/ledger.json": "test_ledger",
    "/ledger/head.json": "test_ledger",
    "/ledger/verify.py": "test_ledger",
    "/lists.json": "test_ledger",
}


def test_every_route_is_covered(tmp_path):
    app = create_app({"INSTANCE_PATH": str(tmp_path), "LOAD_DEMO": False})
    # Staff routes are covered by the permission matrix in test_staff_matrix.py.
    rules = {r.rule for r in app.url_map.iter_rules() if not r.rule.startswith("/staff")}
    assert rules == set(COVERED), "add the new route's tests and list it here"


def _pattern(rule: str) -> re.Pattern:
    """A URL rule as the tests write its paths: literal parts, and for each variable a sample value
    or an f-string field (``/lists/{published['village_a']}/print``)."""
    field = r"(?:\{[^{}]+\}|[^/\"'?{}.]+)"
    out, pos = "", 0
    for m in re.finditer(r"<(?:(\w+)(?:\(([^)]*)\))?:)?(\w+)>", rule):
        out += re.escape(rule[pos:m.start()])
        converter, args = m.group(1), m.group(2)
        if converter == "any":
            out += "(?:" + "|".join(a.strip() for a in args.split(",")) + r"|\{[^{}]+\})"
        elif converter == "path":
            out += r"[^\"'?]+"
        else:
            out += field
        pos = m.end()
    out += re.escape(rule[pos:])
    return re.compile(r"[\"']" + out + r"(?:[\"'?#]|\{)")


def test_each_route_is_requested_by_the_test_module_named_for_it():
    """The COVERED values are checked: the named module's source holds a path of that rule."""
    here = Path(__file__).parent
    missing = [rule for rule, module in COVERED.items()
               if not _pattern(rule).search((here / f"{module}.py").read_text(encoding="utf-8"))]
    assert not missing, f"no request of these rules in the module named for them: {missing}"


def test_the_coverage_check_bites():
    assert _pattern("/lists/<id:list_id>/print").search('client.get(f"/lists/{published[\'a\']}/print")')
    assert not _pattern("/lists/<id:list_id>/print").search('client.get("/lists/1")')
    assert _pattern("/feeds/<code>.<any(rss, atom):fmt>").search('get("/feeds/430811.atom")')


def test_static_files_served(client):
    assert client.get("/static/portal.css").status_code == 200
    assert client.get("/static/favicon.svg").status_code == 200
    page = client.get("/").get_data(as_text=True)
    assert re.search(r'href="/assets/portal\.[0-9a-f]{12}\.css"', page)
