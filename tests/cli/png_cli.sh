# `cbas png`: GeoTIFF band to a quicklook PNG. Inputs are made by GDAL (gdal_translate from an
# ASCII grid, gdal_create), outputs decoded by Pillow (tests/interop/png_decode.py) and checked
# by pixel counts of the exact colour-map colours, plus pngcheck / gdalinfo when present.
. tests/lib.sh
PY=; for p in python3 /usr/bin/python3; do $p -c 'import PIL' 2>/dev/null && { PY=$p; break; }; done
[ -n "$PY" ] || { bad pillow "no python3 with Pillow (apt-get install python3-pil)"; exit 0; }

# 324 x 216 city-AOI field: columns 0-107 = -20, 108-215 = nodata, 216-323 = +20 (rows 0-199);
# rows 200-215 = 0. nodata is -9999.
awk 'BEGIN { print "ncols 324"; print "nrows 216"; print "xllcorner 135.7"; print "yllcorner 34.6";
  print "cellsize 0.001"; print "NODATA_value -9999";
  for (y = 0; y < 216; y++) { s = "";
    for (x = 0; x < 324; x++) { v = (y >= 200) ? 0 : (x < 108) ? -20 : (x < 216) ? -9999 : 20; s = s v " " }
    print s } }' > "$T/aoi.asc"
gdal_translate -q -of GTiff -ot Float32 "$T/aoi.asc" "$T/aoi.tif" || { bad make-input "gdal_translate failed"; exit 0; }

# count_colour PNG R G B: number of pixels of exactly that colour
count_colour() { "$PY" - "$1" "$2" "$3" "$4" <<'PYEOF'
import sys
from PIL import Image
im = Image.open(sys.argv[1]).convert("RGB")
want = tuple(int(v) for v in sys.argv[2:5])
print(sum(1 for p in im.getdata() if p == want))
PYEOF
}
# in_range N LO HI
in_range() { [ "$1" -ge "$2" ] && [ "$1" -le "$3" ]; }

expect explicit-range $CBAS png "$T/aoi.tif" --out "$T/aoi.png" --vmin -20 --vmax 20 --units mm/yr --title "Velocity"
if "$PY" tests/interop/png_decode.py "$T/aoi.png" "$T/aoi.raw"; then ok decodes; else bad decodes "Pillow/CRC check failed"; fi
# map pixels are shown 2x2: 108*200*4 = 86400 of each; the colour bar adds a few rows of its
# end colours (<= 3 rows x 24 px), the no-data swatch 24 x 14 pixels of grey
n=$(count_colour "$T/aoi.png" 3 49 152)
if in_range "$n" 86400 86472; then ok vmin-colour; else bad vmin-colour "$n pixels of the -20 colour (3,49,152)"; fi
n=$(count_colour "$T/aoi.png" 126 23 0)
if in_range "$n" 86400 86472; then ok vmax-colour; else bad vmax-colour "$n pixels of the +20 colour (126,23,0)"; fi
n=$(count_colour "$T/aoi.png" 160 160 160)
if in_range "$n" 86736 86736; then ok nodata-colour; else bad nodata-colour "$n grey pixels, expected 86400 + 336"; fi
# 0 is level 128 of 256: roma reversed at 128/255 = (192,234,195)->(209,226,161) blend, computed
# here from the published control points k/16: t = 1 - 128/255 lies between 7/16 and 8/16
mid=$(awk 'BEGIN { t = 1 - 128/255; p = t*16; k = int(p); f = p - k;
  split("209 226 161", a, " "); split("192 234 195", b, " ");
  printf "%d %d %d", int(a[1] + (b[1]-a[1])*f + 0.5), int(a[2] + (b[2]-a[2])*f + 0.5), int(a[3] + (b[3]-a[3])*f + 0.5) }')
n=$(count_colour "$T/aoi.png" $mid)
if in_range "$n" 20736 20808; then ok zero-colour; else bad zero-colour "$n pixels of ($mid), expected 324*16*4 = 20736"; fi
if command -v pngcheck >/dev/null 2>&1; then expect pngcheck pngcheck -q "$T/aoi.png"; fi
if gdalinfo -stats "$T/aoi.png" > "$T/gdalinfo.txt" 2>&1 && grep -q "Band 3" "$T/gdalinfo.txt"; then ok gdal-reads; else bad gdal-reads "$(tail -n 2 "$T/gdalinfo.txt")"; fi

# automatic range: p1 = -20, p99 = 20 of the valid pixels -> symmetric 20
$CBAS png "$T/aoi.tif" --out "$T/auto.png" > "$T/auto.txt" 2>&1
if grep -q "colour range -20 .. 20" "$T/auto.txt"; then ok auto-range; else bad auto-range "$(cat "$T/auto.txt")"; fi
$CBAS png "$T/aoi.tif" --out "$T/seq.png" --cmap seq > "$T/seq.txt" 2>&1
if grep -q "colour range -20 .. 20" "$T/seq.txt" && [ "$(count_colour "$T/seq.png" 68 1 84)" -ge 86400 ]; then ok auto-seq; else bad auto-seq "$(cat "$T/seq.txt")"; fi

# a 2700 x 2200 frame under an 8 MB budget (the full-resolution band alone is 23.8 MB)
if gdal_create -of GTiff -outsize 2700 2200 -bands 1 -ot Float32 -burn 7.5 "$T/big.tif" >/dev/null 2>&1; then
  expect big-frame-small-budget $CBAS png "$T/big.tif" --out "$T/big.png" --mem 8M --vmin 0 --vmax 10 --cmap seq
  "$PY" - "$T/big.png" > "$T/big.txt" <<'PYEOF'
import sys
from PIL import Image
im = Image.open(sys.argv[1])
print(im.size[0], im.size[1])
PYEOF
  read bw bh < "$T/big.txt"
  if [ "$bw" -le 1000 ] && [ "$bh" -le 800 ]; then ok big-frame-size; else bad big-frame-size "${bw}x${bh}"; fi
else
  bad big-frame "gdal_create failed"
fi

# usage errors (status 2) and failures (status 1) name the problem; nothing is left behind
expect_status no-out 2 $CBAS png "$T/aoi.tif"
expect_status bad-cmap 2 $CBAS png "$T/aoi.tif" --out "$T/x.png" --cmap jet
if $CBAS png "$T/aoi.tif" --out "$T/x.png" --cmap jet 2>&1 | grep -q "jet"; then ok bad-cmap-named; else bad bad-cmap-named "message does not name the map"; fi
expect_status bad-range 2 $CBAS png "$T/aoi.tif" --out "$T/x.png" --vmin 5 --vmax 1
expect_status bad-band 2 $CBAS png "$T/aoi.tif" --out "$T/x.png" --band 2
expect_status missing-file 1 $CBAS png "$T/none.tif" --out "$T/x.png"
if $CBAS png "$T/none.tif" --out "$T/x.png" 2>&1 | grep -q "none.tif"; then ok missing-file-named; else bad missing-file-named "message does not name the file"; fi
expect_status no-dir 1 $CBAS png "$T/aoi.tif" --out "$T/nodir/x.png"
if [ ! -e "$T/x.png" ] && [ -z "$(ls "$T" | grep '\.tmp[0-9]')" ]; then ok nothing-left; else bad nothing-left "$(ls "$T")"; fi
