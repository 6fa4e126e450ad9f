"""The checks themselves: a deliberately broken page fails each of them.

Broken pages are served by a throwaway static server, never by the portal.
"""

from __future__ import annotations

import functools
import http.server
import secrets
import threading

import pytest

from .checks import axe_violations, vnu_errors, weigh

GOOD = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>测试</title>
<link rel="stylesheet" href="/style.css"></head>
<body><main><h1>测试页</h1>{body}</main></body></html>
"""


@pytest.fixture
def static_server(tmp_path):
    (tmp_path / "style.css").write_text("body { color: #111; }")
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def serve(name: str, html: str) -> str:
        (tmp_path / name).write_text(html, encoding="utf-8")
        return f"http://127.0.0.1:{server.server_port}/{name}"

    yield serve
    server.shutdown()


def test_a_good_page_passes_every_check(static_server, open_context, tmp_path):
    url = static_server("good.html", GOOD.format(body="<p>正常内容。</p>"))
    assert weigh(url).problems == []
    assert vnu_errors([tmp_path / "good.html"]) == {"good.html": []}
    page = open_context().new_page()
    page.goto(url)
    assert axe_violations(page) == []


def test_unclosed_tag_fails_the_html_check(static_server, tmp_path):
    static_server("unclosed.html", GOOD.format(body="<p>正常内容。<section><h2>小节</h2>"))
    errors = vnu_errors([tmp_path / "unclosed.html"])["unclosed.html"]
    assert errors and any("section" in e for e in errors)


def test_unlabeled_input_fails_the_accessibility_check(static_server, open_context):
    url = static_server("unlabeled.html", GOOD.format(body='<form><input type="text" name="q"></form>'))
    page = open_context().new_page()
    page.goto(url)
    assert "label" in {v["id"] for v in axe_violations(page)}


def test_low_contrast_fails_the_accessibility_check(static_server, open_context):
    url = static_server("pale.html", GOOD.format(body='<p style="color:#ccc">看不清的字</p>'))
    page = open_context().new_page()
    page.goto(url)
    assert "color-contrast" in {v["id"] for v in axe_violations(page)}


def test_a_40_kb_page_fails_the_weight_check(static_server):
    filler = "".join(f"<p>{secrets.token_hex(32)}</p>" for _ in range(575))   # 40 KB, incompressible
    report = weigh(static_server("heavy.html", GOOD.format(body=filler)))
    assert report.wire_bytes >= 40 * 1024
    assert any("over the wire" in p for p in report.problems)


def test_scripts_fonts_and_other_hosts_are_flagged(static_server):
    html = GOOD.format(body='<script>1</script><img src="https://cdn.example.com/x.png" alt="x">')
    problems = weigh(static_server("scripted.html", html)).problems
    assert any("script" in p for p in problems)
    assert any("another host" in p for p in problems)


def test_requests_to_other_hosts_are_blocked_and_recorded(static_server, browser):
    from .checks import HostGuard
    context = browser.new_context()
    guard = HostGuard(context)
    page = context.new_page()
    page.goto(static_server("remote.html", GOOD.format(body='<img src="https://cdn.example.com/x.png" alt="图">')))
    context.close()
    assert guard.blocked == ["https://cdn.example.com/x.png"]
