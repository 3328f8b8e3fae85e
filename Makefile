# cbas — build with `make`, test with `make check`.
#   make [TARGET=host|aarch64-linux-musl|armhf-linux-musl|host-asan]
#   make check [TARGET=...]   runs the suite (under qemu for ARM targets)
# TARGET selects toolchains/$(TARGET).mk; outputs go to build/$(TARGET)/.
# zlib and libtiff are built from Debian's source packages (downloaded once into ~/.cache/cbas/debsrc)
# as static libraries in build/$(TARGET)/sysroot. Missing host packages are installed by
# platform/debian/bootstrap.sh on first use.

TARGET ?= host
ifeq ($(wildcard toolchains/$(TARGET).mk),)
$(error unknown TARGET '$(TARGET)': expected one of $(basename $(notdir $(wildcard toolchains/*.mk))))
endif
include toolchains/$(TARGET).mk

BUILD    ?= build/$(TARGET)
SYSROOT  ?= build/$(TARGET)/sysroot
# Downloaded source packages live outside the checkout (a fresh clone on the same machine, as
# CI makes, builds offline from them); override with DEBSRC=dir.
CBAS_CACHE ?= $(if $(XDG_CACHE_HOME),$(XDG_CACHE_HOME)/cbas,$(if $(HOME),$(HOME)/.cache/cbas,build/cache))
DEBSRC   ?= $(CBAS_CACHE)/debsrc
DEP_CFLAGS ?= -O2
VERSION  := $(shell git describe --always --dirty 2>/dev/null || echo unknown)

CFLAGS   := -std=c11 -Wall -Wextra -Wshadow -Wno-unused-parameter $(TARGET_CFLAGS) \
            -Iinclude -Isrc -I$(SYSROOT)/include -DCBAS_VERSION='"0.1.0-$(VERSION)"' $(EXTRA_CFLAGS)
LDFLAGS  := $(TARGET_LDFLAGS)
LIBS     := $(SYSROOT)/lib/libtiff.a $(SYSROOT)/lib/libz.a -lm -lpthread

LIB_SRC  := $(filter-out src/main.c,$(wildcard src/*.c src/*/*.c))
PLAT_SRC := $(wildcard platform/posix/*.c)
LIB_OBJ  := $(patsubst %.c,$(BUILD)/obj/%.o,$(LIB_SRC) $(PLAT_SRC))
TEST_SRC := $(wildcard tests/unit/test_*.c)
TEST_BIN := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(TEST_SRC))
TEST_LIB := $(patsubst %.c,$(BUILD)/obj/%.o,$(filter-out $(TEST_SRC),$(wildcard tests/unit/*.c)))

.PHONY: all check deps clean distclean bench sample parity
.SECONDARY:
all: $(BUILD)/cbas

deps: $(SYSROOT)/lib/libtiff.a

$(SYSROOT)/lib/libtiff.a:
	@CBAS_SRC_DIR=$(DEBSRC) sh platform/debian/bootstrap.sh $(TARGET)
	sh platform/debian/build-deps.sh $(DEBSRC) $(SYSROOT)/../deps $(SYSROOT) "$(CC)" "$(AR)" "$(CMAKE_PROC)" "$(DEP_CFLAGS)"

$(BUILD)/obj/%.o: %.c $(SYSROOT)/lib/libtiff.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libcbas.a: $(LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/cbas: $(BUILD)/obj/src/main.o $(BUILD)/libcbas.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(TEST_LIB) $(BUILD)/libcbas.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

check: $(BUILD)/cbas $(TEST_BIN)
	@CBAS_WANT_GDAL=1 sh platform/debian/bootstrap.sh $(TARGET)
	@sh tests/run.sh "$(BUILD)" "$(WRAPPER)" $(TESTS)

BENCH_BIN := $(patsubst tests/bench/%.c,$(BUILD)/bench/%,$(wildcard tests/bench/*.c))
$(BUILD)/bench/%: $(BUILD)/obj/tests/bench/%.o $(BUILD)/libcbas.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

# Parity with LiCSBAS itself (not part of check: needs a LiCSBAS checkout, which cbas never
# ships, and Debian's python3 modules): make parity LICSBAS=/path/to/LiCSBAS
parity: $(BUILD)/cbas
	@CBAS_WANT_GDAL=1 sh platform/debian/bootstrap.sh $(TARGET)
	@CBAS_SHELL_DIRS=tests/licsbas CBAS_NO_UNIT=1 LICSBAS=$(LICSBAS) sh tests/run.sh "$(BUILD)" "$(WRAPPER)" $(TESTS)

# The README's main job: synthesize the sample frame and run the whole workflow on it.
sample:
	@sh samples/run.sh

bench: $(BUILD)/cbas $(BENCH_BIN)
	@sh tests/bench/run.sh "$(BUILD)" "$(WRAPPER)" $(BENCH)

clean:
	rm -rf $(BUILD)/obj $(BUILD)/tests $(BUILD)/cbas $(BUILD)/libcbas.a $(BUILD)/check

distclean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
