#!/usr/bin/env bash
# Builds lab in the trixie root (scripts/trixie-root.sh) against its LibTorch 2.6 and runs the tests.
#   scripts/trixie-build.sh [ctest arguments]        CPU LibTorch
#   LAB_CUDA=1 scripts/trixie-build.sh [ctest args]  CUDA LibTorch: builds the CUDA kernels for sm_80
#                                                    and sm_90 (no GPU needed); GPU tests skip without one
# The working tree (tracked and untracked, not ignored files, plus the corpus) is copied to
# DIR/src/lab; its build folder stays there between runs, so later builds are incremental.
set -euo pipefail
cd "$(dirname "$0")/.."
default_root=/var/tmp/lab-trixie
[ "${LAB_CUDA:-0}" = "1" ] && default_root=/var/tmp/lab-trixie-cuda
root="${LAB_TRIXIE_ROOT:-$default_root}"
scripts/trixie-root.sh "$root"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"

src="$root/src/lab"
$sudo mkdir -p "$src"
{ git ls-files -co --exclude-standard; find third_party -type f 2>/dev/null; } | sort -u |
  while read -r f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
  tar --null -cf - -T - | $sudo tar -xf - -C "$src"

# LibTorch and the tests read /proc (thread counts, the program's own path).
mounted=0
if ! mountpoint -q "$root/proc"; then
  $sudo mount -t proc proc "$root/proc"
  mounted=1
fi
trap '[ $mounted = 1 ] && $sudo umount "$root/proc"' EXIT

build=build
cuda_flags=""
if [ "${LAB_CUDA:-0}" = "1" ]; then
  build=build-cuda
  cuda_flags="-DCMAKE_CUDA_ARCHITECTURES='80;90'"
fi
ctest_args="$*"
$sudo chroot "$root" /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/root bash -c "
  set -euo pipefail
  cd /src/lab
  cmake -S . -B $build -G Ninja -DCMAKE_BUILD_TYPE=Release $cuda_flags >/dev/null
  time cmake --build $build -j2
  core=\$($build/lab --version 2>/dev/null | sed -n 's/^OpenBLAS core \([^ ]*\) .*/\1/p')
  [ -n \"\$core\" ] && export OPENBLAS_CORETYPE=\$core
  time ctest --test-dir $build --output-on-failure -j2 $ctest_args
"
