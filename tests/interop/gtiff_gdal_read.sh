#!/bin/sh
# gtiff_gdal_read.sh — the GeoTIFF reader (through `cbas info`) on files written by real GDAL in
# every layout we claim to read: striped/tiled with several block sizes, NONE/DEFLATE/LZW,
# predictors 1/2/3, Byte..Float64, pixel- and band-interleaved, big-endian, PixelIsPoint,
# nodata, band descriptions, a projected CRS, internal overviews; and the files we must refuse
# (JPEG, PackBits, 1-bit, 12-bit, complex, truncated, text, empty) with a message naming the file.
#
# The reference raster is text written here with awk (three ESRI ASCII grids combined by a
# hand-written VRT), so every expected value comes from the formula in val() below, not from
# GDAL or from cbas: v(x, y, band) = (7x + 13y + 50 band) % 250, shifted to -100..149 for signed
# integer types and mapped to m/4 - 30 for float types (exact in float32).
. tests/lib.sh
if ! command -v gdal_translate >/dev/null 2>&1; then bad gdal-present "gdal_translate not installed (make check installs gdal-bin)"; exit 1; fi
W=37; H=23
AWK_VAL='function val(x, y, b, kind,   m) { m = (7 * x + 13 * y + 50 * b) % 250
  if (kind == "s") return m - 100; if (kind == "f") return m * 0.25 - 30; return m }'

# --- reference sources: kind u (0..249), s (-100..149), f (-30..32.25 in quarters) -------------
for kind in u s f; do
  for b in 1 2 3; do
    awk -v W=$W -v H=$H -v b=$b -v kind=$kind "$AWK_VAL"'
      BEGIN { printf "ncols %d\nnrows %d\nxllcorner 10\nyllcorner 40\ncellsize 0.25\n", W, H
              for (y = 0; y < H; y++) { for (x = 0; x < W; x++) printf "%s%.9g", (x ? " " : ""), val(x, y, b, kind); printf "\n" } }' \
      > "$T/$kind$b.asc"
  done
  case $kind in f) vt=Float32 ;; *) vt=Int32 ;; esac
  {
    echo "<VRTDataset rasterXSize=\"$W\" rasterYSize=\"$H\">"
    echo "  <GeoTransform>10, 0.25, 0, 45.75, 0, -0.25</GeoTransform>"
    for b in 1 2 3; do
      case $b in 1) d=20200101 ;; 2) d=20200113 ;; 3) d='a&amp;b &lt;c&gt; &quot;d&quot;' ;; esac
      echo "  <VRTRasterBand dataType=\"$vt\" band=\"$b\"><Description>$d</Description>"
      echo "    <SimpleSource><SourceFilename relativeToVRT=\"1\">$kind$b.asc</SourceFilename><SourceBand>1</SourceBand></SimpleSource>"
      echo "  </VRTRasterBand>"
    done
    echo "</VRTDataset>"
  } > "$T/$kind.vrt"
done

# expected_window KIND BAND X0:X1/Y0:Y1 -> the values as cbas prints them
expected_window() {
  echo "$3" | awk -F'[:/]' -v b="$2" -v kind="$1" "$AWK_VAL"'
    { for (y = $3; y < $4; y++) { for (x = $1; x < $2; x++) printf "%s%.9g", (x > $1 ? " " : ""), val(x, y, b, kind); printf "\n" } }'
}
# check_window NAME FILE KIND BAND WINDOW [SOURCE_BAND]: values pixel-exact, exit 0, nothing on
# stderr; SOURCE_BAND (default BAND) is the band of the formula the file's BAND came from
check_window() {
  $CBAS info "$2" --window "$5" --band "$4" > "$T/got" 2> "$T/err"; rc=$?
  expected_window "$3" "${6:-$4}" "$5" > "$T/want"
  if [ $rc -eq 0 ] && [ ! -s "$T/err" ] && cmp -s "$T/got" "$T/want"; then ok "$1"
  else bad "$1" "rc=$rc stderr='$(head -c 300 "$T/err")' diff: $(diff "$T/want" "$T/got" | head -n 4 | tr '\n' '|')"; fi
}
# has_line NAME FILE LINE...: `cbas info FILE` prints each LINE exactly (and nothing on stderr)
has_line() {
  n=$1; f=$2; shift 2
  $CBAS info "$f" > "$T/info" 2> "$T/err" || { bad "$n" "cbas info failed: $(cat "$T/err")"; return; }
  [ -s "$T/err" ] && { bad "$n" "stderr: $(head -c 300 "$T/err")"; return; }
  for l in "$@"; do grep -qxF "$l" "$T/info" || { bad "$n" "no line '$l' in: $(tr '\n' '|' < "$T/info")"; return; }; done
  ok "$n"
}
# gdal_block FILE -> "WxH" of band 1 as gdalinfo reports it
gdal_block() { gdalinfo "$1" | sed -n 's/^Band 1 Block=\([0-9]*x[0-9]*\) .*/\1/p'; }

# --- the layout matrix: every type x compression/predictor, each in two of the five layouts
# (rotating, so every layout meets every type) -----------------------------------------------------
layout() { # N -> "creation options:interleave"
  case $1 in 0) echo "TILED=NO:PIXEL" ;; 1) echo "TILED=NO,BLOCKYSIZE=5:BAND" ;;
             2) echo "TILED=YES,BLOCKXSIZE=16,BLOCKYSIZE=16:PIXEL" ;; 3) echo "TILED=YES,BLOCKXSIZE=32,BLOCKYSIZE=16:BAND" ;;
             4) echo "TILED=NO,BLOCKYSIZE=4:PIXEL" ;; esac
}
n_files=0; k=0
for ot in Byte UInt16 Int16 UInt32 Int32 Float32 Float64; do
  case $ot in Byte) kind=u; tn=uint8 ;; UInt16) kind=u; tn=uint16 ;; UInt32) kind=u; tn=uint32 ;;
              Int16) kind=s; tn=int16 ;; Int32) kind=s; tn=int32 ;; Float32) kind=f; tn=float32 ;; Float64) kind=f; tn=float64 ;; esac
  comps="NONE:1 DEFLATE:1 DEFLATE:2 LZW:1 LZW:2"
  [ $kind = f ] && comps="$comps DEFLATE:3 LZW:3"
  for cp in $comps; do
    c=${cp%:*}; p=${cp#*:}
    k=$((k + 1))
    for i in $((k % 5)) $(((k + 2) % 5)); do
      lay=$(layout $i)
      il=${lay#*:}; co=$(echo "${lay%:*}" | sed 's/,/ -co /g')
      f="$T/${ot}_${c}_p${p}_l$i.tif"
      pred=""; [ $c != NONE ] && pred="-co PREDICTOR=$p"
      # shellcheck disable=SC2086
      gdal_translate -q -ot $ot -a_srs EPSG:4326 -co COMPRESS=$c $pred -co $co -co INTERLEAVE=$il "$T/$kind.vrt" "$f" \
        || { bad "translate-$ot-$c-$p-$i" "gdal_translate failed"; continue; }
      n_files=$((n_files + 1))
      pp=$p
      case $c in NONE) cn=none; pp=1 ;; DEFLATE) cn=deflate ;; LZW) cn=LZW ;; esac
      case $il in PIXEL) iln=pixel-interleaved ;; BAND) iln=band-separate ;; esac
      case $lay in TILED=YES*) lk=tiled ;; *) lk=striped ;; esac
      blk=$(gdal_block "$f" | sed 's/x/ x /')
      name="$ot-$c-p$p-l$i"
      has_line "info-$name" "$f" "size: $W x $H" "bands: 3" "type: $tn" "layout: $lk, block $blk, $iln" \
        "compression: $cn" "predictor: $pp" "geotransform: 10, 0.25, 0, 45.75, 0, -0.25" "epsg: 4326" \
        "raster type: area" "nodata: none" "band 1 description: 20200101"
      check_window "win-$name" "$f" $kind 2 "5:33/3:22"
      check_window "full-$name" "$f" $kind 3 "0:$W/0:$H"
    done
  done
done
[ $n_files -eq 78 ] && ok "matrix-size-$n_files" || bad matrix-size "$n_files files, expected 78"

# --- single cases ----------------------------------------------------------------------------------
f="$T/desc.tif"
gdal_translate -q -ot Float32 "$T/f.vrt" "$f"
has_line descriptions "$f" "band 2 description: 20200113" 'band 3 description: a&b <c> "d"' "epsg: none"

f="$T/single.tif"
gdal_translate -q -b 2 -ot Int16 -a_nodata -9999 -co COMPRESS=DEFLATE "$T/s.vrt" "$f"
has_line single-band-nodata "$f" "bands: 1" "nodata: -9999" "type: int16"
check_window single-band-values "$f" s 1 "0:$W/0:$H" 2

f="$T/nan.tif"
gdal_translate -q -ot Float32 -a_nodata nan -a_srs EPSG:4326 -a_ullr 100 20 109.25 14.25 "$T/f.vrt" "$f"
has_line nodata-nan-ullr "$f" "nodata: nan" "geotransform: 100, 0.25, 0, 20, 0, -0.25"

f="$T/point.tif"
gdal_translate -q -ot Float32 -a_srs EPSG:4326 -mo AREA_OR_POINT=Point "$T/f.vrt" "$f"
origin=$(gdalinfo "$f" | sed -n 's/^Origin = (\(.*\),\(.*\))$/\1 \2/p')
[ "$(echo "$origin" | awk '{ printf "%.6f %.6f", $1, $2 }')" = "10.000000 45.750000" ] && ok point-gdal-origin || bad point-gdal-origin "gdalinfo origin $origin"
has_line pixel-is-point "$f" "raster type: point" "geotransform: 10, 0.25, 0, 45.75, 0, -0.25"
check_window point-values "$f" f 1 "0:$W/0:$H"

f="$T/utm.tif"
gdal_translate -q -ot Int32 -a_srs EPSG:32633 -a_ullr 500000 4000000 500370 3999770 "$T/s.vrt" "$f"
has_line projected-epsg "$f" "epsg: 32633" "geotransform: 500000, 10, 0, 4000000, 0, -10"

# Big-endian files. (Not with predictor 3: GDAL 3.6.2 / libtiff 4.5.0 read their own big-endian
# predictor-3 files back wrong, so they are no reference.)
for cfg in Int16:s:DEFLATE:2 UInt32:u:LZW:2 Float32:f:DEFLATE:1 Float64:f:LZW:2; do
  ot=${cfg%%:*}; r=${cfg#*:}; kind=${r%%:*}; r=${r#*:}; c=${r%:*}; p=${r#*:}
  f="$T/big_$ot.tif"
  gdal_translate -q -ot $ot -co ENDIANNESS=BIG -co COMPRESS=$c -co PREDICTOR=$p -co TILED=YES "$T/$kind.vrt" "$f"
  check_window "big-endian-$ot" "$f" $kind 2 "3:30/2:21"
done

# An RPC tag (50844) libtiff does not know: read silently (check_window wants an empty stderr).
{
  echo "<VRTDataset rasterXSize=\"$W\" rasterYSize=\"$H\"><Metadata domain=\"RPC\">"
  for kv in HEIGHT_OFF:0 HEIGHT_SCALE:1 LAT_OFF:45 LAT_SCALE:1 LINE_OFF:1 LINE_SCALE:1 LONG_OFF:10 LONG_SCALE:1 SAMP_OFF:1 SAMP_SCALE:1; do
    echo "<MDI key=\"${kv%:*}\">${kv#*:}</MDI>"
  done
  for k in LINE_NUM:1 LINE_DEN:0 SAMP_NUM:2 SAMP_DEN:0; do
    echo "<MDI key=\"${k%:*}_COEFF\">$(awk -v one="${k#*:}" 'BEGIN { for (i = 0; i < 20; i++) printf "%s%d", (i ? " " : ""), i == one }')</MDI>"
  done
  echo "</Metadata><VRTRasterBand dataType=\"Float32\" band=\"1\"><SimpleSource><SourceFilename relativeToVRT=\"1\">f1.asc</SourceFilename>"
  echo "<SourceBand>1</SourceBand></SimpleSource></VRTRasterBand></VRTDataset>"
} > "$T/rpc.vrt"
gdal_translate -q "$T/rpc.vrt" "$T/rpc.tif"
check_window unknown-tag-silent "$T/rpc.tif" f 1 "0:$W/0:$H"

f="$T/ovr.tif"
gdal_translate -q -ot UInt16 -co COMPRESS=DEFLATE "$T/u.vrt" "$f" && gdaladdo -q -r nearest "$f" 2 4 >/dev/null
has_line overviews-ignored "$f" "size: $W x $H"
check_window overviews-values "$f" u 3 "0:$W/0:$H"

# --- refused files: exit status 1 (not a crash, no sanitizer report), message names the file and
# the reason ------------------------------------------------------------------------------------------
refuse() { # NAME FILE TEXT
  $CBAS info "$2" --window 0:1/0:1 > "$T/out" 2>&1; rc=$?
  if [ $rc -eq 1 ] && grep -qF "$2" "$T/out" && grep -qF "$3" "$T/out" && ! grep -q "Sanitizer\|runtime error" "$T/out"; then ok "$1"
  else bad "$1" "rc=$rc: $(head -c 300 "$T/out")"; fi
}
gdal_translate -q -ot Byte -b 1 -co COMPRESS=JPEG "$T/u.vrt" "$T/jpeg.tif" 2>/dev/null && refuse refuse-jpeg "$T/jpeg.tif" "JPEG compression"
gdal_translate -q -ot Byte -co COMPRESS=PACKBITS "$T/u.vrt" "$T/packbits.tif" && refuse refuse-packbits "$T/packbits.tif" "PackBits"
gdal_translate -q -ot Byte -b 1 -scale 0 249 0 1 -co NBITS=1 "$T/u.vrt" "$T/nbits1.tif" && refuse refuse-1bit "$T/nbits1.tif" "1-bit"
gdal_translate -q -ot UInt16 -co NBITS=12 "$T/u.vrt" "$T/nbits12.tif" && refuse refuse-12bit "$T/nbits12.tif" "12-bit"
gdal_translate -q -ot CFloat32 "$T/f.vrt" "$T/complex.tif" && refuse refuse-complex "$T/complex.tif" "complex"
gdal_translate -q -ot Float32 -co COMPRESS=DEFLATE -co PREDICTOR=3 "$T/f.vrt" "$T/whole.tif"
size=$(wc -c < "$T/whole.tif")
for frac in 10 50 90 99; do
  head -c $((size * frac / 100)) "$T/whole.tif" > "$T/cut$frac.tif"
  rc=0
  $CBAS info "$T/cut$frac.tif" > "$T/out" 2>&1 || rc=$?
  for b in 1 2 3; do
    [ $rc -eq 0 ] || break
    $CBAS info "$T/cut$frac.tif" --band $b --window 0:$W/0:$H >> "$T/out" 2>&1 || rc=$?
  done
  if [ $rc -eq 1 ] && grep -qF "cut$frac.tif" "$T/out" && ! grep -q "Sanitizer\|runtime error" "$T/out"; then ok "refuse-truncated-$frac"
  else bad "refuse-truncated-$frac" "rc=$rc: $(tail -c 300 "$T/out")"; fi
done
echo "hello, I am not a TIFF" > "$T/text.tif"
refuse refuse-text "$T/text.tif" "not a readable TIFF"
: > "$T/empty.tif"
refuse refuse-empty "$T/empty.tif" "empty file"
refuse refuse-missing "$T/no-such.tif" "cannot open"
$CBAS info "$T/whole.tif" --window 0:38/0:1 > "$T/out" 2>&1
[ $? -eq 2 ] && grep -q "outside" "$T/out" && ok window-outside || bad window-outside "$(cat "$T/out")"
$CBAS info "$T/whole.tif" --window 5:5/0:1 > "$T/out" 2>&1
[ $? -eq 2 ] && ok window-malformed || bad window-malformed "$(cat "$T/out")"
$CBAS info "$T/whole.tif" --band 4 --window 0:1/0:1 > "$T/out" 2>&1
[ $? -eq 2 ] && grep -q "3 band" "$T/out" && ok band-outside || bad band-outside "$(cat "$T/out")"
