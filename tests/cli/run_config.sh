# cbas run refuses bad settings with exit status 2 and one line naming the problem, and leaves
# nothing half-written; --print-config shows every effective value and where it came from.
. tests/lib.sh
$CBAS synth --out "$T/f" --width 120 --length 100 --epochs 12 --seed 3 --quiet || { bad synth "synth failed"; exit 1; }
G="$T/f/GEOC"
# refused NAME EXPECTED_TEXT ARGS...: status 2, last line of stderr names the problem, no outputs
refused() {
  n=$1; want=$2; shift 2
  out="$T/o_$n"
  $CBAS run --out "$out" --quiet "$@" > "$T/$n.stdout" 2> "$T/$n.stderr"; r=$?
  last=$(tail -n 1 "$T/$n.stderr")
  if [ $r -ne 2 ]; then bad "$n" "exit $r, expected 2: $last"; return; fi
  case "$last" in *"$want"*) ;; *) bad "$n" "last line does not name '$want': $last"; return ;; esac
  case "$last" in "cbas run: "*) ;; *) bad "$n" "last line is not a cbas run error: $last"; return ;; esac
  left=$(ls -d "$out"/GEOCml* "$out"/TS_* "$out"/*.tmp* 2>/dev/null)
  [ -z "$left" ] && ok "$n" || bad "$n" "left behind: $left"
}
printf 'nlook="1"\np11_unw_thre="0.3"  # fine\nfoo_bar="3"\n' > "$T/unknown.conf"
refused unknown-key-file "unknown key 'foo_bar'" -c "$T/unknown.conf" --geoc "$G"
refused unknown-key-file-line "unknown.conf:3" -c "$T/unknown.conf" --geoc "$G"
refused unknown-key-arg "unknown key 'p13_gama'" --geoc "$G" p13_gama=0.001
refused malformed-clip "malformed range '10-20'" --geoc "$G" do05op_clip=y p05_clip_range=10-20
refused malformed-geo "malformed range" --geoc "$G" --clip-geo 138.1/138.0/36.4/36.45
refused malformed-number "p13_gamma" --geoc "$G" p13_gamma=abc
refused bad-yn "expected y or n" --geoc "$G" do05op_clip=maybe
refused missing-geoc "GEOC folder not found" --geoc "$T/nowhere"
refused empty-aoi "10:10" --geoc "$G" --clip 10:10/0:50
refused aoi-outside "gives no pixel of the grid" --geoc "$G" --clip-geo 10.0/10.5/40.0/40.5
mkdir -p "$T/empty/GEOC"
refused no-ifg-folders "no interferogram folders" --geoc "$T/empty/GEOC"
# every interferogram unusable: folders exist, files are not GeoTIFFs
mkdir -p "$T/junk/GEOC/20200101_20200113"
echo junk > "$T/junk/GEOC/20200101_20200113/20200101_20200113.geo.unw.tif"
echo junk > "$T/junk/GEOC/20200101_20200113/20200101_20200113.geo.cc.tif"
refused zero-usable "no usable interferogram" --geoc "$T/junk/GEOC"
refused steps-reversed "after end_step" --geoc "$G" --start-step 13 --end-step 11
# --print-config: values and sources, no work done
printf 'p13_gamma="0.001"\n' > "$T/g.conf"
$CBAS run -c "$T/g.conf" --geoc "$G" --out "$T/pc" --print-config p16_filtwidth_km=1 > "$T/pc.txt" 2>&1; r=$?
[ $r -eq 0 ] && ok print-config-status || bad print-config-status "exit $r"
grep -q 'p13_gamma="0.001"  # .*g.conf:1' "$T/pc.txt" && ok print-config-file-source || bad print-config-file-source "$(grep p13_gamma "$T/pc.txt")"
grep -q 'p16_filtwidth_km="1"  # command line' "$T/pc.txt" && ok print-config-arg-source || bad print-config-arg-source "$(grep p16_filtwidth "$T/pc.txt")"
grep -q 'p11_unw_thre="0.3"  # default' "$T/pc.txt" && ok print-config-default || bad print-config-default "$(grep p11_unw "$T/pc.txt")"
grep -q 'p02_GEOCdir=".*GEOC"  # --geoc' "$T/pc.txt" && ok print-config-option-source || bad print-config-option-source "$(grep p02_GEOCdir "$T/pc.txt")"
[ ! -e "$T/pc" ] && ok print-config-does-no-work || bad print-config-does-no-work "$T/pc exists"
# a pasted batch_LiCSBAS.sh block with comments and ignored keys is accepted
cat > "$T/batch.conf" <<'CONF'
#!/bin/bash
start_step="02"	# 01-05, 11-16
end_step="16"	# 01-05, 11-16
nlook="1"	# multilook factor, used in step02
n_para="" # Number of paralell processing
gpu="n"	# y/n
do05op_clip="y"	# y/n
p05_clip_range="10:110/10:90"	# e.g. 10:100/20:200 (ix start from 0)
p12_multi_prime="y"	# y/n. y recommended
p13_TSdir=""    # default: TS_$GEOCmldir
CONF
$CBAS run -c "$T/batch.conf" --geoc "$G" --print-config > "$T/b.txt" 2>&1 && ok batch-block-accepted || bad batch-block-accepted "$(tail -n 2 "$T/b.txt")"
grep -q 'n_para="".*ignored by cbas' "$T/b.txt" && ok ignored-keys-listed || bad ignored-keys-listed "$(grep n_para "$T/b.txt")"
