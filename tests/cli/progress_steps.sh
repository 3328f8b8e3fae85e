#!/bin/sh
# progress_steps.sh — the progress bars of cbas check, loop, invert, vstd, mask-ts and filter
# (LiCSBAS steps 11–16; issue #5): with stderr on a terminal (a pseudo-terminal from script(1),
# util-linux/bsdutils) every pass draws "LABEL [###...] 100% N/N" with the expected label and
# row count (N = frame length, 2 x length for a filter sweep: its filter rows, then its median
# rows; every sweep k/K of a small-budget run); with stderr redirected to a file, or with
# --quiet on a terminal, no bar is drawn; and the outputs are byte-identical with and without
# a terminal (the bars change no result).
. tests/lib.sh
cd "$T" || exit 1
command -v script > /dev/null 2>&1 || { bad script "script(1) (util-linux/bsdutils) is missing"; exit 1; }
$CBAS synth --out syn --width 60 --length 50 --epochs 12 --quiet > synth.log 2>&1 \
  || { bad synth "cbas synth failed: $(tail -n 3 synth.log)"; exit 1; }
$CBAS prep --geoc syn/GEOC --out stk --quiet > prep.log 2>&1 \
  || { bad prep "cbas prep failed: $(tail -n 3 prep.log)"; exit 1; }
L=50
full() { printf '%s [##############################] 100%% %s/%s\n' "$1" "$2" "$2"; }

# args of each step: the filter with a deramp (its fit pass) and a budget that needs sweeps
args() { case $1 in filter) echo "--deg-deramp 1 --mem 2M" ;; *) echo "" ;; esac; }
for s in check loop invert vstd mask-ts filter; do
  # on a terminal: script runs the command on a pseudo-terminal, stdout+stderr to the typescript
  script -qec "$CBAS $s stk --ts TT --threads 2 $(args $s)" /dev/null < /dev/null > "$s.tty" 2>&1
  r=$?
  if [ $r -eq 0 ]; then ok "$s-terminal"; else bad "$s-terminal" "exit $r: $(tail -n 3 "$s.tty" | tr '\r' ' ')"; fi
  tr '\r' '\n' < "$s.tty" > "$s.lines"
  # not a terminal: stderr to a file
  $CBAS $s stk --ts TP --threads 2 $(args $s) > "$s.out" 2> "$s.err"
  r=$?
  if [ $r -eq 0 ]; then ok "$s-redirected"; else bad "$s-redirected" "exit $r: $(tail -n 3 "$s.err")"; fi
done

# Every pass's bar, complete, with its label.
bars_of() {
  case $1 in
  check) echo "check" ;;
  loop) echo "loop pass 1.1|loop pass 2|loop pass 3|loop pass 4" ;;
  invert) echo "invert pass 1|invert pass 2|invert pass 4|invert pass 5" ;;
  vstd) echo "vstd pass 1|vstd pass 2" ;;
  mask-ts) echo "mask-ts pass 1|mask-ts pass 2" ;;
  filter) echo "filter n_gap|filter deramp|filter 16ref|filter outputs" ;;
  esac
}
for s in check loop invert vstd mask-ts filter; do
  missing=""
  IFS='|'
  for b in $(bars_of $s); do
    grep -qxF "$(full "$b" $L)" "$s.lines" || missing="$missing '$b'"
  done
  unset IFS
  if [ -z "$missing" ]; then ok "$s-bars-complete"; else bad "$s-bars-complete" "no complete bar for$missing: $(grep -a '%' "$s.lines" | tr '\n' ' ')"; fi
done

# The filter sweeps: K >= 2 with --mem 2M, each k/K complete over 2 x length rows.
K=$(sed -n 's|^filter sweep 1/\([0-9]*\) .*|\1|p' filter.lines | head -n 1)
missing=""
k=1
while [ -n "$K" ] && [ $k -le "$K" ]; do
  grep -qxF "$(full "filter sweep $k/$K" $((2 * L)))" filter.lines || missing="$missing $k"
  k=$((k + 1))
done
if [ -n "$K" ] && [ "$K" -ge 2 ] && [ -z "$missing" ]; then ok filter-sweep-bars
else bad filter-sweep-bars "K='$K', incomplete sweeps:$missing: $(grep -a 'sweep' filter.lines | tr '\n' ' ')"; fi

# A bar never overshoots: no "done" count above its total.
over=$(grep -ah '\] *[0-9]*% [0-9]*/[0-9]*$' ./*.lines | awk '{split($NF, a, "/"); if (a[1] + 0 > a[2] + 0) print}')
if [ -z "$over" ]; then ok bars-within-total; else bad bars-within-total "$over"; fi

# Not a terminal: no carriage return, no bar, on stderr or stdout.
drawn=""
for s in check loop invert vstd mask-ts filter; do
  if [ "$(tr -dc '\r' < "$s.err" | wc -c)" -ne 0 ] || grep -q '\] *[0-9]*% ' "$s.err" "$s.out"; then drawn="$drawn $s"; fi
done
if [ -z "$drawn" ]; then ok no-bar-when-redirected; else bad no-bar-when-redirected "bar drawn by:$drawn"; fi
# ... while the informational lines are still there (the test looks at the right stream)
if grep -q "^cbas check: " check.err && grep -q "^cbas filter: " filter.err; then ok redirected-info-kept
else bad redirected-info-kept "$(head -n 2 check.err)"; fi

# A terminal with --quiet: no bar either.
script -qec "$CBAS check stk --ts TQ --quiet" /dev/null < /dev/null > quiet.tty 2>&1
if [ "$(tr -dc '\r' < quiet.tty | wc -c)" -eq 0 ] && ! grep -q '%' quiet.tty && [ -f TQ/info/11bad_ifg.txt ]; then
  ok no-bar-when-quiet; else bad no-bar-when-quiet "$(tr '\r' '\n' < quiet.tty | head -n 3)"; fi

# The bars change no output byte.
diffs=""
for f in $(cd TP && find . -type f | sort); do
  cmp -s "TP/$f" "TT/$f" || diffs="$diffs $f"
done
n=$(cd TP && find . -type f | wc -l)
if [ -z "$diffs" ] && [ "$n" -gt 30 ]; then ok outputs-identical; else bad outputs-identical "$n files, differ:$diffs"; fi
