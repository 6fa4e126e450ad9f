"""A real portal server on a free loopback port, with the demo on a temporary database, and
Debian's Chromium driven by Playwright (never `playwright install`)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from .checks import HostGuard, require_tools

NOW = "2026-11-23T10:00:00+08:00"
CHROMIUM = os.environ.get("PORTAL_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = Path(os.environ.get("PORTAL_SCREENSHOTS", ROOT / "screenshots"))
PHONE = {"width": 360, "height": 640}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_portal(instance: Path, now: str):
    """Run the portal as a separate process on a free loopback port; yields its base URL."""
    require_tools()
    port = free_port()
    env = {**os.environ, "PORTAL_INSTANCE": str(instance), "PORTAL_NOW": now, "PORTAL_LOAD_DEMO": "true"}
    env.pop("PORTAL_DATABASE", None)
    proc = subprocess.Popen([sys.executable, "-m", "flask", "--app", "portal", "serve", "--port", str(port)],
                            env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while True:
            try:
                urllib.request.urlopen(base + "/healthz", timeout=2)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    proc.kill()
                    raise RuntimeError("portal did not start:\n" + proc.stdout.read().decode(errors="replace"))
                time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def flask_cli(instance: Path, *args: str, stdin: str = "") -> str:
    """Run a `flask --app portal` command against an instance folder (as an operator would)."""
    env = {**os.environ, "PORTAL_INSTANCE": str(instance), "PORTAL_NOW": NOW, "PORTAL_LOAD_DEMO": "true"}
    result = subprocess.run([sys.executable, "-m", "flask", "--app", "portal", *args], env=env, cwd=ROOT,
                            input=stdin, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.fixture(scope="session")
def live_instance(tmp_path_factory):
    return tmp_path_factory.mktemp("instance")


@pytest.fixture(scope="session")
def live_server(live_instance):
    """The portal with the demo on a temporary database, the clock frozen at NOW."""
    with running_portal(live_instance, NOW) as base:
        yield base


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"{CHROMIUM} not found — run `bash tests/run.sh` once (it installs Debian's chromium)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def open_context(browser):
    """Make a browser context (phone-sized by default) whose off-host requests are blocked."""
    made = []

    def make(*, javascript=True, viewport=PHONE, **kwargs):
        context = browser.new_context(viewport=viewport, java_script_enabled=javascript,
                                      device_scale_factor=2, locale="zh-CN", accept_downloads=True,
                                      bypass_csp=True, **kwargs)   # lets the tests inject axe-core
        context.guard = HostGuard(context)
        made.append(context)
        return context

    yield make
    for context in made:
        assert context.guard.blocked == [], f"requests to other hosts: {context.guard.blocked}"
        context.close()


@pytest.fixture(scope="session")
def shots():
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
