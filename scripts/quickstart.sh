#!/usr/bin/env bash
# Sets up, builds, and trains recipes/quickstart.toml on the Brown corpus.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
build/lab --recipe recipes/quickstart.toml --overwrite "$@"
