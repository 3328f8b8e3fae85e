#!/bin/sh
# synth benchmark: a 1200 x 1000, 81-epoch frame (~280 interferograms) under --mem 64M, three
# runs; reports wall time, CPU time and peak RSS of each (from /usr/bin/time -v) and the median
# wall time. Figures only: nothing passes or fails on time. Needs GNU time (/usr/bin/time).
# Environment: SYNTH_BENCH_ARGS replaces the frame options, SYNTH_BENCH_RUNS the run count (3).
args=${SYNTH_BENCH_ARGS:---width 1200 --length 1000 --epochs 81 --mem 64M}
runs=${SYNTH_BENCH_RUNS:-3}
out="$BENCH_TMP/synth"
[ -x /usr/bin/time ] || { echo "synth bench: /usr/bin/time (GNU time) not installed"; exit 1; }
walls=""
i=1
while [ "$i" -le "$runs" ]; do
  rm -rf "$out"
  # shellcheck disable=SC2086
  /usr/bin/time -v $CBAS synth --out "$out" $args > "$BENCH_TMP/synth.log" 2>&1 || { cat "$BENCH_TMP/synth.log"; exit 1; }
  wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$BENCH_TMP/synth.log" |
         awk -F: '{ s = 0; for (k = 1; k <= NF; k++) s = s * 60 + $k; print s }')
  user=$(sed -n 's/.*User time (seconds): //p' "$BENCH_TMP/synth.log")
  sys=$(sed -n 's/.*System time (seconds): //p' "$BENCH_TMP/synth.log")
  rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$BENCH_TMP/synth.log")
  line=$(grep '^synth:' "$BENCH_TMP/synth.log")
  echo "run $i: wall ${wall} s, user ${user} s, sys ${sys} s, peak RSS $((rss / 1024)) MB  | $line"
  walls="$walls $wall"
  i=$((i + 1))
done
echo "$walls" | tr ' ' '\n' | grep . | sort -n | awk '{ v[NR] = $1 } END { printf "synth median wall time over %d runs: %s s\n", NR, v[int((NR + 1) / 2)] }'
du -sh "$out" | awk '{ print "synth output size: " $1 }'
rm -rf "$out"
