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
