#!/usr/bin/env bash
# Pipeline build throughput, Go vs PIL on the same files, same machine, interleaved:
# for each image set, ROUNDS rounds of (one PIL pass, one Go pass) so both see the same
# load; prints the medians and the median of the per-round Go/PIL ratios. Then the IDX
# benchmarks. Figures go to docs/benchmarks.md "Pipeline".
# Usage: scripts/bench_pipeline.sh [DATADIR] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:-/tmp/t2f-benchdata}
ROUNDS=${2:-5}
/usr/bin/python3 scripts/bench_pipeline.py "$DATA" --runs 1 >/dev/null   # make the image sets once
go test -c -o /tmp/t2f-pipeline.test ./pipeline
LOG=$(mktemp)
for set in png32 jpg32 png64 jpg64; do
  for _ in $(seq "$ROUNDS"); do
    /usr/bin/python3 scripts/bench_pipeline.py "$DATA" --set "$set" --runs 1 | sed "s/^/$set /" >>"$LOG"
    (cd pipeline && /tmp/t2f-pipeline.test -test.run '^$' -test.bench "Build/$set/workers=1\$" -test.benchtime 3x -benchdata "$DATA") \
      | grep '^Benchmark' | sed "s/^/$set /" >>"$LOG"
  done
done
/usr/bin/python3 - "$LOG" <<'PY'
import re, statistics, sys
pil, go, pilc, goc = {}, {}, {}, {}
for line in open(sys.argv[1]):
    s = line.split()[0]
    m = re.search(r"\(runs: ([\d,]+)\)", line)
    if m:
        pil.setdefault(s, []).append(float(m.group(1).replace(",", "")))
        pilc.setdefault(s, []).append(float(re.search(r"cpuruns: ([\d,]+)\)", line).group(1).replace(",", "")))
    if "Benchmark" in line:
        go.setdefault(s, []).append(float(re.search(r"([\d.]+) images/s", line).group(1)))
        goc.setdefault(s, []).append(float(re.search(r"([\d.]+) images/cpu-s", line).group(1)))
med = statistics.median
print("set    | wall: Go 1 worker, PIL 1 process, Go/PIL (median of round ratios) | CPU: Go, PIL images/cpu-s, Go/PIL")
for s in pil:
    r = [g / p for g, p in zip(go[s], pil[s])]
    rc = [g / p for g, p in zip(goc[s], pilc[s])]
    print(f"{s:6} | {med(go[s]):>7,.0f} {med(pil[s]):>7,.0f} {med(r):.2f} (rounds {', '.join(f'{x:.2f}' for x in r)})"
          f" | {med(goc[s]):>7,.0f} {med(pilc[s]):>7,.0f} {med(rc):.2f} (rounds {', '.join(f'{x:.2f}' for x in rc)})")
PY
rm -f "$LOG"
(cd pipeline && /tmp/t2f-pipeline.test -test.run '^$' -test.bench 'BuildIDX' -test.benchtime 3x -test.count 5) | grep '^Benchmark'
dd if=/dev/zero of="$DATA/ddtest" bs=1M count=47 conv=fsync 2>&1 | tail -1   # disk write reference (47 MiB = MNIST train pixels)
rm -f "$DATA/ddtest" /tmp/t2f-pipeline.test
