#!/usr/bin/env bash
# Sets up and builds (if needed), then runs every test suite through ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
ctest --test-dir build --output-on-failure -j2 "$@"
