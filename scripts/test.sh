#!/usr/bin/env bash
# Sets up and builds (if needed), then runs every test suite through ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# lab and the test programs restart themselves on OpenBLAS's right kernels for this processor; the
# core lab chooses, exported once here, spares each test process that restart.
if [ -z "${OPENBLAS_CORETYPE+set}" ]; then
  core=$(build/lab --version 2>/dev/null | sed -n 's/^OpenBLAS core \([^ ]*\) .*/\1/p')
  if [ -n "$core" ]; then export OPENBLAS_CORETYPE="$core"; fi
fi
ctest --test-dir build --output-on-failure -j2 "$@"
