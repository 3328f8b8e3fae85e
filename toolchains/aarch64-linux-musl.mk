# Raspberry Pi 4 / any ARMv8-A board, 64-bit OS: fully static aarch64 musl binary.
CC := aarch64-linux-musl-gcc
AR := aarch64-linux-gnu-ar
CMAKE_PROC := aarch64
TARGET_CFLAGS := -O2 -mtune=cortex-a72
TARGET_LDFLAGS := -static
WRAPPER := qemu-aarch64
