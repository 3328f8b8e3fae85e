# tests/lib.sh — helpers for shell tests (sourced). Each check prints "ok - NAME" or
# "FAIL - NAME: why". $CBAS runs the binary (through qemu for ARM builds); $CBAS_TMP is scratch.
T="$CBAS_TMP/$(basename "$0" .sh)"
rm -rf "$T"; mkdir -p "$T"
ok() { echo "ok - $1"; }
bad() { echo "FAIL - $1: $2"; }
# expect NAME COMMAND...: passes when the command exits 0
expect() { n=$1; shift; if "$@" > "$T/out" 2>&1; then ok "$n"; else bad "$n" "'$*' failed: $(tail -n 3 "$T/out" | tr '\n' ' ')"; fi; }
# expect_status NAME STATUS COMMAND...: passes when the command exits with STATUS
expect_status() { n=$1; st=$2; shift 2; "$@" > "$T/out" 2>&1; r=$?
  if [ "$r" -eq "$st" ]; then ok "$n"; else bad "$n" "exit $r, expected $st: $(tail -n 3 "$T/out" | tr '\n' ' ')"; fi; }
