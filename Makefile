# recgate -- GNU make build.
#
#   make            build build/recgated and build/recgatectl
#   make run        install missing dependencies, build, create the demo
#                   directory (demo/) if absent, run the gateway on 127.0.0.1
#   make test       build and run the whole suite (unit + integration)
#   make test SAN=1 the same under AddressSanitizer + UBSan (build-san/)
#   make bench      how fast the offline audit verifier runs (entries/second),
#                   then the gateway under load (tests/bench/run.sh, ~2 min)
#   make test VALGRIND=1  the same under valgrind memcheck
#   make fuzz       every fuzz target of tests/fuzz/ under libFuzzer (clang),
#                   FUZZ_SECONDS each (default 60), in build-fuzz/

CC      ?= cc
SAN     ?=
ifeq ($(SAN),1)
BUILD   ?= build-san
SANFLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
else ifeq ($(SAN),fuzz)
# libFuzzer's coverage in every object, ASan and UBSan; clang only.
BUILD   ?= build-fuzz
SANFLAGS = -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer \
           -fno-sanitize-recover=all
else
BUILD   ?= build
SANFLAGS =
endif

PKGS     = libuv libsodium jansson yajl libseccomp
# SQLCipher from pkg-config unless given (tests/compat/sqlcipher4.sh builds
# against a SQLCipher 4 amalgamation this way).
SQLCIPHER_CFLAGS ?= $(shell pkg-config --cflags sqlcipher 2>/dev/null)
SQLCIPHER_LIBS   ?= $(shell pkg-config --libs sqlcipher 2>/dev/null)
PKG_CFLAGS := $(SQLCIPHER_CFLAGS) $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(SQLCIPHER_LIBS) $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lhttp_parser

CFLAGS  ?= -O2 -g
CFLAGS  += -std=c17 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow \
           -Wstrict-prototypes -Wmissing-prototypes -Wno-missing-field-initializers \
           -fstack-protector-strong -D_FORTIFY_SOURCE=2 -fPIE -MMD -MP \
           -I. $(PKG_CFLAGS) $(SANFLAGS)
LDFLAGS += -pie -Wl,-z,relro,-z,now $(SANFLAGS)
LDLIBS  += $(PKG_LIBS) -lssl -lcrypto

# The daemon allocates through gperftools' tcmalloc (minimal) instead of
# glibc's malloc: its requests (jansson trees, SQLCipher's page cipher
# contexts, records of a few KiB) come and go on several threads at once,
# where glibc's arenas spent ~5 % of the gateway's CPU consolidating and
# unlinking chunks (alternated runs of one binary, profile.md Round 8).
# Kept in even where nothing names it (--as-needed would drop it). Not
# under the sanitizers, whose runtimes bring their own allocator.
ifneq ($(SAN),)
MALLOC_LIBS =
else
MALLOC_LIBS := -Wl,--push-state,--no-as-needed \
               $(shell pkg-config --libs libtcmalloc_minimal 2>/dev/null || echo -ltcmalloc_minimal) \
               -Wl,--pop-state
endif

# Everything but the two programs' main files goes into one archive.
LIB_SRC  := $(wildcard crypto/*.c policy/*.c) \
            $(filter-out gateway/recgated.c gateway/recgatectl.c, $(wildcard gateway/*.c))
FUZZ_SRC := $(filter-out tests/fuzz/libfuzzer.c tests/fuzz/seeds_main.c, \
                          $(wildcard tests/fuzz/*.c))
TEST_SRC := $(wildcard tests/*.c tests/unit/*.c tests/integration/*.c) $(FUZZ_SRC)

LIB_ASM  := $(wildcard gateway/*.S)
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o) $(LIB_ASM:%.S=$(BUILD)/obj/%.o)
TEST_OBJ := $(TEST_SRC:%.c=$(BUILD)/obj/%.o)

all: $(BUILD)/recgated $(BUILD)/recgatectl

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

# The demo catalogue is embedded with .incbin; rebuild when it changes.
$(BUILD)/obj/gateway/demo_catalogue.o: gateway/demo_catalogue.S policy/demo-catalogue.json
	@mkdir -p $(dir $@)
	$(CC) -c $< -o $@

$(BUILD)/librecgate.a: $(LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/recgated: $(BUILD)/obj/gateway/recgated.o $(BUILD)/librecgate.a
	$(CC) $(LDFLAGS) -o $@ $^ $(MALLOC_LIBS) $(LDLIBS)

$(BUILD)/recgatectl: $(BUILD)/obj/gateway/recgatectl.o $(BUILD)/librecgate.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/rgtest: $(TEST_OBJ) $(BUILD)/librecgate.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

deps:
	@sh packaging/install-deps.sh

DEMO ?= demo
LISTEN ?= 127.0.0.1:8443

run: deps
	@$(MAKE) --no-print-directory all
	@test -f $(DEMO)/recgate.conf || $(BUILD)/recgatectl init --demo $(DEMO)
	$(BUILD)/recgated -c $(DEMO)/recgate.conf --listen $(LISTEN)

# The verifier's throughput (not part of the suite): N entries, default 1e6.
$(BUILD)/bench_verify: $(BUILD)/obj/tests/bench/bench_verify.o $(BUILD)/librecgate.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# The fuzz targets under libFuzzer (SAN=fuzz, clang), and the writer of
# their seeds: see `make fuzz` below.
$(BUILD)/fuzz: $(BUILD)/obj/tests/fuzz/libfuzzer.o $(FUZZ_SRC:%.c=$(BUILD)/obj/%.o) \
               $(BUILD)/librecgate.a
	$(CC) $(LDFLAGS) -fsanitize=fuzzer -o $@ $^ $(LDLIBS)

$(BUILD)/fuzz-seeds: $(BUILD)/obj/tests/fuzz/seeds_main.o $(FUZZ_SRC:%.c=$(BUILD)/obj/%.o) \
                     $(BUILD)/librecgate.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# The load generator and floor meters of tests/bench/run.sh; the suite's
# smoke test runs it too, so `make test` builds it.
$(BUILD)/loadgen: $(BUILD)/obj/tests/bench/loadgen.o $(BUILD)/librecgate.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lm

bench: all $(BUILD)/bench_verify $(BUILD)/loadgen
	$(BUILD)/bench_verify $(N)
	BUILD=$(BUILD) sh tests/bench/run.sh

# The suite finds the programs and the test data through the environment.
# VALGRIND=1 runs it, and every recgate program it starts, under memcheck
# (system programs such as curl and openssl are left alone).
# Sanitizer and valgrind runs cannot live inside the seccomp filter (their
# runtimes make calls the gateway never does): the daemon runs with
# sandbox = off there, and the plain run proves the sandbox.
ifneq ($(SAN)$(VALGRIND),)
SANDBOX_ENV = RG_SANDBOX=off
endif
ifeq ($(VALGRIND),1)
RUNNER = valgrind -q --error-exitcode=99 --leak-check=full \
         --errors-for-leak-kinds=definite --trace-children=yes \
         --soname-synonyms=somalloc=*tcmalloc* \
         --suppressions=tests/valgrind.supp \
         --trace-children-skip='/usr/*,/bin/*,*/sh,*/bash'
else
RUNNER =
endif

test: all $(BUILD)/rgtest $(BUILD)/loadgen
	RG_BUILD=$(BUILD) RG_TESTDATA=tests/data $(SANDBOX_ENV) $(RUNNER) $(BUILD)/rgtest $(T)

# SQLCipher 4 (Debian 13's major version) instead of the system's 3.4:
# fetches its amalgamation with npm into build-compat/, builds recgate
# against it there and runs the whole suite. Not part of `make test`.
compat-sqlcipher4:
	sh tests/compat/sqlcipher4.sh

# The Debian package (needs debhelper): build/deb/recgate_VERSION_ARCH.deb.
deb:
	sh packaging/build-deb.sh

# Coverage-guided fuzzing of every target (tests/fuzz/fuzz.h) for
# FUZZ_SECONDS each, from the seeds, keeping the corpus it grows in
# build-fuzz/corpus/; a crash fails it and leaves its input there. The
# suite runs the same targets over a fixed set of mutations every time.
FUZZ_SECONDS ?= 60
fuzz:
	@sh packaging/install-deps.sh --fuzz
	@$(MAKE) --no-print-directory SAN=fuzz CC=clang build-fuzz/fuzz build-fuzz/fuzz-seeds
	sh tests/fuzz/run.sh build-fuzz $(FUZZ_SECONDS)

clean:
	rm -rf build build-san build-compat build-fuzz

.PHONY: all deps run test bench deb clean compat-sqlcipher4 fuzz

-include $(LIB_OBJ:.o=.d) $(TEST_OBJ:.o=.d) $(BUILD)/obj/gateway/recgated.d $(BUILD)/obj/gateway/recgatectl.d \
         $(BUILD)/obj/tests/bench/bench_verify.d $(BUILD)/obj/tests/bench/loadgen.d
