#!/usr/bin/env bash
# pg-stall.sh -- how long chat-ws's event loop is held up while PostgreSQL
# hangs: its postmaster stopped (SIGSTOP) and chat-ws's backends ended, so a
# reconnect finds a server that accepts TCP connections and never answers.
# Prints chat-ws's loop figures ("stopping" log line: turns over 5 and 50 ms,
# the longest turn) after SECS seconds of that.
#
#   bash tests/lib/pg.sh bash tests/bench/pg-stall.sh [BIN_DIR]   (default build)
set -euo pipefail
BIN=${1:-build}
SECS=${SECS:-12}
: "${CHAT_TEST_PG_URL:?run under tests/lib/pg.sh}"
work=$(mktemp -d /tmp/pg-stall.XXXXXX)
port=$((30000 + RANDOM % 10000))
setsid "$BIN/chat-ws" --db "$CHAT_TEST_PG_URL" --listen "127.0.0.1:$port" >"$work/ws.log" 2>&1 &
ws=$!
trap 'kill -CONT "$pm" 2>/dev/null || true; kill -KILL "$ws" 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 100); do grep -q listening "$work/ws.log" && break; sleep 0.1; done
pm=$(head -1 "$PG_TEST_DIR/data/postmaster.pid")
backends=$("$PG_TEST_BIN/psql" -XAtq "$CHAT_TEST_PG_URL" -c \
	"SELECT pid FROM pg_stat_activity WHERE application_name LIKE 'chat%' AND pid <> pg_backend_pid()")
kill -STOP "$pm"
for b in $backends; do kill -TERM "$b" 2>/dev/null || true; done
echo "postgresql hangs for $SECS s (postmaster $pm stopped, backends $(echo $backends) ended)"
sleep "$SECS"
kill -CONT "$pm"
sleep 2
kill -TERM "$ws"
wait "$ws" || true
grep -E 'held up|reconnect|stopping' "$work/ws.log" | sed 's/^ts=[^ ]* //' | tail -8
