"""Backup and restore of an instance: the SQLite database (online backup), evidence files and settings.

A backup directory holds ``portal.db``, ``evidence/`` (complaint files, board photos, pending imports),
``settings/`` (``secret_key``, ``id_hash_key``, ``config.py``) and ``MANIFEST.json`` with the SHA-256 and
size of every file. The search index is not backed up: it is derived, and rebuilt after a restore.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import click
import sqlite_utils
from flask import Config, current_app
from flask.cli import with_appcontext

from .. import clock
from ..db import connect, migrations
from ..domain import audit

FORMAT = 1
MANIFEST = "MANIFEST.json"
SETTINGS = ("secret_key", "id_hash_key", "config.py")   # kept mode 0600: they key ID hashes and the audit chain
SEARCH_INDEX = "search"


class BackupError(Exception):
    """A backup or restore that was refused or failed; the message is for the operator."""


@dataclass(frozen=True)
class Places:
    """Where an instance keeps what a backup holds."""

    database: Path
    evidence: Path
    instance: Path

    @classmethod
    def of(cls, app) -> Places:
        return cls(Path(app.config["DATABASE"]), Path(app.config["EVIDENCE_DIR"]), Path(app.instance_path))


# --- Backup -----------------------------------------------------------------------------------------


def backup(places: Places, directory: Path, *, clock) -> dict:
    """Write a backup into ``directory`` (new or empty) and return its manifest.

    It is built in a hidden sibling folder and renamed into place at the end, so a crash never leaves a
    half backup that looks complete. The database is copied first: evidence files are written before the
    rows that name them, so every file the copied database refers to is already on disk.
    """
    directory = Path(directory).absolute()
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise BackupError(f"{directory} already exists and is not an empty folder: choose a new one.")
    directory.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{directory.name}.partial-", dir=directory.parent))  # mode 0700
    try:
        schema = _copy_database(places.database, work / "portal.db")
        for path in sorted(places.evidence.rglob("*")) if places.evidence.is_dir() else []:
            if path.is_file() and not path.is_symlink() and path.suffix != ".part":   # .part: a write in progress
                _copy(path, work / "evidence" / path.relative_to(places.evidence))
        for name in SETTINGS:
            if (places.instance / name).is_file():
                _copy(places.instance / name, work / "settings" / name, mode=0o600)
        manifest = {"format": FORMAT, "created_at": clock.stamp(),
                    **schema, "files": {rel: _describe(work / rel) for rel in _files_in(work)}}
        (work / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n")
        os.chmod(work / MANIFEST, 0o600)
        work.rename(directory)   # fails, leaving nothing behind, if someone filled the folder meanwhile
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return manifest


def _copy_database(source: Path, target: Path) -> dict:
    """Copy the live database with SQLite's online backup API: one consistent snapshot, even while the
    portal writes (WAL). The copy is switched to a rollback journal so it is one self-contained file."""
    if not source.is_file():
        raise BackupError(f"No database at {source}.")
    live, copy = connect(str(source)), connect(str(target))
    try:
        live.conn.backup(copy.conn)
        copy.execute("pragma journal_mode = delete")
        schema = {"user_version": copy.execute("pragma user_version").fetchone()[0],
                  "migrations": [m.name for m in migrations.applied(copy)]}
    finally:
        live.close()
        copy.close()
    os.chmod(target, 0o600)
    return schema


def _copy(source: Path, target: Path, mode: int | None = None) -> str:
    """Copy one file (via a temporary name, then os.replace); returns the SHA-256 of what was written."""
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with open(source, "rb") as src, os.fdopen(fd, "wb") as dst:
            while chunk := src.read(1 << 20):
                digest.update(chunk)
                dst.write(chunk)
            dst.flush()
            os.fsync(dst.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return digest.hexdigest()


def _describe(path: Path) -> dict:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return {"sha256": digest.hexdigest(), "size": path.stat().st_size}


def _files_in(folder: Path) -> list[str]:
    """Every file under ``folder`` as a relative POSIX path, the manifest left out; a link is refused."""
    found = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if path.is_symlink() or not (path.is_file() or path.is_dir()):
            raise BackupError(f"Backup refused: {rel} is a link or a special file.")
        if path.is_file() and rel != MANIFEST:
            found.append(rel)
    return found


# --- Restore ----------------------------------------------------------------------------------------


def check_backup(directory: Path) -> dict:
    """The manifest of a complete, untouched backup; raises BackupError naming the first file that is
    missing, added, of another size or with another SHA-256."""
    directory = Path(directory).absolute()
    try:
        manifest = json.loads((directory / MANIFEST).read_text())
        listed = manifest["files"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise BackupError(f"{directory} is not a portal backup ({MANIFEST} missing or unreadable).") from error
    if manifest.get("format") != FORMAT:
        raise BackupError(f"Backup format {manifest.get('format')!r} is not supported (expected {FORMAT}).")
    present = set(_files_in(directory))
    for rel in sorted(present | set(listed)):
        top, _, rest = rel.partition("/")
        if not (rel == "portal.db" or top == "evidence" or (top == "settings" and rest in SETTINGS)):
            raise BackupError(f"Backup refused: {rel} is not something a backup holds.")
        if rel not in listed:
            raise BackupError(f"Backup refused: {rel} is not in the manifest (added after the backup).")
        if rel not in present:
            raise BackupError(f"Backup refused: {rel} is missing.")
        if _describe(directory / rel) != listed[rel]:
            raise BackupError(f"Backup refused: {rel} does not match its SHA-256 in the manifest (changed or damaged).")
    if "portal.db" not in listed:
        raise BackupError("Backup refused: portal.db is missing.")
    unknown = set(manifest.get("migrations", [])) - {m.name for m in migrations.pending(sqlite_utils.Database(memory=True))}
    if unknown:
        raise BackupError("Backup made by a newer portal (migrations " + ", ".join(sorted(unknown)) + "): upgrade first.")
    return manifest


def holds_data(database: Path) -> bool:
    """True when the database holds portal data: a region (every campaign, list, user, notice and
    complaint hangs off one) or an audit row. Derived tables such as the search outbox do not count."""
    if not database.is_file() or database.stat().st_size == 0:
        return False
    db = connect(str(database))
    try:
        return any(name in db.table_names() and db[name].count for name in ("regions", "audit_log"))
    finally:
        db.close()


def restore(places: Places, directory: Path, force: bool = False) -> list[str]:
    """Put a checked backup in place of this instance's database, evidence and settings; returns notes
    for the operator. Refuses, changing nothing, if the backup does not check out or (without ``force``)
    if the instance already holds data. Stop the portal first: a running worker keeps the old database open.
    """
    directory = Path(directory).absolute()
    manifest = check_backup(directory)
    if not force and holds_data(places.database):
        raise BackupError(f"{places.database} already holds data: use --force to replace it (a new instance "
                          "loads the demo county at first start unless PORTAL_LOAD_DEMO=false).")
    listed = manifest["files"]

    # Copy everything next to where it goes, checking each hash again, before touching anything live.
    staged_evidence = Path(tempfile.mkdtemp(prefix=".evidence.restore-", dir=_parent(places.evidence)))
    staged: list[tuple[Path, Path]] = []
    try:
        for rel in listed:
            if rel.startswith("evidence/"):
                _copy_checked(directory / rel, staged_evidence / rel.removeprefix("evidence/"), listed[rel])
        for rel, target, mode in [("portal.db", places.database, None)] + [
                (f"settings/{name}", places.instance / name, 0o600) for name in SETTINGS]:
            if rel in listed:
                tmp = target.with_name(f".{target.name}.restore")
                _copy_checked(directory / rel, tmp, listed[rel], mode)
                staged.append((tmp, target))
    except BaseException:
        shutil.rmtree(staged_evidence, ignore_errors=True)
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        raise

    # Now swap them in: evidence folder, settings, then the database without the old WAL and shared memory.
    if places.evidence.exists():
        old = places.evidence.with_name(f".{places.evidence.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        places.evidence.rename(old)
        staged_evidence.rename(places.evidence)
        shutil.rmtree(old)
    else:
        staged_evidence.rename(places.evidence)
    for tmp, target in staged:
        if target == places.database:
            for suffix in ("-wal", "-shm"):
                Path(f"{target}{suffix}").unlink(missing_ok=True)
        os.replace(tmp, target)
    evidence_count = sum(rel.startswith("evidence/") for rel in listed)
    settings = ", ".join(name for name in SETTINGS if f"settings/{name}" in listed) or "none"
    notes = [f"Restored the backup of {manifest.get('created_at', '?')}: the database, {evidence_count} "
             + f"evidence files, settings ({settings})."]
    index = places.instance / SEARCH_INDEX
    if index.is_symlink() or index.exists():
        index.unlink() if index.is_symlink() else shutil.rmtree(index)
        notes.append(f"Removed the search index ({index}); it is rebuilt from the restored database.")
    return notes


def _parent(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.parent


def _copy_checked(source: Path, target: Path, expected: dict, mode: int | None = None) -> None:
    if _copy(source, target, mode) != expected["sha256"]:
        raise BackupError(f"Backup refused: {source} changed while it was being restored.")


def restored_audit_key(app) -> bytes:
    """The key the restored instance will start with, found as create_app finds it (config.py, then
    PORTAL_ID_HASH_KEY, then the id_hash_key file); this process still holds the key it started with."""
    config = Config(app.instance_path)
    config.from_pyfile("config.py", silent=True)
    config.from_prefixed_env("PORTAL")
    path = Path(app.instance_path) / "id_hash_key"
    key = config.get("ID_HASH_KEY") or (path.read_text().strip() if path.is_file() else "")
    return (key or app.config["ID_HASH_KEY"]).encode()


# --- Commands ---------------------------------------------------------------------------------------


@click.command("backup")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@with_appcontext
def backup_command(directory):
    """Write a consistent backup of this instance into DIRECTORY (new or empty); safe while the portal runs."""
    try:
        manifest = backup(Places.of(current_app), directory, clock=clock.current())
    except BackupError as error:
        raise click.ClickException(str(error)) from error
    files = manifest["files"]
    size = sum(f["size"] for f in files.values())
    click.echo(f"Backup written to {directory}: {len(files)} files, {size:,} bytes, "
               f"{sum(r.startswith('evidence/') for r in files)} of them evidence.")
    click.echo("It holds names, complaints and the instance keys: keep it as safe as the server.")


@click.command("restore")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace a database that already holds data.")
@with_appcontext
def restore_command(directory, force):
    """Restore this instance from a backup made by `backup` (stop the portal first), then verify the audit log."""
    try:
        notes = restore(Places.of(current_app), directory, force=force)
    except BackupError as error:
        raise click.ClickException(str(error) + " Nothing was changed.") from error
    for note in notes:
        click.echo(note)
    db = connect(current_app.config["DATABASE"])
    try:
        broken, count = audit.first_broken_row(db, restored_audit_key(current_app)), db["audit_log"].count
    finally:
        db.close()
    if broken is not None:
        click.echo(f"Audit log BROKEN at row {broken} (of {count}): check the backup and the instance key.")
        raise SystemExit(1)
    click.echo(f"Audit log intact: {count} rows, chain verified. Start the portal again.")
