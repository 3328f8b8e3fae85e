# cbas prep exactness against GDAL (issue 3): every clipped pixel of a synthetic frame equals
# what gdal_translate -srcwin reads from the GeoTIFFs (LiCSAR's 0 = no data read as NaN), and
# with --nlook it equals an independent NumPy implementation of LiCSBAS step 02's multilook
# rule written from the digest (reshape, nanmean, < 0.5·n² valid values -> NaN, trailing
# rows/columns dropped, multilook first and clip after). Needs gdal-bin and python3-numpy.
. tests/lib.sh
PY=python3
$PY -c 'import numpy' 2>/dev/null || PY=/usr/bin/python3
if ! command -v gdal_translate >/dev/null 2>&1 || ! $PY -c 'import numpy' 2>/dev/null; then
  bad gdal-numpy "gdal_translate or python3-numpy missing (platform/debian/bootstrap.sh installs them)"; exit 0
fi
G="$T/f/GEOC"
$CBAS synth --out "$T/f" --width 203 --length 151 --epochs 5 --seed 7 --quiet || { bad synth "cbas synth failed"; exit 0; }
IFGS=$(cd "$G" && ls -d 2*_2*)
NIFG=$(echo $IFGS | wc -w)
mkdir -p "$T/g" "$T/c1" "$T/c3"

# --- nlook 1: pixel window vs gdal_translate -srcwin -------------------------------------
expect prep-clip $CBAS prep --geoc "$G" --out "$T/s1" --clip 3:107/2:91 --quiet
expect prep-nlook3 $CBAS prep --geoc "$G" --out "$T/s3" --nlook 3 --clip 1:56/0:37 --threads 2 --quiet
k=0; fails=0
for i in $IFGS; do
  gdal_translate -q -srcwin 3 2 104 89 -of ENVI "$G/$i/$i.geo.unw.tif" "$T/g/$i.win.unw" >/dev/null &&
  gdal_translate -q -srcwin 3 2 104 89 -of ENVI "$G/$i/$i.geo.cc.tif" "$T/g/$i.win.cc" >/dev/null &&
  gdal_translate -q -of ENVI "$G/$i/$i.geo.unw.tif" "$T/g/$i.unw" >/dev/null &&
  gdal_translate -q -of ENVI "$G/$i/$i.geo.cc.tif" "$T/g/$i.cc" >/dev/null || fails=$((fails+1))
  $CBAS stack-dump "$T/s1" --ifg $k --raw "$T/c1/$i.unw" && $CBAS stack-dump "$T/s1" --ifg $i --layer cc --raw "$T/c1/$i.cc" &&
  $CBAS stack-dump "$T/s3" --ifg $k --raw "$T/c3/$i.unw" && $CBAS stack-dump "$T/s3" --ifg $i --layer cc --raw "$T/c3/$i.cc" || fails=$((fails+1))
  cmp -s "$T/g/$i.win.cc" "$T/c1/$i.cc" || { fails=$((fails+1)); echo "cc of $i differs"; }
  k=$((k+1))
done
for L in hgt E N U; do
  gdal_translate -q -srcwin 3 2 104 89 -of ENVI "$(ls "$G"/*.geo.$L.tif)" "$T/g/$L.win" >/dev/null
  $CBAS stack-dump "$T/s1" --layer $L --raw "$T/c1/$L" || fails=$((fails+1))
done
[ $fails = 0 ] && ok gdal-and-dump-ran || bad gdal-and-dump-ran "$fails failures"

$PY - "$T" $IFGS <<'PYEOF'
import sys, warnings, numpy as np
T, ifgs = sys.argv[1], sys.argv[2:]
def report(name, good, why=''):
    print(('ok - ' if good else 'FAIL - ') + name + ('' if good else ': ' + why))
def f32(p): return np.fromfile(p, dtype='<f4')
# nlook 1: bit-identical to GDAL's reading, GDAL's 0 (no data) as NaN
bad, nod, dat = [], 0, 0
for i in ifgs:
    g, c = f32(T + '/g/' + i + '.win.unw'), f32(T + '/c1/' + i + '.unw')
    z = g == 0
    nod += z.sum(); dat += (~z).sum()
    if not (g.size == c.size == 104 * 89 and np.isnan(c[z]).all() and (c[~z].view('<u4') == g[~z].view('<u4')).all()):
        bad.append(i)
report('unw-equals-gdal-srcwin (%d ifgs, cc compared with cmp)' % len(ifgs), not bad, ' '.join(bad))
report('window-has-nodata-and-data', nod > 0 and dat > 0, '%d %d' % (nod, dat))
bad = []
for L in ('hgt', 'E', 'N', 'U'):
    g, c = f32(T + '/g/' + L + '.win'), f32(T + '/c1/' + L)
    z = g == 0
    if not (g.size == c.size and np.isnan(c[z]).all() and (c[~z] == g[~z]).all()): bad.append(L)
report('layers-equal-gdal-srcwin', not bad, ' '.join(bad))
# nlook 3: LiCSBAS's multilook of the whole frame, then the clip 1:56/0:37
W, L, n = 203, 151, 3
def multilook(a):   # mean of the valid values of each n x n block, NaN if fewer than half
    Lm, Wm = L // n, W // n          # are valid; trailing rows/columns dropped
    b = a[:Lm * n, :Wm * n].reshape(Lm, n, Wm, n)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        m = np.nanmean(b, axis=(1, 3))
    m[np.sum(~np.isnan(b), axis=(1, 3)) < 0.5 * n * n] = np.nan
    return m
bad, nod, dat = [], 0, 0
for i in ifgs:
    unw = f32(T + '/g/' + i + '.unw').reshape(L, W).copy(); unw[unw == 0] = np.nan
    cc = np.fromfile(T + '/g/' + i + '.cc', dtype='u1').reshape(L, W).astype(np.float32); cc[cc == 0] = np.nan
    mu = multilook(unw)[0:37, 1:56]
    mu[mu == 0] = np.nan                                  # later steps read 0 as no data
    mc = multilook(cc)[0:37, 1:56]
    mc = np.where(np.isnan(mc), 0, mc).astype(np.uint8)  # astype(uint8): NaN -> 0, truncation
    cu = f32(T + '/c3/' + i + '.unw').reshape(37, 55)
    cb = np.fromfile(T + '/c3/' + i + '.cc', dtype='u1').reshape(37, 55)
    nod += np.isnan(mu).sum(); dat += (~np.isnan(mu)).sum()
    if not (((np.isnan(cu) & np.isnan(mu)) | (cu == mu)).all() and (cb == mc).all()): bad.append(i)
report('nlook3-equals-numpy-multilook (%d ifgs)' % len(ifgs), not bad, ' '.join(bad))
report('ml-window-has-nodata-and-data', nod > 0 and dat > 0, '%d %d' % (nod, dat))
PYEOF

# the stack's geotransform is the source's shifted by the clip (gdalinfo's numbers)
gt=$(grep '^geotransform:' "$T/s1/stack.par")
$PY - "$G/$(echo $IFGS | cut -d' ' -f1)" "$gt" <<'PYEOF' && ok geotransform || bad geotransform "$gt"
import sys, subprocess, json
name = sys.argv[1].rsplit('/', 1)[1]
info = json.loads(subprocess.check_output(['gdalinfo', '-json', sys.argv[1] + '/' + name + '.geo.unw.tif']))
g = info['geoTransform']
ours = [float(v) for v in sys.argv[2].split()[1:]]
assert ours[0] == g[0] + 3 * g[1] and ours[3] == g[3] + 2 * g[5] and ours[1] == g[1] and ours[5] == g[5], (ours, g)
PYEOF
grep -q '^frame_size: 67 50$' "$T/s3/stack.par" && ok nlook3-frame-size || bad nlook3-frame-size "$(grep frame_size "$T/s3/stack.par")"
