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
# Test-only tools: GDAL (interop), and Debian python3 with numpy/astropy/Pillow for independent
# reference values (call /usr/bin/python3: a user python on PATH may lack these modules).
[ "${CBAS_WANT_GDAL:-0}" = 1 ] && { want gdal-bin; want python3; want python3-numpy; want python3-astropy; want python3-pil; want python3-gdal; want python3-h5py; want pngcheck; }

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
echo "bootstrap: installing:$need" >&2
$SUDO apt-get update -q >&2
[ -n "$need" ] && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $need >&2
if [ $need_src = 1 ]; then
  mkdir -p "$srcdir"
  (cd "$srcdir" && apt-get source --download-only zlib tiff >&2)
fi
exit 0
