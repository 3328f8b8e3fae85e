# prep_gacos_ref.py — the reference for tests/interop/prep_gacos.sh, written from LiCSBAS's
# documented behaviour (digest §1–§4): step 02 (0 -> NaN, multilook, corner with the original
# half pixel), step 03 exactly as LiCSBAS03op_GACOS.py calls GDAL (an ESRI .hdr beside the
# .ztd, gdal.Warp to outputBounds = pixel-centre corners, cubicspline, srcNodata=0; ztd / U *
# 4pi/lambda; fillhole), step 05 (clip, 0 -> NaN). GDAL's real warper does the resampling.
# Usage: prep_gacos_ref.py GEOC GACOSDIR NLOOK X1:X2/Y1:Y2 OUTDIR FILLHOLE(0|1)
# Writes OUTDIR/<ifg>.unw (float32) for the interferograms that have both delays, and
# OUTDIR/ifgs.txt.
import sys, os, glob, warnings, numpy as np
from osgeo import gdal
gdal.UseExceptions()
geoc, gacos, nlook, clip, outdir, fill = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6] == '1'
os.makedirs(outdir + '/tmp', exist_ok=True)
def ml(a, n):      # step 02's multilook
    if n == 1: return a
    L, W = a.shape; Lm, Wm = L // n, W // n
    b = a[:Lm*n, :Wm*n].reshape(Lm, n, Wm, n)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        m = np.nanmean(b, axis=(1, 3))
    m[np.sum(~np.isnan(b), axis=(1, 3)) < 0.5*n*n] = np.nan
    return m
ifgs = sorted(d for d in os.listdir(geoc) if len(d) == 17 and d[8] == '_')
t = gdal.Open(f'{geoc}/{ifgs[0]}/{ifgs[0]}.geo.unw.tif')
lonwp, dlon, _, latnp, _, dlat = t.GetGeoTransform()
lonw, latn = lonwp + dlon/2, latnp + dlat/2             # step 02 corner (original half pixel)
W, L = t.RasterXSize // nlook, t.RasterYSize // nlook
dlon, dlat = dlon*nlook, dlat*nlook
lats, lone = latn + dlat*(L-1), lonw + dlon*(W-1)       # pixel centres given as bounds (quirk)
U = gdal.Open(glob.glob(geoc + '/*.geo.U.tif')[0]).ReadAsArray(); U[U == 0] = np.nan
U = ml(U, nlook); U[U == 0] = np.nan
m2r = 4*np.pi/(299792458/5.405e9)
def fillhole(z):
    length, width = z.shape
    z1 = np.zeros((length+2, width+2), dtype=np.float32); z1[1:length+1, 1:width+1] = z
    n1 = np.int16(z1 != 0)
    s = np.zeros_like(z); nn = np.zeros_like(z)
    for p in [[0,0],[0,1],[0,2],[1,0],[1,2],[2,0],[2,1],[2,2]]:
        s = s + z1[p[0]:length+p[0], p[1]:width+p[1]]
        nn = nn + n1[p[0]:length+p[0], p[1]:width+p[1]]
    nn[nn == 0] = 1
    s = s / nn
    z[z == 0] = s[z == 0]
    return z
sltd = {}
kw = dict(format='MEM', outputBounds=(lonw, lats, lone, latn), width=W, height=L, resampleAlg='cubicspline', srcNodata=0)
for d in sorted(set([i[:8] for i in ifgs] + [i[-8:] for i in ifgs])):
    if os.path.exists(f'{gacos}/{d}.sltd.geo.tif'):
        g = gdal.Warp('', f'{gacos}/{d}.sltd.geo.tif', **kw).ReadAsArray()
    elif os.path.exists(f'{gacos}/{d}.ztd.tif'):
        g = gdal.Warp('', f'{gacos}/{d}.ztd.tif', **kw).ReadAsArray() / U * m2r
    elif os.path.exists(f'{gacos}/{d}.ztd'):
        r = {l.split()[0]: l.split()[1] for l in open(f'{gacos}/{d}.ztd.rsc') if l.strip()}
        hdr = ['NROWS          {}'.format(int(r['FILE_LENGTH'])), 'NCOLS          {}'.format(int(r['WIDTH'])),
               'NBITS          32', 'PIXELTYPE      FLOAT', 'BYTEORDER      I', 'LAYOUT         BIL',
               'ULXMAP         {}'.format(float(r['X_FIRST'])), 'ULYMAP         {}'.format(float(r['Y_FIRST'])),
               'XDIM           {}'.format(float(r['X_STEP'])), 'YDIM           {}'.format(np.abs(float(r['Y_STEP'])))]
        open(f'{outdir}/tmp/{d}.hdr', 'w').write('\n'.join(hdr))
        if os.path.lexists(f'{outdir}/tmp/{d}.bil'): os.remove(f'{outdir}/tmp/{d}.bil')
        os.symlink(os.path.abspath(f'{gacos}/{d}.ztd'), f'{outdir}/tmp/{d}.bil')
        g = gdal.Warp('', f'{outdir}/tmp/{d}.bil', **kw).ReadAsArray() / U * m2r
    else:
        continue
    if np.all((g == 0) | np.isnan(g)): continue
    sltd[d] = fillhole(g) if fill else g
x1, x2, y1, y2 = [int(v) for v in clip.replace(':', ' ').replace('/', ' ').split()]
kept = []
for i in ifgs:
    if i[:8] not in sltd or i[-8:] not in sltd: continue
    u = gdal.Open(f'{geoc}/{i}/{i}.geo.unw.tif').ReadAsArray(); u[u == 0] = np.nan; u = ml(u, nlook)
    p, s = sltd[i[:8]].copy(), sltd[i[-8:]].copy(); p[p == 0] = np.nan; s[s == 0] = np.nan
    c = (u - (s - p))[y1:y2, x1:x2]; c[c == 0] = np.nan
    c.astype('<f4').tofile(f'{outdir}/{i}.unw'); kept.append(i)
open(outdir + '/ifgs.txt', 'w').write('\n'.join(kept) + '\n')
