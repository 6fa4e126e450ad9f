"""Backup and restore of an instance: the SQLite database (online backup), evidence files and settings."""

from __future__ import annotations

import click


@click.command("backup")
@click.argument("directory")
def backup_command(directory):
    """Write a consistent backup of this instance into DIRECTORY."""
    raise click.ClickException("not built yet")


@click.command("restore")
@click.argument("directory")
def restore_command(directory):
    """Restore this instance from a backup made by `backup`."""
    raise click.ClickException("not built yet")
