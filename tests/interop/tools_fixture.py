#!/usr/bin/python3
"""tools_fixture.py -- test data for the LiCSBAS tool comparisons (tests/interop/tools_licsbas.sh,
tests/cli/tools_cli.sh): the same synthetic truth written as a cbas TSDIR (GeoTIFFs, info files)
and as LiCSBAS's cum.h5 / cum_filt.h5 and flat files, plus LOS/E/N GeoTIFFs of several viewing
geometries, and comparisons of the outputs.

  tools_fixture.py ts DIR            DIR/TS (cbas) + DIR/cum.h5, DIR/cum_filt.h5, DIR/mask (LiCSBAS)
  tools_fixture.py los DIR N         DIR/{A,D,A2}{,_E,_N}.tif and DIR/list.txt (N geometries)
  tools_fixture.py same A B [TOL]    A, B: GeoTIFF or flat float32 (size from the other); prints
                                     'identical', or the largest difference and fails above TOL
  tools_fixture.py dt A B SHIFT      day-of-year rasters equal modulo 365.25 after adding SHIFT
                                     days to A, within 1e-3 day
Needs Debian's python3 with numpy, h5py and GDAL.
"""
import datetime as dt
import os
import sys

import numpy as np
from osgeo import gdal, osr

gdal.UseExceptions()

W, L = 30, 24
LAT1, LON1, DLAT, DLON = 35.0, 135.0, -0.001, 0.001


def dates():
    d0 = dt.date(2019, 3, 7)
    out, k = [], 0
    while len(out) < 45:
        day = d0 + dt.timedelta(days=12 * k)
        k += 1
        if dt.date(2019, 9, 1) <= day < dt.date(2019, 11, 15):  # an acquisition gap
            continue
        out.append(day.strftime('%Y%m%d'))
    return out


def tif(path, arrs, descs=None, dtype=gdal.GDT_Float32, nodata=np.nan):
    arrs = np.asarray(arrs)
    if arrs.ndim == 2:
        arrs = arrs[None]
    d = gdal.GetDriverByName('GTiff').Create(path, arrs.shape[2], arrs.shape[1], arrs.shape[0], dtype,
                                             options=['COMPRESS=DEFLATE'])
    d.SetGeoTransform((LON1 - DLON / 2, DLON, 0, LAT1 - DLAT / 2, 0, DLAT))
    s = osr.SpatialReference()
    s.ImportFromEPSG(4326)
    d.SetProjection(s.ExportToWkt())
    for i in range(arrs.shape[0]):
        b = d.GetRasterBand(i + 1)
        b.WriteArray(arrs[i])
        if descs:
            b.SetDescription(descs[i])
        if nodata is not None:
            b.SetNoDataValue(nodata)
    d = None


def make_ts(out):
    import h5py
    ds = dates()
    n = len(ds)
    o = np.array([dt.datetime.strptime(d, '%Y%m%d').toordinal() for d in ds])
    t = (o - o[0]) / 365.25
    rng = np.random.default_rng(11)
    yy, xx = np.mgrid[0:L, 0:W]
    vel = (xx - 12) * 0.6 - (yy - 9) * 0.3
    amp = 2 + 0.2 * xx
    ph = 0.1 + 0.02 * yy
    cum = (vel[None] * t[:, None, None] + amp[None] * np.sin(2 * np.pi * (t[:, None, None] - ph[None]))
           + rng.standard_normal((n, L, W)) * 1.5).astype(np.float32)
    cum -= cum[0]
    cum[rng.random(cum.shape) < 0.03] = np.nan       # scattered missing epochs
    cum[0] = np.where(np.isnan(cum[0]), 0, cum[0])   # first epoch valid (as step 13 leaves it)
    cum[:, 5, 7] = np.nan                            # a pixel with no data
    cum[:, 20, 3] = np.nan                           # two valid epochs only: bootstrap draws
    cum[[0, 30], 20, 3] = [0.0, 4.0]                 # without both are singular
    cum[:, 11:14, 2:5] = np.nan                      # a hole
    filt = (cum * 0.9 + 0.1).astype(np.float32)
    mask = np.ones((L, W), np.float32)
    mask[0:4, 20:26] = 0
    os.makedirs(f'{out}/TS/results', exist_ok=True)
    os.makedirs(f'{out}/TS/info', exist_ok=True)
    tif(f'{out}/TS/results/cum.tif', cum, ds)
    tif(f'{out}/TS/results/cum_filt.tif', filt, ds)
    tif(f'{out}/TS/results/mask.tif', mask)
    tif(f'{out}/TS/results/n_gap.tif', np.zeros((L, W), np.float32))
    with open(f'{out}/TS/info/EQA.dem_par', 'w') as f:
        f.write(f'width: {W}\nnlines: {L}\ncorner_lat:     {LAT1}  decimal degrees\n'
                f'corner_lon:     {LON1}  decimal degrees\npost_lat: {DLAT} decimal degrees\n'
                f'post_lon: {DLON} decimal degrees\n')
    with open(f'{out}/TS/info/13ref.txt', 'w') as f:
        f.write('15:16/8:9\n')
    with open(f'{out}/TS/info/16ref.txt', 'w') as f:
        f.write('16:17/9:10\n')
    with open(f'{out}/TS/info/16parameters.txt', 'w') as f:
        f.write('filtwidth_km:  2\nfiltwidth_xpixels:  20.0\nfiltwidth_ypixels:  20.0\nfiltwidth_yr:  0.099\n'
                'filtwidth_day:  36\ndeg_ramp:  1\nhgt_linear:  0\nhgt_min: 200\nhgt_max: 10000\nrange: []\n'
                'ex_range: []\n')
    mask.tofile(f'{out}/mask')
    for name, c, ref in (('cum.h5', cum, '15:16/8:9'), ('cum_filt.h5', filt, '16:17/9:10')):
        with h5py.File(f'{out}/{name}', 'w') as f:
            f.create_dataset('imdates', data=np.array([int(d) for d in ds], np.int32))
            f.create_dataset('cum', data=c)
            f.create_dataset('gap', data=np.zeros((n - 1, L, W), np.int8))
            f.create_dataset('refarea', data=ref)
            for k, v in (('corner_lat', LAT1), ('corner_lon', LON1), ('post_lat', DLAT), ('post_lon', DLON)):
                f.create_dataset(k, data=v)
            if name == 'cum_filt.h5':
                f.create_dataset('deramp_flag', data='1')
                f.create_dataset('filtwidth_km', data=2)
                f.create_dataset('filtwidth_yr', data=0.099)
                f.create_dataset('hgt_linear_flag', data=0)


def geo_tif(path, a, x0, y0, dx, dy):
    d = gdal.GetDriverByName('GTiff').Create(path, a.shape[1], a.shape[0], 1, gdal.GDT_Float32)
    d.SetGeoTransform((x0, dx, 0, y0, 0, dy))
    s = osr.SpatialReference()
    s.ImportFromEPSG(4326)
    d.SetProjection(s.ExportToWkt())
    d.GetRasterBand(1).WriteArray(a.astype(np.float32))
    d.GetRasterBand(1).SetNoDataValue(np.nan)
    d = None


def make_los(out, n):
    def ve(lon, lat): return 3.0 + 10 * (lon - 135.0) - 5 * (lat - 35.0)
    def vu(lon, lat): return -8.0 + 20 * np.sin((lon - 135) * 30) * np.cos((lat - 35) * 20)
    geoms = [('A', 135.0 - 0.0005, 35.1 + 0.0005, 0.001, -0.001, 180, 160, -0.62, -0.11),
             ('D', 135.0137, 35.0861, 0.0015, -0.0015, 110, 100, 0.58, -0.12),
             ('A2', 134.99, 35.12, 0.002, -0.002, 80, 70, -0.55, -0.10)]
    rng = np.random.default_rng(5)
    os.makedirs(out, exist_ok=True)
    lines = []
    for (name, x0, y0, dx, dy, w, h, e0, n0) in geoms[:n]:
        lon = x0 + dx * (np.arange(w) + 0.5)
        lat = y0 + dy * (np.arange(h) + 0.5)
        lo, la = np.meshgrid(lon, lat)
        e = (e0 + 0.05 * (lo - lon.mean())).astype(np.float32)
        nn = (n0 + 0.02 * (la - lat.mean())).astype(np.float32)
        u = np.sqrt(1 - nn.astype(np.float64) ** 2 - e.astype(np.float64) ** 2)
        los = (e * ve(lo, la) + u * vu(lo, la)).astype(np.float32)
        los[rng.random(los.shape) < 0.02] = np.nan
        los[10:14, 20:30] = np.nan
        e[0:3, :] = np.nan
        geo_tif(f'{out}/{name}.tif', los, x0, y0, dx, dy)
        geo_tif(f'{out}/{name}_E.tif', e, x0, y0, dx, dy)
        geo_tif(f'{out}/{name}_N.tif', nn, x0, y0, dx, dy)
        lines.append(f'{out}/{name}.tif {out}/{name}_E.tif {out}/{name}_N.tif')
    with open(f'{out}/list.txt', 'w') as f:
        f.write('\n'.join(lines) + '\n')


def read(path, like=None):
    try:
        return gdal.Open(path).ReadAsArray().astype(np.float64)
    except Exception:
        a = np.fromfile(path, np.float32).astype(np.float64)
        return a.reshape(like.shape) if like is not None else a


def main():
    cmd = sys.argv[1]
    if cmd == 'ts':
        make_ts(sys.argv[2])
    elif cmd == 'los':
        make_los(sys.argv[2], int(sys.argv[3]))
    elif cmd in ('same', 'dt'):
        a_path, b_path = sys.argv[2], sys.argv[3]
        try:
            b = gdal.Open(b_path).ReadAsArray().astype(np.float64)
        except Exception:
            b = None
        a = read(a_path, b)
        if b is None:
            b = read(b_path, a)
        if a.shape != b.shape:
            print(f'shapes differ: {a.shape} {b.shape}')
            return 1
        if np.any(np.isnan(a) != np.isnan(b)):
            print(f'NaN patterns differ at {int(np.sum(np.isnan(a) != np.isnan(b)))} pixels')
            return 1
        if cmd == 'dt':
            d = np.abs(np.mod(a + float(sys.argv[4]) - b + 182.625, 365.25) - 182.625)
            m = np.nanmax(d) if np.any(~np.isnan(d)) else 0.0
            print(f'max |dt difference| {m:.3g} day')
            return 0 if m < 1e-3 else 1
        if np.array_equal(a, b, equal_nan=True):
            print('identical')
            return 0
        d = np.nanmax(np.abs(a - b))
        print(f'max |difference| {d:.6g} at {np.unravel_index(np.nanargmax(np.abs(a - b)), a.shape)}')
        return 0 if len(sys.argv) > 4 and d <= float(sys.argv[4]) else 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
