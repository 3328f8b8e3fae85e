#!/usr/bin/python3
"""filt_fixture.py -- test data for tests/interop/filt_licsbas.sh: the results of LiCSBAS steps
13-14 (cum, vel, noise indices, 13parameters.txt) invented here and written both into a cbas
TSDIR (GeoTIFFs) and into a LiCSBAS TS directory (flat float32 files, cum.h5), so that LiCSBAS15/16
and cbas mask-ts/filter run on identical inputs; and the comparisons of their outputs.

  filt_fixture.py make TSDIR LBDIR     TSDIR exists (cbas check made it: its hgt.tif gives the grid)
  filt_fixture.py cmp15 LBDIR TSDIR    mask, vel.mskd, 15parameters.txt
  filt_fixture.py cmp16 LBDIR TSDIR    cum_filt, vel.filt(.mskd), vintercept.filt, 16ref,
                                       16rms_cum_wrt_med, 16parameters.txt
Prints the figures; exits 1 when a comparison fails its tolerance.
Needs Debian's python3 with numpy, h5py and GDAL.
"""
import datetime as dt
import filecmp
import os
import sys

import h5py
import numpy as np
from osgeo import gdal

gdal.UseExceptions()
INDICES = ['coh_avg', 'n_unw', 'vstd', 'maxTlen', 'n_gap', 'stc', 'n_ifg_noloop', 'n_loop_err',
           'resid_rms', 'hgt']


def smooth(rng, L, W, scale):
    """Random field correlated over ~scale pixels (bilinear upsampling of a coarse grid)."""
    cl, cw = L // scale + 2, W // scale + 2
    c = rng.standard_normal((cl, cw))
    y = np.arange(L) / scale
    x = np.arange(W) / scale
    y0, x0 = np.floor(y).astype(int), np.floor(x).astype(int)
    fy, fx = (y - y0)[:, None], (x - x0)[None, :]
    return ((1 - fy) * (1 - fx) * c[y0][:, x0] + (1 - fy) * fx * c[y0][:, x0 + 1]
            + fy * (1 - fx) * c[y0 + 1][:, x0] + fy * fx * c[y0 + 1][:, x0 + 1])


def make(tsdir, lbdir):
    ref = gdal.Open(tsdir + '/results/hgt.tif')  # written by cbas check from the stack
    W, L = ref.RasterXSize, ref.RasterYSize
    gt, prj = ref.GetGeoTransform(), ref.GetProjection()
    par = dict(l.split()[:2] for l in open(tsdir + '/info/EQA.dem_par') if len(l.split()) >= 2)
    rng = np.random.default_rng(16)
    d0 = dt.date(2019, 1, 3)
    days = [12 * k for k in range(30) if not 20 <= k < 23]  # an acquisition gap
    dates = [(d0 + dt.timedelta(days=d)).strftime('%Y%m%d') for d in days]
    N = len(dates)
    t = np.float32(np.array(days) / 365.25)
    yy, xx = np.mgrid[0:L, 0:W]
    hgt = np.float32(150 + 900 * np.exp(-((xx - 0.6 * W) ** 2 + (yy - 0.4 * L) ** 2) / (2 * (0.3 * W) ** 2))
                     + 20 * rng.random((L, W)))
    vel_true = -25 * np.exp(-((xx - 0.3 * W) ** 2 + (yy - 0.6 * L) ** 2) / (2 * (0.15 * W) ** 2))
    cum = np.zeros((N, L, W), np.float32)
    for i in range(1, N):
        ramp = rng.normal(0, 3) * (xx / W - 0.5) + rng.normal(0, 3) * (yy / L - 0.5)
        cum[i] = (vel_true * t[i] + 4 * np.sin(2 * np.pi * t[i]) * (xx > W / 2) + 6 * smooth(rng, L, W, 6)
                  + ramp + rng.normal(0, 3) * hgt / 1000 + rng.normal(0, 1, (L, W)))
    dead = (yy < 4) & (xx < 6)                       # never inverted
    cum[:, dead] = np.nan
    ry, rx = L // 2, W // 3                          # the 12ref pixel: vel exactly 0
    n_gap = np.zeros((L, W), np.float32)
    gap = np.zeros((N - 1, L, W), np.int8)
    holes = (rng.random((L, W)) < 0.06) & ~dead     # pixels with a NaN stretch of epochs
    holes[ry, rx] = False
    for y, x in zip(*np.nonzero(holes)):
        a = int(rng.integers(2, N - 4))
        k = int(rng.integers(2, 4))
        cum[a:a + k, y, x] = np.nan
        gap[a - 1:a + k, y, x] = 1
        n_gap[y, x] = k + 1
    n_gap[dead] = np.nan
    cum -= cum[:, ry:ry + 1, rx:rx + 1]
    vel = np.full((L, W), np.nan, np.float32)
    icpt = np.full((L, W), np.nan, np.float32)
    G = np.stack((np.ones_like(t), t), axis=1)
    for y in range(L):
        for x in range(W):
            c = cum[:, y, x]
            m = ~np.isnan(c)
            if m.sum() >= 2:
                icpt[y, x], vel[y, x] = np.linalg.lstsq(G[m], c[m], rcond=None)[0]
    vel[ry, rx] = 0.0
    ix = {
        'coh_avg': np.float32(0.03 + 0.5 * rng.random((L, W))),
        'n_unw': np.float32(rng.integers(30, 90, (L, W))),
        'vstd': np.float32(rng.gamma(2, 12, (L, W))),
        'maxTlen': np.float32(np.where(rng.random((L, W)) < 0.03, 0.5, t[-1])),
        'n_gap': n_gap,
        'stc': np.float32(rng.gamma(3, 1.2, (L, W))),
        'n_ifg_noloop': np.float32(rng.integers(0, 60, (L, W))),
        'n_loop_err': np.float32(rng.poisson(1.5, (L, W))),
        'resid_rms': np.float32(rng.gamma(4, 0.35, (L, W))),
        'hgt': hgt,
    }
    ix['stc'][rng.random((L, W)) < 0.02] = np.nan    # isolated pixels
    for k in ix:
        if k != 'hgt':
            ix[k][dead] = np.nan
    hgt[0, 0] = np.nan
    params = ('range_samples:  %d\nazimuth_lines:  %d\nwavelength:     0.055465764662349676\n'
              'n_im_all:       %d\nn_im:           %d\nn_ifg_all:      90\nn_ifg:          88\n'
              'n_ifg_bad:      2\nn_unw_thre:     %d\nref_area:       %d:%d/%d:%d\n'
              'memory_size:    8000 MB\nn_patch:        1\ninv_alg:        LS\ngamma:          0.0001\n'
              'pixel_spacing_r: 310.25 m\npixel_spacing_a: 402.50 m\n'
              % (W, L, N + 2, N, N, rx, rx + 1, ry, ry + 1))

    def tif(name, arr, descs=None):
        arr = np.asarray(arr, np.float32)
        arr = arr[None] if arr.ndim == 2 else arr
        d = gdal.GetDriverByName('GTiff').Create(tsdir + '/results/' + name + '.tif', W, L, arr.shape[0],
                                                 gdal.GDT_Float32, options=['COMPRESS=DEFLATE'])
        d.SetGeoTransform(gt)
        d.SetProjection(prj)
        for b in range(arr.shape[0]):
            band = d.GetRasterBand(b + 1)
            band.WriteArray(arr[b])
            band.SetNoDataValue(float('nan'))
            if descs:
                band.SetDescription(descs[b])
        d = None

    for sub in ('results', 'info'):
        os.makedirs(lbdir + '/' + sub, exist_ok=True)
    for name, arr in list(ix.items()) + [('vel', vel), ('vintercept', icpt)]:
        tif(name, arr)
        np.asarray(arr, np.float32).tofile(lbdir + '/results/' + name)
    tif('cum', cum, dates)
    for d in (tsdir, lbdir):
        open(d + '/info/13parameters.txt', 'w').write(params)
    with h5py.File(lbdir + '/cum.h5', 'w') as h:
        h.create_dataset('imdates', data=np.int32([int(d) for d in dates]))
        h.create_dataset('cum', data=cum)
        h.create_dataset('gap', data=gap)
        h.create_dataset('vel', data=vel)
        h.create_dataset('vintercept', data=icpt)
        for k in ('corner_lat', 'corner_lon', 'post_lat', 'post_lon'):
            h.create_dataset(k, data=np.float64(par[k + ':']))
        h.create_dataset('refarea', data='%d:%d/%d:%d' % (rx, rx + 1, ry, ry + 1))
    print('fixture: %dx%d, %d epochs' % (W, L, N))


def flat(lb, name, shape):
    return np.fromfile(lb + '/results/' + name, np.float32).reshape(shape)


def tifr(ts, name):
    return gdal.Open(ts + '/results/' + name + '.tif').ReadAsArray()


def close(name, a, b, tol):
    """Prints the comparison; returns 0 if the NaN patterns agree and max |a-b| <= tol."""
    nan_same = np.array_equal(np.isnan(a), np.isnan(b))
    both = ~np.isnan(a) & ~np.isnan(b)
    d = np.abs(a.astype(np.float64) - b)[both]
    mx = d.max() if d.size else 0.0
    rms = np.sqrt(np.mean(d ** 2)) if d.size else 0.0
    print('%-22s NaN pattern %s, max |diff| %.3g, rms %.3g over %d values'
          % (name, 'same' if nan_same else 'DIFFERENT', mx, rms, both.sum()))
    return 0 if nan_same and mx <= tol else 1


def same_text(lb, ts, path):
    same = filecmp.cmp(lb + '/' + path, ts + '/' + path, shallow=False)
    print('%-22s %s' % (path, 'identical' if same else 'DIFFERENT'))
    if not same:
        os.system("diff '%s/%s' '%s/%s' | head -20" % (lb, path, ts, path))
    return 0 if same else 1


def cmp15(lb, ts):
    m2 = tifr(ts, 'mask')
    m1 = flat(lb, 'mask', m2.shape)
    agree = ((m1 == m2) | (np.isnan(m1) & np.isnan(m2))).mean()
    print('mask                   agree on %.4f%% of %d pixels (%d kept)' % (100 * agree, m1.size, np.nansum(m1)))
    bad = 0 if agree >= 0.99999 else 1
    v2 = tifr(ts, 'vel.mskd')
    v1 = flat(lb, 'vel.mskd', v2.shape)
    bits = np.array_equal(v1.view(np.uint32), v2.view(np.uint32))
    print('vel.mskd               %s' % ('bit-identical' if bits else 'DIFFERENT'))
    bad |= 0 if bits else 1
    bad |= same_text(lb, ts, 'info/15parameters.txt')
    return bad


def cmp16(lb, ts):
    bad = 0
    c2 = tifr(ts, 'cum_filt')
    with h5py.File(lb + '/cum_filt.h5', 'r') as h:
        c1 = h['cum'][()]
    bad |= close('cum_filt (mm)', c1, c2, 1e-4)
    for n in ('vel.filt', 'vintercept.filt', 'vel.filt.mskd', 'vintercept.filt.mskd'):
        if os.path.exists(lb + '/results/' + n):
            bad |= close(n, flat(lb, n, c2.shape[1:]), tifr(ts, n), 1e-4)
    r2 = gdal.Open(ts + '/info/16rms_cum_wrt_med.tif').ReadAsArray()
    r1 = np.fromfile(lb + '/info/16rms_cum_wrt_med', np.float32).reshape(r2.shape)
    bad |= close('16rms_cum_wrt_med', r1, r2, 1e-4)
    bad |= same_text(lb, ts, 'info/16ref.txt')
    bad |= same_text(lb, ts, 'info/16parameters.txt')
    return bad


def main():
    if sys.argv[1] == 'make':
        make(sys.argv[2], sys.argv[3])
        return 0
    if sys.argv[1] == 'cmp15':
        return cmp15(sys.argv[2], sys.argv[3])
    if sys.argv[1] == 'cmp16':
        return cmp16(sys.argv[2], sys.argv[3])
    print(__doc__)
    return 2


if __name__ == '__main__':
    sys.exit(main())
