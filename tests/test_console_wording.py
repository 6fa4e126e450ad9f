"""Everything staff read in the console is Chinese (issue 17, item 5): every GET page of the console
is opened as every role, and its visible text holds no English identifiers — audit actions, event
kinds, level codes, content types — only the words staff know (CSV, Excel, ID numbers, hashes).
"""

import re

import pytest
from markupsafe import Markup

from .conftest import ROLE_USERS, login
from .test_staff_matrix import _import_token, build, staff_rules, targets  # noqa: F401  (fixture)

#: ASCII words a Chinese page may show: file formats and tools staff use, units, and the test's
#: user names (actors in timelines are user names, chosen by the county).
ALLOWED = {"csv", "xlsx", "xls", "excel", "wps", "jpeg", "jpg", "png", "pdf", "kb", "mb", "id", "qr", "ods",
           "rss", "atom", "json", "utf", "gbk", "gb18030", "markdown",
           *(name for name, _ in ROLE_USERS.values()), "investigator2", "test"}


def visible_text(html: str) -> str:
    """The text a person reads: no tags, attributes, <code> (hashes), <style>, <script> or <svg>."""
    html = re.sub(r"(?s)<(code|style|script|svg|title)\b.*?</\1>", " ", html)
    html = re.sub(r"(?s)<[^>]+>", " ", html)
    text = Markup(html).unescape()
    text = re.sub(r"[\w.+-]+@[\w-]+(\.[\w-]+)+", " ", text)      # e-mail addresses of the complaint channels
    return re.sub(r"(https?://\S+|/[a-z]+/)", " ", text)            # addresses of pages (QR captions, hints)


def english_words(text: str) -> set[str]:
    return {w for w in re.findall(r"[A-Za-z][A-Za-z_.]{2,}", text) if w.lower().strip(".") not in ALLOWED}


@pytest.mark.parametrize("role", sorted(ROLE_USERS))
def test_every_console_page_reads_in_chinese(app, db, role, targets):  # noqa: F811
    from portal.domain import audit

    inside, _, _ = targets
    inside = {**inside, "token": _import_token(app, db, ROLE_USERS[role][0], inside["code"])}
    client = app.test_client()
    login(client, ROLE_USERS[role][0])
    # Something in the audit log and every kind of case event, so their pages have rows to show.
    from portal.db import write_transaction

    with app.app_context(), write_transaction(db):
        audit.record(db, actor="admin", role="county_admin", action="quota.split", object_type="region",
                     object_id="430811100", region_code="430811100", key=app.config["ID_HASH_KEY"].encode(),
                     clock=app.extensions["portal.clock"])
    seen, found = 0, {}
    for rule, view, method in staff_rules(app):
        if method != "GET" or rule.endpoint.endswith(("case_file", "photo", "import_report")):
            continue
        response = client.get(build(app, rule, inside))
        if response.status_code != 200 or response.mimetype != "text/html":
            continue
        if words := english_words(visible_text(response.get_data(as_text=True))):
            found[rule.rule] = sorted(words)
        seen += 1
    assert not found, f"{role}: {found}"
    assert seen >= 8


def test_the_check_sees_english():
    assert english_words(visible_text("<p>hk-a：filed <code>ab12cd</code> 名单 list.replace</p>")) == {"filed", "list.replace"}


def test_binding_a_clerk_to_a_township_is_explained_under_the_region_field(app, client, staff):
    login(client, "admin")
    response = client.post("/staff/users/new", data={"username": "newclerk", "display_name": "新文书",
                                                     "role": "village_clerk", "region_code": "430811100",
                                                     "password": "a long enough secret"})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "村委会文书只能绑定到村一级的区划；索溪峪镇是乡镇一级。" in page and "village" not in visible_text(page)
    region_field = page[page.index('name="region_code"'):]
    assert "只能绑定到村一级" in region_field[:region_field.index("</div>")] or \
        "只能绑定到村一级" in page[page.index('for="region_code"'):page.index('name="password"')]


def test_case_timeline_and_audit_log_read_in_chinese(app, client, db, staff):
    from portal.domain.complaints import file_complaint

    from .conftest import clock_at

    cid, _ = file_complaint(db, list_id=staff["township"], household_id=None, region_code=None, ground="procedure",
                            text="程序有问题", about_committee=False, anonymous=True, name="", phone="", files=[],
                            key=b"test-key", clock=clock_at("2026-11-23T09:00:00+08:00"))
    login(client, "reviewer")
    page = visible_text(client.get(f"/staff/complaints/{cid}").get_data(as_text=True))
    assert "举报人：收到举报（网上举报）" in page and "filed" not in page
    footer = " ".join(page[page.rindex("对名单有异议"):].split())
    assert "电话 0744-5616963" in footer and "电话 ，" not in footer and "电话 。" not in footer
    client.post("/staff/logout")
    login(client, "admin")
    audit_page = visible_text(client.get("/staff/audit").get_data(as_text=True))
    assert "收到网上举报" in audit_page and "complaint.file" not in audit_page and "举报 " in audit_page
