#!/bin/sh
# ts_check_loop.sh — cbas check + cbas loop (LiCSBAS steps 11–12) on a synthetic frame from
# cbas synth, stacked by cbas prep: the planted globally bad interferograms (truth/bad_ifg.txt)
# end up in 11bad_ifg.txt or 12bad_ifg.txt; the outputs are byte-identical for 1 thread and
# whole-image blocks vs 4 threads and 7-row blocks; batch-script option names give the same
# result; step order, missing files and a too small --mem are refused with a clear message.
. tests/lib.sh
cd "$T" || exit 1
$CBAS synth --out syn --width 120 --length 90 --epochs 16 --seed 3 --quiet > synth.log 2>&1 \
  || { bad synth "cbas synth failed: $(tail -n 3 synth.log)"; exit 1; }
$CBAS prep --geoc syn/GEOC --out stk --quiet > prep.log 2>&1 \
  || { bad prep "cbas prep failed: $(tail -n 3 prep.log)"; exit 1; }

expect check-1thread $CBAS check stk --ts TS1 --threads 1 --quiet
expect loop-1thread $CBAS loop --ts TS1 --threads 1 --multi-prime --quiet
expect check-4threads $CBAS check stk --ts TS4 --threads 4 --block-rows 7 --quiet
expect loop-4threads $CBAS loop stk --ts TS4 --threads 4 --block-rows 7 --multi-prime --quiet

# Every planted globally bad interferogram is caught by step 11 or 12.
missing=""
for ifg in $(grep -v '^#' syn/truth/bad_ifg.txt | awk '{print $1}'); do
  cat TS1/info/11bad_ifg.txt TS1/info/12bad_ifg.txt | grep -qx "$ifg" || missing="$missing $ifg"
done
if [ -z "$missing" ] && [ -s syn/truth/bad_ifg.txt ]; then ok planted-bad-caught
else bad planted-bad-caught "not in 11bad/12bad:$missing"; fi

# Identical outputs whatever the thread count and block size.
diffs=""
for f in info/11bad_ifg.txt info/11ifg_stats.txt info/11removed_image.txt info/12bad_ifg.txt \
         info/12bad_ifg_cand.txt info/12ref.txt info/12removed_image.txt info/12network_gap_info.txt \
         12loop/loop_info.txt 12loop/bad_ifg_loop.txt 12loop/bad_ifg_noref.txt 12loop/bad_ifg_loopref.txt \
         results/n_loop_err.tif results/n_unw.tif results/coh_avg.tif results/n_ifg_noloop.tif \
         12loop/loop_ph_rms_masked.tif; do
  cmp -s "TS1/$f" "TS4/$f" || diffs="$diffs $f"
done
if [ -z "$diffs" ]; then ok threads-blocks-identical; else bad threads-blocks-identical "differ:$diffs"; fi

# The TS directory records its stack; the default TS directory is TS_<stack> beside it.
if grep -q "/stk$" TS1/info/stack_path.txt; then ok stack-recorded; else bad stack-recorded "$(cat TS1/info/stack_path.txt)"; fi
expect check-default-ts $CBAS check stk --quiet
if [ -f TS_stk/info/11bad_ifg.txt ]; then ok default-ts-dir; else bad default-ts-dir "no TS_stk/info/11bad_ifg.txt"; fi

# Batch-script names (p12_loop_thre, p12_multi_prime) are the same parameters.
expect loop-batch-names $CBAS loop stk --p12_loop_thre 1.5 --p12_multi_prime y --quiet
if cmp -s TS1/info/12bad_ifg.txt TS_stk/info/12bad_ifg.txt && cmp -s TS1/info/12ref.txt TS_stk/info/12ref.txt; then
  ok batch-names-same-result; else bad batch-names-same-result "12bad/12ref differ from --multi-prime run"; fi

# A stricter threshold never removes fewer interferograms.
expect check-strict $CBAS check stk --ts TSs --quiet
expect loop-strict $CBAS loop --ts TSs --loop-thre 0.8 --quiet
n1=$(wc -l < TS_stk/info/12bad_ifg.txt); n2=$(wc -l < TSs/info/12bad_ifg.txt)
if [ "$n2" -ge "$n1" ]; then ok stricter-threshold; else bad stricter-threshold "$n2 bad at 0.8 rad < $n1 at 1.5 rad"; fi

# Refusals.
mkdir -p fresh/info
echo "$T/stk" > fresh/info/stack_path.txt
expect_status loop-before-check 2 $CBAS loop --ts fresh --quiet
if grep -q "run cbas check first" "$T/out"; then ok loop-before-check-message; else bad loop-before-check-message "$(cat "$T/out")"; fi
expect_status rm-list-missing 2 $CBAS loop stk --ts TS1 --rm-ifg-list nowhere.txt --quiet
if grep -q "nowhere.txt" "$T/out"; then ok rm-list-missing-named; else bad rm-list-missing-named "$(cat "$T/out")"; fi
expect_status small-mem 1 $CBAS loop stk --ts TS1 --mem 1M --quiet
if grep -q "cbas loop.* needs .* MB, budget is 1.0 MB" "$T/out"; then ok small-mem-message; else bad small-mem-message "$(cat "$T/out")"; fi
# Everything bad: a message saying why there is no reference pixel (LiCSBAS crashes here).
expect_status all-loops-bad 1 $CBAS loop stk --ts TSs --loop-thre 0.01 --quiet
if grep -q "every loop contains a bad interferogram" "$T/out"; then ok all-loops-bad-message; else bad all-loops-bad-message "$(cat "$T/out")"; fi
expect_status wrong-stack 2 $CBAS loop --ts TS1 --stack syn --quiet
expect_status bad-threshold 2 $CBAS check stk --unw-thre abc --quiet
if grep -q -- "--unw-thre: malformed value 'abc'" "$T/out"; then ok bad-threshold-named; else bad bad-threshold-named "$(cat "$T/out")"; fi
if $CBAS help | grep -q "^  check " && $CBAS help | grep -q "^  loop "; then ok help-lists-steps; else bad help-lists-steps "check/loop missing from cbas help"; fi
