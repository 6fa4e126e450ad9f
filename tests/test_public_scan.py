"""Nothing sensitive in public, proved (issue 21, item 5): every public URL of the demo — every route,
every list version with its print view and downloads, feeds, the ledger, the figures, search — is
fetched and its body scanned for ID numbers, mobile numbers, full names of households whose names are
masked, and reporters' identities. Then retention runs and the scan is repeated, with the names of the
withheld lists (even masked) added to what must not appear on their pages."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import quote, urljoin, urlsplit

import pytest

from portal import create_app
from portal.db import connect
from portal.domain import pinyin
from portal.domain.privacy import mask_name, valid_id18

from .conftest import NOW

ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
MOBILE = re.compile(r"(?<![0-9A-Za-z])1[3-9]\d{9}(?![0-9A-Za-z])")
LINK = re.compile(r'(?:href|src)="([^"#]+)')


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    app = create_app({"INSTANCE_PATH": str(tmp_path_factory.mktemp("scan") / "i"), "LOAD_DEMO": True, "NOW": NOW,
                      "TESTING": True, "PUBLIC_URL": "https://gongshi.example.cn"})
    db = connect(app.config["DATABASE"])
    yield app, db
    db.close()


def seeds(db) -> list[str]:
    urls = ["/", "/stats", "/stats.csv", "/stats.json", "/ledger", "/ledger.json", "/ledger/head.json",
            "/ledger/verify.py", "/lists.json", "/feeds/all.rss", "/feeds/all.atom", "/robots.txt", "/complaints/new",
            "/complaints/track", "/search"]
    for r in db.query("select code, level from regions where level != 'group'"):
        urls += [f"/r/{r['code']}", f"/stats/{r['code']}", f"/stats/{r['code']}.csv", f"/stats/{r['code']}.json",
                 f"/feeds/{r['code']}.rss", f"/feeds/{r['code']}.atom"]
    for v in db.query("select list_id, version from list_versions"):
        base = f"/lists/{v['list_id']}/v{v['version']}"
        urls += [base, base + "/print", base + ".csv", base + ".json"]
    for lst in db.query("select id, current_version from lists"):
        urls += [f"/lists/{lst['id']}", f"/lists/{lst['id']}/print", f"/lists/{lst['id']}.csv",
                 f"/lists/{lst['id']}.json", f"/complaints/new?list={lst['id']}&entry=1"]
    urls += [f"/notices/{n['id']}" for n in db.query("select id from notices")]
    # Searching by whole name in pinyin initials finds masked rows (a name typed in characters is
    # echoed back to the one who typed it: the searcher's own words, not a disclosure).
    for h in db.query("select head_name from households order by id limit 5"):
        urls += ["/search?q=" + quote(k) for k in sorted(pinyin.name_keys(h["head_name"])) if k.isascii()][:2]
    return urls


def crawl(client, start: list[str]) -> dict[str, str]:
    """Every public body reachable from ``start`` by links (the console and static assets left out)."""
    bodies, queue = {}, list(dict.fromkeys(start))
    while queue:
        url = queue.pop()
        if url in bodies:
            continue
        response = client.get(url, base_url="https://gongshi.example.cn")
        if response.status_code in (301, 302, 303, 308):
            queue.append(urlsplit(response.headers["Location"])._replace(scheme="", netloc="").geturl())
            bodies[url] = ""
            continue
        body = response.get_data(as_text=True)
        bodies[url] = body
        if url.startswith("/ledger.json"):
            page = json.loads(body)
            if page["next"]:
                queue.append(page["next"])
        if "html" in response.mimetype:
            for link in LINK.findall(body):
                parts = urlsplit(urljoin(url, link.replace("&amp;", "&")))
                if parts.netloc not in ("", "gongshi.example.cn"):
                    continue
                path = parts.path + (f"?{parts.query}" if parts.query else "")
                # Each row of a list links its report form: the first rows of each list stand for the rest.
                row = re.search(r"[?&]entry=(\d+)", path)
                if not path.startswith(("/staff", "/assets", "/static")) and not (row and int(row.group(1)) > 2):
                    queue.append(path)
    return bodies


#: The portal's own fixed wording (the search help's example name 张建国 is also a demo household).
UI_TEXT = "".join(p.read_text(encoding="utf-8") for p in (Path(__file__).parent.parent / "portal").rglob("*.html"))


def forbidden(db) -> dict[str, set[str]]:
    households = [h for h in db.query("select head_name from households") if h["head_name"] not in UI_TEXT]
    reporters = list(db.query("select reporter_name, reporter_phone from complaints where anonymous = 0"))
    return {
        "full names of masked households": {h["head_name"] for h in households
                                            if mask_name(h["head_name"]) != h["head_name"]},
        "reporters": {v for r in reporters for v in (r["reporter_name"], r["reporter_phone"]) if v},
    }


HAN_RUN = re.compile(r"[\u3400-\u9fff·]{2,}")
FIELD = re.compile(r'(?<=[>",])([^<>",\r\n]{1,12})(?=[<",\r\n])')


def hits(bodies: dict[str, str], words: dict[str, set[str]]) -> list[str]:
    """ID and mobile numbers by pattern; names and reporters by set lookup of every substring of a
    run of Han characters (quick where a regex of thousands of alternatives is not). A two-character
    name also occurs inside ordinary words (向永 in "匿名向永和村村委会反映"), so it counts only as a
    whole field: a table cell, a JSON string, a CSV cell."""
    found = []
    lengths = {len(w) for ws in words.values() for w in ws if len(w) > 2}
    for url, body in bodies.items():
        found += [f"{url}: ID number {m}" for m in ID_NUMBER.findall(body) if valid_id18(m.upper())]
        found += [f"{url}: mobile number {m}" for m in MOBILE.findall(body)]
        pieces = {run[i:i + n] for run in HAN_RUN.findall(body) for n in lengths for i in range(len(run) - n + 1)}
        pieces |= {f.strip() for f in FIELD.findall(body)}
        for what, ws in words.items():
            found += [f"{url}: {what} {w}" for w in ws & pieces if len(w) > 2 or w in pieces]
        found += [f"{url}: reporter {w}" for w in words["reporters"] if w in body]
    return found


def test_no_public_url_shows_anything_sensitive_before_and_after_retention(demo):
    app, db = demo
    client = app.test_client()
    words = forbidden(db)
    assert len(words["full names of masked households"]) > 300 and len(words["reporters"]) == 2
    bodies = crawl(client, seeds(db))
    assert len(bodies) > 400
    assert sum("（已隐去）" in b for b in bodies.values()) == 0
    assert hits(bodies, words) == []

    app.config["RETENTION_REPORTER_DAYS"] = 0          # the demo's cases were concluded days ago
    result = app.test_cli_runner().invoke(args=["retention"])
    assert result.exit_code == 0, result.output
    withheld = [r["id"] for r in db.query("select id from lists where names_withheld_at is not null")]
    assert withheld and next(db.query("select count(*) as n from complaints where reporter_name is not null"))["n"] == 0
    masked_withheld = {mask_name(e["head_name"]) for e in db.query(
        "select distinct e.head_name from list_entries e where e.list_id in (select value from json_each(?))",
        [json.dumps(withheld)])}
    after = crawl(client, seeds(db))
    assert hits(after, words) == []
    for list_id in withheld:
        for url, body in after.items():
            if url.startswith((f"/lists/{list_id}/", f"/lists/{list_id}.", f"/lists/{list_id}?")) or url == f"/lists/{list_id}":
                shown = [m for m in masked_withheld if f">{m}<" in body or f'"{m}"' in body or f",{m}," in body]
                assert shown == [], f"{url} still shows {shown[:3]}"
        assert "（已隐去）" in after[f"/lists/{list_id}.json"]


def test_the_scan_finds_what_it_looks_for(demo):
    """The scanner itself: each kind of leak, planted in a body, is reported."""
    _, db = demo
    words = forbidden(db)
    three = next(w for w in words["full names of masked households"] if len(w) == 3)
    two = next((w for w in words["full names of masked households"] if len(w) == 2), None)
    body = (f"<td>{three}</td><p>身份证 430899194507070010，电话 13907441234</p>"
            + (f'<td>{two}</td>' if two else ""))
    found = hits({"/planted": body}, {**words, "reporters": {"13907441234"}})
    assert any("ID number" in f for f in found) and any("mobile number" in f for f in found)
    assert any(three in f for f in found) and (two is None or any(f.endswith(" " + two) for f in found))
    assert hits({"/fine": "<p>可实名或匿名向村委会反映，校验码 4308991945070700109f3a</p>"}, words) == []
