#!/usr/bin/env bash
# Fuzzes lab's readers with libFuzzer for SECONDS each (default 60): builds the `sanitize` preset's
# fuzz programs (clang, ASan + UBSan) if needed, then runs every target named (default: all of
# recipe safetensors jsonl text) on a working corpus seeded from its seed folders. Prints each
# target's executions and coverage; a crash leaves its input in build-sanitize/fuzz/findings/ and
# fails the script. Add such an input to fuzz/regressions/TARGET/ once it is fixed.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(recipe safetensors jsonl text)

build=build-sanitize
LAB_CLANG=1 SETUP_ONLY=1 scripts/setup.sh  # lab's build dependencies, clang 14 and libFuzzer
if [ ! -f "$build/CMakeCache.txt" ]; then cmake --preset sanitize >/dev/null; fi
cmake --build "$build" -j2 --target $(printf 'lab_fuzz_%s ' "${targets[@]}") lab_plugins

# The same options as the sanitize test preset.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1}" UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$PWD/tests/sanitize/lsan.supp:print_suppressions=0}"
export OPENBLAS_CORETYPE="${OPENBLAS_CORETYPE-$("$build/lab" --version 2>/dev/null | sed -n 's/^OpenBLAS core \([^ ]*\) .*/\1/p')}"
findings="$build/fuzz/findings"
mkdir -p "$findings"
status=0
for target in "${targets[@]}"; do
  seeds=$(awk -v t="$target" '$1 == t { $1 = ""; print }' "$build/fuzz/seeds.txt")
  [ -d "fuzz/regressions/$target" ] && seeds="$seeds fuzz/regressions/$target"
  corpus="$build/fuzz/corpus/$target"
  mkdir -p "$corpus"
  # libFuzzer reads folders; single seed files are copied into the working corpus.
  seed_dirs=()
  for seed in $seeds; do
    if [ -d "$seed" ]; then seed_dirs+=("$seed"); else cp "$seed" "$corpus/"; fi
  done
  log="$build/fuzz/$target.log"
  if "$build/fuzz/lab_fuzz_$target" "$corpus" "${seed_dirs[@]}" -max_total_time="$seconds" -timeout=20 \
      -rss_limit_mb=6144 -max_len=8192 -print_final_stats=1 -artifact_prefix="$findings/$target-" \
      >"$log" 2>&1; then
    result=clean
  else
    result="FOUND A PROBLEM (see $log)"
    status=1
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  echo "fuzz $target: ${runs:-?} executions in ${seconds} s, coverage ${cov:-?} edges, ${ft:-?} features," \
    "corpus $(ls "$corpus" | wc -l) inputs: $result"
done
exit $status
