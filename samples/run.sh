#!/bin/sh
# The README's main job: build cbas if needed, synthesize the sample LiCSAR frame (once),
# run the whole workflow on the sample city area (samples/city.conf), and report the velocity
# error against the synthetic truth. Usage: sh samples/run.sh [OUT_DIR] (default out/sample).
set -e
cd "$(dirname "$0")/.."
OUT=${1:-out/sample}
make -s
CBAS=build/host/cbas
FRAME="$OUT/frame"
if [ ! -f "$FRAME/truth/vel.tif" ]; then
  echo "== synthesizing the sample frame (600 x 500 pixels, 81 epochs) into $FRAME"
  rm -rf "$FRAME"
  $CBAS synth --out "$FRAME" --epochs 81 --seed 1
fi
echo "== cbas run -c samples/city.conf --geoc $FRAME/GEOC --out $OUT"
$CBAS run -c samples/city.conf --geoc "$FRAME/GEOC" --out "$OUT"
TS="$OUT/TS_GEOCml1clip/results"
echo "== velocity against the synthetic truth (mm/yr; the common offset of the reference point removed)"
for v in vel.filt.mskd vel.mskd vel; do
  $CBAS compare "$TS/$v.tif" "$FRAME/truth/vel.tif" --quiet > "$OUT/rmse_$v.txt"
  awk -v v="$v" '/^n_valid/ {n=$2} /^std_diff/ {s=$2} END {printf "  %-14s RMSE %.2f mm/yr over %d pixels\n", v, s, n}' "$OUT/rmse_$v.txt"
done
echo "velocity map: $TS/vel.filt.mskd.tif  (picture: $TS/vel.filt.mskd.png)"
