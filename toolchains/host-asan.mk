# Developer build: host glibc with AddressSanitizer and UBSan, for running the suite under
# sanitizers (make check TARGET=host-asan). Not a release target.
CC := gcc
AR := ar
CMAKE_PROC := $(shell uname -m)
TARGET_CFLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
TARGET_LDFLAGS := -fsanitize=address,undefined
DEP_CFLAGS := -O1 -g
WRAPPER :=
