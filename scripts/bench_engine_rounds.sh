#!/bin/bash
# Same-run training speed, t2f vs PyTorch 1.13, alternated for ROUNDS rounds at THREADS threads
# (docs/benchmarks.md, "Same run, 2 threads, quiet machine, 3 rounds"): ResNet-8 and ResNet-18 1/4
# on 1x28x28, batch 128. Each line of output is JSON; take the median of each model over rounds.
#   scripts/bench_engine_rounds.sh [ROUNDS=3] [THREADS=2]     (from the repository root)
set -euo pipefail
rounds=${1:-3}
threads=${2:-2}
go build -buildvcs=auto -o bin/t2f ./cmd/t2f
for r in $(seq "$rounds"); do
  echo "== round $r $(date -u +%H:%M:%S) load $(cut -d' ' -f1-3 /proc/loadavg)"
  bin/t2f bench train --model small_resnet --channels 1 --size 28 --threads "$threads" --json
  bin/t2f bench train --model resnet18_32x32 --width 0.25 --channels 1 --size 28 --threads "$threads" --json
  /usr/bin/python3 scripts/bench_torch_models.py --threads "$threads" --repeats 5 --models small_resnet,resnet18_w0.25
done
