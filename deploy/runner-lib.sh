# runner-lib.sh -- what deploy/run.sh and deploy/multinode/run-local.sh share
# (sourced by both).
#
#   free_ports START COUNT
#                    prints the first COUNT free loopback ports from START,
#                    bind-tested with SO_REUSEADDR as chat-ws binds, so a port
#                    in TIME_WAIT counts as free and one held by any socket
#                    does not.
#   supervise_next   waits until a child listed in NAME_OF (pid -> name) is
#                    gone; sets `died` (its pid) and `status` (its exit status).
#                    Returns 1 after a pause of 0.2 s with nobody gone (a
#                    trapped signal ends the pause at once): call it in a loop.
#
#   restart_later NAME UPTIME_MS
#                    schedules NAME, which died after UPTIME_MS of life, to be
#                    started again by the runner's `respawn NAME` after a
#                    backoff: RESTART_SEC (0.1 s) the first time and after a
#                    life of at least RESTART_STABLE_SEC (60 s), else twice the
#                    last delay, at most RESTART_MAX_SEC (5 s). A process is
#                    restarted forever: a crash loop costs one start every
#                    RESTART_MAX_SEC, never a dead service. Sets `delay_text`
#                    (the delay in seconds, for the log).
#   restart_due      calls `respawn NAME` for each NAME whose delay is over
#                    (call it on every turn of the supervise loop).
#   restart_cancel   forgets every pending restart (when stopping).
#   now_ms           sets NOW_MS, the wall clock in milliseconds, without a
#                    child process.
#
# Not `wait -n`: bash 5.2's can miss a child that the wait of a command
# substitution ($(date), $(curl ...)) reaped first, and a dead process is then
# never restarted. bash reaps its children as they exit, so `kill -0` fails for
# a dead one, and `wait PID` still gives its status. The pause is a `sleep`
# child waited for, which a trapped signal interrupts. (Not `read -t`: bash
# 5.2 can abort with "longjmp causes uninitialized stack frame" when a trap
# runs during it.)

supervise_next() {
	local pid
	died=''
	for pid in "${!NAME_OF[@]}"; do
		kill -0 "$pid" 2>/dev/null && continue
		died=$pid
		wait "$pid" 2>/dev/null
		status=$?
		return 0
	done
	sleep 0.2 &
	wait $! 2>/dev/null
	return 1
}

free_ports() { # start count
	node -e '
		const net = require("node:net");
		const [start, count] = process.argv.slice(1).map(Number);
		const tryPort = (port) => new Promise((done) => {
			const s = net.createServer();
			s.once("error", () => done(false));
			s.listen({ port, host: "127.0.0.1", exclusive: true }, () => s.close(() => done(true)));
		});
		(async () => {
			const out = [];
			for (let p = start; out.length < count && p < 65536; p++)
				if (await tryPort(p)) out.push(p);
			console.log(out.join(" "));
		})();
	' "$1" "$2"
}

# --- restarts with a backoff -------------------------------------------------

# Seconds as text ("0.1", "5", "1.5") to milliseconds, without a child.
seconds_to_ms() {
	local s=$1 int frac
	case "$s" in '' | *[!0-9.]* | *.*.*) return 1 ;; esac
	int=${s%%.*}
	frac=
	[ "$s" != "$int" ] && frac=${s#*.}
	frac=${frac}000
	printf '%d\n' $((10#${int:-0} * 1000 + 10#${frac:0:3}))
}

now_ms() {
	local t=${EPOCHREALTIME//[.,]/}
	NOW_MS=$((10#$t / 1000))
}

RESTART_MIN_MS=$(seconds_to_ms "${RESTART_SEC:-0.1}") || RESTART_MIN_MS=100
RESTART_MAX_MS=$(seconds_to_ms "${RESTART_MAX_SEC:-5}") || RESTART_MAX_MS=5000
RESTART_STABLE_MS=$(seconds_to_ms "${RESTART_STABLE_SEC:-60}") || RESTART_STABLE_MS=60000
[ "$RESTART_MAX_MS" -ge "$RESTART_MIN_MS" ] || RESTART_MAX_MS=$RESTART_MIN_MS
declare -A RESTART_DELAY_MS=() # name -> the last delay
declare -A RESTART_DUE_MS=()   # name -> when to start it again

restart_later() { # name uptime_ms
	local name=$1 up=$2 last=${RESTART_DELAY_MS[$1]:-0} d
	if [ "$last" -eq 0 ] || [ "$up" -ge "$RESTART_STABLE_MS" ]; then
		d=$RESTART_MIN_MS
	else
		d=$((last * 2))
		[ "$d" -le "$RESTART_MAX_MS" ] || d=$RESTART_MAX_MS
	fi
	RESTART_DELAY_MS[$name]=$d
	now_ms
	RESTART_DUE_MS[$name]=$((NOW_MS + d))
	delay_text=$((d / 1000)).$((d % 1000 / 100))
}

restart_due() {
	local name
	[ ${#RESTART_DUE_MS[@]} -gt 0 ] || return 0
	now_ms
	for name in "${!RESTART_DUE_MS[@]}"; do
		[ "${RESTART_DUE_MS[$name]}" -le "$NOW_MS" ] || continue
		unset "RESTART_DUE_MS[$name]"
		respawn "$name"
	done
}

restart_cancel() {
	RESTART_DUE_MS=()
}
