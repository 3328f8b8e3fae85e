#!/bin/sh
# Memory benchmark: every command of the workflow stays under its budget + 32 MB.
# Runs the sample workflow (synth -> cbas run: prep, steps 11-16, pictures) with --mem 64M and
# 256M, each command under `prlimit --as=BUDGET+32MB` (the address-space limit is stricter than
# resident memory: any allocation past it fails), and reports peak RSS from /usr/bin/time -v.
# Host only (an emulator's own address space would count). Figures only.
[ -x /usr/bin/time ] && command -v prlimit >/dev/null || { echo "mem bench: needs /usr/bin/time and prlimit"; exit 1; }
[ -n "$CBAS_WRAPPER" ] && { echo "mem bench: host build only"; exit 0; }
B="$BENCH_TMP/mem"
rm -rf "$B"; mkdir -p "$B"
peak() { sed -n 's/.*Maximum resident set size (kbytes): //p' "$1" | awk '{ printf "%.1f", $1 / 1024 }'; }
limited() { # BUDGET_MB LABEL COMMAND...
  mb=$1; label=$2; shift 2
  as=$(( (mb + 32) * 1048576 ))
  if /usr/bin/time -v prlimit --as=$as "$@" > "$B/$label.log" 2>&1; then
    echo "  $label: ok under --as $((mb + 32))M, peak RSS $(peak "$B/$label.log") MB (budget $mb M + 32)"
  else
    echo "  $label: FAILED under --as $((mb + 32))M: $(grep -v '^\s' "$B/$label.log" | tail -n 2 | tr '\n' ' ')"
  fi
}
for mb in 64 256; do
  echo "== --mem ${mb}M"
  limited $mb synth-600x500x81 $CBAS_BIN synth --out "$B/f" --epochs 81 --mem ${mb}M --quiet
  limited $mb run-city-324x216 $CBAS_BIN run -c samples/city.conf --geoc "$B/f/GEOC" --out "$B/o$mb" --mem ${mb}M --quiet
  grep 'step ' "$B/o$mb/cbas_run.log" | sed 's/^/    /'
  rm -rf "$B/f"
done
