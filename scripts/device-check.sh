#!/usr/bin/env bash
# scripts/device-check.sh — the one device check of the CUDA backend (issue 7).
#
# Runs on the GPU machine (no Go, no network) from a copy of the repository
# with the binaries and the raw Fashion-MNIST files built here:
#
#   go tool task cuda:bundle      # on the build machine: bin/t2f-cuda.gz, bin/cuda.test.gz,
#                                 # data/fmnist-raw/*.gz (about 50 MB in all)
#   then on the device, from the repository root, carrying exactly bin/t2f-cuda.gz,
#   bin/cuda.test.gz and data/fmnist-raw (≈50 MB; all of bin/ exceeds 64 MiB):
#   bash scripts/device-check.sh  # writes everything to $OUT (default ./device-out)
#
# Stages (each under its own timeout; the whole script stays under 8 minutes):
#   1. versions: driver, GPU, glibc (the binaries need glibc ≥ 2.34), python, torch
#   2. cuBLAS: finds libcublas.so.13 (or .12) in the Python environment and puts
#      its directory on LD_LIBRARY_PATH
#   3. bin/cuda.test -test.v: the conformance suite on the GPU, once with cuBLAS
#      and once with the PTX SGEMM, the SGEMM paths against float64, uploads,
#      training steps against the CPU backend
#   4. t2f-cuda bench train (ResNet-18 3×32×32, batch 128) with cuBLAS and with
#      the PTX SGEMM, beside PyTorch eager (scripts/bench_torch_gpu.py) on the same GPU
#   5. Fashion-MNIST shards (55,000 train / 5,000 held-out val, 32×32 grey) built
#      on the device, 3 epochs of T2FNorm ResNet-18 on the GPU (accuracy, images/s,
#      data wait per epoch in epochs.csv), then the GPU checkpoint loaded on the CPU
#      (t2f-cuda features --device cpu) and in PyTorch (scripts/torch_load_check.py)
#
# For a dry run of the script itself on a machine without a GPU (CPU binaries in
# bin/, a fake nvidia-smi on PATH): CHECK_DEVICE=cpu CHECK_EPOCHS=1 CHECK_WIDTH=0.125
# CHECK_LIMIT=3000 PYTHON=/usr/bin/python3 bash scripts/device-check.sh
#
# Results: $OUT/summary.txt (one line per stage with its status and seconds)
# and one file per stage. Exit status 0 when every stage passed.
set -u
ROOT=$(pwd)
OUT=${OUT:-$ROOT/device-out}
mkdir -p "$OUT"
WORK=$(mktemp -d)
SUMMARY=$OUT/summary.txt
: >"$SUMMARY"
T0=$(date +%s)
FAILED=0

note() { echo "$*" | tee -a "$SUMMARY"; }
elapsed() { echo $(($(date +%s) - T0)); }

# stage NAME TIMEOUT CMD...: runs CMD with a timeout, output to $OUT/NAME.txt
stage() {
	local name=$1 limit=$2
	shift 2
	local s
	s=$(date +%s)
	timeout --kill-after=5 "$limit" "$@" >"$OUT/$name.txt" 2>&1
	local rc=$?
	local status=ok
	if [ $rc -ne 0 ]; then
		status="FAILED rc=$rc"
		[ $rc -eq 124 ] && status="TIMEOUT after ${limit}s"
		FAILED=1
	fi
	note "$(printf '%-22s %-20s %4ss  (t=%ss)' "$name" "$status" $(($(date +%s) - s)) "$(elapsed)")"
	return $rc
}

# --- 1. versions ---------------------------------------------------------------
{
	echo "date: $(date -u)"
	nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv 2>&1
	nvidia-smi -L 2>&1
	echo "glibc: $(getconf GNU_LIBC_VERSION 2>&1)"
	ldd --version 2>&1 | head -1
	uname -srm
	grep PRETTY_NAME /etc/os-release 2>/dev/null
	nproc
} >"$OUT/versions.txt" 2>&1
# the Python with torch: $PYTHON, the active venv, python/python3 on PATH, common venv places
PY=
for cand in "${PYTHON:-}" "${VIRTUAL_ENV:+$VIRTUAL_ENV/bin/python}" python python3 /opt/*/bin/python3 /root/*/bin/python3 /home/*/*/bin/python3 /venv/bin/python3 /usr/bin/python3; do
	if [ -n "$cand" ] && "$cand" -c 'import torch' >/dev/null 2>&1; then
		PY=$cand
		break
	fi
done
[ -z "$PY" ] && PY=$(command -v python3 || command -v python)
DEV=${CHECK_DEVICE:-cuda}
EPOCHS=${CHECK_EPOCHS:-3}
WIDTH=${CHECK_WIDTH:-1}
LIMIT=${CHECK_LIMIT:-0}
echo "python: $PY" >>"$OUT/versions.txt"
"$PY" -c 'import torch, sys; print("python", sys.version.split()[0], "torch", torch.__version__, "cuda", torch.version.cuda, "cudnn", torch.backends.cudnn.version())' >>"$OUT/versions.txt" 2>&1
cat "$OUT/versions.txt"
GLIBC=$(getconf GNU_LIBC_VERSION | awk '{print $2}')
if [ "$(printf '%s\n2.34\n' "$GLIBC" | sort -V | head -1)" != "2.34" ]; then
	note "glibc $GLIBC < 2.34: the Go binaries built on Debian 12 cannot run here"
	exit 2
fi
note "versions               ok  (glibc $GLIBC; $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | head -1))"

# --- binaries -----------------------------------------------------------------
for b in t2f-cuda cuda.test; do
	if [ -f "bin/$b.gz" ]; then
		gzip -dc "bin/$b.gz" >"$WORK/$b"
	elif [ -f "bin/$b" ]; then
		cp "bin/$b" "$WORK/$b"
	else
		note "missing bin/$b(.gz): run 'go tool task cuda:bundle' on the build machine and carry bin"
		exit 2
	fi
	chmod +x "$WORK/$b"
done
T2F=$WORK/t2f-cuda

# --- 2. cuBLAS ----------------------------------------------------------------
CUB=
for sp in $("$PY" -c 'import site; print(" ".join(site.getsitepackages() + [site.getusersitepackages()]))' 2>/dev/null); do
	for cand in "$sp"/nvidia/cu13/lib/libcublas.so.13 "$sp"/nvidia/cublas/lib/libcublas.so.13 "$sp"/nvidia/cublas/lib/libcublas.so.12; do
		if [ -z "$CUB" ] && [ -f "$cand" ]; then CUB=$cand; fi
	done
done
if [ -z "$CUB" ]; then
	CUB=$(timeout 30 find / \( -path /proc -o -path /sys \) -prune -o \( -name 'libcublas.so.13' -o -name 'libcublas.so.12' \) -print 2>/dev/null | head -1)
fi
if [ -n "$CUB" ]; then
	export LD_LIBRARY_PATH=$(dirname "$CUB")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
	note "cublas                 ok  ($CUB)"
else
	note "cublas                 NOT FOUND (the cuBLAS conformance run will fail; PTX runs go on)"
	FAILED=1
fi

# --- 3. conformance -----------------------------------------------------------
stage cuda-test 150 "$WORK/cuda.test" -test.v -test.timeout 140s
grep -E '^(--- |ok|FAIL|PASS)|cuda_test.go' "$OUT/cuda-test.txt" | head -40 >>"$SUMMARY"

# --- 4. throughput ------------------------------------------------------------
stage bench-t2f-cublas 60 env T2F_GEMM=cublas "$T2F" bench train --model resnet18_32x32 --batch-size 128 --device "$DEV" --rounds 5 --min-round 1s --json
stage bench-t2f-ptx 60 env T2F_GEMM=ptx "$T2F" bench train --model resnet18_32x32 --batch-size 128 --device "$DEV" --rounds 3 --min-round 1s --json
stage bench-torch 90 "$PY" scripts/bench_torch_gpu.py --rounds 5 --min-round 1 --json "$OUT/bench-torch.json"
for f in bench-t2f-cublas bench-t2f-ptx; do
	grep -E '"(backend|train_images_per_s|infer_images_per_s)"' "$OUT/$f.txt" | tr -d ' \n' | sed "s/^/$f: /" >>"$SUMMARY"
	echo >>"$SUMMARY"
done
grep -E '^torch ' "$OUT/bench-torch.txt" >>"$SUMMARY"

# --- 5. Fashion-MNIST training -------------------------------------------------
FM=$ROOT/data/fmnist-raw
if [ "$(elapsed)" -gt 330 ]; then
	note "fmnist                 SKIPPED (t=$(elapsed)s: no time left for training)"
	FAILED=1
else
	stage fmnist-shards 60 bash -c "'$T2F' pipeline build --source mnist --input '$FM' --split train --name fashion-mnist --size 32 --channels 1 --limit $LIMIT --holdout 5000 --holdout-seed 1 --part rest --workers 8 -q --out '$WORK/fm-train' &&
		'$T2F' pipeline build --source mnist --input '$FM' --split train --name fashion-mnist --size 32 --channels 1 --limit $LIMIT --holdout 5000 --holdout-seed 1 --part holdout --workers 8 -q --out '$WORK/fm-val'"
	stage fmnist-train 170 "$T2F" train --train "$WORK/fm-train" --val "$WORK/fm-val" --model resnet18_32x32 --width "$WIDTH" --head t2fnorm \
		--epochs "$EPOCHS" --batch-size 128 --lr 0.1 --normalization mnist --workers 12 --device "$DEV" --out "$WORK/run"
	cp "$WORK/run/epochs.csv" "$WORK/run/config.yaml" "$OUT/" 2>/dev/null
	grep -E '^epoch|^done' "$OUT/fmnist-train.txt" >>"$SUMMARY"
	stage ckpt-cpu 40 "$T2F" features --checkpoint "$WORK/run/best.safetensors" --data "$WORK/fm-val" --out "$WORK/feat" --device cpu --threads 8 -q
	stage ckpt-torch 40 "$PY" scripts/torch_load_check.py "$WORK/run/best.safetensors" --model resnet18_32x32 --width "$WIDTH" --t2fnorm
fi

note "total $(elapsed)s; $([ $FAILED -eq 0 ] && echo 'every stage passed' || echo 'some stage FAILED')"
rm -rf "$WORK"
exit $FAILED
