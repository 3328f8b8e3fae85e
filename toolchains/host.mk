# Host build: static binary against musl on the build machine's own architecture.
CC := musl-gcc
AR := ar
CMAKE_PROC := $(shell uname -m)
TARGET_CFLAGS := -O2
TARGET_LDFLAGS := -static
WRAPPER :=
