# cdgate: plain Makefile.  CC, CFLAGS, CPPFLAGS, LDFLAGS, PKG_CONFIG, PREFIX,
# DESTDIR and BUILD may be overridden on the command line.
.DELETE_ON_ERROR:
.SUFFIXES:

PKG_CONFIG ?= pkg-config
CC         ?= cc
CFLAGS     ?= -O2 -g
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
LIBEXECDIR ?= $(PREFIX)/libexec/cdgate
MANDIR     ?= $(PREFIX)/share/man
SYSTEMDDIR ?= /etc/systemd/system
PYTHON     ?= /usr/bin/python3

# ARCH: the machine the programs are built for (uname -m names).  Another
# architecture than this machine's is a cross build with Debian's multiarch
# toolchain (`sh tools/deps cross` installs it) into build/ARCH.
HOST_ARCH := $(shell uname -m)
ARCH      ?= $(HOST_ARCH)
ARCHS_KNOWN = x86_64 aarch64
DEB_ARCH_x86_64  = amd64
DEB_ARCH_aarch64 = arm64
CROSS_DEV = libc6-dev libcurl4-openssl-dev libssl-dev libinih-dev \
    libjson-c-dev libexpat1-dev libyaml-dev libcmocka-dev
ifeq ($(filter $(ARCH),$(ARCHS_KNOWN)),)
$(error cdgate: ARCH=$(ARCH) is not supported; choose one of: $(ARCHS_KNOWN))
endif
ifneq ($(ARCH),$(HOST_ARCH))
TRIPLET    = $(ARCH)-linux-gnu
CC         = $(TRIPLET)-gcc
PKG_CONFIG = PKG_CONFIG_LIBDIR=/usr/lib/$(TRIPLET)/pkgconfig:/usr/share/pkgconfig pkg-config
BUILD     ?= build/$(ARCH)
RUN_TEST   = CDGATE_EMULATED=1 qemu-$(ARCH)-static
CROSS_MISSING := $(shell command -v $(CC) >/dev/null || echo toolchain; \
    $(PKG_CONFIG) --exists libcurl openssl inih json-c expat yaml-0.1 || echo libraries)
ifneq ($(CROSS_MISSING),)
ifeq ($(filter clean deps,$(MAKECMDGOALS)),)
$(error cdgate: no $(ARCH) cross build here ($(CROSS_MISSING) missing): as root, \
run 'sh tools/deps cross', or: dpkg --add-architecture $(DEB_ARCH_$(ARCH)) && \
apt-get update && apt-get install crossbuild-essential-$(DEB_ARCH_$(ARCH)) \
$(foreach p,$(CROSS_DEV),$(p):$(DEB_ARCH_$(ARCH))) qemu-user-static)
endif
endif
endif
BUILD     ?= build

# What the programs need at run time is part of the product (see
# docs/portability.md): libc.so.6 (symbols up to GLIBC_2.34), libcurl.so.4
# with no symbol version, OpenSSL 3.  The parsers are linked from the
# distribution's static archives; libcurl through $(CURL_STUB), a
# link-time stand-in with libcurl's soname and no version nodes
# (tools/curl-stub.c); $(COMPAT_OBJ) keeps the archives off newer glibc
# symbols.  tools/elfcheck checks all of it in make check.
STATIC_PKGS = inih json-c expat yaml-0.1
PKGS        = libcurl openssl $(STATIC_PKGS)
PKG_CFLAGS  = $(shell $(PKG_CONFIG) --cflags $(PKGS))
CURL_STUB   = $(BUILD)/stub/libcurl.so
COMPAT_OBJ  = $(BUILD)/obj/base/compat.o
PKG_LIBS    = $(COMPAT_OBJ) -L$(BUILD)/stub \
    $(shell $(PKG_CONFIG) --libs-only-L $(STATIC_PKGS)) \
    -Wl,-Bstatic -l:libinih.a -l:libjson-c.a -l:libexpat.a -l:libyaml.a \
    -Wl,-Bdynamic -lcurl $(shell $(PKG_CONFIG) --libs openssl)
LINK_DEPS   = $(COMPAT_OBJ) $(CURL_STUB)
# The usual link against the build machine's shared libraries, kept only to
# show what it would need on another distribution (tools/minroot test).
DYNAMIC_LIBS = $(shell $(PKG_CONFIG) --libs $(PKGS))
# Debian's inih exposes its build options as run-time settings (inifile.c)
INIH_RUNTIME := $(shell printf '\043include <ini.h>\nvoid f(void);\nvoid f(void){ini_max_line = 1;}\n' | \
    $(CC) $(shell $(PKG_CONFIG) --cflags inih 2>/dev/null) -fsyntax-only -x c - \
    2>/dev/null && echo -DCDGATE_INIH_RUNTIME)

WARN = -std=c11 -Wall -Wextra -Wformat=2 -Wshadow \
       -Wstrict-prototypes -Wmissing-prototypes -Wpointer-arith \
       -Wcast-qual -Wvla -Wwrite-strings -Wundef
ifneq ($(CI),)
WARN += -Werror
endif
ifneq ($(WERROR),)
WARN += -Werror
endif
HARDEN_CFLAGS  = -fstack-protector-strong -fPIE -D_FORTIFY_SOURCE=2
HARDEN_LDFLAGS = -pie -Wl,-z,relro,-z,now -Wl,--as-needed
# No function frame of the programs over 4 KiB, so that each runs under
# `ulimit -s 128` (tests/blackbox/test_stack.py): large buffers live on
# the heap.  For src/, bin/ and hooks/ only (the tests may keep big
# frames), and not under the sanitizers, whose redzones grow every frame
# past what the shipped programs use.  An error under WERROR=1 (and so in
# CI), like every other warning.
FRAME_WARN = -Wframe-larger-than=4096

# SANITIZE=1: AddressSanitizer + UndefinedBehaviorSanitizer (use a separate
# BUILD, e.g. `make asan`); FUZZ=1: the same plus libFuzzer coverage, with
# CC=clang (`make fuzz`).  _FORTIFY_SOURCE is left out: ASan checks more.
SAN_FLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer \
            -fno-sanitize-recover=all
ifneq ($(FUZZ),)
SAN_FLAGS += -fsanitize=fuzzer-no-link
SANITIZE = 1
endif
ifneq ($(SANITIZE),)
FRAME_WARN     =
HARDEN_CFLAGS  = -fstack-protector-strong -fPIE $(SAN_FLAGS)
HARDEN_LDFLAGS = -pie -Wl,-z,relro,-z,now $(SAN_FLAGS)
export ASAN_OPTIONS ?= detect_leaks=1:abort_on_error=1:strict_string_checks=1
export UBSAN_OPTIONS ?= halt_on_error=1:print_stacktrace=1
endif

ALL_CPPFLAGS = -D_GNU_SOURCE -Isrc $(INIH_RUNTIME) $(CPPFLAGS)
ALL_CFLAGS   = $(WARN) $(HARDEN_CFLAGS) $(PKG_CFLAGS) $(CFLAGS)
ALL_LDFLAGS  = $(HARDEN_LDFLAGS) $(LDFLAGS)

HOOKS = application-stop before-install after-install application-start \
        validate-service before-block-traffic after-block-traffic \
        before-allow-traffic after-allow-traffic
BINS  = $(patsubst bin/%.c,%,$(wildcard bin/*.c))

LIB_SRC  = $(filter-out src/base/compat.c,$(wildcard src/*/*.c))
LIB_OBJ  = $(patsubst src/%.c,$(BUILD)/obj/%.o,$(LIB_SRC))
LIB      = $(BUILD)/libcdgate.a
HOOK_BIN = $(addprefix $(BUILD)/hooks/,$(HOOKS))
BIN_BIN  = $(addprefix $(BUILD)/bin/,$(BINS))
UNIT_SRC = $(wildcard tests/unit/test_*.c)
UNIT_BIN = $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
TOOL_SRC = $(wildcard tests/tools/*.c)
TOOL_BIN = $(patsubst tests/tools/%.c,$(BUILD)/tests/tools/%,$(TOOL_SRC))
FUZZ_SRC = $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_NAMES = $(patsubst tests/fuzz/fuzz_%.c,%,$(FUZZ_SRC))
FUZZ_BIN = $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRC))
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_SECONDS ?= 3
RESULTS = $(abspath $(BUILD))/results
# The black-box tests mostly wait (deadlines, stand-ins): pytest-xdist runs
# them in PYTEST_JOBS worker processes.
PYTEST_JOBS ?= 4
DROPIN_D = codedeploy-agent.service.d
DROPIN   = $(BUILD)/dist/systemd/$(DROPIN_D)/cdgate.conf

all: $(HOOK_BIN) $(BIN_BIN) $(DROPIN)

# The systemd drop-in names $(BINDIR): rebuilt when BINDIR changes.
$(BUILD)/dist/bindir: FORCE
	@mkdir -p $(@D)
	@echo '$(BINDIR)' | cmp -s - $@ || echo '$(BINDIR)' > $@

$(DROPIN): dist/systemd/$(DROPIN_D)/cdgate.conf.in $(BUILD)/dist/bindir
	@mkdir -p $(@D)
	sed 's|@BINDIR@|$(BINDIR)|g' $< > $@

$(BUILD)/obj/%.o: src/%.c $(wildcard src/*/*.h) Makefile
	@mkdir -p $(@D)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) $(FRAME_WARN) -c -o $@ $<

# The link-time libcurl (see PKG_LIBS): soname libcurl.so.4, no version
# script, so no version nodes; never loaded at run time.
$(CURL_STUB): tools/curl-stub.c Makefile
	@mkdir -p $(@D)
	$(CC) $(ALL_CPPFLAGS) $(WARN) -Wno-unused-parameter $(PKG_CFLAGS) \
	    -shared -fPIC -nostdlib -Wl,-soname,libcurl.so.4 \
	    -o $(@D)/libcurl.so.4 $<
	ln -sf libcurl.so.4 $@

$(LIB): $(LIB_OBJ)
	@mkdir -p $(@D)
	rm -f $@
	$(AR) rcs $@ $(LIB_OBJ)

$(BUILD)/hooks/%: hooks/%.c $(LIB) $(LINK_DEPS)
	@mkdir -p $(@D)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) $(FRAME_WARN) $(ALL_LDFLAGS) -o $@ $< \
	    $(LIB) $(PKG_LIBS)

$(BUILD)/bin/%: bin/%.c $(LIB) $(LINK_DEPS)
	@mkdir -p $(@D)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) $(FRAME_WARN) $(ALL_LDFLAGS) -o $@ $< \
	    $(LIB) $(PKG_LIBS)

$(BUILD)/tests/%: tests/unit/%.c tests/unit/testlib.h tests/fuzz/fake_http.h $(LIB) $(LINK_DEPS)
	@mkdir -p $(@D)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) $(shell $(PKG_CONFIG) --cflags cmocka) \
	    $(ALL_LDFLAGS) -o $@ $< $(LIB) $(PKG_LIBS) $(shell $(PKG_CONFIG) --libs cmocka)

$(BUILD)/tests/tools/%: tests/tools/%.c $(LIB) $(LINK_DEPS)
	@mkdir -p $(@D)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(LIB) $(PKG_LIBS)

$(BUILD)/fuzz/%: tests/fuzz/%.c $(wildcard tests/fuzz/*.h) $(LIB) $(LINK_DEPS)
	@mkdir -p $(@D)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -fsanitize=fuzzer $(ALL_LDFLAGS) \
	    -o $@ $< $(LIB) $(PKG_LIBS)

# Counter-examples for the portability tests (tests/blackbox/test_portable.py):
# before-install linked the usual way, against this machine's shared
# libraries, and linked statically without $(COMPAT_OBJ).
LEGACY_BIN = $(BUILD)/legacy/before-install $(BUILD)/legacy/before-install-nocompat

$(BUILD)/legacy/before-install: hooks/before-install.c $(LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(LIB) $(DYNAMIC_LIBS)

$(BUILD)/legacy/before-install-nocompat: hooks/before-install.c $(LIB) $(LINK_DEPS)
	@mkdir -p $(@D)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(LIB) \
	    $(filter-out $(COMPAT_OBJ),$(PKG_LIBS))

# The cross architecture make check builds and runs under qemu-user.
CROSS_ARCH  = $(if $(filter x86_64,$(HOST_ARCH)),aarch64,x86_64)
CROSS_BUILD = $(BUILD)/$(CROSS_ARCH)

# What the programs need at run time (docs/portability.md): the ELF
# ceilings of every native and cross program, and runs in a minimal root
# filesystem (tools/minroot), native and under qemu.
# An LD_PRELOAD stand-in for a libcurl older than 7.85 (test_portable.py).
OLDCURL = $(BUILD)/tests/shim/oldcurl.so
$(OLDCURL): tests/shim/oldcurl.c Makefile
	@mkdir -p $(@D)
	$(CC) $(ALL_CPPFLAGS) $(WARN) $(PKG_CFLAGS) -O2 -shared -fPIC -o $@ $< -ldl

portable: all $(LEGACY_BIN) $(OLDCURL)
	$(MAKE) ARCH=$(CROSS_ARCH) BUILD=$(CROSS_BUILD) all
	@mkdir -p $(RESULTS)
	cd tests && CDGATE_BUILD=$(abspath $(BUILD)) \
	    CDGATE_CROSS_BUILD=$(abspath $(CROSS_BUILD)) $(PYTHON) -m pytest -q \
	    -p no:cacheprovider -n 2 --junitxml=$(RESULTS)/portable.xml \
	    blackbox/test_portable.py

# Installs the Debian packages the build and the tests need (as root).
deps:
	@sh tools/deps

# Each test program's output is kept in $(RESULTS) for tools/summary.
# Under qemu-user (a cross build) test_oom does not run: the emulator
# applies no RLIMIT_AS to the program it runs, so the test's allocations
# would take the whole machine's memory instead of failing.
UNIT_RUN = $(if $(RUN_TEST),$(filter-out %/test_oom,$(UNIT_BIN)),$(UNIT_BIN))

unit: $(UNIT_BIN)
	@mkdir -p $(RESULTS); set -e; for t in $(UNIT_RUN); do \
	    log=$(RESULTS)/unit-$${t##*/}.log; \
	    if CDGATE_VECTORS=$(CURDIR)/tests/vectors/sigv4 $(RUN_TEST) $$t \
	        >$$log 2>&1; \
	    then cat $$log; else cat $$log; exit 1; fi; done

blackbox: all $(TOOL_BIN)
	@mkdir -p $(RESULTS)
	cd tests && CDGATE_BUILD=$(abspath $(BUILD)) $(PYTHON) -m pytest -q \
	    -p no:cacheprovider -n $(PYTEST_JOBS) \
	    --junitxml=$(RESULTS)/blackbox.xml \
	    --ignore=blackbox/test_portable.py blackbox

# The unit tests and the black-box suite under ASan + UBSan, in $(ASAN_BUILD).
asan:
	$(MAKE) BUILD=$(ASAN_BUILD) SANITIZE=1 all unit blackbox

asan-build:
	$(MAKE) -j2 BUILD=$(ASAN_BUILD) SANITIZE=1 all check-bins

# Four workers: the suite mostly waits (deadlines, stand-ins; 60% of two
# cores busy in three workers).  ASan's programs start and exit slowly
# (about 95 ms against 12 ms, most of it the leak check), which once
# stretched a run past a bound that had no SLACK yet; every upper bound
# now has it.  Four workers also found tests racing a late start or the
# runner's pipe close; they now wait for the hook's line or write well
# after the close.  Measured: 2 workers 353 s, 3 workers 260 s,
# 4 workers 207-223 s, and 239-272 s with a busy loop on one core.
asan-blackbox:
	$(MAKE) BUILD=$(ASAN_BUILD) SANITIZE=1 blackbox

check-bins: $(UNIT_BIN) $(TOOL_BIN)

# Representative black-box tests (marker `valgrind`) with every program run
# under valgrind's memcheck: any error or definite/indirect leak fails.
valgrind: all $(TOOL_BIN)
	@mkdir -p $(RESULTS)
	cd tests && CDGATE_BUILD=$(abspath $(BUILD)) CDGATE_WRAP=valgrind \
	    $(PYTHON) -m pytest -q -p no:cacheprovider -m valgrind -n 2 \
	    --junitxml=$(RESULTS)/valgrind.xml \
	    --ignore=blackbox/test_portable.py blackbox

fuzz-bins: $(FUZZ_BIN)

# libFuzzer: every target for FUZZ_SECONDS (default 60), from its seed corpus
# tests/fuzz/corpus/NAME (new inputs go to $(FUZZ_BUILD)/corpus/NAME).
fuzz:
	$(MAKE) -j2 BUILD=$(FUZZ_BUILD) FUZZ=1 CC=clang fuzz-bins
	@sh tools/fuzz run $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_NAMES)

# A short run of each target (its corpus, then FUZZ_SMOKE_SECONDS of fuzzing).
fuzz-smoke:
	$(MAKE) BUILD=$(FUZZ_BUILD) FUZZ=1 CC=clang fuzz-bins
	@sh tools/fuzz smoke $(FUZZ_BUILD) $(FUZZ_SMOKE_SECONDS) $(FUZZ_NAMES)

# Everything: unit + black-box, the same under sanitizers, the cross
# build's unit tests under qemu-user, the valgrind subset, the fuzz smoke,
# the portability checks; the last line totals them (tools/summary).  Each
# black-box suite runs its tests in PYTEST_JOBS workers, one suite at a
# time: side by side on two cores, ASan's start and exit grew by seconds
# and broke the deadline tests' bounds.  valgrind, the fuzz smoke and the
# portability checks run side by side; -O prints each one's output whole
# when it ends.
# The include graph of src/, bin/ and hooks/ (docs/dev/README.md): only
# downward, no cycle.
layers:
	$(PYTHON) tools/layers

check:
	@sh tools/deps
	$(PYTHON) tools/layers
	@rm -rf $(RESULTS) $(ASAN_BUILD)/results $(FUZZ_BUILD)/results \
	    $(CROSS_BUILD)/results
	$(MAKE) -j2 all check-bins $(LEGACY_BIN)
	$(MAKE) -j2 ARCH=$(CROSS_ARCH) BUILD=$(CROSS_BUILD) all check-bins
	$(MAKE) asan-build
	$(MAKE) unit
	$(MAKE) ARCH=$(CROSS_ARCH) BUILD=$(CROSS_BUILD) unit
	$(MAKE) BUILD=$(ASAN_BUILD) SANITIZE=1 unit
	$(MAKE) blackbox
	$(MAKE) asan-blackbox
	$(MAKE) -j2 -O valgrind fuzz-smoke portable
	@$(PYTHON) tools/summary $(RESULTS) $(CROSS_BUILD)/results \
	    $(ASAN_BUILD)/results $(FUZZ_BUILD)/results

demo:
	@sh tools/deps demo
	$(MAKE) all
	$(PYTHON) tests/demo.py $(abspath $(BUILD))

# Benchmarks (docs/dev/bench.md): cdgate next to the hand-written bash + curl
# (+ aws CLI) gate, on loopback stand-ins; a few minutes, results also in
# $(BUILD)/bench/results.md.  bench-smoke: one iteration of each, a few
# seconds, asserting behaviour and request economy, nothing about speed.
BENCH_BIN = $(BUILD)/bench/floor $(BUILD)/bench/spawn

# The floor: linked exactly like the hooks (same flags, $(PKG_LIBS)).
$(BUILD)/bench/floor: tests/bench/floor.c Makefile $(LINK_DEPS)
	@mkdir -p $(@D)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(PKG_LIBS)

$(BUILD)/bench/spawn: tests/bench/spawn.c Makefile
	@mkdir -p $(@D)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $<

# make check runs the one-iteration smoke (tests/blackbox/test_bench_smoke.py)
blackbox: $(BENCH_BIN)

# The floor linked the usual way, next to build/legacy/before-install: make
# bench measures the link of before the portability work side by side.
$(BUILD)/legacy/floor: tests/bench/floor.c Makefile
	@mkdir -p $(@D)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(DYNAMIC_LIBS)

bench:
	@sh tools/deps bench
	$(MAKE) all $(BENCH_BIN) $(LEGACY_BIN) $(BUILD)/legacy/floor
	$(PYTHON) tests/bench/bench.py --build $(abspath $(BUILD)) \
	    --variant 'before-install, usual dynamic link=$(BUILD)/legacy/before-install' \
	    --variant-floor 'floor, usual dynamic link=$(BUILD)/legacy/floor' \
	    --out $(abspath $(BUILD))/bench/results.md

bench-smoke: all $(BENCH_BIN)
	$(PYTHON) tests/bench/bench.py --build $(abspath $(BUILD)) --smoke

.PHONY: bench bench-smoke

# The hooks, a commented cdgate.ini and an appspec.yml (or, when DEST has
# one, a snippet to merge) into the application revision DEST.
ifneq ($(filter bundle,$(MAKECMDGOALS)),)
ifeq ($(DEST),)
$(error make bundle needs DEST=DIR, the application revision directory)
endif
endif
# ARCHS="x86_64 aarch64": one revision for both (each architecture built
# first, into $(BUILD) for ARCH and $(BUILD)/OTHER for the others).
ARCHS ?= $(ARCH)
ifneq ($(filter-out $(ARCHS_KNOWN),$(ARCHS)),)
$(error cdgate: ARCHS names $(filter-out $(ARCHS_KNOWN),$(ARCHS)): choose among $(ARCHS_KNOWN))
endif
bundle: all
	@for a in $(filter-out $(ARCH),$(ARCHS)); do \
	    $(MAKE) --no-print-directory ARCH=$$a BUILD=$(BUILD)/$$a all || exit $$?; done
	@sh tools/bundle '$(BUILD)' '$(DEST)' $(foreach a,$(ARCHS),'$(a)=$(if \
	    $(filter $(ARCH),$(a)),$(BUILD),$(BUILD)/$(a))')

MAN5 = $(wildcard man/*.5)
MAN7 = $(wildcard man/*.7)
MAN8 = $(wildcard man/*.8)

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBEXECDIR)
	install -m 0755 $(BIN_BIN) $(DESTDIR)$(BINDIR)/
	install -m 0755 $(HOOK_BIN) $(DESTDIR)$(LIBEXECDIR)/
	install -d $(DESTDIR)$(SYSTEMDDIR)/$(DROPIN_D)
	install -m 0644 $(DROPIN) $(DESTDIR)$(SYSTEMDDIR)/$(DROPIN_D)/
	install -d $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man7 \
	    $(DESTDIR)$(MANDIR)/man8
	install -m 0644 $(MAN5) $(DESTDIR)$(MANDIR)/man5/
	install -m 0644 $(MAN7) $(DESTDIR)$(MANDIR)/man7/
	install -m 0644 $(MAN8) $(DESTDIR)$(MANDIR)/man8/
	@# man before-install etc.: one .so link page per hook
	for h in $(HOOKS); do \
	    echo '.so man8/cdgate-hooks.8' > $(DESTDIR)$(MANDIR)/man8/$$h.8; done

uninstall:
	rm -f $(addprefix $(DESTDIR)$(BINDIR)/,$(BINS))
	rm -f $(addprefix $(DESTDIR)$(LIBEXECDIR)/,$(HOOKS))
	-rmdir $(DESTDIR)$(LIBEXECDIR)
	rm -f $(DESTDIR)$(SYSTEMDDIR)/$(DROPIN_D)/cdgate.conf
	-rmdir $(DESTDIR)$(SYSTEMDDIR)/$(DROPIN_D)
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man5/,$(notdir $(MAN5))) \
	    $(addprefix $(DESTDIR)$(MANDIR)/man7/,$(notdir $(MAN7))) \
	    $(addprefix $(DESTDIR)$(MANDIR)/man8/,$(notdir $(MAN8))) \
	    $(addprefix $(DESTDIR)$(MANDIR)/man8/,$(addsuffix .8,$(HOOKS)))

clean:
	rm -rf $(BUILD)

FORCE:

.PHONY: all deps layers unit blackbox asan asan-build asan-blackbox check-bins \
        valgrind fuzz fuzz-bins fuzz-smoke check portable \
        demo bundle install uninstall clean FORCE
