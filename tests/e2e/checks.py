"""The checks every public page must pass: valid HTML, axe at WCAG 2.1 AA, weight, no JS, one host.

The same functions audit the portal's pages (test_pages.py) and deliberately broken pages
(test_checks.py), which shows that each check can fail.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import re
import shutil
import subprocess
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urljoin, urlsplit

HERE = Path(__file__).resolve().parent
VNU_JAR = HERE / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"
AXE_JS = HERE / "node_modules" / "axe-core" / "axe.min.js"
WEIGHT_LIMIT = 30 * 1024
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
LOOPBACK = ("127.0.0.1", "localhost", "[::1]", "::1")


def require_tools() -> None:
    missing = [str(p) for p in (VNU_JAR, AXE_JS) if not p.exists()]
    if not shutil.which("java"):
        missing.append("java")
    if missing:
        raise RuntimeError("missing test tools: " + ", ".join(missing) + " — run `bash tests/run.sh` once")


def fetch(url: str) -> tuple[bytes, bytes, dict]:
    """GET ``url`` as a phone browser would (gzip accepted): (bytes on the wire, body, headers)."""
    req = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            wire, raw_headers = resp.read(), resp.headers
    except urllib.error.HTTPError as error:  # error pages are audited too
        wire, raw_headers = error.read(), error.headers
    headers = {k.lower(): v for k, v in raw_headers.items()}
    body = gzip.decompress(wire) if headers.get("content-encoding") == "gzip" else wire
    return wire, body, headers


@dataclasses.dataclass
class PageReport:
    url: str
    html: str
    wire_bytes: int = 0
    problems: list[str] = dataclasses.field(default_factory=list)


def weigh(url: str) -> PageReport:
    """HTML plus its stylesheets, as transferred; flags scripts, fonts, extra stylesheets, other hosts."""
    wire, body, headers = fetch(url)
    html = body.decode("utf-8")
    report = PageReport(url, html, len(wire))
    if not headers.get("content-type", "").startswith("text/html"):
        report.problems.append(f"not an HTML page: {headers.get('content-type')}")
    sheets = re.findall(r'<link[^>]+rel="stylesheet"[^>]*href="([^"]+)"', html)
    if len(sheets) > 1:
        report.problems.append(f"{len(sheets)} stylesheets; one small stylesheet is the rule")
    for href in sheets:
        css_wire, css, _ = fetch(urljoin(url, href))
        report.wire_bytes += len(css_wire)
        if b"@font-face" in css or b"@import" in css:
            report.problems.append("stylesheet loads fonts or other stylesheets")
    if re.search(r"<script\b", html, re.I):
        report.problems.append("page carries a script; public pages must not need JavaScript")
    for ref in re.findall(r'(?:src|href|action)="((?:https?:)?//[^"]+)"', html):
        host = urlsplit(ref).hostname or ""
        if host not in LOOPBACK and host != urlsplit(url).hostname:
            report.problems.append(f"refers to another host: {ref}")
    if report.wire_bytes > WEIGHT_LIMIT:
        report.problems.append(f"{report.wire_bytes} bytes over the wire, over {WEIGHT_LIMIT}")
    return report


def vnu_errors(files: list[Path]) -> dict[str, list[str]]:
    """Run the Nu HTML Checker once over ``files``; error messages per file (empty when valid)."""
    out = subprocess.run(
        ["java", "-jar", str(VNU_JAR), "--format", "json", "--stdout", "--exit-zero-always", *map(str, files)],
        capture_output=True, text=True, timeout=300, check=True,
    ).stdout
    errors: dict[str, list[str]] = {Path(f).name: [] for f in files}
    for m in json.loads(out)["messages"]:
        if m["type"] == "error" or m.get("subType") == "fatal":
            name = Path(urlsplit(m.get("url", "")).path).name
            errors.setdefault(name, []).append(f"line {m.get('lastLine')}: {m['message']}")
    return errors


def axe_violations(page) -> list[dict]:
    """axe-core at WCAG 2.0/2.1 A and AA on the page as loaded (the context needs JavaScript on)."""
    page.add_script_tag(path=str(AXE_JS))
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", AXE_TAGS
    )
    return [
        {"id": v["id"], "help": v["help"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
    ]


class HostGuard:
    """Aborts every browser request that leaves the loopback host, and remembers it."""

    def __init__(self, context):
        self.blocked: list[str] = []
        context.route("**/*", self._handle)

    def _handle(self, route):
        host = urlsplit(route.request.url).hostname or ""
        if route.request.url.startswith(("data:", "about:")) or host in LOOPBACK:
            route.continue_()
        else:
            self.blocked.append(route.request.url)
            route.abort()
