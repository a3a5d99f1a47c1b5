# tests/fuzz/fuzz.mk - libFuzzer targets; included by the Makefile.
#
#   make fuzz                   build every target, run each FUZZ_SECONDS (60) from its seeds
#   make fuzz FUZZ_SECONDS=300  longer
#   make fuzz FUZZ_TARGETS="broker mdp"   only those
#   make fuzz-build             build only (build/fuzz/fuzz_<name>)
#   make fuzz-seeds             rewrite the seed files each target generates
#                               (tests/fuzz/corpus/<name>/seed-*)
#
# tests/fuzz/fuzz_<name>.c is one target.  It is compiled with clang and
# -fsanitize=fuzzer,address,undefined, together with its own clang-built
# copies of the modules it tests (never the gcc objects): common/, the
# generated protobuf code, and the service modules listed in
# FUZZ_MODULES_<name>.  Objects go to build/fuzz/obj/.  tests/fuzz/run-fuzz.sh
# runs the targets (see docs/testing.md, "Fuzzing").

FUZZ_DIR      := build/fuzz
FUZZ_SECONDS  ?= 60
FUZZ_ALL      := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_TARGETS  ?= $(FUZZ_ALL)
# clang-14 is Debian 12's clang; any clang with libFuzzer will do
FUZZ_CC       ?= $(or $(shell command -v clang-14 2>/dev/null),clang)
FUZZ_PACKAGES := clang-14 libclang-rt-14-dev llvm-14
FUZZ_SAN      := -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
                 -fno-omit-frame-pointer
# no -Werror: other modules are written for gcc's warnings; the targets'
# own warnings are errors (FUZZ_OWN_FLAGS)
FUZZ_CFLAGS   := -std=c17 -D_GNU_SOURCE -Wall -Wextra -Wvla -Wshadow -Wno-unused-parameter \
                 -O1 -g $(FUZZ_SAN) -MMD -MP -Icommon -I$(GEN) -Itests/fuzz \
                 -Iservices/broker -Iservices/registration -Iservices/ctl \
                 $(PKG_CFLAGS) -DSAMSPIL_VERSION='"$(VERSION)"'
FUZZ_OWN_FLAGS := -Werror

# every common/ module, built with clang (the archive links only what a
# target uses)
FUZZ_COMMON   := $(patsubst common/%.c,%,$(COMMON_SRC))
FUZZ_LIB      := $(FUZZ_DIR)/lib/libsamspil-fuzz.a
FUZZ_LIB_O    := $(patsubst %,$(FUZZ_DIR)/obj/common/%.o,$(FUZZ_COMMON)) \
                 $(patsubst $(GEN)/%.c,$(FUZZ_DIR)/obj/gen/%.o,$(PROTO_C))

# service modules per target
FUZZ_MODULES_broker       := services/broker/broker_core.c services/broker/broker_mmi.c \
                             services/broker/broker_principal.c services/broker/broker_keys.c \
                             services/broker/broker_access.c
FUZZ_MODULES_registration := services/registration/registration_validate.c \
                             services/registration/registration_access.c \
                             services/registration/registration_cpr.c \
                             services/registration/registration_redact.c \
                             services/registration/registration_hash.c
FUZZ_MODULES_events       := services/ctl/ctl_output.c
FUZZ_MODULES_ctl_args     := services/ctl/ctl_args.c services/ctl/ctl_output.c
FUZZ_MODULES_ctl_reply    := services/ctl/ctl_output.c
FUZZ_MODULES_crypto       := services/registration/registration_cpr.c \
                             services/registration/registration_contacts.c
FUZZ_MODULES_keys         := services/broker/broker_keys.c services/broker/broker_access.c

FUZZ_BINS     := $(patsubst %,$(FUZZ_DIR)/fuzz_%,$(FUZZ_TARGETS))

.PHONY: fuzz-deps fuzz fuzz-build fuzz-seeds _fuzz _fuzz-build _fuzz-seeds fuzz-check

# the suite's packages and clang with its libFuzzer runtime (installed as root)
fuzz-deps:
	@deploy/deps.sh $(FUZZ_PACKAGES)

fuzz: fuzz-deps
	@$(MAKE) --no-print-directory _fuzz

fuzz-build: fuzz-deps
	@$(MAKE) --no-print-directory _fuzz-build

fuzz-seeds: fuzz-deps
	@$(MAKE) --no-print-directory _fuzz-seeds

_fuzz: _fuzz-build
	@FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_DIR=$(FUZZ_DIR) tests/fuzz/run-fuzz.sh $(FUZZ_TARGETS)

_fuzz-build: $(FUZZ_BINS)

# Each target writes its seeds (LLVMFuzzerInitialize under SAMSPIL_FUZZ_SEEDS);
# hand-made inputs and kept reproducers in the corpus are left alone.
_fuzz-seeds: $(FUZZ_BINS)
	@for t in $(FUZZ_TARGETS); do \
	    mkdir -p tests/fuzz/corpus/$$t && rm -f tests/fuzz/corpus/$$t/seed-* && \
	    tmp=$$(mktemp -d) && \
	    SAMSPIL_FUZZ_SEEDS=$$tmp $(FUZZ_DIR)/fuzz_$$t >/dev/null 2>&1; \
	    for f in $$tmp/*; do [ -f "$$f" ] && cp "$$f" tests/fuzz/corpus/$$t/seed-$$(basename "$$f"); done; \
	    rm -rf "$$tmp"; \
	    echo "  SEEDS  tests/fuzz/corpus/$$t ($$(ls tests/fuzz/corpus/$$t | wc -l) files)"; \
	done

# clang and its libFuzzer runtime must be there: link a tiny target first.
$(FUZZ_DIR)/.toolchain-ok: tests/fuzz/fuzz.mk
	@mkdir -p $(FUZZ_DIR)
	@printf '%s\n' '#include <stddef.h>' '#include <stdint.h>' \
	    'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }' \
	    > $(FUZZ_DIR)/probe.c
	@$(FUZZ_CC) $(FUZZ_SAN) -o $(FUZZ_DIR)/probe $(FUZZ_DIR)/probe.c 2>$(FUZZ_DIR)/probe.log || { \
	    cat $(FUZZ_DIR)/probe.log >&2; \
	    echo "make fuzz: '$(FUZZ_CC)' cannot build a libFuzzer target with ASan and UBSan;" >&2; \
	    echo "  install clang, its runtime and llvm-symbolizer with:" >&2; \
	    echo "  apt-get install -y --no-install-recommends $(FUZZ_PACKAGES)" >&2; \
	    exit 1; }
	@rm -f $(FUZZ_DIR)/probe $(FUZZ_DIR)/probe.c $(FUZZ_DIR)/probe.log
	@touch $@

fuzz-check: $(FUZZ_DIR)/.toolchain-ok

$(FUZZ_DIR)/obj/gen/%.o: $(GEN)/%.c $(PROTO_H) | pkg-check fuzz-check
	@mkdir -p $(dir $@)
	$(call say,FUZZCC,$<)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<

$(FUZZ_DIR)/obj/tests/fuzz/%.o: tests/fuzz/%.c $(PROTO_H) | pkg-check fuzz-check
	@mkdir -p $(dir $@)
	$(call say,FUZZCC,$<)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_OWN_FLAGS) -c -o $@ $<

$(FUZZ_DIR)/obj/%.o: %.c $(PROTO_H) | pkg-check fuzz-check
	@mkdir -p $(dir $@)
	$(call say,FUZZCC,$<)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<

# The Makefile declares every target .SECONDARY, so a missing object whose
# source is older than the archive would not be built: depending on this
# file rebuilds the archive (and so its objects) when FUZZ_COMMON changes.
$(FUZZ_LIB): $(FUZZ_LIB_O) tests/fuzz/fuzz.mk
	@mkdir -p $(dir $@)
	$(call say,AR,$@)
	$(Q)rm -f $@ && $(AR) rcs $@ $(filter %.o,$^)

define FUZZ_RULES
$(FUZZ_DIR)/fuzz_$(1): $(FUZZ_DIR)/obj/tests/fuzz/fuzz_$(1).o \
        $$(patsubst %.c,$(FUZZ_DIR)/obj/%.o,$$(FUZZ_MODULES_$(1))) $(FUZZ_LIB) tests/fuzz/fuzz.mk
	@mkdir -p $$(dir $$@)
	$$(call say,LINK,$$@)
	$$(Q)$(FUZZ_CC) $(FUZZ_SAN) -o $$@ $$(filter-out %.mk,$$^) $(PKG_LIBS) -lpthread -lm
endef
$(foreach t,$(FUZZ_ALL),$(eval $(call FUZZ_RULES,$(t))))
