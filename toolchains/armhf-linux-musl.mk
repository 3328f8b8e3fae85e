# Raspberry Pi 2/3/4 with 32-bit Raspberry Pi OS (ARMv7-A, hard float, NEON): static musl.
CC := arm-linux-musleabihf-gcc
AR := arm-linux-gnueabihf-ar
CMAKE_PROC := arm
TARGET_CFLAGS := -O2 -march=armv7-a -mfpu=neon-vfpv4 -mfloat-abi=hard
TARGET_LDFLAGS := -static
WRAPPER := qemu-arm
