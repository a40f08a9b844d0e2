#!/usr/bin/env bash
# ResNet-18 3x32x32 training/inference at 2 threads, alternated rounds: t2f fp32 and bf16, the
# training methods (oe, logitnorm, t2fnorm), PyTorch fp32 and bf16 autocast; then t2f features
# beside PyTorch's forward (scripts/bench_features.sh). The figures of docs/benchmarks.md "bf16
# mixed precision: First figures", "Training methods" and "Feature extraction". Quiet machine only.
set -u
cd "$(dirname "$0")/.."
go build -buildvcs=auto -o bin/t2f ./cmd/t2f
bin/t2f --version
uptime
for r in 1 2; do
  echo "=== round $r $(date +%T) load $(cut -d' ' -f1 /proc/loadavg)"
  for p in fp32 bf16; do
    echo "--- t2f r18 train $p"; bin/t2f bench train --model resnet18_32x32 --threads 2 --precision $p --rounds 3
  done
  for m in oe logitnorm t2fnorm; do
    echo "--- t2f r18 method $m"; bin/t2f bench train --model resnet18_32x32 --threads 2 --method $m --rounds 3
  done
  for p in fp32 bf16; do
    echo "--- torch r18 $p"; /usr/bin/python3 scripts/bench_torch_models.py --models resnet18_32x32 --threads 2 --precision $p --repeats 3
  done
done
echo "=== features $(date +%T)"
bash scripts/bench_features.sh /tmp/t2f-bench-features 2 2
echo "=== done $(date +%T)"; uptime
