#!/usr/bin/env python3
"""Independent reference for tests/unit/test_tsfilt.c: LiCSBAS step 16's filter arithmetic
done with NumPy and astropy themselves (the libraries LiCSBAS16_filt_ts.py v1.5.1 calls), on a
small cube written by the test.

usage: tsfilt_ref.py kernel SX SY OUT          -> astropy Gaussian2DKernel(SX, SY).array, float64
       tsfilt_ref.py conv DIR                  -> DIR/conv.f64: convolve_fft of DIR/img.f32
       tsfilt_ref.py filt DIR                  -> DIR/hp.f32, DIR/cumf.f32, DIR/rms.f32,
                                                  DIR/vel.f32, DIR/icpt.f32, DIR/med.f32
       tsfilt_ref.py step16 DIR                -> the whole of LiCSBAS 16's numerics (deramp,
                                                  filter, 16ref, velocity): DIR/ref16.txt,
                                                  DIR/cumf16.f32, DIR/vel16.f32, DIR/icpt16.f32,
                                                  DIR/rms16.f32
DIR/params.txt: "n_epoch length width sx sy filtwidth_yr"; DIR/t.f32 (n_epoch), DIR/cum.f32
(n_epoch x length x width), DIR/mask.f32 (length x width, 1 or NaN; step16: 1/0/NaN as
results/mask), DIR/img.f32 (conv); step16 also DIR/ngap.f32, DIR/hgt.f32 and DIR/opts.txt
("deg hgt_linear hgt_min hgt_max range ex_range nomask", '-' for none).
All raw little-endian. Writes what LiCSBAS computes, step by step, with its dtypes.
"""
import sys
import warnings
import numpy as np
from astropy.convolution import Gaussian2DKernel, convolve_fft


def rd(path, shape):
    return np.fromfile(path, dtype=np.float32).reshape(shape)


def lowpass(img, sx, sy):
    kernel = Gaussian2DKernel(sx, sy)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', RuntimeWarning)
        out = convolve_fft(img, kernel, fill_value=np.nan, allow_huge=True)
    out[out == 0] = np.nan
    return out


def highpass(cum, dt_cum, i, tau):
    """Temporal high-pass of epoch i as LiCSBAS16 filter_wrapper, float32 throughout."""
    n_im, length, width = cum.shape
    if tau == 0:
        return cum[i]
    tdsq = (dt_cum[i] - dt_cum) ** 2
    ixs = tdsq < tau * 8
    wf = np.tile(np.exp(-tdsq[ixs] / 2 / tau ** 2)[:, None, None], (1, length, width))
    wf = wf * (~np.isnan(cum[ixs, :, :]))
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', RuntimeWarning)
        wf = wf / np.sum(wf, axis=0)
    return cum[i] - np.nansum(cum[ixs, :, :] * wf, axis=0)


def velocity(cum_filt, dt_cum):
    """Per-pixel lstsq of c + v t over the non-NaN epochs of pixels whose epoch 0 is valid."""
    n_im, length, width = cum_filt.shape
    G = np.stack((np.ones_like(dt_cum), dt_cum), axis=1)
    vel = np.full((length, width), np.nan, dtype=np.float32)
    icpt = np.full((length, width), np.nan, dtype=np.float32)
    for y in range(length):
        for x in range(width):
            c = cum_filt[:, y, x]
            if np.isnan(c[0]):
                continue
            m = ~np.isnan(c)
            sol = np.linalg.lstsq(G[m], c[m], rcond=None)[0]
            icpt[y, x], vel[y, x] = sol[0], sol[1]
    return vel, icpt


def fit2dh(A, deg, hgt, hgt_min, hgt_max):
    """LiCSBAS_tools_lib.fit2dh semantics: int32 design matrix (hgt clipped and truncated) for
    the estimation, unclipped float hgt for the evaluation."""
    length, width = A.shape
    if not deg:
        G = np.ones((length * width))
    else:
        Xg, Yg = np.meshgrid(np.arange(width), np.arange(length))
        X, Y = Xg.ravel(), Yg.ravel()
        cols = {'1': (X, Y), 'bl': (X, Y, X * Y), '2': (X, Y, X * Y, X ** 2, Y ** 2)}[deg]
        G = np.hstack([np.ones((length * width, 1)), np.stack(cols).T])
    if len(hgt) > 0:
        h = hgt.copy()
        h[np.isnan(h)] = 0
        h[h < hgt_min] = 0
        h[h > hgt_max] = 0
        G2 = np.vstack((G.T, hgt.ravel())).T
        G = np.vstack((G.T, h.ravel())).T
    else:
        G2 = G
    G = G.astype(np.int32)
    nan = np.isnan(A.ravel())
    m = np.linalg.lstsq(G[~nan, :], A.ravel()[~nan], rcond=None)[0]
    return (np.matmul(G2, m)).reshape((length, width)).astype(np.float32)


def step16(d, n_im, length, width, sx, sy, tau):
    o = open(d + '/opts.txt').read().split()
    deg = '' if o[0] == '-' else o[0]
    hgt_linear, hgt_min, hgt_max = int(o[1]), int(o[2]), int(o[3])
    def read_range(r):  # LiCSBAS_tools_lib.read_range: x2/y2 = 0 means the full width/length
        if r == '-':
            return None
        x1, x2, y1, y2 = [int(v) for v in r.replace('/', ':').split(':')]
        return [x1, x2 if x2 else width, y1, y2 if y2 else length]
    rng = read_range(o[4])
    exr = read_range(o[5])
    nomask = int(o[6])
    dt_cum = np.fromfile(d + '/t.f32', dtype=np.float32)
    cum_org = rd(d + '/cum.f32', (n_im, length, width))
    if nomask:
        mask = np.ones((length, width), dtype=np.float32)
        mask[np.isnan(cum_org[0])] = np.nan
    else:
        mask = rd(d + '/mask.f32', (length, width)).copy()
        mask[mask == 0] = np.nan
    mask2 = np.ones((length, width), dtype=np.float32)
    if rng:
        mask2 = mask2 * np.nan
        mask2[rng[2]:rng[3], rng[0]:rng[1]] = 1
    if exr:
        mask2[exr[2]:exr[3], exr[0]:exr[1]] = np.nan
    hgt = []
    if hgt_linear:
        hgt = rd(d + '/hgt.f32', (length, width)).copy()
        hgt[np.isnan(hgt)] = 0
    if deg or hgt_linear:
        cum = np.zeros(cum_org.shape, dtype=np.float32)
        for i in range(n_im):
            fit = fit2dh(cum_org[i] * mask * mask2, deg, hgt, hgt_min, hgt_max)
            cum[i] = cum_org[i] - fit
    else:
        cum = cum_org
    cum_filt = np.zeros((n_im, length, width), dtype=np.float32)
    for i in range(n_im):
        hpt = highpass(cum, dt_cum, i, tau)
        if i == 0:
            hpt = hpt + sys.float_info.epsilon
        cum_filt[i] = np.float32(cum[i] - lowpass(hpt * mask, sx, sy))
    sumsq = np.zeros((length, width), dtype=np.float32)
    for i in range(n_im):
        sumsq = sumsq + (cum_filt[i] - np.nanmedian(cum_filt[i])) ** 2
    rms = np.sqrt(sumsq / n_im) * mask
    n_gap = rd(d + '/ngap.f32', (length, width))
    mng = np.float32(n_gap == np.nanmin(n_gap))
    mng[mng == 0] = np.nan
    rms = rms * mng
    ys, xs = np.where(rms == np.nanmin(rms))
    ry, rx = ys[0], xs[0]
    for i in range(n_im):
        cum_filt[i] = cum_filt[i] - cum[i, ry, rx]
    vel, icpt = velocity(cum_filt, dt_cum)
    open(d + '/ref16.txt', 'w').write('{}:{}/{}:{}\n'.format(rx, rx + 1, ry, ry + 1))
    cum_filt.tofile(d + '/cumf16.f32')
    vel.tofile(d + '/vel16.f32')
    icpt.tofile(d + '/icpt16.f32')
    rms.astype(np.float32).tofile(d + '/rms16.f32')
    return 0


def main():
    mode = sys.argv[1]
    if mode == 'kernel':
        k = Gaussian2DKernel(float(sys.argv[2]), float(sys.argv[3]))
        np.asarray(k.array, dtype=np.float64).tofile(sys.argv[4])
        return 0
    d = sys.argv[2]
    p = open(d + '/params.txt').read().split()
    n_im, length, width = int(p[0]), int(p[1]), int(p[2])
    sx, sy, tau = float(p[3]), float(p[4]), float(p[5])
    if mode == 'conv':
        img = rd(d + '/img.f32', (length, width))
        lowpass(img, sx, sy).astype(np.float64).tofile(d + '/conv.f64')
        return 0
    if mode == 'step16':
        return step16(d, n_im, length, width, sx, sy, tau)
    dt_cum = np.fromfile(d + '/t.f32', dtype=np.float32)
    cum = rd(d + '/cum.f32', (n_im, length, width))
    mask = rd(d + '/mask.f32', (length, width))
    cum_filt = np.zeros((n_im, length, width), dtype=np.float32)
    hps = np.zeros((n_im, length, width), dtype=np.float32)
    for i in range(n_im):
        hpt = highpass(cum, dt_cum, i, tau)
        if i == 0:
            hpt = hpt + sys.float_info.epsilon
        hps[i] = hpt
        s = lowpass(hpt * mask, sx, sy)
        cum_filt[i] = np.float32(cum[i, :, :] - s)
    hps.tofile(d + '/hp.f32')
    cum_filt.tofile(d + '/cumf.f32')
    # 16ref criterion (no n_gap mask here)
    sumsq = np.zeros((length, width), dtype=np.float32)
    meds = np.zeros(n_im, dtype=np.float32)
    for i in range(n_im):
        meds[i] = np.nanmedian(cum_filt[i])
        sumsq = sumsq + (cum_filt[i] - np.nanmedian(cum_filt[i])) ** 2
    rms = np.sqrt(sumsq / n_im) * mask
    rms.astype(np.float32).tofile(d + '/rms.f32')
    meds.tofile(d + '/med.f32')
    # velocity of the (unreferenced) filtered series, as LiCSBAS: lstsq per pixel
    vel, icpt = velocity(cum_filt, dt_cum)
    vel.tofile(d + '/vel.f32')
    icpt.tofile(d + '/icpt.f32')
    return 0


if __name__ == '__main__':
    sys.exit(main())
