#!/bin/sh
# prep_gacos.sh — cbas prep --gacos (LiCSBAS step 03) against GDAL's own warper driven exactly
# as LiCSBAS drives it (tests/interop/prep_gacos_ref.py): GACOS products as .ztd/.rsc,
# .ztd.tif and .sltd.geo.tif with holes (0 = no data), one date missing (its interferograms
# are left out), with and without --fillhole, nlook 1, 2, 3 and 10 (10: the GACOS grid is finer
# than the multilooked grid, GDAL's downsampling kernel), 8 on a 0.0004 deg grid (a kernel 76
# taps wide). Every corrected pixel must be bit-identical. Needs python3 with numpy and GDAL's
# bindings (bootstrap installs them).
. tests/lib.sh
PY=python3
$PY -c 'import numpy; from osgeo import gdal' 2>/dev/null || PY=/usr/bin/python3
$PY -c 'import numpy; from osgeo import gdal' 2>/dev/null || { bad gdal-python "python3 numpy/GDAL bindings missing"; exit 0; }
cd "$T" || exit 1
$CBAS synth --out f --width 150 --length 120 --epochs 5 --seed 4 --n-bad 0 --quiet || { bad synth "synth failed"; exit 0; }
# GACOS grids: a smooth field with holes on 30 x 33 or 152 x 133 cells around the frame
$PY - <<'PYEOF'
import numpy as np, os
from osgeo import gdal
def make(out, dates, kinds, step, x0=137.95, y0=36.56, ew=0.32, ns=0.28):
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(7)
    W, L = int(ew / step), int(ns / step)
    for k, d in enumerate(dates):
        yy, xx = np.mgrid[0:L, 0:W]
        z = (2.3 + 0.05*np.sin(xx/5.0 + k) + 0.03*np.cos(yy/4.0 - k) + 0.002*rng.standard_normal((L, W))).astype(np.float32)
        z[3, 5] = 0; z[10:12, 8] = 0; z[L//2, W//2] = 0; z[L//2 + 1, W//2] = 0
        kind = kinds[k % len(kinds)]
        if kind == 'ztd':
            z.astype('<f4').tofile(f'{out}/{d}.ztd')
            open(f'{out}/{d}.ztd.rsc', 'w').write('WIDTH %d\nFILE_LENGTH %d\nXMIN 0\nXMAX %d\nYMIN 0\nYMAX %d\nX_FIRST %r\nY_FIRST %r\nX_STEP %r\nY_STEP %r\nX_UNIT degres\nY_UNIT degres\n' % (W, L, W-1, L-1, x0, y0, step, -step))
        else:
            ds = gdal.GetDriverByName('GTiff').Create(f'{out}/{d}' + ('.ztd.tif' if kind == 'tif' else '.sltd.geo.tif'), W, L, 1, gdal.GDT_Float32)
            ds.SetGeoTransform((x0 - step/2, step, 0, y0 + step/2, 0, -step))
            ds.GetRasterBand(1).WriteArray(z if kind == 'tif' else z * 50)
            ds = None
d5 = '20180101,20180113,20180125,20180206,20180218'.split(',')
make('g_ztd', d5, ['ztd'], 0.0083333333333)
make('g_mix', d5[:4], ['ztd', 'tif', 'ztd', 'sltd'], 0.0083333333333)   # 20180218 missing
make('g_fine', d5, ['sltd', 'ztd', 'tif'], 0.0021)
make('g_vfine', d5, ['ztd', 'tif'], 0.0004, 137.99, 36.51, 0.17, 0.14)
PYEOF
[ -f g_ztd/20180101.ztd ] && ok gacos-products-made || { bad gacos-products-made "python failed"; exit 0; }
n=0
check() { # name gacosdir nlook clip fill(0|1)
  n=$((n + 1))
  fh=""; [ "$5" = 1 ] && fh=--fillhole
  rm -rf s$n r$n d$n; mkdir -p d$n
  $CBAS prep --geoc f/GEOC --out s$n --gacos $2 --nlook $3 --clip $4 $fh --quiet > p$n.log 2>&1 || { bad "$1" "prep failed: $(tail -2 p$n.log)"; return; }
  $PY "$OLDPWD/tests/interop/prep_gacos_ref.py" f/GEOC $2 $3 $4 r$n $5 || { bad "$1" "reference failed"; return; }
  cmp -s s$n/ifgs.txt r$n/ifgs.txt || { bad "$1" "interferograms differ: $(tr '\n' ' ' < s$n/ifgs.txt) vs $(tr '\n' ' ' < r$n/ifgs.txt)"; return; }
  for i in $(cat s$n/ifgs.txt); do $CBAS stack-dump s$n --ifg $i --raw d$n/$i.unw; done
  res=$($PY - r$n d$n <<'PYEOF'
import sys, numpy as np
ref, dump = sys.argv[1], sys.argv[2]
tot = diff = 0; maxd = 0.0
for i in open(ref + '/ifgs.txt').read().split():
    a = np.fromfile(f'{ref}/{i}.unw', dtype='<f4'); b = np.fromfile(f'{dump}/{i}.unw', dtype='<f4')
    if a.size != b.size: print('size', i); sys.exit(0)
    same = (np.isnan(a) & np.isnan(b)) | (a.view('<u4') == b.view('<u4'))
    tot += a.size; diff += int((~same).sum())
    ok = ~np.isnan(a) & ~np.isnan(b)
    if ok.any(): maxd = max(maxd, float(np.abs(a[ok].astype(float) - b[ok]).max()))
print(f'{tot} {diff} {maxd:.3g}')
PYEOF
)
  set -- "$1" $res
  if [ "$#" = 4 ] && [ "$3" = 0 ] && [ "$2" -gt 0 ]; then ok "$1 ($2 px bit-identical)"; else bad "$1" "pixels, differing, max diff: $2 $3 $4"; fi
}
check ztd-nlook1 g_ztd 1 10:140/5:110 0
check ztd-nlook1-fillhole g_ztd 1 10:140/5:110 1
check ztd-nlook3-fillhole g_ztd 3 2:48/1:38 1
check mixed-missing-date g_mix 1 0:150/0:120 1
check mixed-nlook2 g_mix 2 3:70/2:55 0
check downsampling-nlook10 g_ztd 10 1:14/0:12 1
# 0.0004 deg cells onto 0.008 deg pixels: kernel radius 38, 76 taps per row (more than the 64
# weights an earlier kernel kept: it must not be truncated)
check downsampling-76taps g_vfine 8 0:18/0:15 0
check fine-grid-nlook3 g_fine 3 5:45/3:37 0
grep -c . s4/ifgs.txt | grep -qx 6 && ok missing-date-drops-its-ifgs || bad missing-date-drops-its-ifgs "$(cat s4/ifgs.txt)"
# the fill changed something (holes under the GACOS grid's zeros), and GACOS changed the unw
cmp -s s1/unw.bil s2/unw.bil && bad fillhole-has-effect "same stacks" || ok fillhole-has-effect
$CBAS prep --geoc f/GEOC --out s0 --clip 10:140/5:110 --quiet && ! cmp -s s0/unw.bil s1/unw.bil && ok gacos-has-effect || bad gacos-has-effect "no change"
