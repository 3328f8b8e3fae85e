#!/bin/sh
# City benchmark (issues 4 and 5; figures only, nothing passes or fails on time): the sample city
# AOI (samples/city.conf: 324 x 216 pixels clipped from a 600 x 500 synthetic frame) with 81
# epochs (~280 ifgs) and 133 epochs (~460 ifgs).
#  * end to end: `cbas run` (02-16 + pictures), fresh output folder each time;
#  * steps 11-16 alone: cbas check/loop/invert/vstd/mask-ts/filter on the run's clipped stack.
# Medians of CITY_BENCH_RUNS runs (3) of wall time, CPU time (user + sys) and peak RSS, from
# /usr/bin/time -v, for each --mem in CITY_BENCH_MEM ("64M 256M").
# With LICSBAS=/path/to/LiCSBAS (a checkout; Debian's python3-numpy/-gdal/-h5py/-matplotlib/
# -astropy installed), LiCSBAS 02, 05 and 11-16 run once on the same GEOC with its defaults
# (same clip range, --multi_prime as the sample config); the ratios are printed, and the
# agreement of the results (tests/bench/city_compare.py: reports, velocities, mask, RMSE
# against the synthetic truth).
# Env: CITY_BENCH_EPOCHS ("81 133").
[ -x /usr/bin/time ] || { echo "city bench: /usr/bin/time (GNU time) not installed"; exit 1; }
EPOCHS=${CITY_BENCH_EPOCHS:-81 133}
RUNS=${CITY_BENCH_RUNS:-3}
MEMS=${CITY_BENCH_MEM:-64M 256M}
ROOT=$(pwd)
CLIP=$(sed -n 's/^p05_clip_range_geo="\([^"]*\)".*/\1/p' samples/city.conf)
B="$BENCH_TMP/city"
mkdir -p "$B"

tv() { # FILE: prints "wall_s cpu_s rss_kb" of one /usr/bin/time -v report
  awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, a, ":"); w = 0; for (k = 1; k <= n; k++) w = w * 60 + a[k] }
              /User time|System time/ { c += $2 } /Maximum resident/ { r = $2 }
              END { printf "%.2f %.2f %d\n", w, c, r }' "$1"
}
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
col() { cut -d' ' -f"$1" "$2" | median; }
report() { # LABEL FILE(lines "wall cpu rss")
  printf "  %-34s wall %7.2f s  cpu %7.2f s  peak RSS %6.1f MB  (median of %d)\n" "$1" \
    "$(col 1 "$2")" "$(col 2 "$2")" "$(col 3 "$2" | awk '{ print $1 / 1024 }')" "$(wc -l < "$2")"
}

for E in $EPOCHS; do
  F="$B/frame$E"
  if [ ! -f "$F/truth/vel.tif" ]; then
    rm -rf "$F"
    $CBAS synth --out "$F" --epochs "$E" --seed 1 --quiet || { echo "city bench: synth failed"; exit 1; }
  fi
  n_ifg=$(ls -d "$F"/GEOC/2*_2* | wc -l)
  echo "== $E epochs, $n_ifg interferograms, city AOI 324 x 216"
  for M in $MEMS; do
    : > "$B/e2e.txt"; : > "$B/ts.txt"
    i=1
    while [ $i -le "$RUNS" ]; do
      O="$B/out$E"
      rm -rf "$O"
      /usr/bin/time -v $CBAS run -c samples/city.conf --geoc "$F/GEOC" --out "$O" --mem "$M" --quiet \
        > "$B/run.log" 2>&1 || { tail -n 5 "$B/run.log"; exit 1; }
      tv "$B/run.log" >> "$B/e2e.txt"
      # steps 11-16 alone on the clipped stack of that run
      S="$O/GEOCml1clip"; T="$B/ts$E"
      rm -rf "$T"; w=0; c=0; r=0
      for st in "check $S --ts $T" "loop --ts $T --multi-prime" "invert --ts $T" "vstd --ts $T" \
                "mask-ts --ts $T" "filter --ts $T"; do
        # shellcheck disable=SC2086
        /usr/bin/time -v $CBAS $st --mem "$M" --quiet > "$B/st.log" 2>&1 || { tail -n 5 "$B/st.log"; exit 1; }
        set -- $(tv "$B/st.log")
        w=$(echo "$w $1" | awk '{ print $1 + $2 }'); c=$(echo "$c $2" | awk '{ print $1 + $2 }')
        [ "$3" -gt "$r" ] && r=$3
      done
      echo "$w $c $r" >> "$B/ts.txt"
      i=$((i + 1))
    done
    report "cbas run 02-16 + pictures, --mem $M" "$B/e2e.txt"
    report "cbas steps 11-16, --mem $M" "$B/ts.txt"
    cp "$B/e2e.txt" "$B/e2e_${E}_${M}.txt"; cp "$B/ts.txt" "$B/ts_${E}_${M}.txt"
  done
  [ -n "${LICSBAS:-}" ] || continue
  # ---- LiCSBAS on the same GEOC (one run: it takes minutes per step) ----
  L="$B/lb$E"; rm -rf "$L"; mkdir -p "$L/py"
  # newer matplotlib refuses LiCSBAS's re-registration of its colormaps in forked workers
  cat > "$L/py/sitecustomize.py" <<'EOF'
try:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.cm as _cm
    _orig = _cm.register_cmap
    def _register(name=None, cmap=None, **kw):
        try:
            return _orig(name=name, cmap=cmap, **kw)
        except ValueError:
            return None
    _cm.register_cmap = _register
    import matplotlib.pyplot as _plt
    _plt.cm.register_cmap = _register
except Exception:
    pass
EOF
  ln -s "$F/GEOC" "$L/GEOC"
  : > "$L/steps.txt"
  lb() { # STEP SCRIPT ARGS
    s=$1; shift
    (cd "$L" && PYTHONPATH="$L/py:$LICSBAS/LiCSBAS_lib" PATH="$LICSBAS/bin:$PATH" \
       /usr/bin/time -v /usr/bin/python3 "$LICSBAS/bin/$@" > "lb$s.log" 2>&1) ||
      { echo "LiCSBAS step $s failed: $(tail -n 3 "$L/lb$s.log")"; return 1; }
    echo "$s $(tv "$L/lb$s.log")" >> "$L/steps.txt"
  }
  lb 02 LiCSBAS02_ml_prep.py -i GEOC -o GEOCml1 -n 1 &&
  lb 05 LiCSBAS05op_clip_unw.py -i GEOCml1 -o GEOCml1clip -g "$CLIP" &&
  lb 11 LiCSBAS11_check_unw.py -d GEOCml1clip -t TS_GEOCml1clip &&
  lb 12 LiCSBAS12_loop_closure.py -d GEOCml1clip -t TS_GEOCml1clip --multi_prime &&
  lb 13 LiCSBAS13_sb_inv.py -d GEOCml1clip -t TS_GEOCml1clip &&
  lb 14 LiCSBAS14_vel_std.py -t TS_GEOCml1clip &&
  lb 15 LiCSBAS15_mask_ts.py -t TS_GEOCml1clip &&
  lb 16 LiCSBAS16_filt_ts.py -t TS_GEOCml1clip || continue
  sed 's/^/  LiCSBAS step /; s/$/  (wall s, cpu s, peak RSS KB)/' "$L/steps.txt"
  echo "  agreement of the last cbas run (--mem $M) with LiCSBAS, and both against the truth:"
  /usr/bin/python3 tests/bench/city_compare.py "$B/out$E/TS_GEOCml1clip" "$L/TS_GEOCml1clip" "$F/truth/vel.tif"
  set -- $(awk '{ w += $2; c += $3; if ($4 > r) r = $4 } END { print w, c, r }' "$L/steps.txt")
  set -- "$@" $(awk '$1 >= 11 { w += $2; c += $3; if ($4 > r) r = $4 } END { print w, c, r }' "$L/steps.txt")
  printf "  %-34s wall %7.2f s  cpu %7.2f s  peak RSS %6.1f MB\n" "LiCSBAS 02, 05, 11-16" "$1" "$2" "$(echo "$3" | awk '{ print $1 / 1024 }')"
  printf "  %-34s wall %7.2f s  cpu %7.2f s  peak RSS %6.1f MB\n" "LiCSBAS 11-16" "$4" "$5" "$(echo "$6" | awk '{ print $1 / 1024 }')"
  for M in $MEMS; do
    printf "  ratio LiCSBAS / cbas (--mem %s): end to end wall %.0fx cpu %.0fx; steps 11-16 wall %.0fx cpu %.0fx\n" "$M" \
      "$(echo "$1 $(col 1 "$B/e2e_${E}_${M}.txt")" | awk '{ print $1 / $2 }')" \
      "$(echo "$2 $(col 2 "$B/e2e_${E}_${M}.txt")" | awk '{ print $1 / $2 }')" \
      "$(echo "$4 $(col 1 "$B/ts_${E}_${M}.txt")" | awk '{ print $1 / $2 }')" \
      "$(echo "$5 $(col 2 "$B/ts_${E}_${M}.txt")" | awk '{ print $1 / $2 }')"
  done
done
