#!/usr/bin/env bash
# pg.sh -- a private PostgreSQL for the tests, from Debian's packages.
#
# Sourced:
#   . tests/lib/pg.sh
#   pg_test_start            # or: pg_test_start || exit 1
#   ... $CHAT_TEST_PG_URL ...
#   (stopped by an EXIT trap; pg_test_stop stops it earlier)
# Run:
#   bash tests/lib/pg.sh CMD ARGS...   # CMD runs with the server up and the
#                                      # variables below exported; exits with
#                                      # CMD's status
#
# pg_test_start runs initdb into a fresh temporary folder ($PG_TEST_DIR) and
# starts the server listening on a unix socket in that folder and on a free
# loopback TCP port ($PG_TEST_PORT). No system service, no system folder and
# no system configuration is touched. As root the server runs as an
# unprivileged user ($PG_TEST_USER, default nobody: PostgreSQL refuses to run
# as root); otherwise as the calling user. Authentication is "trust" (the
# socket is in a private folder and TCP listens on 127.0.0.1 only) and the
# database superuser is named "chat", so any local client connects with the
# URLs below. fsync is off: the tests need the server's semantics, not
# durability against a power cut (a clean or crashed server loses nothing
# committed while the machine stays up).
#
# Exports:
#   CHAT_TEST_PG_URL        postgresql://chat@127.0.0.1:PORT/chat_test (TCP)
#   CHAT_TEST_PG_SOCKET_URL the same database over the unix socket
#   CHAT_TEST_PG_ADMIN_URL  the "postgres" database over TCP, for CREATE
#                           DATABASE / DROP DATABASE of per-test databases
#   PG_TEST_DIR, PG_TEST_PORT, PG_TEST_BIN
# Helpers: pg_test_psql [psql args] (on chat_test), pg_test_createdb NAME
# (prints NAME's URL), pg_test_dropdb NAME, pg_test_server_stop [fast|
# immediate] and pg_test_server_start (an outage; a child shell that sources
# pg.sh with these variables exported can call them too).
#
# PG_TEST_BIN overrides the binaries' folder (default: the newest
# /usr/lib/postgresql/*/bin; the /usr/local/bin wrappers are not used).

pg_test__log() { printf 'pg.sh: %s\n' "$*" >&2; }

# Runs "$@" as the server's user.
pg_test__as() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u "$PG_TEST_USER" -- "$@"
	else
		"$@"
	fi
}

pg_test__bin() {
	local d
	if [ -n "${PG_TEST_BIN:-}" ]; then
		printf '%s\n' "$PG_TEST_BIN"
		return
	fi
	for d in $(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V -r); do
		if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/postgres" ]; then
			printf '%s\n' "$d"
			return
		fi
	done
	return 1
}

# A TCP port on 127.0.0.1 that nothing listens on now.
pg_test__free_port() {
	local port _
	for _ in $(seq 1 50); do
		port=$((20000 + RANDOM % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			printf '%s\n' "$port"
			return
		fi
	done
	return 1
}

pg_test_start() {
	local _ log
	if [ -n "${PG_TEST_DIR:-}" ] && [ -d "${PG_TEST_DIR}" ]; then
		pg_test__log "already running in $PG_TEST_DIR"
		return 0
	fi
	PG_TEST_BIN=$(pg_test__bin) || {
		pg_test__log "no PostgreSQL server binaries in /usr/lib/postgresql/*/bin (deploy/install-deps.sh installs postgresql)"
		return 1
	}
	PG_TEST_USER=${PG_TEST_USER:-nobody}
	PG_TEST_DIR=$(mktemp -d "${TMPDIR:-/tmp}/chat-pg.XXXXXX") || return 1
	chmod 755 "$PG_TEST_DIR"
	mkdir -p "$PG_TEST_DIR/data" "$PG_TEST_DIR/sock" "$PG_TEST_DIR/log"
	if [ "$(id -u)" -eq 0 ]; then
		id "$PG_TEST_USER" >/dev/null 2>&1 || {
			pg_test__log "user $PG_TEST_USER does not exist (set PG_TEST_USER)"
			return 1
		}
		chown "$PG_TEST_USER" "$PG_TEST_DIR/data" "$PG_TEST_DIR/sock" "$PG_TEST_DIR/log"
	fi
	chmod 700 "$PG_TEST_DIR/data"
	chmod 755 "$PG_TEST_DIR/sock" "$PG_TEST_DIR/log"
	log=$PG_TEST_DIR/initdb.log
	if ! (cd "$PG_TEST_DIR" && pg_test__as "$PG_TEST_BIN/initdb" -D "$PG_TEST_DIR/data" -U chat \
		-A trust -E UTF8 --locale=C.UTF-8 --no-sync) >"$log" 2>&1; then
		pg_test__log "initdb failed:"
		cat "$log" >&2
		pg_test__cleanup_dir
		return 1
	fi
	for _ in 1 2 3 4 5; do
		PG_TEST_PORT=$(pg_test__free_port) || break
		pg_test_server_start && break
		PG_TEST_PORT=
	done
	if [ -z "${PG_TEST_PORT:-}" ]; then
		pg_test__log "the server did not start:"
		tail -20 "$PG_TEST_DIR/log/server.log" >&2 2>/dev/null
		pg_test__cleanup_dir
		return 1
	fi
	export PG_TEST_DIR PG_TEST_PORT PG_TEST_BIN PG_TEST_USER
	export CHAT_TEST_PG_ADMIN_URL="postgresql://chat@127.0.0.1:$PG_TEST_PORT/postgres"
	export CHAT_TEST_PG_URL="postgresql://chat@127.0.0.1:$PG_TEST_PORT/chat_test"
	export CHAT_TEST_PG_SOCKET_URL="postgresql://chat@/chat_test?host=$PG_TEST_DIR/sock&port=$PG_TEST_PORT"
	pg_test__install_trap
	if ! pg_test_createdb chat_test >/dev/null; then
		pg_test_stop
		return 1
	fi
	pg_test__log "PostgreSQL $("$PG_TEST_BIN/postgres" --version | awk '{print $3}') up in $PG_TEST_DIR, port $PG_TEST_PORT"
}

# Starts the server of $PG_TEST_DIR on $PG_TEST_PORT (again, after
# pg_test_server_stop: a test of what a restart or an outage does).
pg_test_server_start() {
	(cd "$PG_TEST_DIR" && pg_test__as "$PG_TEST_BIN/pg_ctl" -D "$PG_TEST_DIR/data" \
		-l "$PG_TEST_DIR/log/server.log" -w -t 60 start \
		-o "-k $PG_TEST_DIR/sock -h 127.0.0.1 -p $PG_TEST_PORT -c fsync=off -c full_page_writes=off -c max_connections=300 -c shared_buffers=32MB") \
		>>"$PG_TEST_DIR/pg_ctl.log" 2>&1
}

# Stops the server, keeping its folder: MODE fast (default) or immediate (a
# crash: no shutdown checkpoint).
pg_test_server_stop() {
	(cd "$PG_TEST_DIR" && pg_test__as "$PG_TEST_BIN/pg_ctl" -D "$PG_TEST_DIR/data" \
		-m "${1:-fast}" -w -t 60 stop) >>"$PG_TEST_DIR/pg_ctl.log" 2>&1
}

pg_test__cleanup_dir() {
	[ -n "${PG_TEST_DIR:-}" ] && rm -rf "$PG_TEST_DIR"
	PG_TEST_DIR=
}

# Stops the server (fast shutdown, then immediate) and removes its folder.
pg_test_stop() {
	[ -n "${PG_TEST_DIR:-}" ] && [ -d "$PG_TEST_DIR" ] || return 0
	if [ -f "$PG_TEST_DIR/data/postmaster.pid" ]; then
		(cd "$PG_TEST_DIR" && pg_test__as "$PG_TEST_BIN/pg_ctl" -D "$PG_TEST_DIR/data" -m fast -w -t 30 stop) \
			>/dev/null 2>&1 ||
			(cd "$PG_TEST_DIR" && pg_test__as "$PG_TEST_BIN/pg_ctl" -D "$PG_TEST_DIR/data" -m immediate -w stop) \
				>/dev/null 2>&1
	fi
	pg_test__cleanup_dir
	unset CHAT_TEST_PG_URL CHAT_TEST_PG_SOCKET_URL CHAT_TEST_PG_ADMIN_URL PG_TEST_PORT
}

# Adds pg_test_stop to the EXIT trap, keeping what was there, and makes INT
# and TERM go through EXIT.
pg_test__install_trap() {
	local old
	old=$(trap -p EXIT | sed -e "s/^trap -- '//" -e "s/' EXIT\$//")
	case "$old" in *pg_test_stop*) return ;; esac
	# shellcheck disable=SC2064 # expand the old trap now
	trap "pg_test_stop${old:+; $old}" EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

pg_test_psql() {
	"$PG_TEST_BIN/psql" -X -q -v ON_ERROR_STOP=1 "$CHAT_TEST_PG_URL" "$@"
}

# Creates database NAME (letters, digits, underscore) and prints its URL.
pg_test_createdb() {
	local name=$1
	case "$name" in '' | *[!a-zA-Z0-9_]*)
		pg_test__log "bad database name: $name"
		return 1
		;;
	esac
	"$PG_TEST_BIN/psql" -X -q -v ON_ERROR_STOP=1 "$CHAT_TEST_PG_ADMIN_URL" \
		-c "CREATE DATABASE \"$name\"" >/dev/null || return 1
	printf 'postgresql://chat@127.0.0.1:%s/%s\n' "$PG_TEST_PORT" "$name"
}

pg_test_dropdb() {
	local name=$1
	case "$name" in '' | *[!a-zA-Z0-9_]*) return 1 ;; esac
	"$PG_TEST_BIN/psql" -X -q -v ON_ERROR_STOP=1 "$CHAT_TEST_PG_ADMIN_URL" \
		-c "DROP DATABASE IF EXISTS \"$name\" WITH (FORCE)" >/dev/null
}

# Run as a program: start, run the command, stop.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -u
	[ $# -gt 0 ] || {
		echo "usage: bash tests/lib/pg.sh CMD [ARGS...]" >&2
		exit 2
	}
	pg_test_start || exit 1
	"$@"
	exit $?
fi
