#!/usr/bin/env bash
# The test command: installs what the tests need (idempotent), starts Docker for the sandbox tests, runs
# every test this machine can run (all but GPU ones), and stops the Docker engine again if it started it
# (by the PID it started, never by name).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
export AGENTGYM_DOCKERD_PIDFILE="${AGENTGYM_DOCKERD_PIDFILE:-/tmp/agentgym-dockerd.$$.pid}"
rm -f "$AGENTGYM_DOCKERD_PIDFILE"
stop_dockerd() {
  [ -s "$AGENTGYM_DOCKERD_PIDFILE" ] || return 0
  local pid
  pid="$(cat "$AGENTGYM_DOCKERD_PIDFILE")"
  rm -f "$AGENTGYM_DOCKERD_PIDFILE"
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || return 0; sleep 1; done
  kill -9 "$pid" 2>/dev/null || true
}
trap stop_dockerd EXIT
bash scripts/setup_docker.sh
python3 -m pytest -m "not gpu" "$@"
