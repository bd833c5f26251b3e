#!/usr/bin/env bash
# Reruns every seed experiment over its seeds, then audits, compares and reports each one, and
# regenerates docs/results.md from the runs. Finished runs are skipped and stopped ones resumed, so
# the script can be interrupted and started again.
#   scripts/reproduce.sh [--preset cpu] [--only EXPERIMENT]... [--no-results]
set -euo pipefail
cd "$(dirname "$0")/.."

preset=""
only=()
write_results=1
while [ $# -gt 0 ]; do
  case "$1" in
    --preset) preset="${2:?--preset needs a name}"; shift 2 ;;
    --preset=*) preset="${1#--preset=}"; shift ;;
    --only) only+=("${2:?--only needs an experiment}"); shift 2 ;;
    --no-results) write_results=0; shift ;;
    -h|--help) sed -n '2,5p' "$0"; exit 0 ;;
    *) echo "reproduce.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
done
case "$preset" in
  "" | cpu) ;;
  *) echo "reproduce.sh: --preset must be cpu or absent (full size), not '$preset'" >&2; exit 2 ;;
esac

lab=build/lab
[ -x "$lab" ] || cmake --build build -j"$(nproc)"

# experiment | recipes (one sweep each) | preset | baseline variant | minutes per run at the cpu preset
# | extra lab sweep arguments
# The long-sequence exp4 runs at T = 2048 with k = 256, where sparse attention has keys to skip.
long_preset=long
[ "$preset" = cpu ] && long_preset=cpu-2048
experiments=(
  "exp6_flash_vs_baseline|exp6_baseline exp6_flash|$preset|baseline|1.5"
  "exp1_deepseek_attention|exp1_baseline exp1_lora exp1_flash exp1_rope_scaling exp1_full|$preset|baseline|1.5"
  "exp3_advanced_attention|exp3_baseline exp3_q_lora exp3_flash exp3_mixed_heads exp3_advanced_rope exp3_hybrid|$preset|baseline|1.5"
  "exp4_dsa|exp4_dsa|$preset|sparse.plugin-none|1.5"
  "exp4_dsa_2048|exp4_dsa|$long_preset|sparse.plugin-none|6.5"
  "exp1_rope_extrapolation|exp1_rope_extrapolation|$preset|rope.plugin-rope|2"
  # Experiment 1's report trained 20 steps; the same three variants for 20 steps, to show what that measures.
  "exp1_20_steps|exp1_baseline exp1_lora exp1_full|$preset|baseline|0.3|--set experiment.name=exp1_20_steps --set train.steps=20 --set train.warmup_steps=2 --set eval.every=20"
)

wanted() {
  [ ${#only[@]} -eq 0 ] && return 0
  local o; for o in "${only[@]}"; do [ "$o" = "$1" ] && return 0; done; return 1
}

sweep_args() {  # recipe preset extra-arguments
  local args=("recipes/$1.toml")
  [ -n "$2" ] && args+=(--preset "$2")
  [ -n "${3:-}" ] && read -r -a extra <<<"$3" && args+=("${extra[@]}")
  printf '%s\n' "${args[@]}"
}

# Runs still to train, from lab sweep's own listing (states new and resume).
pending_runs() {
  local recipe n=0
  for recipe in $2; do
    mapfile -t args < <(sweep_args "$recipe" "$3" "$4")
    n=$((n + $("$lab" sweep "${args[@]}" --dry-run 2>/dev/null | awk '$2 == "new" || $2 == "resume"' | wc -l)))
  done
  echo "$n"
}

total_runs=0
total_minutes=0
for e in "${experiments[@]}"; do
  IFS='|' read -r name recipes p base minutes extra <<<"$e"
  wanted "$name" || continue
  n=$(pending_runs "$name" "$recipes" "$p" "$extra")
  total_runs=$((total_runs + n))
  total_minutes=$(awk -v t="$total_minutes" -v n="$n" -v m="$minutes" 'BEGIN { print t + n * m }')
  echo "  $name: $n runs to train"
done
if [ "$preset" = cpu ]; then
  echo "reproduce: $total_runs runs to train; ETA about $(printf '%.0f' "$total_minutes") minutes on a 2-core Xeon (plus evaluation and audits)"
else
  echo "reproduce: $total_runs runs to train at full size; lab sweep prints an ETA after each run"
fi

for e in "${experiments[@]}"; do
  IFS='|' read -r name recipes p base minutes extra <<<"$e"
  wanted "$name" || continue
  echo "== $name"
  for recipe in $recipes; do
    mapfile -t args < <(sweep_args "$recipe" "$p" "$extra")
    "$lab" sweep "${args[@]}" --quiet
  done
  folder="runs/$name"
  # The full causality audit (exact probe and learning probe) of each variant's first seed: the
  # verdict is the architecture's, and every run already passed the exact probe when it started.
  while IFS= read -r variant; do
    run=$(find "$variant" -mindepth 2 -maxdepth 2 -name summary.json | sort | head -1)
    [ -n "$run" ] || continue
    run=$(dirname "$run")
    # The learning check trains 200 steps at the run's shape: at long sequences only the exact probe.
    depth=()
    [ "$name" = exp4_dsa_2048 ] && depth=(--exact-only)
    [ -f "$run/audit.json" ] || "$lab" audit causality "$run" "${depth[@]}" >/dev/null
  done < <(find "$folder" -mindepth 1 -maxdepth 1 -type d -not -name comparison | sort)
  if [ "$name" = exp1_rope_extrapolation ]; then
    # Length extrapolation: every run at 1x, 2x and 4x its training length.
    while IFS= read -r summary; do
      run=$(dirname "$summary")
      len=$(awk -F' *= *' '/^\[model\]/ { m = 1; next } /^\[/ { m = 0 } m && $1 == "seq_len" { print $2; exit }' \
        "$run/recipe.resolved.toml")
      [ -f "$run/eval/seq_len-$((len * 4)).json" ] ||
        "$lab" eval "$run" --seq-len "$len,$((len * 2)),$((len * 4))" >/dev/null
    done < <(find "$folder" -name summary.json -not -path '*/comparison/*' | sort)
  fi
  # Throughput measured side by side: each variant's model benchmarked (lab bench, its resolved recipe)
  # in rounds whose order reverses every round, so a drifting machine slows every variant alike.
  # Training runs' own tokens/s vary with whatever else the machine did while they trained.
  if [ "$name" != exp1_rope_extrapolation ] && [ "$name" != exp1_20_steps ] && [ ! -s "$folder/bench.jsonl" ]; then
    mapfile -t variants < <(find "$folder" -mindepth 1 -maxdepth 1 -type d -not -name comparison -printf '%f\n' | sort)
    : >"$folder/bench.jsonl.tmp"
    for round in 1 2; do
      order=("${variants[@]}")
      [ $((round % 2)) -eq 0 ] && mapfile -t order < <(printf '%s\n' "${variants[@]}" | tac)
      for v in "${order[@]}"; do
        run=$(dirname "$(find "$folder/$v" -mindepth 2 -maxdepth 2 -name summary.json | sort | head -1)")
        json=$("$lab" bench "$run/recipe.resolved.toml" --steps 3 --warmup 1 --json 2>/dev/null | tr -d '\n')
        echo "{\"round\": $round, \"variant\": \"$v\", \"bench\": $json}" >>"$folder/bench.jsonl.tmp"
      done
    done
    mv "$folder/bench.jsonl.tmp" "$folder/bench.jsonl"
  fi
  "$lab" compare "$folder" --baseline "$base" >/dev/null
  "$lab" report "$folder" --baseline "$base" >/dev/null
  echo "   $folder/comparison/comparison.md"
done

if [ "$write_results" = 1 ]; then
  python3 scripts/results.py --preset "${preset:-full}" --out docs/results.md
fi
