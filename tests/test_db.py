"""Storage: migrations, pragmas, init-db and where the instance folder lives."""

import os
import stat

from portal import create_app
from portal.db import connect, migrations
from portal.runtime import get_db


def test_schema_is_created_on_start_with_wal_and_foreign_keys(app):
    with app.app_context():
        db = get_db()
        assert {"regions", "campaigns", "quotas", "households", "votes", "lists", "list_versions",
                "list_entries"} <= set(db.table_names())
        assert db.execute("pragma journal_mode").fetchone()[0] == "wal"
        assert db.execute("pragma foreign_keys").fetchone()[0] == 1
        assert migrations.pending(db) == []


def test_init_db_is_idempotent(runner, app):
    first = runner.invoke(args=["init-db"])
    second = runner.invoke(args=["init-db"])
    assert first.exit_code == 0 and second.exit_code == 0
    assert "up to date" in second.output
    with app.app_context():
        applied = [m.name for m in migrations.applied(get_db())]
    assert applied == sorted(set(applied)) and applied[0] == "0001_initial"


def test_foreign_keys_are_enforced(app):
    import sqlite3

    import pytest
    with app.app_context():
        db = get_db()
        with pytest.raises(sqlite3.IntegrityError):
            db.execute("insert into regions (code, name, level, parent_code) values ('430811100', 'x', 'township', '999999')")


def test_instance_folder_and_database_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("PORTAL_INSTANCE", str(tmp_path / "inst"))
    monkeypatch.setenv("PORTAL_DATABASE", str(tmp_path / "elsewhere.db"))
    monkeypatch.setenv("PORTAL_LOAD_DEMO", "false")
    monkeypatch.setenv("PORTAL_SITE_NAME", "测试公示网")
    app = create_app()
    assert app.instance_path == str((tmp_path / "inst").resolve())
    assert app.config["DATABASE"] == str(tmp_path / "elsewhere.db")
    assert app.config["LOAD_DEMO"] is False and app.config["SITE_NAME"] == "测试公示网"
    assert (tmp_path / "elsewhere.db").exists()
    assert not (tmp_path / "inst" / "portal.db").exists()


def test_secret_key_generated_once_and_private(tmp_path):
    inst = tmp_path / "inst"
    a = create_app({"INSTANCE_PATH": str(inst), "LOAD_DEMO": False})
    b = create_app({"INSTANCE_PATH": str(inst), "LOAD_DEMO": False})
    key = inst / "secret_key"
    assert a.config["SECRET_KEY"] == b.config["SECRET_KEY"] == key.read_text().strip()
    assert len(a.config["SECRET_KEY"]) == 64
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    assert a.config["ID_HASH_KEY"] != a.config["SECRET_KEY"]


def test_connect_sets_pragmas_on_every_connection(tmp_path):
    db = connect(str(tmp_path / "x.db"))
    assert db.execute("pragma foreign_keys").fetchone()[0] == 1
    assert db.journal_mode == "wal"
