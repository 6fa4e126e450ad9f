"""Retention (issue 21, item 4): personal data kept on public surfaces and in case files only as long
as its purpose needs (PIPL art. 19; the 2018 政务公开 rule that private information be de-identified).

- **Names on lists.** ``names_days`` after the county announcement of a list's campaign and kind has
  closed (its last window, replacement rows included), every list of that chain has its names
  withheld on every public surface — page, print view, CSV/JSON, search keys, the complaint form
  (``lists.names_withheld_at``; the pages then show ``privacy.WITHHELD_NAME``). Staff pages keep the
  names: the register itself is a record the county must keep.
- **Reporters.** ``reporter_days`` after a complaint was concluded, the reporter's name and phone are
  erased and its evidence files deleted (rows in the transaction, the files after it commits).

The public ledger needs nothing: its entries hold no names, only hiding commitments whose salt the
list's JSON stops showing, so it verifies after retention exactly as before.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

from ..db import write_transaction
from . import audit, keys


@dataclasses.dataclass
class Report:
    lists: list[int] = dataclasses.field(default_factory=list)
    complaints: list[int] = dataclasses.field(default_factory=list)
    files: list[str] = dataclasses.field(default_factory=list)
    missing_files: list[str] = dataclasses.field(default_factory=list)

    def lines(self, dry_run: bool) -> list[str]:
        verb = "would be" if dry_run else "were"
        return [f"Lists whose names {verb} withheld: {len(self.lists)}" + (f" ({', '.join(map(str, self.lists))})" if self.lists else ""),
                f"Complaints whose reporter details {verb} erased: {len(self.complaints)}"
                + (f" ({', '.join(map(str, self.complaints))})" if self.complaints else ""),
                f"Evidence files that {verb} deleted: {len(self.files)}"]


def lists_due(db, today: dt.date, names_days: int) -> list[int]:
    """Lists not yet withheld whose campaign's county announcement (same kind) ended more than
    ``names_days`` days before ``today``."""
    cutoff = (today - dt.timedelta(days=names_days)).isoformat()
    return [r["id"] for r in db.query(
        """
        select l.id from lists l
        where l.names_withheld_at is null
          and (select max(max(v.window_end, coalesce(v.rows_until, ''))) from lists c
               join list_versions v on v.list_id = c.id and v.version = c.current_version
               where c.campaign_id = l.campaign_id and c.kind = l.kind and c.level = 'county') < ?
        order by l.id
        """, [cutoff])]


def complaints_due(db, now: dt.datetime, reporter_days: int) -> list[int]:
    cutoff = (now - dt.timedelta(days=reporter_days)).astimezone(dt.UTC).isoformat(timespec="seconds")
    return [r["id"] for r in db.query(
        "select c.id from complaints c where c.status = 'concluded' and c.reporter_erased_at is null "
        "and c.concluded_at < ? and (c.reporter_name is not null or c.reporter_phone is not null "
        "or exists (select 1 from complaint_files f where f.complaint_id = c.id)) order by c.id", [cutoff])]


def run(db, *, names_days: int, reporter_days: int, evidence_dir: Path, dry_run: bool, key: bytes, clock) -> Report:
    """Apply (or with ``dry_run`` only report) what is due; one transaction with its audit row."""
    now = clock.now()
    report = Report()
    with write_transaction(db):
        report.lists = lists_due(db, now.date(), names_days)
        report.complaints = complaints_due(db, now, reporter_days)
        marks = ",".join("?" * len(report.complaints))
        files = list(db.query(f"select id, stored_name from complaint_files where complaint_id in ({marks})",
                              report.complaints)) if report.complaints else []
        report.files = [f["stored_name"] for f in files]
        if not dry_run and (report.lists or report.complaints):
            _apply(db, report, files, marks, names_days, reporter_days, key=key, clock=clock)
    if dry_run:
        return report
    # The files after the commit; and any left by an earlier run that died or failed to delete
    # them (an erased complaint has no file rows, so any file named for it is a leftover).
    erased = {str(r["id"]) for r in db.query("select id from complaints where reporter_erased_at is not null")}
    leftovers = sorted(p.name for p in evidence_dir.glob("*-*") if p.name.split("-", 1)[0] in erased) \
        if evidence_dir.is_dir() else []
    for name in dict.fromkeys(report.files + leftovers):
        try:
            (evidence_dir / name).unlink()
            if name not in report.files:
                report.files.append(name)
        except FileNotFoundError:
            report.missing_files.append(name)
        except OSError as error:            # kept for the next run, which finds it again
            report.missing_files.append(f"{name} ({error.strerror})")
    return report


def _apply(db, report: Report, files: list, marks: str, names_days: int, reporter_days: int, *, key: bytes, clock) -> None:
    stamp = clock.stamp()
    for list_id in report.lists:
        db.execute("update lists set names_withheld_at = ? where id = ?", [stamp, list_id])
        keys.enqueue(db, f"list:{list_id}", clock=clock)
    keys.forget_withheld_names(db)
    for complaint_id in report.complaints:
        db.execute("update complaints set reporter_name = null, reporter_phone = null, reporter_erased_at = ? "
                   "where id = ?", [stamp, complaint_id])
    if files:
        db.execute(f"delete from complaint_files where complaint_id in ({marks})", report.complaints)
    audit.record(db, actor="retention", role="cli", action="retention.run", object_type="retention", object_id=stamp,
                 after={"names_days": names_days, "reporter_days": reporter_days, "lists": report.lists,
                        "complaints": report.complaints, "files": len(files)}, key=key, clock=clock)
