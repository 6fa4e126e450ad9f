"""The ``import`` command."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext

from ..domain.campaigns import get_campaign
from .marked import marked_copy
from .run import import_file
from .shapes import KINDS, ImportFileError, Scope


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--kind", required=True, type=click.Choice(KINDS), help="What the file holds.")
@click.option("--campaign", "campaign_id", type=int, help="Campaign id (quotas and applicants).")
@click.option("--region", "region_code", default="", help="Only accept rows inside this region (default: the campaign's county).")
@click.option("--dry-run", is_flag=True, help="Validate and report what would change; write nothing.")
@click.option("--report", "report_path", type=click.Path(dir_okay=False, path_type=Path), help="Also write the report as CSV.")
@click.option("--marked", "marked_path", type=click.Path(dir_okay=False, path_type=Path),
              help="When there are problems, write the file back as XLSX with a 问题说明 column and the cells marked.")
@with_appcontext
def import_command(file, kind, campaign_id, region_code, dry_run, report_path, marked_path):
    """Import a CSV (UTF-8/GBK) or XLSX spreadsheet: all rows or none (exit 1 on any error)."""
    from flask import current_app

    from .. import clock
    from ..runtime import get_db, id_key

    db = get_db()
    if kind != "regions" and campaign_id is None:
        raise click.ClickException("--campaign is required for quotas and applicants.")
    if campaign_id is not None:
        campaign = get_campaign(db, campaign_id)
        if campaign is None:
            raise click.ClickException(f"批次 {campaign_id} 不存在。")
        region_code = region_code or campaign["county_code"]
    scope = Scope(campaign_id, region_code, "命令行", "cli", id_key(), clock.current(), current_app.config["NAME_LATIN"])
    try:
        report = import_file(db, file, kind=kind, scope=scope, dry_run=dry_run)
    except ImportFileError as error:
        raise click.ClickException(str(error))
    if report.sheets:
        click.echo(f"读取了 {len(report.sheets)} 个工作表：{'、'.join(report.sheets)}。")
    if report.skipped_sheets:
        click.echo(f"这些工作表里没有表格，已跳过：{'、'.join(report.skipped_sheets)}。")
    for problem in report.problems:
        click.echo(problem.line())
    if report.more_problems:
        click.echo(f"……另有 {report.more_problems} 处错误未列出。")
    if report_path:
        report_path.write_text(report.csv_text(), encoding="utf-8")
    if marked_path and report.problems:
        marked_path.write_bytes(marked_copy(file, report.problems, report.header_rows))
        click.echo(f"标出问题的表格：{marked_path}")
    click.echo(f"{report.filename}（{report.encoding}）：" + report.summary() + ("（试运行，没有写入）" if dry_run and report.ok else ""))
    if not report.ok:
        raise SystemExit(1)
