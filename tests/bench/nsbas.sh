#!/bin/sh
# NSBAS inversion core: batched vs per-pixel routes (figures only; see tests/bench/nsbas.c).
# Runs BUILD/bench/nsbas (built by `make bench`) through the target's wrapper, if any.
bin="$(dirname "$CBAS_BIN")/bench/nsbas"
wrapper=${CBAS%"$CBAS_BIN"}
[ -x "$bin" ] || { echo "nsbas bench: $bin not built"; exit 1; }
$wrapper "$bin" ${NSBAS_BENCH_ARGS:-}
