#!/bin/sh
# Installs Debian's CUDA 11.8 headers, libcuda stub and nvcc (non-free; about 1.6 GB download),
# which building and vetting the `cuda` variant of t2f needs. Runs nothing on a GPU.
set -eu
if [ -f /usr/include/cuda.h ] && command -v nvcc >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "install-cuda-toolkit: needs root to apt-get install nvidia-cuda-toolkit nvidia-cuda-dev (Debian contrib non-free)" >&2
  exit 1
fi
# The packages live in contrib/non-free: add those components to the Debian sources.
for f in /etc/apt/sources.list.d/debian.sources; do
  [ -f "$f" ] && sed -i -E '/^Components:/{/non-free( |$)/!s/$/ contrib non-free/}' "$f"
done
if [ -f /etc/apt/sources.list ]; then
  sed -i -E '/^deb .* main/{/non-free( |$)/!s/$/ contrib non-free/}' /etc/apt/sources.list
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends nvidia-cuda-toolkit nvidia-cuda-dev >/dev/null
