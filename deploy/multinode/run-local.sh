#!/usr/bin/env bash
# run-local.sh -- several chat nodes on one PostgreSQL, on this machine, as if
# each ran on a host of its own (README "Scaling out").
#
#   bash deploy/multinode/run-local.sh          # 3 chat-ws + 2 chat-fcgi + nginx
#
# Every chat-ws node and every chat-fcgi server gets a working folder of its
# own under RUN_DIR (node-<id>/, fcgi-<i>/: its log, its pid, its copy of the
# token secret) and reaches the others only through PostgreSQL over TCP --
# no shared file, no unix socket between them. nginx routes polling requests
# by the sid's node character to the node that holds the session (the config
# comes from deploy/nginx/gen.sh with a nodes file, as on several hosts).
# Ctrl-C (or SIGTERM) stops everything it started, the private PostgreSQL
# included, and exits 0.
#
# Environment (all optional):
#   PORT       nginx port on 127.0.0.1                               (8080)
#   NODES      chat-ws nodes, 1-36; node i has id "0-9a-z"[i]         (3)
#   FCGI       chat-fcgi servers                                      (2)
#   DB         a postgresql:// URL; unset: a private server (initdb in a
#              temporary folder, tests/lib/pg.sh), removed at exit
#   RUN_DIR    the folders of the nodes                 (<repo>/run-multinode)
#   BIN_DIR    where chat-fcgi and chat-ws are                   (<repo>/build)
#   WS_ARGS    extra chat-ws arguments (word-split)                        ()
#   WEBHOOKS   chat-webhooks senders (folders webhooks-<i>); they share
#              the webhooks through leases in the database (2; 0: none)
#   RESTART    1: a process that dies is started again, forever, as
#              systemd's Restart=always would, after a backoff: RESTART_SEC
#              (0.1), doubled on each death within RESTART_STABLE_SEC (60)
#              of its start, at most RESTART_MAX_SEC (5)
#              (deploy/runner-lib.sh); 0: it stays down                   (1)
#   READY_TIMEOUT  seconds to wait for every process                     (30)
#   WATCH_PID  stop when this process is gone (the test harness)
# Files: RUN_DIR/runner.log, nodes (the nodes file nginx's config came from),
# nginx.conf, admin.token (0600), node-<id>/{ws.log,pid,port,secret},
# fcgi-<i>/{fcgi.log,pid,port,secret}.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=deploy/runner-lib.sh
. "$ROOT/deploy/runner-lib.sh" # free_ports, supervise_next, restart_later
PORT=${PORT:-8080}
NODES=${NODES:-3}
FCGI=${FCGI:-2}
RUN_DIR=${RUN_DIR:-$ROOT/run-multinode}
case "$RUN_DIR" in /*) ;; *) RUN_DIR=$PWD/$RUN_DIR ;; esac
BIN_DIR=${BIN_DIR:-build}
case "$BIN_DIR" in /*) ;; *) BIN_DIR=$ROOT/$BIN_DIR ;; esac
WS_ARGS=${WS_ARGS:-}
RESTART=${RESTART:-1}
READY_TIMEOUT=${READY_TIMEOUT:-30}
WATCH_PID=${WATCH_PID:-}
NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
IDS=0123456789abcdefghijklmnopqrstuvwxyz

umask 077
mkdir -p "$RUN_DIR/tmp" || exit 1
LOG=$RUN_DIR/runner.log
trap ':' PIPE
log() {
	printf '%s %s\n' "$(date '+%F %T')" "$*" >>"$LOG"
	printf 'chat: %s\n' "$*" 2>/dev/null
}
die() {
	log "error: $*"
	exit 1
}
# The URL as logs show it: a password in it is masked.
masked() { printf '%s' "$1" | sed -E 's#(://[^:/@]*):[^@/]*@#\1:***@#'; }

for v in PORT NODES FCGI READY_TIMEOUT; do
	case "${!v}" in '' | *[!0-9]*) die "$v must be a number, not '${!v}'" ;; esac
done
[ "$NODES" -ge 1 ] && [ "$NODES" -le ${#IDS} ] || die "NODES is 1-${#IDS}"
[ "$FCGI" -ge 1 ] || die "FCGI is at least 1"
for b in chat-ws chat-fcgi; do
	[ -x "$BIN_DIR/$b" ] || die "$BIN_DIR/$b not found: build it first (make)"
done
[ -x "$NGINX" ] || die "nginx not found: run deploy/install-deps.sh"
command -v node >/dev/null 2>&1 || die "node not found: run deploy/install-deps.sh"

# --- PostgreSQL ------------------------------------------------------------------
if [ -z "${DB:-}" ]; then
	# shellcheck source=tests/lib/pg.sh
	. "$ROOT/tests/lib/pg.sh"
	pg_test_start || die "could not start a private PostgreSQL (see above)"
	DB=$CHAT_TEST_PG_URL
	log "private PostgreSQL in $PG_TEST_DIR (removed at exit)"
fi
case "$DB" in postgres://* | postgresql://*) ;; *) die "DB must be a postgresql:// URL" ;; esac

# --- ports: nginx's, then one per process ------------------------------------------
[ "$(free_ports "$PORT" 1)" = "$PORT" ] || die "port $PORT is in use (PORT=... picks another)"
read -r -a PORTS <<<"$(free_ports $((PORT + 1)) $((NODES + FCGI)))"
[ "${#PORTS[@]}" -eq $((NODES + FCGI)) ] || die "not enough free ports after $PORT"

# --- the secret every node verifies tokens with (a copy in each folder) -------------
SECRET=$RUN_DIR/secret
[ -s "$SECRET" ] || od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$SECRET" || die "cannot write $SECRET"

NODE_DIRS=() NODE_PORTS=() FCGI_DIRS=() FCGI_PORTS=()
: >"$RUN_DIR/nodes"
for ((i = 0; i < NODES; i++)); do
	id=${IDS:$i:1}
	NODE_DIRS+=("$RUN_DIR/node-$id")
	NODE_PORTS+=("${PORTS[$i]}")
	mkdir -p "$RUN_DIR/node-$id" && cp "$SECRET" "$RUN_DIR/node-$id/secret"
	echo "${PORTS[$i]}" >"$RUN_DIR/node-$id/port"
	printf '%s 127.0.0.1:%s\n' "$id" "${PORTS[$i]}" >>"$RUN_DIR/nodes"
done
WEBHOOKS=${WEBHOOKS:-2}
[ -x "$BIN_DIR/chat-webhooks" ] || WEBHOOKS=0
for ((i = 0; i < WEBHOOKS; i++)); do mkdir -p "$RUN_DIR/webhooks-$i"; done
fcgi_servers=''
for ((i = 0; i < FCGI; i++)); do
	FCGI_DIRS+=("$RUN_DIR/fcgi-$i")
	FCGI_PORTS+=("${PORTS[$((NODES + i))]}")
	mkdir -p "$RUN_DIR/fcgi-$i" && cp "$SECRET" "$RUN_DIR/fcgi-$i/secret"
	echo "${PORTS[$((NODES + i))]}" >"$RUN_DIR/fcgi-$i/port"
	fcgi_servers+="127.0.0.1:${PORTS[$((NODES + i))]} "
done

# --- nginx -------------------------------------------------------------------------
user_line=''
[ "$(id -u)" -eq 0 ] && user_line="user $(id -un) $(id -gn);"
mime_types='include /etc/nginx/mime.types;'
[ -f /etc/nginx/mime.types ] || mime_types='types { text/html html; text/css css; application/javascript js; }'
bash "$ROOT/deploy/nginx/gen.sh" runner RUN_DIR="$RUN_DIR" NGINX_USER="$user_line" \
	MIME_TYPES="$mime_types" LISTEN="127.0.0.1:$PORT" SERVER_NAME=localhost \
	NODES_FILE="$RUN_DIR/nodes" FCGI_SERVERS="$fcgi_servers" \
	FASTCGI_SNIPPET="$ROOT/deploy/chat-fastcgi.conf" WWW_DIR="$ROOT/www" \
	API_RATE=1000 API_BURST=2000 SIO_CONN=1000 SIO_RATE=1000 SIO_BURST=2000 \
	STATIC_CACHE=development >"$RUN_DIR/nginx.conf" || die "deploy/nginx/gen.sh failed"
NGINX_ARGS=(-p "$RUN_DIR" -c "$RUN_DIR/nginx.conf" -e "$RUN_DIR/error.log")
"$NGINX" -t -q "${NGINX_ARGS[@]}" >"$RUN_DIR/nginx.log" 2>&1 || {
	cat "$RUN_DIR/nginx.log" >&2
	die "nginx rejected $RUN_DIR/nginx.conf"
}

# --- processes -----------------------------------------------------------------------
declare -A NAME_OF=()  # pid -> name (node-<id>, fcgi-<i>, nginx, watch)
declare -A START_OF=() # name -> start time (ms)

spawn() { # name
	local name=$1 dir=$RUN_DIR/$1 i
	local -a args
	case "$name" in
	node-*)
		read -r -a args <<<"$WS_ARGS"
		(cd "$dir" && CHAT_SECRET_FILE=$dir/secret exec setsid "$BIN_DIR/chat-ws" --db "$DB" \
			--listen "127.0.0.1:$(<"$dir/port")" --node "${name#node-}" --open-workspaces \
			"${args[@]}" </dev/null >>"$dir/ws.log" 2>&1) &
		;;
	fcgi-*)
		(cd "$dir" && CHAT_SECRET_FILE=$dir/secret exec setsid "$BIN_DIR/chat-fcgi" --db "$DB" \
			--listen "127.0.0.1:$(<"$dir/port")" --workers 2 </dev/null >>"$dir/fcgi.log" 2>&1) &
		;;
	webhooks-*)
		(cd "$dir" && exec setsid "$BIN_DIR/chat-webhooks" --db "$DB" \
			</dev/null >>"$dir/webhooks.log" 2>&1) &
		;;
	nginx)
		setsid "$NGINX" "${NGINX_ARGS[@]}" </dev/null >>"$RUN_DIR/nginx.log" 2>&1 &
		;;
	esac
	NAME_OF[$!]=$name
	now_ms
	START_OF[$name]=$NOW_MS
	[ "$name" = nginx ] || echo $! >"$dir/pid"
}
respawn() { # name
	spawn "$1"
	log "$1 restarted (pid $!)"
}

stop_all() {
	local pid deadline
	trap '' INT TERM HUP
	restart_cancel
	for pid in "${!NAME_OF[@]}"; do kill -TERM "$pid" 2>/dev/null; done
	deadline=$((SECONDS + 5))
	for pid in "${!NAME_OF[@]}"; do
		while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.05; done
		kill -KILL -- "-$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
}
on_signal() {
	log "stopping"
	stop_all
	log "stopped"
	exit 0
}
trap on_signal INT TERM HUP

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

log "database $(masked "$DB"), $NODES chat-ws nodes, $FCGI chat-fcgi, folders in $RUN_DIR"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0}
# The first chat-fcgi creates the schema; the others wait for it.
spawn fcgi-0
deadline=$((SECONDS + READY_TIMEOUT))
until port_open "${FCGI_PORTS[0]}"; do
	kill -0 "$(<"$RUN_DIR/fcgi-0/pid")" 2>/dev/null || {
		tail -20 "$RUN_DIR/fcgi-0/fcgi.log" >&2
		stop_all
		die "chat-fcgi exited at start"
	}
	[ $SECONDS -lt $deadline ] || { stop_all; die "chat-fcgi did not listen"; }
	sleep 0.05
done
for ((i = 1; i < FCGI; i++)); do spawn "fcgi-$i"; done
for ((i = 0; i < NODES; i++)); do spawn "node-${IDS:$i:1}"; done
for ((i = 0; i < WEBHOOKS; i++)); do spawn "webhooks-$i"; done
spawn nginx
if [ -n "$WATCH_PID" ]; then
	(while kill -0 "$WATCH_PID" 2>/dev/null; do sleep 1; done) &
	NAME_OF[$!]=watch
fi

while :; do
	ready=1
	for p in "${NODE_PORTS[@]}" "${FCGI_PORTS[@]}" "$PORT"; do port_open "$p" || ready=0; done
	[ $ready -eq 1 ] && break
	for pid in "${!NAME_OF[@]}"; do
		kill -0 "$pid" 2>/dev/null && continue
		stop_all
		die "${NAME_OF[$pid]} exited at start (its log is in $RUN_DIR)"
	done
	[ $SECONDS -lt $deadline ] || { stop_all; die "not ready after $READY_TIMEOUT s"; }
	sleep 0.1
done
if token=$(CHAT_SECRET_FILE=$SECRET "$BIN_DIR/chat-ws" --issue-token --admin --ttl 86400 2>/dev/null); then
	printf '%s\n' "$token" >"$RUN_DIR/admin.token"
fi
unset token
log "ready at http://127.0.0.1:$PORT/ (nodes $(tr '\n' ' ' <"$RUN_DIR/nodes")| fcgi on ${FCGI_PORTS[*]})"

# --- supervise -----------------------------------------------------------------------
while :; do
	restart_due
	supervise_next || continue
	name=${NAME_OF[$died]:-}
	unset "NAME_OF[$died]"
	case "$name" in
	watch) on_signal ;;
	'') ;;
	*)
		how="exited with status $status"
		[ "$status" -gt 128 ] && how="was killed by SIG$(kill -l $((status - 128)) 2>/dev/null)"
		kill -KILL -- "-$died" 2>/dev/null
		if [ "$RESTART" = 1 ]; then
			now_ms
			restart_later "$name" $((NOW_MS - ${START_OF[$name]}))
			log "$name (pid $died) $how: restarting in ${delay_text}s"
		else
			log "$name (pid $died) $how: left down (RESTART=0)"
		fi
		;;
	esac
done
