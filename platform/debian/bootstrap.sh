#!/bin/sh
# Installs the Debian/Ubuntu host packages cbas needs to build and test itself.
# Idempotent: does nothing (and touches no network) when everything is present.
# Usage: bootstrap.sh [TARGET]   (TARGET as in toolchains/<TARGET>.mk; "all" = every target)
set -eu
target=${1:-host}

need=""
have_cmd() { command -v "$1" >/dev/null 2>&1; }
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
want() { have_pkg "$1" || need="$need $1"; }

want gcc; want make; want cmake; want dpkg-dev; want musl-tools; want musl-dev
multi=""
case "$target" in
  aarch64*|all) want gcc-aarch64-linux-gnu; want qemu-user; multi="$multi arm64"
                have_pkg musl-dev:arm64 || need="$need musl-dev:arm64" ;;
esac
case "$target" in
  armhf*|all)   want gcc-arm-linux-gnueabihf; want qemu-user; multi="$multi armhf"
                have_pkg musl-dev:armhf || need="$need musl-dev:armhf" ;;
esac
# Test-only tools: GDAL (interop), and Debian python3 with numpy/astropy/Pillow/matplotlib (the
# colour maps in tests/interop/mask_png_ref.py) for independent reference values (call
# /usr/bin/python3: a user python on PATH may lack these modules); node checks the syntax of
# `cbas view`'s page script.
[ "${CBAS_WANT_GDAL:-0}" = 1 ] && { want gdal-bin; want python3; want python3-numpy; want python3-astropy; want python3-pil; want python3-gdal; want python3-h5py; want python3-matplotlib; want pngcheck; have_cmd node || want nodejs; }

# Source packages of zlib and tiff are fetched by `apt-get source`: needs deb-src lines.
srcdir=${CBAS_SRC_DIR:-}
need_src=0
if [ -n "$srcdir" ]; then
  ls "$srcdir"/zlib_*.dsc >/dev/null 2>&1 && ls "$srcdir"/tiff_*.dsc >/dev/null 2>&1 || need_src=1
fi

[ -z "$need" ] && [ $need_src = 0 ] && exit 0

SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
if ! have_cmd apt-get; then
  echo "bootstrap: missing packages:$need (not a Debian/Ubuntu system: install them by hand)" >&2
  exit 1
fi
for a in $multi; do
  dpkg --print-foreign-architectures | grep -qx "$a" || $SUDO dpkg --add-architecture "$a"
done
# Enable deb-src if absent (deb822 and one-line formats).
if [ $need_src = 1 ]; then
  if ! grep -rqs '^deb-src\|^Types:.*deb-src' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    for f in /etc/apt/sources.list.d/*.sources; do
      [ -f "$f" ] && $SUDO sed -i 's/^Types: deb$/Types: deb deb-src/' "$f"
    done
    if [ -f /etc/apt/sources.list ]; then
      $SUDO sed -n 's/^deb \(.*\)/deb-src \1/p' /etc/apt/sources.list > /tmp/cbas-deb-src.list
      [ -s /tmp/cbas-deb-src.list ] && $SUDO cp /tmp/cbas-deb-src.list /etc/apt/sources.list.d/cbas-deb-src.list
    fi
  fi
fi
# A mirror in the middle of a sync makes `apt-get update` fail for one index (seen: the armhf
# Packages of bookworm-security) while every list we need is fine. So an update is retried,
# then a failure is only a warning: the install or download that follows is what must work,
# and it is retried after a fresh update too.
apt_update() {
  for wait in 5 15 0; do
    $SUDO apt-get update -q -o Acquire::Retries=3 >&2 && return 0
    [ $wait = 0 ] || { echo "bootstrap: apt-get update failed; retrying in ${wait}s" >&2; sleep $wait; }
  done
  echo "bootstrap: warning: apt-get update reported errors; going on with the package lists it got" >&2
}
retry() {
  "$@" && return 0
  echo "bootstrap: '$*' failed; updating the package lists and retrying once" >&2
  sleep 10; apt_update; "$@"
}
install_pkgs() { DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $need >&2; }
fetch_src() { (cd "$srcdir" && apt-get source --download-only zlib tiff >&2); }

[ -n "$need" ] && echo "bootstrap: installing:$need" >&2
[ $need_src = 1 ] && echo "bootstrap: downloading the zlib and tiff source packages into $srcdir" >&2
apt_update
if [ -n "$need" ]; then
  retry install_pkgs || { echo "bootstrap: could not install:$need" >&2; exit 1; }
fi
if [ $need_src = 1 ]; then
  mkdir -p "$srcdir"
  retry fetch_src || { echo "bootstrap: could not download the zlib/tiff source packages into $srcdir" >&2; exit 1; }
fi
exit 0
