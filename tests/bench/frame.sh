#!/bin/sh
# Whole-frame benchmark (issue 4; figures only): steps 11-16 on a full 2700 x 2200-pixel frame,
# 81 epochs (~240 interferograms), under --mem 256M. Memory must not grow with the area: the
# target is a peak RSS below 300 MB for every step. Each step runs once under
# `prlimit --as=BUDGET+32M` (an address-space limit, stricter than RSS) and /usr/bin/time -v.
# The frame is made once with `cbas synth` and prepared without clipping (`cbas prep`, the whole
# frame as the stack: ~7 GB of disk under $BENCH_TMP/frame).
# Env: FRAME_BENCH_FRAME=DIR reuses a synthetic frame (e.g. the prep benchmark's);
#      FRAME_BENCH_MEM (256M); FRAME_BENCH_KEEP=1 keeps the stack and TS folder afterwards.
[ -x /usr/bin/time ] && command -v prlimit >/dev/null || { echo "frame bench: needs /usr/bin/time and prlimit"; exit 1; }
[ -n "${CBAS_WRAPPER:-}" ] && { echo "frame bench: host build only (an emulator's address space would count)"; exit 0; }
M=${FRAME_BENCH_MEM:-256M}
mb=$(echo "$M" | sed 's/[Mm]$//')
as=$(( (mb + 32) * 1048576 ))
B="$BENCH_TMP/frame"
F=${FRAME_BENCH_FRAME:-$B/synth}
mkdir -p "$B"
if [ ! -f "$F/GEOC/baselines" ]; then
  echo "making the frame in $F (once)..."
  rm -rf "$F"
  $CBAS synth --out "$F" --width 2700 --length 2200 --epochs 81 --degree 3 --miss 0 --seed 1 --quiet || exit 1
fi
S="$B/stack"; T="$B/TS"
tv() { # FILE: prints "wall_s cpu_s rss_MB"
  awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, a, ":"); w = 0; for (k = 1; k <= n; k++) w = w * 60 + a[k] }
              /User time|System time/ { c += $2 } /Maximum resident/ { r = $2 }
              END { printf "%.1f %.1f %.1f\n", w, c, r / 1024 }' "$1"
}
worst=0
step() { # LABEL ARGS...
  label=$1; shift
  if /usr/bin/time -v prlimit --as=$as $CBAS_BIN "$@" --mem "$M" --quiet > "$B/$label.log" 2>&1; then
    set -- $(tv "$B/$label.log")
    printf "  %-10s wall %7.1f s  cpu %7.1f s  peak RSS %6.1f MB\n" "$label" "$1" "$2" "$3"
    worst=$(echo "$worst $3" | awk '{ print ($2 > $1) ? $2 : $1 }')
  else
    echo "  $label FAILED under --as $((mb + 32))M: $(grep -v '^\s' "$B/$label.log" | tail -n 2 | tr '\n' ' ')"
    exit 1
  fi
}
n_ifg=$(ls -d "$F"/GEOC/2*_2* | wc -l)
echo "== whole frame 2700 x 2200, 81 epochs, $n_ifg interferograms, --mem $M (limit --as $((mb + 32))M)"
rm -rf "$S" "$T"
step prep prep --geoc "$F/GEOC" --out "$S"
step 11-check check "$S" --ts "$T"
step 12-loop loop --ts "$T" --multi-prime
step 13-invert invert --ts "$T"
step 14-vstd vstd --ts "$T"
step 15-mask mask-ts --ts "$T"
step 16-filter filter --ts "$T"
echo "  highest peak RSS of steps and prep: $worst MB (target < 300 MB)"
du -sh "$S" "$T" | awk '{ print "  size of " $2 ": " $1 }'
[ "${FRAME_BENCH_KEEP:-0}" = 1 ] || rm -rf "$S" "$T"
