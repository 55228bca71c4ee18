#!/usr/bin/env bash
# The whole study from empty results folders, each codec group timed, on this machine as it is.
#
#   bash benchmarks/full_study.sh            # leave the machine otherwise idle: the times are the point
#
# 1. the classic codecs (JPEG, WebP, JPEG 2000, AVIF and HEIC at 4:2:0 and 4:4:4) and the Factorized
#    Prior on its CPU-trained checkpoints ($FACTORIZED, ../shared/weights): real results, in $OUT/results;
# 2. the Scale Hyperprior, mbt2018 (CompressAI's loop, rows derived from exact wavefronts after this
#    run's sample matched) and mbt2018-wavefront on random-initialised checkpoints at the zoo's channel
#    counts (benchmarks/random_zoo_checkpoints.py), in $OUT/random-weights: their times and wall times are
#    real, their RD values are not results. With WEIGHTS_MIRROR=<zoo mirror> they run on the zoo's
#    weights instead, into $OUT/results, and the study is whole.
# Prints each group's wall time and the total; $OUT/times.tsv keeps them, $OUT/random-weights-times.csv the
# random-weight models' mean times (labelled: times only). IMAGES=N: a quick look on N images.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
KODAK=${KODAK_DIR:-../shared/data/kodak}
FACTORIZED=${FACTORIZED:-../shared/weights}
OUT=${OUT:-runs/full-study}
JOBS=${JOBS:-$(nproc)}
rm -rf "$OUT"
mkdir -p "$OUT"
if [ -n "${WEIGHTS_MIRROR:-}" ]; then
  learned_weights=(--weights-mirror "$WEIGHTS_MIRROR")
  learned_results="$OUT/results"
else
  "$PY" benchmarks/random_zoo_checkpoints.py "$OUT/random-zoo" --archs bmshj2018-hyperprior,mbt2018 > /dev/null
  learned_weights=(--checkpoint-dir "$OUT/random-zoo")
  learned_results="$OUT/random-weights"
fi
printf 'group\tseconds\n' > "$OUT/times.tsv"

step() {  # step NAME ARGS…: one `bench run`, timed, its output in $OUT/NAME.log
  local name=$1 began
  shift
  began=$(date +%s)
  "$PY" -m bench run --jobs "$JOBS" --kodak-dir "$KODAK" --no-progress ${IMAGES:+--images "$IMAGES"} "$@" \
    > "$OUT/$name.log" 2>&1
  printf '%s\t%s\n' "$name" "$(( $(date +%s) - began ))" | tee -a "$OUT/times.tsv"
}

start=$(date +%s)
step classic --codecs jpeg,webp,jpeg2000,avif,avif-444,heic,heic-444 --results "$OUT/results"
step bmshj2018-factorized --codecs bmshj2018-factorized --checkpoint-dir "$FACTORIZED" --results "$OUT/results"
step bmshj2018-hyperprior --codecs bmshj2018-hyperprior "${learned_weights[@]}" --results "$learned_results"
step mbt2018 --codecs mbt2018 "${learned_weights[@]}" --results "$learned_results"
step mbt2018-wavefront --codecs mbt2018-wavefront "${learned_weights[@]}" --results "$learned_results"
total=$(( $(date +%s) - start ))
printf 'total\t%s\n' "$total" | tee -a "$OUT/times.tsv"
if [ -z "${WEIGHTS_MIRROR:-}" ]; then
  "$PY" benchmarks/random_weight_times.py "$learned_results/kodak/summary.csv" "$OUT/random-weights-times.csv"
fi
echo "whole study: $((total / 60)) min $((total % 60)) s ($JOBS jobs, $(nproc) cores); rows in $OUT/results and $learned_results"
