#!/usr/bin/env bash
# Builds the `sanitize` preset (clang 14, AddressSanitizer with leak checking and
# UndefinedBehaviorSanitizer on lab's own code, libFuzzer instrumentation) in build-sanitize/ and
# runs the whole test suite under it. Extra arguments go to ctest, e.g. scripts/sanitize.sh -R Tokenizer.
set -euo pipefail
cd "$(dirname "$0")/.."
LAB_CLANG=1 SETUP_ONLY=1 scripts/setup.sh  # lab's build dependencies, clang 14 and libFuzzer
[ -f build-sanitize/CMakeCache.txt ] || cmake --preset sanitize >/dev/null
cmake --build --preset sanitize
if [ -z "${OPENBLAS_CORETYPE+set}" ]; then
  core=$(build-sanitize/lab --version 2>/dev/null | sed -n 's/^OpenBLAS core \([^ ]*\) .*/\1/p')
  if [ -n "$core" ]; then export OPENBLAS_CORETYPE="$core"; fi
fi
ctest --preset sanitize "$@"
