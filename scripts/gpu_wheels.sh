#!/usr/bin/env bash
# Downloads, on a machine with PyPI, the wheels the GPU machine lacks, into build/gpu_wheels/ (CPython 3.12,
# manylinux x86_64), for scripts/gpu_check.sh to install there offline. The GPU machine already has torch,
# transformers, accelerate, peft, safetensors and pytest, so those are not brought (pytest is, in case its
# version there is older than pytest-asyncio needs). Also builds an agentgym wheel from this tree (a fallback:
# gpu_check.sh installs the tree itself in editable mode, with the setuptools and wheel brought here).
#
#   bash scripts/gpu_wheels.sh           # download into build/gpu_wheels/ and print its size
#   bash scripts/gpu_wheels.sh --list    # print the requirement list only (no download)
#
# Then carry build/gpu_wheels to the GPU machine and run `bash scripts/gpu_check.sh` there.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
DEST="${GPU_WHEELS_DIR:-build/gpu_wheels}"
TARGET_PY="${GPU_PYTHON_VERSION:-3.12}"

# agentgym's core dependencies (read from pyproject.toml, so a new one is never forgotten), the pytest
# plugins pyproject's pytest config uses (asyncio_mode -> pytest-asyncio, timeout -> pytest-timeout), the
# build backend of the editable install, and pip itself (to bootstrap a venv without ensurepip).
requirements() {
  "$PY" - <<'EOF'
import tomllib

with open("pyproject.toml", "rb") as f:
    project = tomllib.load(f)
reqs = list(project["project"]["dependencies"])
reqs += [r for r in project["project"]["optional-dependencies"]["test"]
         if r.split(">")[0].split("=")[0].strip() in {"pytest", "pytest-asyncio", "pytest-timeout"}]
reqs += list(project["build-system"]["requires"]) + ["pip"]
print("\n".join(reqs))
EOF
}

if [ "${1:-}" = "--list" ]; then
  requirements
  exit 0
fi

mapfile -t REQS < <(requirements)
rm -rf "$DEST"
mkdir -p "$DEST"
echo "gpu_wheels: downloading for CPython $TARGET_PY manylinux x86_64: ${REQS[*]}"
# every manylinux tag up to glibc 2.28 (the GPU machine's torch needs 2.28); pip < 24 does not expand a tag
# to the older ones by itself
PLATFORMS=(--platform manylinux2014_x86_64 --platform manylinux2010_x86_64 --platform manylinux1_x86_64)
for minor in $(seq 5 28); do PLATFORMS+=(--platform "manylinux_2_${minor}_x86_64"); done
"$PY" -m pip download -q --dest "$DEST" --only-binary=:all: --python-version "$TARGET_PY" \
  --implementation cp "${PLATFORMS[@]}" "${REQS[@]}"

# agentgym itself, built from a clean copy of the tree (tracked and untracked-but-not-ignored files), so
# that stale files under build/lib never reach the wheel
SRC="$(mktemp -d)"
trap 'rm -rf "$SRC"' EXIT
git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do
  [ -e "$f" ] && printf '%s\0' "$f"
done | tar -c --null -T - | tar -x -C "$SRC"
"$PY" -m pip wheel -q --no-deps --wheel-dir "$DEST" "$SRC"

ls "$DEST"
echo "gpu_wheels: $(ls "$DEST" | wc -l) wheels, $(du -sh "$DEST" | cut -f1) in $DEST (the device carries 64 MiB in all)"
