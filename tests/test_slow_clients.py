"""Slow clients (issue 22, item 5): fifty connections that announce a body and stall do not starve
gunicorn's workers — /healthz and a list page still answer within a second — and each stalled one is
answered 408 once its body deadline has passed."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

from .test_serving import ROOT, free_port, get, wait_for

STALLED = 50


def timed_get(url: str) -> float:
    started = time.monotonic()
    status, _, _ = get(url)
    assert status == 200
    return time.monotonic() - started


def test_stalled_clients_do_not_starve_the_workers(tmp_path):
    port = free_port()
    env = {**os.environ, "PORTAL_INSTANCE": str(tmp_path / "instance"), "PORTAL_NOW": "2026-11-23T10:00:00+08:00",
           "PORTAL_BIND": f"127.0.0.1:{port}", "PORTAL_WORKERS": "2", "PORTAL_BODY_TIMEOUT": "4"}
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "wsgi:app"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    stalled = []
    try:
        assert wait_for(lambda: get(base + "/healthz")[0] == 200), "gunicorn did not start"
        timed_get(base + "/lists/8")                            # warm: templates compiled
        for _ in range(STALLED):
            s = socket.create_connection(("127.0.0.1", port), timeout=30)
            s.sendall(b"POST /complaints/new HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded"
                      b"\r\nContent-Length: 1000\r\n\r\nground=")
            stalled.append(s)
        time.sleep(0.5)                                         # every one is now waiting for its body
        health = [timed_get(base + "/healthz") for _ in range(5)]
        page = [timed_get(base + "/lists/8") for _ in range(5)]
        assert max(health) < 1 and max(page) < 1, (health, page)
        # Past the deadline each stalled connection is told so and closed.
        answers = [s.recv(200) for s in stalled]
        assert all(a.startswith(b"HTTP/1.1 408") for a in answers), answers[:3]
    finally:
        for s in stalled:
            s.close()
        server.terminate()
        server.wait(timeout=30)
