#!/usr/bin/env bash
# Shared set-up for run.sh and test.sh: a virtual environment with the pinned dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  # torch==2.13.0 is the CPU build on this machine's disk; GPU hosts install their own CUDA build first.
  .venv/bin/python -m pip install --quiet -e ".[test]"
  touch "$stamp"
fi
