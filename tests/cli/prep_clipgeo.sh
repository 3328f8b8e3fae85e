# cbas prep --clip-geo: LiCSBAS step 05's read_range_geo on the multilooked grid (digest §0.3),
# with step 02's corner (outer edge + half an ORIGINAL pixel, also for nlook > 1). Hand-computed
# on a frame with binary-exact coordinates: outer corner lon 100, lat 40, pixel 0.125 deg.
. tests/lib.sh
G="$T/f/GEOC"
$CBAS synth --out "$T/f" --width 64 --length 48 --epochs 4 --lon0 100 --lat0 40 --pixel 0.125 --quiet || { bad synth "synth failed"; exit 0; }
par() { grep "^$1:" "$2/stack.par" | cut -d' ' -f2-; }
# nlook 1: NW centre (39.9375, 100.0625); x1 = rint(10.5) = 10 (half to even), x2 = rint(15.5)+1
# = 17, y1 = rint(7.5) = 8, y2 = rint(11.5)+1 = 13
expect geo-n1 $CBAS prep --geoc "$G" --out "$T/s1" --clip-geo 101.375/102.0/38.5/39.0 --quiet
[ "$(par clip "$T/s1")" = "10:17/8:13" ] && ok geo-n1-range || bad geo-n1-range "$(par clip "$T/s1")"
[ "$(par width "$T/s1") $(par length "$T/s1")" = "7 5" ] && ok geo-n1-size || bad geo-n1-size "$(par width "$T/s1")"
# corner = centre of pixel (10, 8): 100.0625 + 10*0.125, 39.9375 - 8*0.125
[ "$(par corner_lon "$T/s1") $(par corner_lat "$T/s1")" = "101.3125 38.9375" ] && ok geo-n1-corner || bad geo-n1-corner "$(par corner_lon "$T/s1")"
# nlook 3 (21 x 16): corner stays (39.9375, 100.0625), post 0.375: x1 = rint(2.7) = 3 (the true
# centre of the multilooked pixel, 100.1875, would give 2), x2 = rint(6.5)+1 = 7,
# y1 = rint(2.5) = 2, y2 = rint(6.5)+1 = 7
expect geo-n3 $CBAS prep --geoc "$G" --out "$T/s3" --nlook 3 --clip-geo 101.075/102.5/37.5/39.0 --quiet
[ "$(par clip "$T/s3")" = "3:7/2:7" ] && ok geo-n3-range || bad geo-n3-range "$(par clip "$T/s3")"
# stack corner = 100.0625 + 3*0.375 = 101.1875, 39.9375 - 2*0.375 = 39.1875; geotransform edge
# = 100 + 9*0.125 = 101.125, 40 - 6*0.125 = 39.25
[ "$(par corner_lon "$T/s3") $(par corner_lat "$T/s3")" = "101.1875 39.1875" ] && ok geo-n3-corner || bad geo-n3-corner "$(par corner_lon "$T/s3") $(par corner_lat "$T/s3")"
[ "$(par geotransform "$T/s3")" = "101.125 0.375 0 39.25 0 -0.375" ] && ok geo-n3-geotransform || bad geo-n3-geotransform "$(par geotransform "$T/s3")"
# bounds beyond the frame clamp to it; an area outside is a usage error naming it
expect geo-clamp $CBAS prep --geoc "$G" --out "$T/s4" --clip-geo 99/200/0/50 --quiet
[ "$(par clip "$T/s4")" = "0:64/0:48" ] && ok geo-clamp-range || bad geo-clamp-range "$(par clip "$T/s4")"
expect_status geo-outside 2 $CBAS prep --geoc "$G" --out "$T/s5" --clip-geo 110/111/38/39 --quiet
grep -q '110/111/38/39' "$T/out" && ok geo-outside-named || bad geo-outside-named "$(cat "$T/out")"
[ ! -e "$T/s5" ] && ok geo-outside-nothing-written || bad geo-outside-nothing-written "s5 exists"
