"""Gunicorn settings for the portal: `gunicorn wsgi:app` (run from the repository folder) reads this file.

Every value can be overridden on the command line or with GUNICORN_CMD_ARGS. Slow or stalled
clients (phones on 2G, or someone holding connections open on purpose) must not starve the workers:
the workers are gevent's (a connection waiting on its socket costs a greenlet, not a worker), a
request body must arrive within PORTAL_BODY_TIMEOUT seconds (else 408), and in production a
buffering reverse proxy (nginx, README) sits in front as well.
"""

import os

WORKER_CLASS = os.environ.get("PORTAL_WORKER_CLASS", "gevent")
if WORKER_CLASS == "gevent":
    # Patched here, before the app is preloaded, so that every lock and socket the app makes is
    # gevent's (a lock taken around a Redis call must let other greenlets run).
    from gevent import monkey

    monkey.patch_all()

import multiprocessing  # after the patch, on purpose
import subprocess
import sys
import threading
import time

bind = os.environ.get("PORTAL_BIND", "127.0.0.1:8000")
# Requests are short and CPU-bound (SQLite reads, templates): about one worker per core, plus one.
workers = int(os.environ.get("PORTAL_WORKERS", multiprocessing.cpu_count() + 1))
worker_class = WORKER_CLASS
worker_connections = 1000     # connections a gevent worker holds at once (waiting ones cost little)
timeout = 30                  # a worker silent this long is restarted (sync: a request taking this long)
graceful_timeout = 20
keepalive = 5
max_requests = 100000         # recycle workers now and then, staggered (memory is bounded anyway: the
max_requests_jitter = 10000   # page cache is an LRU); at 5,000 a busy worker restarted every 3 s, with an empty cache
# Migrations run once in the master before the workers fork; each worker opens its own connections.
preload_app = True
accesslog = "-"
# Address, time, request, status, bytes, duration in microseconds. Search terms (names) are in the
# URL: keep access logs on the server, readable by operators only, and rotate them (see README).
access_log_format = '%(h)s %(t)s "%(r)s" %(s)s %(B)s %(D)sus'
errorlog = "-"

_indexer = {"proc": None, "stopping": False}


def _start_indexer(server):
    env = {**os.environ, "PORTAL_INDEXER_PARENT": str(os.getpid())}
    if server.app.cfg.chdir:
        env.setdefault("PYTHONPATH", server.app.cfg.chdir)
    return subprocess.Popen([sys.executable, "-m", "flask", "--app", "portal", "indexer"], env=env)


def when_ready(server):
    """Start the one search indexer beside the workers, and start it again if it ever dies."""
    _indexer["proc"] = _start_indexer(server)

    def watch():
        while not _indexer["stopping"]:
            if _indexer["proc"].poll() is not None and not _indexer["stopping"]:
                server.log.warning("search indexer exited with %s; restarting it", _indexer["proc"].returncode)
                time.sleep(1)
                _indexer["proc"] = _start_indexer(server)
            time.sleep(1)

    threading.Thread(target=watch, daemon=True).start()


def on_exit(server):
    _indexer["stopping"] = True
    if _indexer["proc"] is not None:
        _indexer["proc"].terminate()
        _indexer["proc"].wait(timeout=10)


def post_fork(server, worker):
    """gevent workers take one waiting connection at a time (gevent's default is up to 100 per wake-up):
    with keep-alive, a worker that woke first could keep most of wrk's 20 connections while the other
    idled (province list page 4,900 req/s with 100, 5,200 with 1, in 4 runs each)."""
    if WORKER_CLASS == "gevent":
        from gevent.baseserver import BaseServer

        BaseServer.max_accept = 1


def post_worker_init(worker):
    """Give each request body a deadline: a client that announces a body and stalls gets a 408
    instead of holding its greenlet (or, with sync workers, the whole worker) as long as it likes."""
    from portal.ops.serving import BodyDeadline

    # Bodies the app would refuse anyway (over its MAX_CONTENT_LENGTH, 413) are left to it, unread.
    limit = getattr(worker.wsgi, "config", {}).get("MAX_CONTENT_LENGTH") or 16 * 1024 * 1024
    worker.wsgi = BodyDeadline(worker.wsgi, float(os.environ.get("PORTAL_BODY_TIMEOUT", "20")), int(limit))
