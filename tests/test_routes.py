"""Every public route is exercised somewhere: a new route without a test here fails the suite."""

import re

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
}


def test_every_route_is_covered(tmp_path):
    app = create_app({"INSTANCE_PATH": str(tmp_path), "LOAD_DEMO": False})
    # Staff routes are covered by the permission matrix in test_staff_matrix.py.
    rules = {r.rule for r in app.url_map.iter_rules() if not r.rule.startswith("/staff")}
    assert rules == set(COVERED), "add the new route's tests and list it here"


def test_static_files_served(client):
    assert client.get("/static/portal.css").status_code == 200
    assert client.get("/static/favicon.svg").status_code == 200
    page = client.get("/").get_data(as_text=True)
    assert re.search(r'href="/assets/portal\.[0-9a-f]{12}\.css"', page)
