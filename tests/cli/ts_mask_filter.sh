#!/bin/sh
# ts_mask_filter.sh — cbas mask-ts and cbas filter (LiCSBAS steps 15, 16) from the command line
# after synth -> prep -> check -> loop -> invert -> vstd on a small synthetic frame:
#  - outputs present with LiCSBAS's names; mask only 1/0/NaN and vel.mskd = vel where mask = 1;
#    cum_filt has one band per epoch like cum.tif; the 16ref pixel is unmasked and at min n_gap;
#  - 1 thread vs 2 threads and a budget small enough for one epoch per filter sweep:
#    byte-identical outputs (the cube in a work file is covered by test_step_filter);
#  - batch-script names (p15_*, p16_*) are the same parameters;
#  - with --filtwidth-km 0 and --filtwidth-yr 0, cum_filt = cum re-referenced;
#  - refusals name the problem: filter before mask-ts, bad --deg-deramp, bad --range, a budget
#    below one epoch's filter ring.
. tests/lib.sh
cd "$T" || exit 1
num() { awk -v k="$1" '$1 == k {print $2}' "$2"; }
lt() { awk -v a="$1" -v b="$2" 'BEGIN {exit !(a < b)}'; }

$CBAS synth --out syn --width 80 --length 60 --epochs 24 --seed 7 --atm-mm 3 --quiet > synth.log 2>&1 \
  || { bad synth "cbas synth failed: $(tail -n 3 synth.log)"; exit 1; }
$CBAS prep --geoc syn/GEOC --out stk --quiet > prep.log 2>&1 || { bad prep "cbas prep failed: $(tail -n 3 prep.log)"; exit 1; }
for s in check loop invert vstd; do
  $CBAS $s stk --quiet > $s.log 2>&1 || { bad "$s" "cbas $s failed: $(tail -n 3 $s.log)"; exit 1; }
done
cp -r TS_stk TS2
expect_status filter-before-mask 2 $CBAS filter stk --quiet
if grep -q "mask.tif is missing: run cbas mask-ts first" "$T/out"; then ok filter-needs-mask-message
else bad filter-needs-mask-message "$(cat "$T/out")"; fi
expect mask-ts $CBAS mask-ts stk --threads 1 --quiet
expect filter $CBAS filter stk --threads 1 --quiet
R=TS_stk/results
for f in mask vel.mskd cum_filt vel.filt vintercept.filt vel.filt.mskd vintercept.filt.mskd; do
  [ -f "$R/$f.tif" ] || bad "output-$f" "$R/$f.tif missing"
done
for f in 15parameters.txt 16parameters.txt 16ref.txt 16ref.kml 16rms_cum_wrt_med.tif; do
  [ -f "TS_stk/info/$f" ] || bad "output-$f" "TS_stk/info/$f missing"
done
ok outputs-present

# mask: 1/0/NaN; vel.mskd = vel where mask = 1 (compare over mask = 1 only)
$CBAS compare $R/vel.mskd.tif $R/vel.tif --mask $R/mask.tif > c1.txt 2>&1
if [ "$(num max_abs_diff c1.txt)" = 0 ] && [ "$(num only_b c1.txt)" = 0 ]; then ok vel-mskd-is-vel
else bad vel-mskd-is-vel "$(tr '\n' ' ' < c1.txt)"; fi
kept=$(grep '^Kept pixels' TS_stk/info/15parameters.txt | sed 's/.*: \([0-9]*\)\/.*/\1/')
nv=$($CBAS compare $R/vel.mskd.tif $R/vel.mskd.tif 2>&1 | awk '$1 == "n_valid" {print $2}')
if [ -n "$kept" ] && [ "$kept" = "$nv" ]; then ok kept-count-matches-report; else bad kept-count-matches-report "report $kept, vel.mskd valid $nv"; fi
nb=$($CBAS info $R/cum_filt.tif 2>&1 | grep -i 'bands' | head -n 1)
nb0=$($CBAS info $R/cum.tif 2>&1 | grep -i 'bands' | head -n 1)
if [ -n "$nb" ] && [ "$nb" = "$nb0" ]; then ok cum-filt-bands; else bad cum-filt-bands "'$nb' vs '$nb0'"; fi
ref=$(cat TS_stk/info/16ref.txt); x=${ref%%:*}; y=${ref#*/}; y=${y%%:*}
m=$($CBAS info $R/mask.tif --window "$x:$((x+1))/$y:$((y+1))" 2>&1 | tail -n 1)
if [ "$m" = 1 ]; then ok 16ref-unmasked; else bad 16ref-unmasked "mask at 16ref $x,$y = $m"; fi

# threads, sweeps, cube in a work file: byte-identical
expect mask-ts-2 $CBAS mask-ts stk --ts TS2 --threads 2 --mem 1M --no-png --quiet
expect filter-2 $CBAS filter stk --ts TS2 --threads 2 --mem 2M
if grep -q "filter (24 sweeps" "$T/out"; then ok filter-small-mem-sweeps; else bad filter-small-mem-sweeps "$(grep times "$T/out")"; fi
diffs=""
for f in results/mask.tif results/vel.mskd.tif results/cum_filt.tif results/vel.filt.tif results/vintercept.filt.tif \
         results/vel.filt.mskd.tif results/vintercept.filt.mskd.tif info/15parameters.txt info/16parameters.txt \
         info/16ref.txt info/16ref.kml info/16rms_cum_wrt_med.tif; do
  cmp -s "TS_stk/$f" "TS2/$f" || diffs="$diffs $f"
done
if [ -z "$diffs" ]; then ok threads-mem-identical; else bad threads-mem-identical "differ:$diffs"; fi

# batch-script names
expect mask-ts-batch $CBAS mask-ts stk --ts TS2 --p15_coh_thre 0.05 --p15_n_gap_thre 10 --p15_n_loop_err_thre 5 --quiet
expect filter-batch $CBAS filter stk --ts TS2 --p16_filtwidth_km 2 --p16_deg_deramp "" --quiet
if cmp -s TS_stk/info/15parameters.txt TS2/info/15parameters.txt && cmp -s $R/mask.tif TS2/results/mask.tif \
   && cmp -s $R/cum_filt.tif TS2/results/cum_filt.tif; then ok batch-names-same-result
else bad batch-names-same-result "15parameters.txt, mask.tif or cum_filt.tif differ"; fi
# a given -s prints as a Python float, as LiCSBAS's float(a)
if grep -q '^filtwidth_km:  2.0$' TS2/info/16parameters.txt; then ok filtwidth-km-given-float; else bad filtwidth-km-given-float "$(head -n 1 TS2/info/16parameters.txt)"; fi

# no filter at all: cum_filt = cum - cum(16ref), band by band (deramp off)
expect filter-none $CBAS filter stk --ts TS2 --filtwidth-km 0 --filtwidth-yr 0 --quiet
worst=0
for b in 2 12 24; do
  $CBAS compare TS2/results/cum_filt.tif TS_stk/results/cum.tif --band $b --demean > cn.txt 2>&1
  mx=$(num max_abs_diff cn.txt)
  lt "${mx:-1}" 0.0001 || worst="band $b: $(tr '\n' ' ' < cn.txt)"
done
if [ "$worst" = 0 ]; then ok no-filter-is-rereferenced-cum; else bad no-filter-is-rereferenced-cum "$worst"; fi

# refusals
expect_status bad-deramp 2 $CBAS filter stk --ts TS2 --deg-deramp 3 --quiet
if grep -q -- "--deg-deramp" "$T/out"; then ok bad-deramp-named; else bad bad-deramp-named "$(cat "$T/out")"; fi
expect_status bad-range 2 $CBAS filter stk --ts TS2 --range 0:999/0:0 --quiet
if grep -q -- "--range" "$T/out"; then ok bad-range-named; else bad bad-range-named "$(cat "$T/out")"; fi
expect_status tiny-mem 1 $CBAS filter stk --ts TS2 --mem 1M --quiet
if grep -q "^cbas filter: one epoch's filter ring needs .* MB, budget is 1.0 MB" "$T/out"; then ok tiny-mem-message
else bad tiny-mem-message "$(cat "$T/out")"; fi
