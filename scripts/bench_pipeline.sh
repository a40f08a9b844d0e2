#!/usr/bin/env bash
# Pipeline build throughput, Go vs PIL on the same files, same machine, same run.
# Usage: scripts/bench_pipeline.sh [DATADIR]   (figures go to docs/benchmarks.md "Pipeline")
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:-/tmp/t2f-benchdata}
/usr/bin/python3 scripts/bench_pipeline.py "$DATA"
go test ./pipeline -run '^$' -bench 'Build' -benchdata "$DATA" -benchtime 3x -count 5
/usr/bin/python3 scripts/bench_pipeline.py "$DATA"
