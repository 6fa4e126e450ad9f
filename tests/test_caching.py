"""HTTP caching: validators and short lifetimes on public pages, nothing stored for forms and the
console, year-long immutable static files under content-hashed names."""

import gzip
import re

import pytest

from .conftest import set_now


@pytest.fixture
def site(client, published):
    return client


def test_public_pages_carry_an_etag_and_a_short_lifetime_and_answer_304(site, published):
    for url in ("/", "/r/430811", f"/lists/{published['township']}", f"/lists/{published['township']}.csv",
                "/search?q=zjg", "/pages/faq"):
        first = site.get(url)
        assert first.status_code == 200, url
        assert first.headers["Cache-Control"] == "public, max-age=60", url
        etag = first.headers["ETag"]
        again = site.get(url, headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.data == b"", url


def test_compressed_pages_revalidate_with_the_encoding_marked_etag(site):
    first = site.get("/", headers={"Accept-Encoding": "gzip"})
    assert first.headers["Content-Encoding"] == "gzip" and first.headers["ETag"].endswith(':gzip"')
    assert "Accept-Encoding" in first.headers["Vary"]
    assert site.get("/", headers={"Accept-Encoding": "gzip", "If-None-Match": first.headers["ETag"]}).status_code == 304


def test_a_changed_page_gets_a_new_etag(app, site, published):
    url = f"/lists/{published['township']}"
    before = site.get(url).headers["ETag"]
    set_now(app, "2026-11-24T10:00:00+08:00")       # one day less left
    after = site.get(url, headers={"If-None-Match": before})
    assert after.status_code == 200 and after.headers["ETag"] != before


def test_feeds_live_a_little_longer(site):
    assert site.get("/feeds/all.atom").headers["Cache-Control"] == "public, max-age=300"


def test_forms_the_console_and_errors_are_never_stored(site):
    for url in ("/complaints/new", "/complaints/track", "/staff/login"):
        response = site.get(url)
        assert response.headers["Cache-Control"] == "no-store", url
        assert "ETag" not in response.headers
    missing = site.get("/lists/999999")
    assert missing.status_code == 404 and missing.headers["Cache-Control"] == "no-cache"


def test_static_files_have_hashed_names_and_are_immutable(site):
    page = gzip.decompress(site.get("/", headers={"Accept-Encoding": "gzip"}).data).decode()
    css = re.search(r'href="(/assets/portal\.[0-9a-f]{12}\.css)"', page).group(1)
    response = site.get(css)
    assert response.status_code == 200 and b"body" in response.data
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    stale = site.get("/assets/portal.000000000000.css")
    assert stale.status_code == 302 and stale.headers["Location"].endswith(css)
    for bad in ("/assets/nothing.abc.css", "/assets/..%2fportal.abc.css", "/assets/portal"):
        assert site.get(bad).status_code == 404, bad
