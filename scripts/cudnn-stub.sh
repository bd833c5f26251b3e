#!/usr/bin/env bash
# For the CUDA build root only (scripts/trixie-root.sh with LAB_CUDA=1), on a machine without a GPU
# or access to NVIDIA's servers: Debian's nvidia-cudnn package downloads cuDNN when it is configured,
# so there libcudnn.so.9 never arrives and libtorch_cuda (which links it) cannot load. This makes a
# stand-in libcudnn.so.9 whose every function, named from what libtorch_cuda imports, returns
# CUDNN_STATUS_NOT_INITIALIZED; it is enough to link lab and run the tests without a GPU, where cuDNN
# is never called. A machine with a GPU uses the real cuDNN (e.g. the one inside PyTorch).
#   scripts/cudnn-stub.sh ROOT
set -euo pipefail
root="$1"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
lib="$root/usr/lib/x86_64-linux-gnu"
[ -f "$lib/libtorch_cuda.so.2.6.0" ] || { echo "cudnn-stub: no libtorch_cuda in $root" >&2; exit 1; }

# Let dpkg finish configuring the installer package and what depends on it.
info="$root/var/lib/dpkg/info/nvidia-cudnn.postinst"
if [ -f "$info" ] && ! grep -q "lab: download skipped" "$info"; then
  printf '#!/bin/sh\n# lab: download skipped (no access to NVIDIA); see scripts/cudnn-stub.sh\nexit 0\n' |
    $sudo tee "$info" >/dev/null
fi
$sudo chroot "$root" dpkg --configure -a >/dev/null

if $sudo chroot "$root" sh -c 'ldconfig -p | grep -q "libcudnn.so.9 "'; then exit 0; fi
work=$(mktemp -d "$root/tmp/cudnn-stub.XXXXXX")
symbols=$(nm -D --undefined-only "$lib"/libtorch_cuda*.so.2.6.0 | awk '$2 ~ /^cudnn.*@libcudnn.so.9$/ {sub(/@.*/, "", $2); print $2}' |
  sort -u)
{
  echo "/* Stand-in cuDNN for a GPU-less build root: every entry point reports not initialised. */"
  for s in $symbols; do echo "int $s(void) { return 1; }"; done
} >"$work/stub.c"
{
  echo "libcudnn.so.9 { global:"
  for s in $symbols; do echo "  $s;"; done
  echo "local: *; };"
} >"$work/stub.map"
rel="/tmp/$(basename "$work")"
$sudo chroot "$root" gcc -shared -fPIC -o /usr/local/lib/libcudnn.so.9 -Wl,-soname,libcudnn.so.9 \
  -Wl,--version-script,"$rel/stub.map" "$rel/stub.c"
$sudo chroot "$root" ldconfig
rm -rf "$work"
echo "cudnn-stub: $(echo "$symbols" | wc -l) cuDNN entry points stubbed in /usr/local/lib/libcudnn.so.9"
