#!/usr/bin/env bash
# Makes (or brings up to date) a Debian 13 "trixie" root with lab's build dependencies and
# LibTorch 2.6, for building and testing lab against LibTorch 2.x on a bookworm machine.
#   scripts/trixie-root.sh [DIR]            CPU LibTorch (libtorch-dev)
#   LAB_CUDA=1 scripts/trixie-root.sh [DIR] adds libtorch-cuda-dev, nvidia-cuda-toolkit, libnccl-dev
# DIR defaults to $LAB_TRIXIE_ROOT, else /var/tmp/lab-trixie (CPU) or /var/tmp/lab-trixie-cuda: the CUDA
# LibTorch replaces the CPU one, so the two live in separate roots. Idempotent: an existing root is
# reused and only missing packages are installed. Needs root (debootstrap, chroot).
set -euo pipefail
cd "$(dirname "$0")/.."
default_root=/var/tmp/lab-trixie
[ "${LAB_CUDA:-0}" = "1" ] && default_root=/var/tmp/lab-trixie-cuda
root="${1:-${LAB_TRIXIE_ROOT:-$default_root}}"
mirror="${LAB_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"

if ! command -v debootstrap >/dev/null 2>&1; then
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends debootstrap
fi
if [ ! -x "$root/usr/bin/apt-get" ]; then
  echo "trixie-root: debootstrap into $root"
  $sudo debootstrap --variant=minbase trixie "$root" "$mirror" >/dev/null
fi

components="main"
[ "${LAB_CUDA:-0}" = "1" ] && components="main contrib non-free non-free-firmware"
$sudo tee "$root/etc/apt/sources.list.d/debian.sources" >/dev/null <<SOURCES
Types: deb
URIs: $mirror
Suites: trixie trixie-updates
Components: $components
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
$sudo rm -f "$root/etc/apt/sources.list"

packages=($(grep -v '^#' scripts/build-packages.txt))
if [ "${LAB_CUDA:-0}" = "1" ]; then
  # libtorch-cuda-dev conflicts with (and replaces) the CPU libtorch-dev, and its Gloo is the CUDA
  # build, whose headers conflict with libgloo-dev's.
  packages=($(printf '%s\n' "${packages[@]}" | grep -vx -e libtorch-dev -e libgloo-dev) libtorch-cuda-dev libgloo-cuda-dev nvidia-cuda-toolkit libnccl-dev)
fi
missing=()
for p in "${packages[@]}"; do
  $sudo chroot "$root" dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "trixie-root: installing ${missing[*]}"
  $sudo chroot "$root" apt-get update -qq
  # nvidia-cudnn is an installer that downloads cuDNN from NVIDIA when configured, which a machine
  # reaching only Debian's archive cannot do; its configuration failure is handled below.
  $sudo chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null 2>&1 || [ "${LAB_CUDA:-0}" = "1" ]
fi
[ "${LAB_CUDA:-0}" = "1" ] && scripts/cudnn-stub.sh "$root"
torch_package=libtorch-dev
[ "${LAB_CUDA:-0}" = "1" ] && torch_package=libtorch-cuda-dev
echo "trixie-root: $root ready ($torch_package $($sudo chroot "$root" dpkg-query -W -f='${Version}' $torch_package))"
