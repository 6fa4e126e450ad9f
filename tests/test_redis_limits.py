"""Limits shared across workers (issue 22, item 6): with PORTAL_RATELIMIT_STORAGE_URI=redis://…, a real
redis-server and gunicorn with two workers, failed logins are refused at the limit whichever worker
answers — the access log shows both workers took part."""

from __future__ import annotations

import concurrent.futures
import http.cookiejar
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from .test_serving import ROOT, free_port, get, wait_for

PASSWORD = "a long enough secret"
LIMIT = 8


@pytest.fixture
def redis_url(tmp_path):
    server = shutil.which("redis-server")
    if server is None:
        pytest.fail("redis-server is not installed: `bash tests/run.sh` installs it (Debian package redis-server)")
    port = free_port()
    # Redis keeps its own time: under tests/faketime.sh it runs without libfaketime (which it dislikes).
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LD_PRELOAD", "FAKETIME", "DYLD_"))}
    proc = subprocess.Popen([server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", str(tmp_path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    import redis

    client = redis.Redis(port=port)

    def answers() -> bool:
        try:
            return client.ping()
        except redis.ConnectionError:
            return False

    assert wait_for(answers, 20), "redis-server did not start"
    yield f"redis://127.0.0.1:{port}", client
    proc.terminate()
    proc.wait(timeout=10)


def attempt(base: str, password: str) -> int:
    """One login from a fresh browser (no cookies, so the same place: this address), on a new connection."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    form = opener.open(base + "/staff/login", timeout=30).read().decode()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form) or \
        re.search(r'name="csrf_token" value="([^"]+)"', form)
    data = urllib.parse.urlencode({"csrf_token": token.group(1), "username": "clerk", "password": password}).encode()
    try:
        return opener.open(base + "/staff/login", data=data, timeout=30).status
    except urllib.error.HTTPError as error:
        return error.code


def test_failed_logins_are_refused_at_the_limit_whichever_worker_answers(tmp_path, redis_url):
    url, client = redis_url
    instance = tmp_path / "instance"
    env = {**os.environ, "PORTAL_INSTANCE": str(instance),
           "PORTAL_RATELIMIT_STORAGE_URI": url, "PORTAL_LOGIN_LIMIT_PER_ACCOUNT": f"{LIMIT} per 15 minutes",
           "PORTAL_LOGIN_LIMIT_PER_ADDRESS": "100 per 15 minutes"}
    flask = [sys.executable, "-m", "flask", "--app", "portal"]
    subprocess.run([*flask, "init-db"], env=env, cwd=ROOT, check=True, capture_output=True)
    subprocess.run([*flask, "create-user", "clerk", "--role", "village_clerk", "--region", "430811100001"],
                   env=env, cwd=ROOT, check=True, capture_output=True, input=f"{PASSWORD}\n".encode())
    port = free_port()
    log = tmp_path / "access.log"
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "wsgi:app", "--access-logfile", str(log),
         "--access-logformat", '%(p)s "%(r)s" %(s)s'],
        cwd=ROOT, env={**env, "PORTAL_BIND": f"127.0.0.1:{port}", "PORTAL_WORKERS": "2"},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        assert wait_for(lambda: get(base + "/healthz")[0] == 200), "gunicorn did not start"
        # The wrong passwords arrive four at a time, so both workers are busy answering them.
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            statuses = list(pool.map(lambda _: attempt(base, "wrong password"), range(LIMIT)))
        assert statuses == [401] * LIMIT                      # each one: 用户名或密码不对
        assert attempt(base, "wrong password") == 429
        assert attempt(base, PASSWORD) == 429                 # even the right one, from this place, for now
        assert any(b"LIMITER" in k or b"login" in k.lower() for k in client.keys("*")), "nothing counted in Redis"
    finally:
        server.terminate()
        server.wait(timeout=30)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not log.exists():
        time.sleep(0.1)
    workers = {line.split()[0] for line in log.read_text().splitlines() if '"POST /staff/login' in line}
    assert len(workers) == 2, f"the login attempts were answered by {workers} only"
