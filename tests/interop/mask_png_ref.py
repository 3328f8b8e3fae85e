#!/usr/bin/env python3
"""mask_png_ref.py — independent check of cbas's step-15 figures (mask_ts.png,
mask_ts_masked.png) against LiCSBAS15_mask_ts.py v1.8.1's plotting semantics, written here with
NumPy and matplotlib's colour maps (not cbas code).

Usage: mask_png_ref.py DIR LAYOUT.txt MASK_TS.png MASK_TS_MASKED.png
  DIR/<name>.f32   float32 rasters, row-major: vel and the nine noise indices
  LAYOUT.txt       "width length enlarge" then lines "fig slot map_x map_y" (where cbas put
                   each map; the layout is cbas's choice, the content is checked here)
The thresholds are LiCSBAS's C-band defaults with n_im = 20 (n_unw threshold int(20*1.5)).
For every source pixel of every panel the expected colour is computed as LiCSBAS would show it:
the mask from the thresholds (vel NaN or 0 not evaluated, 0 = reference, kept), stc NaN ->
thre+1, indices except coh_avg/n_unw NaN where vel is NaN or 0, masked figure = data where
mask == 1; colour ranges (vel: nanpercentile of vel.mskd 1/99; lt indices 0.8*thre..nanmax;
others 0..1.2*thre; mask 0..1); colour = matplotlib's cmap at int(norm*256) of 256 levels.
cbas's maps approximate roma/viridis within 6/255 per channel: tolerance 8. NaN must be
cbas's no-data grey (160,160,160) exactly. Exit 0 and "ok", or 1 with the mismatches.
"""
import sys

import numpy as np
from matplotlib import colormaps
from PIL import Image

# roma reversed, 17 control points of Crameri's roma (v7) at k/16 — the published map is not
# part of matplotlib; LinearSegmentedColormap over them is the reference for the velocity panels
ROMA17 = [(126, 23, 0), (143, 60, 12), (157, 88, 24), (169, 114, 35), (182, 140, 50), (196, 170, 74),
          (208, 202, 114), (209, 226, 161), (192, 234, 195), (162, 229, 212), (121, 210, 215),
          (83, 184, 209), (57, 157, 199), (43, 132, 188), (34, 106, 177), (25, 79, 165), (3, 49, 152)]


def roma_r(t):
    u = 1.0 - t
    p = u * 16
    k = min(int(np.floor(p)), 15)
    f = p - k
    a, b = np.array(ROMA17[k], float), np.array(ROMA17[k + 1], float)
    return a + (b - a) * f


def lut(cmap):
    """The 256 colours of a map, level k at t = k/255 (matplotlib: its own 256-entry table)."""
    if cmap == "vel":
        return np.array([roma_r(k / 255.0) for k in range(256)])
    return np.array(colormaps[cmap](np.arange(256) / 255.0))[:, :3] * 255


def colours(cmap, a, vmin, vmax):
    """Expected colour of every pixel of a (NaN rows for NaN values): level int(norm*256)."""
    with np.errstate(invalid='ignore'):
        level = np.floor((a.astype(float) - vmin) / (vmax - vmin) * 256)
    level = np.clip(np.nan_to_num(level, nan=0), 0, 255).astype(int)
    out = lut(cmap)[level]
    out[~np.isfinite(a)] = np.nan
    return out


def main():
    d, layout, png0, png1 = sys.argv[1:5]
    lines = open(layout).read().split("\n")
    W, L, u = (int(v) for v in lines[0].split())
    pos = {}
    for ln in lines[1:]:
        if ln.strip():
            f, s, x, y = (int(v) for v in ln.split())
            pos[(f, s)] = (x, y)
    rd = lambda n: np.fromfile("%s/%s.f32" % (d, n), dtype=np.float32).reshape(L, W)
    names = ['coh_avg', 'n_unw', 'vstd', 'maxTlen', 'n_gap', 'stc', 'n_ifg_noloop', 'n_loop_err', 'resid_rms']
    gt_lt = ['lt', 'lt', 'gt', 'lt', 'gt', 'gt', 'gt', 'gt', 'gt']
    thre = {'coh_avg': 0.05, 'n_unw': int(20 * 1.5), 'vstd': 100, 'maxTlen': 1, 'n_gap': 10, 'stc': 5,
            'n_ifg_noloop': 50, 'n_loop_err': 5, 'resid_rms': 2}
    vel = rd("vel")
    data = {n: rd(n) for n in names}
    data['stc'][np.isnan(data['stc'])] = thre['stc'] + 1
    bool_nan = np.isnan(vel)
    bool_nan[vel == 0] = True
    mask_pt = np.ones(int((~bool_nan).sum()), bool)
    for i, n in enumerate(names):
        x = data[n][~bool_nan]
        with np.errstate(invalid='ignore'):
            mask_pt &= (x >= thre[n]) if gt_lt[i] == 'lt' else (x <= thre[n])
    mask = np.full(vel.shape, np.nan, np.float32)
    mask[~bool_nan] = mask_pt
    mask[vel == 0] = 1
    vel_mskd = vel * mask
    vel_mskd[mask == 0] = np.nan
    vmin, vmax = np.nanpercentile(vel_mskd, 1), np.nanpercentile(vel_mskd, 99)
    mask_nan = mask.copy()
    mask_nan[mask == 0] = np.nan
    # panels per figure slot: (array, cmap, vmin, vmax)
    figs = [[(vel_mskd, "vel", vmin, vmax), (vel, "vel", vmin, vmax), (mask, "viridis", 0, 1)],
            [(vel, "vel", vmin, vmax), (vel_mskd, "vel", vmin, vmax), (mask, "viridis", 0, 1)]]
    for i, n in enumerate(names):
        a = data[n].copy()
        if n not in ('coh_avg', 'n_unw'):
            a[bool_nan] = np.nan
        if gt_lt[i] == 'lt':
            cm, lo, hi = "viridis", thre[n] * 0.8, np.nanmax(a)
        else:
            cm, lo, hi = "viridis_r", 0, thre[n] * 1.2
        figs[0].append((a, cm, lo, hi))
        figs[1].append((a * mask_nan, cm, lo, hi))
    bad = []
    n_checked = 0
    ys, xs = np.mgrid[0:L, 0:W]
    for f, png in enumerate((png0, png1)):
        im = np.asarray(Image.open(png).convert("RGB")).astype(float)
        for s in range(12):
            arr, cm, lo, hi = figs[f][s]
            x0, y0 = pos[(f, s)]
            got = im[y0 + ys * u + u // 2, x0 + xs * u + u // 2]
            want = colours(cm, arr, lo, hi)
            isnan = np.isnan(want[..., 0])
            ok = np.where(isnan, np.all(got == 160, axis=-1),
                          np.max(np.abs(got - np.nan_to_num(want)), axis=-1) <= 8)
            n_checked += ok.size
            for y, x in zip(*np.nonzero(~ok)):
                if len(bad) < 20:
                    bad.append("fig %d slot %d pixel (%d,%d) value %r: got %s want %s" %
                               (f, s, x, y, float(arr[y, x]), tuple(int(v) for v in got[y, x]),
                                "NaN grey" if isnan[y, x] else tuple(int(round(v)) for v in want[y, x])))
    if bad:
        print("\n".join(bad))
        sys.exit(1)
    print("ok %d pixels" % n_checked)


main()
