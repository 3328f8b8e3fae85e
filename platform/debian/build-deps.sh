#!/bin/sh
# Builds zlib and libtiff (deflate + LZW codecs only) as static libraries into a sysroot,
# from Debian's source packages already downloaded into SRC_DIR (by bootstrap.sh).
# Never touches the network.
# Usage: build-deps.sh SRC_DIR WORK_DIR SYSROOT CC AR SYSTEM_PROCESSOR "CFLAGS"
set -eu
src=$1; work=$2; sysroot=$3; cc=$4; ar=$5; proc=$6; cflags=$7
mkdir -p "$work" "$sysroot"
src=$(cd "$src" && pwd); work=$(cd "$work" && pwd); sysroot=$(cd "$sysroot" && pwd)

unpack() { # $1 = package name; prints the unpacked dir
  dsc=$(ls "$src"/"$1"_*.dsc | head -n 1)
  [ -n "$dsc" ] || { echo "build-deps: no $1 source package in $src" >&2; exit 1; }
  d="$work/$1-src"
  if [ ! -f "$d/.unpacked" ]; then
    rm -rf "$d"
    dpkg-source --no-check -x "$dsc" "$d" >/dev/null
    touch "$d/.unpacked"
  fi
  echo "$d"
}

if [ ! -f "$sysroot/lib/libz.a" ]; then
  z=$(unpack zlib)
  rm -rf "$work/zlib-build"; cp -r "$z" "$work/zlib-build"
  (cd "$work/zlib-build" && CC="$cc" AR="$ar" CFLAGS="$cflags" ./configure --static --prefix="$sysroot" >/dev/null \
     && make -s libz.a >/dev/null && make -s install >/dev/null)
  rm -rf "$work/zlib-build"
fi

if [ ! -f "$sysroot/lib/libtiff.a" ]; then
  t=$(unpack tiff)
  # libtiff's project() asks for a C++ compiler even with -Dcxx=OFF; we build C only, so a
  # machine without g++ (or a cross g++) must not be required.
  sed -i 's/LANGUAGES C CXX)/LANGUAGES C)/' "$t/CMakeLists.txt"
  # glibc keeps pow in libm, which CMAKE_FIND_ROOT_PATH_MODE_LIBRARY=ONLY hides from libtiff's
  # FindCMath (host-asan target): name the compiler's own libm. musl has pow in libc.
  cmath=""
  case "$cc" in *musl*) ;; *) m=$($cc -print-file-name=libm.so); case "$m" in /*) cmath="-DCMath_LIBRARY=$m" ;; esac ;; esac
  b="$work/tiff-build"; rm -rf "$b"; mkdir -p "$b"
  (cd "$b" && cmake "$t" -DCMAKE_BUILD_TYPE=Release \
     -DCMAKE_SYSTEM_NAME=Linux -DCMAKE_SYSTEM_PROCESSOR="$proc" \
     -DCMAKE_C_COMPILER="$cc" -DCMAKE_AR="$(command -v "$ar")" -DCMAKE_C_FLAGS="$cflags" \
     -DCMAKE_INSTALL_PREFIX="$sysroot" -DCMAKE_FIND_ROOT_PATH="$sysroot" \
     -DCMAKE_FIND_ROOT_PATH_MODE_LIBRARY=ONLY -DCMAKE_FIND_ROOT_PATH_MODE_INCLUDE=ONLY \
     -DCMAKE_FIND_ROOT_PATH_MODE_PACKAGE=ONLY -DCMAKE_FIND_ROOT_PATH_MODE_PROGRAM=NEVER \
     -DZLIB_ROOT="$sysroot" -DZLIB_LIBRARY="$sysroot/lib/libz.a" -DZLIB_INCLUDE_DIR="$sysroot/include" \
     -DBUILD_SHARED_LIBS=OFF -Dcxx=OFF -Dtiff-tools=OFF -Dtiff-tests=OFF -Dtiff-contrib=OFF \
     -Dtiff-docs=OFF -Dsphinx=OFF -Dtiff-opengl=OFF \
     -Dzlib=ON -Dlzw=ON -Dlibdeflate=OFF -Dpixarlog=OFF -Djpeg=OFF -Dold-jpeg=OFF -Djpeg12=OFF \
     -Djbig=OFF -Dlerc=OFF -Dlzma=OFF -Dzstd=OFF -Dwebp=OFF \
     -Dccitt=OFF -Dpackbits=OFF -Dthunder=OFF -Dnext=OFF -Dlogluv=OFF -Dmdi=OFF $cmath >cmake.log 2>&1 \
     || { cat cmake.log >&2; exit 1; }
   make -s -j"$(nproc 2>/dev/null || echo 2)" tiff >make.log 2>&1 || { tail -40 make.log >&2; exit 1; }
   cmake --install libtiff >/dev/null)
  rm -rf "$b"
fi
echo "build-deps: $sysroot ready" >&2
