"""Every console route × every role × a target inside and outside the user's jurisdiction.

The routes come from the app's URL map, so a new console route is covered the day it is added;
what each role may do is written out here independently of portal/domain/accounts.py.
"""

import secrets
from pathlib import Path

import pytest
from flask import url_for

from .conftest import PASSWORD, ROLE_USERS, clock_at, login

ALL = set(ROLE_USERS)
# permission -> roles allowed on a target inside their jurisdiction (village-level targets,
# except where INSIDE says otherwise).
EXPECTED = {
    "console.view": ALL,
    "lists.view": ALL,
    "applicants.edit": {"village_clerk"},
    "selection.preview": {"village_clerk", "township_reviewer", "county_admin"},
    "lists.publish": {"village_clerk"},          # a village list is the village clerk's
    "lists.record": {"village_clerk"},
    "admin.users": {"county_admin"},
    "admin.quotas": {"county_admin"},
    "admin.campaigns": {"county_admin"},
    "imports.run": {"village_clerk", "township_reviewer", "county_admin"},
    "complaints.view": ALL,
    "complaints.manage": {"village_clerk", "township_reviewer", "county_admin"},
    "complaints.conclude": ALL,
    "complaints.replace": {"village_clerk", "township_reviewer", "county_admin"},
    "notices.write": {"township_reviewer", "county_admin"},
    "register.view": ALL,
    "adjustments.propose": {"village_clerk"},
    "adjustments.verify": {"township_reviewer", "investigator", "county_admin"},
    "adjustments.override": {"township_reviewer", "county_admin"},
    "spotcheck.record": {"township_reviewer", "county_admin"},
}
# Case material (evidence files) goes only to the staff handling the case: the inside case is a
# village list's, handled by the village clerk; the others merely oversee it (issue 17, item 1).
HANDLER_ONLY = {("staff.case_file", role) for role in ALL - {"village_clerk"}}
# Console routes that need no jurisdiction check: they act on the logged-in user only.
OWN_ACCOUNT = {"accounts.login", "accounts.logout", "accounts.password"}


def _photo(db, app, list_id, name):
    folder = Path(app.config["EVIDENCE_DIR"]) / "boards"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 20)
    return db["board_photos"].insert({"list_id": list_id, "version": 1, "stored_name": name, "content_type": "image/png",
                                      "size": 28, "sha256": "x", "uploaded_by": "t",
                                      "uploaded_at": "2026-11-23T02:00:00+00:00"}).last_pk


def _complaint(app, db, list_id, household_id=None, ground="vehicle"):
    from portal.domain.complaints import file_complaint
    cid, _ = file_complaint(db, list_id=list_id, household_id=household_id, region_code=None, ground=ground,
                            text="有车", about_committee=False, anonymous=True, name="", phone="", files=[],
                            key=b"test-key", clock=clock_at("2026-11-16T10:00:00+08:00"))   # in the village window
    folder = Path(app.config["EVIDENCE_DIR"]) / "complaints"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"c{cid}.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 20)
    fid = db["complaint_files"].insert({"complaint_id": cid, "stored_name": f"c{cid}.png", "content_type": "image/png",
                                        "size": 1, "sha256": "x", "added_at": "2026-11-23T02:00:00+00:00"}).last_pk
    db.execute("update complaints set outcome = 'upheld', status = 'concluded' where id = ?", [cid])
    return cid, fid


def _adjustment(db, household_id, village_code, app=None):
    """An exit proposal of this household with the photo of its signed form (written directly: the
    access test needs only its region)."""
    campaign = next(db.query("select campaign_id from households where id = ?", [household_id]))["campaign_id"]
    name = f"exit-{village_code}.png"
    if app is not None:
        folder = Path(app.config["EVIDENCE_DIR"]) / "agreements"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 20)
    return db["adjustments"].insert({"campaign_id": campaign, "household_id": household_id, "kind": "exit",
                                     "agreement_file": name, "agreement_file_type": "image/png",
                                     "village_code": village_code, "proposed_by": "test",
                                     "proposed_at": "2026-11-23T02:00:00+00:00",
                                     "updated_at": "2026-11-23T02:00:00+00:00"}).last_pk


@pytest.fixture
def targets(app, db, staff):
    c_in, f_in = _complaint(app, db, staff["village_a"], staff["households"]["张建国"])
    c_far, f_far = _complaint(app, db, staff["far_list"], staff["far_household"])
    c_other, f_other = _complaint(app, db, staff["other_list"], staff["other_household"])
    # An upheld 漏评 report naming 王明 (not on the list): the one case the 补录 page opens for.
    c_omitted, _ = _complaint(app, db, staff["village_a"], ground="omission")
    db.execute("update complaints set household_id = ? where id = ?", [staff["households"]["王明"], c_omitted])
    inside = {"adjustment_id": _adjustment(db, staff["households"]["张建国"], "430811100001", app),
              "code": "430811100001", "list_id": staff["village_a"], "complaint_id": c_in, "file_id": f_in,
              "omission_id": c_omitted,
              "household_id": staff["households"]["张建国"], "user_id": staff["near_user"],
              "photo_id": _photo(db, app, staff["village_a"], "in.png")}
    outside_county = {"adjustment_id": _adjustment(db, staff["far_household"], "511022100001"),
                      "code": "511022100001", "list_id": staff["far_list"], "household_id": staff["far_household"],
                      "complaint_id": c_far, "file_id": f_far,
                      "user_id": staff["far_user"], "photo_id": _photo(db, app, staff["far_list"], "far.png")}
    outside_township = {"adjustment_id": _adjustment(db, staff["other_household"], "430811200001"),
                        "code": "430811200001", "list_id": staff["other_list"], "complaint_id": c_other,
                        "file_id": f_other,
                        "household_id": staff["other_household"], "user_id": staff["far_user"],
                        "photo_id": _photo(db, app, staff["other_list"], "other.png")}
    return inside, outside_county, outside_township


def staff_rules(app):
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/staff"):
            view = app.view_functions[rule.endpoint]
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                yield rule, view, method


def build(app, rule, values, version=1):
    values = {"token": "0" * 32, "kind": "applicants", "position": 1, **values, "version": version}
    args = {arg: values[arg] for arg in rule.arguments}
    if rule.endpoint == "staff.quotas":
        args["code"] = values["code"][:9]     # quotas are split at township (or county) level
    if rule.endpoint == "staff.omission" and "omission_id" in values:
        args["complaint_id"] = values["omission_id"]
    with app.test_request_context():
        return url_for(rule.endpoint, **args)


def test_every_console_route_declares_a_permission(app):
    for rule, view, _ in staff_rules(app):
        assert hasattr(view, "permission") or rule.endpoint in OWN_ACCOUNT, f"{rule.rule} has no permission"
        if hasattr(view, "permission"):
            assert view.permission in EXPECTED, f"{rule.rule}: add {view.permission} to EXPECTED"


def test_every_console_route_needs_a_login(app, client, targets):
    inside, _, _ = targets
    for rule, view, method in staff_rules(app):
        if rule.endpoint in OWN_ACCOUNT:
            continue
        resp = client.open(build(app, rule, inside), method=method)
        assert resp.status_code == 302 and "/staff/login" in resp.headers["Location"], rule.rule


def _import_token(app, db, username, code):
    """A checked upload of this user's in this region, as the import page leaves it (its report CSV)."""
    import json

    token = secrets.token_hex(16)
    folder = Path(app.config["EVIDENCE_DIR"]) / "imports"
    folder.mkdir(parents=True, exist_ok=True)
    user = next(db.query("select id from users where username = ?", [username]))["id"]
    (folder / f"{token}.json").write_text(json.dumps({"user_id": user, "region_code": code, "kind": "applicants",
                                                      "filename": "a.csv", "stored": f"{token}.upload"}))
    (folder / f"{token}.csv").write_text("行号,问题\n", encoding="utf-8")
    (folder / f"{token}.upload").write_text("户主姓名,身份证号\n", encoding="utf-8")
    (folder / f"{token}.problems.json").write_text(json.dumps({"problems": [], "header_rows": {}}))
    return token


@pytest.mark.parametrize("role", sorted(ROLE_USERS))
def test_matrix(app, db, role, targets):
    inside, outside_county, outside_township = targets
    inside = {**inside, "token": _import_token(app, db, ROLE_USERS[role][0], inside["code"])}
    client = app.test_client()
    assert login(client, ROLE_USERS[role][0]).status_code == 302
    checked = 0
    for rule, view, method in staff_rules(app):
        if rule.endpoint in OWN_ACCOUNT:
            continue
        permitted = role in EXPECTED[view.permission]
        inside_resp = client.open(build(app, rule, inside), method=method)
        if permitted and (rule.endpoint, role) in HANDLER_ONLY:
            assert inside_resp.status_code == 403, f"{role} merely oversees the case: {method} {rule.rule}"
        elif permitted:
            # A permitted role reaches the view itself: not refused, and not a 404 from a target the
            # fixture failed to make (each route's own refusals are tested with the feature).
            assert inside_resp.status_code not in (403, 404), f"{role} refused inside: {method} {rule.rule} " \
                f"{inside_resp.status_code}"
            assert inside_resp.status_code < 500, f"{method} {rule.rule}: {inside_resp.status_code}"
        else:
            assert inside_resp.status_code == 403, f"{role} allowed inside: {method} {rule.rule}"
        if view.target != "none":
            for outside in (outside_county, outside_township) if role != "county_admin" else (outside_county,):
                resp = client.open(build(app, rule, outside), method=method)
                assert resp.status_code == 403, f"{role} allowed outside: {method} {build(app, rule, outside)}"
                assert "没有权限" in resp.get_data(as_text=True)
        checked += 1
    assert checked >= 18


def test_township_and_county_lists_are_published_by_their_own_level(app, staff):
    expected = {"430811100": "reviewer", "430811": "admin"}
    for code, publisher in expected.items():
        for role, (name, _) in ROLE_USERS.items():
            client = app.test_client()
            login(client, name)
            status = client.get(f"/staff/r/{code}/publish").status_code
            if name == publisher:
                assert status == 200, (name, code)
            else:
                assert status == 403, (name, code)


def test_case_material_goes_to_the_handler_and_the_assigned_investigator_only(app, db, targets, staff):
    """Issue 17, item 1: being in the area is not enough for a reporter's evidence or identity."""
    from portal.domain.accounts import create_user

    inside, _, _ = targets
    cid, fid = inside["complaint_id"], inside["file_id"]
    db.execute("update complaints set anonymous = 0, reporter_name = '举报人吴七', reporter_phone = '13800000007', "
               "status = 'received', outcome = null where id = ?", [cid])
    create_user(db, username="investigator2", display_name="另一调查员", role="investigator", region_code="430811100",
                password=PASSWORD, actor="test", actor_role="cli", key=b"test-key", clock=clock_at("2026-11-23T10:00:00+08:00"))

    def sees(username):
        client = app.test_client()
        login(client, username)
        page = client.get(f"/staff/complaints/{cid}").get_data(as_text=True)
        file = client.get(f"/staff/complaints/{cid}/files/{fid}")
        assert ("举报人吴七" in page) == (file.status_code == 200), username
        assert file.status_code in (200, 403), (username, file.status_code)
        assert (f"/files/{fid}" in page) == (file.status_code == 200), username
        return file.status_code == 200

    # The case is about a village list: 双星村's committee handles it; the township and county oversee.
    assert sees("clerk")
    assert not sees("reviewer") and not sees("admin") and not sees("investigator")
    investigator = next(db.query("select id from users where username = 'investigator'"))["id"]
    db.execute("update complaints set investigator_id = ?, status = 'investigating' where id = ?", [investigator, cid])
    db.conn.commit()
    assert sees("investigator") and not sees("investigator2") and not sees("reviewer")
