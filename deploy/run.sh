#!/usr/bin/env bash
# run.sh -- the local runner behind `make run`: nginx, chat-fcgi, chat-ws and
# chat-webhooks.
#
# Starts the whole stack as it runs in production, with every file it writes
# under RUN_DIR, in the foreground; Ctrl-C (SIGINT) or SIGTERM stops all it
# started and exits 0. A chat-fcgi, chat-ws or nginx process that dies is
# restarted, as systemd's Restart=always would, forever, after a backoff:
# RESTART_SEC, doubled on each death that comes within RESTART_STABLE_SEC of
# the last start, at most RESTART_MAX_SEC (deploy/runner-lib.sh).
#
# Environment (all optional):
#   PORT          nginx port on 127.0.0.1                     (8080)
#   RUN_DIR       where config, sockets, pids and logs go     (<repo>/run)
#   DB            the SQLite database, or a PostgreSQL URL    ($RUN_DIR/chat.db)
#                 (postgresql://user@host/db; README "PostgreSQL")
#   BIN_DIR       where chat-fcgi and chat-ws are             (<repo>/build)
#   WS_PROCS      number of chat-ws processes                 (nproc)
#   WS_ARGS       extra arguments for chat-ws (word-split)    ()
#   FCGI_WORKERS  chat-fcgi --workers                         (2)
#   WEBHOOKS      number of chat-webhooks senders; 0: none     (1)
#   WEBHOOKS_ARGS extra arguments for chat-webhooks (word-split) ()
#   CHAT_SECRET_FILE  admin JWT secret; made if absent        ($RUN_DIR/secret)
#   TAIL_LOGS     1: also copy the programs' logs to stdout   (1 on a terminal)
#   READY_TIMEOUT seconds to wait for /api/health             (30)
#   RESTART_SEC   first delay before restarting a dead process (0.1)
#   RESTART_MAX_SEC    the longest delay, for a crash loop      (5)
#   RESTART_STABLE_SEC a life this long resets the delay         (60)
#   API_RATE      POSTs per second to /api/ per client         (200)
#   API_BURST     POSTs over that rate let through at once     (400)
#   OPEN_WORKSPACES 1: a Socket.IO CONNECT may create a workspace
#                 (chat-ws --open-workspaces); 0: only the admin API  (1)
#   SIO_CONN      connections to /socket.io/ per client at once, < 65536 (256)
#   SIO_RATE      new Socket.IO sessions per second per client (100)
#   SIO_BURST     new sessions over that rate let through      (200)
#   WATCH_PID     stop when this process is gone (used by the test harness)
#   SSO_AUTH_URL  sign-in through nginx: the auth_request endpoint (README
#                 "Sign-in through nginx"; sets CHAT_AUTH_REQUEST=1)   ()
#   SSO_USER_HEADER the header of its answer naming the user  (X-Auth-Request-User)
#
# Files in RUN_DIR: nginx.conf, secret, fcgi.sock, runner.log, fcgi.log,
# ws-<i>.log, webhooks-<i>.log, error.log and access.log (nginx), and the pid
# files runner.pid, fcgi.pid, ws-<i>.pid, webhooks-<i>.pid, nginx.pid, plus
# ws-<i>.port; i counts from 0.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=deploy/runner-lib.sh
. "$ROOT/deploy/runner-lib.sh" # free_ports, supervise_next, restart_later

abspath() {
	case "$1" in
	/*) printf '%s\n' "$1" ;;
	*) printf '%s/%s\n' "$PWD" "$1" ;;
	esac
}

PORT=${PORT:-8080}
RUN_DIR=$(abspath "${RUN_DIR:-$ROOT/run}")
DB=${DB:-$RUN_DIR/chat.db}
case "$DB" in postgres://* | postgresql://*) ;; *) DB=$(abspath "$DB") ;; esac
BIN_DIR=${BIN_DIR:-build}
case "$BIN_DIR" in /*) ;; *) BIN_DIR=$ROOT/$BIN_DIR ;; esac
WS_PROCS=${WS_PROCS:-$(nproc 2>/dev/null || echo 1)}
WS_ARGS=${WS_ARGS:-}
FCGI_WORKERS=${FCGI_WORKERS:-2}
READY_TIMEOUT=${READY_TIMEOUT:-30}
API_RATE=${API_RATE:-200}
API_BURST=${API_BURST:-400}
OPEN_WORKSPACES=${OPEN_WORKSPACES:-1}
SIO_CONN=${SIO_CONN:-256}
SIO_RATE=${SIO_RATE:-100}
SIO_BURST=${SIO_BURST:-200}
WATCH_PID=${WATCH_PID:-}
if [ -z "${TAIL_LOGS:-}" ]; then
	if [ -t 1 ]; then TAIL_LOGS=1; else TAIL_LOGS=0; fi
fi
NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}

# Everything the runner and its programs create is theirs alone: the run folder
# 0700, files 0600 (the database, the secret, admin.token, fcgi.sock, logs).
umask 077
mkdir -p "$RUN_DIR/tmp" || exit 1
chmod 700 "$RUN_DIR" || exit 1
for f in "$RUN_DIR"/* "$DB" "$DB-wal" "$DB-shm" "$DB-notify"; do
	[ -f "$f" ] && chmod 600 "$f"
done
LOG=$RUN_DIR/runner.log

# A runner whose stdout reader went away (the test harness was killed) must
# still stop what it started: catch SIGPIPE with a handler, which unlike an
# ignored signal is not inherited by the programs, and let the write fail.
trap ':' PIPE
log() {
	printf '%s %s\n' "$(date '+%F %T')" "$*" >>"$LOG"
	printf 'chat: %s\n' "$*" 2>/dev/null
}
die() {
	log "error: $*"
	exit 1
}

for v in PORT WS_PROCS FCGI_WORKERS API_RATE API_BURST SIO_CONN SIO_RATE SIO_BURST READY_TIMEOUT; do
	case "${!v}" in '' | *[!0-9]*) die "$v must be a number, not '${!v}'" ;; esac
done
[ -x "$BIN_DIR/chat-fcgi" ] || die "$BIN_DIR/chat-fcgi not found: build it first (make)"
[ -x "$NGINX" ] || die "nginx not found: run deploy/install-deps.sh"
WEBHOOKS=${WEBHOOKS:-1}
WEBHOOKS_ARGS=${WEBHOOKS_ARGS:-}
case "$WEBHOOKS" in '' | *[!0-9]*) die "WEBHOOKS must be a number, not '$WEBHOOKS'" ;; esac
if [ "$WEBHOOKS" -gt 0 ] && [ ! -x "$BIN_DIR/chat-webhooks" ]; then
	log "note: $BIN_DIR/chat-webhooks not found, running without it (webhooks are not sent)"
	WEBHOOKS=0
fi
if [ ! -x "$BIN_DIR/chat-ws" ]; then
	log "note: $BIN_DIR/chat-ws not found, running without it (/socket.io/ answers 502)"
	WS_PROCS=0
fi

# --- the admin JWT secret ----------------------------------------------------
export CHAT_SECRET_FILE=${CHAT_SECRET_FILE:-$RUN_DIR/secret}
if [ ! -s "$CHAT_SECRET_FILE" ]; then
	(umask 077 && od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$CHAT_SECRET_FILE") ||
		die "cannot write $CHAT_SECRET_FILE"
fi
chmod 600 "$CHAT_SECRET_FILE" 2>/dev/null || true

# --- ports for the ws processes: the first WS_PROCS free ones after PORT -------

command -v node >/dev/null 2>&1 || die "node not found: run deploy/install-deps.sh"
[ "$(free_ports "$PORT" 1)" = "$PORT" ] || die "port $PORT is in use (PORT=... picks another)"
WS_PORTS=()
if [ "$WS_PROCS" -gt 0 ]; then
	read -r -a WS_PORTS <<<"$(free_ports $((PORT + 1)) "$WS_PROCS")"
	[ "${#WS_PORTS[@]}" -eq "$WS_PROCS" ] || die "no $WS_PROCS free ports after $PORT"
fi

# --- nginx.conf from the one site template ---------------------------------------
# deploy/nginx/gen.sh: the production site (deploy/nginx/site.conf.in) inside
# the runner's wrapper (deploy/nginx.local.conf.in).
# Every ws process names itself in the first character of its sids (chat-ws
# --node); nginx sends a request carrying ?sid= to that process's own upstream,
# so Engine.IO polling works across processes without sticky sessions. A
# request without sid (a new session) goes to the least busy process.
NODES=0123456789abcdefghijklmnopqrstuvwxyz
[ "$WS_PROCS" -le ${#NODES} ] || die "at most ${#NODES} ws processes"

user_line=''
# As root, nginx would switch its worker to nobody, which can neither reach
# RUN_DIR nor the socket: keep the worker the invoking user instead.
[ "$(id -u)" -eq 0 ] && user_line="user $(id -un) $(id -gn);"

mime_types='include /etc/nginx/mime.types;'
[ -f /etc/nginx/mime.types ] || mime_types='types { text/html html; text/css css; application/javascript js; image/svg+xml svg; image/png png; image/x-icon ico; }'

bash "$ROOT/deploy/nginx/gen.sh" runner RUN_DIR="$RUN_DIR" NGINX_USER="$user_line" \
	MIME_TYPES="$mime_types" LISTEN="127.0.0.1:$PORT" SERVER_NAME=localhost \
	FCGI_SOCKET="$RUN_DIR/fcgi.sock" FASTCGI_SNIPPET="$ROOT/deploy/chat-fastcgi.conf" \
	WWW_DIR="$ROOT/www" WS_PORTS="${WS_PORTS[*]}" WS_NODES="$(printf '%s ' $(fold -w1 <<<"${NODES:0:$WS_PROCS}"))" \
	API_RATE="$API_RATE" API_BURST="$API_BURST" STATIC_CACHE=development \
	SIO_CONN="$SIO_CONN" SIO_RATE="$SIO_RATE" SIO_BURST="$SIO_BURST" \
	SSO_AUTH_URL="${SSO_AUTH_URL:-}" SSO_USER_HEADER="${SSO_USER_HEADER:-X-Auth-Request-User}" \
	>"$RUN_DIR/nginx.conf" || die "cannot write $RUN_DIR/nginx.conf (deploy/nginx/gen.sh)"

[ -z "${SSO_AUTH_URL:-}" ] || export CHAT_AUTH_REQUEST=1
NGINX_ARGS=(-p "$RUN_DIR" -c "$RUN_DIR/nginx.conf" -e "$RUN_DIR/error.log")
if ! "$NGINX" -t -q "${NGINX_ARGS[@]}" >"$RUN_DIR/nginx.log" 2>&1; then
	cat "$RUN_DIR/nginx.log" >&2
	die "nginx rejected $RUN_DIR/nginx.conf"
fi

# --- process table ----------------------------------------------------------------
# Every program runs in its own session (setsid without a fork: a background job
# of this script is no group leader), so its pid is its process group and the
# group, forked workers included, can be signalled at once. That also keeps a
# terminal's Ctrl-C away from them: this script alone stops them, in order.
declare -A NAME_OF=()  # pid -> name (fcgi, ws-<i>, nginx, tail, watch)
declare -A START_OF=() # name -> start time (ms)

spawn_fcgi() {
	rm -f "$RUN_DIR/fcgi.sock"
	setsid "$BIN_DIR/chat-fcgi" --db "$DB" --listen "unix:$RUN_DIR/fcgi.sock" \
		--workers "$FCGI_WORKERS" </dev/null >>"$RUN_DIR/fcgi.log" 2>&1 &
	NAME_OF[$!]=fcgi
	now_ms
	START_OF[fcgi]=$NOW_MS
	echo $! >"$RUN_DIR/fcgi.pid"
}

spawn_ws() { # index
	local i=$1
	local -a args
	read -r -a args <<<"$WS_ARGS" # words, never globbed (--allowed-origins '*')
	if [ "$OPEN_WORKSPACES" = 1 ]; then args=(--open-workspaces "${args[@]}"); fi
	setsid "$BIN_DIR/chat-ws" --db "$DB" --listen "127.0.0.1:${WS_PORTS[$i]}" --node "${NODES:$i:1}" "${args[@]}" \
		</dev/null >>"$RUN_DIR/ws-$i.log" 2>&1 &
	NAME_OF[$!]=ws-$i
	now_ms
	START_OF[ws-$i]=$NOW_MS
	echo $! >"$RUN_DIR/ws-$i.pid"
	echo "${WS_PORTS[$i]}" >"$RUN_DIR/ws-$i.port"
}

spawn_webhooks() { # index
	local i=$1
	local -a args
	read -r -a args <<<"$WEBHOOKS_ARGS"
	setsid "$BIN_DIR/chat-webhooks" --db "$DB" "${args[@]}" </dev/null >>"$RUN_DIR/webhooks-$i.log" 2>&1 &
	NAME_OF[$!]=webhooks-$i
	now_ms
	START_OF[webhooks-$i]=$NOW_MS
	echo $! >"$RUN_DIR/webhooks-$i.pid"
}

spawn_nginx() {
	setsid "$NGINX" "${NGINX_ARGS[@]}" </dev/null >>"$RUN_DIR/nginx.log" 2>&1 &
	NAME_OF[$!]=nginx
	now_ms
	START_OF[nginx]=$NOW_MS
}

# Stops every process: SIGTERM to each, up to 4 s for all of them to exit, then
# SIGKILL to each process group that is left.
stop_all() {
	local pid deadline
	trap '' INT TERM HUP
	restart_cancel
	for pid in "${!NAME_OF[@]}"; do
		kill -TERM "$pid" 2>/dev/null
	done
	deadline=$((SECONDS + 4))
	for pid in "${!NAME_OF[@]}"; do
		while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do
			sleep 0.05
		done
	done
	for pid in "${!NAME_OF[@]}"; do
		if kill -0 "$pid" 2>/dev/null; then
			log "${NAME_OF[$pid]} (pid $pid) ignored SIGTERM: killed"
		fi
		kill -KILL -- "-$pid" 2>/dev/null # the group: workers left behind too
		wait "$pid" 2>/dev/null
	done
	rm -f "$RUN_DIR/fcgi.sock" "$RUN_DIR/runner.pid"
}

on_signal() {
	log "stopping"
	stop_all
	log "stopped"
	exit 0
}

fail() {
	log "error: $*"
	stop_all
	exit 1
}

show_tail() { # file
	[ -s "$1" ] || return 0
	printf -- '--- last lines of %s\n' "$1" >&2
	tail -n 20 "$1" >&2
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

trap on_signal INT TERM HUP
echo $$ >"$RUN_DIR/runner.pid"
log "run dir $RUN_DIR, database $(printf '%s' "$DB" | sed -E 's#(://[^:/@]*):[^@/]*@#\1:***@#'), binaries $BIN_DIR"

# --- start --------------------------------------------------------------------------
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0}
if [ "$TAIL_LOGS" = 1 ]; then
	logs=("$RUN_DIR/fcgi.log")
	for ((i = 0; i < WS_PROCS; i++)); do logs+=("$RUN_DIR/ws-$i.log"); done
	for ((i = 0; i < WEBHOOKS; i++)); do logs+=("$RUN_DIR/webhooks-$i.log"); done
	for f in "${logs[@]}"; do : >>"$f"; done
	tail -n 0 -q -F "${logs[@]}" &
	NAME_OF[$!]="tail"
fi
spawn_fcgi
# chat-fcgi creates the database: let it finish before the ws processes open it.
deadline=$((SECONDS + 10))
while [ ! -S "$RUN_DIR/fcgi.sock" ]; do
	if ! kill -0 "$(<"$RUN_DIR/fcgi.pid")" 2>/dev/null; then
		show_tail "$RUN_DIR/fcgi.log"
		fail "chat-fcgi exited at start (log: $RUN_DIR/fcgi.log)"
	fi
	[ $SECONDS -lt $deadline ] || fail "chat-fcgi made no socket in 10 s"
	sleep 0.05
done

for ((i = 0; i < WS_PROCS; i++)); do
	spawn_ws "$i"
done
for ((i = 0; i < WEBHOOKS; i++)); do
	spawn_webhooks "$i"
done
spawn_nginx

if [ -n "$WATCH_PID" ]; then
	(while kill -0 "$WATCH_PID" 2>/dev/null; do sleep 1; done) &
	NAME_OF[$!]="watch"
fi

# Ready when nginx answers from chat-fcgi, and every ws process listens.
deadline=$((SECONDS + READY_TIMEOUT))
while :; do
	for pid in "${!NAME_OF[@]}"; do
		if ! kill -0 "$pid" 2>/dev/null; then
			name=${NAME_OF[$pid]}
			case "$name" in
			nginx) show_tail "$RUN_DIR/nginx.log" && show_tail "$RUN_DIR/error.log" ;;
			*) show_tail "$RUN_DIR/$name.log" ;;
			esac
			fail "$name exited at start (log: $RUN_DIR/$name.log)"
		fi
	done
	code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$PORT/api/health")
	case "$code" in 000 | 502 | 504) ready=0 ;; *) ready=1 ;; esac
	for ((i = 0; i < WS_PROCS && ready; i++)); do
		port_open "${WS_PORTS[$i]}" || ready=0
	done
	[ $ready -eq 1 ] && break
	[ $SECONDS -lt $deadline ] || fail "not ready after $READY_TIMEOUT s (last /api/health: $code)"
	sleep 0.1
done

log "ready at http://127.0.0.1:$PORT/ (fcgi + $WS_PROCS ws on ${WS_PORTS[*]:-none}; logs in $RUN_DIR)"
# An admin token for local use (/admin namespace, admin REST calls), valid a day.
# Written to a 0600 file, never printed nor logged: read it from the file.
if [ -x "$BIN_DIR/chat-ws" ] && token=$("$BIN_DIR/chat-ws" --issue-token --admin --ttl 86400 2>/dev/null); then
	printf '%s\n' "$token" >"$RUN_DIR/admin.token"
	log "admin token (24 h) in $RUN_DIR/admin.token"
fi
unset token
[ -t 1 ] && log "Ctrl-C stops it"

# --- supervise ----------------------------------------------------------------------
respawn() { # name
	case "$1" in
	nginx) rm -f "$RUN_DIR/nginx.pid" && spawn_nginx ;;
	fcgi) spawn_fcgi ;;
	webhooks-*) spawn_webhooks "${1#webhooks-}" ;;
	*) spawn_ws "${1#ws-}" ;;
	esac
	log "$1 restarted (pid $!)"
}

while :; do
	restart_due
	supervise_next || continue
	name=${NAME_OF[$died]:-}
	unset "NAME_OF[$died]"
	case "$name" in
	watch)
		log "process $WATCH_PID is gone"
		on_signal
		;;
	tail | '') ;;
	nginx | fcgi | ws-* | webhooks-*)
		# nginx too comes back (as systemd would restart it): clients
		# reconnect and recover their sessions through it.
		[ "$name" = nginx ] && show_tail "$RUN_DIR/error.log"
		how="exited with status $status"
		[ "$status" -gt 128 ] && how="was killed by SIG$(kill -l $((status - 128)) 2>/dev/null)"
		kill -KILL -- "-$died" 2>/dev/null # what it forked and left behind
		now_ms
		restart_later "$name" $((NOW_MS - ${START_OF[$name]}))
		log "$name (pid $died) $how: restarting in ${delay_text}s"
		;;
	esac
done
