#!/usr/bin/env bash
# rolling-restart.sh -- restarts every chat-ws process, one at a time, with no
# lost acknowledged message and no outage: each gets SIGTERM (it stops
# accepting, commits what it has, closes its sessions so their clients
# reconnect to the other processes and recover, and exits; see chat-ws
# --drain-timeout), comes back, and listens again before the next one goes.
#
#   deploy/rolling-restart.sh [RUN_DIR]     the local runner's processes (make run;
#                                           RUN_DIR defaults to $RUN_DIR, else ./run)
#   deploy/rolling-restart.sh --systemd     every active chat-ws@PORT.service
#
# Environment: WAIT_SEC, how long one process may take to go and come back (30).
# Exit status 0 when every process was restarted, 1 otherwise.
set -euo pipefail

WAIT_SEC=${WAIT_SEC:-30}
log() { printf 'rolling-restart: %s\n' "$*"; }
die() {
	log "error: $*" >&2
	exit 1
}
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Waits until the port accepts connections, up to WAIT_SEC.
wait_port() { # port
	local deadline=$((SECONDS + WAIT_SEC))
	until port_open "$1"; do
		[ $SECONDS -lt $deadline ] || return 1
		sleep 0.1
	done
}

if [ "${1:-}" = --systemd ]; then
	mapfile -t units < <(systemctl list-units --type=service --state=active --plain --no-legend 'chat-ws@*' | awk '{print $1}')
	[ ${#units[@]} -gt 0 ] || die "no active chat-ws@ unit"
	for u in "${units[@]}"; do
		port=${u#chat-ws@}
		port=${port%.service}
		log "restarting $u"
		systemctl restart "$u" # SIGTERM, wait for the drain, start
		case "$port" in '' | *[!0-9]*) ;; *) wait_port "$port" || die "$u does not listen on $port" ;; esac
		log "$u is back"
	done
	exit 0
fi

RUN_DIR=${1:-${RUN_DIR:-run}}
[ -f "$RUN_DIR/runner.pid" ] && kill -0 "$(<"$RUN_DIR/runner.pid")" 2>/dev/null ||
	die "no runner in $RUN_DIR (start it with make run)"
shopt -s nullglob
pidfiles=("$RUN_DIR"/ws-*.pid)
[ ${#pidfiles[@]} -gt 0 ] || die "no chat-ws process in $RUN_DIR"
for f in "${pidfiles[@]}"; do
	name=$(basename "$f" .pid)
	old=$(<"$f")
	port=$(<"$RUN_DIR/$name.port")
	log "restarting $name (pid $old, port $port)"
	kill -TERM "$old" 2>/dev/null || log "$name was not running"
	deadline=$((SECONDS + WAIT_SEC))
	# the runner writes the new pid when it starts the process again
	while kill -0 "$old" 2>/dev/null || [ "$(<"$f")" = "$old" ]; do
		[ $SECONDS -lt $deadline ] || die "$name did not come back in $WAIT_SEC s"
		sleep 0.1
	done
	wait_port "$port" || die "$name does not listen on $port"
	log "$name is back (pid $(<"$f"))"
done
