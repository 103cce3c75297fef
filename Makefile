# Makefile -- builds the FastCGI program, the ws process and the tests.
#   make          build build/chat-fcgi, build/chat-ws, build/chat-admin and
#                 build/chat-webhooks
#   make run      install what is missing, build, start the stack on :$(PORT)
#   make test     install what is missing, build (normal and asan), run every test
#   make soak     the fault checker (tests/faults/) for SOAK_MINUTES (10) per
#                 backend, a fault every SOAK_KILL_EVERY (3) s
#   make asan     the same programs with AddressSanitizer + UBSan in build/asan
#   make check-layers  shows that a folder cannot include a higher layer's
#                 header (README "Architecture"; tests/run.sh unit runs it)
#   make install  binaries, assets, systemd units, nginx site and snippet under
#                 $(DESTDIR)$(PREFIX) (docs/installing.md); make uninstall
#   make deb      the Debian package in build/deb/ (dpkg-buildpackage)
#   make clean

CC       ?= cc
CFLAGS   ?= -O2 -g
WARN     := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-missing-field-initializers
CPPFLAGS += -D_GNU_SOURCE $(PQ_CFLAGS) -MMD -MP
BUILD    ?= build
PQ_CFLAGS := $(shell pkg-config --cflags libpq 2>/dev/null || echo -I/usr/include/postgresql)
PORT     ?= 8080

# What each layer's objects need from the system, so that a program links
# the libraries of the layers it links (below) and no other.
STORE_LIBS := -lsqlite3 -lpq -licui18n -licuuc -ljansson
CORE_LIBS  := -ljwt -ljansson
FCGI_LIBS  := -lsodium -lfcgi -ljansson $(CORE_LIBS) $(STORE_LIBS)
WS_LIBS    := -lwebsockets -lev -ljansson $(CORE_LIBS) $(STORE_LIBS) -lm
TEST_LIBS  := -lsodium -lcmocka -lfcgi -lwebsockets -lev -ljansson -ljwt $(STORE_LIBS) -lm

UNIT_SRC  := $(wildcard tests/unit/test_*.c)

# The layers (README "Architecture"), lowest first. A folder's files compile
# with the include path of their own layer and of those below it only, so a
# file that includes a header of a higher layer (or of the other program)
# fails to build: make check-layers shows it. A folder that is not
# listed here does not build.
LAYER_common       := common
LAYER_sql          := $(LAYER_common) sql
LAYER_bus          := $(LAYER_sql) bus
LAYER_core         := $(LAYER_bus) core
# edge/: what the programs' mains share, reading the environment into the
# settings the libraries take as arguments; it sees the store (its options).
LAYER_edge         := $(LAYER_sql) edge
LAYER_ws/loop      := $(LAYER_common) ws/loop
LAYER_ws/transport := $(LAYER_ws/loop) ws/transport
LAYER_ws/socketio  := $(LAYER_ws/transport) ws/socketio
LAYER_ws/chat      := $(LAYER_core) ws/loop ws/transport ws/socketio ws/chat
LAYER_ws           := $(LAYER_ws/chat) edge ws
LAYER_fcgi         := $(LAYER_core) edge fcgi
LAYER_webhooks     := $(LAYER_edge) webhooks
LAYER_admin        := $(LAYER_edge) admin
LAYER_tests/unit   := $(LAYER_ws) fcgi webhooks tests/unit
LAYER_tests/fuzz   := $(LAYER_ws) fcgi tests/fuzz
layer_of   = $(patsubst %/,%,$(dir $(1)))
layer_dirs = $(or $(LAYER_$(call layer_of,$(1))),$(error $(1): its folder $(call layer_of,$(1)) has no layer in the Makefile))
layer_inc  = $(addprefix -I,$(call layer_dirs,$(1)))

obj = $(patsubst %.c,$(BUILD)/%.o,$(1))
# The objects of each layer; a program links its own and those of the layers
# it sees. The bus's publishing side needs no event loop; its listening side,
# bus_lws.c, is the only file of bus/ that calls lws, and only chat-ws (and
# the tests) link it: chat-fcgi links no lws.
COMMON_OBJ  := $(call obj,$(wildcard common/*.c))
SQL_OBJ     := $(call obj,$(wildcard sql/*.c)) $(BUILD)/schema_sql.o $(BUILD)/schema_pg_sql.o
BUS_LWS_OBJ := $(call obj,bus/bus_lws.c)
BUS_OBJ     := $(filter-out $(BUS_LWS_OBJ),$(call obj,$(wildcard bus/*.c)))
CORE_OBJ    := $(call obj,$(wildcard core/*.c))
EDGE_OBJ    := $(call obj,$(wildcard edge/*.c))
STORE_OBJ   := $(SQL_OBJ) $(COMMON_OBJ)
SHARED_OBJ  := $(EDGE_OBJ) $(CORE_OBJ) $(BUS_OBJ) $(STORE_OBJ)
FCGI_OBJ    := $(call obj,$(filter-out fcgi/main.c,$(wildcard fcgi/*.c))) $(BUILD)/openapi_json.o
WS_OBJ      := $(call obj,$(filter-out ws/main.c,$(wildcard ws/*.c ws/*/*.c)))
UNIT_BIN  := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
FUZZ_SRC  := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN  := $(patsubst tests/fuzz/%.c,$(BUILD)/%,$(FUZZ_SRC))
FUZZ_TIME ?= 60

.PHONY: all run test soak unit asan clean limits check-layers source-folders deps deps-run fuzz fuzz-build fuzzers bench bench-quick format \
	install uninstall deb
all: $(BUILD)/chat-fcgi $(BUILD)/chat-ws $(BUILD)/chat-admin $(BUILD)/chat-webhooks

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(call layer_inc,$<) $(CPPFLAGS) $(CFLAGS) $(WARN) -c $< -o $@

# The schemas are compiled in as strings so the binaries need no data files:
# sql/schema.sql as store_schema_sql, sql/schema_pg.sql as store_schema_pg_sql.
schema_c = { echo '/* generated from $(1) */'; echo 'const char $(2)[] ='; \
	  sed 's/\\/\\\\/g; s/"/\\"/g; s/^/"/; s/$$/\\n"/' $(1); echo ';'; } > $(3)

$(BUILD)/schema_sql.c: sql/schema.sql
	@mkdir -p $(dir $@)
	$(call schema_c,$<,store_schema_sql,$@)

$(BUILD)/schema_pg_sql.c: sql/schema_pg.sql
	@mkdir -p $(dir $@)
	$(call schema_c,$<,store_schema_pg_sql,$@)

$(BUILD)/schema_%.o: $(BUILD)/schema_%.c
	$(CC) $(CFLAGS) -c $< -o $@

# fcgi/openapi.json (GET /api/openapi.json) the same way, as api_openapi_json.
$(BUILD)/openapi_json.c: fcgi/openapi.json
	@mkdir -p $(dir $@)
	$(call schema_c,$<,api_openapi_json,$@)

$(BUILD)/openapi_json.o: $(BUILD)/openapi_json.c
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/chat-fcgi: $(call obj,fcgi/main.c) $(FCGI_OBJ) $(SHARED_OBJ)
	$(CC) $(CFLAGS) $(LDFLAGS) $^ $(FCGI_LIBS) -o $@

$(BUILD)/chat-ws: $(call obj,ws/main.c) $(WS_OBJ) $(BUS_LWS_OBJ) $(SHARED_OBJ)
	$(CC) $(CFLAGS) $(LDFLAGS) $^ $(WS_LIBS) -o $@

# chat-webhooks: the webhook sender (README "Webhooks"), its own process on
# libwebsockets' loop and HTTP client.
$(BUILD)/chat-webhooks: $(call obj,$(wildcard webhooks/*.c)) $(EDGE_OBJ) $(STORE_OBJ)
	$(CC) $(CFLAGS) $(LDFLAGS) $^ -lwebsockets -lsodium -ljansson $(STORE_LIBS) -o $@

$(BUILD)/chat-admin: $(call obj,admin/chat-admin.c) $(EDGE_OBJ) $(STORE_OBJ)
	$(CC) $(CFLAGS) $(LDFLAGS) $^ $(STORE_LIBS) -o $@

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(FCGI_OBJ) $(WS_OBJ) $(BUS_LWS_OBJ) $(SHARED_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) $^ $(TEST_LIBS) -o $@

unit: $(UNIT_BIN)

# make check-layers: the layering, tested (tests/run.sh unit runs it). Each
# probe folder:header stands for a file of that folder that includes a header
# of a layer it must not see: it must fail to compile on the folder's path
# (and compile on the unit tests' path, which sees every folder, so that it
# fails for that reason only). Then every header of every layer must compile
# alone on its own folder's path, so that a header that includes a higher
# layer's fails even when no file of its folder includes it. Last, the folders
# of chat-fcgi and chat-admin must compile without libwebsockets.h (bus.h
# publishes with no event loop; bus_lws.h, the listening side, is chat-ws's).
LAYER_PROBES := common:store.h common:token.h sql:bus.h sql:token.h bus:token.h \
  core:eio.h core:api.h ws/loop:eio.h ws/transport:sio.h ws/transport:store.h \
  ws/transport:wsmetrics.h ws/socketio:chat.h ws/socketio:token.h \
  ws/chat:address_share.h ws/chat:api.h fcgi:eio.h fcgi:chat.h \
  webhooks:bus.h webhooks:token.h admin:bus.h admin:api.h edge:token.h edge:bus.h
LAYER_FOLDERS := common sql bus core edge ws/loop ws/transport ws/socketio ws/chat ws fcgi webhooks admin
LAYER_NO_LWS  := common sql core edge fcgi admin
PROBE         := $(BUILD)/layer-probe/probe.c
probe_cc       = $(CC) $(addprefix -I,$(1)) -D_GNU_SOURCE $(PQ_CFLAGS) -fsyntax-only $(PROBE)
define layer_probe
printf '#include "%s"\n' $(2) > $(PROBE) && $(call probe_cc,$(LAYER_tests/unit)) && \
if $(call probe_cc,$(LAYER_$(1))) 2> $(PROBE).err; then \
  echo "check-layers: $(1)/ can include $(2), a header of a layer above it"; exit 1; fi && \
echo "check-layers: $(1)/ cannot include $(2): $$(grep -m1 -o '$(2).*' $(PROBE).err)";
endef
define layer_header
printf '#include "%s"\n' $(notdir $(2)) > $(PROBE) && { $(call probe_cc,$(LAYER_$(1))) || { \
  echo "check-layers: $(2) does not compile alone on $(1)/'s path"; exit 1; }; };
endef
define layer_no_lws
deps=$$($(CC) $(call layer_inc,$(1)) -D_GNU_SOURCE $(PQ_CFLAGS) -M $(1)) || exit 1; \
case "$$deps" in *libwebsockets.h*) echo "check-layers: $(1) includes libwebsockets.h"; exit 1;; esac;
endef
check-layers:
	@mkdir -p $(dir $(PROBE))
	@$(foreach p,$(LAYER_PROBES),$(call layer_probe,$(word 1,$(subst :, ,$(p))),$(word 2,$(subst :, ,$(p)))))
	@$(foreach d,$(LAYER_FOLDERS),$(foreach h,$(wildcard $(d)/*.h),$(call layer_header,$(d),$(h))))
	@$(foreach f,$(wildcard $(LAYER_NO_LWS:%=%/*.c)),$(call layer_no_lws,$(f)))
	@echo "check-layers: $(words $(LAYER_PROBES)) wrong includes refused; the headers of" \
	  "$(words $(LAYER_FOLDERS)) folders compile on their own paths; $(LAYER_NO_LWS) without lws"

# libFuzzer harnesses (clang): make fuzz runs each for FUZZ_TIME seconds,
# growing build/fuzz/corpus-<name> from the seeds in tests/fuzz/corpus/<name>;
# make test replays the seeds and every kept crash in tests/fuzz/crashes/.
$(BUILD)/fuzz_%: $(BUILD)/tests/fuzz/fuzz_%.o $(FCGI_OBJ) $(WS_OBJ) $(BUS_LWS_OBJ) $(SHARED_OBJ)
	$(CC) $(CFLAGS) -fsanitize=fuzzer,address,undefined $^ $(TEST_LIBS) -o $@

fuzzers: $(FUZZ_BIN)

fuzz-build:
	$(MAKE) CC=clang BUILD=build/fuzz \
	  CFLAGS="-g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined" fuzzers

fuzz: deps fuzz-build
	@for f in build/fuzz/fuzz_*; do n=$${f##*/fuzz_}; mkdir -p build/fuzz/corpus-$$n; \
	  echo "== $$n for $(FUZZ_TIME) s"; \
	  $$f -max_total_time=$(FUZZ_TIME) -artifact_prefix=tests/fuzz/crashes/$$n- \
	    build/fuzz/corpus-$$n tests/fuzz/corpus/$$n || exit 1; done

asan:
	$(MAKE) BUILD=build/asan CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
	  LDFLAGS="-fsanitize=address,undefined" all unit

deps:
	@bash deploy/install-deps.sh

# make run installs only what building and running need (no test tools).
deps-run:
	@bash deploy/install-deps.sh --run

run: deps-run all
	PORT=$(PORT) BIN_DIR=$(BUILD) bash deploy/run.sh

test: deps
	$(MAKE) all unit
	$(MAKE) asan
	$(MAKE) fuzz-build
	bash tests/run.sh

# The fault checker as long as asked (make test runs it for 30 s per
# backend): kills, a freeze and PostgreSQL restarts under live clients, then
# the delivery promise checked (tests/faults/). SOAK_BIN is the build it runs.
SOAK_MINUTES    ?= 10
SOAK_KILL_EVERY ?= 3
SOAK_BIN        ?= $(BUILD)
soak: deps all
	FAULTS_SECONDS=$$(( $(SOAK_MINUTES) * 60 )) FAULTS_KILL_EVERY=$(SOAK_KILL_EVERY) \
	  NODE_TIMEOUT=$$(( $(SOAK_MINUTES) * 150 + 900 )) NODE_TEST_TIMEOUT=$$(( ($(SOAK_MINUTES) * 150 + 600) * 1000 )) BIN_DIR=$(SOAK_BIN) bash tests/run.sh faults

# Side-by-side benchmarks (tests/bench/README.md): bench writes
# tests/bench/RESULTS.md in about 10 minutes; bench-quick proves in under a
# minute that the bench works, and make test runs it.
bench: deps
	bash tests/bench/run.sh

bench-quick: deps
	bash tests/bench/run.sh --quick

# Installing. The nginx site and snippet go where Debian's nginx reads them
# (NGINXDIR); the units run $(BINDIR)/chat-*. The socket.io client in
# www/vendor/ comes from deploy/install-deps.sh (make deps).
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
DATADIR    ?= $(PREFIX)/share
UNITDIR    ?= $(PREFIX)/lib/systemd/system
NGINXDIR   ?= /etc/nginx
WWWDIR     := $(DATADIR)/chat/www
UNITS      := $(wildcard deploy/systemd/*.service deploy/systemd/*.socket deploy/systemd/*.target)

install: all
	@test -f www/vendor/socket.io.min.js || { echo "www/vendor/socket.io.min.js missing: run make deps"; exit 1; }
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(WWWDIR)/vendor $(DESTDIR)$(UNITDIR) \
	  $(DESTDIR)$(NGINXDIR)/sites-available $(DESTDIR)$(NGINXDIR)/snippets \
	  $(DESTDIR)$(NGINXDIR)/modules-enabled
	install -m 755 $(BUILD)/chat-fcgi $(BUILD)/chat-ws $(BUILD)/chat-admin $(BUILD)/chat-webhooks $(DESTDIR)$(BINDIR)/
	install -m 644 $(wildcard www/*.*) $(DESTDIR)$(WWWDIR)/
	install -m 644 $(wildcard www/vendor/*.*) $(DESTDIR)$(WWWDIR)/vendor/
	if [ -d www/vendor/admin-ui ]; then cp -R www/vendor/admin-ui $(DESTDIR)$(WWWDIR)/vendor/; fi
	if [ -d www/vendor/mdi ]; then cp -R www/vendor/mdi $(DESTDIR)$(WWWDIR)/vendor/; fi
	for u in $(UNITS); do \
	  sed 's|/usr/local/bin/|$(BINDIR)/|g' $$u > $(DESTDIR)$(UNITDIR)/$${u##*/} && \
	  chmod 644 $(DESTDIR)$(UNITDIR)/$${u##*/} || exit 1; done
	install -m 644 deploy/chat-fastcgi.conf $(DESTDIR)$(NGINXDIR)/snippets/
	install -m 644 deploy/nginx/chat-capacity.conf \
	  $(DESTDIR)$(NGINXDIR)/modules-enabled/90-chat-capacity.conf
	bash deploy/nginx/gen.sh production WWW_DIR=$(WWWDIR) \
	  FASTCGI_SNIPPET=$(NGINXDIR)/snippets/chat-fastcgi.conf > $(DESTDIR)$(NGINXDIR)/sites-available/chat

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/chat-fcgi $(DESTDIR)$(BINDIR)/chat-ws $(DESTDIR)$(BINDIR)/chat-admin $(DESTDIR)$(BINDIR)/chat-webhooks
	rm -rf $(DESTDIR)$(DATADIR)/chat
	rm -f $(addprefix $(DESTDIR)$(UNITDIR)/,$(notdir $(UNITS)))
	rm -f $(DESTDIR)$(NGINXDIR)/snippets/chat-fastcgi.conf $(DESTDIR)$(NGINXDIR)/sites-available/chat \
	  $(DESTDIR)$(NGINXDIR)/modules-enabled/90-chat-capacity.conf

# The production site, generated from the one template (tests/package checks
# that the committed file is up to date).
deploy/nginx.conf: deploy/nginx/site.conf.in deploy/nginx/gen.sh
	bash deploy/nginx/gen.sh production > $@

# The multi-node example (docs/scaling.md): three hosts of nodes.example,
# each with a chat-fcgi on port 9000.
MULTINODE_FCGI := 10.0.0.11:9000 10.0.0.12:9000 10.0.0.13:9000
deploy/multinode/nginx.conf: deploy/nginx/site.conf.in deploy/nginx/gen.sh deploy/multinode/nodes.example
	bash deploy/nginx/gen.sh production NODES_FILE=deploy/multinode/nodes.example \
	  FCGI_SERVERS="$(MULTINODE_FCGI)" > $@

# The Debian package, built by tests/package/build.sh from a copy of the tree
# (dpkg-buildpackage cleans the tree it builds in) into build/deb/.
deb:
	bash deploy/install-deps.sh --package
	bash tests/package/build.sh

# The top folders of the C layers, for the package's source list
# (tests/package/build.sh): a new layer is packaged without another edit.
source-folders:
	@echo $(sort $(foreach f,$(LAYER_FOLDERS),$(firstword $(subst /, ,$(f)))))

# docs/limits.md's table of limits is chat-ws --print-limits, and the usage
# block of docs/configuration.md chat-ws --help (test_contract and
# tests/integration/rest check them): make limits rewrites both after a change
# to common/contract.c. The one awk program rewrites whichever of the two
# blocks each file holds.
LIMITS_DOCS = docs/limits.md docs/configuration.md
limits: $(BUILD)/chat-ws
	$(BUILD)/chat-ws --print-limits > $(BUILD)/limits.md
	$(BUILD)/chat-ws --help > $(BUILD)/usage.txt
	for doc in $(LIMITS_DOCS); do \
	  awk -v f=$(BUILD)/limits.md -v h=$(BUILD)/usage.txt ' \
	    /^<!-- \/limits -->/ || (/^```$$/ && help == 2) { skip = 0; help = 0 } \
	    !skip { print } \
	    /^<!-- limits:/ { while ((getline l < f) > 0) print l; skip = 1 } \
	    help == 1 && /^```$$/ { while ((getline l < h) > 0) print l; skip = 1; help = 2 } \
	    /^`chat-ws --help`:$$/ { help = 1 }' $$doc > $(BUILD)/doc.md && \
	  mv $(BUILD)/doc.md $$doc || exit 1; \
	done

clean:
	rm -rf build

format:
	clang-format -i $(wildcard common/*.[ch] core/*.[ch] edge/*.[ch] sql/*.[ch] bus/*.[ch] fcgi/*.[ch] ws/*.[ch] ws/*/*.[ch] admin/*.[ch] tests/unit/*.[ch] tests/bench/*.[ch])

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
