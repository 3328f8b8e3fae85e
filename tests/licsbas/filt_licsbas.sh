#!/bin/sh
# filt_licsbas.sh — cbas mask-ts / filter (LiCSBAS steps 15, 16) against LiCSBAS's own
# LiCSBAS15_mask_ts.py and LiCSBAS16_filt_ts.py (read-only copy in $LICSBAS, run with Debian's
# python3) on identical inputs: filt_fixture.py invents the results of steps 13-14 on the grid
# of a small synthetic stack and writes them as a cbas TSDIR and as a LiCSBAS TS directory.
# Masks, vel.mskd and 15parameters.txt must be identical; cum_filt, vel.filt, vintercept.filt
# and 16rms_cum_wrt_med within 1e-4 (mm, mm/yr; measured ~4e-6: float32 rounding of the
# FFT-based and direct convolutions, NumPy's SIMD expf); 16ref.txt and 16parameters.txt
# identical. Option sets: defaults; deramp 2 + hgt-linear + widths + ex-range; nomask + bl +
# range + no temporal filter. Missing LiCSBAS or Python modules are failures, not skips.
. tests/lib.sh
ROOT=$(pwd)
FX="/usr/bin/python3 $ROOT/tests/licsbas/filt_fixture.py"
LICSBAS=${LICSBAS:-/work/licsbas}
LB="env PYTHONPATH=$LICSBAS/LiCSBAS_lib /usr/bin/python3 $LICSBAS/bin"
cd "$T" || exit 1
if [ ! -f "$LICSBAS/bin/LiCSBAS16_filt_ts.py" ]; then bad licsbas "no LiCSBAS at $LICSBAS (set LICSBAS=)"; exit 1; fi
if ! /usr/bin/python3 -c 'import numpy, h5py, astropy, matplotlib; from osgeo import gdal' 2>py.err; then
  bad python-modules "$(tail -n 1 py.err) (apt-get install python3-h5py python3-astropy ...)"; exit 1
fi
$CBAS synth --out fr --width 56 --length 44 --epochs 12 --no-noise --quiet > s.log 2>&1 || { bad synth "$(tail -n 3 s.log)"; exit 1; }
$CBAS prep --geoc fr/GEOC --out stack --quiet > p.log 2>&1 || { bad prep "$(tail -n 3 p.log)"; exit 1; }
$CBAS check stack --ts TS --quiet > c.log 2>&1 || { bad check "$(tail -n 3 c.log)"; exit 1; }
$FX make TS LB > fx.log 2>&1 || { bad fixture "$(tail -n 3 fx.log)"; exit 1; }

cmp_step() { # NAME MODE LBDIR   (prints the figures as comments)
  if $FX "$2" "$3" TS > "$1.cmp" 2>&1; then ok "$1"; else bad "$1" "$(grep -i 'different\|diff' "$1.cmp" | head -3 | tr '\n' ' ')"; fi
  sed 's/^/# /' "$1.cmp"
}

# ---- step 15, defaults ----
$LB/LiCSBAS15_mask_ts.py -t LB > lb15.log 2>&1 || bad lb-15 "$(tail -n 3 lb15.log)"
expect cbas-mask-ts $CBAS mask-ts --ts TS --quiet
cmp_step step15-defaults cmp15 LB

# ---- step 16: defaults; deramp 2 + hgt-linear; nomask + bl + ranges + no temporal filter ----
run16() { # NAME "LICSBAS OPTIONS" "CBAS OPTIONS"
  rm -rf "LB_$1"; cp -r LB "LB_$1"
  $LB/LiCSBAS16_filt_ts.py -t "LB_$1" --n_para 1 $2 > "lb16_$1.log" 2>&1 || bad "lb-16-$1" "$(tail -n 3 lb16_$1.log)"
  expect "cbas-filter-$1" $CBAS filter --ts TS --quiet $3
  cmp_step "step16-$1" cmp16 "LB_$1"
}
run16 defaults "" ""
run16 deramp2-hgt "-r 2 --hgt_linear --hgt_min 300 -s 1.5 -y 0.15 --ex_range 10:20/5:15" \
  "--deg-deramp 2 --hgt-linear --hgt-min 300 --filtwidth-km 1.5 --filtwidth-yr 0.15 --ex-range 10:20/5:15"
run16 nomask-bl "--nomask -r bl --range 5:50/0:40 -y 0" "--nomask --p16_deg_deramp bl --range 5:50/0:40 --filtwidth-yr 0"
