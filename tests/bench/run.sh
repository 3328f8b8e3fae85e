#!/bin/sh
# Runs every benchmark script in tests/bench/ (not part of make check: they report figures,
# they do not pass or fail on time). Usage: tests/bench/run.sh BUILD_DIR "WRAPPER" [NAME ...]
build=$1; wrapper=$2; shift 2
root=$(pwd)
CBAS_BIN="$root/$build/cbas"
CBAS="$wrapper${wrapper:+ }$CBAS_BIN"
BENCH_TMP="$root/$build/bench"
mkdir -p "$BENCH_TMP"
export CBAS_BIN CBAS BENCH_TMP
for s in tests/bench/*.sh; do
  n=$(basename "$s" .sh)
  [ "$n" = run ] && continue
  if [ $# -gt 0 ]; then
    hit=0; for f in "$@"; do [ "$f" = "$n" ] && hit=1; done
    [ $hit = 1 ] || continue
  fi
  echo "== bench $n"
  sh "$s"
done
