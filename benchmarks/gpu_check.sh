#!/usr/bin/env bash
# Every learned codec on one CUDA GPU (benchmarks/wavefront_gpu.py): synchronised timings, reference vs
# wavefront decode, encode on CUDA / decode on the CPU. At most 8 minutes; results in OUTDIR.
#
#   benchmarks/gpu_check.sh OUTDIR [--images N] [--repeats R] [--budget-s S]
#
# Exit status: 0 all measured, 1 some codec failed (see OUTDIR/gpu_check.json), 2 no CUDA device
# (nothing measured), 124 the 8-minute limit was hit (OUTDIR/gpu_check.log has what ran).
set -uo pipefail
if [ $# -lt 1 ] || [ "${1#-}" != "$1" ]; then
    echo "usage: $0 OUTDIR [--images N] [--repeats R] [--budget-s S]" >&2
    exit 64
fi
OUT=$1
shift
mkdir -p "$OUT" || exit 1
cd "$(dirname "$0")/.." || exit 1
PY=${PYTHON:-.venv/bin/python}
[ -x "$PY" ] || PY=python3
timeout --signal=TERM --kill-after=10 480 env PYTHONWARNINGS=ignore "$PY" benchmarks/wavefront_gpu.py --out "$OUT" "$@" \
    2>&1 | tee "$OUT/gpu_check.log"
status=${PIPESTATUS[0]}
[ "$status" -eq 124 ] && echo "gpu_check: stopped at the 8-minute limit; partial output in $OUT/gpu_check.log" >&2
exit "$status"
