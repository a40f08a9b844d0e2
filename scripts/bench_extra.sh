#!/bin/sh
# The cost of each `t2f features --extra` on ResNet-18 32×32 (2 threads, batch
# 128) beside OpenOOD's PyTorch post-processors for the same method, in the
# same run, alternating the two ROUNDS times (default 3). Run it on a quiet
# machine; the figures go to docs/benchmarks.md.
#
#   sh scripts/bench_extra.sh [ROUNDS]
set -eu
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
go test -c -o /tmp/t2f-extra.test ./cmd/t2f
i=1
while [ "$i" -le "$ROUNDS" ]; do
	echo "== round $i: t2f (BenchmarkExtra, images/s)"
	/tmp/t2f-extra.test -test.run '^$' -test.bench 'BenchmarkExtra' -test.benchtime 2x -test.cpu 2 | grep images/s
	echo "== round $i: OpenOOD/PyTorch (images/s)"
	/usr/bin/python3 scripts/bench_extra.py --reps 2 2>/dev/null
	i=$((i + 1))
done
