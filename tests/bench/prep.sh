#!/bin/sh
# cbas prep benchmark (issue 3; figures only, not a timed test): a 2700x2200-pixel, 81-epoch
# synthetic frame (~240 interferograms) clipped to a 324x216 AOI with --mem 64M. Reports the
# medians of 3 runs of wall time and peak RSS (/usr/bin/time -v), bytes written, beside the
# floor: `cbas prep --decode-only`, which only inflates the AOI's strips of every file (same
# screening, same windows, same threads) and discards them.
# Targets: time within 1.5x of the floor, peak RSS < 64 MB, output < 1/20 of the input tifs.
# Env: PREP_BENCH_FRAME=DIR reuses a frame (made once under $BENCH_TMP otherwise).
set -u
F=${PREP_BENCH_FRAME:-$BENCH_TMP/prep_frame}
CLIP=${PREP_BENCH_CLIP:-1188:1512/992:1208}
if [ ! -f "$F/GEOC/baselines" ]; then
  echo "making the frame in $F (once)..."
  rm -rf "$F"
  $CBAS synth --out "$F" --width 2700 --length 2200 --epochs 81 --degree 3 --miss 0 --seed 1 --quiet || exit 1
fi
G="$F/GEOC"
n_ifg=$(ls -d "$G"/2*_2* | wc -l)
in_bytes=$(find "$G" -name '*.tif' -exec stat -c %s {} + | awk '{s+=$1} END {print s}')
T=/usr/bin/time
[ -x $T ] || { echo "prep bench: /usr/bin/time missing (apt-get install time)"; exit 1; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
run3() { # label, then the command; prints "wall_s rss_kb cpu_s" medians (cpu = user + sys)
  label=$1; shift
  : > "$BENCH_TMP/prep_$label.txt"
  for i in 1 2 3; do
    sync
    $T -v "$@" 2> "$BENCH_TMP/prep_time.txt" >/dev/null || { echo "$label run failed:"; cat "$BENCH_TMP/prep_time.txt"; exit 1; }
    w=$(grep 'Elapsed (wall clock)' "$BENCH_TMP/prep_time.txt" | awk '{print $NF}' | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
    r=$(grep 'Maximum resident set size' "$BENCH_TMP/prep_time.txt" | awk '{print $NF}')
    c=$(grep -E 'User time|System time' "$BENCH_TMP/prep_time.txt" | awk '{s+=$NF} END {print s}')
    echo "$w $r $c" >> "$BENCH_TMP/prep_$label.txt"
  done
  echo "$(cut -d' ' -f1 "$BENCH_TMP/prep_$label.txt" | median) $(cut -d' ' -f2 "$BENCH_TMP/prep_$label.txt" | median) $(cut -d' ' -f3 "$BENCH_TMP/prep_$label.txt" | median)"
}
S="$BENCH_TMP/prep_stack"
floor=$(run3 floor $CBAS prep --geoc "$G" --out "$S" --clip "$CLIP" --mem 64M --decode-only --quiet)
prep=$(run3 prep $CBAS prep --geoc "$G" --out "$S" --clip "$CLIP" --mem 64M --quiet)
out_bytes=$(find "$S" -type f -exec stat -c %s {} + | awk '{s+=$1} END {print s}')
set -- $floor; fw=$1; fr=$2; fc=$3
set -- $prep; pw=$1; pr=$2; pc=$3
echo "frame: 2700x2200, $n_ifg interferograms, input GeoTIFFs $(awk "BEGIN {printf \"%.1f\", $in_bytes/1048576}") MB; AOI $CLIP (324x216); --mem 64M; $(nproc) cores"
printf "floor (decode AOI strips only): %6.2f s wall, %6.2f s cpu, peak RSS %6.1f MB   (wall of runs: %s)\n" "$fw" "$fc" "$(awk "BEGIN {print $fr/1024}")" "$(cut -d' ' -f1 "$BENCH_TMP/prep_floor.txt" | tr '\n' ' ')"
printf "prep:                           %6.2f s wall, %6.2f s cpu, peak RSS %6.1f MB   (wall of runs: %s)\n" "$pw" "$pc" "$(awk "BEGIN {print $pr/1024}")" "$(cut -d' ' -f1 "$BENCH_TMP/prep_prep.txt" | tr '\n' ' ')"
echo "load average when done: $(cut -d' ' -f1-3 /proc/loadavg)"
awk "BEGIN {printf \"prep/floor: %.2fx wall, %.2fx cpu (target <= 1.5x); RSS %s 64 MB; written %.1f MB = 1/%.0f of the input (target < 1/20)\n\", $pw/$fw, $pc/$fc, ($pr/1024 < 64 ? \"<\" : \">=\"), $out_bytes/1048576, $in_bytes/$out_bytes}"
