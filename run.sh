#!/usr/bin/env bash
# Set up (first time) and run ccserver on its embedded defaults: an SQLite file in ./data,
# the in-memory bus and the built-in Asterisk simulator. Nothing else needs to be running.
# Extra arguments go to `ccserver run` (e.g. ./run.sh --port 9090 --config my.toml).
set -euo pipefail
cd "$(dirname "$0")"
source .ci/venv.sh
ensure_venv ""
# A trial should work at any hour: queues open around the clock unless told otherwise.
export CCSERVER_ROUTING__ALWAYS_OPEN="${CCSERVER_ROUTING__ALWAYS_OPEN:-true}"
exec .venv/bin/ccserver run --seed-demo-if-empty "$@"
