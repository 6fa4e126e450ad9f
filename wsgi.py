"""WSGI entry point: ``gunicorn wsgi:app``."""

from portal import create_app

app = create_app()
if not app.config.get("PUBLIC_URL"):
    app.logger.warning("PORTAL_PUBLIC_URL is not set: printed QR codes will carry whatever host each request named")
