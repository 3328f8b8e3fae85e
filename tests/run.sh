#!/bin/sh
# Test runner: runs every unit-test binary (through WRAPPER, e.g. qemu-aarch64, for ARM
# targets) and every shell test under tests/cli and tests/interop (or the directories in
# $CBAS_SHELL_DIRS, e.g. tests/licsbas for `make parity`), counts the "ok - " and "FAIL - "
# lines they print, and ends with "N passed, N failed".
# Usage: tests/run.sh BUILD_DIR "WRAPPER" [NAME_SUBSTRING ...]
build=$1; wrapper=$2; shift 2
filter="$*"
root=$(pwd)
CBAS_TMP="$root/$build/check"
rm -rf "$CBAS_TMP"; mkdir -p "$CBAS_TMP"
CBAS_BIN="$root/$build/cbas"
CBAS_WRAPPER="$wrapper"
CBAS="$wrapper${wrapper:+ }$CBAS_BIN"
export CBAS_TMP CBAS_BIN CBAS_WRAPPER CBAS
pass=0; fail=0
selected() {
  [ -z "$filter" ] && return 0
  for f in $filter; do case "$1" in *"$f"*) return 0 ;; esac; done
  return 1
}
run_one() { # $1 = display name, rest = command
  name=$1; shift
  log="$CBAS_TMP/$name.log"
  start=$(date +%s)
  "$@" > "$log" 2>&1
  rc=$?
  p=$(grep -c '^ok - ' "$log"); f=$(grep -c '^FAIL - ' "$log")
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    echo "FAIL - $name: exited with status $rc" >> "$log"; f=1
  fi
  if [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then
    echo "FAIL - $name: ran no test" >> "$log"; f=1
  fi
  grep '^FAIL - ' "$log"
  [ "$f" -ne 0 ] && { echo "---- $log (last lines)"; tail -n 15 "$log"; echo "----"; }
  echo "$name: $p passed, $f failed ($(( $(date +%s) - start ))s)"
  pass=$((pass + p)); fail=$((fail + f))
}
shell_dirs=${CBAS_SHELL_DIRS:-tests/cli tests/interop}
[ -n "${CBAS_NO_UNIT:-}" ] || for t in "$build"/tests/test_*; do
  [ -x "$t" ] || continue
  n=$(basename "$t")
  selected "$n" || continue
  if [ -n "$wrapper" ]; then run_one "$n" $wrapper "$t"; else run_one "$n" "$t"; fi
done
for s in $(for d in $shell_dirs; do ls "$d"/*.sh 2>/dev/null; done); do
  [ -f "$s" ] || continue
  n=$(basename "$s" .sh)
  selected "$n" || continue
  run_one "$n" sh "$s"
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
