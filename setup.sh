#!/usr/bin/env bash
# Set up xorcert in ./.venv: a CPU build of PyTorch (never a multi-GB CUDA build where
# the CPU one is at hand), then the package with its test extras, editable.
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
# torch first, pinned to the CPU build; the project's own range (torch>=2.1) then installs nothing more.
.venv/bin/python -c "import torch" 2>/dev/null || .venv/bin/python -m pip install -q "torch==2.13.0"
.venv/bin/python -m pip install -q -e ".[test]"
.venv/bin/python -c "import torch, simulator; print(f'xorcert {simulator.__version__} ready: torch {torch.__version__}, python in .venv/bin/python')"
