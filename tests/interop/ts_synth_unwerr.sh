#!/bin/sh
# ts_synth_unwerr.sh — the unwrapping errors cbas synth plants (truth/unwerr_ifg.txt: 2π
# patches in chosen interferograms) are caught by cbas loop: at each patch centre with data,
# either the interferogram is in 11bad/12bad, or results/n_loop_err.tif counts at least one
# unclosed loop there, or the interferogram is in no loop at all and is listed in
# info/12no_loop_ifg.txt for a manual check (loop closure cannot see it, nor can LiCSBAS).
# Pixel values are read with GDAL's gdallocationinfo, independently of cbas.
. tests/lib.sh
if ! command -v gdallocationinfo >/dev/null 2>&1; then bad gdal-present "gdallocationinfo not installed"; exit 1; fi
cd "$T" || exit 1
$CBAS synth --out syn --width 200 --length 150 --epochs 25 --n-unwerr 6 --seed 5 --quiet > synth.log 2>&1 \
  || { bad synth "$(tail -n 3 synth.log)"; exit 1; }
$CBAS prep --geoc syn/GEOC --out stk --quiet > prep.log 2>&1 || { bad prep "$(tail -n 3 prep.log)"; exit 1; }
expect check $CBAS check stk --quiet
expect loop $CBAS loop stk --multi-prime --quiet
val() { gdallocationinfo -valonly "$1" "$2" "$3" 2>/dev/null; }
n_patch=0; n_caught=0; n_noloop=0; report=""
while read -r ifg n rest; do
  case $ifg in \#*|"") continue ;; esac
  set -- $rest
  i=0
  while [ $i -lt "$n" ]; do
    cx=${1%.*}; cy=${2%.*}; shift 5; i=$((i + 1))
    nu=$(val TS_stk/results/n_unw.tif "$cx" "$cy")
    case $nu in ""|nan|0) continue ;; esac  # patch centre without data
    n_patch=$((n_patch + 1))
    if grep -qx "$ifg" TS_stk/info/11bad_ifg.txt TS_stk/info/12bad_ifg.txt; then n_caught=$((n_caught + 1)); continue; fi
    if [ -f TS_stk/info/12no_loop_ifg.txt ] && grep -qx "$ifg" TS_stk/info/12no_loop_ifg.txt; then
      n_noloop=$((n_noloop + 1)); n_caught=$((n_caught + 1)); continue
    fi
    e=$(val TS_stk/results/n_loop_err.tif "$cx" "$cy")
    case $e in 0|"") report="$report $ifg@$cx,$cy" ;; *) n_caught=$((n_caught + 1)) ;; esac
  done
done < syn/truth/unwerr_ifg.txt
if [ "$n_patch" -gt 0 ] && [ "$n_caught" -eq "$n_patch" ]; then ok "unwerr-patches-caught ($n_caught/$n_patch, $n_noloop in no loop)"
else bad unwerr-patches-caught "$n_caught/$n_patch caught; missed:$report"; fi
# Loop phases are referenced to 12ref before counting, so the reference pixel itself closes
# every loop: n_loop_err is 0 there.
ref=$(cat TS_stk/info/12ref.txt); rx=${ref%%:*}; ry=${ref#*/}; ry=${ry%%:*}
e=$(val TS_stk/results/n_loop_err.tif "$rx" "$ry")
if [ "$e" = "0" ]; then ok ref-pixel-closes; else bad ref-pixel-closes "n_loop_err $e at 12ref $ref"; fi
