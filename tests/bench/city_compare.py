#!/usr/bin/python3
"""city_compare.py CBAS_TSDIR LICSBAS_TSDIR TRUTH_VEL_TIF

Agreement of a cbas TS directory with LiCSBAS's on the same data (used by tests/bench/city.sh
after both ran): the text reports that must be identical, RMS/max difference of the velocity
maps where both are valid, agreement of the masks, and the RMSE of each against the synthetic
truth (std of estimate - truth over the valid pixels: the reference point's offset removed,
as `cbas compare` reports std_diff). Reads cbas's GeoTIFFs with GDAL and LiCSBAS's flat float32
results with NumPy; the truth is cut to the AOI through the geotransforms."""
import os
import sys

import numpy as np
from osgeo import gdal

cb, lb, truth = sys.argv[1:4]
ds = gdal.Open(os.path.join(cb, 'results', 'vel.tif'))
W, L = ds.RasterXSize, ds.RasterYSize
gt = ds.GetGeoTransform()
tds = gdal.Open(truth)
tgt = tds.GetGeoTransform()
x0 = int(round((gt[0] - tgt[0]) / tgt[1]))
y0 = int(round((gt[3] - tgt[3]) / tgt[5]))
tv = tds.GetRasterBand(1).ReadAsArray(x0, y0, W, L).astype(np.float64)


def cbas(name):
    d = gdal.Open(os.path.join(cb, 'results', name + '.tif'))  # keep the dataset alive
    return d.GetRasterBand(1).ReadAsArray().astype(np.float64)


def lics(name):
    return np.fromfile(os.path.join(lb, 'results', name), dtype=np.float32).reshape(L, W).astype(np.float64)


def same_text(rel):
    a, b = os.path.join(cb, rel), os.path.join(lb, rel)
    if not (os.path.exists(a) and os.path.exists(b)):
        return 'missing'
    return 'identical' if open(a, 'rb').read() == open(b, 'rb').read() else 'DIFFERENT'


for rel in ['info/11bad_ifg.txt', 'info/12bad_ifg.txt', 'info/12ref.txt', 'info/13ref.txt',
            'info/15parameters.txt', 'info/16ref.txt']:
    print('  %-22s %s' % (rel, same_text(rel)))
for n in ['vel', 'vel.mskd', 'vstd', 'vel.filt', 'vel.filt.mskd']:
    a, b = cbas(n), lics(n)
    both = np.isfinite(a) & np.isfinite(b)
    d = a[both] - b[both]
    line = '  %-14s cbas-LiCSBAS RMS %.2e max %.2e (%d px, valid only in one: %d)' % (
        n, np.sqrt(np.mean(d * d)) if d.size else float('nan'), np.max(np.abs(d)) if d.size else float('nan'),
        both.sum(), (np.isfinite(a) != np.isfinite(b)).sum())
    if n != 'vstd':  # velocities: error against the true LOS velocity
        va, vb = np.isfinite(a) & np.isfinite(tv), np.isfinite(b) & np.isfinite(tv)
        line += '; RMSE vs truth cbas %.3f LiCSBAS %.3f mm/yr' % (np.std(a[va] - tv[va]), np.std(b[vb] - tv[vb]))
    print(line)
ma, mb = cbas('mask'), lics('mask')
print('  mask agreement %.3f %% of %d pixels' % (100.0 * np.mean((ma == 1) == (mb == 1)), ma.size))
