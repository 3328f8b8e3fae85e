#!/bin/sh
# ts_pipeline.sh — the time series end to end: cbas synth -> prep -> check -> loop -> invert ->
# vstd on small synthetic frames, against synth's truth (truth/vel_fit.tif = the least-squares
# line of the true cumulative displacement, which NSBAS's velocity estimates):
#  - noise off: velocity error (after the reference offset, std_diff) < 0.001 mm/yr, cum of
#    every epoch within 0.01 mm of the truth up to the reference offset;
#  - 2 mm of atmosphere per epoch over 30 epochs (0.95 yr): std_diff < 2 mm/yr (the expected
#    error is 2 mm * sqrt(12/30) / 0.95 yr = 1.3 mm/yr);
#  - vstd/stc exist exactly where vel does; outputs byte-identical for 1 thread vs 2 threads
#    with 3-row blocks; batch-script names (p13_*, p14_*) are the same parameters; refusals
#    (step order, --mem too small, bad --inv-alg) name the problem.
. tests/lib.sh
cd "$T" || exit 1
num() { awk -v k="$1" '$1 == k {print $2}' "$2"; }
lt() { awk -v a="$1" -v b="$2" 'BEGIN {exit !(a < b)}'; }

# ---- noise off
$CBAS synth --out syn --width 90 --length 70 --epochs 30 --seed 5 --no-noise --quiet > synth.log 2>&1 \
  || { bad synth "cbas synth failed: $(tail -n 3 synth.log)"; exit 1; }
$CBAS prep --geoc syn/GEOC --out stk --quiet > prep.log 2>&1 || { bad prep "cbas prep failed: $(tail -n 3 prep.log)"; exit 1; }
expect_status invert-before-loop 2 $CBAS invert stk --ts TSx --quiet
expect check $CBAS check stk --quiet
expect_status invert-before-loop2 2 $CBAS invert stk --quiet
if grep -q "12bad_ifg.txt is missing: run cbas loop first" "$T/out"; then ok invert-needs-loop-message
else bad invert-needs-loop-message "$(cat "$T/out")"; fi
expect loop $CBAS loop stk --quiet
expect_status vstd-before-invert 2 $CBAS vstd stk --quiet
if grep -q "cum.tif is missing: run cbas invert first" "$T/out"; then ok vstd-needs-invert-message
else bad vstd-needs-invert-message "$(cat "$T/out")"; fi
expect invert $CBAS invert stk --threads 1 --quiet
expect vstd $CBAS vstd stk --threads 1 --quiet
R=TS_stk/results
for f in cum vel vintercept resid_rms n_gap n_ifg_noloop maxTlen vstd stc; do
  [ -f "$R/$f.tif" ] || bad "output-$f" "$R/$f.tif missing"
done
for f in 13parameters.txt 13used_image.txt 13resid.txt 13ref.txt 13ref.kml 13rms_cum_wrt_med.tif; do
  [ -f "TS_stk/info/$f" ] || bad "output-$f" "TS_stk/info/$f missing"
done
ok outputs-present

$CBAS compare $R/vel.tif syn/truth/vel_fit.tif > cmp_vel.txt 2>&1
s=$(num std_diff cmp_vel.txt); n=$(num n_valid cmp_vel.txt)
if [ -n "$s" ] && [ "${n:-0}" -gt 4000 ] && lt "$s" 0.001; then ok "vel-truth-noise-free (std_diff $s mm/yr over $n px)"
else bad vel-truth-noise-free "$(tr '\n' ' ' < cmp_vel.txt)"; fi
worst=0
for b in 1 8 15 22 30; do
  $CBAS compare $R/cum.tif syn/truth/cum.tif --band $b --demean > cmp_cum.txt 2>&1
  m=$(num max_abs_diff cmp_cum.txt)
  lt "${m:-1}" 0.01 || worst="band $b: $(tr '\n' ' ' < cmp_cum.txt)"
done
if [ "$worst" = 0 ]; then ok cum-truth-noise-free; else bad cum-truth-noise-free "$worst"; fi
# 12ref frame of vel.tif: exactly 0 at the 12ref pixel (step 15 relies on it)
ref=$(cat TS_stk/info/12ref.txt); x=${ref%%:*}; y=${ref#*/}; y=${y%%:*}
v=$($CBAS info $R/vel.tif --window "$x:$((x+1))/$y:$((y+1))" 2>&1 | tail -n 1)
if [ "$v" = 0 ]; then ok vel-zero-at-12ref; else bad vel-zero-at-12ref "vel at $x,$y = $v"; fi
$CBAS compare $R/vstd.tif $R/vel.tif > cmp_vstd.txt 2>&1
if [ "$(num only_a cmp_vstd.txt)" = 0 ] && [ "$(num only_b cmp_vstd.txt)" = 0 ]; then ok vstd-where-vel
else bad vstd-where-vel "$(tr '\n' ' ' < cmp_vstd.txt)"; fi
$CBAS compare $R/vel.tif $R/vel.tif > cmp_self.txt 2>&1
if [ "$(num rms_diff cmp_self.txt)" = 0 ] && [ "$(num n_valid cmp_self.txt)" = "$n" ]; then ok compare-self
else bad compare-self "$(tr '\n' ' ' < cmp_self.txt)"; fi

# ---- threads and blocks: byte-identical outputs
expect check2 $CBAS check stk --ts TS2 --quiet
expect loop2 $CBAS loop stk --ts TS2 --quiet
expect invert-2threads $CBAS invert stk --ts TS2 --threads 2 --block-rows 3 --quiet
expect vstd-2threads $CBAS vstd stk --ts TS2 --threads 2 --block-rows 3 --quiet
diffs=""
for f in results/cum.tif results/vel.tif results/vintercept.tif results/resid_rms.tif results/n_gap.tif \
         results/n_ifg_noloop.tif results/maxTlen.tif results/vstd.tif results/stc.tif info/13resid.txt \
         info/13ref.txt info/13used_image.txt info/13rms_cum_wrt_med.tif; do
  cmp -s "TS_stk/$f" "TS2/$f" || diffs="$diffs $f"
done
if [ -z "$diffs" ]; then ok threads-blocks-identical; else bad threads-blocks-identical "differ:$diffs"; fi

# ---- batch-script names are the same parameters
expect invert-batch-names $CBAS invert stk --ts TS2 --p13_gamma 0.0001 --p13_inv_alg LS --p13_n_unw_r_thre 1 --quiet
expect vstd-batch-names $CBAS vstd stk --ts TS2 --p14_mem_size 4000 --quiet
if cmp -s TS_stk/results/vel.tif TS2/results/vel.tif && cmp -s TS_stk/results/vstd.tif TS2/results/vstd.tif; then
  ok batch-names-same-result; else bad batch-names-same-result "vel.tif or vstd.tif differ"; fi

# ---- refusals
expect_status small-mem 1 $CBAS invert stk --mem 1M --quiet
if grep -q "cbas invert.* needs .* MB, budget is 1.0 MB" "$T/out"; then ok small-mem-message; else bad small-mem-message "$(cat "$T/out")"; fi
expect_status bad-inv-alg 2 $CBAS invert stk --inv-alg QR --quiet
if grep -q -- "--inv-alg: 'QR'" "$T/out"; then ok bad-inv-alg-message; else bad bad-inv-alg-message "$(cat "$T/out")"; fi
if $CBAS help | grep -q "^  invert " && $CBAS help | grep -q "^  vstd " && $CBAS help | grep -q "^  compare "; then
  ok help-lists-steps; else bad help-lists-steps "invert/vstd/compare missing from cbas help"; fi

# ---- low noise: 2 mm of turbulent atmosphere per epoch
$CBAS synth --out synn --width 90 --length 70 --epochs 30 --seed 5 --no-noise --phase-noise 1 --atm-mm 2 --quiet \
  > synth2.log 2>&1 || { bad synth-noisy "cbas synth failed: $(tail -n 3 synth2.log)"; exit 1; }
$CBAS prep --geoc synn/GEOC --out stkn --quiet > prep2.log 2>&1 || { bad prep-noisy "$(tail -n 3 prep2.log)"; exit 1; }
expect check-noisy $CBAS check stkn --quiet
expect loop-noisy $CBAS loop stkn --quiet
expect invert-noisy $CBAS invert stkn --quiet
expect vstd-noisy $CBAS vstd stkn --quiet
$CBAS compare TS_stkn/results/vel.tif synn/truth/vel_fit.tif > cmp_n.txt 2>&1
s=$(num std_diff cmp_n.txt)
if [ -n "$s" ] && lt "$s" 2.0; then ok "vel-truth-low-noise (std_diff $s mm/yr, expected ~1.3)"
else bad vel-truth-low-noise "$(tr '\n' ' ' < cmp_n.txt)"; fi
