"""A static snapshot of the public site for a web server or CDN to serve during peak reading.

``flask --app portal export-static DIR [--live-url https://…]`` renders every public URL through the
app's own test client (so a snapshot page is byte for byte what the live portal serves at the same
moment) and writes it as plain files. Reports, tracking, search and the staff console stay on the
live portal: with ``--live-url`` the snapshot's ``href``/``action`` attributes that start with
``/complaints``, ``/search`` or ``/staff`` point to the live host; without it they stay relative and
the static server must pass those paths to the live portal.

Layout (a plain ``try_files $uri $uri/index.html =404`` serves the same URLs):

    /                         index.html
    /r/<code>                 r/<code>/index.html
    /lists/<id>               lists/<id>/index.html
    /lists/<id>.csv|.json     lists/<id>.csv, lists/<id>.json
    /lists/<id>/print         lists/<id>/print/index.html
    /lists/<id>/v<n>          lists/<id>/v<n>/index.html   (and v<n>.csv, v<n>.json, v<n>/print/)
    /notices/<id>, /pages/<slug>   …/index.html
    /feeds/<code>.rss|.atom, /robots.txt, /static/…, /assets/<name>.<hash>.<ext>   the same path
    (any unknown URL)         404.html, the portal's own 404 page
    snapshot.json             when it was made, what it holds, sha256 of every file

An HTML response becomes ``<path>/index.html``; anything else keeps its path, which always ends in
an extension, so ``/lists/5`` (a folder) and ``/lists/5.csv`` (a file) never collide.

Atomic: each export is written to ``DIR/releases/.tmp-<name>``, renamed to ``DIR/releases/<name>``
when complete, and only then does the symlink ``DIR/current`` (the web server's root) move to it
with ``os.replace``. A reader sees the old snapshot or the new one, never half of either. The last
``--keep`` releases are kept, so requests already reading an older one finish.

Consistent: every page is rendered inside one SQLite read transaction and at one frozen instant
(``generated_at``), so a list published mid-export is either everywhere or nowhere, and all pages
agree on the day. Pages show the window state of that instant (公示中, 距公示结束还有 N 天) and the
report counts of that moment: refresh the snapshot at least hourly and just after each midnight
(Asia/Shanghai) — cron ``0 * * * *`` does both — and after publishing; ``snapshot.json`` names
``refresh_before`` (the next hour, midnight or scheduled notice, whichever comes first).

Headers the live portal adds (Cache-Control, ``X-Robots-Tag`` on ``/lists/``, the CSP) are the web
server's to add for the snapshot; ``.csv`` needs a ``text/csv`` type, which nginx's mime.types lacks.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import re
import secrets
import shutil
import time
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from .. import clock
from ..runtime import get_db
from ..web.home import list_pages

# Paths that need the live portal (forms, sessions, receipt codes); never written to a snapshot.
LIVE_PATHS = ("/complaints", "/search", "/staff")
KEEP_RELEASES = 3
NOT_FOUND_PROBE = "/__snapshot-404__"

_ALT = "|".join(re.escape(p.lstrip("/")) for p in LIVE_PATHS)
_LIVE_LINK = re.compile(rb"(\s(?:href|action)=)([\"'])(/(?:" + _ALT.encode() + rb")(?=[/?#\"']))")
_LOCAL_LINK = re.compile(rb"\s(?:href|src|action)=[\"'](/(?!/)[^\"'?#]*)")


# --- URLs and files ----------------------------------------------------------------------------

def snapshot_urls(db) -> list[tuple[str, bool]]:
    """Every public URL as ``(url, required)``; a URL not required may be a 404 (a notice not yet
    public, a content file whose name is not a valid slug) and is then left out."""
    urls = [("/", True), ("/robots.txt", True), ("/feeds/all.rss", True), ("/feeds/all.atom", True)]
    # The figures and the public ledger (issue 21): a snapshot holds the ledger's first page only
    # (``next`` needs the live portal), its head, the verifier and the list index.
    urls += [(u, True) for u in ("/stats", "/stats.csv", "/stats.json", "/ledger", "/ledger.json", "/ledger/head.json",
                                 "/ledger/verify.py", "/lists.json")]
    urls += [(url, True) for url in static_urls()]
    urls += [(f"/pages/{p['slug']}", False) for p in list_pages()]
    for r in db.query("select code, level from regions order by code"):
        urls.append((f"/r/{r['code']}", True))
        if r["level"] != "group":  # villager groups have no feed or figures of their own
            urls += [(f"/feeds/{r['code']}.rss", True), (f"/feeds/{r['code']}.atom", True)]
            urls += [(f"/stats/{r['code']}{suffix}", True) for suffix in ("", ".csv", ".json")]
    for lst in db.query("select id from lists order by id"):
        urls += [(f"/lists/{lst['id']}{suffix}", True) for suffix in ("", ".csv", ".json", "/print")]
    for v in db.query("select list_id, version from list_versions order by list_id, version"):
        base = f"/lists/{v['list_id']}/v{v['version']}"
        urls += [(base + suffix, True) for suffix in ("", ".csv", ".json", "/print")]
    # The notice view alone decides whether a notice is public yet (scheduled ones are 404).
    urls += [(f"/notices/{n['id']}", False) for n in db.query("select id from notices order by id")]
    return urls


def static_urls() -> list[str]:
    """Each static file at ``/static/…`` and at the URL the templates' ``static_url`` gives it
    (a content-hashed name; its query string, if any, is not part of the file's path)."""
    folder = Path(current_app.static_folder)
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    urls = ["/static/" + f for f in files]
    with current_app.test_request_context():
        urls += [current_app.jinja_env.globals["static_url"](f).partition("?")[0] for f in files if "/" not in f]
    return list(dict.fromkeys(urls))


def file_path_for(url: str, mimetype: str) -> str:
    """Where a URL's response lives in a snapshot: HTML as ``<url>/index.html``, the rest as is."""
    path = url.strip("/")
    if mimetype == "text/html":
        return f"{path}/index.html" if path else "index.html"
    if not path or "." not in path.rsplit("/", 1)[-1]:
        raise ValueError(f"{url} ({mimetype}) has no file extension a web server could serve it by")
    return path


def link_to_live(html: bytes, live_url: str) -> bytes:
    """Make ``href``/``action`` attributes that start with a live-only path absolute to the live host."""
    base = live_url.rstrip("/").encode()
    return _LIVE_LINK.sub(lambda m: m.group(1) + m.group(2) + base + m.group(3), html)


def local_links(html: bytes) -> set[str]:
    """Site-relative paths an HTML page links to (query and fragment dropped)."""
    return {m.group(1).decode() for m in _LOCAL_LINK.finditer(html)}


def resolves(root: Path, path: str) -> bool:
    """Whether a web server with the layout above finds ``path`` in the snapshot at ``root``."""
    rel = path.strip("/")
    return (root / rel).is_file() or (root / rel / "index.html").is_file()


def refresh_before(db, generated_at: dt.datetime) -> dt.datetime:
    """The next hour, local midnight or scheduled notice, whichever comes first: after it the
    snapshot no longer matches the live portal."""
    local = generated_at.astimezone(clock.zone())
    midnight = dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(), tzinfo=clock.zone())
    candidates = [local + dt.timedelta(hours=1), midnight]
    row = next(db.query("select min(publish_at) as t from notices where publish_at > ?",
                        [local.isoformat(timespec="seconds")]), None)
    if row and row["t"]:
        candidates.append(dt.datetime.fromisoformat(row["t"]).astimezone(clock.zone()))
    return min(candidates)


# --- Writing one release -----------------------------------------------------------------------

@contextlib.contextmanager
def _one_moment(app, instant: dt.datetime):
    """Every request inside sees the clock stopped at ``instant`` and one database snapshot.

    Test-client requests reuse an app context already pushed for the same app, so they share its
    ``g`` and with it one connection holding a read transaction (WAL readers see a fixed state).
    """
    saved = app.config.get("NOW")
    app.config["NOW"] = instant.isoformat()
    try:
        with app.app_context():
            db = get_db()
            db.conn.execute("begin")
            try:
                yield db
            finally:
                db.conn.rollback()
    finally:
        app.config["NOW"] = saved


def write_release(app, root: Path, *, live_url: str | None = None, on_file=None) -> dict:
    """Render every public URL into the empty folder ``root``; returns the manifest it also writes
    as ``snapshot.json``. ``on_file(path)`` is called after each file (progress, tests)."""
    with app.app_context():
        generated_at = clock.now().replace(microsecond=0)
    client = app.test_client(use_cookies=False)
    base_url = app.config.get("PUBLIC_URL") or live_url or "http://localhost"
    files, links = [], {}
    counts = {"pages": 0, "regions": 0, "lists": 0, "list_versions": 0, "notices": 0, "feeds": 0, "static": 0, "stats": 0, "ledger": 0}

    def write(url: str, rel: str, body: bytes) -> None:
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(body)
        files.append({"path": rel, "url": url, "bytes": len(body), "sha256": hashlib.sha256(body).hexdigest()})
        if on_file:
            on_file(rel)

    with _one_moment(app, generated_at) as db:
        for url, required in snapshot_urls(db):
            resp = client.get(url, base_url=base_url)
            if resp.status_code == 404 and not required:
                continue
            if resp.status_code != 200:
                raise RuntimeError(f"{url} answered {resp.status_code}: the snapshot would be incomplete")
            body = resp.get_data()
            if resp.mimetype == "text/html":
                body = link_to_live(body, live_url) if live_url else body
                links[url] = local_links(body)
            write(url, file_path_for(url, resp.mimetype), body)
            kind = _kind_of(url)
            if kind:
                counts[kind] += 1
        missing = client.get(NOT_FOUND_PROBE, base_url=base_url)
        body = missing.get_data()
        write(NOT_FOUND_PROBE, "404.html", link_to_live(body, live_url) if live_url else body)
        until = refresh_before(db, generated_at)

    live_prefixes = () if live_url else LIVE_PATHS
    unresolved = sorted({f"{url} → {path}" for url, paths in links.items() for path in paths
                         if not resolves(root, path) and not path.startswith(live_prefixes)})
    manifest = {
        "generated_at": generated_at.isoformat(),
        "refresh_before": until.isoformat(),
        "live_url": live_url,
        "public_url": app.config.get("PUBLIC_URL"),
        "counts": {**counts, "files": len(files)},
        "unresolved_links": unresolved,
        "files": files,
    }
    (root / "snapshot.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
    return manifest


def _kind_of(url: str) -> str | None:
    parts = url.strip("/").split("/")
    if parts[0] == "lists" and len(parts) == 2 and parts[1].isdigit():
        return "lists"
    if parts[0] == "lists" and len(parts) == 3 and parts[2][1:].isdigit():
        return "list_versions"
    return {"pages": "pages", "r": "regions", "notices": "notices", "feeds": "feeds", "static": "static",
            "assets": "static", "stats": "stats", "ledger": "ledger"}.get(parts[0])


# --- Swapping releases -------------------------------------------------------------------------

def export_static(app, directory, *, live_url: str | None = None, keep: int = KEEP_RELEASES, on_file=None) -> dict:
    """Write a new release under ``directory/releases`` and point ``directory/current`` at it
    atomically; prune all but the newest ``keep`` releases. Returns the manifest (plus ``release``)."""
    root = Path(directory)
    live_url = live_url.rstrip("/") if live_url else None
    current = root / "current"
    if current.exists() and not current.is_symlink():
        raise ValueError(f"{current} exists and is not a symlink: move it away first")
    releases = root / "releases"
    releases.mkdir(parents=True, exist_ok=True)
    with app.app_context():
        stamp = clock.now().astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        day_ago = clock.current().timestamp() - 86400
    name = f"{stamp}-{secrets.token_hex(3)}"
    staging = releases / f".tmp-{name}"
    staging.mkdir()
    try:
        manifest = write_release(app, staging, live_url=live_url, on_file=on_file)
        os.rename(staging, releases / name)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    link = root / f".current-{name}"
    os.symlink(os.path.join("releases", name), link)
    os.replace(link, current)
    _prune(releases, keep, name, day_ago)
    return {**manifest, "release": name}


def _prune(releases: Path, keep: int, current: str, day_ago: float) -> None:
    """Delete releases beyond the newest ``keep`` (never the current one), and staging folders
    left by a crashed export more than a day ago."""
    done = sorted((p for p in releases.iterdir() if p.is_dir() and not p.name.startswith(".")),
                  key=lambda p: p.stat().st_mtime_ns, reverse=True)
    old = [p for p in done if p.name != current][max(keep - 1, 0):]
    stale = [p for p in releases.glob(".tmp-*") if p.stat().st_mtime < day_ago]
    for p in old + stale:
        shutil.rmtree(p, ignore_errors=True)


@click.command("export-static")
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--live-url", help="The live portal, e.g. https://gongshi.example.gov.cn: links to reports, "
                                 "search and the console point there.")
@click.option("--keep", default=KEEP_RELEASES, show_default=True, type=click.IntRange(min=1),
              help="Releases to keep (requests may still be reading an older one).")
@with_appcontext
def export_static_command(directory, live_url, keep):
    """Write the public pages as a static snapshot into DIRECTORY/releases and point DIRECTORY/current at it."""
    if live_url and not re.match(r"^https?://[^/\s]+(/\S*)?$", live_url):
        raise click.BadParameter("expected an absolute http(s) URL", param_hint="--live-url")
    started = time.perf_counter()
    try:
        m = export_static(current_app._get_current_object(), directory, live_url=live_url, keep=keep)
    except (ValueError, RuntimeError) as e:
        raise click.ClickException(str(e)) from e
    c = m["counts"]
    click.echo(f"Snapshot {m['release']}: {c['files']} files ({c['lists']} lists, {c['list_versions']} versions, "
               f"{c['regions']} regions, {c['notices']} notices) in {time.perf_counter() - started:.1f} s "
               f"→ {Path(directory) / 'current'}")
    click.echo(f"Made for {m['generated_at']}; refresh before {m['refresh_before']}.")
    for link in m["unresolved_links"]:
        click.echo(f"warning: link not in the snapshot: {link}", err=True)
