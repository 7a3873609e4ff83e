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
BUILD      ?= build
PYTHON     ?= /usr/bin/python3

PKGS = libcurl openssl inih json-c expat
PKG_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(PKGS))
PKG_LIBS   = $(shell $(PKG_CONFIG) --libs $(PKGS))

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

ALL_CPPFLAGS = -D_GNU_SOURCE -Isrc $(CPPFLAGS)
ALL_CFLAGS   = $(WARN) $(HARDEN_CFLAGS) $(PKG_CFLAGS) $(CFLAGS)
ALL_LDFLAGS  = $(HARDEN_LDFLAGS) $(LDFLAGS)

HOOKS = application-stop before-install after-install application-start \
        validate-service before-block-traffic after-block-traffic \
        before-allow-traffic after-allow-traffic
BINS  = $(patsubst bin/%.c,%,$(wildcard bin/*.c))

LIB_SRC  = $(wildcard src/*.c)
LIB_OBJ  = $(patsubst src/%.c,$(BUILD)/obj/%.o,$(LIB_SRC))
LIB      = $(BUILD)/libcdgate.a
HOOK_BIN = $(addprefix $(BUILD)/hooks/,$(HOOKS))
BIN_BIN  = $(addprefix $(BUILD)/bin/,$(BINS))
UNIT_SRC = $(wildcard tests/unit/test_*.c)
UNIT_BIN = $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
TOOL_SRC = $(wildcard tests/tools/*.c)
TOOL_BIN = $(patsubst tests/tools/%.c,$(BUILD)/tests/tools/%,$(TOOL_SRC))

all: $(HOOK_BIN) $(BIN_BIN)

$(BUILD)/obj/%.o: src/%.c $(wildcard src/*.h) Makefile
	@mkdir -p $(@D)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -c -o $@ $<

$(LIB): $(LIB_OBJ)
	@mkdir -p $(@D)
	rm -f $@
	$(AR) rcs $@ $(LIB_OBJ)

$(BUILD)/hooks/%: hooks/%.c $(LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(LIB) $(PKG_LIBS)

$(BUILD)/bin/%: bin/%.c $(LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(LIB) $(PKG_LIBS)

$(BUILD)/tests/%: tests/unit/%.c $(LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) $(shell $(PKG_CONFIG) --cflags cmocka) \
	    $(ALL_LDFLAGS) -o $@ $< $(LIB) $(PKG_LIBS) $(shell $(PKG_CONFIG) --libs cmocka)

$(BUILD)/tests/tools/%: tests/tools/%.c $(LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(LIB) $(PKG_LIBS)

# Installs the Debian packages the build and the tests need (as root).
deps:
	@sh tools/deps

unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do \
	    CDGATE_VECTORS=$(CURDIR)/../shared/vectors/sigv4 $$t; done

blackbox: all $(TOOL_BIN)
	cd tests && CDGATE_BUILD=$(abspath $(BUILD)) $(PYTHON) -m pytest -q \
	    -p no:cacheprovider blackbox

check:
	@sh tools/deps
	$(MAKE) all
	$(MAKE) unit
	$(MAKE) blackbox

demo:
	@sh tools/deps
	$(MAKE) all
	$(PYTHON) tests/demo.py $(abspath $(BUILD))

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBEXECDIR)
	install -m 0755 $(BIN_BIN) $(DESTDIR)$(BINDIR)/
	install -m 0755 $(HOOK_BIN) $(DESTDIR)$(LIBEXECDIR)/

uninstall:
	rm -f $(addprefix $(DESTDIR)$(BINDIR)/,$(BINS))
	rm -f $(addprefix $(DESTDIR)$(LIBEXECDIR)/,$(HOOKS))
	-rmdir $(DESTDIR)$(LIBEXECDIR)

clean:
	rm -rf $(BUILD)

.PHONY: all deps unit blackbox check demo install uninstall clean
