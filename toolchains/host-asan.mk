# Developer build: host glibc with AddressSanitizer and UBSan, for running the suite under
# sanitizers (make check TARGET=host-asan). Budget blocks come filled with 0xA5
# (CBAS_BUDGET_POISON), so a read before a write changes results. Not a release target.
CC := gcc
AR := ar
CMAKE_PROC := $(shell uname -m)
TARGET_CFLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined \
                 -DCBAS_BUDGET_POISON
TARGET_LDFLAGS := -fsanitize=address,undefined
DEP_CFLAGS := -O1 -g
WRAPPER :=
