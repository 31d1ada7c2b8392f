#!/usr/bin/env bash
# Run every quality gate and the whole test suite: ruff, mypy --strict, then pytest.
# Store tests run on SQLite and PostgreSQL (127.0.0.1:5432, database "test"), bus tests on the
# in-memory bus and Redis (127.0.0.1:6379); with CI=true an unreachable server fails the run.
# Browser tests need Debian's Chromium at /usr/bin/chromium (installed here when possible).
# Extra arguments go to pytest (e.g. ./test.sh -k routing -x).
set -euo pipefail
cd "$(dirname "$0")"
source .ci/venv.sh
ensure_venv dev

if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Debian's chromium for the browser tests..."
    apt-get install -y -q chromium >/dev/null 2>&1 || (apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null)
  fi
  if [ ! -x /usr/bin/chromium ]; then
    echo "missing /usr/bin/chromium: run 'sudo apt-get install chromium' (browser tests need it)" >&2
    exit 2
  fi
fi

echo "== ruff"; .venv/bin/ruff check .
echo "== mypy --strict"; .venv/bin/mypy
echo "== pytest"; exec .venv/bin/python -m pytest -q "$@"
