#!/usr/bin/env bash
# The GPU check, one prepared script for a GPU machine with no network (under 8 minutes on one GPU):
#   1. installs what the machine lacks, offline, from build/gpu_wheels/ (made by scripts/gpu_wheels.sh on a
#      machine with PyPI) into a venv that sees the machine's own torch and transformers
#      (--system-site-packages), then agentgym from this tree in editable mode;
#   2. runs the `gpu`-marked tests;
#   3. runs bench/gpu_check.py: the trainer's bf16 step on SmolLM2-135M, Qwen2.5-0.5B and Qwen2.5-1.5B
#      architectures with random weights (optimization and generation timed apart, tokens/s, MFU, memory);
#   4. prints one summary table; the JSON goes to $OUT/gpu_check.json (build/ without $OUT).
#
#   bash scripts/gpu_wheels.sh    # here, with PyPI: fills build/gpu_wheels/ (~30 MB)
#   bash scripts/gpu_check.sh     # on the GPU machine, build/gpu_wheels carried along
#   bash scripts/gpu_check.sh --install-only   # stage 1 alone (then use $GPU_CHECK_VENV/bin/python)
#
# Settings (environment): PYTHON (python3), GPU_WHEELS_DIR, GPU_CHECK_VENV, GPU_CHECK_BUDGET_S (470: the
# whole run; each stage is cut by `timeout` to what is left), GPU_CHECK_BENCH_ARGS (extra arguments of
# bench/gpu_check.py, e.g. "--device cpu --tiny" for a dry run without a GPU).
set -uo pipefail  # no -e: every stage runs and reports, the exit status says whether all passed
cd "$(dirname "$0")/.."
START=$SECONDS
BUDGET="${GPU_CHECK_BUDGET_S:-470}"
PY="${PYTHON:-python3}"
WHEELS="${GPU_WHEELS_DIR:-build/gpu_wheels}"
VENV="${GPU_CHECK_VENV:-/tmp/agentgym-gpu-venv}"
OUTDIR="${OUT:-build}"
JSON="$OUTDIR/gpu_check.json"
LOG="$OUTDIR/gpu_check_pytest.log"
ILOG="$OUTDIR/gpu_check_install.log"
mkdir -p "$OUTDIR"
# offline: no index, no hub; ignore pip configuration that may point at unreachable indexes
export PIP_NO_INDEX=1 PIP_CONFIG_FILE=/dev/null PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
unset PIP_FIND_LINKS PIP_INDEX_URL PIP_EXTRA_INDEX_URL PIP_CONSTRAINT PIP_REQUIRE_VIRTUALENV
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
left() { echo $((BUDGET - (SECONDS - START))); }
STATUS=0
INSTALL="not run"
PYTEST="not run"

echo "== gpu_check: $("$PY" --version 2>&1) at $(command -v "$PY"); budget ${BUDGET} s"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader

# ---------------------------------------------------------------- 1. install, offline
install() {
  local vpy="$VENV/bin/python"
  if [ -x "$vpy" ] && "$vpy" -P -c "import agentgym.trainers, pytest_asyncio, pytest_timeout" 2>/dev/null; then
    INSTALL="ok (venv $VENV already set up)"
    return 0
  fi
  [ -d "$WHEELS" ] || { INSTALL="FAILED: no $WHEELS (run bash scripts/gpu_wheels.sh where PyPI is reachable)"; return 1; }
  # without ensurepip (often missing): bootstrap pip from its own wheel, which runs as a zip
  "$PY" -m venv --without-pip --system-site-packages "$VENV" || { INSTALL="FAILED: venv"; return 1; }
  # --system-site-packages sees the base interpreter's packages only: where $PY is itself a venv (or keeps
  # torch in the user site), its site directories are added to the new venv too, after the venv's own
  local vsite
  vsite="$("$vpy" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")"
  "$vpy" -c "import sys; print('\n'.join(sys.path))" | "$PY" -c "import os, site, sys
seen = {os.path.realpath(p) for p in sys.stdin.read().splitlines() if p}
dirs = site.getsitepackages() + ([site.getusersitepackages()] if site.ENABLE_USER_SITE else [])
print('\n'.join(f'import site; site.addsitedir({d!r})' for d in dirs
                if os.path.isdir(d) and os.path.realpath(d) not in seen))" >"$vsite/zz_gpu_check_parent.pth" \
    || { INSTALL="FAILED: parent site directories"; return 1; }
  local pipwhl
  pipwhl="$(ls "$WHEELS"/pip-*.whl 2>/dev/null | head -1)"
  [ -n "$pipwhl" ] || { INSTALL="FAILED: no pip wheel in $WHEELS"; return 1; }
  # (--ignore-installed: into the venv even where the machine has an older pip of its own)
  "$vpy" "$pipwhl/pip" install -q --no-index --ignore-installed "$pipwhl" >>"$ILOG" 2>&1 || { INSTALL="FAILED: pip bootstrap"; return 1; }
  local reqs
  mapfile -t reqs < <(PYTHON="$vpy" bash scripts/gpu_wheels.sh --list)
  # what the machine has already (torch, transformers, numpy, ...) satisfies its requirement and stays
  "$vpy" -m pip install -q --no-index --find-links "$WHEELS" "${reqs[@]}" >>"$ILOG" 2>&1 \
    || { INSTALL="FAILED: pip install ${reqs[*]}"; return 1; }
  # this tree, editable (the build backend comes from the wheels too); else the wheel built with the wheels
  if "$vpy" -m pip install -q --no-index --find-links "$WHEELS" --no-deps -e . >>"$ILOG" 2>&1; then
    INSTALL="ok (editable)"
  elif "$vpy" -m pip install -q --no-index --no-deps "$WHEELS"/agentgym-*.whl >>"$ILOG" 2>&1; then
    INSTALL="ok (agentgym wheel from gpu_wheels.sh, not this tree's latest edits)"
  else
    INSTALL="FAILED: agentgym"; return 1
  fi
  "$vpy" -P -c "import agentgym.trainers" >>"$ILOG" 2>&1 || { INSTALL="FAILED: import agentgym.trainers"; return 1; }
}
echo "== install ($(left) s left; pip's output in $ILOG)"
: >"$ILOG"
install || { STATUS=1; tail -20 "$ILOG"; }
echo "install: $INSTALL"
VPY="$VENV/bin/python"
[ -x "$VPY" ] || VPY="$PY"
if [ "${1:-}" = "--install-only" ]; then
  exit $STATUS
fi
"$VPY" -c "import torch, transformers; print('torch', torch.__version__, 'cuda', torch.version.cuda, \
'available', torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else '', \
'| transformers', transformers.__version__)" || STATUS=1

# ---------------------------------------------------------------- 2. gpu-marked tests
# -P: the repository root is not put on sys.path (agentgym.trainers lives in trainers/, mapped at install)
mapfile -t GPU_TESTS < <(grep -rlE "mark\.gpu" tests --include='*.py' | sort)
T=$(( $(left) - 300 )); [ "$T" -gt 150 ] && T=150
if [ "$T" -lt 30 ]; then
  PYTEST="skipped: time budget"
else
  echo "== pytest -m gpu ${GPU_TESTS[*]} (timeout ${T} s)"
  timeout -k 10 "$T" "$VPY" -P -m pytest -m gpu -q -rs -p no:cacheprovider -o addopts="" "${GPU_TESTS[@]}" 2>&1 \
    | tee "$LOG" | tail -40
  rc=${PIPESTATUS[0]}
  summary="$(grep -E "(passed|failed|skipped|error|no tests ran)" "$LOG" | tail -1 | sed 's/=//g; s/^ *//; s/ *$//')"
  case $rc in
    0) PYTEST="ok: $summary" ;;
    124|137) PYTEST="TIMED OUT after ${T} s: $summary"; STATUS=1 ;;
    *) PYTEST="FAILED (exit $rc): $summary"; STATUS=1 ;;
  esac
fi
echo "pytest: $PYTEST"

# ---------------------------------------------------------------- 3. throughput
T=$(( $(left) - 15 ))
if [ "$T" -lt 60 ]; then
  BENCH="skipped: time budget"; STATUS=1
else
  echo "== bench/gpu_check.py (timeout ${T} s)"
  rm -f "$JSON"  # the summary must never show an earlier run's figures
  # shellcheck disable=SC2086  # GPU_CHECK_BENCH_ARGS is a list of arguments
  timeout -k 10 "$T" "$VPY" -P bench/gpu_check.py --out "$JSON" --deadline-s "$((T - 10))" ${GPU_CHECK_BENCH_ARGS:-}
  rc=$?
  case $rc in
    0) BENCH="ok" ;;
    3) BENCH="incomplete: models skipped for time"; STATUS=1 ;;
    124|137) BENCH="TIMED OUT after ${T} s (the JSON holds the stages done)"; STATUS=1 ;;
    *) BENCH="FAILED (exit $rc)"; STATUS=1 ;;
  esac
fi

# ---------------------------------------------------------------- 4. one summary table
echo
echo "================ GPU check summary ($((SECONDS - START)) s) ================"
"$VPY" -P bench/gpu_check.py --summary "$JSON" --stage "install=$INSTALL" --stage "pytest=$PYTEST" \
  --stage "bench=$BENCH" || STATUS=1
echo "JSON: $JSON"
exit $STATUS
