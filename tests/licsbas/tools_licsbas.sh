#!/bin/sh
# tools_licsbas.sh — cbas vel / ts / decompose against LiCSBAS's own LiCSBAS_cum2vel.py,
# LiCSBAS_cum2tstxt.py and LiCSBAS_decomposeLOS.py (read-only copy in $LICSBAS, run with
# Debian's python3) on the same synthetic data (tools_fixture.py writes it both as a cbas TSDIR
# and as cum.h5 / cum_filt.h5): velocities, amplitudes, vstd and decompositions must be
# bit-identical; dt may differ by one float32 step (NumPy's arctan2 on AVX-512 machines is
# SVML's, not libm's) and, with --start later than the first epoch, by the documented shift
# (cbas refers dt to the start epoch, LiCSBAS to the file's first epoch); the ts text files
# must be identical. Missing LiCSBAS or Python modules are failures, not skips.
. tests/lib.sh
ROOT=$(pwd)
FX="/usr/bin/python3 $ROOT/tests/interop/tools_fixture.py"
LICSBAS=${LICSBAS:-/work/licsbas}
LB="env PYTHONPATH=$LICSBAS/LiCSBAS_lib /usr/bin/python3 $LICSBAS/bin"
cd "$T" || exit 1
if [ ! -f "$LICSBAS/bin/LiCSBAS_cum2vel.py" ]; then bad licsbas "no LiCSBAS at $LICSBAS (set LICSBAS=)"; exit 1; fi
if ! /usr/bin/python3 -c 'import numpy, h5py, statsmodels, astropy, matplotlib; from osgeo import gdal' 2>py.err; then
  bad python-modules "$(tail -n 1 py.err) (apt-get install python3-h5py python3-statsmodels ...)"; exit 1
fi
$FX ts d > fx.log 2>&1 || { bad fixture "$(tail -n 3 fx.log)"; exit 1; }
cd d || exit 1

same() { # NAME A B [TOL]   (names differ from lib.sh's, whose helpers set n)
  sname=$1; shift
  if r=$($FX same "$@" 2>&1); then ok "$sname ($r)"; else bad "$sname" "$r"; fi
}

# ---- cum2vel: defaults (refarea from the file = 13ref), --sin --vstd ----
$LB/LiCSBAS_cum2vel.py -i cum.h5 --sin --vstd -o lb1.vel > lb1.log 2>&1 || bad lb-cum2vel-1 "$(tail -n 3 lb1.log)"
expect cbas-vel-1 $CBAS vel --ts TS --unfilt --sin --vstd --out cb1 --quiet
same vel-default cb1.vel.tif lb1.vel
same amp-default cb1.amp.tif lb1.amp
same vstd-default cb1.vstd.tif lb1.vstd
if r=$($FX dt lb1.dt cb1.dt.tif 0); then ok "dt-default ($r)"; else bad dt-default "$r"; fi
# the pixel with two valid epochs makes some bootstrap draws singular: dropped for all pixels
$CBAS vel --ts TS --unfilt --vstd --out cb1b --no-png > cb1b.log 2>&1
if grep -q "bootstrap draws are singular" cb1b.log; then ok vstd-singular-draws-seen; else bad vstd-singular-draws-seen "$(cat cb1b.log)"; fi

# ---- cum_filt (the default input of both) with its 16ref ----
$LB/LiCSBAS_cum2vel.py -o lb2.vel > lb2.log 2>&1 || bad lb-cum2vel-2 "$(tail -n 3 lb2.log)"
expect cbas-vel-2 $CBAS vel --ts TS --out cb2 --quiet --no-png
same vel-filt-default cb2.vel.tif lb2.vel

# ---- dates not in the list (snapping), a reference window with NaNs, --sin ----
# -s 20190515 snaps to 20190518 (day of year 137), the file starts 20190307 (day 65): LiCSBAS's dt
# is referred to day 65, cbas's to day 137, so cbas = LiCSBAS + 72 days (mod 365.25)
$LB/LiCSBAS_cum2vel.py -i cum.h5 -s 20190515 -e 20200801 -r 1:6/10:15 --sin -o lb3.vel > lb3.log 2>&1 \
  || bad lb-cum2vel-3 "$(tail -n 3 lb3.log)"
expect cbas-vel-3 $CBAS vel --ts TS --unfilt --start 20190515 --end 20200801 --ref 1:6/10:15 --sin --out cb3 --quiet --no-png
same vel-range-window cb3.vel.tif lb3.vel
same amp-range-window cb3.amp.tif lb3.amp
if r=$($FX dt lb3.dt cb3.dt.tif 72); then ok "dt-start-shift ($r)"; else bad dt-start-shift "$r"; fi
if grep -q "Start date  : 20190518" lb3.log && [ -f cb3.vel.tif ]; then ok start-snapped; else bad start-snapped "$(grep 'Start date' lb3.log)"; fi

# ---- mask file and a geographic reference window ----
$LB/LiCSBAS_cum2vel.py -i cum.h5 --mask mask --ref_geo 135.010/135.014/34.990/34.994 -o lb4.vel > lb4.log 2>&1 \
  || bad lb-cum2vel-4 "$(tail -n 3 lb4.log)"
expect cbas-vel-4 $CBAS vel --ts TS --unfilt --mask --ref-geo 135.010/135.014/34.990/34.994 --out cb4 --quiet --no-png
same vel-mask-refgeo cb4.vel.mskd.tif lb4.vel

# ---- cum2tstxt ----
$LB/LiCSBAS_cum2tstxt.py -i cum.h5 -g 135.0123/34.9871 -o lb_ts1.txt > lbt1.log 2>&1 || bad lb-cum2tstxt-1 "$(tail -n 3 lbt1.log)"
expect cbas-ts-1 $CBAS ts --ts TS --unfilt --lon 135.0123 --lat 34.9871 --out cb_ts1.txt --quiet
if cmp -s lb_ts1.txt cb_ts1.txt; then ok ts-text-identical; else bad ts-text-identical "$(diff lb_ts1.txt cb_ts1.txt | head -5 | tr '\n' ' ')"; fi
$LB/LiCSBAS_cum2tstxt.py -g 135.0107/34.9951 -r 2:8/3:7 --mask mask -o lb_ts2.txt > lbt2.log 2>&1 || bad lb-cum2tstxt-2 "$(tail -n 3 lbt2.log)"
expect cbas-ts-2 $CBAS ts --ts TS --lon 135.0107 --lat 34.9951 --ref 2:8/3:7 --mask --out cb_ts2.txt --quiet
if cmp -s lb_ts2.txt cb_ts2.txt; then ok ts-filt-window-mask-identical; else bad ts-filt-window-mask-identical "$(diff lb_ts2.txt cb_ts2.txt | head -6 | tr '\n' ' ')"; fi

# ---- decomposeLOS: 2 geometries of different spacing, then 3 (LS), bilinear and near ----
for ng in 2 3; do
  for alg in bilinear near; do
    dd=los$ng$alg
    $FX los $dd $ng > $dd.log 2>&1 || { bad fixture-los "$(tail -n 3 $dd.log)"; continue; }
    mkdir -p $dd/cb
    $LB/LiCSBAS_decomposeLOS.py -f $dd/list.txt -o $dd/lb_ -r $alg --out_stats > $dd/lb.log 2>&1 || bad lb-decompose-$ng-$alg "$(tail -n 3 $dd/lb.log)"
    expect cbas-decompose-$ng-$alg $CBAS decompose --list $dd/list.txt --out $dd/cb --resample $alg --stats --quiet --no-png
    files="EW UD n_data_fromE n_data_fromW n_data_total"
    [ $ng -ge 3 ] && files="$files resid_LOS1 resid_LOS2 resid_LOS3"
    for f in $files; do same decompose-$ng-$alg-$f $dd/cb/$f.geo.tif $dd/lb_$f.geo.tif; done
    gl=$(/usr/bin/python3 -c "from osgeo import gdal; print(gdal.Open('$dd/lb_EW.geo.tif').GetGeoTransform())")
    gc=$(/usr/bin/python3 -c "from osgeo import gdal; print(gdal.Open('$dd/cb/EW.geo.tif').GetGeoTransform())")
    if [ "$gl" = "$gc" ]; then ok decompose-$ng-$alg-grid; else bad decompose-$ng-$alg-grid "$gl vs $gc"; fi
  done
done
