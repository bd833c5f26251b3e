#!/usr/bin/env bash
# Feeds the real lab program every case of one or more *.cases files and checks each outcome:
# the expected exit code, exactly one `lab: error:` line holding the expected fragment, no crash
# signal, no hang (a per-case timeout) and, for a failing case, nothing written or changed.
#
#   run_cases.sh LAB_PROGRAM PLUGIN_DIR TEST_DATA_DIR FILE.cases...
#
# A case is one line `name | exit | fragment | command`. The command is shell text run in a fresh
# empty folder ($W, also $HOME and the tokenizer cache's root); it calls the program as `lab`, and
# what it does before that call is setup. Helpers for commands: $TINY (a small valid recipe, a few
# seconds of training), $DATA (tests/data), $PLUGINS (the build's plugins), `trained_run DIR` (a
# copy of a finished tiny run) and `unfinished_run DIR` (a copy of one stopped with a checkpoint).
# Prints one line per case and the counts; exits 1 when any case did not behave as expected.
set -uo pipefail

LAB_PROGRAM=$(realpath "$1")
PLUGINS=$(realpath "$2")
DATA=$(realpath "$3")
shift 3
CASE_TIMEOUT=${LAB_CASE_TIMEOUT:-30}
export LAB_PROGRAM PLUGINS DATA CASE_TIMEOUT OPENBLAS_CORETYPE="${OPENBLAS_CORETYPE:-}"
[ -n "$OPENBLAS_CORETYPE" ] || unset OPENBLAS_CORETYPE
SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/lab-bad-inputs.XXXXXX")
export SHARED="$SCRATCH/shared"
mkdir -p "$SHARED"
cleanup() {
  grep -o " $SCRATCH/[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount 2>/dev/null
  chmod -R u+w "$SCRATCH" 2>/dev/null
  rm -rf "$SCRATCH"
}
trap cleanup EXIT

# A corpus with learnable structure: 40 documents of template sentences.
make_corpus() {
  local dir=$1 det=(the a every one) adj=(small green quiet heavy bright old)
  local noun=(river engine garden letter window teacher market) verb=(follows carries watches opens finds)
  mkdir -p "$dir"
  RANDOM=7
  for doc in $(seq 100 139); do
    for _ in $(seq 40); do
      echo "${det[RANDOM % 4]} ${adj[RANDOM % 6]} ${noun[RANDOM % 7]} ${verb[RANDOM % 5]}" \
        "${det[RANDOM % 4]} ${noun[RANDOM % 7]}."
    done >"$dir/doc$doc.txt"
  done
}
make_corpus "$SHARED/corpus"
export TINY="$SHARED/tiny.toml"
cat >"$TINY" <<EOF
[experiment]
name = "tiny"
[model]
d_model = 32
n_heads = 4
n_layers = 2
seq_len = 32
[moe]
experts = 4
top_k = 2
d_ff = 64
[kernel]
plugin = "math"
[data]
plugin = "text"
path = "$SHARED/corpus"
[tokenizer]
vocab_size = 320
cache_dir = "$SHARED/cache"
[train]
steps = 4
batch_size = 4
lr = 0.003
warmup_steps = 1
threads = 1
[eval]
every = 2
max_batches = 2
[audit]
causality = false
EOF

# Copies of one finished and one unfinished tiny run, trained once per invocation on first use.
trained_run() {
  if [ ! -d "$SHARED/finished" ]; then
    "$LAB_PROGRAM" --quiet --recipe "$TINY" --set "run.dir=\"$SHARED/finished\"" >/dev/null 2>&1 ||
      echo "setup: training the tiny run failed" >&2
  fi
  mkdir -p "$1" && cp -r "$SHARED/finished/tiny/baseline/seed-42/." "$1"
}
unfinished_run() {
  if [ ! -d "$SHARED/unfinished" ]; then
    "$LAB_PROGRAM" --quiet --recipe "$TINY" --set "run.dir=\"$SHARED/unfinished\"" --stop-after 2 \
      >/dev/null 2>&1 || echo "setup: training the tiny run failed" >&2
  fi
  mkdir -p "$1" && cp -r "$SHARED/unfinished/tiny/baseline/seed-42/." "$1"
}
# A valid JSON Lines corpus: the text corpus's documents, one record each.
good_jsonl() {
  for f in "$SHARED"/corpus/*.txt; do printf '{"text": "%s"}\n' "$(tr '\n' ' ' <"$f")"; done >"$1"
}
export -f trained_run unfinished_run good_jsonl

# What a case may not leave behind: every path with its size and content, the cache excepted.
snapshot() {
  find . -path ./cache -prune -o -path ./.case -prune -o -print0 2>/dev/null | sort -z |
    xargs -0 -r sh -c 'for p; do if [ -f "$p" ] && [ -r "$p" ]; then echo "$p $(cksum <"$p")"; else echo "$p"; fi; done' _
}
export -f snapshot

# The program as cases call it: the tree is recorded just before and the output kept.
lab() {
  snapshot >.case/before
  local start=$SECONDS rc
  timeout -k 3 "$CASE_TIMEOUT" "$LAB_PROGRAM" "$@" >.case/output 2>&1 </dev/null
  rc=$?
  echo "$rc $((SECONDS - start))" >.case/rc
  snapshot >.case/after
  return "$rc"
}
export -f lab

declare -A count=([tried]=0 [clear]=0 [worked]=0 [crash]=0 [hang]=0 [leftovers]=0 [unclear]=0 [skipped]=0)
failed=0
run_case() {
  local name=$1 want=$2 fragment=$3 command=$4
  local W="$SCRATCH/case-$name"
  mkdir -p "$W/.case"
  (cd "$W" && HOME="$W" XDG_CACHE_HOME="$W/cache" W="$W" bash -c "$command" >"$W/.case/setup" 2>&1)
  local status=$?
  # Folders a case mounted (a read-only or a small file system) go before anything is read.
  grep -o " $W/[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount 2>/dev/null
  if [ ! -f "$W/.case/rc" ] && [ "$status" = 77 ]; then
    echo "skip $name: this machine does not allow its setup (mount)"
    count[skipped]=$((count[skipped] + 1))
    rm -rf "$W"
    return
  fi
  count[tried]=$((count[tried] + 1))
  if [ ! -f "$W/.case/rc" ]; then
    echo "FAIL $name: the command never ran lab: $(tail -3 "$W/.case/setup")"
    count[unclear]=$((count[unclear] + 1))
    failed=1
    return
  fi
  local rc elapsed
  read -r rc elapsed <"$W/.case/rc"
  local errors line verdict=() ok=1
  # -a: a message may quote the bad bytes it found.
  errors=$(grep -ac '^lab: error: ' "$W/.case/output")
  line=$(grep -a -m1 '^lab: error: ' "$W/.case/output")
  if [ "$rc" = 124 ] || { [ "$rc" = 137 ] && [ "$elapsed" -ge "$CASE_TIMEOUT" ]; }; then
    count[hang]=$((count[hang] + 1))
    verdict+=("hang: no exit within ${CASE_TIMEOUT}s")
    ok=0
  elif [ "$rc" -gt 128 ] || grep -aq 'terminate called\|Segmentation fault\|core dumped' "$W/.case/output"; then
    count[crash]=$((count[crash] + 1))
    verdict+=("crash: exit $rc")
    ok=0
  elif [ "$want" = 0 ]; then
    if [ "$rc" = 0 ] && [ "$errors" = 0 ]; then
      count[worked]=$((count[worked] + 1))
    else
      count[unclear]=$((count[unclear] + 1))
      verdict+=("wanted success, got exit $rc")
      ok=0
    fi
  elif [ "$rc" = "$want" ] && [ "$errors" = 1 ] && [[ "$line" == *"$fragment"* ]]; then
    count[clear]=$((count[clear] + 1))
  else
    count[unclear]=$((count[unclear] + 1))
    verdict+=("wanted exit $want and one error line with '$fragment', got exit $rc, $errors error lines")
    ok=0
  fi
  if [ "$want" != 0 ] && ! cmp -s "$W/.case/before" "$W/.case/after"; then
    count[leftovers]=$((count[leftovers] + 1))
    verdict+=("left behind: $(diff "$W/.case/before" "$W/.case/after" | grep '^[<>]' | head -3 | tr '\n' ' ')")
    ok=0
  fi
  if [ "$ok" = 1 ]; then
    echo "ok   $name"
  else
    failed=1
    echo "FAIL $name: ${verdict[*]}"
    sed -n '1,6p' "$W/.case/output" | sed 's/^/       | /'
  fi
  chmod -R u+w "$W" 2>/dev/null
  rm -rf "$W"
}

for file in "$@"; do
  while IFS= read -r raw || [ -n "$raw" ]; do
    [[ "$raw" =~ ^[[:space:]]*(#|$) ]] && continue
    name=$(sed 's/^ *//; s/ *$//' <<<"${raw%%|*}")
    rest=${raw#*|}
    want=$(sed 's/^ *//; s/ *$//' <<<"${rest%%|*}")
    rest=${rest#*|}
    fragment=${rest%%|*}
    fragment=$(sed 's/^ *//; s/ *$//' <<<"$fragment")
    command=${rest#*|}
    run_case "$name" "$want" "$fragment" "$command"
  done <"$file"
done

echo "tried ${count[tried]} | clear error ${count[clear]} | worked ${count[worked]} | crash ${count[crash]}" \
  "| hang ${count[hang]} | leftovers ${count[leftovers]} | unclear ${count[unclear]} | skipped ${count[skipped]}"
exit "$failed"
