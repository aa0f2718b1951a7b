# smelt — GNU Make build.
#   make          build build/smelt
#   make demo     install deps, build, create and run the example project
#   make test     install deps, build (plain and ASan+UBSan), run every test
#   make fuzz     run the libFuzzer targets for a bounded time
#   make bench    run the benchmarks in bench/
#   make bench-merge  bench/merge.sh: a 10-row MERGE into a 10M-row table
DUCKDB_DIR ?= deps/duckdb
CC ?= cc
PKGS := sqlite3 yaml-0.1 jansson libsodium zlib libdeflate
# Headers only: src/util/http.c, src/ingest/unpack.c and src/secrets/secrets.c
# load these libraries with dlopen() on first use (sm_lib_ready() in util.h).
DLOPEN_PKGS := libcurl libarchive libcrypto
WARN := -Wall -Wextra -Werror -Wpedantic -Wstrict-prototypes -Wmissing-prototypes -Wvla \
        -Wwrite-strings -Wformat=2 -Wno-format-nonliteral
CFLAGS_BASE := -std=c11 -D_GNU_SOURCE -DSMELT_VERSION=\"0.1.0\" $(WARN) -Isrc -isystem $(DUCKDB_DIR) \
        $(shell pkg-config --cflags $(PKGS) $(DLOPEN_PKGS) 2>/dev/null)
LIBS := -L$(DUCKDB_DIR) -Wl,-rpath,$(abspath $(DUCKDB_DIR)) -lduckdb \
        $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lm -lpthread -ldl

SRC := $(sort $(wildcard src/*.c src/*/*.c))
LIB_SRC := $(filter-out src/main.c,$(SRC))
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))

REL := build/rel
SAN := build/san
REL_CFLAGS := $(CFLAGS_BASE) -O2 -g
SAN_CFLAGS := $(CFLAGS_BASE) -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
              -fno-sanitize-recover=all

.PHONY: all deps demo test unit e2e fuzz bench bench-merge clean format
all: build/smelt

deps:
	@./scripts/deps.sh

build/smelt: $(REL)/smelt
	@cp $< $@.tmp && mv -f $@.tmp $@

$(REL)/%.o: %.c $(wildcard src/*/*.h)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(REL_CFLAGS) -c $< -o $@
$(SAN)/%.o: %.c $(wildcard src/*/*.h)
	@mkdir -p $(dir $@)
	@echo "  CC san  $<"
	@$(CC) $(SAN_CFLAGS) -c $< -o $@

$(REL)/smelt: $(patsubst %.c,$(REL)/%.o,$(SRC))
	@echo "  LINK    $@"
	@$(CC) $(REL_CFLAGS) $^ -o $@ $(LIBS)
$(SAN)/smelt: $(patsubst %.c,$(SAN)/%.o,$(SRC))
	@echo "  LINK    $@"
	@$(CC) $(SAN_CFLAGS) $^ -o $@ $(LIBS)

$(REL)/tests/%: $(REL)/tests/unit/%.o $(patsubst %.c,$(REL)/%.o,$(LIB_SRC))
	@echo "  LINK    $@"
	@$(CC) $(REL_CFLAGS) $^ -o $@ $(LIBS) -lcmocka
$(SAN)/tests/%: $(SAN)/tests/unit/%.o $(patsubst %.c,$(SAN)/%.o,$(LIB_SRC))
	@echo "  LINK    $@"
	@$(CC) $(SAN_CFLAGS) $^ -o $@ $(LIBS) -lcmocka

build/duckq: tests/tools/duckq.c
	@mkdir -p build
	$(CC) -O1 -g -w -isystem $(DUCKDB_DIR) $< -o $@ -L$(DUCKDB_DIR) -Wl,-rpath,$(abspath $(DUCKDB_DIR)) -lduckdb

UNIT_REL := $(patsubst tests/unit/%.c,$(REL)/tests/%,$(UNIT_SRC))
UNIT_SAN := $(patsubst tests/unit/%.c,$(SAN)/tests/%,$(UNIT_SRC))

demo: deps
	@$(MAKE) --no-print-directory build/smelt
	@./scripts/demo.sh

test: deps
	@$(MAKE) --no-print-directory build/smelt $(SAN)/smelt build/duckq $(UNIT_REL) $(UNIT_SAN)
	@./tests/run.sh

fuzz: deps
	@./tests/fuzz/run.sh

bench: deps
	@$(MAKE) --no-print-directory build/smelt
	@./bench/pipeline.sh

bench-merge: deps
	@$(MAKE) --no-print-directory build/smelt build/duckq
	@./bench/merge.sh

format:
	clang-format -i src/*.c src/*/*.c src/*/*.h tests/unit/*.c

clean:
	rm -rf build
