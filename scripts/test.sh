#!/usr/bin/env bash
# The test command: installs what the tests need (idempotent), starts Docker for the sandbox tests, runs
# every test this machine can run (all but GPU ones), and stops the Docker engine again if it started it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
started_dockerd=0
if ! docker info >/dev/null 2>&1; then started_dockerd=1; fi
bash scripts/setup_docker.sh
if [ "$started_dockerd" = 1 ]; then
  trap 'pkill -x dockerd >/dev/null 2>&1 || true' EXIT
fi
python3 -m pytest -m "not gpu" "$@"
