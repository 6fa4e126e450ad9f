#!/usr/bin/env bash
# The unit tests (no browser checks) on another date, with a clock that starts there and runs on:
#   bash tests/faketime.sh '2027-08-16 09:30:00'
#   TZ=UTC bash tests/faketime.sh '2026-12-31 15:59:50'      # 23:59:50 in Asia/Shanghai
# Run after tests/run.sh (it made .venv). Every process of the run, the portal's servers, indexers
# and import checkers included, sees the same moved clock (libfaketime, Debian package faketime).
set -euo pipefail
cd "$(dirname "$0")/.."
when="$1"; shift
if ! command -v faketime >/dev/null; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends faketime >/dev/null
fi
# Why --exclude-monotonic and the sitecustomize: see tests/faketime/sitecustomize.py.
export PYTHONPATH="$PWD/tests/faketime${PYTHONPATH:+:$PYTHONPATH}"
echo "Unit tests under faketime '$when' (TZ=${TZ:-unset}):"
faketime -m --exclude-monotonic "$when" date
exec faketime -m --exclude-monotonic "$when" .venv/bin/python -m pytest --ignore=tests/e2e -p no:cacheprovider "$@"
