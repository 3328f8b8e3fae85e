#!/bin/sh
# view.sh — `cbas view`, the browser viewer, answered by an independent HTTP client (Python's
# urllib) on the GDAL-written TSDIR of tests/interop/tools_fixture.py: the velocity raster it
# streams equals GDAL's read of the file, the series of /ts.json equals `cbas ts --csv` at the
# same pixel, the page needs nothing from the internet and its script parses (node --check),
# a pixel outside the grid is 400, an unknown page 404, another method 405, and the server
# stops after --max-requests; a TSDIR without a velocity map is a one-line error.
. tests/lib.sh
ROOT=$(pwd)
PY=/usr/bin/python3
cd "$T" || exit 1
$PY "$ROOT/tests/interop/tools_fixture.py" ts d > fx.log 2>&1 || { bad fixture "$(tail -n 3 fx.log)"; exit 1; }
cd d || exit 1

$CBAS view --ts TS --port 0 --max-requests 1 > o.out 2> o.err; r=$?
if [ "$r" -eq 2 ] && [ "$(wc -l < o.err)" -eq 1 ] && grep -q "has no velocity map" o.err; then ok view-no-vel
else bad view-no-vel "exit $r: $(head -c 300 o.err)"; fi
$CBAS vel --ts TS --out V --quiet > v.log 2>&1 || { bad vel "$(tail -n 3 v.log)"; exit 1; }
cp V.vel.tif TS/results/vel.filt.tif
$CBAS ts --ts TS --xy 12/13 --csv --out p.csv --quiet > t.log 2>&1 || { bad ts "$(tail -n 3 t.log)"; exit 1; }

$CBAS view --ts TS --port 0 --max-requests 7 > srv.out 2> srv.err &
pid=$!
i=0
while [ $i -lt 100 ] && ! grep -q 'http://127.0.0.1:[0-9]*/' srv.out; do sleep 0.1; i=$((i + 1)); done
port=$(sed -n 's|.*http://127.0.0.1:\([0-9]*\)/.*|\1|p' srv.out)
[ -n "$port" ] || { bad view-start "no address printed: $(cat srv.out srv.err | head -c 300)"; kill $pid; exit 1; }
ok view-start
$PY - "$port" > client.out 2>&1 <<'PYEOF'
import sys, json, urllib.request, urllib.error, re, numpy as np
from osgeo import gdal
base = 'http://127.0.0.1:%s/' % sys.argv[1]
def get(path, data=None):
    try:
        with urllib.request.urlopen(urllib.request.Request(base + path, data=data), timeout=20) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
res = {}
st, page = get('')
res['page'] = st == 200 and b'<canvas' in page and not re.search(rb'(https?:)?//[a-z]', page.replace(b'http://127', b''))
open('page.html', 'wb').write(page)
st, meta = get('meta.json'); m = json.loads(meta)
ds = gdal.Open('TS/results/vel.filt.tif'); v = ds.GetRasterBand(1).ReadAsArray().astype(np.float32)
res['meta'] = st == 200 and m['width'] == v.shape[1] and m['length'] == v.shape[0] and len(m['dates']) == 45 \
    and m['vel'].endswith('results/vel.filt.tif') and m['cum'].endswith('results/cum_filt.tif')
st, raw = get('vel.f32'); w = np.frombuffer(raw, '<f4').reshape(v.shape) if len(raw) == v.size * 4 else None
res['vel-f32-equals-gdal'] = st == 200 and w is not None and np.array_equal(w, v, equal_nan=True)
st, ts = get('ts.json?x=12&y=13'); t = json.loads(ts)
csv = [l.split(',')[2] for l in open('p.csv').read().split('\n')[1:] if l]
want = [float(c) if c else None for c in csv]
res['ts-equals-cbas-ts'] = st == 200 and t['x'] == 12 and t['y'] == 13 and len(t['mm']) == len(want) and \
    all((a is None and b is None) or (a is not None and b is not None and abs(a - b) <= 1e-6 * (1 + abs(b)))
        for a, b in zip(t['mm'], want)) and abs(t['vel'] - float(v[13, 12])) < 1e-5
res['bad-pixel-400'] = get('ts.json?x=999&y=1')[0] == 400
res['unknown-404'] = get('nope')[0] == 404
res['post-405'] = get('', data=b'x=1')[0] == 405
for k, ok in res.items():
    print(('ok - view-' if ok else 'FAIL - view-') + k + ('' if ok else ': unexpected answer'))
PYEOF
cat client.out
wait $pid; r=$?
if [ "$r" -eq 0 ]; then ok view-stops-after-max-requests; else bad view-stops-after-max-requests "exit $r: $(head -c 300 srv.err)"; fi
# the page's script parses
command -v node > /dev/null || { bad view-js "node missing (the bootstrap installs nodejs)"; exit 1; }
sed -n '/<script>/,/<\/script>/p' page.html | sed '1d;$d' > page.js
if node --check page.js > js.err 2>&1; then ok view-js-syntax; else bad view-js-syntax "$(head -c 300 js.err)"; fi
