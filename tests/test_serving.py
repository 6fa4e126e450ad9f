"""Production serving: gunicorn with gunicorn.conf.py runs the workers and one search indexer, keeps
the indexer alive, and stops it with the server."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url):
    with urllib.request.urlopen(url, timeout=5) as r:
        return r.status, r.headers, r.read().decode()


def indexers(instance):
    out = subprocess.run(["pgrep", "-f", "portal indexer"], capture_output=True, text=True).stdout.split()
    return [int(pid) for pid in out if f"PORTAL_INSTANCE={instance}".encode() in Path(f"/proc/{pid}/environ").read_bytes().replace(b"\0", b" ")]


def wait_for(check, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if check():
                return True
        except OSError:
            pass
        time.sleep(0.3)
    return False


def test_gunicorn_serves_with_one_indexer_that_is_restarted_and_stopped(tmp_path):
    port = free_port()
    instance = tmp_path / "instance"
    env = {**os.environ, "PORTAL_INSTANCE": str(instance), "PORTAL_NOW": "2026-11-23T10:00:00+08:00",
           "PORTAL_BIND": f"127.0.0.1:{port}", "PORTAL_WORKERS": "2"}
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "wsgi:app"], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        assert wait_for(lambda: get(base + "/healthz")[0] == 200), "gunicorn did not start"
        assert wait_for(lambda: "龙尾巴村初选公示名单" in get(base + "/search?q=lwb")[2]), "the indexer did not build"
        status, headers, _ = get(base + "/lists/8")
        assert headers["Cache-Control"] == "public, max-age=60" and headers["ETag"]
        (pid,) = indexers(instance)
        os.kill(pid, signal.SIGKILL)
        assert wait_for(lambda: len(indexers(instance)) == 1 and indexers(instance) != [pid], 20), "not restarted"
    finally:
        server.send_signal(signal.SIGTERM)
        out = server.communicate(timeout=30)[0].decode()
    assert wait_for(lambda: indexers(instance) == [], 15), "the indexer outlived the server"
    assert '"GET /lists/8 HTTP/1.1" 200' in out           # the access log
