# cbas prep on damaged input (issue 3): folders that do not parse, a missing cc file, a corrupt
# GeoTIFF and a raster of another size are reported by name and left out, with a summary, and
# the run succeeds; when nothing usable is left the run fails (status 2, like any unusable configuration) and writes nothing;
# an area outside the frame is a usage error (status 2) naming the range; so is a missing GEOC.
. tests/lib.sh
G="$T/f/GEOC"
$CBAS synth --out "$T/f" --width 80 --length 60 --epochs 6 --seed 11 --quiet || { bad synth "synth failed"; exit 0; }
set -- $(cd "$G" && ls -d 2*_2*)
n_all=$#
A=$1; B=$2; C=$3; D=$4
echo "not a tiff" > "$G/$A/$A.geo.unw.tif"                       # corrupt
rm "$G/$B/$B.geo.cc.tif"                                        # missing cc
mkdir "$G/2018013_20180125" "$G/20180230_20180301"              # names that do not parse
if command -v gdal_translate >/dev/null 2>&1; then                # another size
  gdal_translate -q -srcwin 0 0 79 60 "$G/$C/$C.geo.unw.tif" "$T/small.tif" && mv "$T/small.tif" "$G/$C/$C.geo.unw.tif"
else
  cp "$G/$C/$C.geo.cc.tif" "$G/$C/$C.geo.unw.tif"                  # (uint8 unw: excluded too)
fi
$CBAS prep --geoc "$G" --out "$T/s" > "$T/log" 2>&1; rc=$?
[ $rc = 0 ] && ok partial-run-succeeds || bad partial-run-succeeds "status $rc: $(tail -3 "$T/log")"
for name in $A $B $C 2018013_20180125 20180230_20180301; do
  grep -q "^  $name: " "$T/log" && ok "reported-$name" || bad "reported-$name" "not in: $(cat "$T/log")"
done
grep -q "excluded 5 of $((n_all + 2)) interferogram folders" "$T/log" && ok summary || bad summary "$(grep excluded "$T/log")"
grep -q "^n_ifg: $((n_all - 3))$" "$T/s/stack.par" && ok stack-without-them || bad stack-without-them "$(grep n_ifg "$T/s/stack.par")"
grep -qx "$D" "$T/s/ifgs.txt" && ! grep -qx "$A" "$T/s/ifgs.txt" && ok ifg-list || bad ifg-list "$(cat "$T/s/ifgs.txt")"
# nothing usable (every interferogram outside the dates) -> status 2, no stack, no temporaries
expect_status nothing-usable 2 $CBAS prep --geoc "$G" --out "$T/s2" --start 20300101
grep -q "no usable interferogram" "$T/out" && ok nothing-usable-message || bad nothing-usable-message "$(cat "$T/out")"
[ ! -e "$T/s2" ] && [ -z "$(ls -d "$T"/s2.tmp* 2>/dev/null)" ] && ok nothing-usable-no-output || bad nothing-usable-no-output "$(ls "$T")"
# area outside the frame / empty -> status 2 naming the range
expect_status clip-outside 2 $CBAS prep --geoc "$G" --out "$T/s3" --clip 10:90/0:0
grep -q "10:90/0:0" "$T/out" && ok clip-outside-named || bad clip-outside-named "$(cat "$T/out")"
expect_status clip-empty 2 $CBAS prep --geoc "$G" --out "$T/s3" --clip 10:10/0:0
[ ! -e "$T/s3" ] && ok clip-outside-no-output || bad clip-outside-no-output "s3 exists"
expect_status no-geoc 2 $CBAS prep --geoc "$T/nowhere" --out "$T/s4"
grep -q "nowhere" "$T/out" && ok no-geoc-named || bad no-geoc-named "$(cat "$T/out")"
expect_status bad-mask 2 $CBAS prep --geoc "$G" --out "$T/s4" --mask 5:3/0:0
grep -q -- "--mask 5:3/0:0" "$T/out" && ok bad-mask-named || bad bad-mask-named "$(cat "$T/out")"
# an unrelated non-empty directory is never replaced
mkdir -p "$T/mine" && echo keep > "$T/mine/file"
expect_status refuses-foreign-dir 2 $CBAS prep --geoc "$G" --out "$T/mine"
[ -f "$T/mine/file" ] && ok foreign-dir-kept || bad foreign-dir-kept "file gone"
# a stale temporary directory of a killed run is removed, the re-run works
mkdir -p "$T/s.tmp424242/junk"
expect rerun $CBAS prep --geoc "$G" --out "$T/s" --quiet
[ ! -e "$T/s.tmp424242" ] && ok stale-tmp-removed || bad stale-tmp-removed "still there"
