#!/usr/bin/env bash
# run.sh -- the benchmarks side by side: chat-ws (direct, and through nginx as
# deployed), Socket.IO 4.8 on Node, and Nginx + Nchan, on this machine, in one run.
#
#   bash tests/bench/run.sh            the full run (~10 min), writes tests/bench/RESULTS.md
#   bash tests/bench/run.sh --quick    a small run (< 1 min) that proves the bench works;
#                                      prints its figures, writes RESULTS.md in its temp dir
#   options: --out FILE (where RESULTS.md goes), --no-profile, --keep (keep the temp dir),
#            --only LIST (some of idle,fanout,mix,durable,rest,storm,profile,memory),
#            --targets LIST (loadgen runs only against ours-direct,ours-nginx,socketio,socketio-nginx,nchan),
#            --append WORKDIR (add to a kept run's results and remake its RESULTS.md)
#
# Every process it starts runs in its own process group and is stopped by the
# EXIT trap. Load goes to 127.0.0.1 only (from source addresses 127.0.0.1-16).
# Scenarios, their sizes and what is measured: tests/bench/README.md.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BENCH=$ROOT/tests/bench
BUILD=$ROOT/build/bench
QUICK=0 PROFILE=1 KEEP=0 OUT= ONLY= TARGETS= APPEND=
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) QUICK=1 ;;
	--no-profile) PROFILE=0 ;;
	--keep) KEEP=1 ;;
	--out) OUT=$2 && shift ;;
	--only) ONLY=,$2, && shift ;;
	--targets) TARGETS=,$2, && shift ;;
	--append) APPEND=$2 && shift ;;
	*) echo "usage: $0 [--quick] [--only idle,fanout,mix,durable,rest,storm,profile,memory] [--targets ours-direct,ours-nginx,socketio,socketio-nginx,nchan] [--append WORKDIR] [--out FILE] [--no-profile] [--keep]" >&2 && exit 2 ;;
	esac
	shift
done
[ "$QUICK" = 1 ] && PROFILE=0

if [ -n "$APPEND" ]; then
	WORK=$(cd "$APPEND" && pwd) && [ -f "$WORK/results.jsonl" ] || { echo "$APPEND: no results.jsonl" >&2; exit 2; }
	KEEP=1
else
	WORK=$(mktemp -d /tmp/chat-bench.XXXXXX)
fi
# Only a full run of every scenario replaces tests/bench/RESULTS.md by default.
if [ -z "$OUT" ]; then
	if [ "$QUICK" = 0 ] && [ -z "$ONLY" ]; then OUT=$BENCH/RESULTS.md; else OUT=$WORK/RESULTS.md; fi
fi
JSONL=$WORK/results.jsonl
LOG=$WORK/bench.log
[ -n "$APPEND" ] || : >"$JSONL"

# --- process bookkeeping --------------------------------------------------------
PIDS=() # process group leaders we started
track() { PIDS+=("$1"); }

stop_group() { # pid [seconds]
	local pid=$1 wait_s=${2:-5} i
	kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < wait_s * 20; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

cleanup() {
	local status=$? pid
	trap - EXIT INT TERM
	for pid in "${PIDS[@]}"; do stop_group "$pid" 8; done
	if [ "$KEEP" = 1 ] || [ "$status" -ne 0 ]; then
		echo "bench: work directory kept: $WORK" >&2
	else
		rm -rf "$WORK"
	fi
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { printf 'bench: %s\n' "$*" | tee -a "$LOG"; }
die() { say "error: $*" >&2; exit 1; }

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# A port below the ephemeral range with the next few free too (run.sh gives
# the ws process the first free port after nginx's).
pick_port() {
	local p k ok
	for _ in $(seq 200); do
		p=$((20000 + RANDOM % 12000))
		ok=1
		for k in 0 1 2 3; do port_free $((p + k)) || ok=0; done
		[ $ok = 1 ] && echo "$p" && return 0
	done
	return 1
}

wait_for() { # seconds command...: polls until the command succeeds
	local deadline=$((SECONDS + $1))
	shift
	until "$@"; do
		[ $SECONDS -lt $deadline ] || return 1
		sleep 0.1
	done
}

# --- build and prerequisites -------------------------------------------------------
say "work dir $WORK"
say "building chat-fcgi, chat-ws (make BUILD=build/bench all) and the load generator"
make -s -C "$ROOT" BUILD=build/bench all >"$WORK/build.log" 2>&1 || { tail -20 "$WORK/build.log"; die "build failed"; }
make -s -C "$BENCH" BUILD="$BUILD" >>"$WORK/build.log" 2>&1 || { tail -20 "$WORK/build.log"; die "loadgen build failed"; }
LOADGEN=$BUILD/loadgen

command -v nginx >/dev/null || die "nginx not found (deploy/install-deps.sh)"
command -v node >/dev/null || die "node not found (deploy/install-deps.sh)"
[ -d "$ROOT/tests/node_modules/socket.io" ] || die "tests/node_modules/socket.io missing: run deploy/install-deps.sh (npm ci in tests/)"
NCHAN_SO=/usr/lib/nginx/modules/ngx_nchan_module.so
if [ ! -f "$NCHAN_SO" ]; then
	say "installing libnginx-mod-nchan (apt-get)"
	SUDO=()
	[ "$(id -u)" -eq 0 ] || SUDO=(sudo -n)
	if ! DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -q --no-install-recommends libnginx-mod-nchan \
		</dev/null >"$WORK/apt.log" 2>&1; then
		{ DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get update -q &&
			DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -q --no-install-recommends libnginx-mod-nchan; } \
			</dev/null >>"$WORK/apt.log" 2>&1 || say "could not install libnginx-mod-nchan: the Nchan peer is skipped"
	fi
fi
HAVE_NCHAN=0
[ -f "$NCHAN_SO" ] && HAVE_NCHAN=1
HAVE_WRK=0
command -v wrk >/dev/null && HAVE_WRK=1
HAVE_PERF=0
[ "$PROFILE" = 1 ] && command -v perf >/dev/null && HAVE_PERF=1

NOFILE=$(ulimit -Hn)
ulimit -n "$NOFILE" 2>/dev/null || true
MAXCONN=$((NOFILE - 600)) # what one process can hold here (a connection is a descriptor)

# --- sizes -----------------------------------------------------------------------------
if [ "$QUICK" = 1 ]; then
	IDLE_SIZES="1000" IDLE_NGINX=500 IDLE_PEER=1000
	FAN_SUBS=100 FAN_RATES="100,200" FAN_STEP=1 FAN_HALF=1 FAN_REFINE=0
	MIX_CLIENTS=500 MIX_NGINX=300 MIX_INTERVAL=5 MIX_SECS=2
	DUR_SECS=1 DUR_PIPE=64
	REST_SECS=1
	STORM_CONNS=500
	HOLD=1
else
	IDLE_SIZES="10000 50000" IDLE_NGINX=3800 IDLE_PEER=10000
	FAN_SUBS=1000 FAN_RATES="10,20,30,40,50,60,80,100,125,160,200,250,320,400,500,650,800,1000,1300,1600,2000,2500,3200"
	FAN_STEP=2 FAN_HALF=5 FAN_REFINE=10 # bisect to within 10% of the max rate
	MIX_CLIENTS=10000 MIX_NGINX=3800 MIX_INTERVAL=5 MIX_SECS=15
	DUR_SECS=6 DUR_PIPE=256
	REST_SECS=8
	STORM_CONNS=10000
	HOLD=3
fi
PER_NS=50 # clients per namespace (a workspace) in the spread-out scenarios (see README.md)
# chat-ws limits events per socket (--rate, 50/s by default): the fan-out and
# durable scenarios measure one socket publishing far faster, so they turn it off.
NOLIMIT="--rate 0"
full() { [ "$QUICK" = 0 ]; } # the parts the quick run leaves out

# --- servers -----------------------------------------------------------------------------
# Our stack as deployed: deploy/run.sh with its own RUN_DIR; one ws process.
# Sets S_DIR S_PORT S_WS_PORT S_RUNNER; pid files ws-0.pid, nginx-worker.pid.
# The generator is every client from 16 addresses: the per-address caps of
# chat-ws (sessions, CONNECTs, workspaces created: one per 50 sockets here)
# and of nginx are lifted, or they, not the server, would be measured.
start_stack() { # name [chat-ws args...]
	local name=$1
	shift
	S_DIR=$WORK/stack-$name
	mkdir -p "$S_DIR"
	S_PORT=$(pick_port) || die "no free port"
	PORT=$S_PORT RUN_DIR=$S_DIR DB=$S_DIR/chat.db BIN_DIR=$BUILD WS_PROCS=1 WS_ARGS="--max-per-address 1000000 --connect-rate 0 --workspace-rate 1000000 $*" FCGI_WORKERS=2 \
		SIO_CONN=65000 SIO_RATE=100000 SIO_BURST=100000 CHAT_WRITE_BUDGET=0/0/0/0 CHAT_CLAIM_RATE=0/0 CHAT_ROOM_RATE_ADDRESS=0 CHAT_ROOM_RATE_USER=0 \
		TAIL_LOGS=0 RESTART_SEC=0.5 READY_TIMEOUT=30 WATCH_PID=$$ CHAT_SECRET_FILE=$S_DIR/secret \
		setsid bash "$ROOT/deploy/run.sh" </dev/null >"$S_DIR/run.out" 2>&1 &
	S_RUNNER=$!
	track "$S_RUNNER"
	if ! wait_for 40 grep -qs "ready at" "$S_DIR/run.out"; then
		tail -20 "$S_DIR/run.out" >&2
		die "stack $name did not start"
	fi
	S_WS_PORT=$(cat "$S_DIR/ws-0.port")
	pgrep -P "$(cat "$S_DIR/nginx.pid")" | head -1 >"$S_DIR/nginx-worker.pid"
	say "stack $name: nginx :$S_PORT (worker $(cat "$S_DIR/nginx-worker.pid")), chat-ws :$S_WS_PORT (pid $(cat "$S_DIR/ws-0.pid")) $*"
}
stop_stack() { stop_group "$S_RUNNER" 12; }

# Socket.IO 4.8 on Node. Sets P_PORT P_PID P_PIDFILE.
start_sio() { # name
	P_PORT=$(pick_port) || die "no free port"
	local log=$WORK/sio-$1.log
	setsid node "$BENCH/peer-socketio.mjs" "$P_PORT" </dev/null >"$log" 2>&1 &
	P_PID=$!
	track "$P_PID"
	P_PIDFILE=$WORK/sio-$1.pid
	echo "$P_PID" >"$P_PIDFILE"
	wait_for 20 grep -qs listening "$log" || { cat "$log" >&2; die "socket.io peer did not start"; }
}
stop_sio() { stop_group "$P_PID" 5; }

# An nginx of DIR/nginx.conf (prefix DIR) listening on PORT, in its own process
# group. Sets NG_MASTER and NG_PIDFILE (DIR/worker.pid: its worker's pid).
start_nginx() { # dir port what
	local d=$1
	setsid nginx -c "$d/nginx.conf" -p "$d" -e "$d/error.log" </dev/null >"$d/nginx.out" 2>&1 &
	NG_MASTER=$!
	track "$NG_MASTER"
	NG_PIDFILE=$d/worker.pid
	wait_for 10 bash -c "pgrep -P $NG_MASTER >'$NG_PIDFILE' && [ -s '$NG_PIDFILE' ]" ||
		{ cat "$d/nginx.out" "$d/error.log" >&2 2>/dev/null; die "$3 did not start"; }
	wait_for 10 bash -c "(exec 3<>/dev/tcp/127.0.0.1/$2) 2>/dev/null" || die "$3 does not listen"
}

# Socket.IO 4.8 behind the very nginx config of the running stack (start_stack):
# a copy of its nginx.conf on its own port and directory, the ws upstream the
# peer (start_sio) instead of chat-ws. Sets PN_PORT PN_MASTER PN_PIDFILE (the worker).
start_sio_nginx() {
	local d=$WORK/sio-nginx
	mkdir -p "$d/tmp"
	PN_PORT=$(pick_port) || die "no free port"
	sed -e "s#127.0.0.1:$S_PORT;#127.0.0.1:$PN_PORT;#" -e "s#127.0.0.1:$S_WS_PORT\([ ;]\)#127.0.0.1:$P_PORT\1#g" \
		-e "s#$S_DIR/#$d/#g" "$S_DIR/nginx.conf" >"$d/nginx.conf"
	start_nginx "$d" "$PN_PORT" "nginx for the socket.io peer"
	PN_MASTER=$NG_MASTER PN_PIDFILE=$NG_PIDFILE
}
stop_sio_nginx() { stop_group "$PN_MASTER" 5; }

# Nginx + Nchan, one worker: WebSocket subscribers on /sub/<channel>, HTTP POST
# publishers on /pub/<channel>. Sets N_PORT N_MASTER N_PIDFILE (the worker).
start_nchan() { # name
	local d=$WORK/nchan-$1
	mkdir -p "$d/tmp"
	N_PORT=$(pick_port) || die "no free port"
	cat >"$d/nginx.conf" <<-EOF
		load_module $NCHAN_SO;
		daemon off;
		worker_processes 1;
		pid $d/nginx.pid;
		error_log $d/error.log warn;
		worker_rlimit_nofile $NOFILE;
		events { worker_connections $((NOFILE - 100)); multi_accept on; }
		http {
		    access_log off;
		    keepalive_requests 100000000;
		    client_body_temp_path $d/tmp/body;
		    proxy_temp_path $d/tmp/proxy;
		    fastcgi_temp_path $d/tmp/fastcgi;
		    uwsgi_temp_path $d/tmp/uwsgi;
		    scgi_temp_path $d/tmp/scgi;
		    server {
		        listen 127.0.0.1:$N_PORT backlog=4096;
		        location ~ ^/sub/(.+)\$ { nchan_subscriber websocket; nchan_channel_id \$1; }
		        location ~ ^/pub/(.+)\$ { nchan_publisher http; nchan_channel_id \$1; }
		    }
		}
	EOF
	start_nginx "$d" "$N_PORT" nchan
	N_MASTER=$NG_MASTER N_PIDFILE=$NG_PIDFILE
}
stop_nchan() { stop_group "$N_MASTER" 5; }

# --- the load generator ------------------------------------------------------------
lg() { # target scenario loadgen-args...: one run, bounded in time
	local target=$1 scenario=$2
	shift 2
	[ -z "$TARGETS" ] || [[ $TARGETS == *,$target,* ]] || return 0
	wait_quiet
	say "run $target $scenario: $*"
	local rc=0
	timeout --kill-after=5 600 "$LOADGEN" --target "$target" --scenario "$scenario" --json "$JSONL" "$@" \
		>"$WORK/lg.out" 2>&1 || rc=$?
	grep '^#' "$WORK/lg.out" | sed 's/^# /  /' | tee -a "$LOG" || true
	grep -v '^[#{]' "$WORK/lg.out" | head -5 | sed 's/^/  loadgen: /' | tee -a "$LOG" || true
	[ $rc -eq 0 ] || say "  ($target $scenario: loadgen exit status $rc)"
	return 0
}

# the best kept-up fan-out rate of a target, from the JSON lines
max_rate_of() { # target
	node -e '
		const fs = require("fs");
		let best = 0;
		for (const l of fs.readFileSync(process.argv[1], "utf8").split("\n")) {
			if (!l.startsWith("{")) continue;
			const j = JSON.parse(l);
			if (j.target === process.argv[2] && j.scenario === "fanout" && j.phase === "max") best = j.max_rate;
		}
		console.log(best);
	' "$JSONL" "$1"
}

# --- scenarios --------------------------------------------------------------------------
T0=$SECONDS

# The machine is shared: before each loadgen run, wait (up to BENCH_QUIET_S,
# 90 s by default) until other processes use less than half a core, so that
# they disturb the figures less. Each phase also reports what else ran
# meanwhile (others_cpu_core).
busy_cores() { # over one second, user+nice+system of the whole machine
	local a b
	a=$(awk '/^cpu / {print $2 + $3 + $4}' /proc/stat)
	sleep 1
	b=$(awk '/^cpu / {print $2 + $3 + $4}' /proc/stat)
	awk -v a="$a" -v b="$b" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.2f", (b - a) / hz}'
}
wait_quiet() {
	full || return 0
	local deadline=$((SECONDS + ${BENCH_QUIET_S:-90})) c
	while :; do
		c=$(busy_cores)
		awk -v c="$c" 'BEGIN {exit !(c < 0.5)}' && return 0
		if [ $SECONDS -ge $deadline ]; then
			say "(the machine stays busy: other processes use $c cores; going on)"
			return 0
		fi
		say "(other processes use $c cores: waiting for a quieter moment)"
		sleep 4
	done
}

scenario_idle() {
	say "== idle density: connected and joined sockets, $PER_NS per namespace"
	local n ns
	for n in $IDLE_SIZES; do
		if [ "$n" -gt "$MAXCONN" ]; then
			say "$n connections need $n descriptors, RLIMIT_NOFILE allows $NOFILE per process: $MAXCONN instead"
			n=$MAXCONN
		fi
		ns=$(((n + PER_NS - 1) / PER_NS))
		start_stack idle-$n
		lg ours-direct "idle-$n" --port "$S_WS_PORT" --conns "$n" --namespaces "$ns" --hold $HOLD \
			--concurrency 512 --server "chat-ws=@$S_DIR/ws-0.pid"
		stop_stack
	done
	n=$IDLE_NGINX
	if full; then
		start_stack idle-nginx
		lg ours-nginx "idle-$n" --port "$S_PORT" --conns "$n" --namespaces $(((n + PER_NS - 1) / PER_NS)) \
			--hold $HOLD --concurrency 512 --server "chat-ws=@$S_DIR/ws-0.pid" --server "nginx=@$S_DIR/nginx-worker.pid"
		stop_stack
	fi
	n=$IDLE_PEER
	start_sio idle
	lg socketio "idle-$n" --port "$P_PORT" --conns "$n" --namespaces $(((n + PER_NS - 1) / PER_NS)) --hold $HOLD \
		--concurrency 512 --server "node=@$P_PIDFILE"
	stop_sio
	if [ "$HAVE_NCHAN" = 1 ]; then
		start_nchan idle
		lg nchan "idle-$n" --mode raw --port "$N_PORT" --conns "$n" --namespaces $(((n + PER_NS - 1) / PER_NS)) \
			--hold $HOLD --concurrency 512 --server "nginx=@$N_PIDFILE"
		stop_nchan
	fi
}

FAN_ARGS=()
scenario_fanout() {
	say "== one-room fan-out: $FAN_SUBS subscribers, one publisher, increasing rates"
	# --hold 3: let the presence of 1,000 joins (user connected / user joined,
	# ~10^6 frames, sent alike by Socket.IO) drain before measuring fan-out
	FAN_ARGS=(--conns "$FAN_SUBS" --publishers 1 --hold 3 --rates "$FAN_RATES" --step "$FAN_STEP" --drain 2 --half "$FAN_HALF"
		--keepup-p99-ms 50 --refine "$FAN_REFINE" --concurrency 256)
	start_stack fanout $NOLIMIT
	lg ours-direct fanout --port "$S_WS_PORT" "${FAN_ARGS[@]}" --server "chat-ws=@$S_DIR/ws-0.pid"
	stop_stack
	if full; then
		start_stack fanout-nginx $NOLIMIT
		lg ours-nginx fanout --port "$S_PORT" "${FAN_ARGS[@]}" --server "chat-ws=@$S_DIR/ws-0.pid" \
			--server "nginx=@$S_DIR/nginx-worker.pid"
		stop_stack
	fi
	start_sio fanout
	lg socketio fanout --port "$P_PORT" "${FAN_ARGS[@]}" --server "node=@$P_PIDFILE"
	stop_sio
	if [ "$HAVE_NCHAN" = 1 ]; then
		start_nchan fanout
		lg nchan fanout --mode raw --port "$N_PORT" "${FAN_ARGS[@]}" --server "nginx=@$N_PIDFILE"
		stop_nchan
	fi
}

scenario_mix() {
	say "== chat mix: rooms of 10, each client sends every ${MIX_INTERVAL}s"
	local n rate args
	mix_args() { # clients
		local c=$1
		local nns=$(((c + PER_NS - 1) / PER_NS))
		echo "--conns $c --namespaces $nns --rooms-per-ns $((PER_NS / 10)) --publishers -1"
		echo "--rates $((c / MIX_INTERVAL)) --step $MIX_SECS --drain 3 --no-stop --concurrency 512"
	}
	n=$MIX_CLIENTS
	start_stack mix
	# shellcheck disable=SC2046
	lg ours-direct "mix-$n" --port "$S_WS_PORT" $(mix_args "$n") --server "chat-ws=@$S_DIR/ws-0.pid"
	stop_stack
	full || return 0
	n=$MIX_NGINX
	start_stack mix-nginx
	# shellcheck disable=SC2046
	lg ours-nginx "mix-$n" --port "$S_PORT" $(mix_args "$n") --server "chat-ws=@$S_DIR/ws-0.pid" \
		--server "nginx=@$S_DIR/nginx-worker.pid"
	# the same nginx config in front of Socket.IO
	if [ -z "$TARGETS" ] || [[ $TARGETS == *,socketio-nginx,* ]]; then
		start_sio mix-nginx
		start_sio_nginx
		# shellcheck disable=SC2046
		lg socketio-nginx "mix-$n" --port "$PN_PORT" $(mix_args "$n") --server "node=@$P_PIDFILE" \
			--server "nginx=@$PN_PIDFILE"
		stop_sio_nginx
		stop_sio
	fi
	stop_stack
	n=$MIX_CLIENTS
	start_sio mix
	# shellcheck disable=SC2046
	lg socketio "mix-$n" --port "$P_PORT" $(mix_args "$n") --server "node=@$P_PIDFILE"
	stop_sio
	if [ "$HAVE_NCHAN" = 1 ]; then
		start_nchan mix
		# shellcheck disable=SC2046
		lg nchan "mix-$n" --mode raw --port "$N_PORT" $(mix_args "$n") --http-pubs 8 --server "nginx=@$N_PIDFILE"
		stop_nchan
	fi
}

scenario_durable() {
	say "== durable writes: messages persisted and acked per second"
	local sync syncs=normal
	full && syncs="normal full"
	for sync in $syncs; do
		start_stack "durable-$sync" --sync "$sync" $NOLIMIT
		lg ours-direct "durable-1-$sync" --port "$S_WS_PORT" --conns 1 --publishers 1 --pipeline "$DUR_PIPE" \
			--step "$DUR_SECS" --server "chat-ws=@$S_DIR/ws-0.pid"
		lg ours-direct "durable-100-$sync" --port "$S_WS_PORT" --conns 100 --namespaces 100 --publishers -1 \
			--pipeline 16 --step "$DUR_SECS" --server "chat-ws=@$S_DIR/ws-0.pid"
		stop_stack
	done
	full || return 0
	start_sio durable
	lg socketio "durable-1-memory" --port "$P_PORT" --conns 1 --publishers 1 --pipeline "$DUR_PIPE" \
		--step "$DUR_SECS" --server "node=@$P_PIDFILE"
	lg socketio "durable-100-memory" --port "$P_PORT" --conns 100 --namespaces 100 --publishers -1 --pipeline 16 \
		--step "$DUR_SECS" --server "node=@$P_PIDFILE"
	stop_sio
}

# wrk's summary as one JSON line
wrk_json() { # target scenario file
	node -e '
		const [target, scenario, file] = process.argv.slice(1);
		const t = require("fs").readFileSync(file, "utf8");
		const ms = (s) => { if (!s) return null; const m = /([\d.]+)(us|ms|s)/.exec(s); if (!m) return null;
			return +m[1] * (m[2] === "us" ? 1e-3 : m[2] === "s" ? 1e3 : 1); };
		const pct = (p) => { const m = new RegExp("^\\s*" + p + "%\\s+(\\S+)", "m").exec(t); return m ? ms(m[1]) : null; };
		const num = (re) => { const m = re.exec(t); return m ? +m[1] : null; };
		const reqs = num(/^\s*(\d+) requests in/m);
		const non2xx = num(/Non-2xx or 3xx responses: (\d+)/) || 0;
		const secs = num(/requests in ([\d.]+)s/);
		const o = { target, scenario, phase: "http", requests: reqs, secs, req_per_s: num(/Requests\/sec:\s+([\d.]+)/),
			ok_per_s: reqs != null && secs ? (reqs - non2xx) / secs : null, non_2xx: non2xx,
			errors: num(/Socket errors: connect (\d+)/), lat_p50_ms: pct(50), lat_p99_ms: pct(99),
			body_bytes: +process.env.BODY_BYTES || null };
		console.log(JSON.stringify(o));
	' "$@"
}

scenario_rest() {
	[ "$HAVE_WRK" = 1 ] || { say "== REST: wrk not found, skipped (deploy/install-deps.sh installs it)"; return 0; }
	say "== REST through nginx with wrk (1 thread, 16 connections, ${REST_SECS}s each)"
	start_stack rest
	local base=http://127.0.0.1:$S_PORT i
	for i in $(seq 1 12); do
		curl -s -o /dev/null -X POST -H 'Content-Type: application/json' \
			--data "{\"name\":\"bench room $i\"}" "$base/api/rooms"
	done
	# Names are owned: claim "bench" once and post with its credential.
	local bench_token
	bench_token=$(curl -s -X POST -H 'Content-Type: application/json' --data '{"name":"bench"}' "$base/api/users" |
		node -e 'process.stdout.write(JSON.parse(require("fs").readFileSync(0, "utf8")).token || "")')
	curl -s -X POST -H 'Content-Type: application/json' -H "Authorization: Bearer $bench_token" \
		--data '{"user":"bench","text":"hello"}' "$base/api/rooms/1/messages" >/dev/null
	# The same nginx config without the POST rate limit, plus the static ceiling:
	# a file with the very bytes GET /api/rooms answers.
	local d=$WORK/rest-nginx
	mkdir -p "$d/tmp" "$d/www"
	curl -s "$base/api/rooms" >"$d/www/rooms.json"
	local body_bytes
	body_bytes=$(wc -c <"$d/www/rooms.json")
	local port2
	port2=$(pick_port) || die "no free port"
	sed -e "s#listen 127.0.0.1:$S_PORT;#listen 127.0.0.1:$port2;#" \
		-e "s#pid $S_DIR/nginx.pid;#pid $d/nginx.pid;#" \
		-e "s#error_log $S_DIR/error.log#error_log $d/error.log#" \
		-e "s#access_log $S_DIR/access.log;#access_log $d/access.log;#" \
		-e "/limit_req zone=chat_api_write/d" \
		-e "s#location /static/ {#location = /bench/rooms.json { alias $d/www/rooms.json; }\n        location /static/ {#" \
		"$S_DIR/nginx.conf" >"$d/nginx.conf"
	setsid nginx -c "$d/nginx.conf" -p "$d" </dev/null >"$d/nginx.out" 2>&1 &
	local m2=$!
	track "$m2"
	wait_for 10 bash -c "(exec 3<>/dev/tcp/127.0.0.1/$port2) 2>/dev/null" || { cat "$d/nginx.out" >&2; die "bench nginx"; }
	local b2=http://127.0.0.1:$port2
	cat >"$d/post.lua" <<-'EOF'
		wrk.method = "POST"
		wrk.body = '{"user":"bench","text":"a message posted over REST by wrk"}'
		wrk.headers["Content-Type"] = "application/json"
	EOF
	printf 'wrk.headers["Authorization"] = "Bearer %s"\n' "$bench_token" >>"$d/post.lua"
	run_wrk() { # target scenario url [lua]
		local f=$WORK/wrk-$2.txt
		local args=(-t1 -c16 -d"${REST_SECS}s" --timeout 5s --latency)
		[ -n "${4:-}" ] && args+=(-s "$4")
		say "run $1 $2: wrk ${args[*]} $3"
		timeout 120 wrk "${args[@]}" "$3" >"$f" 2>&1 || true
		BODY_BYTES=$body_bytes wrk_json "$1" "$2" "$f" | tee -a "$JSONL" |
			node -e 'const j=JSON.parse(require("fs").readFileSync(0,"utf8"));console.log(`  ${j.target} ${j.scenario}: ${Math.round(j.req_per_s)} req/s (${Math.round(j.ok_per_s)} 2xx/s), p50 ${j.lat_p50_ms} ms, p99 ${j.lat_p99_ms} ms, non-2xx ${j.non_2xx}`)' |
			tee -a "$LOG"
	}
	run_wrk ours-fcgi rest-get-rooms "$base/api/rooms"
	run_wrk nginx-static rest-static-same-size "$b2/bench/rooms.json"
	run_wrk ours-fcgi rest-post-message "$b2/api/rooms/1/messages" "$d/post.lua"
	run_wrk ours-fcgi rest-post-message-rate-limited "$base/api/rooms/1/messages" "$d/post.lua"
	stop_group "$m2" 5
	stop_stack
}

scenario_storm() {
	say "== reconnect storm: $STORM_CONNS connections, time until 99% are back and joined"
	local n=$STORM_CONNS ns=$(((STORM_CONNS + PER_NS - 1) / PER_NS))
	local common=(--conns "$n" --namespaces "$ns" --concurrency 512 --recover --reconnect-ms 1000,2000 --storm-timeout 90)
	start_stack storm-kill
	lg ours-direct "storm-kill-$n" --port "$S_WS_PORT" "${common[@]}" --storm kill --kill-pid-file "$S_DIR/ws-0.pid" \
		--server "chat-ws=@$S_DIR/ws-0.pid"
	stop_stack
	full || return 0
	start_stack storm-drop
	lg ours-direct "storm-drop-$n" --port "$S_WS_PORT" "${common[@]}" --storm drop --server "chat-ws=@$S_DIR/ws-0.pid"
	stop_stack
	start_sio storm
	lg socketio "storm-drop-$n" --port "$P_PORT" "${common[@]}" --storm drop --server "node=@$P_PIDFILE"
	stop_sio
	if [ "$HAVE_NCHAN" = 1 ]; then
		start_nchan storm
		lg nchan "storm-drop-$n" --mode raw --port "$N_PORT" --conns "$n" --namespaces "$ns" --concurrency 512 \
			--reconnect-ms 1000,2000 --storm-timeout 90 --storm drop --server "nginx=@$N_PIDFILE"
		stop_nchan
	fi
}

# perf profiles of chat-ws under the two loads where we miss most.
scenario_profile() {
	[ "$HAVE_PERF" = 1 ] || return 0
	say "== profiles of chat-ws (perf record --call-graph dwarf)"
	local rate
	rate=$(max_rate_of ours-direct)
	[ "$rate" != 0 ] || rate=100
	profile_run() { # name phase loadgen-args...: perf for 4 s from 1 s into that loadgen phase
		local name=$1 phase=$2
		shift 2
		local data=$WORK/perf-$name.data mark=$WORK/mark-$name pid
		pid=$(cat "$S_DIR/ws-0.pid")
		: >"$mark"
		(wait_for 120 grep -qx "$phase" "$mark" && sleep 1 &&
			perf record -q -F 499 --call-graph dwarf,8192 -o "$data" -p "$pid" -- sleep 4 >/dev/null 2>&1) &
		local pr=$!
		track "$pr"
		(wait_for 120 grep -qx "$phase" "$mark" && sleep 1 &&
			perf stat -x, -e 'syscalls:sys_enter_sendto,syscalls:sys_enter_writev,syscalls:sys_enter_poll,syscalls:sys_enter_recvfrom,syscalls:sys_enter_fdatasync' \
				-p "$pid" -o "$WORK/perfstat-$name.txt" -- sleep 4 >/dev/null 2>&1) &
		local ps=$!
		track "$ps"
		lg ours-direct "profile-$name" --port "$S_WS_PORT" "$@" --mark "$mark" --server "chat-ws=@$S_DIR/ws-0.pid"
		wait "$pr" "$ps" 2>/dev/null || true
		{
			echo "### $name"
			echo
			echo "loadgen: $*"
			echo
			echo '```'
			echo "system calls in 4 s (perf stat):"
			grep -v '^#' "$WORK/perfstat-$name.txt" 2>/dev/null | awk -F, 'NF>2 {printf "  %-35s %s\n", $3, $1}'
			echo
			echo "by shared object (self):"
			perf report -i "$data" --no-children --sort dso --stdio -g none 2>/dev/null | grep '%' | head -6
			echo
			echo "hottest functions (self):"
			perf report -i "$data" --no-children --sort dso,sym --stdio -g none 2>/dev/null | grep '%' | head -25
			echo
			echo "inclusive time of chat-ws's own functions (children):"
			perf report -i "$data" --children --sort dso,sym --stdio -g none 2>/dev/null | grep '%' |
				grep ' chat-ws ' | grep -v -E '\] (main|_start)$' | head -25
			echo '```'
			echo
		} >>"$WORK/profiles.md" || true # (errexit is off inside: a grep finding nothing is fine)
	}
	start_stack profile-fanout $NOLIMIT
	profile_run fanout publish --conns "$FAN_SUBS" --publishers 1 --rates "$rate" --step 7 --drain 2 --concurrency 256
	stop_stack
	start_stack profile-durable $NOLIMIT
	profile_run durable publish --conns 1 --publishers 1 --pipeline "$DUR_PIPE" --step 6
	stop_stack
	start_stack profile-connect
	profile_run connect connect --conns 6000 --namespaces $((6000 / PER_NS)) --concurrency 512
	stop_stack
	# The chat mix at its offered rate: what a delivery costs when each
	# message reaches 10 sockets, not 1,000.
	start_stack profile-mix
	profile_run mix publish --conns "$MIX_CLIENTS" --namespaces $(((MIX_CLIENTS + PER_NS - 1) / PER_NS)) \
		--rooms-per-ns $((PER_NS / 10)) --publishers -1 --rates $((MIX_CLIENTS / MIX_INTERVAL)) --step 7 \
		--drain 3 --concurrency 512
	stop_stack
	profile_rest
}

# Where an idle joined socket's bytes go: chat-ws under heaptrack, 4,000
# sockets connected and joined (namespaces of PER_NS), then stopped; the
# peak heap is grouped by who allocated it (libwebsockets, or our function).
scenario_memory() {
	[ "$PROFILE" = 1 ] || return 0
	command -v heaptrack >/dev/null && command -v heaptrack_print >/dev/null || return 0
	local d=$WORK/heaptrack n=4000 port
	mkdir -p "$d"
	head -c 32 /dev/urandom | base64 >"$d/secret"
	port=$(pick_port) || return 0
	say "run heaptrack chat-ws: $n idle joined sockets"
	(cd "$d" && SIO_CONN=65000 SIO_RATE=100000 SIO_BURST=100000 CHAT_SECRET_FILE=$d/secret \
		setsid heaptrack -o "$d/ws" "$BUILD/chat-ws" --db "$d/chat.db" --listen "127.0.0.1:$port" \
		--open-workspaces --max-per-address 1000000 --connect-rate 0 --workspace-rate 1000000 \
		</dev/null >"$d/ws.log" 2>&1) &
	local h=$!
	track "$h"
	wait_for 60 grep -q listening "$d/ws.log" || { say "  heaptrack: chat-ws did not start"; return 0; }
	lg ours-direct memory-profile --port "$port" --conns "$n" --namespaces $((n / PER_NS)) --hold 2 --concurrency 256
	pkill -TERM -f -- "--listen 127.0.0.1:$port" || true
	wait_for 60 bash -c "ls '$d'/ws*.zst >/dev/null 2>&1 && ! kill -0 $h 2>/dev/null" || true
	local f
	f=$(ls "$d"/ws*.zst 2>/dev/null | head -1)
	[ -n "$f" ] || return 0
	heaptrack_print -f "$f" --print-peaks 1 --print-allocators 0 --print-temporary 0 --print-leaks 0 \
		--peak-limit 40 --merge-backtraces 0 >"$d/peaks.txt" 2>/dev/null || true
	{
		echo "### memory (heaptrack, $n idle joined sockets)"
		echo
		echo "Peak heap by allocating site, per socket (sites allocating about once per socket;"
		echo "malloc's own overhead of ~16 bytes a block and the kernel's socket buffers are not"
		echo "in these figures):"
		echo
		echo '```'
		node "$BENCH/heap-sites.mjs" "$d/peaks.txt" "$n"
		echo '```'
		echo
	} >>"$WORK/profiles.md" || true
}

# GET /api/rooms through nginx under wrk, profiled across the whole machine
# (perf record -a): the share of each process (nginx, chat-fcgi, wrk, the
# kernel under them) says where a dynamic request's time goes next to a
# static one's.
profile_rest() {
	[ "$HAVE_WRK" = 1 ] || return 0
	start_stack profile-rest
	local base=http://127.0.0.1:$S_PORT data=$WORK/perf-rest.data i
	for i in $(seq 1 12); do
		curl -s -o /dev/null -X POST -H 'Content-Type: application/json' \
			--data "{\"name\":\"bench room $i\"}" "$base/api/rooms"
	done
	timeout 60 wrk -t1 -c16 -d8s "$base/api/rooms" >"$WORK/wrk-profile-rest.txt" 2>&1 &
	local w=$!
	sleep 2
	perf record -q -a -F 499 -g -o "$data" -- sleep 4 >/dev/null 2>&1 || true
	wait "$w" 2>/dev/null || true
	stop_stack
	{
		echo "### rest (GET /api/rooms through nginx, whole machine)"
		echo
		echo "wrk -t1 -c16 -d8s: $(grep -m1 'Requests/sec' "$WORK/wrk-profile-rest.txt" | tr -s ' ')"
		echo
		echo '```'
		echo "by process (self):"
		perf report -i "$data" --no-children --sort comm --stdio -g none 2>/dev/null | grep '%' | head -8
		echo
		echo "chat-fcgi by shared object (self, share of all samples):"
		perf report -i "$data" --no-children --comms chat-fcgi --sort dso --stdio -g none 2>/dev/null | grep '%' | head -8
		echo
		echo "chat-fcgi's hottest functions (self, share of all samples):"
		perf report -i "$data" --no-children --comms chat-fcgi --sort dso,sym --stdio -g none 2>/dev/null | grep '%' | head -20
		echo '```'
		echo
	} >>"$WORK/profiles.md" || true
}

# --- machine and versions -------------------------------------------------------------
meta() {
	local rev dirty
	rev=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
	dirty=$(git -C "$ROOT" status --porcelain -- ws sql fcgi deploy 2>/dev/null | wc -l)
	[ "$dirty" -gt 0 ] && rev="$rev + uncommitted changes in $dirty files"
	node -e '
		const [out, ...kv] = process.argv.slice(1);
		const o = {};
		for (let i = 0; i < kv.length; i += 2) o[kv[i]] = kv[i + 1];
		require("fs").writeFileSync(out, JSON.stringify(o, null, 1));
	' "$WORK/meta.json" \
		date "$(date -u '+%Y-%m-%d %H:%M UTC')" \
		quick "$QUICK" \
		nproc "$(nproc)" \
		cpu "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')" \
		mem "$(free -g | awk '/Mem:/ {print $2 " GiB"}')" \
		kernel "$(uname -r)" \
		nofile "$NOFILE" \
		loadavg "$(cut -d' ' -f1-3 /proc/loadavg)" \
		rev "$rev" \
		node "$(node --version)" \
		socketio "$(node -p 'require(process.argv[1]).version' "$ROOT/tests/node_modules/socket.io/package.json")" \
		nginx "$(nginx -v 2>&1 | sed 's#.*nginx/##')" \
		nchan "$(dpkg-query -W -f='${Version}' libnginx-mod-nchan 2>/dev/null || echo none)" \
		lws "$(dpkg-query -W -f='${Version}' libwebsockets17 2>/dev/null || echo '?')" \
		sqlite "$(dpkg-query -W -f='${Version}' libsqlite3-0 2>/dev/null || echo '?')" \
		wrk "$(dpkg-query -W -f='${Version}' wrk 2>/dev/null || echo none)" \
		maxconn "$MAXCONN" \
		per_ns "$PER_NS" \
		fan_subs "$FAN_SUBS" \
		mix_interval "$MIX_INTERVAL" \
		secs "$((SECONDS - T0))"
}

LOADAVG_START=$(cut -d' ' -f1-3 /proc/loadavg)
say "machine: $(nproc) cores, load average at start $LOADAVG_START, RLIMIT_NOFILE hard $NOFILE"
for s in idle fanout mix durable rest storm profile memory; do
	[ -z "$ONLY" ] || [[ $ONLY == *,$s,* ]] || continue
	"scenario_$s"
done
if [ -n "$APPEND" ] && [ -f "$WORK/meta.json" ]; then
	node -e '
		const fs = require("fs"), f = process.argv[1];
		const m = JSON.parse(fs.readFileSync(f, "utf8"));
		m.appended = (m.appended ? m.appended + "; " : "") + process.argv[2];
		fs.writeFileSync(f, JSON.stringify(m, null, 1));
	' "$WORK/meta.json" "$(date -u '+%H:%M UTC'): ${ONLY:-all} ${TARGETS:-all targets}"
else
	meta
fi
[ -f "$WORK/profiles.md" ] || : >"$WORK/profiles.md"
node "$BENCH/report.mjs" "$WORK/meta.json" "$JSONL" "$WORK/profiles.md" "$BENCH/notes.md" >"$OUT"
say "done in $((SECONDS - T0)) s; results in $OUT"
if [ "$QUICK" = 1 ]; then
	sed -n '/^## Summary/,/^## Idle/p' "$OUT" | head -n -1
fi
