#!/bin/sh
# tools_cli.sh — `cbas ts`, `cbas vel` and `cbas decompose` from the command line on a TSDIR
# written with GDAL (tests/interop/tools_fixture.py): the series printed by cbas ts equals the
# cum.tif values at the pixel read independently with GDAL's gdallocationinfo (minus the
# reference pixel, minus the first epoch); points and references outside the grid, masked or
# empty pixels and one-sided decompositions end with exit status 2 (1 for data) and one line
# naming the problem; vel's default output name is LiCSBAS's START_END.vel.
. tests/lib.sh
ROOT=$(pwd)
FX="/usr/bin/python3 $ROOT/tests/interop/tools_fixture.py"
cd "$T" || exit 1
command -v gdallocationinfo > /dev/null || { bad gdal "gdallocationinfo missing (gdal-bin)"; exit 1; }
$FX ts d > fx.log 2>&1 || { bad fixture "$(tail -n 3 fx.log)"; exit 1; }
cd d || exit 1

# ---- ts values = GDAL's values at the pixel, referenced (13ref = pixel 15/8) ----
expect ts-csv $CBAS ts --ts TS --unfilt --lon 135.0123 --lat 34.9871 --csv --out p.csv --quiet
gdallocationinfo -valonly -geoloc TS/results/cum.tif 135.0123 34.9871 > p.val
gdallocationinfo -valonly TS/results/cum.tif 15 8 > r.val
n_ep=$(wc -l < p.val)
if [ "$n_ep" -eq 45 ] && [ "$(wc -l < p.csv)" -eq 46 ]; then ok ts-epochs; else bad ts-epochs "$n_ep GDAL values, $(wc -l < p.csv) CSV lines"; fi
# x = rint(12.3) = 12, y = rint(12.9) = 13: the same pixel by its index
gdallocationinfo -valonly TS/results/cum.tif 12 13 > q.val
if cmp -s p.val q.val; then ok ts-nearest-pixel; else bad ts-nearest-pixel "geoloc and pixel 12/13 differ"; fi
bad_rows=$(paste -d' ' p.val r.val | awk -v F=p.csv '
  BEGIN { getline h < F }
  { getline line < F; split(line, c, ",");
    p = $1; r = $2; if (NR == 1) { p0 = p; r0 = r }
    if (p == "nan" || r == "nan" || p == "" ) { if (c[3] != "") print NR ": want empty, got " c[3]; next }
    want = (p - r) - (p0 - r0); got = c[3] + 0; d = want - got; if (d < 0) d = -d;
    if (c[3] == "" || d > 2e-5 * (1 + (want < 0 ? -want : want))) print NR ": want " want ", got " c[3] }')
if [ -z "$bad_rows" ]; then ok ts-values-equal-gdal; else bad ts-values-equal-gdal "$(echo "$bad_rows" | head -3 | tr '\n' ' ')"; fi
# the text form prints the same values with two decimals
expect ts-text $CBAS ts --ts TS --unfilt --xy 12/13 --out - --quiet
grep -v '^#' "$T/out" | awk '{print $2}' > t.col
awk -F, 'NR > 1 { if ($3 == "") print "nan"; else printf "%.2f\n", $3 }' p.csv > c.col
if cmp -s t.col c.col; then ok ts-text-matches-csv; else bad ts-text-matches-csv "$(diff t.col c.col | head -3 | tr '\n' ' ')"; fi
# the outer half pixel belongs to the grid (x = 0)
expect ts-edge $CBAS ts --ts TS --unfilt --lon 134.99955 --lat 35.0 --out - --quiet
if grep -q '^# x, y    : 0, 0$' "$T/out"; then ok ts-edge-pixel; else bad ts-edge-pixel "$(head -1 "$T/out")"; fi

# ---- one-line errors ----
one_line() { # NAME STATUS PATTERN COMMAND...
  on=$1; st=$2; pat=$3; shift 3
  "$@" > o.out 2> o.err; r=$?
  if [ "$r" -eq "$st" ] && [ "$(wc -l < o.err)" -eq 1 ] && grep -q -- "$pat" o.err; then ok "$on"
  else bad "$on" "exit $r (want $st): $(head -c 300 o.err | tr '\n' '|')"; fi
}
one_line ts-outside 2 "lon 136.000000 lat 35.000000 is outside" $CBAS ts --ts TS --lon 136 --lat 35
one_line ts-outside-south 2 "lat 34.900000 is outside" $CBAS ts --ts TS --lon 135.01 --lat 34.9
one_line ts-nan-pixel 1 "pixel 7/5" $CBAS ts --ts TS --unfilt --xy 7/5
one_line ts-masked-pixel 1 "masked" $CBAS ts --ts TS --xy 21/1 --mask
one_line ts-xy-outside 2 "--xy 30/2" $CBAS ts --ts TS --xy 30/2
one_line ts-ref-outside 2 "reference point lon 134.000000 lat 35.000000" $CBAS ts --ts TS --xy 3/3 --ref-lon 134 --ref-lat 35
one_line ts-ref-nan 1 "reference 7:8/5:6 has only NaN" $CBAS ts --ts TS --xy 3/3 --ref 7:8/5:6
one_line ts-no-point 2 "give the point" $CBAS ts --ts TS
one_line ts-not-tsdir 2 "not a time-series directory" $CBAS ts --ts nowhere --xy 1/1
one_line vel-ref-outside 2 "reference point lon" $CBAS vel --ts TS --ref-lon 135.5 --ref-lat 35
one_line vel-start-late 2 "--start 20300101 is after the last epoch" $CBAS vel --ts TS --start 20300101
one_line vel-both-inputs 2 "not both" $CBAS vel --ts TS --cum TS/results/cum.tif
one_line vel-no-file 2 "nope.tif: no such file" $CBAS vel --cum nope.tif
one_line vel-no-mask 2 "--mask-file nomask.tif: no such file" $CBAS vel --ts TS --mask-file nomask.tif

# ---- vel: LiCSBAS's default name START_END.vel[.mskd] in the current directory ----
last=$(tail -n 1 p.csv | cut -c1-10 | tr -d -)
expect vel-default-name $CBAS vel --ts TS --unfilt --quiet
if [ -f "20190307_$last.vel.tif" ] && [ -f "20190307_$last.vel.png" ]; then ok vel-default-files; else bad vel-default-files "$(ls)"; fi
expect vel-default-mskd $CBAS vel --ts TS --mask --no-png --quiet
if [ -f "20190307_$last.vel.mskd.tif" ]; then ok vel-mskd-name; else bad vel-mskd-name "$(ls)"; fi
# a GDAL reader sees the grid and the NaN nodata
gi=$(gdalinfo "20190307_$last.vel.tif" 2>&1)
if echo "$gi" | grep -q "Origin = (134.999500000000012,35.000500000000002)" && echo "$gi" | grep -qi "NoData Value=nan"; then
  ok vel-geotiff-grid; else bad vel-geotiff-grid "$(echo "$gi" | grep -i 'origin\|nodata')"; fi

# ---- decompose refusals ----
$FX los los 3 > los.log 2>&1 || bad fixture-los "$(tail -n 3 los.log)"
one_line decompose-one-side 2 "no LOS geometry looks from the East" \
  $CBAS decompose --los los/A.tif --e los/A_E.tif --n los/A_N.tif --los los/A2.tif --e los/A2_E.tif --n los/A2_N.tif --quiet
one_line decompose-counts 2 "--n given 1 times for 2 --los" \
  $CBAS decompose --los los/A.tif --e los/A_E.tif --n los/A_N.tif --los los/D.tif --e los/D_E.tif
one_line decompose-missing 2 "nope.tif" \
  $CBAS decompose --los los/A.tif --e los/A_E.tif --n los/A_N.tif --los nope.tif --e los/D_E.tif --n los/D_N.tif
for c in ts vel decompose; do expect help-$c $CBAS $c --help; done

# ---- decompose with E/N from cbas stacks (synth + prep, asc and desc) = the same from GeoTIFFs,
# and equal to the motion the LOS were made of (both frames on one 0.001 deg lattice) ----
cd "$T" || exit 1
if $CBAS synth --out sa --track asc --width 80 --length 60 --epochs 6 --no-noise --quiet > st.log 2>&1 &&
   $CBAS synth --out sd --track desc --width 70 --length 50 --epochs 6 --no-noise --lon0 138.013 --lat0 36.49 --quiet >> st.log 2>&1 &&
   $CBAS prep --geoc sa/GEOC --out stka --quiet >> st.log 2>&1 && $CBAS prep --geoc sd/GEOC --out stkd --quiet >> st.log 2>&1; then
  for s in a d; do for l in E N; do $CBAS stack-dump stk$s --layer $l --raw stk$s.$l.raw --quiet; done; done
  /usr/bin/python3 - > mk.log 2>&1 <<'PY'
import numpy as np
from osgeo import gdal, osr
def tif(path, a, gt):
    d = gdal.GetDriverByName('GTiff').Create(path, a.shape[1], a.shape[0], 1, gdal.GDT_Float32)
    d.SetGeoTransform(gt); s = osr.SpatialReference(); s.ImportFromEPSG(4326); d.SetProjection(s.ExportToWkt())
    d.GetRasterBand(1).WriteArray(a); d.GetRasterBand(1).SetNoDataValue(np.nan); d = None
for s in 'ad':
    kv = dict(l.split(':', 1) for l in open(f'stk{s}/stack.par') if ':' in l)
    W, L = int(kv['width']), int(kv['length'])
    gt = [float(x) for x in kv['geotransform'].split()]
    E = np.fromfile(f'stk{s}.E.raw', np.float32).reshape(L, W)
    N = np.fromfile(f'stk{s}.N.raw', np.float32).reshape(L, W)
    lon, lat = np.meshgrid(gt[0] + gt[1] * (np.arange(W) + 0.5), gt[3] + gt[5] * (np.arange(L) + 0.5))
    U = np.sqrt(1 - N.astype(float) ** 2 - E.astype(float) ** 2)
    tif(f'los{s}.tif', (E * (2 + 30 * (lon - 138)) + U * (-5 + 40 * (lat - 36.45))).astype(np.float32), gt)
    tif(f'E{s}.tif', E, gt); tif(f'N{s}.tif', N, gt)
PY
  mkdir -p so1 so2
  expect decompose-stack $CBAS decompose --los losa.tif --stack stka --los losd.tif --stack stkd --out so1 --quiet --no-png
  expect decompose-tifs $CBAS decompose --los losa.tif --e Ea.tif --n Na.tif --los losd.tif --e Ed.tif --n Nd.tif --out so2 --quiet --no-png
  if cmp -s so1/EW.geo.tif so2/EW.geo.tif && cmp -s so1/UD.geo.tif so2/UD.geo.tif; then ok decompose-stack-equals-tifs
  else bad decompose-stack-equals-tifs "EW/UD differ"; fi
  r=$(/usr/bin/python3 -c "
from osgeo import gdal; import numpy as np
g = gdal.Open('so1/EW.geo.tif'); t = g.GetGeoTransform(); ew = g.ReadAsArray(); ud = gdal.Open('so1/UD.geo.tif').ReadAsArray()
lon, lat = np.meshgrid(t[0] + t[1] * (np.arange(ew.shape[1]) + 0.5), t[3] + t[5] * (np.arange(ew.shape[0]) + 0.5))
ok = ~np.isnan(ew)
print(int(ok.sum()), np.max(np.abs(ew - (2 + 30 * (lon - 138)))[ok]), np.max(np.abs(ud - (-5 + 40 * (lat - 36.45)))[ok]))")
  set -- $r
  if [ "${1:-0}" -gt 1000 ] && awk -v a="$2" -v b="$3" 'BEGIN { exit !(a < 1e-4 && b < 1e-4) }'; then ok "decompose-stack-truth ($1 pixels, max error EW $2 UD $3)"
  else bad decompose-stack-truth "$r $(tail -n 2 mk.log)"; fi
else
  bad decompose-stack-setup "$(tail -n 3 st.log)"
fi
