# cbas prep under --mem (issue 3): a budget that holds one worker works (and its peak stays
# under it); one that does not fails before decoding with "needs N MB", writing nothing.
# Per worker: nlook rows of the AOI window's source columns (float32) + two decoded strips.
. tests/lib.sh
G="$T/f/GEOC"
$CBAS synth --out "$T/f" --width 1800 --length 300 --epochs 3 --n-bad 0 --seed 2 --quiet || { bad synth "synth failed"; exit 0; }
# nlook 150 over 1800 columns: one chunk = 150 rows x 1800 x 4 B = 1.03 MB (+ strips) > 1 MB
expect_status too-small 1 $CBAS prep --geoc "$G" --out "$T/s" --nlook 150 --mem 1M
grep -q "needs [0-9.]* MB" "$T/out" && ok needs-n-mb || bad needs-n-mb "$(cat "$T/out")"
[ ! -e "$T/s" ] && [ -z "$(ls -d "$T"/s.tmp* 2>/dev/null)" ] && ok too-small-no-output || bad too-small-no-output "$(ls "$T")"
$CBAS prep --geoc "$G" --out "$T/s" --nlook 150 --mem 2M > "$T/log" 2>&1 && ok fits || bad fits "$(cat "$T/log")"
grep -q "peak memory [0-9.]* MB of 2.0 MB" "$T/log" && ok peak-reported || bad peak-reported "$(cat "$T/log")"
# the same run with a small clip fits in the minimum budget
expect small-clip $CBAS prep --geoc "$G" --out "$T/s2" --clip 100:400/20:150 --mem 1M --quiet
