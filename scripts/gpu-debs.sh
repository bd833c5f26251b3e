#!/usr/bin/env bash
# On a Debian machine with network access: downloads the .deb files of lab's build dependencies other
# than LibTorch into .gpu-debs/ (ignored by git), for scripts/gpu-check.sh on a GPU machine that has
# PyTorch but no Debian packages and no network. Bookworm's packages are used: they were built against
# glibc 2.36 and run on any newer one.
#   scripts/gpu-debs.sh [DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-.gpu-debs}"
packages=(
  libboost1.74-dev libboost-program-options1.74-dev libboost-program-options1.74.0
  libtomlplusplus-dev libtomlplusplus3 nlohmann-json3-dev
  libsentencepiece-dev libsentencepiece0
  libcmark-gfm-dev libcmark-gfm0.29.0.gfm.6 libcmark-gfm-extensions-dev libcmark-gfm-extensions0.29.0.gfm.6
  libgtest-dev libgmock-dev googletest libbenchmark-dev libbenchmark1debian
)
mkdir -p "$dir"
# A private package list, so the download works on a machine of another release or architecture.
lists=$(mktemp -d)
trap 'rm -rf "$lists"' EXIT
mkdir -p "$lists/partial"
apt_opts=(-o APT::Architecture=amd64 -o APT::Architectures=amd64 -o "Dir::State::Lists=$lists")
sources=$(mktemp)
echo "deb http://deb.debian.org/debian bookworm main" >"$sources"
apt_opts+=(-o "Dir::Etc::SourceList=$sources" -o Dir::Etc::SourceParts=/dev/null)
apt-get "${apt_opts[@]}" update -qq
(cd "$dir" && apt-get "${apt_opts[@]}" download "${packages[@]}")
rm -f "$sources"
du -sh "$dir"
