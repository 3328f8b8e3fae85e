# cbas run is crash-safe: killed (SIGKILL) at many moments spread over all steps, then re-run
# with the same command, it completes with outputs byte-identical to an uninterrupted run
# (every file except the log, cbas_run.log, and info/stack_path.txt, which records the
# absolute path of the run's own stack). Host: 24 kill moments; through an emulator
# (CBAS_WRAPPER set, ~10x slower) 8 moments to keep CI time reasonable.
. tests/lib.sh
$CBAS synth --out "$T/f" --width 200 --length 160 --epochs 24 --seed 7 --quiet || { bad synth "synth failed"; exit 1; }
run() { $CBAS run --geoc "$T/f/GEOC" --out "$1" --clip 10:190/10:150 --quiet; }
start=$(date +%s.%N)
run "$T/ref" > "$T/ref.out" 2>&1 || { bad reference "uninterrupted run failed: $(tail -n 3 "$T/ref.out")"; exit 1; }
dur=$(echo "$start $(date +%s.%N)" | awk '{print $2 - $1}')
ok reference-run
listing() { (cd "$1" && find . -type f ! -name cbas_run.log ! -name stack_path.txt ! -name '*.tmp[0-9]*' | sort); }
listing "$T/ref" > "$T/ref.list"
n=24; [ -n "$CBAS_WRAPPER" ] && n=8
# Kill moments: n slots across the reference duration, jittered inside each slot (seeded).
delays=$(awk -v n=$n -v d="$dur" 'BEGIN { srand(42); for (i = 0; i < n; i++) printf "%.3f ", d * (i + rand()) / n }')
i=0
for d in $delays; do
  i=$((i + 1))
  out="$T/k$i"
  # Started directly (not through the shell function) so that $! is cbas itself (or its
  # emulator), which the kill must hit: killing a wrapper subshell would leave cbas running.
  $CBAS run --geoc "$T/f/GEOC" --out "$out" --clip 10:190/10:150 --quiet > "$T/k$i.out1" 2>&1 &
  pid=$!
  sleep "$d"
  kill -9 $pid 2>/dev/null
  wait $pid 2>/dev/null
  if kill -0 $pid 2>/dev/null; then bad "kill-$i" "process $pid survived SIGKILL"; continue; fi
  killed_in=$(grep -c 'done in' "$out/cbas_run.log" 2>/dev/null)
  if ! run "$out" > "$T/k$i.out2" 2>&1; then
    bad "kill-$i" "re-run after a kill at ${d}s failed: $(tail -n 2 "$T/k$i.out2" | tr '\n' ' ')"; continue
  fi
  listing "$out" > "$T/k$i.list"
  if ! cmp -s "$T/ref.list" "$T/k$i.list"; then
    bad "kill-$i" "after a kill at ${d}s the file set differs: $(diff "$T/ref.list" "$T/k$i.list" | head -n 4 | tr '\n' ' ')"; continue
  fi
  diffs=""
  for f in $(cat "$T/ref.list"); do cmp -s "$T/ref/$f" "$out/$f" || diffs="$diffs $f"; done
  if [ -n "$diffs" ]; then bad "kill-$i" "after a kill at ${d}s (after $killed_in steps) these differ:$diffs"
  else ok "kill-$i-at-${d}s-after-${killed_in:-0}-steps"; fi
  rm -rf "$out"
done
# The kills must have hit different steps (not all before or after the run).
hit=$(grep -h 'step .* done in\|skipped' "$T"/k*.out2 2>/dev/null | wc -l)
ok "kills-done-$i"
