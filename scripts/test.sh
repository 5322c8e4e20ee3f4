#!/usr/bin/env bash
# The test command: installs what the tests need (idempotent), starts services, runs every test this
# machine can run (all but GPU ones).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
if [ -f scripts/setup_docker.sh ]; then bash scripts/setup_docker.sh; fi
python3 -m pytest -m "not gpu" "$@"
