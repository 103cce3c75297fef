// report.mjs -- turns a bench run (meta.json + the JSON lines of loadgen and
// wrk) into RESULTS.md on stdout.
//
//   node tests/bench/report.mjs META.json RESULTS.jsonl [PROFILES.md] [NOTES.md]
import { existsSync, readFileSync } from 'node:fs';

const [metaFile, jsonlFile, profilesFile, notesFile] = process.argv.slice(2);
const meta = JSON.parse(readFileSync(metaFile, 'utf8'));
const rows = readFileSync(jsonlFile, 'utf8')
  .split('\n')
  .filter((l) => l.startsWith('{'))
  .map((l) => JSON.parse(l))
  .filter((r) => !r.scenario.startsWith('profile-')) // the profiled runs are perf's, not figures
  // A scenario re-run (run.sh --append) replaces the earlier run of that target and scenario.
  .reduceRight((acc, r) => {
    const key = `${r.target}\t${r.scenario}`;
    if (acc.done.has(key)) return acc;
    if (r.phase === 'connect') acc.done.add(key);
    acc.list.unshift(r);
    return acc;
  }, { list: [], done: new Set() }).list;

const TARGETS = ['ours-direct', 'ours-nginx', 'socketio', 'socketio-nginx', 'nchan', 'nginx-static'];
const NAMES = {
  'ours-direct': 'chat-ws, direct',
  'ours-nginx': 'chat-ws via nginx',
  socketio: 'Socket.IO 4.8 (Node)',
  'socketio-nginx': 'Socket.IO 4.8 via the same nginx',
  nchan: 'Nginx + Nchan',
  'nginx-static': 'nginx, static file',
  'ours-fcgi': 'chat-fcgi via nginx',
};

const find = (pred) => rows.filter(pred);
const one = (pred) => rows.filter(pred).at(-1);
const f = (v, d = 0) => (v == null || Number.isNaN(v) ? '–' : Number(v).toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d }));
const ms = (v) => (v == null || v < 0 ? '–' : v < 10 ? f(v, 2) : v < 100 ? f(v, 1) : f(v, 0));
const kb = (v) => (v == null ? '–' : `${f(v / 1024, 1)} MB`);
const noisy = (r) => r && (r.others_cpu_core > 0.25 || r.steal_cpu_core > 0.1) && (r.secs ?? r.connect_s ?? r.hold_s ?? 1) >= 0.5;
const sat = (r) => (r?.gen_saturated ? ' ⚠' : '') + (noisy(r) ? ' ≈' : '');
const ratio = (a, b) => (a != null && b ? a / b : null);
const x = (v) => (v == null ? '–' : `${f(v, 2)}×`);
const table = (head, body) =>
  [`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i === 0 ? ' --- ' : ' ---: ')).join('|')}|`, ...body.map((r) => `| ${r.join(' | ')} |`)].join('\n');

const out = [];
const p = (...l) => out.push(...l);

p('# Benchmark results', '');
p(
  `Written by \`tests/bench/run.sh${meta.quick === '1' ? ' --quick' : ''}\` on ${meta.date} in ${meta.secs} s. ` +
    'Every server ran on this machine, in this run, one at a time, against the same load generator ' +
    '(`tests/bench/loadgen.c`, one thread, epoll). Figures from one run: noise of ±10–20% is normal here ' +
    '(a shared 2-core VM; see the load average below).',
  '',
);
if (meta.appended) p(`Scenarios re-run afterwards and added to this run's figures: ${meta.appended} (the later figures are shown).`, '');
if (meta.quick === '1') p('**Quick run: tiny sizes, only proves the bench works; do not compare these figures.**', '');

p('## Machine and versions', '');
p(
  table(
    ['', ''],
    [
      ['cores (nproc)', meta.nproc],
      ['CPU', meta.cpu],
      ['RAM', meta.mem],
      ['kernel', meta.kernel],
      ['load average at the end', meta.loadavg],
      ['RLIMIT_NOFILE (hard, not raisable here)', meta.nofile],
      ['chat-ws / chat-fcgi', `git ${meta.rev}, built -O2 -g in build/bench`],
      ['libwebsockets / SQLite', `${meta.lws} / ${meta.sqlite}`],
      ['Node / Socket.IO', `${meta.node} / ${meta.socketio}`],
      ['nginx / Nchan', `${meta.nginx} / libnginx-mod-nchan ${meta.nchan}`],
      ['wrk', meta.wrk],
    ],
  ),
  '',
);

// ---- figures --------------------------------------------------------------
const idle = (t) => find((r) => r.target === t && r.phase === 'idle' && r.scenario.startsWith('idle-'));
const idleConnect = (t, s) => one((r) => r.target === t && r.phase === 'connect' && r.scenario === s);
const bestIdle = (t) => idle(t).sort((a, b) => b.conns_ready - a.conns_ready)[0];
const idleAt = (t, n) => idle(t).find((r) => r.scenario === `idle-${n}`);
const fanMax = (t) => one((r) => r.target === t && r.scenario === 'fanout' && r.phase === 'max');
const fanHalf = (t) => one((r) => r.target === t && r.scenario === 'fanout' && r.phase === 'half');
const fanSteps = (t) => find((r) => r.target === t && r.scenario === 'fanout' && r.phase === 'step');
const fanConnect = (t) => one((r) => r.target === t && r.scenario === 'fanout' && r.phase === 'connect');
const mix = (t) => one((r) => r.target === t && r.scenario.startsWith('mix-') && r.phase === 'step');
const mixConnect = (t) => one((r) => r.target === t && r.scenario.startsWith('mix-') && r.phase === 'connect');
const durable = (t, s) => one((r) => r.target === t && r.scenario === s && r.phase === 'durable');
const http = (s) => one((r) => r.phase === 'http' && r.scenario === s);
const storm = (t, s) => one((r) => r.target === t && r.phase === 'storm' && r.scenario.startsWith(s));

const ourIdle = idleAt('ours-direct', 10000) ?? bestIdle('ours-direct');
const ourMaxConn = bestIdle('ours-direct');
const fo = fanMax('ours-direct'), fs = fanMax('socketio'), fn = fanMax('nchan');
const fh = fanHalf('ours-direct'), fhn = fanHalf('nchan');
const durN = [durable('ours-direct', 'durable-1-normal'), durable('ours-direct', 'durable-100-normal')].filter(Boolean);
const durBest = durN.sort((a, b) => b.acked_per_s - a.acked_per_s)[0];
const durSio = [durable('socketio', 'durable-1-memory'), durable('socketio', 'durable-100-memory')]
  .filter(Boolean)
  .sort((a, b) => b.acked_per_s - a.acked_per_s)[0];
const get = http('rest-get-rooms'), stat = http('rest-static-same-size');

p('## Summary against the goals', '');
p('Goals, not assertions. "ours" is one chat-ws process reached directly unless the row says otherwise.', '');
const goal = (ok) => (ok == null ? '?' : ok ? '**met**' : '**missed**');
const rFanS = ratio(fo?.max_deliveries_per_s, fs?.max_deliveries_per_s);
const rFanN = ratio(fo?.max_deliveries_per_s, fn?.max_deliveries_per_s);
const rGet = ratio(get?.ok_per_s, stat?.ok_per_s);
// issue 22: the chat mix against the peers of this run, connects at 10,000
const mo = mix('ours-direct'), ms_ = mix('socketio'), mn = mix('nchan');
const mon = mix('ours-nginx'), msn = mix('socketio-nginx');
const rCpuS = ratio(mo?.cpu_s_per_million, ms_?.cpu_s_per_million);
const rCpuN = ratio(mo?.cpu_s_per_million, mn?.cpu_s_per_million);
const rCpuNginx = ratio(mon?.cpu_s_per_million, msn?.cpu_s_per_million);
const con10k = idleConnect('ours-direct', 'idle-10000');
const mixNote = (r) => (r && !r.keeps_up ? ' (fell behind)' : '');
p(
  table(
    ['goal', 'target', 'measured', 'verdict'],
    [
      [
        'memory per idle joined socket',
        '≤ 2,048 bytes',
        ourIdle ? `${f(ourIdle.bytes_per_conn)} bytes (${f(ourIdle.conns_ready)} joined sockets)` : '–',
        goal(ourIdle ? ourIdle.bytes_per_conn <= 2048 : null),
      ],
      [
        'chat mix: CPU-s per million deliveries vs Socket.IO / vs Nchan',
        '≤ 0.5× / ≤ 1×',
        mo && ms_ ? `${x(rCpuS)} / ${mn ? x(rCpuN) : '–'} (${f(mo.cpu_s_per_million, 1)} vs ${f(ms_.cpu_s_per_million, 1)} / ${mn ? f(mn.cpu_s_per_million, 1) : '–'})` : '–',
        goal(rCpuS == null ? null : rCpuS <= 0.5 && (rCpuN == null || rCpuN <= 1)),
      ],
      [
        'chat mix: latency p99 vs Socket.IO',
        "≤ Socket.IO's and ≤ 5 ms",
        mo && ms_ ? `${ms(mo.lat_p99_ms)}${mixNote(mo)} vs ${ms(ms_.lat_p99_ms)}${mixNote(ms_)} ms` : '–',
        goal(mo && ms_ ? mo.lat_p99_ms <= ms_.lat_p99_ms && mo.lat_p99_ms <= 5 : null),
      ],
      [
        'chat mix via nginx vs Socket.IO behind the same nginx config: CPU-s per million deliveries (servers + nginx), p99',
        '(compare)',
        mon && msn ? `${x(rCpuNginx)} (${f(mon.cpu_s_per_million, 1)} vs ${f(msn.cpu_s_per_million, 1)}), p99 ${ms(mon.lat_p99_ms)}${mixNote(mon)} vs ${ms(msn.lat_p99_ms)}${mixNote(msn)} ms` : '–',
        '–',
      ],
      [
        'connects/s at 10,000 sockets (handshake + CONNECT + join)',
        '≥ 5,000',
        con10k ? `${f(con10k.connect_rate)}/s` : '–',
        goal(con10k ? con10k.connect_rate >= 5000 : null),
      ],
      [
        'fan-out deliveries/s vs Socket.IO',
        '≥ 3×',
        fo && fs ? `${x(rFanS)} (${f(fo.max_deliveries_per_s)} vs ${f(fs.max_deliveries_per_s)})` : '–',
        goal(rFanS == null ? null : rFanS >= 3),
      ],
      [
        'fan-out deliveries/s vs Nchan',
        '≥ 1.5×',
        fo && fn ? `${x(rFanN)} (${f(fo.max_deliveries_per_s)} vs ${f(fn.max_deliveries_per_s)})` : '–',
        goal(rFanN == null ? null : rFanN >= 1.5),
      ],
      [
        'latency p99 at half the max fan-out rate vs Nchan',
        "≤ Nchan's",
        fh ? `${ms(fh.lat_p99_ms)} ms (at ${f(fh.rate)} msg/s × ${f(fh.conns_ready)}) vs ${fhn ? ms(fhn.lat_p99_ms) : '–'} ms` : '–',
        goal(fh && fhn ? fh.lat_p99_ms <= fhn.lat_p99_ms : null),
      ],
      [
        'concurrent sockets on one ws process',
        '50,000',
        ourMaxConn ? `${f(ourMaxConn.conns_ready)} (descriptor limit ${f(+meta.nofile)} per process here)` : '–',
        ourMaxConn && ourMaxConn.conns_ready >= 50000 ? '**met**' : '**not measurable here**',
      ],
      [
        "messages persisted + acked/s, sync=NORMAL, vs Socket.IO's in-memory rate",
        '≥ 3×',
        durBest ? `${f(durBest.acked_per_s)} (${durBest.scenario}) vs ${durSio ? f(durSio.acked_per_s) : '–'}` : '–',
        goal(durBest && durSio ? durBest.acked_per_s >= 3 * durSio.acked_per_s : null),
      ],
      [
        'GET /api/rooms vs static nginx, same bytes',
        '≥ 50%',
        get && stat ? `${f(100 * rGet, 1)}% (${f(get.ok_per_s)} vs ${f(stat.ok_per_s)} req/s)` : '–',
        goal(rGet == null ? null : rGet >= 0.5),
      ],
    ],
  ),
  '',
);
const saturated = rows.filter((r) => r.gen_saturated);
if (saturated.length)
  p(
    `⚠ The load generator used more than 90% of a core in ${saturated.length} measured phase(s), marked ⚠ below: ` +
      'there the figure is a floor for the server, not its limit (' +
      [...new Set(saturated.map((r) => `${r.target} ${r.scenario} ${r.phase}${r.rate ? ' @' + f(r.rate) : ''}`))].slice(0, 8).join('; ') +
      ').',
    '',
  );

const noisyRows = rows.filter(noisy);
if (noisyRows.length)
  p(
    `≈ Other processes on this shared machine used more than a quarter of a core (or the hypervisor stole CPU) during ${noisyRows.length} ` +
      'measured phase(s), marked ≈: read those figures as lower bounds (' +
      [...new Set(noisyRows.map((r) => `${r.target} ${r.scenario} ${r.phase}${r.rate ? ' @' + f(r.rate) : ''}: others ${f(r.others_cpu_core, 2)} cores`))].slice(0, 10).join('; ') +
      ').',
    '',
  );

// ---- idle -------------------------------------------------------------------
p('## Idle density', '');
p(
  'Sockets connected (WebSocket, Engine.IO handshake, Socket.IO CONNECT) and joined to a room, then 3 s idle. ' +
    `Clients are spread over namespaces (workspaces) of ${meta.per_ns} (\`/bench-<k>\`, room \`general\`), because the chat contract sends ` +
    '`user connected` to the whole namespace and `user joined` to the room on every connect: with N clients in one namespace connecting costs N² ' +
    `frames (see fan-out below, where ${f(+meta.fan_subs)} join one room). The Socket.IO peer sends the same presence events. Nchan: one WebSocket subscriber per channel-of-the-room. ` +
    'Memory is the growth of the server processes\' RSS from before the first connection (for "via nginx", nginx worker + chat-ws).',
  '',
);
p(
  table(
    ['server', 'sockets', 'connect time', 'connects/s', 'RSS after', 'bytes per socket', 'failed'],
    TARGETS.flatMap((t) =>
      idle(t).map((r) => {
        const c = idleConnect(t, r.scenario);
        return [NAMES[t], f(r.conns_ready), c ? `${f(c.connect_s, 1)} s` : '–', c ? f(c.connect_rate) + sat(c) : '–', kb(r.server_rss_kb), f(r.bytes_per_conn), c ? f(c.conn_fail) : '–'];
      }),
    ),
  ),
  '',
);

// ---- fan-out ----------------------------------------------------------------
p('## One-room fan-out', '');
p(
  'All subscribers in one room (namespace `/`, room `general`; Nchan: one channel); client 0 also publishes ' +
    '`chat message` with ack (Nchan: HTTP POST on keep-alive connections). The rate steps up ' +
    `(${meta.quick === '1' ? 'quick sizes' : '2 s per step'}) until a step falls behind: a step keeps up when ` +
    'nothing is lost, every ack came back and p99 ≤ 50 ms; then steps bisect between the best rate and the first ' +
    'that fell behind until the two are within 10% (the max is known to 10%: "max msg/s" shows both). ' +
    'Then a run at half the best rate. Latency is publish → ' +
    'delivery at every subscriber (the sender included). CPU-s per million deliveries counts the server processes only.',
  '',
);
p(
  table(
    ['server', 'subscribers', 'max msg/s', 'max deliveries/s', 'p99 at max', 'half rate: p50 / p99 / p99.9 ms', 'CPU-s per M deliveries (half)', 'server cores (half)'],
    TARGETS.filter((t) => fanMax(t)).map((t) => {
      const m = fanMax(t), h = fanHalf(t), steps = fanSteps(t);
      const best = steps.filter((s) => s.keeps_up).at(-1);
      return [
        NAMES[t],
        f(h?.conns_ready ?? steps[0]?.conns_ready),
        f(m.max_rate) + (m.first_failed_rate ? ` (✗ ${f(m.first_failed_rate)})` : ''),
        f(m.max_deliveries_per_s) + sat(best),
        ms(m.p99_ms_at_max),
        h ? `${ms(h.lat_p50_ms)} / ${ms(h.lat_p99_ms)} / ${ms(h.lat_p999_ms)}${sat(h)}` : '–',
        h ? f(h.cpu_s_per_million, 2) : '–',
        h ? f(h.server_cpu_core, 2) : '–',
      ];
    }),
  ),
  '',
);
p('Steps (offered msg/s → deliveries/s, p99 ms; ✗ = fell behind):', '');
for (const t of TARGETS) {
  const steps = fanSteps(t);
  if (!steps.length) continue;
  p(`- ${NAMES[t]}: ` + steps.map((s) => `${f(s.rate)} → ${f(s.deliveries_per_s)} (${ms(s.lat_p99_ms)})${s.keeps_up ? '' : ' ✗'}${sat(s)}`).join(', '));
}
p('');
const fc = TARGETS.map((t) => [t, fanConnect(t)]).filter(([, c]) => c);
if (fc.length)
  p(
    `Connecting the ${f(fc[0][1].conns_wanted)} subscribers of the one room (presence broadcasts are N²): ` +
      fc.map(([t, c]) => `${NAMES[t]} ${f(c.connect_s, 1)} s (${f(c.other_events)} presence frames received)`).join('; ') +
      '.',
    '',
  );

// ---- chat mix -------------------------------------------------------------------
p('## Chat mix', '');
p(
  `Rooms of 10 (namespaces of ${meta.per_ns} clients, ${meta.per_ns / 10} rooms each); every client sends a message every ${meta.mix_interval} s on average ` +
    '(a global pacer, round robin), so each message reaches 10 sockets. Through nginx the client count is what ' +
    "the deployed nginx can hold (see limits).",
  '',
);
p(
  table(
    ['server', 'clients', 'msg/s', 'deliveries/s', 'lost', 'p50 / p99 / p99.9 ms', 'ack p99 ms', 'server cores', 'CPU-s per M deliveries', 'RSS'],
    TARGETS.filter((t) => mix(t)).map((t) => {
      const r = mix(t);
      return [NAMES[t], f(r.conns_ready), f(r.sent_per_s), f(r.deliveries_per_s) + sat(r), `${f(100 * r.lost_frac, 2)}%`, `${ms(r.lat_p50_ms)} / ${ms(r.lat_p99_ms)} / ${ms(r.lat_p999_ms)}`, ms(r.ack_p99_ms), f(r.server_cpu_core, 2), f(r.cpu_s_per_million, 2), kb(r.server_rss_kb)];
    }),
  ),
  '',
);

// ---- durable ----------------------------------------------------------------------
p('## Durable writes', '');
p(
  '`chat message` with ack, each client keeping a window of unanswered messages (1 client × ' +
    `${durable('ours-direct', 'durable-1-normal')?.pipeline ?? '?'}, or 100 clients × 16, each in its own namespace ` +
    "and room so that a message reaches only its sender). chat-ws acks after the commit (group commit per loop turn). " +
    'Socket.IO keeps nothing: its row is the ceiling of the same exchange without storage.',
  '',
);
p(
  table(
    ['server', 'clients × window', 'synchronous', 'acked msg/s', 'ack p50 / p99 / p99.9 ms', 'server cores'],
    rows
      .filter((r) => r.phase === 'durable')
      .map((r) => [NAMES[r.target], `${r.publishers} × ${r.pipeline}`, r.scenario.split('-').at(-1), f(r.acked_per_s) + sat(r), `${ms(r.ack_p50_ms)} / ${ms(r.ack_p99_ms)} / ${ms(r.ack_p999_ms)}`, f(r.server_cpu_core, 2)]),
  ),
  '',
);

// ---- REST -------------------------------------------------------------------------
p('## REST through nginx (wrk, 1 thread, 16 connections)', '');
const httpRows = rows.filter((r) => r.phase === 'http');
p(
  `GET /api/rooms answers ${f(get?.body_bytes)} bytes (13 rooms); the static ceiling is the same bytes as a file ` +
    'served by the same nginx config. POSTs go to a copy of the deployed config without `limit_req` ' +
    '(as deployed, POSTs are limited to 200/s per client address, burst 400: the last row).',
  '',
);
p(
  table(
    ['request', 'server', 'req/s', '2xx/s', 'p50 ms', 'p99 ms', 'non-2xx'],
    httpRows.map((r) => [r.scenario.replace(/^rest-/, ''), NAMES[r.target], f(r.req_per_s), f(r.ok_per_s), ms(r.lat_p50_ms), ms(r.lat_p99_ms), f(r.non_2xx)]),
  ),
  '',
);
if (rGet != null) p(`GET /api/rooms reaches ${f(100 * rGet, 1)}% of static nginx.`, '');

// ---- storm ---------------------------------------------------------------------------
p('## Reconnect storm', '');
p(
  'All sockets connected and joined, then either chat-ws is killed with SIGKILL (deploy/run.sh restarts it after ' +
    '0.5 s) or every client drops its connection at once (RST). Clients reconnect like socket.io-client: first try ' +
    'spread uniformly over 1 s, then backoff 250 ms doubling to 2 s, ±50%; they send `{pid, offset}` in CONNECT ' +
    '(connection state recovery) and join again only when the session was not recovered. Time is from the kill/drop.',
  '',
);
p(
  table(
    ['server', 'how', 'sockets', '99% back and joined', 'all back', 'sessions recovered', 'failed attempts'],
    rows
      .filter((r) => r.phase === 'storm')
      .map((r) => [NAMES[r.target], r.how, f(r.conns_before), r.back_99_s != null ? `${f(r.back_99_s, 2)} s` : 'not within 90 s', r.back_100_s != null ? `${f(r.back_100_s, 2)} s` : '–', f(r.recovered), f(r.conn_fail)]),
  ),
  '',
);

// ---- profiles, notes ---------------------------------------------------------------------
const profiles = profilesFile && existsSync(profilesFile) ? readFileSync(profilesFile, 'utf8').trim() : '';
if (profiles) {
  p('## Profiles of chat-ws (perf, this run)', '');
  p(profiles, '');
}
const notes = notesFile && existsSync(notesFile) ? readFileSync(notesFile, 'utf8').trim() : '';
if (notes) p(notes, '');

p('## Raw data', '');
p('Every phase\'s JSON line (loadgen and wrk), for other tables:', '');
p('<details><summary>results.jsonl</summary>', '', '```json', ...rows.map((r) => JSON.stringify(r)), '```', '', '</details>', '');

console.log(out.join('\n'));
