# warp_ref.py — the reference for tests/unit/test_warp.c: GDAL's own warper (gdal.Warp on
# in-memory rasters), driven as LiCSBAS drives it (outputBounds, width, height, resampleAlg,
# srcNodata), on the sources the test wrote.
# Usage: warp_ref.py CASES DIR
# CASES: one line per case: K SW SH SGT0 SGT1 SGT3 SGT5 MINX MINY MAXX MAXY W L ALG NODATA, with
# ALG near|bilinear|cubicspline and NODATA nan or a number; reads DIR/src_K.f32 (SH x SW
# float32, native order) and writes DIR/ref_K.f32 (L x W float32).
import sys
import numpy as np
from osgeo import gdal

gdal.UseExceptions()
cases, d = sys.argv[1], sys.argv[2]
for line in open(cases):
    f = line.split()
    if not f:
        continue
    k, sw, sh = f[0], int(f[1]), int(f[2])
    sgt = (float(f[3]), float(f[4]), 0.0, float(f[5]), 0.0, float(f[6]))
    bounds = tuple(float(x) for x in f[7:11])
    w, h, alg, nodata = int(f[11]), int(f[12]), f[13], float(f[14])
    a = np.fromfile(f'{d}/src_{k}.f32', dtype=np.float32).reshape(sh, sw)
    src = gdal.GetDriverByName('MEM').Create('', sw, sh, 1, gdal.GDT_Float32)
    src.SetGeoTransform(sgt)
    src.GetRasterBand(1).WriteArray(a)
    out = gdal.Warp('', src, format='MEM', outputBounds=bounds, width=w, height=h, resampleAlg=alg,
                    srcNodata=nodata).ReadAsArray()
    out.astype(np.float32).tofile(f'{d}/ref_{k}.f32')
