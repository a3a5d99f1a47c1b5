# Samspil - one non-recursive Makefile for the whole suite.
#
#   make            build libsamspil.a and every program into build/
#   make run        start the suite on the embedded PostgreSQL (REGISTRATION=N workers)
#   make test       unit + integration tests; ends with "N passed, N failed"
#   make test SAN=1 the same under ASan+UBSan (separate build tree)
#   make bench      end-to-end benchmarks against baselines measured in the same run
#   make fuzz       libFuzzer targets (clang, ASan+UBSan) for a bounded time each
#
# Sources are found by convention, so adding a file needs no edit here:
#   common/*.c                   -> build/lib/libsamspil.a
#   proto/samspil/v1/*.proto     -> build/gen/samspil/v1/*.pb-c.[ch] (generated, never committed)
#   services/<prog>/*.c          -> build/bin/samspil-<prog>   (services/ctl -> build/bin/samspilctl)
#   services/<prog>/sql/*.sql    -> embedded in that program as its migrations
#   tests/unit/test_<x>.c        -> build/tests/unit/test_<x>  (cmocka)
#   tests/integration/*.c        -> build/tests/integration/<name>
#   tests/bench/*.c              -> build/tests/bench/<name>
#   tests/helpers/*.c            -> build/tests/helpers/<name>  (programs tests start, never run alone)

VERSION      := 0.1.0
SAN          ?=
REGISTRATION ?= 2

ifeq ($(SAN),1)
BUILD        := build/san
SANFLAGS     := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
OPT          := -O1 -g
else
BUILD        := build
SANFLAGS     :=
OPT          := -O2 -g
endif

CC           ?= cc
PKGS         := libzmq libuv libprotobuf-c libpq libsodium
# Read when this Makefile is parsed: `make` (and run, test, bench) runs
# deploy/deps.sh first and builds in a new make, so on a fresh machine these
# are read only once the packages are installed (see `all` below).
PKG_CFLAGS   := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS     := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CFLAGS       += -std=c17 -D_GNU_SOURCE -Wall -Wextra -Werror -Wvla -Wshadow -Wno-unused-parameter \
                $(OPT) $(SANFLAGS) -MMD -MP -Icommon -I$(GEN) $(PKG_CFLAGS) \
                -DSAMSPIL_VERSION='"$(VERSION)"'
LDFLAGS      += $(SANFLAGS)
LDLIBS       := $(PKG_LIBS) -lpthread -lm

GEN          := build/gen
PROTOS       := $(wildcard proto/samspil/v1/*.proto)
PROTO_C      := $(patsubst proto/%.proto,$(GEN)/%.pb-c.c,$(PROTOS))
PROTO_H      := $(PROTO_C:.c=.h)
PROTO_O      := $(patsubst $(GEN)/%.c,$(BUILD)/obj/gen/%.o,$(PROTO_C))

COMMON_SRC   := $(wildcard common/*.c)
COMMON_O     := $(patsubst %.c,$(BUILD)/obj/%.o,$(COMMON_SRC))
LIB          := $(BUILD)/lib/libsamspil.a

PROGRAMS     := $(notdir $(wildcard services/*))
binname       = $(if $(filter ctl,$(1)),samspilctl,samspil-$(1))
BINS         := $(foreach p,$(PROGRAMS),$(BUILD)/bin/$(call binname,$(p)))

UNIT_SRC     := $(wildcard tests/unit/test_*.c)
UNIT_BINS    := $(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%,$(UNIT_SRC))
ITEST_SRC    := $(wildcard tests/integration/*.c)
ITEST_BINS   := $(patsubst tests/integration/%.c,$(BUILD)/tests/integration/%,$(ITEST_SRC))
BENCH_SRC    := $(wildcard tests/bench/*.c)
BENCH_BINS   := $(patsubst tests/bench/%.c,$(BUILD)/tests/bench/%,$(BENCH_SRC))
HELPER_SRC   := $(wildcard tests/helpers/*.c)
HELPER_BINS  := $(patsubst tests/helpers/%.c,$(BUILD)/tests/helpers/%,$(HELPER_SRC))

.PHONY: all run test bench fuzz deps clean format help _all pkg-check
.DEFAULT_GOAL := all
# keep generated sources (protobuf, migrations) between runs
.SECONDARY:
# but never a half-written one whose recipe failed (protoc-c, embed-sql.sh)
.DELETE_ON_ERROR:

# quiet by default; `make V=1` shows the commands
ifeq ($(V),1)
Q :=
say = @true
else
Q := @
say = @printf '  %-6s %s\n' $(1) $(2)
endif

# --- `make`: first install what is missing (deploy/deps.sh: apt-get as root,
# else it prints the apt-get line and fails), then build in a new make, which
# reads pkg-config only now that the packages are there.  run, test and bench
# start from all.
all: deps
	@$(MAKE) --no-print-directory _all

deps:
	@deploy/deps.sh

_all: $(BINS) $(UNIT_BINS) $(ITEST_BINS) $(BENCH_BINS) $(HELPER_BINS)

help:
	@sed -n '2,10p' Makefile | sed 's/^# \{0,1\}//'

# Fail early and clearly (not with a link error) when pkg-config does not
# know the libraries; every compile waits for this check.
pkg-check:
	@pkg-config --exists $(PKGS) || { pkg-config --print-errors --exists $(PKGS); \
	    echo "make: pkg-config does not find $(PKGS); run deploy/deps.sh (or make deps)" >&2; exit 1; }

# --- generated protobuf code
$(GEN)/%.pb-c.c $(GEN)/%.pb-c.h: proto/%.proto
	@mkdir -p $(GEN)
	$(call say,PROTOC,$<)
	$(Q)protoc-c --c_out=$(GEN) -Iproto $<

$(BUILD)/obj/gen/%.o: $(GEN)/%.c $(PROTO_H) | pkg-check
	@mkdir -p $(dir $@)
	$(call say,CC,$<)
	$(Q)$(CC) $(CFLAGS) -c -o $@ $<

# every object may include any generated header
$(BUILD)/obj/%.o: %.c $(PROTO_H) | pkg-check
	@mkdir -p $(dir $@)
	$(call say,CC,$<)
	$(Q)$(CC) $(CFLAGS) -c -o $@ $<

$(LIB): $(COMMON_O) $(PROTO_O)
	@mkdir -p $(dir $@)
	$(call say,AR,$@)
	$(Q)rm -f $@ && $(AR) rcs $@ $^

# --- embedded migrations: services/<prog>/sql/*.sql -> $(BUILD)/obj/gen/<prog>_migrations.o
$(GEN)/%_migrations.c: deploy/embed-sql.sh $(wildcard services/*/sql/*.sql)
	@mkdir -p $(GEN)
	$(call say,EMBED,services/$*/sql)
	$(Q)deploy/embed-sql.sh $* services/$*/sql > $@

$(BUILD)/obj/gen/%_migrations.o: $(GEN)/%_migrations.c | pkg-check
	@mkdir -p $(dir $@)
	$(call say,CC,$<)
	$(Q)$(CC) $(CFLAGS) -c -o $@ $<

# --- programs: one binary per services/<prog>/
define PROGRAM_RULES
$(1)_SRC := $$(wildcard services/$(1)/*.c)
$(1)_O   := $$(patsubst %.c,$$(BUILD)/obj/%.o,$$($(1)_SRC)) \
            $$(if $$(wildcard services/$(1)/sql/*.sql),$$(BUILD)/obj/gen/$(1)_migrations.o)
$$(BUILD)/bin/$(call binname,$(1)): $$($(1)_O) $$(LIB)
	@mkdir -p $$(dir $$@)
	$$(call say,LINK,$$@)
	$$(Q)$$(CC) $$(LDFLAGS) -o $$@ $$($(1)_O) $$(LIB) $$(LDLIBS)
endef
$(foreach p,$(PROGRAMS),$(eval $(call PROGRAM_RULES,$(p))))

# Service modules a unit test may link (pure logic only; no main()).
# tests/unit/test_<x>.c links services/*/<x>.c if it exists.
SERVICE_MODULES = $(filter-out %/main.c,$(wildcard services/*/*.c))
unit_extra      = $(patsubst %.c,$(BUILD)/obj/%.o,$(filter %/$(patsubst test_%,%,$(1)).c,$(SERVICE_MODULES)))

.SECONDEXPANSION:
$(BUILD)/tests/unit/%: $(BUILD)/obj/tests/unit/%.o $$(call unit_extra,$$*) $(LIB)
	@mkdir -p $(dir $@)
	$(call say,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

$(BUILD)/tests/integration/%: $(BUILD)/obj/tests/integration/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(call say,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/bench/%: $(BUILD)/obj/tests/bench/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(call say,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/helpers/%: $(BUILD)/obj/tests/helpers/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(call say,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# --- entry points
run: all
	@BUILD=$(BUILD) REGISTRATION=$(REGISTRATION) deploy/run-suite.sh

test: all
	@BUILD=$(BUILD) SAN=$(SAN) tests/run-tests.sh

bench: all
	@BUILD=$(BUILD) tests/bench/run-bench.sh

format:
	clang-format -i $(wildcard common/*.[ch] services/*/*.[ch] tests/*/*.[ch])

clean:
	rm -rf build

# libFuzzer targets and `make fuzz` (their own rules, clang, build/fuzz/)
include tests/fuzz/fuzz.mk

-include $(shell find build -name '*.d' 2>/dev/null)
