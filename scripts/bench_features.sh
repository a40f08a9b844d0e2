#!/usr/bin/env bash
# `t2f features` throughput beside PyTorch's eval-mode forward of the same network, same run,
# on THREADS threads (default 2), ROUNDS alternated rounds (default 3), for docs/benchmarks.md
# ("Feature extraction"; go tool task bench:features:torch) and the time in docs/recipes.md ("Evaluate the released checkpoints"):
#
#   resnet18_32x32  10,000 synthetic 32×32 images (and, with FULL=1, the CIFAR-10 benchmark's
#                   174,660 images: the recipe's time)
#   resnet50        512 synthetic 224×224 images
#
# Both sides run an OpenOOD-format best.ckpt with the same random weights (written by PyTorch);
# t2f reads the .ckpt itself (architecture from the tensor names), batch 200 as OpenOOD's
# evaluator. t2f's figure includes reading shards, the test transform and writing Parquet;
# PyTorch's is the bare forward of a pre-made batch. Run it on a quiet machine.
# Usage: scripts/bench_features.sh [WORKDIR] [ROUNDS] [THREADS]
set -euo pipefail
cd "$(dirname "$0")/.."
W=${1:-/tmp/t2f-bench-features}
ROUNDS=${2:-3}
THREADS=${3:-2}
PY=/usr/bin/python3
mkdir -p "$W"
go build -buildvcs=auto -o "$W/t2f" ./cmd/t2f
T2F="$W/t2f"
cases=("resnet18_32x32 32 10000" "resnet50 224 512")
if [ "${FULL:-0}" = 1 ]; then cases+=("resnet18_32x32 32 174660"); fi
for c in "${cases[@]}"; do
  set -- $c; arch=$1 size=$2 n=$3
  ck="$W/$arch.ckpt" data="$W/synth-$size-$n"
  [ -f "$ck" ] || $PY scripts/bench_features.py save "$arch" "$size" "$ck"
  [ -f "$data/dataset.json" ] || "$T2F" pipeline build --source synthetic --input uniform --count "$n" --seed 1 \
      --name synth --size "$size" --channels 3 --out "$data" >/dev/null
  for r in $(seq "$ROUNDS"); do
    rm -rf "$W/feats"
    start=$(date +%s.%N)
    "$T2F" features --checkpoint "$ck" --normalize cifar10 --data "$data" --batch-size 200 --threads "$THREADS" \
        --out "$W/feats" --quiet
    end=$(date +%s.%N)
    echo "round $r t2f $arch $n images: $(echo "$end - $start" | bc) s, $(echo "$n / ($end - $start)" | bc -l | cut -c1-7) images/s"
    $PY scripts/bench_features.py time "$arch" "$size" "$n" 200 "$THREADS" | sed "s/^/round $r /"
  done
done
