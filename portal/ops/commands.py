"""Operational commands that wrap a plain function: ``verify-log``, ``retention``."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from .. import clock
from ..domain import retention
from ..domain.audit import first_broken_row
from ..runtime import get_db, id_key


@click.command("verify-log")
@with_appcontext
def verify_log_command():
    """Recompute the audit log's hash chain: exit 0 when intact, 1 naming the first bad row."""
    db = get_db()
    broken = first_broken_row(db, id_key())
    count = db["audit_log"].count
    if broken is not None:
        click.echo(f"Audit log BROKEN at row {broken} (of {count}): its content or its link to the previous row was changed.")
        raise SystemExit(1)
    head = next(db.query("select id, hash from audit_log order by id desc limit 1"), None)
    click.echo(f"Audit log intact: {count} rows, chain verified.")
    if head:
        # Deleting the newest rows cannot be seen from inside: keep this line somewhere else too.
        click.echo(f"Latest row {head['id']}, hash {head['hash'][:16]} (record it outside the database).")


@click.command("retention")
@click.option("--dry-run", is_flag=True, help="Only report what is due; change nothing.")
@with_appcontext
def retention_command(dry_run):
    """Withhold names and erase reporters' details whose retention period has ended (safe nightly)."""
    config = current_app.config
    periods = {}
    for name in ("RETENTION_NAMES_DAYS", "RETENTION_REPORTER_DAYS"):
        value = config.get(name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise click.ClickException(f"PORTAL_{name} must be a whole number of days (0 or more), not {value!r}.")
        periods[name] = value
    report = retention.run(get_db(), names_days=periods["RETENTION_NAMES_DAYS"],
                           reporter_days=periods["RETENTION_REPORTER_DAYS"],
                           evidence_dir=Path(config["EVIDENCE_DIR"]) / "complaints", dry_run=dry_run,
                           key=id_key(), clock=clock.current())
    click.echo(("Dry run: nothing changed. " if dry_run else "")
               + f"Periods: names {periods['RETENTION_NAMES_DAYS']} days after the county announcement, "
               f"reporters {periods['RETENTION_REPORTER_DAYS']} days after conclusion.")
    for line in report.lines(dry_run):
        click.echo(line)
    for name in report.missing_files:
        click.echo(f"Evidence file already gone: {name}")
