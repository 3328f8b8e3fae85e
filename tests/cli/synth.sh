#!/bin/sh
# synth.sh — `cbas synth`: the LiCSAR GEOC layout LiCSBAS step 02 reads (folder-name rule, file
# names, baselines, metadata.txt), the GeoTIFF layout of the rasters (through `cbas info`),
# the truth files, determinism (same seed ⇒ identical bytes, whatever the thread count;
# another seed ⇒ different data), the acquisition gap, the noise-free sign convention
# (unw·coef_r2m = cum_sec − cum_prim, LiCSBAS digest §0.2/§7.2) and option errors.
. tests/lib.sh
SMALL="--width 80 --length 64 --epochs 9 --quiet"

expect run $CBAS synth --out "$T/a" $SMALL
G="$T/a/GEOC"

# --- layout -------------------------------------------------------------------------------
frame=124D_05278_081106
missing=""
for f in "$G/$frame.geo.E.tif" "$G/$frame.geo.N.tif" "$G/$frame.geo.U.tif" "$G/$frame.geo.hgt.tif" \
         "$G/baselines" "$G/metadata.txt" "$T/a/truth/vel.tif" "$T/a/truth/vel_fit.tif" "$T/a/truth/cum.tif" \
         "$T/a/truth/mask_decorr.tif" "$T/a/truth/bad_ifg.txt" "$T/a/truth/unwerr_ifg.txt" "$T/a/truth/params.txt" \
         "$T/a/truth/epochs.txt"; do
  [ -f "$f" ] || missing="$missing $f"
done
if [ -z "$missing" ]; then ok frame-files; else bad frame-files "missing:$missing"; fi

# interferogram folders: LiCSBAS's rule (17 chars, '2' at 0 and 9, '_' at 8), both tifs inside
n_dir=0; badname=""
for d in "$G"/2*; do
  [ -d "$d" ] || continue
  n=$(basename "$d"); n_dir=$((n_dir + 1))
  case "$n" in 2???????_2???????) ;; *) badname="$badname $n" ;; esac
  [ -f "$d/$n.geo.unw.tif" ] && [ -f "$d/$n.geo.cc.tif" ] || badname="$badname $n(files)"
  [ "${n%_*}" \< "${n#*_}" ] || badname="$badname $n(order)"
done
n_ifg=$(sed -n 's/^n_ifg=//p' "$T/a/truth/params.txt")
if [ -z "$badname" ] && [ "$n_dir" -gt 8 ] && [ "$n_dir" = "$n_ifg" ]; then ok ifg-folders
else bad ifg-folders "$n_dir folders, params n_ifg=$n_ifg, bad:$badname"; fi

# baselines: 4 tokens per line, first line "M M 0.0000 0", one line per epoch, btemp = days
dates=$(ls "$G" | grep '^2' | tr '_' '\n' | sort -u)
if awk 'NF != 4 { exit 1 } NR == 1 && ($1 != $2 || $3 != "0.0000" || $4 != "0") { exit 1 }' "$G/baselines" &&
   [ "$(awk '{print $2}' "$G/baselines" | sort -u)" = "$dates" ] &&
   [ "$(awk '{print $1}' "$G/baselines" | sort -u)" = "$(grep '^master=' "$G/metadata.txt" | cut -d= -f2)" ]
then ok baselines; else bad baselines "$(head -3 "$G/baselines")"; fi
# btemp of 20180113 relative to the master, in days (hand-computed from the dates)
m=$(sed -n 's/^master=//p' "$G/metadata.txt")
bt=$(awk '$2 == 20180113 {print $4}' "$G/baselines")
days() { echo $(( ( $(date -u -d "$1" +%s) ) / 86400 )); }
if [ "$bt" = "$(( $(days 20180113) - $(days "$m") ))" ]; then ok baselines-btemp; else bad baselines-btemp "btemp $bt for master $m"; fi

# metadata.txt as LiCSAR writes it: key=value, center_time HH:MM:SS.ffffff (step 02 greps it)
if grep -Eq '^center_time=[0-2][0-9]:[0-5][0-9]:[0-5][0-9]\.[0-9]{6}$' "$G/metadata.txt" &&
   grep -Eq '^heading=-1[0-9]{2}\.' "$G/metadata.txt" && grep -q '^avg_incidence_angle=' "$G/metadata.txt" &&
   ! grep -vq '^[a-zA-Z_]*=' "$G/metadata.txt"
then ok metadata; else bad metadata "$(cat "$G/metadata.txt")"; fi

# --- raster layout through cbas info ------------------------------------------------------
ifg=20180101_20180113
$CBAS info "$G/$ifg/$ifg.geo.unw.tif" > "$T/info.unw" 2>&1
$CBAS info "$G/$ifg/$ifg.geo.cc.tif" > "$T/info.cc" 2>&1
has_all() { f=$1; shift; for l in "$@"; do grep -qxF "$l" "$f" || { echo "$l"; return 1; }; done; }
if miss=$(has_all "$T/info.unw" "size: 80 x 64" "bands: 1" "type: float32" "layout: striped, block 80 x 1, single band" \
    "compression: deflate" "geotransform: 138, 0.001, 0, 36.5, 0, -0.001" "epsg: 4326" "nodata: 0"); then ok unw-layout
else bad unw-layout "missing '$miss' in: $(tr '\n' '|' < "$T/info.unw")"; fi
if miss=$(has_all "$T/info.cc" "type: uint8" "layout: striped, block 80 x 1, single band" "compression: deflate"); then ok cc-layout
else bad cc-layout "missing '$miss' in: $(tr '\n' '|' < "$T/info.cc")"; fi
$CBAS info "$G/$frame.geo.U.tif" > "$T/info.U" 2>&1
if miss=$(has_all "$T/info.U" "type: float32" "layout: striped, block 80 x 1, single band"); then ok enu-layout
else bad enu-layout "missing '$miss'"; fi
$CBAS info "$T/a/truth/cum.tif" > "$T/info.cum" 2>&1
if miss=$(has_all "$T/info.cum" "bands: 9" "type: float32" "band 1 description: 20180101" "band 9 description: 20180407"); then ok cum-bands
else bad cum-bands "missing '$miss'"; fi
# first epoch of the truth is exactly 0
if $CBAS info --window 0:80/0:64 --band 1 "$T/a/truth/cum.tif" | tr ' ' '\n' | grep -qv '^0$'; then bad cum-first-zero "nonzero values in band 1"
else ok cum-first-zero; fi

# --- determinism --------------------------------------------------------------------------
expect run-again $CBAS synth --out "$T/b" $SMALL --threads 1
diffs=""
for f in $(cd "$T/a" && find . -type f | sort); do cmp -s "$T/a/$f" "$T/b/$f" || diffs="$diffs $f"; done
[ "$(cd "$T/a" && find . | sort)" = "$(cd "$T/b" && find . | sort)" ] || diffs="$diffs (file lists differ)"
if [ -z "$diffs" ]; then ok same-seed-identical; else bad same-seed-identical "differ:$diffs"; fi
expect run-seed2 $CBAS synth --out "$T/c" $SMALL --seed 2
if cmp -s "$G/$ifg/$ifg.geo.unw.tif" "$T/c/GEOC/$ifg/$ifg.geo.unw.tif"; then bad other-seed-differs "identical unw"
else ok other-seed-differs; fi

# --- gap ----------------------------------------------------------------------------------
expect run-gap $CBAS synth --out "$T/g" --width 40 --length 32 --epochs 12 --gap 20180201:20180301 --quiet
across=$(ls "$T/g/GEOC" | grep '^2' | awk -F_ '($1 < 20180201 && $2 > 20180301) || ($1 >= 20180201 && $1 <= 20180301) || ($2 >= 20180201 && $2 <= 20180301)')
if [ -z "$across" ] && [ "$(ls "$T/g/GEOC" | grep -c '^2')" -gt 10 ]; then ok gap-no-pair-across
else bad gap-no-pair-across "pairs: $across"; fi

# --- noise-free sign convention: unw·coef_r2m = cum_sec − cum_prim --------------------------
expect run-clean $CBAS synth --out "$T/n" --width 60 --length 50 --epochs 6 --no-noise --no-footprint --quiet
last=$(ls "$T/n/GEOC" | grep '^20180101_' | tail -1); sec=${last#*_}
band=$(awk -v d="$sec" '$1 == d {print NR}' "$T/n/truth/epochs.txt" | head -1)
band=$((band - 1)) # epochs.txt has one comment line
$CBAS info --window 0:60/0:50 "$T/n/GEOC/$last/$last.geo.unw.tif" | tr ' ' '\n' > "$T/unw.txt"
$CBAS info --window 0:60/0:50 --band "$band" "$T/n/truth/cum.tif" | tr ' ' '\n' > "$T/cum.txt"
res=$(paste "$T/unw.txt" "$T/cum.txt" | awk 'BEGIN { pi = atan2(0, -1); coef = -(299792458 / 5.405e9) / (4 * pi) * 1000 }
  { d = $1 * coef - $2; if (d < 0) d = -d; if (d > mx) mx = d; if ($2 < mn) mn = $2; n++ }
  END { printf "%d %.6f %.3f", n, mx, mn }')
set -- $res
if [ "$1" = 3000 ] && awk -v m="$2" -v c="$3" 'BEGIN { exit !(m < 1e-4 && c < -5) }'; then ok unw-equals-cum-difference
else bad unw-equals-cum-difference "n=$1 max|unw*coef - cum|=$2 min cum=$3"; fi

# tiny networks work with the defaults (fewer bad interferograms than 3 when needed)
expect tiny-network $CBAS synth --out "$T/t" --width 32 --length 24 --epochs 2 --quiet
if [ "$(ls "$T/t/GEOC" | grep -c '^2')" = 1 ] && [ ! -s "$T/t/truth/bad_ifg.txt" ]; then ok tiny-network-files
else bad tiny-network-files "$(ls "$T/t/GEOC")"; fi

# --- errors -------------------------------------------------------------------------------
expect_status no-out 2 $CBAS synth --width 40
expect_status out-not-empty 2 $CBAS synth --out "$T/a" $SMALL
if $CBAS synth --out "$T/x1" --gap 2019-06-01 2>&1 | grep -q -- '--gap'; then ok bad-gap-named; else bad bad-gap-named "message does not name --gap"; fi
expect_status bad-gap 2 $CBAS synth --out "$T/x2" --gap 20190901:20190601
expect_status bad-track 2 $CBAS synth --out "$T/x3" --track north
expect_status bad-width 2 $CBAS synth --out "$T/x4" --width 3
$CBAS synth --out "$T/x5" --width 20000 --length 16 --epochs 300 --mem 4M > "$T/out" 2>&1; r=$?
if [ "$r" = 1 ] && grep -q 'synth of a 20000-pixel-wide frame with 300 epochs needs .* MB, budget is 4.0 MB' "$T/out"; then ok budget-too-small
else bad budget-too-small "exit $r: $(cat "$T/out")"; fi
