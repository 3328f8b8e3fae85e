#!/bin/sh
# mask_png_cli.sh — the pictures of a whole `cbas run` on a small synthetic frame:
#  - step 15's figures TSDIR/mask_ts.png and mask_ts_masked.png: written by mask-ts, decoded by
#    Pillow and pngcheck, both of the same size; --no-png skips them; a budget too small for
#    them is refused before any work, naming the picture and --no-png;
#  - the quicklooks LiCSBAS draws beside its rasters, including vintercept(.filt)(.mskd),
#    hgt, info/13rms_cum_wrt_med, info/16rms_cum_wrt_med and 12loop/loop_ph_rms_masked;
#  - cbas png --range-pct 1:99 gives NumPy's nanpercentile 1 and 99 of the band (LiCSBAS's
#    16rms_cum_wrt_med range), --cmap terrain LiCSBAS02's DEM range −p99/3 .. p99 rounded up.
# (Pixel-exact panel content: tests/unit/test_mask_png.c.)
. tests/lib.sh
cd "$T" || exit 1
PY=/usr/bin/python3
$PY -c 'import numpy, PIL; from osgeo import gdal' 2>/dev/null || { bad python "no $PY with numpy, Pillow, GDAL (bootstrap.sh)"; exit 0; }
command -v pngcheck >/dev/null 2>&1 || { bad pngcheck "pngcheck is not installed (bootstrap.sh)"; exit 0; }

$CBAS synth --out syn --width 48 --length 36 --epochs 12 --seed 3 --quiet > synth.log 2>&1 \
  || { bad synth "cbas synth failed: $(tail -n 3 synth.log)"; exit 1; }
expect run $CBAS run --geoc syn/GEOC --out r --quiet
TS=r/TS_GEOCml1
for p in mask_ts mask_ts_masked results/vel results/vintercept results/vel.mskd results/vel.filt results/vel.filt.mskd \
         results/vintercept.filt results/vintercept.filt.mskd results/vstd results/mask results/hgt \
         info/13rms_cum_wrt_med info/16rms_cum_wrt_med 12loop/loop_ph_rms_masked; do
  if [ -f "$TS/$p.png" ] && pngcheck -q "$TS/$p.png" > /dev/null 2>&1; then ok "png-$p"; else bad "png-$p" "$TS/$p.png missing or rejected by pngcheck"; fi
done
size() { $PY -c 'import sys; from PIL import Image; im = Image.open(sys.argv[1]); im.load(); print(im.size[0], im.size[1], im.mode)' "$1"; }
s0=$(size $TS/mask_ts.png); s1=$(size $TS/mask_ts_masked.png)
set -- $s0
if [ "$s0" = "$s1" ] && [ "$3" = RGB ] && [ "$1" -ge 1000 ] && [ "$1" -le 1800 ] && [ "$2" -ge 500 ] && [ "$2" -le 900 ]; then
  ok mask-ts-size
else
  bad mask-ts-size "mask_ts $s0, mask_ts_masked $s1"
fi
if [ -z "$(find r -name '*.tmp[0-9]*')" ]; then ok no-temp-files; else bad no-temp-files "$(find r -name '*.tmp[0-9]*')"; fi

# --no-png; a budget below the figures' need
rm -f $TS/mask_ts.png $TS/mask_ts_masked.png
expect no-png $CBAS mask-ts r/GEOCml1 --ts $TS --no-png --mem 4M --quiet
if [ ! -e $TS/mask_ts.png ] && [ ! -e $TS/mask_ts_masked.png ]; then ok no-png-none-written; else bad no-png-none-written "$(ls $TS)"; fi
cp $TS/results/mask.tif mask_before.tif
expect_status small-budget 1 $CBAS mask-ts r/GEOCml1 --ts $TS --mem 4M --quiet
if grep -q "mask_ts.png" "$T/out" && grep -q -- "--no-png" "$T/out" && grep -q "needs" "$T/out"; then ok small-budget-message
else bad small-budget-message "$(cat "$T/out")"; fi
expect with-png $CBAS mask-ts r/GEOCml1 --ts $TS --quiet
if [ -f $TS/mask_ts.png ] && cmp -s mask_before.tif $TS/results/mask.tif; then ok png-same-mask; else bad png-same-mask "no figure or a different mask"; fi

# --range-pct 1:99 = numpy.nanpercentile (LiCSBAS16's 16rms_cum_wrt_med.png range)
range() { sed -n 's/.*colour range \([^ ]*\) \.\. \([^ ]*\) .*/\1 \2/p' "$1"; }
$CBAS png $TS/info/16rms_cum_wrt_med.tif --out rms.png --cmap seq_r --range-pct 1:99 > rms.txt 2>&1
want=$($PY -c 'import sys, numpy as np; from osgeo import gdal
a = gdal.Open(sys.argv[1]).ReadAsArray().astype(np.float64); print(np.nanpercentile(a, 1), np.nanpercentile(a, 99))' \
  $TS/info/16rms_cum_wrt_med.tif)
got=$(range rms.txt)
if [ -n "$got" ] && awk -v g="$got" -v w="$want" 'BEGIN { split(g, a, " "); split(w, b, " ");
     exit !(a[1] - b[1] <= 1e-5 * (1 + (b[1] < 0 ? -b[1] : b[1])) && b[1] - a[1] <= 1e-5 * (1 + (b[1] < 0 ? -b[1] : b[1])) &&
            a[2] - b[2] <= 1e-5 * (1 + (b[2] < 0 ? -b[2] : b[2])) && b[2] - a[2] <= 1e-5 * (1 + (b[2] < 0 ? -b[2] : b[2]))) }'
then ok range-pct-is-nanpercentile; else bad range-pct-is-nanpercentile "cbas '$got', numpy '$want' ($(cat rms.txt))"; fi
expect_status range-pct-bad 2 $CBAS png $TS/info/16rms_cum_wrt_med.tif --out x.png --range-pct 99:1
if grep -q -- "--range-pct" "$T/out"; then ok range-pct-bad-named; else bad range-pct-bad-named "$(cat "$T/out")"; fi

# terrain: LiCSBAS02 vmax = p99, vmin = -vmax/3; cbas rounds vmax up to 1, 1.2, 1.5, 2, 2.5, 3,
# 3.5, 4, 5, 6, 7, 8 x 10^k
$CBAS png $TS/results/hgt.tif --out hgt.png --cmap terrain > hgt.txt 2>&1
want=$($PY -c 'import sys, math, numpy as np; from osgeo import gdal
a = gdal.Open(sys.argv[1]).ReadAsArray().astype(np.float64); p = np.nanpercentile(a, 99); m = 10 ** math.floor(math.log10(p))
top = next(s * m for s in (1, 1.2, 1.5, 2, 2.5, 3, 3.5, 4, 5, 6, 7, 8, 10) if s * m >= p * (1 - 1e-12)); print("%g %g" % (-top / 3, top))' \
  $TS/results/hgt.tif)
got=$(range hgt.txt)
if [ -n "$got" ] && [ "$got" = "$want" ]; then ok terrain-range; else bad terrain-range "cbas '$got', expected '$want' ($(cat hgt.txt))"; fi
