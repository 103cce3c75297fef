#!/usr/bin/env bash
# run.sh -- runs every test and prints the total: "N passed, N failed".
#
#   bash tests/run.sh [unit] [fuzz] [integration] [integration-pg] [faults]
#                     [browser] [bench] [package]                 (default: all)
#
# unit:        make check-layers (the include rules of the layers), then
#              each binary in $UNIT_DIR (build/asan/tests) under ASan, UBSan and
#              LSan; cmocka's "[  PASSED  ] N test(s)." and "[  FAILED  ] N
#              test(s)" lines are counted, and a binary that crashes or exits
#              non-zero beyond what it counted adds one failure. The store's
#              binaries (PG_UNIT) run a second time on PostgreSQL
#              (CHAT_TEST_STORE=postgresql), on a private server that
#              tests/lib/pg.sh starts and stops.
# integration-pg: the integration suite again (or PG_INTEGRATION's files),
#              each stack on a fresh database of that PostgreSQL server
#              (CHAT_TEST_DB_URL); tests that need SQLite's file skip.
# integration: node --test on tests/integration/ (BIN_DIR=build/asan; leaks
#              are not checked there since processes get killed; the harness
#              fails a test whose stack logged any sanitizer report).
# faults:      node --test on tests/faults/, the fault checker (issue 20):
#              SQLite with 3 chat-ws, then PostgreSQL with 3 nodes on the
#              private server (which it restarts), FAULTS_SECONDS (30) of
#              kills each; `make soak SOAK_MINUTES=N` runs it for N minutes.
# browser:     the same for tests/browser/, when it exists.
# package:     tests/package/ (the Debian package built, installed on this
#              machine, smoke-tested and purged; needs root): Debian's
#              packaging tools are installed first (install-deps.sh --package).
# It goes on after a failure, and exits non-zero when anything failed or no
# test ran. Output of each part is also kept in tests/out/.
set -u

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 1

UNIT_DIR=${UNIT_DIR:-build/asan/tests}
export BIN_DIR=${BIN_DIR:-build/asan}
OUT=$ROOT/tests/out
UNIT_TIMEOUT=${UNIT_TIMEOUT:-300}      # seconds, per unit test binary
NODE_TIMEOUT=${NODE_TIMEOUT:-1500}     # seconds, per node --test run
NODE_TEST_TIMEOUT=${NODE_TEST_TIMEOUT:-300000} # ms, per node test
mkdir -p "$OUT"

PASSED=0
FAILED=0
SKIPPED=0

# The unit binaries that run on both backends, and the integration files that
# integration-pg runs (default: all of tests/integration; the tests that need
# SQLite's file skip there and say why; PG_INTEGRATION="rest queue" runs
# those two).
PG_UNIT=${PG_UNIT:-"test_store test_store_order test_retention test_bus_pg test_moderation_store test_post"}
PG_INTEGRATION=${PG_INTEGRATION:-}

# shellcheck source=tests/lib/pg.sh
. "$ROOT/tests/lib/pg.sh"

# Starts the private PostgreSQL once (pg.sh stops it at exit); false, with a
# note counted as a failure, when it cannot start.
pg_up() {
	[ -n "${CHAT_TEST_PG_URL:-}" ] && return 0
	if ! pg_test_start; then
		note "postgresql: the test server did not start"
		FAILED=$((FAILED + 1))
		return 1
	fi
}

suites=("$@")
[ ${#suites[@]} -gt 0 ] || suites=(unit fuzz integration integration-pg faults browser bench package)

note() { printf '\n=== %s\n' "$*"; }

run_unit() {
	local bin name log rc p f
	local -a bins=()
	# The layers the build enforces (README "Architecture"): wrong includes
	# must fail to compile, every header compile on its own folder's path.
	mkdir -p "$OUT/unit"
	note "unit: make check-layers"
	if make -s --no-print-directory check-layers >"$OUT/unit/check-layers.log" 2>&1; then
		PASSED=$((PASSED + 1))
	else
		FAILED=$((FAILED + 1))
	fi
	cat "$OUT/unit/check-layers.log"
	if [ -d "$UNIT_DIR" ]; then
		for bin in "$UNIT_DIR"/*; do
			[ -f "$bin" ] && [ -x "$bin" ] && bins+=("$bin")
		done
	fi
	if [ ${#bins[@]} -eq 0 ]; then
		note "unit: no test binaries in $UNIT_DIR"
		return
	fi
	mkdir -p "$OUT/unit"
	local -a runs=()
	for bin in "${bins[@]}"; do
		runs+=("$bin:sqlite")
		case " $PG_UNIT " in *" $(basename "$bin") "*) runs+=("$bin:postgresql") ;; esac
	done
	local run backend
	for run in "${runs[@]}"; do
		bin=${run%:*}
		backend=${run##*:}
		name=$(basename "$bin")
		log=$OUT/unit/$name.log
		if [ "$backend" = postgresql ]; then
			pg_up || continue
			name=$name-pg
			log=$OUT/unit/$name.log
		fi
		note "unit: $name"
		CHAT_TEST_STORE=$backend ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
			UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
			timeout -k 10 "$UNIT_TIMEOUT" "$bin" </dev/null >"$log" 2>&1
		rc=$?
		cat "$log"
		p=$(sed -n 's/^\[  PASSED  \] \([0-9][0-9]*\) test(s)\..*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
		f=$(sed -n 's/^\[  FAILED  \] \([0-9][0-9]*\) test(s).*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
		PASSED=$((PASSED + p))
		FAILED=$((FAILED + f))
		if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then
			# A crash, a sanitizer report, a timeout (124) or a bad exit that
			# cmocka did not count as a failed test.
			echo "unit: $name exited with status $rc"
			FAILED=$((FAILED + 1))
		elif [ $rc -eq 0 ] && grep -q -e 'ERROR: AddressSanitizer' -e 'runtime error:' -e 'ERROR: LeakSanitizer' "$log"; then
			echo "unit: $name logged a sanitizer report"
			FAILED=$((FAILED + 1))
		fi
	done
}

# node --test on a directory (or on files); counts from the TAP summary "# pass N" ...
run_node() { # suite dir [files...]
	local suite=$1 dir=$2 log rc p f s
	shift 2
	local -a targets=("$@")
	[ ${#targets[@]} -gt 0 ] || targets=("$dir")
	if [ ! -d "$dir" ]; then
		note "$suite: no $dir"
		return
	fi
	if ! command -v node >/dev/null 2>&1; then
		note "$suite: node not found"
		FAILED=$((FAILED + 1))
		return
	fi
	log=$OUT/$suite.tap
	note "$suite: node --test $dir (BIN_DIR=$BIN_DIR)"
	ASAN_OPTIONS=detect_leaks=0:abort_on_error=0 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		timeout -k 10 "$NODE_TIMEOUT" node --test --test-concurrency=1 \
		--test-timeout="$NODE_TEST_TIMEOUT" --test-reporter=tap "${targets[@]}" </dev/null 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	p=$(sed -n 's/^# pass \([0-9][0-9]*\)$/\1/p' "$log" | tail -n 1)
	# Cancelled tests (timeouts, a test file that crashed) count as failed.
	f=$(sed -n 's/^# \(fail\|cancelled\) \([0-9][0-9]*\)$/\2/p' "$log" | awk '{s+=$1} END {print s+0}')
	s=$(sed -n 's/^# \(skipped\|todo\) \([0-9][0-9]*\)$/\2/p' "$log" | awk '{s+=$1} END {print s+0}')
	p=${p:-0}
	f=${f:-0}
	PASSED=$((PASSED + p))
	FAILED=$((FAILED + f))
	SKIPPED=$((SKIPPED + s))
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "$suite: node --test exited with status $rc"
		FAILED=$((FAILED + 1))
	fi
}

# fuzz: each libFuzzer harness in build/fuzz replays its seed corpus and the
# crashes kept as regressions (tests/fuzz/crashes/<name>-*): one test each.
run_fuzz() {
	local f name log
	local -a inputs
	for f in build/fuzz/fuzz_*; do
		[ -x "$f" ] || continue
		name=${f##*/fuzz_}
		inputs=(tests/fuzz/corpus/"$name"/* tests/fuzz/crashes/"$name"-*)
		inputs=("${inputs[@]//*\**/}")
		log=$OUT/fuzz-$name.log
		note "fuzz: replay $name (${#inputs[@]} inputs)"
		# shellcheck disable=SC2068 # empty entries from unmatched globs drop out
		if timeout -k 10 300 "$f" -runs=1 ${inputs[@]} >"$log" 2>&1; then
			PASSED=$((PASSED + 1))
			echo "ok"
		else
			FAILED=$((FAILED + 1))
			tail -30 "$log"
		fi
	done
}

# bench: make bench-quick's run, which proves the benchmarks work (it
# asserts no timing): one test, passed when it exits 0.
run_bench() {
	note "bench: tests/bench/run.sh --quick"
	if timeout -k 10 600 bash tests/bench/run.sh --quick >"$OUT/bench-quick.log" 2>&1; then
		PASSED=$((PASSED + 1))
		tail -25 "$OUT/bench-quick.log"
	else
		FAILED=$((FAILED + 1))
		tail -40 "$OUT/bench-quick.log"
	fi
}

# package: the packaging tools, then node --test on tests/package/.
run_package() {
	note "package: deploy/install-deps.sh --package"
	if ! bash deploy/install-deps.sh --package >"$OUT/package-deps.log" 2>&1; then
		FAILED=$((FAILED + 1))
		tail -20 "$OUT/package-deps.log"
		return
	fi
	run_node package tests/package
}

# integration-pg: the integration suite (or PG_INTEGRATION's files) with
# every stack on PostgreSQL.
run_integration_pg() {
	local f
	local -a files=()
	for f in $PG_INTEGRATION; do
		[ -f "tests/integration/$f.test.mjs" ] && files+=("tests/integration/$f.test.mjs")
	done
	pg_up || return
	export CHAT_TEST_DB_URL=$CHAT_TEST_PG_ADMIN_URL
	run_node integration-pg tests/integration "${files[@]}"
	unset CHAT_TEST_DB_URL
}

# faults: the fault checker; its PostgreSQL half needs the private server
# (it restarts it), the SQLite half runs anyway.
run_faults() {
	pg_up && export CHAT_TEST_DB_URL=$CHAT_TEST_PG_ADMIN_URL
	run_node faults tests/faults
	unset CHAT_TEST_DB_URL
}

for suite in "${suites[@]}"; do
	case "$suite" in
	unit) run_unit ;;
	fuzz) run_fuzz ;;
	bench) run_bench ;;
	integration) run_node integration tests/integration ;;
	integration-pg) run_integration_pg ;;
	faults) run_faults ;;
	browser) run_node browser tests/browser ;;
	package) run_package ;;
	*)
		echo "unknown suite: $suite (unit, fuzz, integration, integration-pg, faults, browser, bench, package)" >&2
		FAILED=$((FAILED + 1))
		;;
	esac
done

echo
[ "$SKIPPED" -gt 0 ] && echo "($SKIPPED skipped)"
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ] && [ "$PASSED" -gt 0 ]
