"""The audit log: every staff write recorded, append-only, and verify-log finds tampering."""

import datetime as dt
import sqlite3

import pytest

from portal.domain import audit
from portal.domain.campaigns import add_household

from .conftest import CLOCK, ID_KEY, login


def test_staff_writes_are_recorded_with_before_and_after(client, db, staff):
    login(client, "clerk")
    # A household entered after the village list was published (not in its ranking of record).
    hid = add_household(db, campaign_id=staff["campaign"], village_code="430811100001", head_name="王明", size=4,
                        applied_on=dt.date(2026, 11, 20), votes=25, voters_present=32, clock=CLOCK)
    client.post(f"/staff/applicants/{hid}", data={
        "head_name": "王明", "size": 3, "group_code": "", "causes": ["capital"], "income_per_capita": 1800,
        "applied_on": "2026-03-01", "votes": 26, "voters_present": 32})
    row = next(db.query("select * from audit_log where action = 'household.update'"))
    assert row["actor"] == "clerk" and row["role"] == "village_clerk" and row["object_id"] == str(hid)
    assert '"size": 4' in row["before"] and '"size": 3' in row["after"]
    assert '"votes": 25' in row["before"] and '"votes": 26' in row["after"]
    assert "id_hash" not in row["after"]


def test_chain_links_each_row_to_the_previous_one(db, staff):
    rows = list(db.query("select * from audit_log order by id"))
    assert len(rows) >= 5
    assert rows[0]["prev_hash"] == audit.GENESIS
    for earlier, later in zip(rows, rows[1:]):
        assert later["prev_hash"] == earlier["hash"]
    assert audit.first_broken_row(db, ID_KEY) is None


def test_audit_rows_cannot_be_updated_or_deleted(db, staff):
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        db.execute("update audit_log set actor = 'someone' where id = 1")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        db.execute("delete from audit_log where id = 1")


def test_no_route_edits_or_deletes_audit_rows(app, db, staff):
    """Every route of the URL map, every method, as a county admin and as a citizen, with a form of
    plausible fields: afterwards every earlier row is there unchanged and the chain verifies."""
    from .test_staff_matrix import build

    values = {"code": "430811100001", "list_id": staff["village_a"], "version": 1, "household_id":
              staff["households"]["张建国"], "user_id": staff["near_user"], "complaint_id": 1, "file_id": 1,
              "photo_id": 1, "notice_id": 1, "adjustment_id": 1, "name": "portal.css", "slug": "faq", "fmt": "rss", "filename": "portal.css"}
    data = {"text": "x", "name": "x", "reason": "x", "approved_by": "x", "note": "x", "title": "x", "body": "x",
            "ground": "vehicle", "list": str(staff["village_a"]), "username": "clerk", "password": "x"}
    before = [tuple(r) for r in db.execute("select * from audit_log order by id")]
    admin = app.test_client()
    login(admin, "admin")
    sent = 0
    for client in (admin, app.test_client()):
        for rule in app.url_map.iter_rules():
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                client.open(build(app, rule, values), method=method, data=data)
                sent += 1
    after = [tuple(r) for r in db.execute("select * from audit_log order by id")]
    assert sent > 100 and after[:len(before)] == before
    assert audit.first_broken_row(db, ID_KEY) is None


def test_verify_log_confirms_an_intact_chain(runner, staff):
    result = runner.invoke(args=["verify-log"])
    assert result.exit_code == 0 and "intact" in result.output


def test_verify_log_names_the_first_altered_row(runner, db, staff):
    # Someone with the database file drops the guard and edits a row directly.
    db.execute("drop trigger audit_log_no_update")
    db.execute("update audit_log set after = replace(after, 'clerk', 'mallory') where id = 3")
    result = runner.invoke(args=["verify-log"])
    assert result.exit_code == 1 and "row 3" in result.output


def test_verify_log_finds_a_deleted_row(runner, db, staff):
    db.execute("drop trigger audit_log_no_delete")
    db.execute("delete from audit_log where id = 2")
    result = runner.invoke(args=["verify-log"])
    assert result.exit_code == 1 and "row 3" in result.output


def test_record_refuses_to_run_outside_a_transaction(db, county):
    with pytest.raises(RuntimeError):
        audit.record(db, actor="x", role="x", action="x", object_type="x", object_id=1, key=ID_KEY, clock=CLOCK)


def test_rows_must_extend_the_chain(db, staff):
    last = next(db.query("select * from audit_log order by id desc limit 1"))
    forged = {**last, "actor": "forged"}
    with pytest.raises(sqlite3.IntegrityError, match="extend the chain"):
        db["audit_log"].insert({**forged, "id": 1}, replace=True)          # INSERT OR REPLACE of row 1
    with pytest.raises(sqlite3.IntegrityError, match="extend the chain"):
        db["audit_log"].insert({**forged, "id": last["id"] + 1, "prev_hash": "0" * 64})


def test_a_chain_rehashed_without_the_key_is_caught(runner, db, staff):
    import hashlib
    db.execute("drop trigger audit_log_no_update")
    rows = list(db.query("select * from audit_log order by id"))
    prev = audit.GENESIS
    for row in rows:                      # an attacker recomputes every hash with plain SHA-256
        row["actor"] = "mallory" if row["id"] == 1 else row["actor"]
        row["prev_hash"] = prev
        content = {k: row[k] for k in ("id", "at", "actor", "role", "action", "object_type", "object_id",
                                        "region_code", "before", "after", "prev_hash")}
        import json
        row["hash"] = hashlib.sha256(json.dumps(content, ensure_ascii=False, sort_keys=True,
                                                separators=(",", ":")).encode()).hexdigest()
        prev = row["hash"]
    db.execute("drop trigger audit_log_no_delete")
    db.execute("delete from audit_log")
    db.execute("drop trigger audit_log_extend_only")
    db["audit_log"].insert_all(rows)
    assert audit.first_broken_row(db, ID_KEY) == 1


def test_published_versions_cannot_be_deleted(db, staff):
    with pytest.raises(sqlite3.IntegrityError, match="cannot be deleted"):
        db.execute("delete from list_entries where list_id = ?", [staff["village_a"]])
    with pytest.raises(sqlite3.IntegrityError, match="cannot be deleted"):
        db.execute("delete from list_versions where list_id = ?", [staff["village_a"]])
