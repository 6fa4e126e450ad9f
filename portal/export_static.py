"""A static snapshot of the public site for a web server or CDN to serve during peak reading."""

from __future__ import annotations

import click


@click.command("export-static")
@click.argument("directory")
def export_static_command(directory):
    """Write the public pages as static files into DIRECTORY."""
    raise click.ClickException("not built yet")
