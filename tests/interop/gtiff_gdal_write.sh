#!/bin/sh
# gtiff_gdal_write.sh — files written by our GeoTIFF writer, read by real GDAL: georeferencing
# (Origin, Pixel Size, EPSG:4326), NoData, band descriptions, layout, statistics, and every value
# through gdal_translate -of AAIGrid and gdallocationinfo.
#
# The files come from the unit-test binary itself (`test_gtiff --samples DIR`, run here through
# the same wrapper as $CBAS, so this works whatever tests/run.sh ran before). Their content is
# documented at write_samples() in tests/unit/test_gtiff.c; the expected values are recomputed
# here with awk from the same formulas:
#   float samples: band b (0-based) at (x, y) = b*1000 + 10y + x/4 - 7, NaN where (x + 2y + b) % 5 == 0
#   u8.tif:        (7x + 3y) % 251
. tests/lib.sh
if ! command -v gdalinfo >/dev/null 2>&1; then bad gdal-present "gdalinfo not installed (make check installs gdal-bin)"; exit 1; fi
S="$T/samples"
# shellcheck disable=SC2086
if $CBAS_WRAPPER "$(dirname "$CBAS_BIN")/tests/test_gtiff" --samples "$S" > "$T/out" 2>&1; then ok write-samples
else bad write-samples "$(cat "$T/out")"; exit 1; fi

AWK_VAL='function fval(x, y, b) { if ((x + 2 * y + b) % 5 == 0) return "nan"; return b * 1000 + 10 * y + x / 4 - 7 }
function uval(x, y) { return (7 * x + 3 * y) % 251 }
function val(kind, x, y, b) { return kind == "u8" ? uval(x, y) : fval(x, y, b) }'

# gdalinfo FILE: no message on stderr, and each LINE present exactly
info_has() { # NAME FILE LINE...
  n=$1; f=$2; shift 2
  gdalinfo -stats "$f" > "$T/info" 2> "$T/err" || { bad "$n" "gdalinfo failed: $(cat "$T/err")"; return; }
  [ -s "$T/err" ] && { bad "$n" "gdalinfo stderr: $(head -c 300 "$T/err")"; return; }
  for l in "$@"; do grep -qxF -- "$l" "$T/info" || { bad "$n" "no line '$l'"; return; }; done
  ok "$n"
}
# stats NAME FILE KIND W H BAND(1-based): GDAL's STATISTICS_* against the formula's (NaN excluded)
stats() {
  n=$1; f=$2; kind=$3; w=$4; h=$5; b=$6
  gdalinfo -stats "$f" 2>/dev/null | awk -v b="$b" '
    /^Band [0-9]+ / { cur = $2 }
    cur == b && /STATISTICS_(MINIMUM|MAXIMUM|MEAN|STDDEV)=/ { split($1, kv, "="); printf "%s %s\n", kv[1], kv[2] }' | sort > "$T/got"
  awk -v kind="$kind" -v w="$w" -v h="$h" -v b="$((b - 1))" "$AWK_VAL"'
    BEGIN { n = 0; s = 0; ss = 0; mn = 1e300; mx = -1e300
      for (y = 0; y < h; y++) for (x = 0; x < w; x++) { v = val(kind, x, y, b); if (v == "nan") continue
        n++; s += v; ss += v * v; if (v < mn) mn = v; if (v > mx) mx = v }
      m = s / n
      printf "STATISTICS_MAXIMUM %.10g\nSTATISTICS_MEAN %.10g\nSTATISTICS_MINIMUM %.10g\nSTATISTICS_STDDEV %.10g\n", mx, m, mn, sqrt(ss / n - m * m) }' > "$T/want"
  if [ "$(wc -l < "$T/got")" -eq 4 ] && paste "$T/got" "$T/want" | awk '
      { d = $2 - $4; if (d < 0) d = -d; t = 1e-6 * ($4 < 0 ? -$4 : $4) + 1e-6; if ($1 != $3 || d > t) bad = 1 } END { exit bad }'; then ok "$n"
  else bad "$n" "GDAL: $(tr '\n' ' ' < "$T/got") expected: $(tr '\n' ' ' < "$T/want")"; fi
}
# grid NAME FILE KIND W H BAND: gdal_translate -of AAIGrid, every value against the formula
grid() {
  n=$1; f=$2; kind=$3; w=$4; h=$5; b=$6
  gdal_translate -q -of AAIGrid -b "$b" "$f" "$T/grid.asc" 2> "$T/err" || { bad "$n" "gdal_translate: $(cat "$T/err")"; return; }
  if awk -v kind="$kind" -v w="$w" -v h="$h" -v b="$((b - 1))" "$AWK_VAL"'
      /^[a-zA-Z]/ { next }
      { if (NF != w) { print "row " y ": " NF " values"; bad = 1 }
        for (x = 0; x < NF; x++) { g = $(x + 1); v = val(kind, x, y, b)
          if (v == "nan") { if (tolower(g) !~ /nan/) { print "(" x "," y ") " g " expected nan"; bad = 1 } }
          else { d = g - v; if (d < 0) d = -d; if (d > 1e-6 * (v < 0 ? -v : v) + 1e-9) { print "(" x "," y ") " g " expected " v; bad = 1 } } }
        y++ }
      END { if (y != h) { print y " rows, expected " h; bad = 1 } exit bad }' "$T/grid.asc" > "$T/diff"; then ok "$n"
  else bad "$n" "$(head -n 3 "$T/diff" | tr '\n' ' ')"; fi
}
# loc NAME FILE KIND X Y: gdallocationinfo -valonly (all bands) against the formula
loc() {
  n=$1; f=$2; kind=$3; x=$4; y=$5
  gdallocationinfo -valonly "$f" "$x" "$y" > "$T/got" 2> "$T/err"
  nb=$(wc -l < "$T/got")
  awk -v kind="$kind" -v x="$x" -v y="$y" -v nb="$nb" "$AWK_VAL"'
    BEGIN { for (b = 0; b < nb; b++) { v = val(kind, x, y, b); if (v == "nan") print "nan"; else printf "%.9g\n", v } }' > "$T/want"
  if [ "$nb" -ge 1 ] && [ ! -s "$T/err" ] && [ "$(tr 'A-Z-' 'a-z ' < "$T/got" | sed 's/^ //')" = "$(cat "$T/want")" ]; then ok "$n"
  else bad "$n" "GDAL: $(tr '\n' ' ' < "$T/got") expected: $(tr '\n' ' ' < "$T/want") $(cat "$T/err")"; fi
}

f="$S/f32_nan.tif"
info_has f32-info "$f" "Size is 13, 9" "Origin = (30.500000000000000,-10.250000000000000)" \
  "Pixel Size = (0.125000000000000,-0.062500000000000)" "    ID[\"EPSG\",4326]]" "  AREA_OR_POINT=Area" \
  "  COMPRESSION=DEFLATE" "  PREDICTOR=3" "Band 1 Block=13x9 Type=Float32, ColorInterp=Gray" \
  "  Description = 20200101" "  NoData Value=nan"
stats f32-stats "$f" f 13 9 1
grid f32-grid "$f" f 13 9 1
loc f32-loc-value "$f" f 12 8
loc f32-loc-nan "$f" f 1 2

f="$S/multi3.tif"
info_has multi-info "$f" "Size is 10, 700" "Origin = (30.500000000000000,-10.250000000000000)" \
  "Pixel Size = (0.125000000000000,-0.062500000000000)" "  INTERLEAVE=PIXEL" \
  "Band 1 Block=10x68 Type=Float32, ColorInterp=Gray" "Band 3 Block=10x68 Type=Float32, ColorInterp=Undefined" \
  "  Description = 20200101" "  Description = 20200113" "  Description = 20200125" "  NoData Value=nan"
if [ "$(grep -c '^  NoData Value=nan$' "$T/info")" -eq 3 ]; then ok multi-nodata-per-band; else bad multi-nodata-per-band "$(grep NoData "$T/info")"; fi
for b in 1 2 3; do
  stats "multi-stats-b$b" "$f" f 10 700 $b
  grid "multi-grid-b$b" "$f" f 10 700 $b
done
loc multi-loc-first-strip "$f" f 3 5
loc multi-loc-last-strip "$f" f 9 699
loc multi-loc-nan "$f" f 0 0

f="$S/u8.tif"
info_has u8-info "$f" "Size is 37, 300" "Origin = (-5.000000000000000,5.000000000000000)" \
  "Pixel Size = (0.500000000000000,-0.500000000000000)" "  COMPRESSION=DEFLATE" "  PREDICTOR=2" \
  "Band 1 Block=37x221 Type=Byte, ColorInterp=Gray" "  NoData Value=255"
stats u8-stats "$f" u8 37 300 1
grid u8-grid "$f" u8 37 300 1
loc u8-loc "$f" u8 36 299

# And our own reader agrees with GDAL on a window of the multi-band file.
gdal_translate -q -of AAIGrid -b 2 -srcwin 2 60 7 20 "$S/multi3.tif" "$T/win.asc" 2>/dev/null
grep -v '^[a-zA-Z]' "$T/win.asc" | awk '{ for (i = 1; i <= NF; i++) printf "%s%.9g", (i > 1 ? " " : ""), $i; printf "\n" }' \
  | sed 's/-nan/nan/g' > "$T/want"
$CBAS info "$S/multi3.tif" --band 2 --window 2:9/60:80 > "$T/got" 2>&1
cmp -s "$T/got" "$T/want" && ok cbas-agrees-with-gdal || bad cbas-agrees-with-gdal "$(diff "$T/want" "$T/got" | head -n 3 | tr '\n' '|')"
