"""Backup and restore: a round trip gives back every table row and every file; a damaged backup, a target
that holds data or a backup folder in use are refused without changing anything."""

import hashlib
import io
import json
import shutil
import sqlite3
import stat
from pathlib import Path

import pytest

from portal import create_app
from portal.db import connect
from portal.ops import backup as backup_module
from portal.ops.backup import Places, backup
from portal.runtime import get_db

from .conftest import CLOCK, ID_KEY, NOW, PASSWORD, login


def image(ext: str, colour=(30, 120, 200)) -> bytes:
    from PIL import Image
    out = io.BytesIO()
    Image.new("RGB", (24, 16), colour).save(out, "PNG" if ext == "png" else "JPEG")
    return out.getvalue()


def file_complaint_with_evidence(app, list_id: int, key: bytes) -> None:
    from portal.domain.complaints import file_complaint
    from portal.runtime import evidence_folder
    with app.app_context():
        file_complaint(get_db(), list_id=list_id, household_id=None, region_code=None, ground="vehicle",
                       text="他家有一辆新车", about_committee=False, anonymous=True, name="", phone="",
                       files=[(image("png"), "image/png", "png")], key=key, clock=CLOCK,
                       folder=evidence_folder("complaints"))


def dump(database) -> dict:
    """Every table (and the schema itself) row by row, in rowid order (primary key order for tables
    without rowid)."""
    conn = sqlite3.connect(database)
    try:
        rows = {}
        for table, sql in conn.execute("select name, sql from sqlite_master where type = 'table' order by name").fetchall():
            order = "1, 2" if "without rowid" in sql.lower() else "rowid"
            rows[table] = conn.execute(f'select * from "{table}" order by {order}').fetchall()
        rows["sqlite_master"] = conn.execute("select type, name, tbl_name, sql from sqlite_master order by name").fetchall()
        return rows
    finally:
        conn.close()


def tree(folder) -> dict:
    """Every file under a folder, by relative path, with its bytes."""
    folder = Path(folder)
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def new_instance(path, **config):
    return create_app({"INSTANCE_PATH": str(path), "LOAD_DEMO": False, "NOW": NOW, "TESTING": True, **config})


@pytest.fixture
def demo_source(tmp_path):
    """The demo county on an instance with its own generated keys, plus a board photo uploaded by a
    village clerk and an online complaint with a photo as evidence."""
    from portal.domain.accounts import create_user
    from portal.runtime import id_key

    app = create_app({"INSTANCE_PATH": str(tmp_path / "source"), "LOAD_DEMO": True, "NOW": NOW, "TESTING": True,
                      "WTF_CSRF_ENABLED": False})
    with app.app_context():
        db = get_db()
        lst = next(db.query("select id, region_code from lists where level = 'village' order by id limit 1"))
        create_user(db, username="clerk", display_name="文书", role="village_clerk", region_code=lst["region_code"],
                    password=PASSWORD, actor="test", actor_role="cli", key=id_key(), clock=CLOCK)
        key = id_key()
    client = app.test_client()
    login(client, "clerk")
    client.post(f"/staff/lists/{lst['id']}/photos", data={"photo": (io.BytesIO(image("jpg")), "board.jpg")},
                content_type="multipart/form-data")
    file_complaint_with_evidence(app, lst["id"], key)
    return app


@pytest.fixture
def backed_up(app, published, tmp_path):
    """A small instance with one complaint file, backed up with the CLI."""
    file_complaint_with_evidence(app, published["village_a"], ID_KEY)
    result = app.test_cli_runner().invoke(args=["backup", str(tmp_path / "backup")])
    assert result.exit_code == 0, result.output
    return tmp_path / "backup"


@pytest.fixture
def target(tmp_path):
    return new_instance(tmp_path / "target", ID_HASH_KEY=ID_KEY.decode())


def test_round_trip_gives_back_every_table_row_and_file(demo_source, tmp_path):
    source = Places.of(demo_source)
    before = dump(source.database)
    evidence = tree(source.evidence)
    assert before["board_photos"] and before["complaint_files"] and before["audit_log"]
    assert any(p.startswith("boards/") for p in evidence) and any(p.startswith("complaints/") for p in evidence)

    result = demo_source.test_cli_runner().invoke(args=["backup", str(tmp_path / "backup")])
    assert result.exit_code == 0, result.output

    restored_app = new_instance(tmp_path / "target")
    restored = Places.of(restored_app)
    assert (restored.instance / "id_hash_key").read_bytes() != (source.instance / "id_hash_key").read_bytes()
    (restored.instance / "search").mkdir()
    (restored.instance / "search" / "MAIN_1.seg").write_bytes(b"stale index")
    result = restored_app.test_cli_runner().invoke(args=["restore", str(tmp_path / "backup")])
    assert result.exit_code == 0, result.output
    assert "Audit log intact" in result.output and "search index" in result.output

    assert dump(restored.database) == before
    assert tree(restored.evidence) == evidence
    for name in ("secret_key", "id_hash_key"):
        assert (restored.instance / name).read_bytes() == (source.instance / name).read_bytes()
        assert stat.S_IMODE((restored.instance / name).stat().st_mode) == 0o600
    assert not (restored.instance / "search").exists()
    # The next start runs with the restored key, so ID hashes and the audit chain still check out.
    restarted = new_instance(tmp_path / "target")
    assert restarted.config["ID_HASH_KEY"] == demo_source.config["ID_HASH_KEY"]
    result = restarted.test_cli_runner().invoke(args=["verify-log"])
    assert result.exit_code == 0 and "intact" in result.output


def test_backup_is_a_private_folder_with_a_manifest_of_every_file(app, backed_up):
    assert stat.S_IMODE(backed_up.stat().st_mode) == 0o700
    manifest = json.loads((backed_up / "MANIFEST.json").read_text())
    files = manifest["files"]
    assert set(files) == set(tree(backed_up)) - {"MANIFEST.json"}
    assert {"portal.db", "settings/secret_key"} <= set(files)
    assert any(p.startswith("evidence/complaints/") for p in files)
    for rel, meta in files.items():
        data = (backed_up / rel).read_bytes()
        assert meta == {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    assert manifest["migrations"][0] == "0001_initial" and "0005_notices" in manifest["migrations"]
    assert stat.S_IMODE((backed_up / "settings" / "secret_key").stat().st_mode) == 0o600
    assert dump(backed_up / "portal.db") == dump(app.config["DATABASE"])


@pytest.mark.parametrize("damage", ["altered", "missing", "added", "database"])
def test_a_damaged_backup_is_refused_and_the_target_is_unchanged(backed_up, target, damage):
    evidence = next(p for p in sorted((backed_up / "evidence").rglob("*")) if p.is_file())
    if damage == "altered":
        data = bytearray(evidence.read_bytes())
        data[-1] ^= 1
        evidence.write_bytes(bytes(data))
        named = evidence.relative_to(backed_up).as_posix()
    elif damage == "missing":
        (backed_up / "settings" / "secret_key").unlink()
        named = "settings/secret_key"
    elif damage == "added":
        (backed_up / "evidence" / "complaints" / "extra.pdf").write_bytes(b"%PDF-1.4 not from the portal")
        named = "evidence/complaints/extra.pdf"
    else:
        with sqlite3.connect(backed_up / "portal.db") as conn:
            conn.execute("update regions set name = '改过' where code = '430811'")
        named = "portal.db"
    instance = Path(target.instance_path)
    before = tree(instance)

    result = target.test_cli_runner().invoke(args=["restore", str(backed_up), "--force"])
    assert result.exit_code != 0
    assert f"Backup refused: {named}" in result.output and "Nothing was changed" in result.output
    assert tree(instance) == before


def test_restore_refuses_a_target_with_data_unless_forced(app, backed_up, target):
    from portal.domain.regions import add_region
    db = connect(target.config["DATABASE"])
    add_region(db, "511022", "青川县")
    db.close()
    stale = Path(target.config["EVIDENCE_DIR"]) / "boards" / "9-stale.jpg"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(image("jpg"))
    before = dump(target.config["DATABASE"])

    refused = target.test_cli_runner().invoke(args=["restore", str(backed_up)])
    assert refused.exit_code != 0 and "--force" in refused.output
    assert dump(target.config["DATABASE"]) == before and stale.is_file()

    forced = target.test_cli_runner().invoke(args=["restore", str(backed_up), "--force"])
    assert forced.exit_code == 0, forced.output
    assert dump(target.config["DATABASE"]) == dump(app.config["DATABASE"])
    assert tree(target.config["EVIDENCE_DIR"]) == tree(app.config["EVIDENCE_DIR"])


def test_restore_drops_the_stale_wal_of_the_replaced_database(app, backed_up, target):
    database = Path(target.config["DATABASE"])
    # A crashed portal left a write-ahead log behind; replayed onto the restored file it would corrupt it.
    db = connect(str(database))
    db.execute("pragma wal_autocheckpoint = 0")
    from portal.domain.regions import add_region
    add_region(db, "511022", "青川县")
    stale = Path(f"{database}-wal").read_bytes()
    db.close()
    Path(f"{database}-wal").write_bytes(stale)

    result = target.test_cli_runner().invoke(args=["restore", str(backed_up), "--force"])
    assert result.exit_code == 0, result.output
    assert dump(database) == dump(app.config["DATABASE"])


def test_backup_refuses_a_folder_that_is_not_empty(runner, tmp_path):
    folder = tmp_path / "backup"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me")
    result = runner.invoke(args=["backup", str(folder)])
    assert result.exit_code != 0 and "not an empty folder" in result.output
    assert tree(folder) == {"notes.txt": b"keep me"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["backup", "instance"]


def test_a_backup_that_fails_halfway_leaves_nothing_behind(app, published, tmp_path, monkeypatch):
    file_complaint_with_evidence(app, published["village_a"], ID_KEY)
    real_copy = backup_module._copy

    def failing_copy(source, target, mode=None):
        if "evidence" in target.parts:
            raise OSError("disk full")
        return real_copy(source, target, mode)

    monkeypatch.setattr(backup_module, "_copy", failing_copy)
    with pytest.raises(OSError, match="disk full"):
        backup(Places.of(app), tmp_path / "backup", clock=CLOCK)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["instance"]


def test_backup_during_an_open_write_transaction_is_consistent(app, db, published, tmp_path):
    committed = dump(app.config["DATABASE"])
    writer = connect(app.config["DATABASE"])
    writer.conn.execute("begin immediate")
    writer.execute("insert into meta (key, value) values ('half-done', 'x')")
    try:
        backup(Places.of(app), tmp_path / "backup", clock=CLOCK)
    finally:
        writer.conn.rollback()
        writer.close()
    copy = tmp_path / "backup" / "portal.db"
    with sqlite3.connect(copy) as conn:
        assert conn.execute("pragma integrity_check").fetchone()[0] == "ok"
    assert dump(copy) == committed
    assert not Path(f"{copy}-wal").exists()


def test_restore_refuses_a_folder_that_is_not_a_backup(target, tmp_path):
    folder = tmp_path / "elsewhere"
    shutil.copytree(Path(target.instance_path), folder)
    result = target.test_cli_runner().invoke(args=["restore", str(folder)])
    assert result.exit_code != 0 and "not a portal backup" in result.output
