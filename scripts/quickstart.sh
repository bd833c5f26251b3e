#!/usr/bin/env bash
# Sets up, builds, and trains recipes/quickstart.toml on the Brown corpus.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh lab   # lab and its plugins; scripts/test.sh builds the test programs
build/lab --recipe recipes/quickstart.toml --overwrite "$@"
