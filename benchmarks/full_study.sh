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
#
# On a GPU (docs/speed.md#on-a-gpu): DEVICE=cuda runs the learned models there; STUDY_GROUPS=a,b,… runs
# only those groups; MBT2018_IMAGES=N runs CompressAI's mbt2018 on N images (on CUDA every row is its
# serial loop: no derivation there); FACTORIZED=random gives the Factorized Prior random zoo weights too.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
KODAK=${KODAK_DIR:-../shared/data/kodak}
FACTORIZED=${FACTORIZED:-../shared/weights}
OUT=${OUT:-runs/full-study}
JOBS=${JOBS:-$(nproc)}
DEVICE=${DEVICE:-cpu}
STUDY_GROUPS=${STUDY_GROUPS:-classic,bmshj2018-factorized,bmshj2018-hyperprior,mbt2018,mbt2018-wavefront}
rm -rf "$OUT"
mkdir -p "$OUT"
if [ -n "${WEIGHTS_MIRROR:-}" ]; then
  learned_weights=(--weights-mirror "$WEIGHTS_MIRROR")
  learned_results="$OUT/results"
else
  archs=bmshj2018-hyperprior,mbt2018
  [ "$FACTORIZED" = random ] && archs=bmshj2018-factorized,$archs
  "$PY" benchmarks/random_zoo_checkpoints.py "$OUT/random-zoo" --archs "$archs" > /dev/null
  learned_weights=(--checkpoint-dir "$OUT/random-zoo")
  learned_results="$OUT/random-weights"
fi
printf 'group\tseconds\n' > "$OUT/times.tsv"

step() {  # step NAME ARGS…: one `bench run`, timed, its output in $OUT/NAME.log (a group not asked for: nothing)
  local name=$1 began
  shift
  case ",$STUDY_GROUPS," in *",$name,"*) ;; *) return 0 ;; esac
  began=$(date +%s)
  "$PY" -m bench run --jobs "$JOBS" --kodak-dir "$KODAK" --no-progress ${IMAGES:+--images "$IMAGES"} "$@" \
    > "$OUT/$name.log" 2>&1
  printf '%s\t%s\n' "$name" "$(( $(date +%s) - began ))" | tee -a "$OUT/times.tsv"
}

start=$(date +%s)
step classic --codecs jpeg,webp,jpeg2000,avif,avif-444,heic,heic-444 --results "$OUT/results"
if [ "$FACTORIZED" = random ]; then
  factorized=("${learned_weights[@]}" --results "$learned_results")
else
  factorized=(--checkpoint-dir "$FACTORIZED" --results "$OUT/results")
fi
step bmshj2018-factorized --codecs bmshj2018-factorized --device "$DEVICE" "${factorized[@]}"
step bmshj2018-hyperprior --codecs bmshj2018-hyperprior --device "$DEVICE" "${learned_weights[@]}" --results "$learned_results"
step mbt2018 --codecs mbt2018 --device "$DEVICE" ${MBT2018_IMAGES:+--images "$MBT2018_IMAGES"} "${learned_weights[@]}" \
  --results "$learned_results"
step mbt2018-wavefront --codecs mbt2018-wavefront --device "$DEVICE" "${learned_weights[@]}" --results "$learned_results"
total=$(( $(date +%s) - start ))
printf 'total\t%s\n' "$total" | tee -a "$OUT/times.tsv"
if [ -z "${WEIGHTS_MIRROR:-}" ] && [ -f "$learned_results/kodak/summary.csv" ]; then  # none when STUDY_GROUPS ran none
  "$PY" benchmarks/random_weight_times.py "$learned_results/kodak/summary.csv" "$OUT/random-weights-times.csv"
fi
echo "whole study: $((total / 60)) min $((total % 60)) s ($STUDY_GROUPS on $DEVICE, $JOBS jobs, $(nproc) cores);" \
  "rows in $OUT/results and $learned_results"
